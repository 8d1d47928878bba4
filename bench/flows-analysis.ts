// Pure analysis for the flow benchmarks: mirror lag and per-request timelines from the bus tap's
// stamps (bench/flows-tap.ts) and the client's, CPU shares from /proc samples. No I/O.
import type {HttpResult} from './flows-http.js'
import type {TapRecords} from './flows-tap.js'
import {summarize, type Summary} from './stats.js'

export interface MirrorLag {
  /** Per slave: ack(slave, >= v) - delta(v), over every version v of the phase. */
  perSlave: Record<string, Summary>
  /** Both slaves' acks pooled. */
  pooled: Summary
  /** The later of the slaves' acks per version: what an acknowledged request waits for. */
  lastSlave: Summary
  /** Versions with no ack seen from some slave. */
  unacked: number
  /** The tap's publish->deliver hop meanwhile (by how much every lag figure is over-estimated). */
  probeHop: Summary
}

/**
 * Mirror lag of every delta of `term` seen by the tap: for each version, the first ack (arrival
 * order) from each slave with a version at least as high (acks are cumulative).
 */
export function mirrorLag(records: TapRecords, term: number, slaves: readonly number[]): MirrorLag {
  const deltas = records.deltas.filter((d) => d[1] === term).sort((a, b) => a[2] - b[2])
  const perSlave: Record<string, number[]> = {}
  const last = new Map<number, number>()
  let unacked = 0
  const missing = new Set<number>()
  for (const slave of slaves) {
    const acks = records.acks.filter((a) => a[1] === slave && a[2] === term).sort((a, b) => a[0] - b[0])
    const lags: number[] = []
    // Running maximum of acked versions in arrival order: the first arrival covering v.
    let i = 0
    let maxVersion = -1
    let maxAt = 0
    for (const [at, , version] of deltas) {
      while (maxVersion < version && i < acks.length) {
        if (acks[i]![3] > maxVersion) {
          maxVersion = acks[i]![3]
          maxAt = acks[i]![0]
        }
        i++
      }
      if (maxVersion < version) {
        missing.add(version)
        continue
      }
      const lag = maxAt - at
      lags.push(lag)
      last.set(version, Math.max(last.get(version) ?? Number.NEGATIVE_INFINITY, lag))
    }
    perSlave[String(slave)] = lags
  }
  unacked = missing.size
  for (const v of missing) last.delete(v)
  return {
    perSlave: Object.fromEntries(Object.entries(perSlave).map(([k, v]) => [k, summarize(v)])),
    pooled: summarize(Object.values(perSlave).flat()),
    lastSlave: summarize([...last.values()]),
    unacked,
    probeHop: summarize(records.probeMs),
  }
}

/** Where one request's time went, from the client's and the tap's stamps (ms, medians over requests). */
export interface Breakdown {
  /** Requests with every stamp found. */
  n: number
  /** Client send -> the slave's forwarded request on the bus (slave path only): HTTP in, parse, gateway. */
  toRpc?: Summary
  /** -> the delta on the bus: (bus hop to the master,) lane wait, batch at the switch, barrier, table apply. */
  toDelta: Summary
  /** delta -> the last slave's ack on the bus: the mirrors. */
  toAcks: Summary
  /** last ack -> the master's reply on the bus (slave path only): ack processing, resolve, reply. */
  toReply?: Summary
  /** -> the client has the 200: (bus hop back to the slave,) HTTP out. */
  toResponse: Summary
  /** Client send -> 200. */
  total: Summary
}

/**
 * Per request (identified by the version in x-flowkeeper-version): the stamps in order. The tap's
 * stamps lag their publish by about one probe hop, so segments that begin at a client stamp and end
 * at a tap stamp gain a hop and the next segment loses it; segments between two tap stamps do not.
 */
export function breakdown(results: readonly HttpResult[], records: TapRecords, term: number, slaves: readonly number[], viaSlave: boolean): Breakdown {
  const deltaAt = new Map<number, number>()
  for (const [at, t, v] of records.deltas) if (t === term && !deltaAt.has(v)) deltaAt.set(v, at)
  // last slave ack covering each version
  const versions = [...deltaAt.keys()].sort((a, b) => a - b)
  const lastAck = new Map<number, number>()
  for (const slave of slaves) {
    const acks = records.acks.filter((a) => a[1] === slave && a[2] === term).sort((a, b) => a[0] - b[0])
    let i = 0
    let maxV = -1
    let maxAt = 0
    for (const v of versions) {
      while (maxV < v && i < acks.length) {
        if (acks[i]![3] > maxV) {
          maxV = acks[i]![3]
          maxAt = acks[i]![0]
        }
        i++
      }
      if (maxV >= v) lastAck.set(v, Math.max(lastAck.get(v) ?? 0, maxAt))
      else lastAck.set(v, Number.NaN)
    }
  }
  const reqAt = new Map<string, number>()
  for (const [at, id] of records.rpcRequests) if (!reqAt.has(id)) reqAt.set(id, at)
  const replyByVersion = new Map<number, {at: number, id: string}>()
  for (const [at, id, v] of records.rpcReplies) if (v >= 0) replyByVersion.set(v, {at, id})

  const seg: Record<string, number[]> = {toRpc: [], toDelta: [], toAcks: [], toReply: [], toResponse: [], total: []}
  let n = 0
  for (const r of results) {
    if (r.status !== 200 || r.version === undefined) continue
    const d = deltaAt.get(r.version)
    const a = lastAck.get(r.version)
    if (d === undefined || a === undefined || Number.isNaN(a)) continue
    if (viaSlave) {
      const reply = replyByVersion.get(r.version)
      const req = reply ? reqAt.get(reply.id) : undefined
      if (!reply || req === undefined) continue
      seg.toRpc!.push(req - r.sentAt)
      seg.toDelta!.push(d - req)
      seg.toAcks!.push(a - d)
      seg.toReply!.push(reply.at - a)
      seg.toResponse!.push(r.doneAt - reply.at)
    } else {
      seg.toDelta!.push(d - r.sentAt)
      seg.toAcks!.push(a - d)
      seg.toResponse!.push(r.doneAt - a)
    }
    seg.total!.push(r.doneAt - r.sentAt)
    n++
  }
  const out: Breakdown = {n, toDelta: summarize(seg.toDelta!), toAcks: summarize(seg.toAcks!), toResponse: summarize(seg.toResponse!), total: summarize(seg.total!)}
  if (viaSlave) {
    out.toRpc = summarize(seg.toRpc!)
    out.toReply = summarize(seg.toReply!)
  }
  return out
}

/** Lag from polling /cluster: version v reached on the master at the first master sample >= v, on a slave likewise. */
export function pollLags(master: ReadonlyArray<[number, number]>, slave: ReadonlyArray<[number, number]>, fromVersion: number, toVersion: number): number[] {
  const firstAt = (samples: ReadonlyArray<[number, number]>) => {
    const out = new Map<number, number>()
    let v = fromVersion
    for (const [at, version] of [...samples].sort((a, b) => a[0] - b[0])) {
      while (v <= Math.min(version, toVersion)) out.set(v++, at)
    }
    return out
  }
  const m = firstAt(master)
  const s = firstAt(slave)
  const lags: number[] = []
  for (const [v, at] of s) {
    const mAt = m.get(v)
    if (mAt !== undefined) lags.push(at - mAt)
  }
  return lags
}
