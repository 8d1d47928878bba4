// A flowkeeper instance run as its own process through the real CLI, with its JSON log lines
// parsed as they come. The lab command, the integration tests and the failover benchmark all
// drive instances this way, so what they observe is what a user running the CLI would see.
import {spawn, type ChildProcess} from 'node:child_process'
import {EventEmitter} from 'node:events'
import {createInterface} from 'node:readline'
import {fileURLToPath} from 'node:url'

export const RUN_JS = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface LogLine {
  ts: number
  level: string
  msg: string
  event?: string
  [field: string]: unknown
}

export interface RoleChangeLine extends LogLine {
  event: 'role_change'
  inst_id: number
  from: string
  to: string
  term: number
  reason: string
}

export interface InstanceProcessOptions {
  id: number
  domain?: string
  amqp: string
  /** OpenFlow port; 0 (default) lets the instance pick a free one and log it. */
  ofPort?: number
  /** REST API port; 0 (default) lets the instance pick a free one and log it. */
  apiPort?: number
  /** More CLI arguments for `start` (timing...). */
  args?: string[]
  env?: NodeJS.ProcessEnv
}

export interface Exit {
  code: number | null
  signal: NodeJS.Signals | null
}

function isRoleChange(line: LogLine): line is RoleChangeLine {
  return line.event === 'role_change'
}

/**
 * Events: 'line' (LogLine), 'raw' (a stdout/stderr line that is not JSON), 'exit' (Exit).
 */
export class InstanceProcess extends EventEmitter {
  readonly child: ChildProcess
  readonly lines: LogLine[] = []
  readonly rawLines: string[] = []
  readonly exited: Promise<Exit>
  private exit: Exit | undefined

  constructor(readonly options: InstanceProcessOptions) {
    super()
    const args = [
      RUN_JS, 'start',
      '--id', String(options.id),
      '--domain', options.domain ?? '0',
      '--amqp', options.amqp,
      '--log-format', 'json',
      '--of-port', String(options.ofPort ?? 0),
      '--api-port', String(options.apiPort ?? 0),
      ...(options.args ?? []),
    ]
    this.child = spawn(process.execPath, args, {stdio: ['ignore', 'pipe', 'pipe'], env: {...process.env, ...options.env}})
    createInterface({input: this.child.stdout!}).on('line', (text) => this.onLine(text))
    createInterface({input: this.child.stderr!}).on('line', (text) => this.onRaw(text))
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = {code, signal}
        this.emit('exit', this.exit)
        resolve(this.exit)
      })
    })
  }

  get id(): number { return this.options.id }
  get pid(): number | undefined { return this.child.pid }
  get running(): boolean { return this.exit === undefined }

  get roleChanges(): RoleChangeLine[] {
    return this.lines.filter(isRoleChange)
  }

  /** The role as last logged ('unknown' before the first change). */
  get role(): string {
    return this.roleChanges.at(-1)?.to ?? 'unknown'
  }

  get term(): number | undefined {
    return this.roleChanges.at(-1)?.term
  }

  signal(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal)
  }

  /** Resolves with the first line (already seen or still to come) that matches. */
  waitForLine(predicate: (line: LogLine) => boolean, timeoutMs: number, what = 'a matching log line'): Promise<LogLine> {
    const seen = this.lines.find(predicate)
    if (seen) return Promise.resolve(seen)
    return this.waitForNextLine(predicate, timeoutMs, what)
  }

  /** Like waitForLine, but ignores lines already logged. */
  waitForNextLine(predicate: (line: LogLine) => boolean, timeoutMs: number, what = 'a matching log line'): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const onLine = (line: LogLine) => {
        if (!predicate(line)) return
        cleanup()
        resolve(line)
      }
      const onExit = (exit: Exit) => {
        cleanup()
        reject(new Error(`instance ${this.id} exited (${exit.signal ?? exit.code}) while waiting for ${what}\n${this.tail()}`))
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`instance ${this.id}: no ${what} within ${timeoutMs} ms\n${this.tail()}`))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        this.off('line', onLine)
        this.off('exit', onExit)
      }
      this.on('line', onLine)
      if (!this.running) onExit(this.exit!)
      else this.on('exit', onExit)
    })
  }

  /** Waits until the instance's latest role is `role` (now or later). */
  async waitForRole(role: string, timeoutMs: number): Promise<RoleChangeLine> {
    if (this.role === role) return this.roleChanges.at(-1)!
    return (await this.waitForNextLine((l) => isRoleChange(l) && l.to === role, timeoutMs, `role ${role}`)) as RoleChangeLine
  }

  /** SIGKILL unless already gone; waits for the exit. */
  async kill(): Promise<Exit> {
    this.signal('SIGCONT') // a stopped process must be able to die too
    this.signal('SIGKILL')
    return this.exited
  }

  /** The last log lines, for error messages. */
  tail(count = 15): string {
    const text = [...this.lines.map((l) => JSON.stringify(l)), ...this.rawLines].slice(-count)
    return text.map((t) => `  [${this.id}] ${t}`).join('\n')
  }

  private onLine(text: string): void {
    let line: LogLine
    try {
      line = JSON.parse(text) as LogLine
    } catch {
      this.onRaw(text)
      return
    }
    if (typeof line !== 'object' || line === null) return this.onRaw(text)
    this.lines.push(line)
    this.emit('line', line)
  }

  private onRaw(text: string): void {
    this.rawLines.push(text)
    this.emit('raw', text)
  }
}
