// The floor of the replicated REST path on this machine: how fast can a controller built like
// flowkeeper (a master behind HTTP, two slaves fed over RabbitMQ, one process each, the 200 after
// the switch's barrier and both slaves' acks) acknowledge flow adds, against the raw switch rate
// measured in the same minute? bench/flows measures flowkeeper; this measures a reference cluster
// that does nothing but move the bytes (bench/flows-floor-node.ts: no checks, no flow-mod
// semantics, no versions, no canonical forms), so that whatever flowkeeper does costs more: its
// figures bound flowkeeper's on the same machine, client, broker, switch and flows
// (bench/flowmod-flows.ts, Ryu JSON as bench/flows sends it), and show what a leaner design of
// each part would gain (--delta json against binary: what the slaves' format costs).
//
// Usage: npx tsx bench/flows-floor.ts [--flows 10000] [--runs 3] [--modes batch,single]
//          [--batch 1000] [--batch-concurrency 2,4] [--concurrency 256] [--delta binary]
//   batch   the flows in JSON arrays of --batch entries, --batch-concurrency in flight (a phase for
//           each value);
//   single  one entry per request, --concurrency in flight.
//   --delta binary  (default) the slaves get the FLOW_MODs' bytes as sent to the switch, and keep
//                   each under its table, priority and match bytes: the least a mirror can do;
//           json    the request bodies, JSON.parse'd by the slaves into a Map of entries.
// The requests the floor master reads in one turn of its event loop share one barrier and one delta
// (flowkeeper coalesces them the same way). Mirror lag: per flow, from the delta's publication to
// the last slave's ack, both at the floor master (bench/flows stamps them at a tap: a broker hop more).
import {fork, type ChildProcess} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {parseAggregateFlowCount} from './flowmod-flows.js'
import {waitForQuiet} from './flowmod-proc.js'
import {batchAcknowledged, closedLoop, RestTarget, ryuAddBody, ryuBatchBody} from './flows-http.js'
import {brokerPids, CpuMeter} from './flows-lab.js'
import {cpuBudget, formatCpuBudget} from './cpu-budget.js'
import {startBenchRig} from './raw-rate.js'
import {summarize} from './stats.js'

const {values} = parseArgs({
  options: {
    flows: {type: 'string', default: '10000'},
    runs: {type: 'string', default: '3'},
    modes: {type: 'string', default: 'batch,single'},
    batch: {type: 'string', default: '1000'},
    'batch-concurrency': {type: 'string', default: '2,4'},
    concurrency: {type: 'string', default: '256'},
    delta: {type: 'string', default: 'binary'},
  },
})
const N = Number(values.flows)
const runs = Number(values.runs)
const batchSize = Number(values.batch)
const batchConcurrencies = values['batch-concurrency']!.split(',').map(Number)
const concurrency = Number(values.concurrency)
type Mode = 'batch' | 'single'
const modes = values.modes!.split(',') as Mode[]
for (const [name, v] of Object.entries({flows: N, runs, batch: batchSize, concurrency})) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name}: a positive integer`)
}
if (batchConcurrencies.some((c) => !Number.isInteger(c) || c < 1)) throw new Error('--batch-concurrency: positive integers, comma-separated')
if (modes.length === 0 || modes.some((m) => m !== 'single' && m !== 'batch')) throw new Error('--modes: batch and/or single')
const deltaFormat = values.delta!
if (deltaFormat !== 'binary' && deltaFormat !== 'json') throw new Error('--delta: binary or json')

const TIMEOUT_MS = 300_000
const NODE = fileURLToPath(new URL('./flows-floor-node.ts', import.meta.url))
const SLAVES = 2
/** bench/flows' goal for acknowledged adds against raw, and the machine's cores: the CPU budget they leave. */
const GOAL_RATIO = 0.5
const CORES = 2

const rig = await startBenchRig({flows: N, rttSamples: 100, rawRepeats: 3, timeoutMs: TIMEOUT_MS})
const {flows, lab, ovsPid, broker} = rig
const children: ChildProcess[] = []
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})
let failed = false
/** Per phase kind ('batch c=2', 'single c=256'): each run's figures. */
const results = new Map<string, Array<{rate: number, raw: number, ratio: number, lagP99: number, cpuUs: Record<string, number>}>>()

try {
  const exchange = `floor${process.pid}`
  for (let i = 0; i < SLAVES; i++) await startNode(['slave', broker.url, exchange, '0', deltaFormat])
  const master = await startNode(['master', broker.url, exchange, String(SLAVES), deltaFormat])
  const meter = new CpuMeter(() => ({
    'floor master': [children.at(-1)!.pid!],
    ...Object.fromEntries(children.slice(0, SLAVES).map((c, i) => [`floor slave ${i + 1}`, [c.pid!]])),
    'ovs-vswitchd': [ovsPid],
    rabbitmq: brokerPids(broker.port),
  }))
  console.log(`flows-floor: ${N} flow adds per measurement, ${runs} runs, modes ${modes.join('/')} (batch: ${batchSize} entries, ${batchConcurrencies.join('/')} in flight; single: ${concurrency} in flight)`)
  console.log(`  reference cluster: 1 master + ${SLAVES} slaves (bench/flows-floor-node.ts), ${deltaFormat} deltas, Node ${process.version}, 2 cores shared by everything; raw = our SwitchRegistry from dist/, one barrier`)
  let bridgeNo = 0
  for (let run = 1; run <= runs; run++) {
    for (const [mode, inFlight] of modes.flatMap((m) => (m === 'batch' ? batchConcurrencies : [concurrency]).map((c) => [m, c] as const))) {
      bridgeNo++
      const raw = await rig.measureRaw({name: `ffraw${bridgeNo}`, dpid: 0xf4000000n + BigInt(bridgeNo)})
      const name = `ffl${bridgeNo}`
      const dpid = 0xf3000000n + BigInt(bridgeNo)
      await lab.addBridge(name, {datapathId: dpid, controllers: [{port: master.of}]})
      try {
        await waitForSwitch(master.http, dpid)
        await waitForQuiet(ovsPid)
        const bodies = flows.map((f) => ryuAddBody(f, dpid))
        const requests: string[] = []
        if (mode === 'batch') for (let i = 0; i < bodies.length; i += batchSize) requests.push(ryuBatchBody(bodies.slice(i, i + batchSize)))
        const target = new RestTarget(master.http, inFlight)
        await target.send('GET', '/lags', undefined) // forget the lags of earlier phases
        meter.start()
        const loop = await closedLoop(target, '/stats/flowentry/add', mode === 'batch' ? requests : bodies, inFlight)
        const cpu = meter.stop()
        const lag = summarize(JSON.parse((await target.send('GET', '/lags', undefined)).body) as number[])
        target.close()
        const acked = mode === 'batch' ? loop.results.map(batchAcknowledged).reduce((a, x) => a + x.ok, 0) : loop.results.filter((r) => r.status === 200).length
        const count = parseAggregateFlowCount(await lab.ofctl('dump-aggregate', name))
        if (loop.failures > 0 || acked !== N || count !== N) {
          failed = true
          console.error(`  run ${run} ${mode}: ${loop.failures} failed (first: ${loop.firstFailure}), ${acked} acknowledged, ${count} on the switch, expected ${N}`)
        }
        const rate = (acked * 1000) / loop.wallMs
        const kind = `${mode} c=${inFlight}`
        if (!results.has(kind)) results.set(kind, [])
        results.get(kind)!.push({rate, raw: raw.flowsPerSec, ratio: rate / raw.flowsPerSec, lagP99: lag.p99, cpuUs: Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, (ms * 1000) / N]))})
        const latency = summarize(loop.results.map((r) => r.doneAt - r.sentAt))
        const perFlow = Object.entries(cpu).map(([k, ms]) => `${k} ${Math.round((ms * 1000) / N)}`).join(', ')
        const total = Object.values(cpu).reduce((a, b) => a + b, 0)
        console.log(`  run ${run} floor ${kind.padEnd(12)} ${fmtInt(rate).padStart(8)} flows/s (raw ${fmtInt(raw.flowsPerSec)}, ratio ${(rate / raw.flowsPerSec).toFixed(3)})  ` +
          `latency p50 ${latency.median.toFixed(1)} p99 ${latency.p99.toFixed(1)} ms  lag p50 ${lag.median.toFixed(2)} p99 ${lag.p99.toFixed(2)} ms  cpu ${(total / loop.wallMs).toFixed(2)} cores  (+${meter.othersCores.toFixed(2)} others)`)
        console.log(`      cpu µs/flow: ${perFlow}; total ${Math.round((total * 1000) / N)}`)
      } finally {
        await lab.deleteBridge(name)
      }
    }
  }
  console.log(`\nmedians over ${runs} run(s), ${N} flows each:`)
  for (const [kind, rs] of results) {
    console.log(`  floor ${kind.padEnd(12)} ${fmtInt(median(rs.map((r) => r.rate)))} flows/s, ratio to raw ${median(rs.map((r) => r.ratio)).toFixed(3)} (per run ${rs.map((r) => r.ratio.toFixed(3)).join(', ')}), ` +
      `mirror lag p99 ${median(rs.map((r) => r.lagP99)).toFixed(2)} ms (per run ${rs.map((r) => r.lagP99.toFixed(1)).join(', ')})`)
    const budget = cpuBudget({
      cores: CORES, rawFlowsPerSec: median(rs.map((r) => r.raw)), goalRatio: GOAL_RATIO, isController: (g) => g.startsWith('floor '),
      perFlowUs: Object.fromEntries(Object.keys(rs[0]!.cpuUs).map((g) => [g, median(rs.map((r) => r.cpuUs[g]!))])),
    })
    console.log(`    ${formatCpuBudget(budget, CORES, 'the reference cluster')}`)
  }
  console.log(JSON.stringify({bench: 'flows-floor', flows: N, runs, batchSize, delta: deltaFormat, node: process.version,
    ...Object.fromEntries([...results].map(([kind, rs]) => [kind, {
      flowsPerSec: Math.round(median(rs.map((r) => r.rate))), ratioToRaw: round3(median(rs.map((r) => r.ratio))), ratioPerRun: rs.map((r) => round3(r.ratio)),
      lagP99Ms: round3(median(rs.map((r) => r.lagP99))),
    }])),
    ok: !failed}))
} finally {
  for (const c of children) c.kill('SIGTERM')
  await rig.stop()
  if (failed) process.exitCode = 1
}

/** Forks one process of the reference cluster and waits for it to be ready. */
function startNode(args: string[]): Promise<{http: number, of: number}> {
  const child = fork(NODE, args, {execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
  children.push(child)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`floor ${args[0]} not ready within 30 s`)), 30_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`floor ${args[0]} exited (${code}) before it was ready`))
    })
    child.on('message', (m: {cmd: string, http: number, of: number}) => {
      if (m.cmd !== 'ready') return
      clearTimeout(timer)
      resolve({http: m.http, of: m.of})
    })
  })
}

async function waitForSwitch(httpPort: number, dpid: bigint): Promise<void> {
  const t = new RestTarget(httpPort, 1)
  try {
    for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
      const r = await t.send('GET', '/switches', undefined, 5_000)
      if (r.status === 200 && (JSON.parse(r.body) as string[]).includes(String(dpid))) return
      await new Promise((res) => setTimeout(res, 50))
    }
    throw new Error(`bridge ${dpid} did not connect to the floor master as master`)
  } finally {
    t.close()
  }
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.ceil(xs.length / 2) - 1]!
}
function round3(x: number): number {
  return Math.round(x * 1000) / 1000
}
function fmtInt(x: number): string {
  return Math.round(x).toLocaleString('en-US')
}
