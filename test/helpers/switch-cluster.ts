// Shared setup for process-level switch tests and the switch failover benchmark: a RabbitMQ
// broker, a private Open vSwitch, N `flowkeeper start` processes on ports picked here (so the
// bridges can point at them), and M bridges each connected to every instance. Everything a
// SwitchCluster started is torn down by stop(), whether the test passed or not.
//
// Three views of "who holds which role", cheapest first:
// - the instances' JSON log lines (switch_role, role_change: timestamps of the instance itself);
// - each instance's REST API (GET /switches: the role the switch confirmed to that instance);
// - OVS's own Controller table (controllerStatus): the switch's word, but refreshed only every
//   ~5 s, so only tests that are about what OVS reports should poll it.
import {connect} from 'node:net'
import {join} from 'node:path'
import {waitFor} from '../../src/lab/exec.js'
import {freePort} from '../../src/lab/free-port.js'
import type {InstanceProcess, LogLine} from '../../src/lab/instance-process.js'
import {LocalCluster} from '../../src/lab/local-cluster.js'
import type {ControllerStatus, OvsLab} from '../../src/lab/ovs.js'
import {OFP, OfFramer, decodeMessage, encodeMessage, hello, roleRequest} from '../../src/openflow/codec.js'
import {generationFromReply} from '../../src/openflow/roles.js'
import {sharedBroker} from './broker.js'
import {useOvsLab} from './ovs.js'

/** The ports one instance listens on. A process started later in the same slot reuses them. */
export interface Slot {
  ofPort: number
  apiPort: number
}

export interface Bridge {
  name: string
  dpid: bigint
  /** 16 hex digits, as the instances log and serve it. */
  dpidHex: string
}

/** One entry of an instance's GET /switches. */
export interface RestSwitch {
  dpid: string
  dpid_int: number | string
  role: string
  address: string
  connected_at: number
}

export type ExpectedRole = 'master' | 'slave'

export interface SwitchClusterOptions {
  amqp: string
  lab: OvsLab
  /** Instance ids, one slot each (slot i gets ids[i]). */
  ids: number[]
  bridges: number
  /** Bridge names are `${prefix}b${i}` (OVS caps names at 15 characters). */
  prefix: string
  /** Datapath ids are dpidBase + 1 .. dpidBase + bridges. */
  dpidBase: bigint
  domain: string
  /** Extra `flowkeeper start` arguments for every instance. */
  args?: string[]
  /** Longest wait for the first single master and every role settled. */
  settleTimeoutMs?: number
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Instances started here and maybe still running: SIGKILLed should the test process exit without stop(). */
const liveMembers = new Set<InstanceProcess>()
let exitHookInstalled = false
function track(member: InstanceProcess): void {
  liveMembers.add(member)
  void member.exited.then(() => liveMembers.delete(member))
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const m of liveMembers) m.child.kill('SIGKILL') // synchronous: nothing else runs in 'exit'
  })
}
/** How many ovs-vsctl processes run at once while bridges are added. */
const VSCTL_CONCURRENCY = 8

export class SwitchCluster {
  readonly cluster: LocalCluster
  readonly slots: Slot[]
  readonly bridges: Bridge[]
  private readonly slotOfMember = new Map<InstanceProcess, number>()
  private readonly spawned: InstanceProcess[] = []
  private stopping: Promise<void> | undefined

  private constructor(readonly options: SwitchClusterOptions, slots: Slot[]) {
    this.cluster = new LocalCluster(options.amqp, options.domain, ['--of-host', '127.0.0.1', ...(options.args ?? [])])
    this.slots = slots
    this.bridges = Array.from({length: options.bridges}, (_, i) => {
      const dpid = options.dpidBase + BigInt(i + 1)
      return {name: `${options.prefix}b${i}`, dpid, dpidHex: dpid.toString(16).padStart(16, '0')}
    })
  }

  get lab(): OvsLab {
    return this.options.lab
  }

  /**
   * Starts the instances, waits for their listeners, adds the bridges (each connected to every
   * slot), and waits until one master holds MASTER on every bridge and every other instance
   * SLAVE, as each instance's REST API says. On failure everything started is stopped.
   */
  static async start(options: SwitchClusterOptions): Promise<SwitchCluster> {
    const slots = await pickSlots(options.ids.length)
    const sc = new SwitchCluster(options, slots)
    try {
      await Promise.all(options.ids.map((id, slot) => sc.spawn(id, slot)))
      await sc.addBridges()
      await sc.waitForSettled(options.settleTimeoutMs ?? 20_000)
    } catch (error) {
      await sc.stop()
      throw error
    }
    return sc
  }

  /** Starts `flowkeeper start --id id` on the slot's ports; resolves once its REST API listens. */
  async spawn(id: number, slot: number): Promise<InstanceProcess> {
    const {ofPort, apiPort} = this.slots[slot]!
    // FLOWKEEPER_TEST_LOG_DIR keeps every instance's JSON log lines (with debug ones) for post-mortems.
    const logDir = process.env.FLOWKEEPER_TEST_LOG_DIR
    const args = logDir ? ['--log-file', join(logDir, `${this.options.domain}-${id}-${Date.now()}.log`), '--log-level', 'debug'] : []
    const member = this.cluster.spawn({id, ofPort, apiPort, args})
    this.slotOfMember.set(member, slot)
    this.spawned.push(member)
    track(member)
    await member.waitForLine((l) => l.event === 'api_listening', 15_000, 'the REST API to listen')
    return member
  }

  member(id: number): InstanceProcess {
    const m = this.cluster.members.get(id)
    if (!m) throw new Error(`no instance ${id}`)
    return m
  }

  slotOf(member: InstanceProcess): Slot {
    const slot = this.slotOfMember.get(member)
    if (slot === undefined) throw new Error(`instance ${member.id} was not started by this cluster`)
    return this.slots[slot]!
  }

  /** The single master as logged (throws when there is none or more than one). */
  master(): InstanceProcess {
    const masters = this.cluster.masters()
    if (masters.length !== 1) throw new Error(`expected one master, found ${masters.map((m) => m.id).join(', ') || 'none'}`)
    return masters[0]!
  }

  /** The running instance with the lowest id other than `except`: the next master when `except` goes. */
  successorOf(except: InstanceProcess): InstanceProcess {
    return this.running().filter((m) => m !== except).sort((a, b) => a.id - b.id)[0]!
  }

  running(): InstanceProcess[] {
    return this.cluster.running()
  }

  /** GET /switches of one instance. */
  async switches(member: InstanceProcess): Promise<RestSwitch[]> {
    const response = await fetch(`http://127.0.0.1:${this.slotOf(member).apiPort}/switches`, {signal: AbortSignal.timeout(5_000)})
    if (!response.ok) throw new Error(`instance ${member.id}: GET /switches answered ${response.status}`)
    return (await response.json()) as RestSwitch[]
  }

  /** Role per dpid (hex) of one instance, as its REST API says. */
  async restRoles(member: InstanceProcess): Promise<Map<string, string>> {
    return new Map((await this.switches(member)).map((s) => [s.dpid, s.role]))
  }

  /** Which bridges of ours are not yet in `role` on `member` (REST), as `name:role` strings. */
  async restMismatches(member: InstanceProcess, role: ExpectedRole): Promise<string[]> {
    const roles = await this.restRoles(member)
    return this.bridges.filter((b) => roles.get(b.dpidHex) !== role).map((b) => `${b.name}:${roles.get(b.dpidHex) ?? 'absent'}`)
  }

  /**
   * Polls every running instance's REST API until the master holds MASTER on every bridge and
   * every other instance SLAVE.
   */
  async waitForRestRoles(master: InstanceProcess, timeoutMs = 10_000): Promise<void> {
    let last: Array<{member: InstanceProcess, bad: string[]}> = []
    try {
      await waitFor('every instance in its role on every bridge (REST)', async () => {
        last = []
        for (const m of this.running()) {
          const bad = await this.restMismatches(m, m === master ? 'master' : 'slave')
          if (bad.length > 0) last.push({member: m, bad})
        }
        return last.length === 0
      }, {timeoutMs, intervalMs: 25})
    } catch (error) {
      const wrong = last.map(({member, bad}) => `instance ${member.id} (${member === master ? 'master' : 'slave'}): ${bad.join(' ')}`)
      // What the instances logged about those bridges: the first thing anyone will ask.
      const names = new Set(last.flatMap(({bad}) => bad.map((b) => b.split(':')[0])))
      const dpids = new Set(this.bridges.filter((b) => names.has(b.name)).map((b) => b.dpidHex))
      const about = last.flatMap(({member}) => member.lines
        .filter((l) => dpids.has(String(l.dpid ?? l.datapathId)) || l.event === 'role_change' || l.event === 'external_term')
        .slice(-25).map((l) => `  [${member.id}] ${JSON.stringify(l)}`))
      throw new Error(`${(error as Error).message}; still wrong: ${wrong.join('; ')}\n${about.join('\n')}`, {cause: error})
    }
  }

  /** Waits for a single master (logs) and every role confirmed on every bridge (REST). */
  async waitForSettled(timeoutMs = 15_000): Promise<InstanceProcess> {
    const deadline = Date.now() + timeoutMs
    const master = await this.cluster.waitForSingleMaster(timeoutMs)
    await this.waitForRestRoles(master, Math.max(1_000, deadline - Date.now()))
    return master
  }

  /** OVS's view of every controller of one bridge, by instance OpenFlow port. */
  async ovsRoles(bridge: Bridge): Promise<Map<number, ControllerStatus>> {
    const all = await this.lab.controllerStatus(bridge.name)
    return new Map(all.map((c) => [Number(c.target.split(':').at(-1)), c]))
  }

  /**
   * Polls OVS (every bridge at once) until the master's controller is connected and MASTER on
   * every bridge and every other running instance's controller is connected and SLAVE. OVS
   * refreshes these columns about every 5 s, hence the long default timeout.
   */
  async waitForOvsRoles(master: InstanceProcess, timeoutMs = 12_000): Promise<void> {
    const expected = new Map(this.running().map((m) => [this.slotOf(m).ofPort, m === master ? 'master' : 'slave'] as const))
    const last = new Map<string, string>()
    try {
      await Promise.all(this.bridges.map((bridge) => waitFor(`OVS roles on ${bridge.name}`, async () => {
        const roles = await this.ovsRoles(bridge)
        const wrong = [...expected].filter(([port, role]) => !(roles.get(port)?.isConnected && roles.get(port)?.role === role))
        last.set(bridge.name, wrong.map(([port]) => `:${port}=${roles.get(port)?.role ?? 'absent'}${roles.get(port)?.isConnected ? '' : '(disconnected)'}`).join(','))
        return wrong.length === 0
      }, {timeoutMs, intervalMs: 100})))
    } catch (error) {
      const detail = [...last].filter(([, v]) => v).map(([b, v]) => `${b}: ${v}`).join('; ')
      const want = [...expected].map(([port, role]) => `:${port}=${role}`).join(',')
      throw new Error(`${(error as Error).message}; wanted ${want}; still wrong: ${detail}`, {cause: error})
    }
  }

  /** The bridge's generation_id as the switch holds it (ROLE_REQUEST NOCHANGE on its management socket). */
  generationId(bridge: Bridge): Promise<bigint | undefined> {
    return readGenerationId(this.lab.mgmtSocket(bridge.name))
  }

  /** `switch_role` lines of a member for one bridge, optionally only after `sinceTs`. */
  switchRoleLines(member: InstanceProcess, sinceTs = 0): LogLine[] {
    return member.lines.filter((l) => l.event === 'switch_role' && l.ts > sinceTs)
  }

  /**
   * Resolves with, per bridge, the first `switch_role` line with `role` that `member` logs after
   * `sinceTs` (already logged or still to come).
   */
  async waitForSwitchRoleLines(member: InstanceProcess, role: string, sinceTs: number, timeoutMs: number): Promise<Map<string, LogLine>> {
    const found = new Map<string, LogLine>()
    const wanted = new Set(this.bridges.map((b) => b.dpidHex))
    const take = (l: LogLine) => {
      if (l.event === 'switch_role' && l.role === role && l.ts > sinceTs && wanted.has(String(l.dpid)) && !found.has(String(l.dpid))) found.set(String(l.dpid), l)
    }
    member.lines.forEach(take)
    if (found.size < wanted.size) {
      await member.waitForNextLine((l) => {
        take(l)
        return found.size === wanted.size
      }, timeoutMs, `switch_role ${role} on all ${wanted.size} bridges (have ${found.size})`)
    }
    return found
  }

  /** SIGKILL every instance, then delete the bridges. Idempotent; never throws for a bridge already gone. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(this.spawned.map((m) => m.kill()))
      if (this.lab.stopped || this.bridges.length === 0) return
      const args = this.bridges.flatMap((b) => ['--', '--if-exists', 'del-br', b.name])
      await this.lab.vsctl(...args.slice(1)).catch(() => {})
    })()
    return this.stopping
  }

  private async addBridges(): Promise<void> {
    const controllers = this.slots.map((s) => ({host: '127.0.0.1', port: s.ofPort}))
    const queue = [...this.bridges]
    await Promise.all(Array.from({length: Math.min(VSCTL_CONCURRENCY, queue.length)}, async () => {
      for (let b = queue.shift(); b; b = queue.shift()) {
        await this.lab.addBridge(b.name, {datapathId: b.dpid, controllers, maxBackoffMs: 1000})
      }
    }))
  }
}

/** `count` distinct pairs of free ports. */
export async function pickSlots(count: number): Promise<Slot[]> {
  const taken = new Set<number>()
  const next = async () => {
    for (;;) {
      const port = await freePort()
      if (!taken.has(port)) {
        taken.add(port)
        return port
      }
    }
  }
  const slots: Slot[] = []
  for (let i = 0; i < count; i++) slots.push({ofPort: await next(), apiPort: await next()})
  return slots
}

/**
 * Reads a bridge's generation_id straight from the switch: HELLO, then ROLE_REQUEST NOCHANGE on
 * its management socket (ovs-ofctl has no command for it). Undefined: the switch never saw one.
 * A management connection holds no role, so this changes nothing.
 */
export function readGenerationId(mgmtSocket: string, timeoutMs = 5_000): Promise<bigint | undefined> {
  return new Promise((resolve, reject) => {
    const socket = connect(mgmtSocket)
    const framer = new OfFramer()
    const timer = setTimeout(() => finish(new Error(`no ROLE_REPLY from ${mgmtSocket} within ${timeoutMs} ms`)), timeoutMs)
    const finish = (error: Error | undefined, generation?: bigint) => {
      clearTimeout(timer)
      socket.destroy()
      if (error) reject(error)
      else resolve(generation)
    }
    socket.on('error', (error) => finish(error))
    socket.on('connect', () => {
      socket.write(encodeMessage(hello(1)))
      socket.write(encodeMessage(roleRequest(OFP.OFPCR_ROLE_NOCHANGE, 0n, 2)))
    })
    socket.on('data', (chunk) => {
      try {
        for (const frame of framer.push(chunk)) {
          const message = decodeMessage(frame)
          if (message.type === 'ROLE_REPLY') return finish(undefined, generationFromReply(message.generationId))
          if (message.type === 'ERROR') return finish(new Error(`switch refused NOCHANGE: type ${message.errorType} code ${message.code}`))
        }
      } catch (error) {
        finish(error as Error)
      }
    })
  })
}

export {sleep}

export interface SwitchLab {
  lab(): OvsLab
  amqp(): string
  /** A fresh domain, fresh bridges (own names and dpids) and fresh instances; stopped after the test. */
  start(options: {ids: number[], bridges: number, args?: string[]}): Promise<SwitchCluster>
}

/**
 * Mocha hooks for a describe(): one broker (shared with the other suites) and one Open vSwitch
 * for the suite; every SwitchCluster started through it is stopped after its test, passed or not.
 */
export function useSwitchLab(): SwitchLab {
  const lab = useOvsLab()
  let amqp: string | undefined
  let counter = 0
  const live: SwitchCluster[] = []

  before(async function () {
    this.timeout(180_000)
    amqp = (await sharedBroker()).url
  })
  afterEach(async function () {
    this.timeout(60_000)
    await Promise.all(live.splice(0).map((c) => c.stop()))
  })

  return {
    lab,
    amqp: () => amqp!,
    async start({ids, bridges, args}) {
      const n = ++counter
      const pending = SwitchCluster.start({
        amqp: amqp!, lab: lab(), ids, bridges, args,
        prefix: `s${n}`, dpidBase: BigInt(n) << 16n, domain: `sw${process.pid}x${n}`,
      })
      const sc = await pending
      live.push(sc)
      return sc
    },
  }
}
