// The flow set of the flow-mod benchmark, written three ways from one description: as our
// FLOW_MOD messages, as ovs-ofctl add-flows lines, and as the line dump-flows should print back.
// Plus the comparison of a dumped table with what was sent. Pure: no I/O, unit-tested.
import * as codec from '../src/openflow/codec.js'
import type {FlowModMessage} from '../src/openflow/codec.js'
import type {Outgoing} from '../src/openflow/connection.js'
import type {DumpedFlow} from '../src/lab/ovs.js'

/** One flow of the benchmark, independent of how it is written. */
export interface FlowSpec {
  cookie: bigint
  priority: number
  inPort: number
  /** Dotted quad, unique per flow: what makes the flows distinct. */
  ipv4Dst: string
  /** Set on a quarter of the flows (then the match is tcp): a second classifier subtable. */
  tcpDst?: number
  outPorts: number[]
}

/** The cookie namespace of the benchmark's flows (low 32 bits: the flow's index). */
export const BENCH_COOKIE_BASE = 0xf10e_be00_0000_0000n
const PORTS = 24

/**
 * `count` distinct flows (at most 2^24: the index is spread over the last three bytes of
 * 10.x.y.z). Priorities, ports, match shapes and action lists vary so that OVS does not see one
 * repeated pattern, and the same index always gives the same flow.
 */
export function makeFlows(count: number): FlowSpec[] {
  if (!Number.isInteger(count) || count < 1 || count > 1 << 24) throw new RangeError(`count (${count}) must be an integer in 1..2^24`)
  const flows: FlowSpec[] = []
  for (let i = 0; i < count; i++) {
    const inPort = 1 + (i % PORTS)
    const out = 1 + (inPort % PORTS) // never the in_port
    const flow: FlowSpec = {
      cookie: BENCH_COOKIE_BASE | BigInt(i),
      priority: 1000 + (i % 50),
      inPort,
      ipv4Dst: `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`,
      outPorts: i % 4 === 2 ? [out, 1 + (out % PORTS)] : [out],
    }
    if (i % 4 === 3) flow.tcpDst = 1 + (i % 1000)
    flows.push(flow)
  }
  return flows
}

/** No flags: what ovs-ofctl add-flows sends for these lines (its dump shows none). */
export const BENCH_FLOW_FLAGS = 0

/** The codec's builders a FLOW_MOD is made with (from src, or from the compiled dist). */
export type FlowModBuilders = Pick<typeof codec, 'flowMod' | 'match' | 'applyActions' | 'output'>

/** Our FLOW_MOD ADD for one flow, made with the codec's builders (the connection assigns the xid). */
export function toFlowMod(flow: FlowSpec, builders: FlowModBuilders = codec): Outgoing<FlowModMessage> {
  const {flowMod, match, applyActions, output} = builders
  return flowMod({
    cookie: flow.cookie,
    priority: flow.priority,
    flags: BENCH_FLOW_FLAGS,
    match: match(
      flow.tcpDst === undefined
        ? {in_port: flow.inPort, eth_type: 0x0800, ipv4_dst: flow.ipv4Dst}
        : {in_port: flow.inPort, eth_type: 0x0800, ip_proto: 6, ipv4_dst: flow.ipv4Dst, tcp_dst: flow.tcpDst},
    ),
    instructions: [applyActions(...flow.outPorts.map((port) => output(port)))],
  })
}

/** The match as ovs-ofctl writes it (and, in this canonical order, prints it back). */
export function ofctlMatch(flow: FlowSpec): string {
  return flow.tcpDst === undefined
    ? `ip,in_port=${flow.inPort},nw_dst=${flow.ipv4Dst}`
    : `tcp,in_port=${flow.inPort},nw_dst=${flow.ipv4Dst},tp_dst=${flow.tcpDst}`
}

export function ofctlActions(flow: FlowSpec): string {
  return flow.outPorts.map((port) => `output:${port}`).join(',')
}

/** One line of an `ovs-ofctl add-flows` file. */
export function toOfctlLine(flow: FlowSpec): string {
  return `cookie=0x${flow.cookie.toString(16)},table=0,priority=${flow.priority},${ofctlMatch(flow)},actions=${ofctlActions(flow)}`
}

export interface TableCheck {
  /** Flows in the dump. */
  dumped: number
  /** Sent, and not in the dump (or in it with something different). */
  missing: number
  /** In the dump, and not sent. */
  unexpected: number
  /** Sent, and in the dump with a different priority, actions, cookie or flags. */
  different: number
  /** Up to a few examples of each problem, for the report. */
  examples: string[]
  ok: boolean
}

/**
 * Compares a dumped table with the flows sent: every flow present once with its cookie,
 * priority, match, actions and no flags, and nothing else. `sample`, when given, is
 * the indexes to check (the count is then checked against all of `flows`).
 */
export function checkTable(flows: readonly FlowSpec[], dumped: readonly DumpedFlow[], sample?: readonly number[]): TableCheck {
  const byKey = new Map<string, DumpedFlow>()
  const examples: string[] = []
  let duplicates = 0
  for (const flow of dumped) {
    const key = `${flow.priority}|${flow.match}`
    if (byKey.has(key)) duplicates++
    byKey.set(key, flow)
  }
  let missing = 0
  let different = 0
  const indexes = sample ?? flows.map((_, i) => i)
  const seen = new Set<string>()
  for (const i of indexes) {
    const flow = flows[i]!
    const key = `${flow.priority}|${ofctlMatch(flow)}`
    seen.add(key)
    const got = byKey.get(key)
    if (!got) {
      missing++
      if (examples.length < 6) examples.push(`missing: ${toOfctlLine(flow)}`)
      continue
    }
    const problems: string[] = []
    if (got.cookie !== flow.cookie) problems.push(`cookie 0x${got.cookie.toString(16)}`)
    if (got.actions !== ofctlActions(flow)) problems.push(`actions ${got.actions}`)
    if (got.table !== 0) problems.push(`table ${got.table}`)
    if (got.flags.length > 0) problems.push(`flags [${got.flags.join(',')}]`)
    if (problems.length > 0) {
      different++
      if (examples.length < 6) examples.push(`different (${problems.join('; ')}): ${got.raw}`)
    }
  }
  // Without a sample every dumped flow must be one we sent; with one, the count tells.
  let unexpected = sample ? Math.max(0, dumped.length - flows.length) : 0
  if (!sample) {
    for (const [key, flow] of byKey) {
      if (seen.has(key)) continue
      unexpected++
      if (examples.length < 6) examples.push(`unexpected: ${flow.raw}`)
    }
  }
  unexpected += duplicates
  const ok = missing === 0 && different === 0 && unexpected === 0 && dumped.length === flows.length
  return {dumped: dumped.length, missing, unexpected, different, examples, ok}
}

/** `count` distinct indexes in 0..n-1, first and last included, spread by a fixed stride. */
export function sampleIndexes(n: number, count: number): number[] {
  if (count >= n) return Array.from({length: n}, (_, i) => i)
  const out = new Set<number>([0, n - 1])
  // A stride coprime with n visits distinct indexes in a scattered order.
  let stride = Math.floor(n * 0.618) | 1
  while (gcd(stride, n) !== 1) stride += 2
  for (let k = 1; out.size < count; k++) out.add((k * stride) % n)
  return [...out].sort((a, b) => a - b)
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b]
  return a
}

/** `flow_count=N` from `ovs-ofctl dump-aggregate` output. */
export function parseAggregateFlowCount(text: string): number {
  const m = /flow_count=(\d+)/.exec(text)
  if (!m) throw new Error(`no flow_count in dump-aggregate output: ${text.trim()}`)
  return Number(m[1])
}
