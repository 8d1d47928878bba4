// `flowkeeper lab` as a child process, for the tests that run it as a user does: its output
// collected, an end that never leaves it running, and the check that it left nothing behind.
import {expect} from 'chai'
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {RUN_JS} from '../../src/lab/instance-process.js'
import {portAnswers} from '../../src/lab/private-broker.js'
import {processesMentioning} from './ovs.js'

/** Text without terminal colours, and with a pseudo-terminal's CRLF as LF. */
const plain = (s: string) => s.replace(/\u001B\[[0-9;]*m/g, '').replace(/\r\n/g, '\n')

export class LabProcess {
  /** Everything it printed so far (stdout and stderr), plain. */
  out = ''
  readonly exited: Promise<number | null>

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => { this.out += plain(d.toString()) })
    child.stderr!.on('data', (d: Buffer) => { this.out += plain(d.toString()) })
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
  }

  /**
   * `flowkeeper lab ARGS`; with `terminal`, on a pseudo-terminal from util-linux's `script` (Debian's
   * essential bsdutils), whose stdin is the keyboard.
   */
  static start(args: string[], options: {terminal?: boolean} = {}): LabProcess {
    const argv = [process.execPath, RUN_JS, 'lab', ...args]
    return new LabProcess(options.terminal
      ? spawn('script', ['-qfec', argv.join(' '), '/dev/null'], {stdio: ['pipe', 'pipe', 'pipe']})
      : spawn(argv[0]!, argv.slice(1), {stdio: ['ignore', 'pipe', 'pipe']}))
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  /** What the lab itself said (its `lab  ` lines, without the prefix), one per line. */
  story(): string {
    return this.out.split('\n').filter((l) => l.startsWith('lab  ')).map((l) => l.slice(5)).join('\n')
  }

  /** The folder of its Open vSwitch, from the dump-flows command it prints. */
  ovsDir(): string {
    const m = /dump-flows unix:(\S+)\/br1\.mgmt/.exec(this.out)
    if (!m) throw new Error(`the lab printed no dump-flows command:\n${this.out}`)
    return m[1]!
  }

  /**
   * Ends it if it still runs, whatever the test's outcome: `graceful` first (the lab tears its
   * broker and switches down), SIGKILL if it is still there a minute later.
   */
  async stop(graceful: (child: ChildProcess) => void): Promise<void> {
    if (!this.running) return
    graceful(this.child)
    await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 60_000))])
    if (this.running) this.child.kill('SIGKILL')
  }
}

/** Nothing of a lab is left: not its RabbitMQ node (nor its folder), not its Open vSwitch (nor its folder). */
export async function expectNothingLeft(amqpPort: number, ovsDir: string): Promise<void> {
  expect(await portAnswers(amqpPort), 'the private RabbitMQ still answers').to.equal(false)
  expect(existsSync(join(dirname(RUN_JS), '..', '.run', 'rabbitmq', String(amqpPort))), "the broker's folder").to.equal(false)
  expect(existsSync(ovsDir), 'the Open vSwitch folder').to.equal(false)
  expect(processesMentioning(ovsDir), 'Open vSwitch daemons left running').to.deep.equal([])
}
