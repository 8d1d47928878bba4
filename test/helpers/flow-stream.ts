// Flow requests against real instances' REST APIs, for the process-level flow tests: a small HTTP
// client that reports a connection failure as an outcome instead of throwing (a request to an
// instance that was just killed is data, not an error), Ryu ofctl_rest bodies for a family of
// test flows whose identities are easy to read back from `ovs-ofctl dump-flows` and from
// GET /stats/flow, a bounded-concurrency stream driver that records every request's outcome, and
// readers of /cluster.
import http from 'node:http'
import type {DumpedFlow, OvsLab} from '../../src/lab/ovs.js'
import {epochMs} from '../../src/log.js'
import {parseJsonBody} from '../../src/northbound/json-body.js'
import type {Bridge} from './switch-cluster.js'

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

export interface HttpOutcome {
  /** HTTP status; 0 when no response came (see `code`). */
  status: number
  /** The raw body. */
  text: string
  headers: http.IncomingHttpHeaders
  /**
   * Without a response: the socket error code. ECONNREFUSED means the request never reached the
   * instance (not applied); anything else (ECONNRESET, 'socket hang up', TIMEOUT) leaves the
   * outcome unknown.
   */
  code?: string
}

/** Keep-alive HTTP to one instance's REST API. */
export class RestClient {
  private readonly agent: http.Agent

  constructor(readonly port: number, {maxSockets = 64}: {maxSockets?: number} = {}) {
    this.agent = new http.Agent({keepAlive: true, maxSockets})
  }

  request(method: string, path: string, body?: unknown, timeoutMs = 15_000): Promise<HttpOutcome> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
    return new Promise((resolve) => {
      let done = false
      const finish = (o: HttpOutcome) => {
        if (done) return
        done = true
        resolve(o)
      }
      const req = http.request({
        host: '127.0.0.1', port: this.port, method, path, agent: this.agent,
        headers: payload === undefined ? {} : {'content-type': 'application/json', 'content-length': Buffer.byteLength(payload)},
      }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => finish({status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers}))
        res.on('error', (e: NodeJS.ErrnoException) => finish({status: 0, text: '', headers: {}, code: e.code ?? e.message}))
      })
      req.setTimeout(timeoutMs, () => {
        req.destroy(Object.assign(new Error('client timeout'), {code: 'TIMEOUT'}))
      })
      req.on('error', (e: NodeJS.ErrnoException) => finish({status: 0, text: '', headers: {}, code: e.code ?? e.message}))
      if (payload !== undefined) req.write(payload)
      req.end()
    })
  }

  /** GET, expecting 200 and JSON (big integers kept exact); throws otherwise. */
  async json<T = unknown>(path: string): Promise<T> {
    const r = await this.request('GET', path)
    if (r.status !== 200) throw new Error(`GET ${path} on :${this.port} answered ${r.status || r.code}: ${r.text}`)
    return parseJsonBody(r.text) as T
  }

  close(): void {
    this.agent.destroy()
  }
}

/** The JSON body of an answer (undefined when empty or not JSON). */
export function bodyOf(o: HttpOutcome): Record<string, unknown> | undefined {
  try {
    const v = parseJsonBody(o.text)
    return typeof v === 'object' && v !== null ? v as Record<string, unknown> : undefined
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Test flows
// ---------------------------------------------------------------------------------------------

/**
 * One test flow: table 0, match `ip,in_port=P,nw_dst=D` with a destination unique per flow, one
 * OUTPUT. Its identity on the switch is (priority, nw_dst).
 */
export interface TestFlow {
  id: number
  bridge: Bridge
  priority: number
  inPort: number
  dst: string
  outPort: number
  cookie: bigint
}

/** Flow number `id` on `bridge`: 10.(id>>16 & 255).(id>>8 & 255).(id & 255), in_port 1..4, output 5..7. */
export function testFlow(id: number, bridge: Bridge, cookie = 0n): TestFlow {
  return {
    id, bridge, cookie,
    priority: 1000 + (id % 7),
    inPort: 1 + (id % 4),
    dst: `10.${(id >> 16) & 255}.${(id >> 8) & 255}.${id & 255}`,
    outPort: 5 + (id % 3),
  }
}

/** The flow's identity as both the switch and the REST reads give it. */
export function flowKey(f: {priority: number, dst: string}): string {
  return `${f.priority}/${f.dst}`
}

/** POST /stats/flowentry/add body (Ryu JSON). */
export function addBody(f: TestFlow): Record<string, unknown> {
  return {
    dpid: Number(f.bridge.dpid), table_id: 0, priority: f.priority, cookie: `0x${f.cookie.toString(16)}`,
    match: {in_port: f.inPort, eth_type: 2048, ipv4_dst: f.dst},
    actions: [{type: 'OUTPUT', port: f.outPort}],
  }
}

/** POST /stats/flowentry/delete_strict body: exactly this flow. */
export function deleteStrictBody(f: TestFlow): Record<string, unknown> {
  return {dpid: Number(f.bridge.dpid), table_id: 0, priority: f.priority, match: {in_port: f.inPort, eth_type: 2048, ipv4_dst: f.dst}}
}

/** POST /stats/flowentry/delete body: every flow whose match is at least `ip,nw_dst=D` (here: just this one). */
export function deleteLooseBody(f: TestFlow): Record<string, unknown> {
  return {dpid: Number(f.bridge.dpid), table_id: 0, match: {eth_type: 2048, ipv4_dst: f.dst}}
}

/** A flow as read back, reduced to what the test flows set. */
export interface SeenFlow {
  table: number
  priority: number
  cookie: bigint
  inPort: number | undefined
  dst: string | undefined
  actions: string
}

export function seenKey(s: SeenFlow): string {
  return flowKey({priority: s.priority, dst: s.dst ?? '?'})
}

/** Everything a SeenFlow holds, as one comparable line. */
export function seenLine(s: SeenFlow): string {
  return `table=${s.table} priority=${s.priority} cookie=0x${s.cookie.toString(16)} in_port=${s.inPort ?? '*'} nw_dst=${s.dst ?? '*'} actions=${s.actions}`
}

/** What a test flow looks like once read back. */
export function expectedSeen(f: TestFlow): SeenFlow {
  return {table: 0, priority: f.priority, cookie: f.cookie, inPort: f.inPort, dst: f.dst, actions: `output:${f.outPort}`}
}

/** A dump-flows line (ovs-ofctl --no-names) as a SeenFlow. */
export function seenFromDump(d: DumpedFlow): SeenFlow {
  const fields = new Map<string, string | undefined>(d.match.split(',').map((kv) => {
    const [k, v] = kv.split('=')
    return [k!, v]
  }))
  const inPort = fields.get('in_port')
  return {
    table: d.table, priority: d.priority, cookie: d.cookie,
    inPort: inPort === undefined ? undefined : Number(inPort), dst: fields.get('nw_dst'), actions: d.actions,
  }
}

/** One flow of GET /stats/flow/<dpid> (Ryu format) as a SeenFlow. */
export function seenFromRyu(f: Record<string, unknown>): SeenFlow {
  const match = (f.match ?? {}) as Record<string, unknown>
  const actions = (f.actions ?? []) as unknown[]
  const dst = match.nw_dst ?? match.ipv4_dst
  return {
    table: Number(f.table_id), priority: Number(f.priority), cookie: BigInt(f.cookie as number | bigint),
    inPort: match.in_port === undefined ? undefined : Number(match.in_port),
    dst: dst === undefined ? undefined : String(dst),
    actions: actions.map((a) => String(a).replace(/^OUTPUT:/, 'output:')).join(','),
  }
}

/** The bridge's flows as ovs-ofctl dumps them, one seenLine each, sorted. */
export async function switchLines(lab: OvsLab, bridge: Bridge): Promise<string[]> {
  return (await lab.dumpFlows(bridge.name)).map((d) => seenLine(seenFromDump(d))).sort()
}

/** POST /stats/flowentry/<command>. */
export function postFlow(client: RestClient, command: string, body: unknown): Promise<HttpOutcome> {
  return client.request('POST', `/stats/flowentry/${command}`, body)
}

/** POSTs each body to /stats/flowentry/<command>, `concurrency` in flight; throws unless every answer is 200. */
export async function postAll(client: RestClient, command: string, bodies: readonly unknown[], concurrency = 8): Promise<HttpOutcome[]> {
  const out: HttpOutcome[] = new Array(bodies.length)
  let next = 0
  await Promise.all(Array.from({length: concurrency}, async () => {
    for (let i = next++; i < bodies.length; i = next++) out[i] = await client.request('POST', `/stats/flowentry/${command}`, bodies[i])
  }))
  const bad = out.map((o, i) => [o, i] as const).filter(([o]) => o.status !== 200)
  if (bad.length > 0) throw new Error(`${command}: ${bad.length} of ${bodies.length} not 200: ${bad.slice(0, 5).map(([o, i]) => `#${i} ${o.status || o.code} ${o.text}`).join('; ')}`)
  return out
}

// ---------------------------------------------------------------------------------------------
// /cluster
// ---------------------------------------------------------------------------------------------

export interface ClusterDevice {
  dpid: string
  switch_role: string | null
  term: number | null
  version: number
  flows: number
  mirrors?: Array<{inst_id: number, version: number | null, lag: number, late: boolean}>
  ready?: boolean
  queued?: number
  buffered?: number
  awaiting_snapshot?: boolean
}

export interface ClusterView {
  inst_id: number
  role: string
  term: number
  master: number | null
  flows: {role: string, term: number, live_slaves: number[], devices: ClusterDevice[]} | {error: string} | null
}

export async function clusterView(client: RestClient): Promise<ClusterView> {
  return client.json<ClusterView>('/cluster')
}

/** Per dpid: `term/version/flows`, the position of this instance's table (master) or mirror (slave). */
export async function tablePositions(client: RestClient, dpids: readonly string[]): Promise<Record<string, string>> {
  const view = await clusterView(client)
  const flows = view.flows
  if (!flows || 'error' in flows) throw new Error(`instance ${view.inst_id}: no flow status in /cluster (${JSON.stringify(flows)})`)
  const out: Record<string, string> = {}
  for (const dpid of dpids) {
    const d = flows.devices.find((x) => x.dpid === dpid)
    out[dpid] = d ? `${d.term}/${d.version}/${d.flows}` : 'absent'
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// A stream of requests with bounded concurrency
// ---------------------------------------------------------------------------------------------

export interface StreamOp {
  seq: number
  /** Which REST command (add, delete, delete_strict...). */
  command: string
  body: Record<string, unknown>
}

export interface OpRecord<O extends StreamOp = StreamOp> {
  op: O
  /** The instance (election id) whose REST API was asked. */
  via: number
  /** Epoch ms, as the instances log. */
  startedAt: number
  endedAt: number
  outcome: HttpOutcome
}

export interface StreamOptions<O extends StreamOp> {
  /** The next request to send, or undefined when there is none right now (more may come as answers arrive). */
  next(): O | undefined
  /** Whether the stream is over (no more will ever come once nothing is in flight). */
  finished(): boolean
  /** Where to send it: instance id and client. */
  route(op: O): {via: number, client: RestClient}
  concurrency: number
  /** Called with each answer as it comes (before the next request is taken). */
  onDone?(record: OpRecord<O>): void
  timeoutMs?: number
}

/**
 * Sends requests with at most `concurrency` in flight until `finished()` and nothing is in
 * flight. Never throws for a request's failure: every outcome is recorded.
 */
export async function runStream<O extends StreamOp>(options: StreamOptions<O>): Promise<Array<OpRecord<O>>> {
  const records: Array<OpRecord<O>> = []
  let inFlight = 0
  let wake: (() => void) | undefined
  const woken = () => new Promise<void>((resolve) => (wake = resolve))
  const launch = (op: O) => {
    const {via, client} = options.route(op)
    const startedAt = epochMs()
    inFlight++
    void client.request('POST', `/stats/flowentry/${op.command}`, op.body, options.timeoutMs).then((outcome) => {
      const record: OpRecord<O> = {op, via, startedAt, endedAt: epochMs(), outcome}
      records.push(record)
      inFlight--
      options.onDone?.(record)
      wake?.()
    })
  }
  for (;;) {
    while (inFlight < options.concurrency) {
      const op = options.next()
      if (!op) break
      launch(op)
    }
    if (inFlight === 0) {
      if (options.finished()) break
      throw new Error('stream stalled: nothing in flight, nothing to send, and not finished')
    }
    await woken()
  }
  return records
}

/** Deterministic pseudo-random numbers in [0, 1): the simulator's mulberry32. */
export {mulberry32 as seededRandom} from './sim-network.js'

/** How many of each outcome: `200`, `503`, `ECONNRESET`... */
export function tally(records: ReadonlyArray<{outcome: HttpOutcome}>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of records) {
    const k = r.outcome.status ? String(r.outcome.status) : (r.outcome.code ?? 'error')
    out[k] = (out[k] ?? 0) + 1
  }
  return out
}
