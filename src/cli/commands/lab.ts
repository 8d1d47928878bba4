import {Command, Flags} from '@oclif/core'
import {DEFAULT_PROFILE, PROFILES} from '../../election/timing.js'
import {formatPretty} from '../../log.js'
import type {InstanceProcess, LogLine} from '../../lab/instance-process.js'
import {LocalCluster} from '../../lab/local-cluster.js'
import {startPrivateBroker, type PrivateBroker} from '../../lab/private-broker.js'
import {OvsLab} from '../../lab/ovs.js'
import {freePort} from '../../lab/free-port.js'
import {demoFlows, describeMirrors, installFlows, missingDemoFlows, switchFlowCounts, waitForMirror} from '../../lab/lab-flows.js'
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
    bridges: Flags.integer({summary: 'How many Open vSwitch bridges (dummy datapath), each connected to every instance.', default: 3, min: 0, max: 100}),
    'amqp-port': Flags.integer({summary: 'Port of the private RabbitMQ node (an already running one is reused).', default: 5672, env: 'FLOWKEEPER_AMQP_PORT'}),
    domain: Flags.string({summary: 'Domain of the lab instances.', default: 'lab', env: envName('domain')}),
    profile: Flags.string({summary: 'Timing profile of the instances.', options: Object.keys(PROFILES), default: DEFAULT_PROFILE}),
    scripted: Flags.boolean({summary: 'Run the scripted scenario even on a terminal.', default: false}),
  }

  private broker: PrivateBroker | undefined
  private ovs: OvsLab | undefined
  private cluster: LocalCluster | undefined
  private readonly ports = new Map<number, {ofPort: number, apiPort: number}>()
  private tearingDown: Promise<void> | undefined
  /** What went wrong in the scripted scenario. */
  private readonly failed: string[] = []

  async run(): Promise<void> {
    const {flags} = await this.parse(Lab)
    process.on('SIGINT', () => void this.teardown().then(() => process.exit(0)))
    process.on('SIGTERM', () => void this.teardown().then(() => process.exit(0)))

    this.say(`starting a private RabbitMQ on port ${flags['amqp-port']} ...`)
    try {
      // Tied to this process: even a lab killed with SIGKILL leaves no broker behind.
      this.broker = await startPrivateBroker(flags['amqp-port'], {stopWithThisProcess: true})
    } catch (error) {
      this.error((error as Error).message, {exit: 1})
    }
    this.say(`broker ready: ${this.broker.url}${this.broker.startedHere ? '' : ' (already running, reused)'}`)

    for (let id = 1; id <= flags.instances; id++) this.ports.set(id, {ofPort: await freePort(), apiPort: await freePort()})
    if (flags.bridges > 0) await this.startSwitches(flags.bridges)

    this.cluster = new LocalCluster(this.broker.url, flags.domain, ['--profile', flags.profile])
    for (let id = 1; id <= flags.instances; id++) this.startInstance(id)
    for (const [id, {ofPort, apiPort}] of this.ports) {
      this.say(`instance ${id}: OpenFlow port ${ofPort}, REST http://127.0.0.1:${apiPort} (try: curl http://127.0.0.1:${apiPort}/switches)`)
    }

    try {
      if (process.stdin.isTTY && !flags.scripted) {
        if (flags.bridges > 0) void this.installWhenReady(flags.bridges)
        await this.interactive(flags.instances)
      }
      else await this.scripted(flags.bridges)
    } finally {
      await this.teardown()
    }
    // A script (CI) running the scenario learns from the exit status whether it held up.
    if (this.failed.length > 0) this.exit(1)
  }

  /** Open vSwitch in user space, bridges br1..brN (datapath ids 1..N), each connected to every instance. */
  private async startSwitches(count: number): Promise<void> {
    this.say(`starting Open vSwitch (dummy datapath) with ${count} bridge(s) ...`)
    try {
      this.ovs = await OvsLab.start()
      const controllers = [...this.ports.values()].map(({ofPort}) => ({host: '127.0.0.1', port: ofPort}))
      for (let n = 1; n <= count; n++) await this.ovs.addBridge(`br${n}`, {datapathId: BigInt(n), controllers, maxBackoffMs: 1000})
    } catch (error) {
      await this.teardown()
      this.error(`cannot start Open vSwitch: ${(error as Error).message}`, {exit: 1})
    }
    this.say(`switches ready: br1..br${count}; see them with: ovs-ofctl -O OpenFlow13 dump-flows unix:${this.ovs.dir}/br1.mgmt`)
  }

  private say(text: string): void {
    this.log(`${BOLD}lab${RESET}  ${text}`)
  }

  private startInstance(id: number): InstanceProcess {
    const member = this.cluster!.spawn({id, ...this.ports.get(id)})
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
      `p pause/resume the master (SIGSTOP/SIGCONT) · g stop the master gracefully (SIGTERM) · s status · ` +
      `f flows (switches and every mirror) · q quit`)
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
        } else if (key === 'f') {
          void this.showFlows()
        } else if (key === 's') {
          // The term of a master's promotion; a slave's role change carries the term it knew when it
          // became slave (often 0, before it heard a master), which would read as stale.
          const roles = cluster.running().map((m) => `${m.id}:${m.role}${m.role === 'master' && m.term !== undefined ? `@${m.term}` : ''}`).join('  ')
          this.say(`running: ${roles || 'none'}`)
        } else {
          this.help(count)
        }
      })
    })
  }

  /** Waits until every running instance holds a confirmed role on every bridge. */
  private async waitForSwitchRoles(count: number, timeoutMs: number): Promise<void> {
    const settled = (member: InstanceProcess) => {
      const latest = new Map<string, string>()
      for (const line of member.lines) if (line.event === 'switch_role') latest.set(String(line.dpid), String(line.role))
      return [...latest.values()].filter((role) => role === 'master' || role === 'slave').length >= count
    }
    const deadline = Date.now() + timeoutMs
    while (!this.cluster!.running().every(settled)) {
      if (Date.now() > deadline) return this.say('not every instance is connected to every switch yet; going on')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  private async scripted(bridges: number): Promise<void> {
    const cluster = this.cluster!
    const first = await cluster.waitForSingleMaster(30_000)
    let acknowledged: Array<Record<string, unknown>> = []
    if (bridges > 0) {
      await this.waitForSwitchRoles(bridges, 15_000)
      this.say(`every instance is connected to the ${bridges} bridge(s): the master as MASTER, the others as SLAVE`)
      acknowledged = await this.demoInstallFlows(first.id, bridges)
    }
    if (cluster.running().length < 2) {
      this.say(`instance ${first.id} is master (term ${first.term}); with one instance there is no failover to show (--instances 2 or more)`)
      this.sayScenarioEnd()
      return
    }
    this.say(`instance ${first.id} is master (term ${first.term}); in 1 s it is killed with SIGKILL`)
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const killedAt = Date.now()
    await first.kill()
    const next = await cluster.waitForSingleMaster(30_000)
    const promotion = next.roleChanges.at(-1)!
    this.say(`instance ${next.id} took over (term ${promotion.term}, reason ${promotion.reason}) ` +
      `${Math.round(promotion.ts - killedAt)} ms after the kill`)
    await this.showSwitchRoles(next)
    if (bridges > 0) {
      const missing = await missingDemoFlows(this.ovs!, acknowledged)
      this.say(`flows on the switches after the takeover: ${await switchFlowCounts(this.ovs!, bridges)} ` +
        (missing.length === 0 ? `(all ${acknowledged.length} acknowledged flows are still there)` : `(MISSING ${missing.length} acknowledged: ${missing.join(', ')})`))
      if (missing.length > 0) this.failed.push(`${missing.length} acknowledged flow(s) missing after the takeover`)
      for (const line of await describeMirrors(this.apis())) this.say(`  ${line}`)
    }
    this.say(`restarting instance ${first.id}: it joins as slave, the master stays`)
    const back = this.startInstance(first.id)
    await back.waitForRole('slave', 30_000)
    if (bridges > 0) {
      const apis = this.apis()
      const caughtUp = await waitForMirror(apis.get(back.id)!, apis.get(next.id)!, 10_000)
      this.say(caughtUp
        ? `instance ${back.id} is a slave again and mirrors every table of master ${next.id}:`
        : `instance ${back.id} is a slave again, but its mirror has not caught up with master ${next.id} within 10 s:`)
      if (!caughtUp) this.failed.push(`instance ${back.id}'s mirror did not catch up`)
      for (const line of await describeMirrors(new Map([[back.id, apis.get(back.id)!]]))) this.say(`  ${line}`)
    } else {
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    this.sayScenarioEnd()
  }

  private sayScenarioEnd(): void {
    this.say(this.failed.length === 0 ? 'scenario done; tearing down' : `scenario FAILED (${this.failed.join('; ')}); tearing down`)
  }

  /** Interactive lab: the demo flows go in once the cluster has settled. */
  private async installWhenReady(bridges: number): Promise<void> {
    try {
      const master = await this.cluster!.waitForSingleMaster(30_000)
      await this.waitForSwitchRoles(bridges, 15_000)
      await this.demoInstallFlows(master.id, bridges)
    } catch (error) {
      this.say(`demo flows not installed: ${(error as Error).message.split('\n')[0]}`)
    }
  }

  private async showFlows(): Promise<void> {
    if (!this.ovs) return this.say('no switches in this lab')
    const bridges = (await this.ovs.vsctl('list-br')).trim().split('\n').filter(Boolean).length
    this.say(`flows on the switches: ${await switchFlowCounts(this.ovs, bridges)}`)
    for (const line of await describeMirrors(this.apis())) this.say(`  ${line}`)
  }

  private apis(): Map<number, string> {
    const apis = new Map<number, string>()
    for (const member of this.cluster!.running()) apis.set(member.id, `http://127.0.0.1:${this.ports.get(member.id)!.apiPort}`)
    return apis
  }

  /** Installs a few flows through a slave (forwarded to the master) and shows every mirror has them. */
  /** Returns the flows the cluster acknowledged. */
  private async demoInstallFlows(masterId: number, bridges: number): Promise<Array<Record<string, unknown>>> {
    // Through a slave when there is one: it forwards them to the master, which is the point.
    const slave = this.cluster!.running().find((m) => m.id !== masterId)
    const via = slave?.id ?? masterId
    const flows = demoFlows(bridges)
    const api = this.apis().get(via)!
    this.say(`installing ${flows.length} flows through instance ${via}'s REST API ` +
      `(${slave ? 'a slave: it forwards them to the master' : 'the master: there is no slave'}): POST ${api}/stats/flowentry/add`)
    const installed = await installFlows(api, flows)
    this.say(`${installed.acknowledged} acknowledged by master ${installed.masterId ?? '?'}` +
      `${installed.failed.length ? `, ${installed.failed.length} failed: ${installed.failed[0]}` : ''}; on the switches: ${await switchFlowCounts(this.ovs!, bridges)}`)
    for (const line of await describeMirrors(this.apis())) this.say(`  ${line}`)
    return installed.acknowledgedFlows
  }

  /** What the master's REST API says about its switches, a moment after it took over. */
  private async showSwitchRoles(master: InstanceProcess): Promise<void> {
    const apiPort = this.ports.get(master.id)?.apiPort
    if (!this.ovs || apiPort === undefined) return
    await new Promise((resolve) => setTimeout(resolve, 300))
    try {
      const response = await fetch(`http://127.0.0.1:${apiPort}/switches`, {signal: AbortSignal.timeout(2000)})
      const switches = (await response.json()) as Array<{dpid: string, role: string}>
      this.say(`instance ${master.id} on the switches: ${switches.map((s) => `${s.dpid}=${s.role}`).join('  ') || 'none connected yet'}`)
    } catch (error) {
      this.say(`could not ask instance ${master.id} for its switches: ${(error as Error).message}`)
    }
  }

  private teardown(): Promise<void> {
    this.tearingDown ??= (async () => {
      if (this.cluster) await this.cluster.stopAll()
      if (this.ovs) await this.ovs.stop().catch((error: Error) => this.say(error.message))
      if (this.broker?.startedHere) {
        this.say('stopping the private RabbitMQ')
        await this.broker.stop().catch((error: Error) => this.say(error.message))
      }
    })()
    return this.tearingDown
  }
}
