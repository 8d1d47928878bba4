// Acknowledged flow adds through the REST API, against the raw switch rate, with the mirror lag.
//
// Three instances (CLI processes, built code) on a private RabbitMQ, one Open vSwitch bridge
// (dummy datapath) connected to all three. Per run, for each concurrency and path:
//   raw     right before the REST phase (the machine is shared: a ratio of neighbours in time):
//           our SwitchRegistry (the built dist/openflow, asserting MASTER on a fresh bridge of its
//           own) sends the N FLOW_MODs pipelined with one barrier, what bench/flowmod calls 'ours'
//           (median of 3, the table emptied in between); then 100 times 1 FLOW_MOD + barrier with
//           the N flows in the table: the switch's round trip, what one small batch pays;
//   master  N POST /stats/flowentry/add (Ryu JSON; byte for byte the same FLOW_MODs) to the
//           master's REST API, `concurrency` in flight on keep-alive connections; a 200 means the
//           switch's barrier confirmed the flow AND every live slave's mirror acknowledged it;
//   slave   the same through a slave's REST API (forwarded to the master over the bus).
// Each of master and slave in two modes:
//   single  one flow entry per request, Ryu's ofctl_rest exactly (`--concurrency` requests in flight);
//   batch   flowkeeper's extension: the N flows in JSON arrays of `--batch K` entries, `--batch-concurrency`
//           batches in flight; a 200 means every entry of the batch is acknowledged as above. Through a
//           slave, a batch is one RPC to the master.
// bench/flows-floor.ts puts the same load on a reference cluster that does no flow logic at all:
// the most a master and two slaves over RabbitMQ reach on this machine, to read these figures by.
// Before each REST phase the table is cleared through REST (DELETE /stats/flowentry/clear) and
// the mirrors are waited for, so every phase starts from an empty table like the raw one. After
// each phase the switch must hold exactly N flows and every mirror the master's version.
//
// Mirror lag, from a tap on the flow data bus in a process of its own (bench/flows-tap.ts):
// per version, from the master's delta (published right after the switch's barrier confirmed the
// change) to each slave's ack covering it (sent right after its mirror applied it), both stamped on
// arrival at the tap. Over-estimated by about one broker hop (printed as "tap hop"). The instances
// log nothing per delta: src/flows/service/flow-service.ts has no per-delta log line, at any level.
// Where the time of a request goes comes from the same stamps plus the client's (send, 200) and,
// through a slave, the forwarded request and its reply on the bus (single RPCs only: the requests a
// slave receives in one turn of its event loop go as one batch RPC, not broken down); CPU per
// process from /proc.
// --cluster-poll-ms P additionally polls GET /cluster on the master and the slaves every P ms
// during REST phases and derives the lag from the versions seen, which is only good to +-P ms plus
// a request's latency: shown for comparison.
//
// Usage: npm run bench:flows -- [--flows 10000] [--runs 3] [--concurrency 32,64,128,256]
//          [--paths master,slave] [--modes single,batch] [--batch 1000] [--batch-concurrency 2]
//          [--cluster-poll-ms 0] [--cpu-prof DIR] [--audit]
//   --batch K       entries per batch request (batch mode); --batch 0 skips the batch mode.
//   --batch-concurrency C   batch requests in flight, comma-separated for several phases (e.g. 1,2,4).
//   --cpu-prof DIR  diagnosis: profiles the three instances (V8's sampling profiler through
//                   bench/flows-profile.mjs, collected with SIGUSR2 at the end) and prints where each
//                   one's time went (self time by package/module and top functions) in every REST
//                   phase of the last run. The profiler costs CPU: compare figures without it.
//   --stalls        diagnosis: the instances log every event-loop block of 50 ms or more and their
//                   event-loop utilization (bench/flows-stalls.mjs); each phase prints the median
//                   utilization and the longest block per instance.
//   --nodelay       diagnosis: the instances' TCP sockets all get TCP_NODELAY (bench/flows-nodelay.mjs),
//                   including their RabbitMQ connections, which amqplib leaves with Nagle's algorithm on.
//   --without-tap   no bus tap (no lag, no breakdown): what the tap's own load costs the throughput.
//   --audit         keeps the instances' default audit (every minute: flow stats of the whole
//                   table); off by default so that no audit lands inside a measurement.
import {mkdirSync} from 'node:fs'
import {parseArgs} from 'node:util'
import {epochMs} from '../src/log.js'
import {SwitchCluster} from '../test/helpers/switch-cluster.js'
import {parseAggregateFlowCount} from './flowmod-flows.js'
import {startBenchRig} from './raw-rate.js'
import {waitForQuiet} from './flowmod-proc.js'
import {cpuBudget, formatCpuBudget} from './cpu-budget.js'
import {breakdown, mirrorLag, pollLags, type Breakdown, type MirrorLag} from './flows-analysis.js'
import {batchAcknowledged, closedLoop, RestTarget, ryuAddBody, ryuBatchBody} from './flows-http.js'
import {brokerPids, collectProfile, CpuMeter, type ClusterStatus, DeltaTap, deviceOf, monotonicUs, summarizeProfile, waitForMirrors, withPreloads} from './flows-lab.js'
import {BusTap, emptyRecords} from './flows-tap.js'
import {summarize, type Summary} from './stats.js'

const {values} = parseArgs({
  options: {
    flows: {type: 'string', default: '10000'},
    runs: {type: 'string', default: '3'},
    concurrency: {type: 'string', default: '32,64,128,256'},
    paths: {type: 'string', default: 'master,slave'},
    modes: {type: 'string', default: 'single,batch'},
    batch: {type: 'string', default: '1000'},
    'batch-concurrency': {type: 'string', default: '2'},
    'cluster-poll-ms': {type: 'string', default: '0'},
    'cpu-prof': {type: 'string'},
    audit: {type: 'boolean', default: false},
    nodelay: {type: 'boolean', default: false},
    stalls: {type: 'boolean', default: false},
    'without-tap': {type: 'boolean', default: false},
  },
})
const N = Number(values.flows)
const runs = Number(values.runs)
const concurrencies = values.concurrency!.split(',').map(Number)
const paths = values.paths!.split(',') as Array<'master' | 'slave'>
const batchSize = Number(values.batch)
const batchConcurrencies = values['batch-concurrency']!.split(',').map(Number)
const modes = (values.modes!.split(',') as Mode[]).filter((m) => m !== 'batch' || batchSize > 0)
if (!Number.isInteger(batchSize) || batchSize < 0) throw new Error('--batch: entries per batch, a non-negative integer (0: no batch mode)')
if (batchConcurrencies.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--batch-concurrency: positive integers, comma-separated')
if (modes.length === 0 || modes.some((m) => m !== 'single' && m !== 'batch')) throw new Error('--modes: single and/or batch')
const pollMs = Number(values['cluster-poll-ms'])
const profDir = values['cpu-prof']
if (!Number.isInteger(N) || N < 1 || !Number.isInteger(runs) || runs < 1) throw new Error('--flows and --runs must be positive integers')
if (concurrencies.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--concurrency: positive integers, comma-separated')
if (paths.some((p) => p !== 'master' && p !== 'slave')) throw new Error('--paths: master and/or slave')

const GOAL_LAG_P99_MS = 20
const GOAL_RATIO = 0.5
/** The machine's cores, for the CPU budget the rate goal leaves the instances (bench/cpu-budget.ts). */
const CORES = 2
/** The instances' CPU groups (see the CpuMeter below): 'master(1)', 'slave(2)', 'entry slave(3)'. */
const isInstance = (group: string) => /^(entry )?(master|slave)\(\d+\)$/.test(group)
const TIMEOUT_MS = 300_000

type Path = 'master' | 'slave'
type Mode = 'single' | 'batch'
interface Phase {
  run: number
  path: Path
  mode: Mode
  /** Requests in flight (single: flow entries; batch: batches of batchSize entries). */
  concurrency: number
  wallMs: number
  flowsPerSec: number
  latency: Summary
  failures: number
  lag: MirrorLag
  pollLag?: Summary
  breakdown: Breakdown
  /** The master's switch batches (one barrier each) and delta messages during the phase, from its counters. */
  masterWork: {batches: number, flowMods: number, deltaMessages: number}
  /** CPU ms per process group during the phase, and its system (kernel) part. */
  cpuMs: Record<string, number>
  sysMs: Record<string, number>
  snapshots: number
  profileWindow: [number, number]
  /** The raw rate measured right before, and the switch's round trip for one FLOW_MOD + barrier. */
  raw: number
  switchRtt?: Summary
  /** CPU the rest of the machine used meanwhile (other users of the 2 cores), in cores. */
  othersCores: number
  /** Role changes during the phase (there should be none). */
  roleChanges: string[]
  /** --stalls: per instance, event-loop blocks of 50 ms or more during the phase (count, longest). */
  stalls?: Record<string, {count: number, maxMs: number, elu: number}>
}
interface Raw {
  run: number
  /** Median of RAW_REPEATS. */
  wallMs: number
  flowsPerSec: number
  /** One FLOW_MOD + barrier, with N flows in the table. */
  rtt: Summary
}
const RAW_REPEATS = 3
const RTT_SAMPLES = 100

// ---------------------------------------------------------------------------------------------

const rig = await startBenchRig({flows: N, rttSamples: RTT_SAMPLES, rawRepeats: RAW_REPEATS, timeoutMs: TIMEOUT_MS})
const {flows, lab, ovsPid, broker} = rig
const domain = `flows${process.pid}`
if (profDir) mkdirSync(profDir, {recursive: true})
let sc: SwitchCluster | undefined
let tap: BusTap | undefined
const targets: RestTarget[] = []
const phases: Phase[] = []
const raws: Raw[] = []
/** 'master 1' -> its .cpuprofile (--cpu-prof). */
const profileFiles = new Map<string, string>()
let failed = false
try {
  sc = await withPreloads({cpuProfileDir: profDir, stalls: values.stalls, nodelay: values.nodelay}, () => SwitchCluster.start({
    amqp: broker.url, lab, ids: [1, 2, 3], bridges: 1, prefix: 'fl', dpidBase: 0xf1000000n, domain,
    args: values.audit ? [] : ['--audit-cron', 'off'], settleTimeoutMs: 60_000,
  }))
  const bridge = sc.bridges[0]!
  // Who is who; re-read before every phase (a master that stepped down is reported, not hidden).
  let master = sc.master()
  let slaves = sc.running().filter((m) => m !== master).sort((a, b) => a.id - b.id)
  let entry = slaves.at(-1)! // the slave the slave path enters through
  const control = (m: typeof master) => {
    const t = new RestTarget(sc!.slotOf(m).apiPort, 4)
    targets.push(t)
    return t
  }
  let masterCtl = control(master)
  let slaveCtls = slaves.map(control)
  let term = master.term!
  let slaveIds = slaves.map((s) => s.id)
  const reresolve = async () => {
    const now = await sc!.waitForSettled(60_000)
    if (now === master && now.term === term) return
    console.log(`  MASTER CHANGED: instance ${now.id} term ${now.term} (was ${master.id} term ${term})`)
    failed = true
    master = now
    slaves = sc!.running().filter((m) => m !== master).sort((a, b) => a.id - b.id)
    entry = slaves.at(-1)!
    masterCtl = control(master)
    slaveCtls = slaves.map(control)
    term = master.term!
    slaveIds = slaves.map((s) => s.id)
  }
  await waitForMirrors(masterCtl, slaveCtls, [bridge.dpidHex])
  if (!values['without-tap']) tap = await BusTap.start(broker.url, domain)
  const bodies = flows.map((f) => ryuAddBody(f, bridge.dpid))
  const brokerTree = brokerPids(broker.port)
  const meter = new CpuMeter(() => ({
    [`master(${master.id})`]: [master.pid!],
    ...Object.fromEntries(slaves.map((s) => [`${s === entry ? 'entry ' : ''}slave(${s.id})`, [s.pid!]])),
    'ovs-vswitchd': [ovsPid],
    rabbitmq: brokerTree,
    tap: tap?.pid ? [tap.pid] : [],
  }))

  console.log(`flows: ${N} flow adds per measurement, ${runs} runs, modes ${modes.join('/')} (single: concurrency ${concurrencies.join('/')}` +
    `${modes.includes('batch') ? `; batch: ${batchSize} entries per request, ${batchConcurrencies.join('/')} in flight` : ''}), paths ${paths.join('/')}; ` +
    `3 instances (master ${master.id}, slaves ${slaveIds.join(', ')}; slave path enters at ${entry.id}), 1 bridge, audit ${values.audit ? 'on' : 'off'}` +
    (values.nodelay ? ', DIAGNOSIS: TCP_NODELAY forced on every instance socket' : ''))
  console.log(`  Node ${process.version}, 2 cores shared by everything; raw = our SwitchRegistry from dist/, one barrier`)

  const batchBodies: string[] = []
  for (let i = 0; batchSize > 0 && i < bodies.length; i += batchSize) batchBodies.push(ryuBatchBody(bodies.slice(i, i + batchSize)))
  for (let run = 1; run <= runs; run++) {
    for (const mode of modes) {
      const list = mode === 'single' ? concurrencies : batchConcurrencies
      const order = list.map((_, i) => list[(i + run - 1) % list.length]!)
      for (const concurrency of order) {
        for (const path of paths) {
          // The raw rate right before each REST phase: the machine is shared, and the ratio of two
          // measurements seconds apart is steadier than one of measurements minutes apart.
          const raw = await measureRaw(run)
          raws.push(raw)
          const p = await measureRest(run, path, concurrency, mode)
          p.raw = raw.flowsPerSec
          p.switchRtt = raw.rtt
          phases.push(p)
          printPhase(p)
        }
      }
    }
  }
  report()

  // ---------------------------------------------------------------------------------------------

  /** What the master's counters say it did between two of its statuses. */
  function counterDelta(before: ClusterStatus, after: ClusterStatus): Phase['masterWork'] {
    const c0 = before.flows?.counters ?? {}
    const c1 = after.flows?.counters ?? {}
    const d = (k: string) => (c1[k] ?? 0) - (c0[k] ?? 0)
    return {batches: d('batches'), flowMods: d('flow_mods_sent'), deltaMessages: d('delta_messages_sent')}
  }

  async function measureRaw(run: number): Promise<Raw> {
    return {run, ...await rig.measureRaw({name: `flraw${run}`, dpid: 0xf2000000n + BigInt(run)})}
  }

  async function measureRest(run: number, path: Path, concurrency: number, mode: Mode): Promise<Phase> {
    await reresolve()
    // Empty table, mirrors in line, switch quiet.
    const clear = await masterCtl.send('DELETE', `/stats/flowentry/clear/${bridge.dpid}`, undefined, 60_000)
    if (clear.status !== 200) throw new Error(`clear: ${clear.status} ${clear.body}`)
    const before = await waitForMirrors(masterCtl, slaveCtls, [bridge.dpidHex])
    const v0 = deviceOf(before, bridge.dpidHex)!.version
    if (deviceOf(before, bridge.dpidHex)!.flows !== 0) throw new Error('table not empty after clear')
    await waitForQuiet(ovsPid)
    await tap?.take(0)

    // A batch's merged delta is too large for the bus tap to read (it files it as a snapshot): the
    // lag of batch phases comes from a tap that reads message heads (bench/flows-lab.ts DeltaTap).
    const deltaTap = mode === 'batch' && tap ? await DeltaTap.start(broker.url, domain) : undefined
    const target = new RestTarget(sc!.slotOf(path === 'master' ? master : entry).apiPort, concurrency)
    targets.push(target)
    const polls = pollMs > 0 ? startPolling() : undefined
    meter.start()
    const w0 = monotonicUs()
    const e0 = epochMs()
    const loop = await closedLoop(target, '/stats/flowentry/add', mode === 'single' ? bodies : batchBodies, concurrency)
    const w1 = monotonicUs()
    const e1 = epochMs()
    const cpuMs = meter.stop()
    const sysMs = meter.sys
    const polled = await polls?.stop()
    target.close()
    const tapped = tap ? await tap.take(300) : emptyRecords()
    const headRecords = deltaTap?.take()
    await deltaTap?.stop()
    // Batch phases: deltas and acks from the head tap; the probe hop (and the RPCs) from the bus tap.
    const records = headRecords ? {...tapped, deltas: headRecords.deltas, acks: headRecords.acks} : tapped

    // The switch and the mirrors hold exactly what was acknowledged.
    const count = parseAggregateFlowCount(await lab.ofctl('dump-aggregate', bridge.name))
    const after = await waitForMirrors(masterCtl, slaveCtls, [bridge.dpidHex], 30_000)
    const dev = deviceOf(after, bridge.dpidHex)!
    const problems: string[] = []
    if (loop.failures > 0) problems.push(`${loop.failures} requests failed, first: ${loop.firstFailure}`)
    // Flows acknowledged: one per 200 (single); per batch, its entries answered 200.
    let acked = loop.results.filter((r) => r.status === 200).length
    if (mode === 'batch') {
      const per = loop.results.map(batchAcknowledged)
      acked = per.reduce((a, x) => a + x.ok, 0)
      const failedEntries = per.reduce((a, x) => a + (Number.isNaN(x.failed) ? 0 : x.failed), 0)
      if (failedEntries > 0) problems.push(`${failedEntries} batch entries failed, first: ${per.find((x) => x.firstFailure)?.firstFailure}`)
    }
    if (count !== N) problems.push(`the switch holds ${count} flows, expected ${N}`)
    if (dev.flows !== N) problems.push(`the master's table holds ${dev.flows} flows, expected ${N}`)
    if (problems.length > 0) {
      failed = true
      console.error(`  run ${run} ${path} c=${concurrency}: ${problems.join('; ')}`)
    }
    const ok = loop.results.filter((r) => r.status === 200)
    return {
      run, path, mode, concurrency, raw: Number.NaN, othersCores: meter.othersCores,
      wallMs: loop.wallMs,
      flowsPerSec: (acked * 1000) / loop.wallMs,
      latency: summarize(ok.map((r) => r.doneAt - r.sentAt)),
      failures: loop.failures,
      lag: mirrorLag(records, term, slaveIds),
      ...(polled ? {pollLag: pollLagAll(polled, v0 + 1, dev.version)} : {}),
      // Per request; a batch's 200 carries the version of its last entry, and through a slave its
      // RPC is not one the tap pairs with a reply: the breakdown is for single requests.
      breakdown: mode === 'single' ? breakdown(loop.results, records, term, slaveIds, path === 'slave') : breakdown([], records, term, slaveIds, path === 'slave'),
      masterWork: counterDelta(before, after),
      cpuMs,
      sysMs,
      // Large merged deltas of batch phases are among the bus tap's "snapshots": count those sent to the slaves only.
      snapshots: records.snapshots.filter(([, key]) => !key.endsWith('.backup')).length,
      profileWindow: [w0, w1],
      ...(values.stalls ? {stalls: stallsBetween(e0, e1)} : {}),
      roleChanges: sc!.cluster.roleChanges().filter((c) => c.ts >= e0 && c.ts <= e1).map((c) => `${c.inst_id}:${c.from}->${c.to}(${c.reason})@${(c.ts - e0).toFixed(0)}ms`),
    }
  }

  function pollLagAll(polled: {master: Array<[number, number]>, slaves: Record<string, Array<[number, number]>>}, from: number, to: number): Summary {
    return summarize(Object.values(polled.slaves).flatMap((samples) => pollLags(polled.master, samples, from, to)))
  }

  function stallsBetween(from: number, to: number): Record<string, {count: number, maxMs: number, elu: number}> {
    return Object.fromEntries(sc!.running().map((m) => {
      const blocks = m.lines.filter((l) => l.event === 'bench_stall' && l.ts >= from && l.ts - Number(l.stall_ms) <= to).map((l) => Number(l.stall_ms))
      // ELU samples wholly inside the phase (each covers the 250 ms before its ts).
      const elus = m.lines.filter((l) => l.event === 'bench_elu' && l.ts - 250 >= from && l.ts <= to).map((l) => Number(l.elu))
      return [`${m === master ? 'master' : 'slave'} ${m.id}`, {count: blocks.length, maxMs: blocks.length ? Math.max(...blocks) : 0, elu: elus.length ? round2(summarize(elus).median) : Number.NaN}]
    }))
  }

  function startPolling(): {stop(): Promise<{master: Array<[number, number]>, slaves: Record<string, Array<[number, number]>>}>} {
    let running = true
    const masterSamples: Array<[number, number]> = []
    const slaveSamples: Record<string, Array<[number, number]>> = Object.fromEntries(slaveIds.map((id) => [String(id), []]))
    const loop = async (t: RestTarget, out: Array<[number, number]>) => {
      while (running) {
        const started = performance.now()
        const r = await t.send('GET', '/cluster', undefined, 10_000)
        if (r.status === 200) {
          const v = deviceOf(JSON.parse(r.body), bridge.dpidHex)?.version
          // The answer reflects the instance somewhere between send and receipt: take the midpoint.
          if (v !== undefined) out.push([(r.sentAt + r.doneAt) / 2, v])
        }
        const rest = pollMs - (performance.now() - started)
        if (rest > 0) await new Promise((res) => setTimeout(res, rest))
      }
    }
    const all = [loop(masterCtl, masterSamples), ...slaveCtls.map((t, i) => loop(t, slaveSamples[String(slaveIds[i])]!))]
    return {
      async stop() {
        running = false
        await Promise.all(all)
        return {master: masterSamples, slaves: slaveSamples}
      },
    }
  }

  function printPhase(p: Phase): void {
    const b = p.breakdown
    const seg = (s: Summary | undefined) => (s ? s.median.toFixed(1) : '-')
    const cpuTotal = Object.values(p.cpuMs).reduce((a, c) => a + c, 0)
    console.log(
      `  run ${p.run} ${p.path.padEnd(6)} ${p.mode === 'batch' ? `batch ${batchSize}` : 'single'} c=${String(p.concurrency).padEnd(4)} ${fmtInt(p.flowsPerSec).padStart(8)} flows/s (raw ${fmtInt(p.raw)}, ratio ${(p.flowsPerSec / p.raw).toFixed(3)})  latency p50 ${p.latency.median.toFixed(1)} p99 ${p.latency.p99.toFixed(1)} ms` +
        `  lag p50 ${p.lag.pooled.median.toFixed(2)} p99 ${p.lag.pooled.p99.toFixed(2)} ms (last slave p99 ${p.lag.lastSlave.p99.toFixed(2)}; ` +
        `p99 per slave ${Object.entries(p.lag.perSlave).map(([id, l]) => `${id}${p.path === 'slave' && Number(id) === entry.id ? '(entry)' : ''} ${l.p99.toFixed(1)}`).join(', ')}; tap hop ${p.lag.probeHop.median.toFixed(2)})` +
        (p.pollLag ? `  poll-lag p50 ${p.pollLag.median.toFixed(1)} p99 ${p.pollLag.p99.toFixed(1)}` : '') +
        `  ${p.masterWork.batches} switch batches of ~${Math.round(p.masterWork.flowMods / Math.max(1, p.masterWork.batches))}, ${p.masterWork.deltaMessages} delta messages  cpu ${(cpuTotal / p.wallMs).toFixed(2)} cores (+${p.othersCores.toFixed(2)} others)` +
        (p.failures ? `  FAILURES ${p.failures}` : ''),
    )
    console.log(
      `      switch round trip (1 FLOW_MOD + barrier, N flows in the table): p50 ${p.switchRtt?.median.toFixed(2)} p99 ${p.switchRtt?.p99.toFixed(2)} ms\n` +
      (p.mode === 'batch'
        ? `      batches of ${batchSize}: ${p.latency.n} requests, each p50 ${p.latency.median.toFixed(1)} p99 ${p.latency.p99.toFixed(1)} ms`
        : `      median ms: ${p.path === 'slave' ? `->rpc ${seg(b.toRpc)} ->delta ${seg(b.toDelta)} ->acks ${seg(b.toAcks)} ->reply ${seg(b.toReply)} ->200 ${seg(b.toResponse)}` : `->delta ${seg(b.toDelta)} ->acks ${seg(b.toAcks)} ->200 ${seg(b.toResponse)}`}` +
          ` (total ${seg(b.total)}, n=${b.n})`) +
        `   cpu µs/flow (of which kernel): ${Object.entries(p.cpuMs).map(([k, v]) => `${k} ${((v * 1000) / N).toFixed(0)} (${((p.sysMs[k]! * 1000) / N).toFixed(0)})`).join(', ')}` +
        (p.snapshots ? `   snapshots ${p.snapshots}` : '') +
        (p.stalls ? `\n      event loop: ${Object.entries(p.stalls).map(([k, v]) => `${k} utilization ${v.elu}, ${v.count} blocks >= 50 ms (max ${v.maxMs})`).join('; ')}` : ''),
    )
    if (p.roleChanges.length > 0) console.log(`      ROLE CHANGES during the phase: ${p.roleChanges.join(' ')}`)
  }

  function report(): void {
    const rawMedian = median(raws.map((r) => r.flowsPerSec))
    console.log(`\nmedians over ${runs} run(s), ${N} flows each:`)
    console.log(`  raw (SwitchRegistry, one barrier; measured before every REST phase)  ${fmtInt(rawMedian)} flows/s  (min ${fmtInt(Math.min(...raws.map((r) => r.flowsPerSec)))}, max ${fmtInt(Math.max(...raws.map((r) => r.flowsPerSec)))})`)
    const out: Record<string, unknown> = {}
    // JSON keys: 'master' / 'slave' for single entries (as before batches existed), 'masterBatch' / 'slaveBatch'.
    const keyOf = (path: Path, mode: Mode) => (mode === 'single' ? path : `${path}Batch`)
    for (const mode of modes) for (const path of paths) {
      const key = keyOf(path, mode)
      const label = `${path} ${mode === 'batch' ? `batch ${batchSize}` : 'single'}`
      const perC = (mode === 'single' ? concurrencies : batchConcurrencies).map((c) => {
        const ps = phases.filter((p) => p.path === path && p.mode === mode && p.concurrency === c)
        return {concurrency: c, ps, rate: median(ps.map((p) => p.flowsPerSec))}
      })
      for (const {concurrency, ps, rate} of perC) {
        console.log(`  ${label.padEnd(17)} c=${String(concurrency).padEnd(4)} ${fmtInt(rate).padStart(8)} flows/s  ratio ${median(ps.map((p) => p.flowsPerSec / p.raw)).toFixed(3)}  ` +
          `latency p50 ${median(ps.map((p) => p.latency.median)).toFixed(1)} ms  lag p50 ${median(ps.map((p) => p.lag.pooled.median)).toFixed(2)} p99 ${median(ps.map((p) => p.lag.pooled.p99)).toFixed(2)} ms`)
      }
      const best = perC.reduce((a, b) => (b.rate > a.rate ? b : a))
      const ratios = best.ps.map((p) => p.flowsPerSec / p.raw)
      const lagP99 = median(best.ps.map((p) => p.lag.pooled.p99))
      const lagP50 = median(best.ps.map((p) => p.lag.pooled.median))
      const lastP99 = median(best.ps.map((p) => p.lag.lastSlave.p99))
      const hop = median(best.ps.map((p) => p.lag.probeHop.median))
      const ratio = median(ratios)
      const bd = best.ps.map((p) => p.breakdown)
      const seg = (k: keyof Breakdown) => (bd[0]?.[k] && typeof bd[0][k] === 'object' ? median(bd.map((b) => (b[k] as Summary).median)) : undefined)
      const cpuKeys = Object.keys(best.ps[0]!.cpuMs)
      const cpuPerFlowUs = Object.fromEntries(cpuKeys.map((k) => [k, Math.round(median(best.ps.map((p) => (p.cpuMs[k]! * 1000) / N)))]))
      const sysPerFlowUs = Object.fromEntries(cpuKeys.map((k) => [k, Math.round(median(best.ps.map((p) => (p.sysMs[k]! * 1000) / N)))]))
      const cores = median(best.ps.map((p) => Object.values(p.cpuMs).reduce((a, c) => a + c, 0) / p.wallMs))
      const others = median(best.ps.map((p) => p.othersCores))
      console.log(`  ${label} best at concurrency ${best.concurrency}${mode === 'batch' ? ' (batches in flight)' : ''}: ${fmtInt(best.rate)} flows/s, REST-acked/raw ${ratio.toFixed(3)} (per run ${ratios.map((r) => r.toFixed(3)).join(', ')})  ` +
        `goal >= ${GOAL_RATIO}: ${ratio >= GOAL_RATIO ? 'met' : 'MISSED'}`)
      console.log(`    mirror lag (delta -> slave ack, tap): p50 ${lagP50.toFixed(2)} ms, p99 ${lagP99.toFixed(2)} ms (the later slave per version: p99 ${lastP99.toFixed(2)} ms; ` +
        `includes ~${hop.toFixed(2)} ms tap hop)  goal p99 <= ${GOAL_LAG_P99_MS} ms: ${lagP99 <= GOAL_LAG_P99_MS ? 'met' : 'MISSED'}`)
      const rttP50 = median(best.ps.map((p) => p.switchRtt?.median ?? Number.NaN))
      const rttP99 = median(best.ps.map((p) => p.switchRtt?.p99 ?? Number.NaN))
      const segText = (['toRpc', 'toDelta', 'toAcks', 'toReply', 'toResponse'] as const).map((k) => [k, seg(k)] as const).filter(([, v]) => v !== undefined)
        .map(([k, v]) => `${k.slice(2)} ${v!.toFixed(1)}`).join(', ')
      if (mode === 'single') console.log(`    per request, median ms: ${segText} (the switch's own round trip for 1 FLOW_MOD + barrier: p50 ${rttP50.toFixed(2)}, p99 ${rttP99.toFixed(2)})`)
      console.log(`    cpu per acked flow, µs (of which kernel): ${Object.entries(cpuPerFlowUs).map(([k, v]) => `${k} ${v} (${sysPerFlowUs[k]})`).join(', ')}; ` +
        `total ${Object.values(cpuPerFlowUs).reduce((a, b) => a + b, 0)} µs; ${cores.toFixed(2)} of 2 cores busy with this (others on the machine: ${others.toFixed(2)})`)
      const budget = cpuBudget({cores: CORES, rawFlowsPerSec: rawMedian, goalRatio: GOAL_RATIO, perFlowUs: cpuPerFlowUs, isController: isInstance})
      console.log(`    ${formatCpuBudget(budget, CORES, 'the 3 instances')}`)
      out[key] = {
        ...(mode === 'batch' ? {batchSize} : {}),
        bestConcurrency: best.concurrency,
        flowsPerSec: Math.round(best.rate),
        ratioToRaw: round3(ratio),
        ratioPerRun: ratios.map(round3),
        latencyMs: {p50: round2(median(best.ps.map((p) => p.latency.median))), p99: round2(median(best.ps.map((p) => p.latency.p99)))},
        mirrorLagMs: {p50: round2(lagP50), p99: round2(lagP99), lastSlaveP99: round2(lastP99), tapHop: round2(hop)},
        ...(best.ps[0]!.pollLag ? {pollLagMs: {p50: round2(median(best.ps.map((p) => p.pollLag!.median))), p99: round2(median(best.ps.map((p) => p.pollLag!.p99)))}} : {}),
        segmentsMs: Object.fromEntries((['toRpc', 'toDelta', 'toAcks', 'toReply', 'toResponse', 'total'] as const).flatMap((k) => {
          const v = seg(k)
          return v === undefined ? [] : [[k, round2(v)]]
        })),
        flowsPerSwitchBatch: Math.round(median(best.ps.map((p) => p.masterWork.flowMods / Math.max(1, p.masterWork.batches)))),
        deltaMessages: median(best.ps.map((p) => p.masterWork.deltaMessages)),
        switchRttMs: {p50: round2(rttP50), p99: round2(rttP99)},
        cpuPerFlowUs,
        kernelPerFlowUs: sysPerFlowUs,
        cpuBudgetUs: {atGoal: Math.round(budget.budgetUs), others: Math.round(budget.othersUs), leftForInstances: Math.round(budget.leftUs), instances: Math.round(budget.controllerUs)},
        coresBusy: round2(cores),
        othersCores: round2(others),
        perConcurrency: Object.fromEntries(perC.map(({concurrency, rate}) => [concurrency, Math.round(rate)])),
      }
    }
    // Per mode: whether every path met the goal (single entries cannot on 2 cores; batches are the way).
    const goals = Object.fromEntries(modes.map((mode) => {
      const ks = paths.map((p) => keyOf(p, mode))
      return [mode, {
        ratio: ks.every((k) => (out[k] as {ratioToRaw: number}).ratioToRaw >= GOAL_RATIO),
        lagP99: ks.every((k) => (out[k] as {mirrorLagMs: {p99: number}}).mirrorLagMs.p99 <= GOAL_LAG_P99_MS),
      }]
    }))
    console.log(JSON.stringify({
      bench: 'flows', flows: N, runs, batchSize: modes.includes('batch') ? batchSize : 0, node: process.version, rawFlowsPerSec: Math.round(rawMedian), rawAll: raws.map((r) => Math.round(r.flowsPerSec)),
      ...out, goals, ok: !failed,
    }))
  }
} catch (error) {
  failed = true
  throw error
} finally {
  for (const t of targets) t.close()
  await tap?.stop()
  if (profDir && sc) {
    await writeProfiles(sc, profDir)
    printProfiles(profDir)
  }
  await sc?.stop()
  await rig.stop()
  if (failed) process.exitCode = 1
}

// ---------------------------------------------------------------------------------------------

/** Every instance's profile so far (bench/flows-profile.mjs writes it on SIGUSR2). */
async function writeProfiles(cluster: SwitchCluster, dir: string): Promise<void> {
  const master = cluster.master()
  for (const m of cluster.running()) profileFiles.set(`${m === master ? 'master' : 'slave'} ${m.id}`, await collectProfile(m.pid!, dir))
}

function printProfiles(dir: string): void {
  void dir
  const last = phases.filter((p) => p.run === runs)
  for (const p of last) {
    console.log(`\nCPU profiles, ${p.path} c=${p.concurrency} of run ${p.run} (self time in the phase's window of ${((p.profileWindow[1] - p.profileWindow[0]) / 1000).toFixed(0)} ms):`)
    for (const [who, file] of profileFiles) {
      const s = summarizeProfile(file, p.profileWindow[0], p.profileWindow[1])
      console.log(`  ${who} (${file}): ${s.totalMs} ms sampled, ${s.idleMs} idle`)
      console.log(`    by category: ${s.byCategory.slice(0, 14).map(([k, v]) => `${k} ${v}`).join(', ')}`)
      console.log(`    top: ${s.topFunctions.slice(0, 25).map(([k, v]) => `${k} ${v}`).join('; ')}`)
    }
  }
}

/** The median as stats.ts defines it (lower middle), unrounded: ratios need more than 2 decimals. */
function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN
  return [...xs].sort((a, b) => a - b)[Math.ceil(xs.length / 2) - 1]!
}
function round2(x: number): number {
  return Math.round(x * 100) / 100
}
function round3(x: number): number {
  return Math.round(x * 1000) / 1000
}
function fmtInt(x: number): string {
  return Math.round(x).toLocaleString('en-US')
}
