// The REST client side of the flow benchmarks: the benchmark's flows (bench/flowmod-flows.ts) as
// Ryu ofctl_rest JSON bodies, one keep-alive HTTP agent per target, and a closed-loop driver that
// keeps a fixed number of requests in flight. node:http rather than fetch: fewer allocations per
// request, and the agent's socket pool is exactly the concurrency.
import {Agent, request} from 'node:http'
import {epochMs} from '../src/log.js'
import type {FlowSpec} from './flowmod-flows.js'

/**
 * POST /stats/flowentry/add body for one flow. Byte for byte the FLOW_MOD that toFlowMod() builds
 * (max_len 65535 as the codec's output() default; Ryu's default would be OFPCML_MAX = 65509). The
 * cookie is a bare 64-bit integer literal, as a Python client sends it.
 */
export function ryuAddBody(flow: FlowSpec, dpid: bigint): string {
  const match = flow.tcpDst === undefined
    ? `{"in_port":${flow.inPort},"eth_type":2048,"ipv4_dst":"${flow.ipv4Dst}"}`
    : `{"in_port":${flow.inPort},"eth_type":2048,"ip_proto":6,"ipv4_dst":"${flow.ipv4Dst}","tcp_dst":${flow.tcpDst}}`
  const actions = flow.outPorts.map((port) => `{"type":"OUTPUT","port":${port},"max_len":65535}`).join(',')
  return `{"dpid":${dpid},"cookie":${flow.cookie},"table_id":0,"priority":${flow.priority},"flags":0,"match":${match},"actions":[${actions}]}`
}

export interface HttpResult {
  status: number
  /** Epoch ms (this host's clock, comparable with the instances' log `ts`). */
  sentAt: number
  doneAt: number
  master?: number
  term?: number
  version?: number
  body: string
  /** Set when no HTTP answer came (connection refused, reset, timeout). */
  error?: string
}

export class RestTarget {
  readonly agent: Agent

  constructor(readonly port: number, maxSockets: number, readonly host = '127.0.0.1') {
    this.agent = new Agent({keepAlive: true, maxSockets, maxFreeSockets: maxSockets, scheduling: 'fifo'})
  }

  post(path: string, body: string, timeoutMs = 30_000): Promise<HttpResult> {
    return this.send('POST', path, body, timeoutMs)
  }

  send(method: string, path: string, body: string | undefined, timeoutMs = 30_000): Promise<HttpResult> {
    const sentAt = epochMs()
    return new Promise((resolve) => {
      let settled = false
      const finish = (r: Omit<HttpResult, 'sentAt' | 'doneAt'>) => {
        if (settled) return
        settled = true
        resolve({...r, sentAt, doneAt: epochMs()})
      }
      const headers: Record<string, string | number> = {}
      if (body !== undefined) {
        headers['content-type'] = 'application/json'
        headers['content-length'] = Buffer.byteLength(body)
      }
      const req = request({host: this.host, port: this.port, method, path, agent: this.agent, headers, timeout: timeoutMs}, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const h = res.headers
          const num = (v: string | string[] | undefined) => (typeof v === 'string' ? Number(v) : undefined)
          finish({
            status: res.statusCode ?? 0,
            master: num(h['x-flowkeeper-master']),
            term: num(h['x-flowkeeper-term']),
            version: num(h['x-flowkeeper-version']),
            body: chunks.length ? Buffer.concat(chunks).toString('utf8') : '',
          })
        })
        res.on('error', (e) => finish({status: 0, body: '', error: e.message}))
      })
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
      req.on('error', (e) => finish({status: 0, body: '', error: e.message}))
      req.end(body)
    })
  }

  close(): void {
    this.agent.destroy()
  }
}

export interface ClosedLoopResult {
  wallMs: number
  results: HttpResult[]
  failures: number
  firstFailure?: string
}

/**
 * Sends every body (POST path) with at most `concurrency` requests in flight: each finished request
 * starts the next. results[i] belongs to bodies[i].
 */
export async function closedLoop(target: RestTarget, path: string, bodies: readonly string[], concurrency: number): Promise<ClosedLoopResult> {
  const results = new Array<HttpResult>(bodies.length)
  let next = 0
  let failures = 0
  let firstFailure: string | undefined
  const t0 = performance.now()
  const worker = async () => {
    for (let i = next++; i < bodies.length; i = next++) {
      const r = await target.post(path, bodies[i]!)
      results[i] = r
      if (r.status !== 200) {
        failures++
        firstFailure ??= `${r.status} ${r.error ?? r.body.slice(0, 300)}`
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(concurrency, bodies.length)}, worker))
  return {wallMs: performance.now() - t0, results, failures, firstFailure}
}

/** POST /stats/flowentry/add body of a batch: the single bodies as one JSON array, in order. */
export function ryuBatchBody(bodies: readonly string[]): string {
  return `[${bodies.join(',')}]`
}

/** How many entries of a batch answer were acknowledged (status 200), and the first failure's words. */
export function batchAcknowledged(r: HttpResult): {ok: number, failed: number, firstFailure?: string} {
  if (r.status === 0 || !r.body.startsWith('{')) return {ok: 0, failed: Number.NaN, firstFailure: `${r.status} ${r.error ?? r.body.slice(0, 300)}`}
  let results: Array<{status: number, error?: string}>
  try {
    results = (JSON.parse(r.body) as {results?: Array<{status: number, error?: string}>}).results ?? []
  } catch {
    return {ok: 0, failed: Number.NaN, firstFailure: `${r.status} ${r.body.slice(0, 300)}`}
  }
  const bad = results.filter((x) => x.status !== 200)
  return {ok: results.length - bad.length, failed: bad.length, ...(bad[0] ? {firstFailure: `${bad[0].status} ${bad[0].error}`} : {})}
}
