// The election as a pure state machine: no timers, no I/O, no clock, no randomness of its own. The
// shell feeds it time (tick), messages (receive) and bus events, and carries out what it returns:
// messages to publish, role changes to act on, events to log.
//
// The seed is the reference algorithm (shared/reference/reference-election-LeaderElection.py):
// - start: a keep-alive and a find; the init timer then picks master (nobody known, or no master
//   known and our id the lowest) or slave. A master heard during init ends it early as slave.
// - a keep-alive every interval; a token check timeoutCheckDelayMs after each own keep-alive; a peer
//   whose bucket is empty at a check is dead. When the master dies, the lowest live id promotes.
// - a find makes everyone send a keep-alive at once and realign its keep-alive timer on it.
// - id collisions: no role -> regenerate; collide with a master -> regenerate; two slaves -> the
//   one with the higher queue name regenerates.
// What we add, each for a failure the reference cannot survive:
// - terms (see term.ts): two masters that see each other keep the higher term; any higher term
//   demotes a master; promotions exceed every known term and the switches' generation_id.
// - leave and queue deletion: a peer that says goodbye, or whose queue the broker deleted, is
//   forgotten at once.
// - self-fencing (see self-echo.ts): an instance whose own keep-alive does not come back within
//   selfFenceMs holds no role, and comes back through a new init once its echo does. Keep-alives
//   carry an optional seq, read only by their sender, to tell which came back.
// - a dead peer is never declared so before minDetectionMs of silence, whatever finds do to the
//   check timer: that floor is what makes self-fencing provably first (see timing.ts).
// - a tick that comes late (the event loop was blocked) sends at once but judges nobody until the
//   messages that arrived meanwhile have been read: our own stall must not look like the peers'.
import {
  ELECTION_PROTOCOL_VERSION, MAX_INST_ID, MAX_TERM, MIN_INST_ID, validateDomain,
  type ElectionMessage, type FindMessage, type KeepAliveMessage, type LeaveMessage, type Role,
} from './messages.js'
import {SelfEcho} from './self-echo.js'
import {nextTerm} from './term.js'
import {minDetectionMs, validateTiming, type ElectionTiming} from './timing.js'
import {TokenBucket} from './token-bucket.js'
import {SettingsError} from './errors.js'

export type {Role} from './messages.js'

export type RoleChangeReason =
  /** Init ended: nobody known, or no master known and our id the lowest (master); otherwise slave. */
  | 'init'
  /** A master answered during init: slave at once. */
  | 'init_found_master'
  /** The master's keep-alives stopped (its bucket ran dry): the lowest live id promotes. */
  | 'master_expired'
  /** The broker reported the master's queue deleted (its process died): the lowest live id promotes. */
  | 'master_crashed'
  /** The master said goodbye: the lowest live id promotes. */
  | 'master_left'
  /** No live instance holds master (it stepped down, or was never there): the lowest live id promotes. */
  | 'no_master'
  /** Two masters saw each other: the lower term steps down. */
  | 'two_masters'
  /** A master heard of a higher term than its own (a newer master existed): it steps down. */
  | 'higher_term'
  /** The broker connection is gone: no role without it. */
  | 'broker_lost'
  /** Our own keep-alives stopped coming back: we are cut off and hold no role. */
  | 'self_fence'
  /** A switch reported a higher generation_id than our term: we step down and do not fight it. */
  | 'switch_demoted'
  /** Two masters with the same inst_id and term: the one with the higher queue name steps down. */
  | 'id_collision'
  /** We leave (graceful stop). */
  | 'leave'

export interface RoleChange {
  from: Role
  to: Role
  /** Our term after the change (for a promotion: the new term). */
  term: number
  reason: RoleChangeReason
}

export type PeerExpiredWhy = 'missed_keep_alives' | 'queue_deleted' | 'left' | 'id_changed'
export type IdRegeneratedWhy = 'collision_while_unknown' | 'collision_with_master' | 'collision_between_slaves' | 'collision_between_masters'
export type FencedWhy = 'echo_late' | 'silent_too_long' | 'own_queue_deleted' | 'no_echo_at_init'

/** What happened, for a log line each; fields are snake_case like the rest of the log. */
export type ElectionEvent =
  | {type: 'peer_discovered', peer_id: number, role: Role, term: number, qid: string}
  | {type: 'peer_expired', peer_id: number, role: Role, why: PeerExpiredWhy, silent_ms: number}
  | {type: 'id_regenerated', old_id: number, new_id: number, why: IdRegeneratedWhy}
  | {type: 'fenced', why: FencedWhy, role: Role}
  | {type: 'rejoined'}
  | {type: 'judgment_deferred', late_ms: number}
  | {type: 'external_term', term: number}
  | {type: 'ignored', why: string, peer_id?: number}

export interface ElectionOutput {
  send: ElectionMessage[]
  roleChanges: RoleChange[]
  events: ElectionEvent[]
}

export interface PeerInfo {
  instId: number
  role: Role
  term: number
  qid: string
  tokens: number
  lastSeenMs: number
}

export interface ElectionOptions {
  instId: number
  domain: string
  timing: ElectionTiming
  /** A fresh inst_id in 1..10000, for id regeneration. */
  randomId: () => number
}

/**
 * A tick more than this late means the event loop was blocked: messages that arrived meanwhile may
 * not have been read yet, so judgments wait for the next turn of the loop.
 */
export const LATE_TICK_TOLERANCE_MS = 25

interface Peer {
  instId: number
  role: Role
  term: number
  qid: string
  bucket: TokenBucket
  lastSeenMs: number
  /** When we first saw it in its current role. */
  roleSinceMs: number
}

class Output implements ElectionOutput {
  send: ElectionMessage[] = []
  roleChanges: RoleChange[] = []
  events: ElectionEvent[] = []
}

export class Election {
  readonly domain: string
  readonly timing: ElectionTiming
  private readonly randomId: () => number
  private readonly detectionFloorMs: number

  private id: number
  private currentRole: Role = 'unknown'
  /** Highest term of the cluster we know of: peers' keep-alives and our own promotions. */
  private knownTerm = 0
  /** Highest generation_id a switch reported. */
  private externalTerm = 0
  /** Our queue; defined exactly while the bus is up and we take part. */
  private qid: string | undefined
  private readonly peerTable = new Map<number, Peer>()
  private readonly echo: SelfEcho
  /** Cut off (our echo is stale, or our queue is gone): no role until an echo brings us back. */
  private fenced = false

  /** Nominal time of the next periodic keep-alive (kept on its phase when a tick comes late). */
  private keepAliveAtMs: number | undefined
  private checkAtMs: number | undefined
  private initEndsAtMs: number | undefined
  /**
   * A promotion waiting for proof that we are connected right now: the keep-alive sent when we
   * decided must come back first. An instance cut off a moment ago cannot know it yet; this way it
   * never promotes on a view the broker no longer backs.
   */
  private probe: {sentMs: number, purpose: 'init' | RoleChangeReason} | undefined
  /** Judgments postponed by a late tick. */
  private judgeAtMs: number | undefined
  /** After a switch demoted us: no self-promotion before this (a newer master should show up first). */
  private noPromotionBeforeMs = -Infinity
  private lastSentMs: number | undefined
  private lastNowMs = -Infinity

  constructor(options: ElectionOptions) {
    const {instId, domain, timing, randomId} = options
    assertInstId(instId)
    const domainProblem = validateDomain(domain)
    if (domainProblem) throw new SettingsError([{setting: 'domain', message: domainProblem}])
    if (typeof randomId !== 'function') throw new TypeError('randomId must be a function')
    this.id = instId
    this.domain = domain
    this.timing = Object.freeze({...validateTiming(timing)})
    this.randomId = randomId
    this.detectionFloorMs = minDetectionMs(this.timing)
    this.echo = new SelfEcho(this.timing.selfFenceMs)
  }

  get role(): Role {
    return this.currentRole
  }

  /** For a master its own term; otherwise the highest term of the cluster it knows (0: none). */
  get term(): number {
    return this.knownTerm
  }

  get instId(): number {
    return this.id
  }

  /** Who we believe is master: ourselves, the live master peer (the highest term if several), or undefined. */
  get masterId(): number | undefined {
    if (this.currentRole === 'master') return this.id
    let best: Peer | undefined
    for (const peer of this.peerTable.values()) {
      if (peer.role !== 'master') continue
      if (!best || peer.term > best.term || (peer.term === best.term && peer.instId < best.instId)) best = peer
    }
    return best?.instId
  }

  peers(): PeerInfo[] {
    return [...this.peerTable.values()]
      .sort((a, b) => a.instId - b.instId)
      .map((p) => ({instId: p.instId, role: p.role, term: p.term, qid: p.qid, tokens: p.bucket.tokens, lastSeenMs: p.lastSeenMs}))
  }

  /** The bus is up with our queue `qid` (first connection or a reconnect): announce ourselves, start init. */
  start(nowMs: number, qid: string): ElectionOutput {
    const now = this.clock(nowMs)
    const out = new Output()
    if (typeof qid !== 'string' || qid.length === 0) throw new TypeError('start: qid must be a non-empty string')
    if (this.currentRole !== 'unknown') {
      // A start without busLost: the previous connection is gone all the same.
      this.qid = undefined
      this.setRole('unknown', 'broker_lost', now, out)
    }
    this.qid = qid
    this.peerTable.clear()
    this.fenced = false
    this.judgeAtMs = undefined
    this.echo.reset()
    this.join(now, out)
    return out
  }

  receive(message: ElectionMessage, nowMs: number): ElectionOutput {
    const now = this.clock(nowMs)
    const out = new Output()
    if (this.qid === undefined) return ignored(out, 'not_connected', message.inst_id)
    if (message.v !== ELECTION_PROTOCOL_VERSION || message.domain !== this.domain) return ignored(out, 'other_domain_or_version', message.inst_id)
    if (message.qid === this.qid) {
      // Our own message, echoed by the broker. The reference ignores it; we use keep-alives as proof
      // that the broker still carries what we send.
      if (message.msg === 'keep_alive') this.onOwnEcho(message, now, out)
      return out
    }
    switch (message.msg) {
      case 'find':
        this.onFind(now, out)
        break
      case 'keep_alive':
        this.onKeepAlive(message, now, out)
        break
      case 'leave':
        this.onLeave(message, now, out)
        break
    }
    return out
  }

  /** Call at (or after) nextDeadlineMs(). Early or extra calls do nothing; a late call catches up once. */
  tick(nowMs: number): ElectionOutput {
    const now = this.clock(nowMs)
    const out = new Output()
    if (this.qid === undefined) return out
    const dueAt = this.nextDeadlineMs()
    if (dueAt === undefined || dueAt > now) return out

    if (this.currentRole === 'master' && this.lastSentMs !== undefined && now - this.lastSentMs >= this.detectionFloorMs) {
      // We have been silent so long (a hang) that our peers may have elected a successor already:
      // step down before anything else, without waiting for the messages we have not read yet.
      this.fence(now, 'silent_too_long', out)
    }
    if (now - dueAt >= this.detectionFloorMs && !this.fenced) {
      // Frozen for a detection window: the cluster may have changed entirely, and what reached us
      // meanwhile may not be all there was. Ask everyone to speak up; a pending init starts over.
      if (this.currentRole === 'unknown') this.join(now, out)
      else out.send.push(this.findMessage())
    }

    const judging = this.judgeAtMs !== undefined ? now >= this.judgeAtMs : now - dueAt <= LATE_TICK_TOLERANCE_MS
    if (judging) {
      this.judgeAtMs = undefined
    } else if (this.judgeAtMs === undefined) {
      // Any 1 ms later is after the poll phase: the messages that queued up during the stall are read first.
      this.judgeAtMs = now + 1
      out.events.push({type: 'judgment_deferred', late_ms: now - dueAt})
    }

    let checked = false
    if (judging && this.checkAtMs !== undefined && this.checkAtMs <= now) {
      this.runCheck(now, out)
      checked = true
    }
    if (this.keepAliveAtMs !== undefined && this.keepAliveAtMs <= now) this.periodicKeepAlive(now, checked, out)
    if (judging && !checked && this.checkAtMs !== undefined && this.checkAtMs <= now) this.runCheck(now, out)
    if (judging) {
      if (this.initEndsAtMs !== undefined && this.initEndsAtMs <= now) this.endInit(now, out)
      const staleAt = this.echo.staleAtMs()
      if (!this.fenced && staleAt !== undefined && staleAt <= now) this.fence(now, 'echo_late', out)
    }
    return out
  }

  nextDeadlineMs(): number | undefined {
    if (this.qid === undefined) return undefined
    let next = Infinity
    const consider = (t: number | undefined) => {
      if (t !== undefined && t < next) next = t
    }
    consider(this.keepAliveAtMs)
    if (this.judgeAtMs !== undefined) {
      consider(this.judgeAtMs) // overdue judgments wait for it
    } else {
      consider(this.checkAtMs)
      consider(this.initEndsAtMs)
      if (!this.fenced) consider(this.echo.staleAtMs())
    }
    if (this.currentRole === 'master' && this.lastSentMs !== undefined) consider(this.lastSentMs + this.detectionFloorMs)
    return next === Infinity ? undefined : next
  }

  /** The broker reported a queue deleted: its owner died (or closed). Forget that peer at once. */
  peerQueueDeleted(qid: string, nowMs: number): ElectionOutput {
    const now = this.clock(nowMs)
    const out = new Output()
    if (this.qid === undefined) return ignored(out, 'not_connected')
    if (qid === this.qid) {
      // Nothing can reach us any more, our echo included.
      this.fence(now, 'own_queue_deleted', out)
      return out
    }
    const peer = [...this.peerTable.values()].find((p) => p.qid === qid)
    if (!peer) return ignored(out, 'queue_deleted_of_unknown_peer')
    this.forget(peer, 'queue_deleted', now, out)
    if (peer.role === 'master') this.maybePromote(now, 'master_crashed', out)
    return out
  }

  /** The broker connection is lost: hold no role and send nothing until start() again. */
  busLost(nowMs: number): ElectionOutput {
    const now = this.clock(nowMs)
    const out = new Output()
    this.disconnect()
    if (this.currentRole !== 'unknown') this.setRole('unknown', 'broker_lost', now, out)
    return out
  }

  /** Graceful stop: returns the leave message to publish; we hold no role afterwards. */
  leave(nowMs: number): ElectionOutput {
    const now = this.clock(nowMs)
    const out = new Output()
    if (this.qid !== undefined) {
      out.send.push({v: ELECTION_PROTOCOL_VERSION, msg: 'leave', domain: this.domain, inst_id: this.id, qid: this.qid, term: this.knownTerm} satisfies LeaveMessage)
    }
    this.disconnect()
    if (this.currentRole !== 'unknown') this.setRole('unknown', 'leave', now, out)
    return out
  }

  /**
   * A switch reported a generation_id (ROLE_REQUEST NOCHANGE, a role status, an OFPRRFC_STALE error).
   * Promotions will exceed it. A master whose term is lower steps down and, to never fight the switch,
   * does not promote itself again before a newer master had time to show up.
   */
  observeExternalTerm(term: number, nowMs: number): ElectionOutput {
    const now = this.clock(nowMs)
    const out = new Output()
    if (!Number.isInteger(term) || term < 0) return ignored(out, 'bad_external_term')
    const capped = Math.min(term, MAX_TERM)
    if (capped > this.externalTerm) {
      this.externalTerm = capped
      out.events.push({type: 'external_term', term: capped})
    }
    if (this.currentRole === 'master' && capped > this.knownTerm) {
      this.noPromotionBeforeMs = now + this.detectionFloorMs
      this.setRole('slave', 'switch_demoted', now, out)
    }
    return out
  }

  // ---- joining, keep-alives, checks ----

  /** Announce ourselves (keep-alive and find) and start init; also used to rejoin after fencing. */
  private join(now: number, out: Output): void {
    this.sendKeepAlive(now, out)
    this.keepAliveAtMs = now + this.timing.keepAliveIntervalMs
    this.checkAtMs = now + this.timing.timeoutCheckDelayMs
    out.send.push(this.findMessage())
    this.initEndsAtMs = now + this.timing.initMs
    this.probe = undefined
  }

  private findMessage(): FindMessage {
    return {v: ELECTION_PROTOCOL_VERSION, msg: 'find', domain: this.domain, inst_id: this.id, qid: this.qid!}
  }

  private sendKeepAlive(now: number, out: Output): void {
    if (this.qid === undefined) return
    out.send.push({
      v: ELECTION_PROTOCOL_VERSION, msg: 'keep_alive', domain: this.domain, inst_id: this.id,
      role: this.currentRole, qid: this.qid, term: this.knownTerm, seq: this.echo.sent(now),
    } satisfies KeepAliveMessage)
    this.lastSentMs = now
  }

  private periodicKeepAlive(now: number, checkedThisTick: boolean, out: Output): void {
    const interval = this.timing.keepAliveIntervalMs
    // Stay on the phase that finds aligned everyone on; after a stall, one keep-alive, not a burst.
    const nominal = this.keepAliveAtMs! + Math.floor((now - this.keepAliveAtMs!) / interval) * interval
    this.sendKeepAlive(now, out)
    this.keepAliveAtMs = nominal + interval
    const checkAt = nominal + this.timing.timeoutCheckDelayMs
    if (this.checkAtMs !== undefined) return // an overdue check, deferred to after the catch-up, counts for this interval
    if (checkAt <= now && checkedThisTick) return // late by more than the delay: one check per tick is enough
    this.checkAtMs = checkAt
  }

  private onFind(now: number, out: Output): void {
    // As the reference: answer at once and restart the keep-alive timer, which aligns everyone's
    // phase on the find. Unlike the reference, a pending check is never postponed: a stream of finds
    // (an instance restarting in a loop) must not stall failure detection.
    this.sendKeepAlive(now, out)
    this.keepAliveAtMs = now + this.timing.keepAliveIntervalMs
    this.checkAtMs = Math.min(this.checkAtMs ?? Infinity, now + this.timing.timeoutCheckDelayMs)
  }

  private runCheck(now: number, out: Output): void {
    this.checkAtMs = undefined
    let masterExpired = false
    for (const peer of [...this.peerTable.values()]) {
      if (peer.bucket.take()) continue
      // An empty bucket alone is not enough: the floor keeps detection provably slower than
      // self-fencing even when finds bring checks closer together.
      if (now - peer.lastSeenMs < this.detectionFloorMs) continue
      this.forget(peer, 'missed_keep_alives', now, out)
      if (peer.role === 'master') masterExpired = true
    }
    this.maybePromote(now, masterExpired ? 'master_expired' : 'no_master', out)
  }

  // ---- messages from peers ----

  private onOwnEcho(m: KeepAliveMessage, now: number, out: Output): void {
    if (!this.echo.echoed(m.seq)) {
      ignored(out, 'unexpected_echo', this.id)
      return
    }
    if (this.fenced) {
      // The broker carries our messages again: start over, as a new instance would.
      this.fenced = false
      this.echo.reset()
      out.events.push({type: 'rejoined'})
      this.join(now, out)
    } else if (this.probe && this.echo.confirmedSince(this.probe.sentMs)) {
      // Read late (we were stalled), the echo proves nothing about now, nor is our view current:
      // the same decision, taken afresh, sends a new probe.
      const {purpose, sentMs} = this.probe
      this.probe = undefined
      const timely = now - sentMs < this.timing.selfFenceMs
      if (purpose === 'init') this.endInit(now, out, timely)
      else this.maybePromote(now, purpose, out, timely)
    }
  }

  private onKeepAlive(m: KeepAliveMessage, now: number, out: Output): void {
    if (m.inst_id === this.id && this.onIdCollision(m, now, out) === 'skip') {
      this.learnTerm(m.term)
      return
    }
    this.record(m, now, out)
    const ourTerm = this.knownTerm
    this.learnTerm(m.term)
    if (this.currentRole === 'master') {
      if (m.role === 'master') {
        if (m.term > ourTerm || (m.term === ourTerm && m.inst_id < this.id)) this.setRole('slave', 'two_masters', now, out)
        else this.sendKeepAlive(now, out) // let the other master hear our higher term at once
      } else if (m.term > ourTerm) {
        this.setRole('slave', 'higher_term', now, out)
      }
    } else if (this.currentRole === 'unknown' && (this.initEndsAtMs !== undefined || this.probe?.purpose === 'init') && m.role === 'master') {
      this.initEndsAtMs = undefined
      this.probe = undefined
      this.setRole('slave', 'init_found_master', now, out)
    }
  }

  /** A keep-alive carries our own inst_id from another queue. 'skip': we keep our id and ignore it. */
  private onIdCollision(m: KeepAliveMessage, now: number, out: Output): 'skip' | 'continue' {
    const ours = this.currentRole
    if (ours === 'unknown') {
      this.regenerateId('collision_while_unknown', out)
      return 'continue'
    }
    if (m.role === 'master') {
      if (ours === 'slave') {
        this.regenerateId('collision_with_master', out)
        return 'continue'
      }
      // Two masters with one id: the higher term stays; with equal terms, the lower queue name.
      const tie = m.term === this.knownTerm
      if (m.term > this.knownTerm || (tie && m.qid < this.qid!)) {
        this.setRole('slave', tie ? 'id_collision' : 'two_masters', now, out)
        this.regenerateId('collision_between_masters', out)
        return 'continue'
      }
      this.sendKeepAlive(now, out)
      return 'skip'
    }
    if (ours === 'slave' && m.role === 'slave' && m.qid < this.qid!) {
      this.regenerateId('collision_between_slaves', out)
      return 'continue'
    }
    return 'skip' // the other one regenerates
  }

  private onLeave(m: LeaveMessage, now: number, out: Output): void {
    this.learnTerm(m.term)
    const peer = this.peerTable.get(m.inst_id)
    if (!peer || peer.qid !== m.qid) {
      ignored(out, 'leave_of_unknown_peer', m.inst_id)
      return
    }
    this.forget(peer, 'left', now, out)
    if (peer.role === 'master') this.maybePromote(now, 'master_left', out)
  }

  private record(m: KeepAliveMessage, now: number, out: Output): void {
    for (const peer of this.peerTable.values()) {
      // Same queue, other id: that peer regenerated its id. Forget the old one now rather than let
      // a ghost (possibly the lowest id) stand in the way until its bucket drains.
      if (peer.qid === m.qid && peer.instId !== m.inst_id) this.forget(peer, 'id_changed', now, out)
    }
    let peer = this.peerTable.get(m.inst_id)
    if (!peer) {
      peer = {
        instId: m.inst_id, role: m.role, term: m.term, qid: m.qid,
        bucket: new TokenBucket(this.timing.missTolerance), lastSeenMs: now, roleSinceMs: now,
      }
      this.peerTable.set(m.inst_id, peer)
      out.events.push({type: 'peer_discovered', peer_id: m.inst_id, role: m.role, term: m.term, qid: m.qid})
      return
    }
    if (peer.role !== m.role) peer.roleSinceMs = now
    peer.role = m.role
    peer.term = m.term
    peer.qid = m.qid
    peer.lastSeenMs = now
    peer.bucket.refill()
  }

  private forget(peer: Peer, why: PeerExpiredWhy, now: number, out: Output): void {
    this.peerTable.delete(peer.instId)
    out.events.push({type: 'peer_expired', peer_id: peer.instId, role: peer.role, why, silent_ms: now - peer.lastSeenMs})
  }

  private learnTerm(term: number): void {
    if (term > this.knownTerm) this.knownTerm = Math.min(term, MAX_TERM)
  }

  // ---- roles ----

  /** Init is over (or its probe came back: `confirmed`): pick a role, as the reference does. */
  private endInit(now: number, out: Output, confirmed = false): void {
    this.initEndsAtMs = undefined
    if (!this.echo.isFresh(now)) {
      // The broker has not shown us our own keep-alive: whatever we heard may be a partial view.
      this.fence(now, 'no_echo_at_init', out)
      return
    }
    const peers = [...this.peerTable.values()]
    if (peers.some((p) => p.role === 'master')) this.setRole('slave', 'init_found_master', now, out)
    else if (!peers.every((p) => p.instId > this.id)) this.setRole('slave', 'init', now, out)
    else if (confirmed) this.promote(now, 'init', out)
    else this.sendProbe(now, 'init', out)
  }

  /** After a check, a leave or a crash: the lowest live id promotes itself when no master is left. */
  private maybePromote(now: number, reason: RoleChangeReason, out: Output, confirmed = false): void {
    if (!this.mayPromote(now)) {
      if (this.probe?.purpose !== 'init') this.probe = undefined
      return
    }
    if (confirmed) this.promote(now, reason, out)
    else if (!this.probe) this.sendProbe(now, reason, out)
  }

  private mayPromote(now: number): boolean {
    if (this.currentRole !== 'slave' || now < this.noPromotionBeforeMs) return false
    if (!this.echo.isFresh(now)) return false // a slave cut from everyone must not elect itself
    const initAllowanceMs = this.timing.initMs + this.timing.keepAliveIntervalMs
    for (const peer of this.peerTable.values()) {
      if (peer.role === 'master') return false
      // An instance without a role may be in its init (it will pick its role itself); one that has
      // been without a role for longer is cut off or stuck and must not block the election.
      const candidate = peer.role === 'slave' || now - peer.roleSinceMs < initAllowanceMs
      // Strictly lower: an unresolved id collision must not promote both holders of the id.
      if (candidate && peer.instId <= this.id) return false
    }
    return true
  }

  private sendProbe(now: number, purpose: 'init' | RoleChangeReason, out: Output): void {
    this.probe = {sentMs: now, purpose}
    this.sendKeepAlive(now, out)
  }

  private promote(now: number, reason: RoleChangeReason, out: Output): void {
    this.knownTerm = nextTerm(Math.max(this.knownTerm, this.externalTerm), this.id)
    this.setRole('master', reason, now, out)
  }

  private fence(now: number, why: FencedWhy, out: Output): void {
    if (this.fenced) return
    this.fenced = true
    this.initEndsAtMs = undefined
    this.probe = undefined
    out.events.push({type: 'fenced', why, role: this.currentRole})
    if (this.currentRole !== 'unknown') this.setRole('unknown', 'self_fence', now, out)
  }

  /** Every role change is announced with a keep-alive at once, so peers need not wait an interval. */
  private setRole(to: Role, reason: RoleChangeReason, now: number, out: Output): void {
    if (to === this.currentRole) return
    out.roleChanges.push({from: this.currentRole, to, term: this.knownTerm, reason})
    this.currentRole = to
    this.sendKeepAlive(now, out)
  }

  private regenerateId(why: IdRegeneratedWhy, out: Output): void {
    const old = this.id
    let fresh: number | undefined
    for (let attempt = 0; attempt < 16 && fresh === undefined; attempt++) {
      const candidate = this.randomId()
      if (isInstId(candidate) && candidate !== old && !this.peerTable.has(candidate)) fresh = candidate
    }
    // A randomId that keeps failing must not leave us on the colliding id: take the next free one.
    for (let candidate = (old % MAX_INST_ID) + 1; fresh === undefined; candidate = (candidate % MAX_INST_ID) + 1) {
      if (candidate !== old && !this.peerTable.has(candidate)) fresh = candidate
    }
    this.id = fresh
    out.events.push({type: 'id_regenerated', old_id: old, new_id: fresh, why})
  }

  private disconnect(): void {
    this.qid = undefined
    this.peerTable.clear()
    this.fenced = false
    this.echo.reset()
    this.keepAliveAtMs = undefined
    this.checkAtMs = undefined
    this.initEndsAtMs = undefined
    this.probe = undefined
    this.judgeAtMs = undefined
    this.lastSentMs = undefined
  }

  private clock(nowMs: number): number {
    if (!Number.isFinite(nowMs)) throw new RangeError(`nowMs (${nowMs}) must be a finite number`)
    // A clock that steps back (it should be monotonic) is held at the last reading.
    if (nowMs < this.lastNowMs) return this.lastNowMs
    this.lastNowMs = nowMs
    return nowMs
  }
}

function ignored(out: Output, why: string, peerId?: number): Output {
  out.events.push(peerId === undefined ? {type: 'ignored', why} : {type: 'ignored', why, peer_id: peerId})
  return out
}

function isInstId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= MIN_INST_ID && value <= MAX_INST_ID
}

function assertInstId(value: unknown): asserts value is number {
  if (!isInstId(value)) throw new RangeError(`instId (${String(value)}) must be a whole number in ${MIN_INST_ID}..${MAX_INST_ID}`)
}
