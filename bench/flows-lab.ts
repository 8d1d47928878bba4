// Lab helpers shared by bench/flows.ts and bench/failover-writes.ts: CPU of the processes that take
// part (instances, Open vSwitch, the broker's whole process tree, the tap, this process), an
// instance's /cluster flow status, waiting for the mirrors to catch up, and the summary of V8 CPU
// profiles (--cpu-prof) restricted to a time window.
import {readdirSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {epochMs} from '../src/log.js'
import {clockTicksPerSecond} from './flowmod-proc.js'
import type {RestTarget} from './flows-http.js'
import {emptyRecords, type TapRecords} from './flows-tap.js'

export const ROOT = join(fileURLToPath(import.meta.url), '..', '..')

// ---- CPU ----

/** pid and every descendant (from /proc: ppid of each process). */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const list = children.get(ppid) ?? []
      list.push(Number(name))
      children.set(ppid, list)
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = []
  const stack = [root]
  while (stack.length > 0) {
    const pid = stack.pop()!
    out.push(pid)
    stack.push(...(children.get(pid) ?? []))
  }
  return out
}

/** The private broker's process tree (rabbitmq/start records the wrapper's pid in .run/rabbitmq/PORT/node.pid). */
export function brokerPids(port: number): number[] {
  try {
    const pid = Number(readFileSync(join(ROOT, '.run', 'rabbitmq', String(port), 'node.pid'), 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? processTree(pid) : []
  } catch {
    return []
  }
}

/** utime and stime of the processes, ms (10 ms resolution). */
function cpuOf(pids: readonly number[]): {user: number, sys: number} {
  const out = {user: 0, sys: 0}
  const tick = 1000 / clockTicksPerSecond()
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      out.user += Number(rest[11]) * tick
      out.sys += Number(rest[12]) * tick
    } catch {
      // exited
    }
  }
  return out
}

/** Busy CPU time of the whole machine so far, ms (/proc/stat: all but idle and iowait). */
export function machineBusyMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const [user, nice, system, , , irq, softirq, steal] = f as [number, number, number, number, number, number, number, number]
  return ((user + nice + system + irq + softirq + steal) * 1000) / clockTicksPerSecond()
}

/** CPU ms (user + system) used by named groups of processes between start() and stop(); `sys` the system part. */
export class CpuMeter {
  private before: Record<string, {user: number, sys: number}> = {}
  private selfBefore = {user: 0, sys: 0}
  /** The system (kernel) part of the last stop()'s figures. */
  sys: Record<string, number> = {}
  /** Cores the rest of the machine kept busy between start() and stop() (other benchmarks, tests). */
  othersCores = 0
  private machineBefore = {busy: 0, at: 0}

  constructor(private readonly groups: () => Record<string, number[]>) {}

  start(): void {
    this.before = Object.fromEntries(Object.entries(this.groups()).map(([k, pids]) => [k, cpuOf(pids)]))
    const u = process.cpuUsage()
    this.selfBefore = {user: u.user / 1000, sys: u.system / 1000}
    this.machineBefore = {busy: machineBusyMs(), at: performance.now()}
  }

  stop(): Record<string, number> {
    const out: Record<string, number> = {}
    this.sys = {}
    for (const [k, pids] of Object.entries(this.groups())) {
      const now = cpuOf(pids)
      const before = this.before[k] ?? {user: 0, sys: 0}
      out[k] = now.user - before.user + (now.sys - before.sys)
      this.sys[k] = now.sys - before.sys
    }
    const u = process.cpuUsage()
    out.bench = u.user / 1000 - this.selfBefore.user + (u.system / 1000 - this.selfBefore.sys)
    this.sys.bench = u.system / 1000 - this.selfBefore.sys
    const ours = Object.values(out).reduce((a, b) => a + b, 0)
    this.othersCores = Math.max(0, (machineBusyMs() - this.machineBefore.busy - ours) / (performance.now() - this.machineBefore.at))
    return out
  }
}

// ---- cluster status ----

export interface DeviceStatus {
  dpid: string
  version: number
  flows: number
  term: number | null
  mirrors?: Array<{inst_id: number, version: number | null, lag: number, late: boolean}>
}

export interface ClusterStatus {
  inst_id: number
  role: string
  term: number
  master: number | null
  flows: {role: string, term: number, live_slaves: number[], devices: DeviceStatus[], counters?: Record<string, number>} | null
}

export async function clusterStatus(target: RestTarget): Promise<ClusterStatus> {
  const r = await target.send('GET', '/cluster', undefined, 10_000)
  if (r.status !== 200) throw new Error(`GET /cluster on :${target.port} answered ${r.status} ${r.error ?? r.body.slice(0, 200)}`)
  return JSON.parse(r.body) as ClusterStatus
}

export function deviceOf(status: ClusterStatus, dpidHex: string): DeviceStatus | undefined {
  return status.flows?.devices.find((d) => d.dpid === dpidHex)
}

/**
 * Waits until every slave's mirror of every device holds the master's version (both as the master
 * sees their acks and as the slaves report it) and the master knows `slaves` slaves; returns the
 * master's status.
 */
export async function waitForMirrors(master: RestTarget, slaves: readonly RestTarget[], dpids: readonly string[], timeoutMs = 60_000): Promise<ClusterStatus> {
  const deadline = Date.now() + timeoutMs
  let why = ''
  for (;;) {
    const m = await clusterStatus(master)
    why = ''
    if (m.role !== 'master') why = `instance ${m.inst_id} is ${m.role}`
    else if ((m.flows?.live_slaves.length ?? 0) < slaves.length) why = `master sees live slaves ${JSON.stringify(m.flows?.live_slaves)}`
    else {
      for (const dpid of dpids) {
        const d = deviceOf(m, dpid)
        if (!d) why = `master has no device ${dpid}`
        else if ((d.mirrors?.length ?? 0) < slaves.length || d.mirrors!.some((x) => x.version !== d.version)) why = `device ${dpid} at ${d.version}, mirrors ${JSON.stringify(d.mirrors)}`
        if (why) break
      }
      if (!why) {
        for (const s of slaves) {
          const st = await clusterStatus(s)
          for (const dpid of dpids) {
            const d = deviceOf(st, dpid)
            const md = deviceOf(m, dpid)!
            if (!d || d.version !== md.version || d.term !== md.term || d.flows !== md.flows) why = `slave ${st.inst_id} device ${dpid}: ${JSON.stringify(d)} vs master ${md.term}/${md.version}/${md.flows}`
            if (why) break
          }
          if (why) break
        }
      }
    }
    if (!why) return m
    if (Date.now() > deadline) throw new Error(`mirrors not in line within ${timeoutMs} ms: ${why}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

// ---- V8 CPU profiles ----

interface ProfileNode {
  id: number
  callFrame: {functionName: string, url: string, lineNumber: number}
  hitCount?: number
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

/** Where a profiled function lives, coarsely: the package, node's internals, or our code by folder. */
export function category(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(garbage collector)') return 'gc'
    if (functionName === '(idle)' || functionName === '(program)') return functionName
    return functionName.startsWith('(') ? functionName : 'native'
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (nm) return nm[1]!
  const ours = /\/(?:dist|src)\/([^/]+)\/([^/.]+)/.exec(url)
  if (ours) return `ours:${ours[1]}/${ours[2]}`
  const internal = /^node:(?:internal\/)?([^/]+)/.exec(url)
  if (internal) return `node:${internal[1]}`
  return url
}

export interface ProfileSummary {
  file: string
  /** Sampled ms in the window. */
  totalMs: number
  idleMs: number
  byCategory: Array<[string, number]>
  topFunctions: Array<[string, number]>
}

/**
 * Self time per category and per function of one .cpuprofile, counting only samples taken between
 * fromUs and toUs (CLOCK_MONOTONIC microseconds, as process.hrtime; V8 stamps samples with the same
 * clock on Linux).
 */
export function summarizeProfile(file: string, fromUs = 0, toUs = Number.POSITIVE_INFINITY): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const selfUs = new Map<number, number>()
  let t = p.startTime
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!
    const next = i + 1 < p.timeDeltas.length ? p.timeDeltas[i + 1]! : 0
    if (t < fromUs || t > toUs) continue
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + Math.max(0, next))
  }
  const cat = new Map<string, number>()
  const fn = new Map<string, number>()
  let total = 0
  let idle = 0
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!
    const c = category(n.callFrame.url, n.callFrame.functionName)
    total += us
    if (c === '(idle)') {
      idle += us
      continue
    }
    cat.set(c, (cat.get(c) ?? 0) + us)
    const where = n.callFrame.url ? `${n.callFrame.url.replace(/^.*\/(node_modules|dist|src)\//, '$1/')}:${n.callFrame.lineNumber + 1}` : ''
    const key = `${n.callFrame.functionName || '(anonymous)'} ${where}`.trim()
    fn.set(key, (fn.get(key) ?? 0) + us)
  }
  const ms = (m: Map<string, number>) => [...m].map(([k, v]) => [k, Math.round(v / 100) / 10] as [string, number]).sort((a, b) => b[1] - a[1])
  return {file, totalMs: Math.round(total / 1000), idleMs: Math.round(idle / 1000), byCategory: ms(cat), topFunctions: ms(fn).slice(0, 25)}
}

/** CLOCK_MONOTONIC in microseconds (the clock of V8 profile samples). */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

// ---- diagnostic preloads for the instances ----

export interface Preloads {
  /** bench/flows-profile.mjs: V8 sampling profiler, written to DIR/<pid>.cpuprofile on SIGUSR2. */
  cpuProfileDir?: string | undefined
  /** bench/flows-stalls.mjs: a bench_stall log line for every event-loop block of 50 ms or more. */
  stalls?: boolean | undefined
  /** bench/flows-nodelay.mjs: TCP_NODELAY on every socket (amqplib's included). */
  nodelay?: boolean | undefined
}

/**
 * Runs `start` (which spawns the instances) with NODE_OPTIONS=--import=<the preloads> in this
 * process's environment, which the instance processes inherit; restores the environment after.
 */
export async function withPreloads<T>(preloads: Preloads, start: () => Promise<T>): Promise<T> {
  const files = [
    preloads.cpuProfileDir ? 'flows-profile.mjs' : undefined,
    preloads.stalls ? 'flows-stalls.mjs' : undefined,
    preloads.nodelay ? 'flows-nodelay.mjs' : undefined,
  ].filter((f): f is string => f !== undefined)
  if (files.length === 0) return start()
  const saved = {NODE_OPTIONS: process.env.NODE_OPTIONS, FLOWKEEPER_BENCH_PROF_DIR: process.env.FLOWKEEPER_BENCH_PROF_DIR}
  process.env.NODE_OPTIONS = [saved.NODE_OPTIONS, ...files.map((f) => `--import=${join(ROOT, 'bench', f)}`)].filter(Boolean).join(' ')
  if (preloads.cpuProfileDir) process.env.FLOWKEEPER_BENCH_PROF_DIR = preloads.cpuProfileDir
  try {
    return await start()
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}

/** Asks a process running flows-profile.mjs for its profile (SIGUSR2) and waits until the file is written. */
export async function collectProfile(pid: number, dir: string, timeoutMs = 20_000): Promise<string> {
  const file = join(dir, `${pid}.cpuprofile`)
  let before = 0
  try {
    before = statSync(file).mtimeMs
  } catch {
    // first one
  }
  process.kill(pid, 'SIGUSR2')
  const deadline = Date.now() + timeoutMs
  let last = -1
  for (;;) {
    await new Promise((r) => setTimeout(r, 100))
    let size = -1
    try {
      const st = statSync(file)
      if (st.mtimeMs > before) size = st.size
    } catch {
      // not yet
    }
    if (size > 0 && size === last) return file
    last = size
    if (Date.now() > deadline) throw new Error(`no CPU profile from ${pid} within ${timeoutMs} ms`)
  }
}

/** Converts an epoch ms stamp of this host to CLOCK_MONOTONIC µs (the profiles' clock). */
export function epochToMonotonicUs(epochMs: number): number {
  return monotonicUs() - (performance.timeOrigin + performance.now() - epochMs) * 1000
}

/**
 * Deltas and acks for the mirror lag of batch phases, in this process. The bus tap
 * (bench/flows-tap.ts) files every message over 4 KiB as a snapshot unread, and the merged delta of
 * a batch of hundreds of flows is larger than that: here only the head of a large message is read
 * (the delta's type, term and version come first on the wire), so any size costs the same. Runs
 * only during the phases that need it (it shares this process with the HTTP client).
 */
export class DeltaTap {
  private records: TapRecords = emptyRecords()

  private constructor(private readonly connection: {close(): Promise<void>}) {}

  static async start(url: string, domain: string): Promise<DeltaTap> {
    const {connect} = await import('amqplib')
    const connection = await connect(url, {noDelay: true})
    const tap = new DeltaTap(connection)
    const channel = await connection.createChannel()
    await channel.assertExchange('SDN_Bridge', 'topic', {durable: false, autoDelete: true})
    const {queue} = await channel.assertQueue('', {exclusive: true, durable: false, autoDelete: true})
    for (const pattern of [`c.${domain}.flows.backup`, `c.${domain}.flows.inst.*`]) await channel.bindQueue(queue, 'SDN_Bridge', pattern)
    await channel.consume(queue, (msg) => {
      if (!msg) return
      const at = epochMs()
      const head = msg.content.subarray(0, 512).toString('utf8')
      const type = /"type":"([a-z-]+)"/.exec(head)?.[1]
      if (type === 'flow-delta') {
        const term = /"term":(\d+)/.exec(head)?.[1]
        const version = /"version":(\d+)/.exec(head)?.[1]
        if (term !== undefined && version !== undefined) tap.records.deltas.push([at, Number(term), Number(version)])
      } else if (type === 'flow-ack') {
        const o = JSON.parse(msg.content.toString('utf8')) as Record<string, unknown>
        const key = msg.fields.routingKey
        tap.records.acks.push([at, Number(o.from), Number(o.term), Number(o.version), Number(key.slice(key.lastIndexOf('.') + 1))])
      }
    }, {noAck: true})
    return tap
  }

  /** What it saw since the last take (or the start). */
  take(): TapRecords {
    const out = this.records
    this.records = emptyRecords()
    return out
  }

  async stop(): Promise<void> {
    await this.connection.close().catch(() => undefined)
  }
}
