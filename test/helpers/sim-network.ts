// A deterministic simulator for the election: instances (pure Election state machines) on a
// simulated topic-exchange broker and clock, with the faults a real cluster sees. Everything random
// comes from one seeded PRNG, so a seed replays a schedule exactly.
//
// What the broker model promises, as RabbitMQ does for an exclusive auto-ack queue: a message
// published while connected reaches every queue bound at that moment; a sender's messages reach its
// own queue in order and once. Between different senders and queues, faults may delay, drop,
// duplicate and so reorder messages. An instance cut from the broker neither sends nor receives.
// A frozen instance (hang, event-loop stall) does nothing; when it thaws, its overdue timer fires
// first, then it reads everything that arrived meanwhile, as Node does after a blocked event loop.
// One switch stands for the data plane: masters assert their term as OpenFlow generation_id, a
// stale one is refused, a newer one demotes the previous master, and a starting instance learns
// the switch's generation_id (the shell's ROLE_REQUEST NOCHANGE) a few ms after it starts.
import {Election, type ElectionOutput} from '../../src/election/election.js'
import {parseElectionMessage, type ElectionMessage, type Role} from '../../src/election/messages.js'
import type {ElectionTiming} from '../../src/election/timing.js'

/** mulberry32: a tiny, fast, well-mixed 32-bit PRNG. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class Rng {
  private readonly next01: () => number
  constructor(seed: number) {
    this.next01 = mulberry32(seed)
  }
  next(): number {
    return this.next01()
  }
  /** Integer in lo..hi inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next01() * (hi - lo + 1))
  }
  chance(p: number): boolean {
    return this.next01() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next01() * items.length)]
  }
}

/** How messages travel between the broker and the instances right now. */
export interface LinkModel {
  minDelayMs: number
  maxDelayMs: number
  dropP: number
  duplicateP: number
}

/** A disconnected client retries this often at most (so it is back this long after the broker is). */
export const RECONNECT_RETRY_MAX_MS = 50
/** The client notices a cut connection this long after it happened, at most. */
export const BUS_LOST_NOTICE_MAX_MS = 50

/** A switch answers a role request within this: assertion 1–10 ms, then its refusal or role status 1–5 ms. */
export const SWITCH_ANSWER_MAX_MS = 15

export const QUIET_LINK: LinkModel = {minDelayMs: 1, maxDelayMs: 15, dropP: 0, duplicateP: 0}

export interface RoleChangeRecord {
  atMs: number
  node: number
  instId: number
  from: Role
  to: Role
  term: number
  reason: string
}

export interface Violation {
  atMs: number
  what: string
}

/** Binary min-heap of timed events; ties keep insertion order. */
class EventQueue {
  private heap: Array<{at: number, seq: number, run: () => void}> = []
  private seq = 0

  push(at: number, run: () => void): void {
    const item = {at, seq: this.seq++, run}
    const h = this.heap
    h.push(item)
    let i = h.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(h[i], h[parent])) break
      ;[h[i], h[parent]] = [h[parent], h[i]]
      i = parent
    }
  }

  peekAt(): number | undefined {
    return this.heap[0]?.at
  }

  pop(): {at: number, run: () => void} | undefined {
    const h = this.heap
    if (h.length === 0) return undefined
    const top = h[0]
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < h.length && before(h[l], h[m])) m = l
        if (r < h.length && before(h[r], h[m])) m = r
        if (m === i) break
        ;[h[i], h[m]] = [h[m], h[i]]
        i = m
      }
    }
    return top
  }
}

function before(a: {at: number, seq: number}, b: {at: number, seq: number}): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

/** One process: an Election plus what the simulator knows about the process around it. */
export class SimNode {
  alive = true
  /** Bus connection up (as the process believes it) with queue `qid`. */
  connected = false
  qid = ''
  /** Cut from the broker: sends and receipts are lost. */
  cut = false
  frozenUntilMs = -Infinity
  /** What arrived while frozen, in order; run when it thaws. */
  readonly inbox: Array<() => void> = []
  /** Invalidates scheduled ticks when a newer deadline replaces them. */
  tickGeneration = 0

  constructor(readonly index: number, readonly election: Election) {}

  frozenAt(nowMs: number): boolean {
    return nowMs < this.frozenUntilMs
  }
}

export interface SimNetworkOptions {
  timing: ElectionTiming
  seed: number
  domain?: string
  /** Record a human-readable trace (slower; used to explain a failure). */
  trace?: boolean
  link?: LinkModel
  /** Whether RabbitMQ's event exchange reports deleted queues. */
  queueDeletedEvents?: boolean
}

export class SimNetwork {
  nowMs = 0
  readonly rng: Rng
  readonly nodes: SimNode[] = []
  readonly roleChanges: RoleChangeRecord[] = []
  readonly violations: Violation[] = []
  /** Same-term masters that share an inst_id (see checkTerms). */
  readonly idCollisionTies: Violation[] = []
  readonly traceLines: string[] = []
  link: LinkModel
  queueDeletedEvents: boolean
  readonly switchState = {generationId: 0, master: undefined as SimNode | undefined}
  private readonly events = new EventQueue()
  private readonly timing: ElectionTiming
  private readonly domain: string
  private readonly tracing: boolean
  private qidCounter = 0
  /** Per node: when the last message to its own queue lands (keeps its echo in order). */
  private readonly selfDeliveryMs = new Map<SimNode, number>()

  constructor(options: SimNetworkOptions) {
    this.timing = options.timing
    this.rng = new Rng(options.seed)
    this.domain = options.domain ?? 'sim'
    this.tracing = options.trace ?? false
    this.link = options.link ?? QUIET_LINK
    this.queueDeletedEvents = options.queueDeletedEvents ?? true
  }

  // ---- the clock ----

  at(atMs: number, run: () => void): void {
    this.events.push(Math.max(atMs, this.nowMs), run)
  }

  runUntil(endMs: number): void {
    for (;;) {
      const next = this.events.peekAt()
      if (next === undefined || next > endMs) break
      const event = this.events.pop()!
      this.nowMs = event.at
      event.run()
    }
    this.nowMs = Math.max(this.nowMs, endMs)
  }

  // ---- processes ----

  /** A new process with its own Election; it connects (start) at `startAtMs`. */
  addNode(instId: number, startAtMs = this.nowMs): SimNode {
    const election = new Election({
      instId, domain: this.domain, timing: this.timing,
      randomId: () => this.rng.int(1, 10000),
    })
    const node = new SimNode(this.nodes.length, election)
    this.nodes.push(node)
    this.at(startAtMs, () => {
      if (!node.alive) return
      this.connect(node)
      // The shell connects to its switches too and learns their generation_id (NOCHANGE).
      this.at(this.nowMs + this.rng.int(2, 20), () => this.onNode(node, () => {
        if (this.switchState.generationId > 0) this.apply(node, node.election.observeExternalTerm(this.switchState.generationId, this.nowMs))
      }))
    })
    return node
  }

  /** The bus comes up with a fresh queue: the election starts (again). */
  connect(node: SimNode): void {
    node.connected = true
    node.qid = `amq.gen-${++this.qidCounter}`
    this.selfDeliveryMs.delete(node)
    this.trace(node, `connected as ${node.qid}`)
    this.onNode(node, () => this.apply(node, node.election.start(this.nowMs, node.qid)))
  }

  /** The process dies (SIGKILL): its queue goes, and peers may hear of it a few ms later. */
  crash(node: SimNode): void {
    if (!node.alive) return
    this.trace(node, 'CRASH')
    node.alive = false
    if (this.switchState.master === node) this.switchState.master = undefined
    if (node.connected) this.deleteQueue(node)
    node.connected = false
  }

  /** A graceful stop (SIGTERM; a frozen process handles it when it thaws): leave, then exit. */
  stop(node: SimNode): void {
    this.onNode(node, () => {
      this.trace(node, 'STOP (leave)')
      this.apply(node, node.election.leave(this.nowMs))
      this.crash(node)
    })
  }

  /** The process is frozen (SIGSTOP, or a blocked event loop) for `durationMs`. */
  freeze(node: SimNode, durationMs: number): void {
    if (!node.alive) return
    const until = Math.max(node.frozenUntilMs, this.nowMs + durationMs)
    node.frozenUntilMs = until
    this.trace(node, `freeze ${durationMs} ms`)
    this.at(until, () => this.thaw(node, until))
  }

  /** Cut from the broker. `busLost`: the client notices (and reconnects when healed); otherwise silent. */
  cutFromBroker(node: SimNode, mode: 'silent' | 'bus_lost'): void {
    if (!node.alive || node.cut) return
    node.cut = true
    this.trace(node, `cut from broker (${mode})`)
    if (mode === 'bus_lost') this.at(this.nowMs + this.rng.int(0, BUS_LOST_NOTICE_MAX_MS), () => this.loseBus(node))
  }

  /** The broker gives up on a silent client (missed heartbeats): its queue goes, the client notices. */
  brokerDropsConnection(node: SimNode): void {
    if (!node.alive || !node.connected) return
    this.trace(node, 'broker closed the connection')
    this.deleteQueue(node)
    this.loseBus(node)
  }

  heal(node: SimNode): void {
    if (!node.alive || !node.cut) return
    node.cut = false
    this.trace(node, 'healed')
  }

  // ---- what the shell does with an election's output ----

  private apply(node: SimNode, out: ElectionOutput): void {
    if (!node.alive) return
    for (const message of out.send) this.publish(node, message)
    for (const change of out.roleChanges) {
      this.roleChanges.push({atMs: this.nowMs, node: node.index, instId: node.election.instId, ...change})
      this.trace(node, `role ${change.from} -> ${change.to} term ${change.term} (${change.reason})`)
      if (change.to === 'master') this.assertOnSwitch(node, change.term)
    }
    if (this.tracing) {
      for (const event of out.events) {
        if (event.type === 'judgment_deferred' || event.type === 'ignored') continue
        this.trace(node, JSON.stringify(event))
      }
    }
    if (out.roleChanges.length > 0) this.checkTerms()
    this.scheduleTick(node)
  }

  private scheduleTick(node: SimNode): void {
    const deadline = node.election.nextDeadlineMs()
    const generation = ++node.tickGeneration
    if (deadline === undefined) return
    this.at(deadline, () => {
      if (!node.alive || node.tickGeneration !== generation || node.frozenAt(this.nowMs)) return
      this.apply(node, node.election.tick(this.nowMs))
    })
  }

  /** Runs `action` now, or when the node thaws if it is frozen; never for a dead node. */
  private onNode(node: SimNode, action: () => void): void {
    if (!node.alive) return
    if (node.frozenAt(this.nowMs)) node.inbox.push(action)
    else action()
  }

  private thaw(node: SimNode, until: number): void {
    if (!node.alive || node.frozenUntilMs !== until) return
    // Node after a blocked loop: expired timers first, then the I/O that queued up.
    const deadline = node.election.nextDeadlineMs()
    if (deadline !== undefined && deadline <= this.nowMs) this.apply(node, node.election.tick(this.nowMs))
    while (node.inbox.length > 0 && node.alive && !node.frozenAt(this.nowMs)) node.inbox.shift()!()
    this.scheduleTick(node)
  }

  private loseBus(node: SimNode): void {
    if (!node.alive || !node.connected) return
    node.connected = false
    this.trace(node, 'bus lost')
    this.onNode(node, () => this.apply(node, node.election.busLost(this.nowMs)))
    this.reconnectLater(node)
  }

  /** The client's reconnect loop: tries every few tens of ms until the broker is reachable again. */
  private reconnectLater(node: SimNode): void {
    this.at(this.nowMs + this.rng.int(10, RECONNECT_RETRY_MAX_MS), () => {
      if (!node.alive || node.connected) return
      if (node.cut || node.frozenAt(this.nowMs)) this.reconnectLater(node)
      else this.connect(node)
    })
  }

  private deleteQueue(node: SimNode): void {
    const qid = node.qid
    if (!this.queueDeletedEvents) return
    for (const peer of this.nodes) {
      if (peer === node || !peer.alive) continue
      this.at(this.nowMs + this.rng.int(5, 15), () => {
        if (peer.connected && !peer.cut) this.onNode(peer, () => this.apply(peer, peer.election.peerQueueDeleted(qid, this.nowMs)))
      })
    }
  }

  // ---- the broker ----

  private publish(from: SimNode, message: ElectionMessage): void {
    if (!from.connected || from.cut) return
    // Through JSON and the real parser, as on the wire.
    const parsed = parseElectionMessage(JSON.parse(JSON.stringify(message)), this.domain)
    if (!parsed.ok) {
      this.violations.push({atMs: this.nowMs, what: `node ${from.index} sent a message its peers cannot parse (${parsed.reason})`})
      return
    }
    const link = this.link
    for (const to of this.nodes) {
      if (!to.alive || !to.connected) continue
      const self = to === from
      if (!self && this.rng.chance(link.dropP)) continue
      const copies = !self && this.rng.chance(link.duplicateP) ? 2 : 1
      for (let copy = 0; copy < copies; copy++) {
        let at = this.nowMs + link.minDelayMs + this.rng.next() * (link.maxDelayMs - link.minDelayMs)
        if (self) {
          at = Math.max(at, (this.selfDeliveryMs.get(to) ?? 0) + 0.001)
          this.selfDeliveryMs.set(to, at)
        }
        const qid = to.qid
        this.at(at, () => {
          // The queue it was routed to must still be there, and the consumer reachable.
          if (!to.alive || !to.connected || to.qid !== qid || to.cut) return
          this.onNode(to, () => this.apply(to, to.election.receive(parsed.message, this.nowMs)))
        })
      }
    }
  }

  // ---- the switch ----

  private assertOnSwitch(node: SimNode, term: number): void {
    this.at(this.nowMs + this.rng.int(1, 10), () => this.onNode(node, () => {
      if (node.election.role !== 'master' || node.election.term !== term) return
      const sw = this.switchState
      if (term < sw.generationId) {
        // OFPRRFC_STALE: the shell reports the switch's generation_id.
        const current = sw.generationId
        this.at(this.nowMs + this.rng.int(1, 5), () => this.onNode(node, () => this.apply(node, node.election.observeExternalTerm(current, this.nowMs))))
        return
      }
      const previous = sw.master
      sw.generationId = term
      sw.master = node
      this.trace(node, `switch: master with generation_id ${term}`)
      if (previous && previous !== node && previous.alive) {
        // A role-status message demotes the previous master.
        this.at(this.nowMs + this.rng.int(1, 5), () => this.onNode(previous, () => this.apply(previous, previous.election.observeExternalTerm(term, this.nowMs))))
      }
    }))
  }

  // ---- invariants ----

  /**
   * Never two masters holding the same term at the same time. Terms carry the promoter's inst_id, so
   * for distinct ids this is structural. Two instances that share an inst_id (a collision the
   * id-collision rules have not resolved yet, because they could not hear each other) can tie: that
   * is counted apart; it must be over by the time the cluster settles (see sim-schedule.ts).
   */
  private checkTerms(): void {
    const seen = new Map<number, SimNode>()
    for (const node of this.nodes) {
      if (!node.alive || node.election.role !== 'master') continue
      const other = seen.get(node.election.term)
      if (other) {
        const what = `two masters with term ${node.election.term}: node ${other.index} (id ${other.election.instId}) and node ${node.index} (id ${node.election.instId})`
        if (other.election.instId === node.election.instId) this.idCollisionTies.push({atMs: this.nowMs, what})
        else this.violations.push({atMs: this.nowMs, what})
      }
      seen.set(node.election.term, node)
    }
  }

  /** Exactly one live master, every other live instance a slave that names it; or why not. */
  agreement(): {ok: true, master: SimNode} | {ok: false, why: string} {
    const live = this.nodes.filter((n) => n.alive)
    const masters = live.filter((n) => n.election.role === 'master')
    if (masters.length !== 1) return {ok: false, why: `${masters.length} masters (${masters.map((m) => `node ${m.index}`).join(', ')})`}
    const master = masters[0]
    for (const node of live) {
      if (node === master) continue
      if (node.election.role !== 'slave') return {ok: false, why: `node ${node.index} is ${node.election.role}`}
      if (node.election.masterId !== master.election.instId) {
        return {ok: false, why: `node ${node.index} believes ${node.election.masterId} is master, not ${master.election.instId}`}
      }
    }
    return {ok: true, master}
  }

  trace(node: SimNode | undefined, what: string): void {
    if (!this.tracing) return
    const who = node ? `node ${node.index} (id ${node.election.instId}, ${node.election.role}, term ${node.election.term})` : 'sim'
    this.traceLines.push(`${this.nowMs.toFixed(1).padStart(9)} ms  ${who}: ${what}`)
  }
}
