// Flow-mod throughput: N distinct flows into one bridge of a private Open vSwitch (dummy
// datapath), from our master (SwitchRegistry asserting MASTER, FLOW_MOD ADDs pipelined with one
// barrier at the end) against `ovs-ofctl -O OpenFlow13 add-flows` of the very same flows written
// to a file, in the same run; and the same two with OpenFlow bundles (ONF EXT-230 in OF1.3,
// `ovs-ofctl --bundle`). Every measurement gets a fresh bridge (see FAIRNESS below) and is then
// checked: dump-aggregate must count exactly N flows and dump-flows must show every flow sent,
// with its cookie, priority, match and actions, and nothing else.
//
// Usage: npm run bench:flowmod -- [--flows 100000] [--runs 3] [--impl auto|dist|src]
//                                 [--sample K] [--diagnose] [--variants ours,ofctl,...]
//   --impl     dist: the compiled build (what production runs; `npm run bench:flowmod` builds
//              first); src: the TypeScript through tsx (its esbuild transform makes encoding
//              ~1.5-2x slower); auto (default): dist when it is at least as new as src/openflow.
//   --sample   check K flows of each table instead of all (the count is always checked).
//   --diagnose adds variants that locate our costs (see 'Diagnostic variants' below).
//   --variants a subset, e.g. ours,ofctl (known: ours, ofctl, ours-bundle, ofctl-bundle and the
//              diagnostic ones).
//
// Variants. ours: registry.sendModifications(dpid, all FLOW_MODs) — the production path: the
// connection streams the batch (encoded straight into 64 KiB chunks, one socket write each,
// waiting for 'drain' between chunks), then one barrier. ofctl: `ovs-ofctl add-flows FILE`.
// ours-bundle: registry.sendBundle(dpid, all FLOW_MODs) — the connection's ONF bundle path (OPEN
// pipelined, adds streamed like a batch, barrier, COMMIT). ofctl-bundle: `ovs-ofctl --bundle
// add-flows FILE`. Diagnostic variant: ours-paced (the FLOW_MODs through the public send(),
// pausing whenever the connection is not writable until it has flushed, then one barrier: what a
// caller gets without the batch API).
//
// FAIRNESS. A fresh bridge per measurement, rather than del-flows between measurements: each
// variant then starts from the same empty classifier, with our controller connected and
// confirmed MASTER on every bridge (ovs-ofctl's included, where it stays idle), and no deletion
// of 100,000 flows is left running in OVS's background when the clock starts (we also wait for
// ovs-vswitchd to go quiet). The variants' order rotates from run to run. Client-side work is on
// the clock for both: ovs-ofctl parses the text file and encodes; we build message objects and
// encode. The protocols differ in one way worth knowing: plain `ovs-ofctl add-flows` sends each
// FLOW_MOD followed by a barrier and waits for that barrier before the next (lib/vconn.c,
// vconn_transact_multiple_noreply), while we pipeline and send one barrier. With --bundle both
// sides do the same thing: OPEN, every ADD pipelined, a barrier, COMMIT (we pipeline OPEN too).
import {writeFileSync} from 'node:fs'
import {readdir, stat} from 'node:fs/promises'
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'
import {join} from 'node:path'
import {OvsLab, parseDumpFlows} from '../src/lab/ovs.js'
import type {OfMessage} from '../src/openflow/codec.js'
import type {Outgoing, SwitchConnection} from '../src/openflow/connection.js'
import {summarize} from './stats.js'
import {checkTable, makeFlows, parseAggregateFlowCount, sampleIndexes, toFlowMod, toOfctlLine, type FlowSpec, type TableCheck} from './flowmod-flows.js'
import {ownCpuMs, processCpuMs, runForOutput, runTimed, waitForQuiet} from './flowmod-proc.js'

type CodecModule = typeof import('../src/openflow/codec.js')
type RegistryModule = typeof import('../src/openflow/switch-registry.js')

const VARIANTS = ['ours', 'ofctl', 'ours-bundle', 'ofctl-bundle'] as const
const DIAGNOSTIC_VARIANTS = ['ours-paced'] as const
type Variant = (typeof VARIANTS)[number] | (typeof DIAGNOSTIC_VARIANTS)[number]

const {values} = parseArgs({
  options: {
    flows: {type: 'string', default: '100000'},
    runs: {type: 'string', default: '3'},
    impl: {type: 'string', default: 'auto'},
    sample: {type: 'string', default: '0'},
    diagnose: {type: 'boolean', default: false},
    variants: {type: 'string'},
  },
})
const flowCount = Number(values.flows)
const runs = Number(values.runs)
const sampleSize = Number(values.sample)
if (!Number.isInteger(flowCount) || flowCount < 1) throw new Error(`--flows (${values.flows}) must be a positive integer`)
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs (${values.runs}) must be a positive integer`)
if (!['auto', 'dist', 'src'].includes(values.impl!)) throw new Error(`--impl (${values.impl}) must be auto, dist or src`)
const ALL_VARIANTS: Variant[] = [...VARIANTS, ...DIAGNOSTIC_VARIANTS]
const variants: Variant[] = values.variants
  ? values.variants.split(',').map((v) => {
      if (!ALL_VARIANTS.includes(v as Variant)) throw new Error(`--variants: unknown variant '${v}' (known: ${ALL_VARIANTS.join(', ')})`)
      return v as Variant
    })
  : [...VARIANTS, ...(values.diagnose ? DIAGNOSTIC_VARIANTS : [])]
/** Generous: the point is to measure, not to time out on a busy machine. */
const TIMEOUT_MS = 300_000

interface Measurement {
  run: number
  variant: Variant
  wallMs: number
  flowsPerSec: number
  /** ovs-vswitchd's CPU over the measurement. */
  ovsCpuMs: number
  /** The client's CPU: this process for ours, the ovs-ofctl process for theirs. */
  clientCpuMs: number
  clientSysMs?: number
  /** Ours only: building message objects; the synchronous part of the send call (the first chunk); the rest, until the last answer. */
  buildMs?: number
  sendMs?: number
  waitMs?: number
  check: TableCheck
}

// ---------------------------------------------------------------------------------------------

const root = join(fileURLToPath(import.meta.url), '..', '..')
const impl = await loadImplementation(values.impl as 'auto' | 'dist' | 'src')
const codec = impl.codec
const gc = exposeGc()
const flows = makeFlows(flowCount)
const sample = sampleSize > 0 ? sampleIndexes(flowCount, sampleSize) : undefined

const lab = await OvsLab.start()
const ovsPid = lab.pids()['ovs-vswitchd']
if (!ovsPid) throw new Error('ovs-vswitchd has no pid')
const registry = await impl.registry.SwitchRegistry.listen({host: '127.0.0.1', port: 0, connection: {requestTimeoutMs: TIMEOUT_MS}})
const measurements: Measurement[] = []
const encodeOnlyMs: number[] = []
let failures = 0
let bridgeCounter = 0

try {
  await registry.setDesiredRole('master', 1n)
  const flowFile = join(lab.dir, 'flows.txt')
  writeFileSync(flowFile, flows.map(toOfctlLine).join('\n') + '\n')
  const ovsVersion = (await runForOutput('ovs-vswitchd', ['--version'])).split('\n')[0]
  console.log(`flowmod: ${flowCount} flows, ${runs} runs, variants ${variants.join(', ')}; our code from ${impl.name}${impl.note ? ` (${impl.note})` : ''}`)
  console.log(`  Node ${process.version}, ${ovsVersion}, dummy datapath; checking ${sample ? `${sample.length} sampled flows` : 'every flow'} of each table`)

  for (let run = 1; run <= runs; run++) {
    encodeOnlyMs.push(timeEncodeOnly())
    const order = variants.map((_, i) => variants[(i + run - 1) % variants.length]!)
    for (const variant of order) {
      const m = await measure(run, variant, flowFile)
      measurements.push(m)
      printMeasurement(m)
      if (!m.check.ok) failures++
    }
    const r = runRatios(run)
    console.log(`run ${run}: ours/ofctl ${fmtRatio(r.plain)}   ours-bundle/ofctl-bundle ${fmtRatio(r.bundle)}   (encode only: ${encodeOnlyMs.at(-1)!.toFixed(0)} ms)`)
  }
  report(ovsVersion)
} finally {
  await registry.close()
  await lab.stop()
}
if (failures > 0) {
  // stderr, so that the JSON line stays the last line of stdout.
  console.error(`FAILED: ${failures} table check(s) did not match what was sent`)
  process.exitCode = 1
}

// ---------------------------------------------------------------------------------------------

async function measure(run: number, variant: Variant, flowFile: string): Promise<Measurement> {
  const bridge = `fm${++bridgeCounter}`
  const datapathId = 0xf10e_0000n + BigInt(bridgeCounter)
  const mastered = waitForMaster(datapathId, 20_000)
  await lab.addBridge(bridge, {datapathId, controllers: [{port: registry.port}]})
  await mastered
  await waitForQuiet(ovsPid!)
  gc()

  const ovs0 = processCpuMs(ovsPid!)
  let result: Omit<Measurement, 'run' | 'variant' | 'flowsPerSec' | 'ovsCpuMs' | 'check'>
  if (variant === 'ofctl' || variant === 'ofctl-bundle') {
    const args = ['-O', 'OpenFlow13', ...(variant === 'ofctl-bundle' ? ['--bundle'] : []), 'add-flows', `unix:${lab.mgmtSocket(bridge)}`, flowFile]
    const t = await runTimed('ovs-ofctl', args)
    result = {wallMs: t.wallMs, clientCpuMs: t.cpuMs}
  } else {
    result = await measureOurs(variant, datapathId)
  }
  const ovsCpuMs = processCpuMs(ovsPid!) - ovs0

  const count = parseAggregateFlowCount(await lab.ofctl('dump-aggregate', bridge))
  const dump = parseDumpFlows(await runForOutput('ovs-ofctl', ['-O', 'OpenFlow13', '--no-names', 'dump-flows', `unix:${lab.mgmtSocket(bridge)}`]))
  const check = checkTable(flows, dump, sample)
  if (count !== flowCount) {
    check.ok = false
    check.examples.unshift(`dump-aggregate counts ${count} flows, not ${flowCount}`)
  }
  await lab.deleteBridge(bridge)
  return {run, variant, ...result, flowsPerSec: (flowCount * 1000) / result.wallMs, ovsCpuMs, check}
}

async function measureOurs(variant: Variant, datapathId: bigint): Promise<Omit<Measurement, 'run' | 'variant' | 'flowsPerSec' | 'ovsCpuMs' | 'check'>> {
  const connection = registry.connection(datapathId)
  if (!connection || registry.roleOn(datapathId) !== 'master') throw new Error(`not master on ${datapathId.toString(16)}`)
  const cpu0 = ownCpuMs()
  const t0 = performance.now()
  const messages = flows.map((flow: FlowSpec) => toFlowMod(flow, codec))
  const t1 = performance.now()
  let done: Promise<unknown>
  if (variant === 'ours-bundle') {
    done = registry.sendBundle(datapathId, messages, {timeoutMs: TIMEOUT_MS})
  } else if (variant === 'ours-paced') {
    done = sendPaced(connection, messages)
  } else {
    done = registry.sendModifications(datapathId, messages, {timeoutMs: TIMEOUT_MS}).then((results) => {
      const refused = results.filter(Boolean)
      if (refused.length > 0) throw new Error(`${refused.length} FLOW_MODs refused, first: ${refused[0]!.message}`)
    })
  }
  const t2 = performance.now()
  await done
  const t3 = performance.now()
  const cpu1 = ownCpuMs()
  return {
    wallMs: t3 - t0,
    clientCpuMs: cpu1.userMs - cpu0.userMs + (cpu1.systemMs - cpu0.systemMs),
    clientSysMs: cpu1.systemMs - cpu0.systemMs,
    buildMs: t1 - t0,
    sendMs: t2 - t1,
    waitMs: t3 - t2,
  }
}

/**
 * Diagnosis only: the FLOW_MODs through the connection's public send(), pausing whenever it is
 * not writable until it has flushed, then one barrier: what sendConfirmedBatch does, done by a
 * caller with the public API.
 */
async function sendPaced(connection: SwitchConnection, messages: readonly Outgoing[]): Promise<void> {
  let first = Number.POSITIVE_INFINITY
  let last = -1
  let refused = 0
  const onMessage = (message: OfMessage) => {
    if (message.type === 'ERROR' && message.xid >= first && message.xid <= last) refused++
  }
  connection.on('message', onMessage)
  try {
    for (const message of messages) {
      if (!connection.writable) await connection.flush()
      last = connection.send(message)
      if (first > last) first = last
    }
    await connection.barrier({timeoutMs: TIMEOUT_MS})
  } finally {
    connection.off('message', onMessage)
  }
  if (refused > 0) throw new Error(`${refused} FLOW_MODs refused`)
}

/** Encoding alone, no socket: the codec's share of our time. */
function timeEncodeOnly(): number {
  const messages = flows.map((flow) => toFlowMod(flow, codec))
  gc()
  const t0 = performance.now()
  for (let i = 0; i < messages.length; i++) codec.encodeMessage({...messages[i]!, xid: i + 1} as OfMessage)
  return performance.now() - t0
}

function waitForMaster(datapathId: bigint, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      registry.off('switch-connected', onConnected)
      reject(new Error(`switch ${datapathId.toString(16)} did not connect within ${timeoutMs} ms`))
    }, timeoutMs)
    const onConnected = (info: {datapathId: bigint; role: string}) => {
      if (info.datapathId !== datapathId) return
      clearTimeout(timer)
      registry.off('switch-connected', onConnected)
      if (info.role === 'master') resolve()
      else reject(new Error(`switch ${datapathId.toString(16)} connected with role ${info.role}, not master`))
    }
    registry.on('switch-connected', onConnected)
  })
}

// ---------------------------------------------------------------------------------------------
// Reporting

function byVariant(variant: Variant, run?: number): Measurement[] {
  return measurements.filter((m) => m.variant === variant && (run === undefined || m.run === run))
}

type Ratios = {plain?: number; bundle?: number; plainVsBundle?: number; paced?: number}

function runRatios(run: number): Ratios {
  const rate = (v: Variant) => byVariant(v, run)[0]?.flowsPerSec
  const ratio = (a?: number, b?: number) => (a !== undefined && b !== undefined ? a / b : undefined)
  return {
    plain: ratio(rate('ours'), rate('ofctl')),
    bundle: ratio(rate('ours-bundle'), rate('ofctl-bundle')),
    plainVsBundle: ratio(rate('ours'), rate('ofctl-bundle')),
    paced: ratio(rate('ours-paced'), rate('ofctl')),
  }
}

function median(xs: number[]): number {
  return xs.length === 0 ? Number.NaN : summarize(xs).median
}

function fmtRatio(x: number | undefined): string {
  return x === undefined || Number.isNaN(x) ? '-' : x.toFixed(2)
}

function fmtInt(x: number): string {
  return Math.round(x).toLocaleString('en-US')
}

function printMeasurement(m: Measurement): void {
  const ours = m.buildMs !== undefined
    ? `  build ${m.buildMs.toFixed(0)} + send ${m.sendMs!.toFixed(0)} + wait ${m.waitMs!.toFixed(0)} ms; our cpu ${m.clientCpuMs.toFixed(0)} ms (sys ${m.clientSysMs!.toFixed(0)})`
    : `  ovs-ofctl cpu ${m.clientCpuMs.toFixed(0)} ms`
  const check = m.check.ok ? `table ok (${m.check.dumped})` : `TABLE WRONG: ${JSON.stringify({...m.check, examples: undefined})}\n    ${m.check.examples.join('\n    ')}`
  console.log(
    `  run ${m.run} ${m.variant.padEnd(14)} ${m.wallMs.toFixed(0).padStart(6)} ms ${fmtInt(m.flowsPerSec).padStart(9)} flows/s  ovs-vswitchd cpu ${m.ovsCpuMs.toFixed(0).padStart(5)} ms${ours}  ${check}`,
  )
}

function report(ovsVersion: string | undefined): void {
  console.log(`\nmedians over ${runs} run(s), ${flowCount} flows:`)
  const perVariant: Record<string, unknown> = {}
  for (const variant of variants) {
    const ms = byVariant(variant)
    const breakdown = ms[0]?.buildMs !== undefined
      ? {
          buildMs: median(ms.map((m) => m.buildMs!)),
          sendMs: median(ms.map((m) => m.sendMs!)),
          waitMs: median(ms.map((m) => m.waitMs!)),
          clientSysMs: median(ms.map((m) => m.clientSysMs!)),
        }
      : undefined
    const row = {
      flowsPerSec: median(ms.map((m) => m.flowsPerSec)),
      wallMs: median(ms.map((m) => m.wallMs)),
      ovsCpuMs: median(ms.map((m) => m.ovsCpuMs)),
      clientCpuMs: median(ms.map((m) => m.clientCpuMs)),
      ...breakdown,
      perRun: ms.map((m) => Math.round(m.flowsPerSec)),
      tablesOk: ms.every((m) => m.check.ok),
    }
    perVariant[variant] = row
    console.log(
      `  ${variant.padEnd(14)} ${fmtInt(row.flowsPerSec).padStart(9)} flows/s  (${fmtInt(row.wallMs)} ms; ovs-vswitchd cpu ${fmtInt(row.ovsCpuMs)} ms, client cpu ${fmtInt(row.clientCpuMs)} ms)` +
        (breakdown ? `  build ${fmtInt(breakdown.buildMs)} + send ${fmtInt(breakdown.sendMs)} + wait ${fmtInt(breakdown.waitMs)} ms` : ''),
    )
  }
  const ratios = Array.from({length: runs}, (_, i) => runRatios(i + 1))
  const pick = (k: keyof (typeof ratios)[number]) => ratios.map((r) => r[k]).filter((x): x is number => x !== undefined)
  const summary = {
    plain: median(pick('plain')),
    bundle: median(pick('bundle')),
    plainVsBundle: median(pick('plainVsBundle')),
  }
  const diagnostics: Array<[keyof Ratios, Variant, string]> = [['paced', 'ours-paced', 'ofctl']]
  const diagnosticRatios: Partial<Record<keyof Ratios, number>> = {}
  for (const [key, variant] of diagnostics) if (variants.includes(variant)) diagnosticRatios[key] = median(pick(key))
  const encodeMs = median(encodeOnlyMs)
  console.log(`  ratio ours/ofctl (FLOW_MODs, no bundle)            ${fmtRatio(summary.plain)}   goal >= 0.8   (per run: ${pick('plain').map(fmtRatio).join(', ')})`)
  console.log(`  ratio ours-bundle/ofctl-bundle (both bundled)      ${fmtRatio(summary.bundle)}   goal >= 1.0   (per run: ${pick('bundle').map(fmtRatio).join(', ')})`)
  console.log(`  ratio ours/ofctl-bundle (ours unbundled)           ${fmtRatio(summary.plainVsBundle)}`)
  for (const [key, variant, against] of diagnostics) {
    if (variants.includes(variant)) console.log(`  ratio ${`${variant}/${against}`.padEnd(44)} ${fmtRatio(diagnosticRatios[key])}   (diagnostic)`)
  }
  console.log(`  encoding alone: ${fmtInt(encodeMs)} ms for ${flowCount} FLOW_MODs (${((encodeMs * 1000) / flowCount).toFixed(2)} µs each)`)
  console.log(
    JSON.stringify({
      bench: 'flowmod',
      flows: flowCount,
      runs,
      impl: impl.name,
      node: process.version,
      ovs: ovsVersion,
      checked: sample ? `sample of ${sample.length}` : 'all',
      tablesOk: measurements.every((m) => m.check.ok),
      ratios: {...summary, ...diagnosticRatios},
      ratiosPerRun: ratios.map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined).map(([k, v]) => [k, Math.round(v * 1000) / 1000]))),
      encodeOnlyMs: encodeOnlyMs.map(Math.round),
      variants: perVariant,
    }),
  )
}

// ---------------------------------------------------------------------------------------------

async function loadImplementation(choice: 'auto' | 'dist' | 'src'): Promise<{name: 'dist' | 'src'; note?: string; codec: CodecModule; registry: RegistryModule}> {
  const stale = await distStaleness()
  let name: 'dist' | 'src' = choice === 'auto' ? (stale ? 'src' : 'dist') : choice
  let note = choice === 'auto' && stale ? `dist not used: ${stale}; run npm run build for production-like figures` : undefined
  if (choice === 'dist' && stale) note = `WARNING: ${stale}`
  const base = name === 'dist' ? '../dist/openflow/' : '../src/openflow/'
  const codecModule = (await import(`${base}codec.js`)) as CodecModule
  const registryModule = (await import(`${base}switch-registry.js`)) as RegistryModule
  return {name, note, codec: codecModule, registry: registryModule}
}

/** Why dist/openflow cannot stand for src/openflow (missing or older file), or undefined. */
async function distStaleness(): Promise<string | undefined> {
  const srcDir = join(root, 'src', 'openflow')
  for (const file of (await readdir(srcDir)).filter((f) => f.endsWith('.ts'))) {
    const built = join(root, 'dist', 'openflow', file.replace(/\.ts$/, '.js'))
    const [s, d] = await Promise.all([stat(join(srcDir, file)), stat(built).catch(() => undefined)])
    if (!d) return `dist/openflow/${file.replace(/\.ts$/, '.js')} missing`
    if (d.mtimeMs < s.mtimeMs) return `dist/openflow is older than src/openflow/${file}`
  }
  return undefined
}

/** A full collection before each measurement, so that none inherits the previous one's garbage. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc')
  const fn = runInNewContext('gc') as (() => void) | undefined
  return typeof fn === 'function' ? fn : () => {}
}
