import {Command, Flags} from '@oclif/core'
import {DEFAULT_PROFILE, PROFILES} from '../../election/timing.js'
import {formatPretty} from '../../log.js'
import type {InstanceProcess, LogLine} from '../../lab/instance-process.js'
import {LocalCluster} from '../../lab/local-cluster.js'
import {startPrivateBroker, type PrivateBroker} from '../../lab/private-broker.js'
import {envName} from '../flags.js'

// Colours only on a terminal: a log captured to a file or CI stays plain text.
const TTY = Boolean(process.stdout.isTTY)
const COLORS = TTY ? ['\u001B[36m', '\u001B[33m', '\u001B[35m', '\u001B[32m', '\u001B[34m', '\u001B[31m', '\u001B[37m', '\u001B[96m', '\u001B[93m'] : ['']
const RESET = TTY ? '\u001B[0m' : ''
const BOLD = TTY ? '\u001B[1m' : ''

export default class Lab extends Command {
  static override summary = 'Run a local cluster: a private RabbitMQ and several instances, with their logs interleaved.'

  static override description = `Starts a private RabbitMQ node (rabbitmq/start) and N instances (ids 1..N) of one domain,
and prints their logs, each line prefixed with its instance. On a terminal, keys kill and restart
instances so you can watch failover; Ctrl-C tears everything down. Without a terminal it runs a
short scripted scenario (start, kill the master, show the takeover, restart it) and exits.`

  static override examples = ['<%= config.bin %> lab', '<%= config.bin %> lab --instances 5 --profile reference', 'npm start']

  static override flags = {
    instances: Flags.integer({summary: 'How many instances.', default: 3, min: 1, max: 9}),
    'amqp-port': Flags.integer({summary: 'Port of the private RabbitMQ node (an already running one is reused).', default: 5672, env: 'FLOWKEEPER_AMQP_PORT'}),
    domain: Flags.string({summary: 'Domain of the lab instances.', default: 'lab', env: envName('domain')}),
    profile: Flags.string({summary: 'Timing profile of the instances.', options: Object.keys(PROFILES), default: DEFAULT_PROFILE}),
    scripted: Flags.boolean({summary: 'Run the scripted scenario even on a terminal.', default: false}),
  }

  private broker: PrivateBroker | undefined
  private cluster: LocalCluster | undefined
  private tearingDown: Promise<void> | undefined

  async run(): Promise<void> {
    const {flags} = await this.parse(Lab)
    process.on('SIGINT', () => void this.teardown().then(() => process.exit(0)))
    process.on('SIGTERM', () => void this.teardown().then(() => process.exit(0)))

    this.say(`starting a private RabbitMQ on port ${flags['amqp-port']} ...`)
    try {
      this.broker = await startPrivateBroker(flags['amqp-port'])
    } catch (error) {
      this.error((error as Error).message, {exit: 1})
    }
    this.say(`broker ready: ${this.broker.url}${this.broker.startedHere ? '' : ' (already running, reused)'}`)

    this.cluster = new LocalCluster(this.broker.url, flags.domain, ['--profile', flags.profile])
    for (let id = 1; id <= flags.instances; id++) this.startInstance(id)

    try {
      if (process.stdin.isTTY && !flags.scripted) await this.interactive(flags.instances)
      else await this.scripted()
    } finally {
      await this.teardown()
    }
  }

  private say(text: string): void {
    this.log(`${BOLD}lab${RESET}  ${text}`)
  }

  private startInstance(id: number): InstanceProcess {
    const member = this.cluster!.spawn({id})
    const color = COLORS[(id - 1) % COLORS.length]
    const prefix = `${color}[${id}]${RESET}`
    member.on('line', (line: LogLine) => {
      if (line.level === 'debug') return
      const text = formatPretty(line)
      this.log(`${prefix}  ${line.event === 'role_change' ? `${BOLD}${text}${RESET}` : text}`)
    })
    member.on('raw', (text: string) => this.log(`${prefix}  ${text}`))
    member.on('exit', (exit: {code: number | null, signal: string | null}) => {
      if (!this.tearingDown) this.say(`instance ${id} exited (${exit.signal ?? `code ${exit.code}`})`)
    })
    return member
  }

  private help(count: number): void {
    this.say(`keys: 1-${count} kill (SIGKILL) or restart that instance · m kill the master · ` +
      `p pause/resume the master (SIGSTOP/SIGCONT) · g stop the master gracefully (SIGTERM) · s status · q quit`)
  }

  private interactive(count: number): Promise<void> {
    this.help(count)
    const stdin = process.stdin
    stdin.setRawMode(true)
    stdin.resume()
    stdin.setEncoding('utf8')
    let paused: InstanceProcess | undefined
    return new Promise((resolve) => {
      stdin.on('data', (key: string) => {
        const cluster = this.cluster!
        const master = cluster.masters()[0]
        if (key === 'q' || key === '\u0003') {
          stdin.setRawMode(false)
          stdin.pause()
          resolve()
        } else if (/^[1-9]$/.test(key) && Number(key) <= count) {
          const id = Number(key)
          const member = cluster.members.get(id)
          if (member?.running) {
            this.say(`SIGKILL instance ${id}`)
            member.signal('SIGCONT')
            member.signal('SIGKILL')
          } else {
            this.say(`restarting instance ${id}`)
            this.startInstance(id)
          }
        } else if (key === 'm' || key === 'g') {
          if (!master) return this.say('no master right now')
          this.say(`${key === 'm' ? 'SIGKILL' : 'SIGTERM'} the master, instance ${master.id}`)
          master.signal(key === 'm' ? 'SIGKILL' : 'SIGTERM')
        } else if (key === 'p') {
          if (paused) {
            this.say(`SIGCONT instance ${paused.id}`)
            paused.signal('SIGCONT')
            paused = undefined
          } else if (master) {
            this.say(`SIGSTOP the master, instance ${master.id} (p again resumes it)`)
            master.signal('SIGSTOP')
            paused = master
          }
        } else if (key === 's') {
          const roles = cluster.running().map((m) => `${m.id}:${m.role}${m.term === undefined ? '' : `@${m.term}`}`).join('  ')
          this.say(`running: ${roles || 'none'}`)
        } else {
          this.help(count)
        }
      })
    })
  }

  private async scripted(): Promise<void> {
    const cluster = this.cluster!
    const first = await cluster.waitForSingleMaster(30_000)
    this.say(`instance ${first.id} is master (term ${first.term}); in 1 s it is killed with SIGKILL`)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const killedAt = Date.now()
    await first.kill()
    const next = await cluster.waitForSingleMaster(30_000)
    const promotion = next.roleChanges.at(-1)!
    this.say(`instance ${next.id} took over (term ${promotion.term}, reason ${promotion.reason}) ` +
      `${Math.round(promotion.ts - killedAt)} ms after the kill`)
    this.say(`restarting instance ${first.id}: it joins as slave, the master stays`)
    const back = this.startInstance(first.id)
    await back.waitForRole('slave', 30_000)
    await new Promise((resolve) => setTimeout(resolve, 500))
    this.say('scenario done; tearing down')
  }

  private teardown(): Promise<void> {
    this.tearingDown ??= (async () => {
      if (this.cluster) await this.cluster.stopAll()
      if (this.broker?.startedHere) {
        this.say('stopping the private RabbitMQ')
        await this.broker.stop().catch((error: Error) => this.say(error.message))
      }
    })()
    return this.tearingDown
  }
}
