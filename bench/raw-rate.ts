// The raw switch rate the REST benchmarks are judged against (bench/flows, bench/flows-floor): our
// SwitchRegistry, from the built dist/ as the instances run it, sends N FLOW_MODs pipelined with
// one barrier into a fresh bridge of its own. Measured right before each phase it is compared with:
// the machine is shared, and the ratio of two measurements seconds apart is steadier than one of
// measurements minutes apart.
import {readdirSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {freePort} from '../src/lab/free-port.js'
import {OvsLab} from '../src/lab/ovs.js'
import {startPrivateBroker, type PrivateBroker} from '../src/lab/private-broker.js'
import type {SwitchRegistry} from '../src/openflow/switch-registry.js'
import {makeFlows, parseAggregateFlowCount, toFlowMod, type FlowSpec} from './flowmod-flows.js'
import {waitForQuiet} from './flowmod-proc.js'
import {ROOT} from './flows-lab.js'
import {summarize, type Summary} from './stats.js'

export interface Dist {
  codec: typeof import('../src/openflow/codec.js')
  registry: typeof import('../src/openflow/switch-registry.js')
}

/** The built codec and registry (warns when dist/openflow is older than its sources). */
export async function loadDist(): Promise<Dist> {
  const base = join(ROOT, 'dist', 'openflow')
  for (const f of readdirSync(join(ROOT, 'src', 'openflow')).filter((x) => x.endsWith('.ts'))) {
    const built = join(base, f.replace(/\.ts$/, '.js'))
    let stale = false
    try {
      stale = statSync(built).mtimeMs < statSync(join(ROOT, 'src', 'openflow', f)).mtimeMs
    } catch {
      throw new Error(`dist/openflow/${f.replace(/\.ts$/, '.js')} missing: run npm run build (the instances run from dist/ too)`)
    }
    if (stale) console.error(`WARNING: dist/openflow is older than src/openflow/${f}: raw and instances both run the built code; npm run build for current figures`)
  }
  return {
    codec: (await import(join(base, 'codec.js'))) as Dist['codec'],
    registry: (await import(join(base, 'switch-registry.js'))) as Dist['registry'],
  }
}

export interface RawRate {
  /** Median wall time of the repeats. */
  wallMs: number
  flowsPerSec: number
  /** One FLOW_MOD + barrier with the flows in the table: what one small batch pays at the switch. */
  rtt: Summary
}

export interface RawRateOptions {
  lab: OvsLab
  dist: Dist
  /** Listening, with the desired role master. */
  registry: SwitchRegistry
  /** A bridge made for this measurement and deleted after it. */
  bridge: {name: string, dpid: bigint}
  flows: readonly FlowSpec[]
  /** Flows for the round-trip samples (not in `flows`). */
  rttFlows: readonly FlowSpec[]
  repeats: number
  ovsPid: number
  timeoutMs: number
}

/**
 * `repeats` times the flows + one barrier into a fresh bridge (emptied with a delete-all between
 * repeats; the switch holding exactly the flows is checked every time), median wall time; then the
 * switch's round trip for one FLOW_MOD + barrier, once per rttFlow, with the flows in the table.
 */
export async function measureRawRate(o: RawRateOptions): Promise<RawRate> {
  const {lab, dist, registry, bridge, flows} = o
  const connected = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`raw bridge ${bridge.name} did not connect`)), 20_000)
    const on = (info: {datapathId: bigint, role: string}) => {
      if (info.datapathId !== bridge.dpid) return
      clearTimeout(timer)
      registry.off('switch-connected', on)
      if (info.role === 'master') resolve()
      else reject(new Error(`raw bridge connected with role ${info.role}`))
    }
    registry.on('switch-connected', on)
  })
  await lab.addBridge(bridge.name, {datapathId: bridge.dpid, controllers: [{port: registry.port}]})
  await connected
  const walls: number[] = []
  const rtts: number[] = []
  try {
    for (let repeat = 1; repeat <= o.repeats; repeat++) {
      await waitForQuiet(o.ovsPid)
      const t0 = performance.now()
      const messages = flows.map((f) => toFlowMod(f, dist.codec))
      const results = await registry.sendModifications(bridge.dpid, messages, {timeoutMs: o.timeoutMs})
      walls.push(performance.now() - t0)
      const refused = results.filter(Boolean).length
      const count = parseAggregateFlowCount(await lab.ofctl('dump-aggregate', bridge.name))
      if (refused > 0 || count !== flows.length) throw new Error(`raw: ${refused} refused, ${count} flows on the switch, expected ${flows.length}`)
      if (repeat === o.repeats) {
        for (const f of o.rttFlows) {
          const t = performance.now()
          await registry.sendModifications(bridge.dpid, [toFlowMod(f, dist.codec)], {timeoutMs: o.timeoutMs})
          rtts.push(performance.now() - t)
        }
      } else {
        await registry.sendModifications(bridge.dpid, [dist.codec.flowMod({command: dist.codec.OFP.OFPFC_DELETE, tableId: dist.codec.OFP.OFPTT_ALL})], {timeoutMs: o.timeoutMs})
      }
    }
  } finally {
    await lab.deleteBridge(bridge.name)
  }
  const wallMs = summarize(walls).median
  return {wallMs, flowsPerSec: (flows.length * 1000) / wallMs, rtt: summarize(rtts)}
}

/** What a REST benchmark runs on: a private broker, Open vSwitch, the flows, and the raw registry. */
export interface BenchRig {
  dist: Dist
  flows: FlowSpec[]
  /** Flows for the switch round-trip samples (not in `flows`). */
  rttFlows: FlowSpec[]
  broker: PrivateBroker
  lab: OvsLab
  ovsPid: number
  /** Listening, master of whatever bridge connects to it. */
  registry: SwitchRegistry
  /** The raw rate into a fresh bridge of this name and datapath id (measureRawRate). */
  measureRaw(bridge: {name: string, dpid: bigint}): Promise<RawRate>
  /** Stops the registry, Open vSwitch and the broker (purged). */
  stop(): Promise<void>
}

export async function startBenchRig(o: {flows: number, rttSamples: number, rawRepeats: number, timeoutMs: number}): Promise<BenchRig> {
  const dist = await loadDist()
  const allFlows = makeFlows(o.flows + o.rttSamples)
  const flows = allFlows.slice(0, o.flows)
  const rttFlows = allFlows.slice(o.flows)
  const broker = await startPrivateBroker(await freePort(), {distPort: await freePort(), stopWithThisProcess: true})
  const lab = await OvsLab.start()
  const ovsPid = lab.pids()['ovs-vswitchd']!
  const registry = await dist.registry.SwitchRegistry.listen({host: '127.0.0.1', port: 0, connection: {requestTimeoutMs: o.timeoutMs}})
  await registry.setDesiredRole('master', 1n)
  return {
    dist, flows, rttFlows, broker, lab, ovsPid, registry,
    measureRaw: (bridge) => measureRawRate({lab, dist, registry, bridge, flows, rttFlows, repeats: o.rawRepeats, ovsPid, timeoutMs: o.timeoutMs}),
    async stop() {
      await registry.close()
      await lab.stop()
      await broker.stop()
    },
  }
}
