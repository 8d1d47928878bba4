// The one door flow requests go through on every instance. On the master it calls the local flow
// service; on a slave it forwards the request to the master over the bus (flow-rpc.ts) and returns
// the master's answer, or the master's typed error re-created, as its own; with no master known it
// fails at once with a NoMasterError that says why. It also serves the requests other instances
// forward to it while it is master.
//
// A master change while a forwarded request is in flight (the master crashed, was deposed, or our
// own broker connection dropped and with it the reply queue): the first attempt's outcome is
// unknown, and its late answer, if any, is ignored. The gateway then waits (within the caller's
// timeout) for the next master and sends the request once more to it, or runs it locally if this
// instance became master, provided that replaying the flow-mod cannot change its meaning: every
// flow-mod except an ADD with CHECK_OVERLAP (which would report an overlap with itself if the first
// attempt was applied after all). Otherwise, or when no new master appears in time, the request
// fails with MasterChangedError: 503, retriable, "may or may not have been applied". A master that
// answers 'not master' did not act on the request, so that request is always sent on to the next one.
//
// Batches (programBatch): on the master, every item goes to the local flow service in one loop, so
// they share one turn of the event loop (one switch batch, one barrier per switch). From a slave,
// the whole batch goes as one batch RPC (split into several, in order, only when its JSON would not
// fit one bus message), answered with one outcome per item. A master change mid-batch is handled as
// for a single request, item by item: items that are safe to replay go on to the next master, the
// others fail with MasterChangedError.
import {randomBytes, randomUUID} from 'node:crypto'
import type {Bus} from '../bus/types.js'
import {DEFAULT_MAX_MESSAGE_BYTES} from '../bus/types.js'
import {RateLimitedWarning} from '../controller/rate-limited-warning.js'
import type {Role} from '../election/messages.js'
import {FlowRequestError} from '../flows/ofctl-rest.js'
import {
  FlowError, NoMasterError, ProgramTimeoutError, programAll,
  type FlowProgrammer, type ProgramItem, type ProgramOptions, type ProgramOutcome, type ProgramResult,
} from '../flows/programmer.js'
import type {Logger} from '../log.js'
import {OFP, type FlowModMessage} from '../openflow/codec.js'
import {
  RemoteInternalError, batchReplyToJson, batchRequestText, errorFromRpc, errorToRpc, parseFlowRpcMessage, replyToJson,
  ENVELOPE_BYTES, batchEntryToJson, requestToJson, rpcReplyKey, rpcRequestKey, splitBatch,
  type FlowRpcBatchReply, type FlowRpcBatchRequest, type FlowRpcError, type FlowRpcOutcome, type FlowRpcReply, type FlowRpcRequest,
} from './flow-rpc.js'

/** What the gateway needs to know of the election, read at each decision. */
export interface GatewayRole {
  role: Role
  /** The current master's term (a master's own; on a slave the master peer's). */
  term: number
  /** The current master's election id; undefined while there is none. */
  masterId: number | undefined
}

/** The part of the Election a gateway reads (src/election/election.ts satisfies it). */
export interface ElectionView {
  readonly role: Role
  readonly term: number
  readonly masterId: number | undefined
  peers(): Array<{instId: number, role: Role, term: number}>
}

/** GatewayRole from the election: the term is the master's own, not the highest one heard of. */
export function roleFromElection(election: ElectionView): GatewayRole {
  const role = election.role
  const masterId = election.masterId
  if (role === 'master' || masterId === undefined) return {role, term: election.term, masterId}
  const peer = election.peers().find((p) => p.instId === masterId)
  return {role, term: peer?.term ?? election.term, masterId}
}

export interface FlowGatewayOptions {
  bus: Bus
  domain: string
  /** This instance's election id (a function: the election may regenerate it after a collision). */
  instId: number | (() => number)
  getRole(): GatewayRole
  /** The master's flow service; settable later with setLocal() (e.g. once it is created). */
  local?: FlowProgrammer
  logger: Logger
  /** A request's timeout when the caller gives none. Default 5000 ms. */
  defaultTimeoutMs?: number
  /** Of a forwarded request's timeout, what is kept back for the bus round trip: the master gets the rest. Default 200 ms. */
  replyMarginMs?: number
  /** How often in-flight requests are checked for a master change. Default 50 ms. */
  watchIntervalMs?: number
  /** Monotonic clock in ms. */
  nowMs?: () => number
  /**
   * The bus's largest message (bytes of JSON): a batch is split into RPCs that fit it. Default: the
   * bus's own limit when it carries one (AmqpBus and InMemoryBus do: 4 MiB on the instances' data
   * bus), else DEFAULT_MAX_MESSAGE_BYTES. A single request stays refused above
   * DEFAULT_MAX_MESSAGE_BYTES (or this, if smaller), as it always was.
   */
  maxMessageBytes?: number
}

/**
 * The master this request was sent to was replaced (or this instance lost the broker) before it
 * answered, and the request could not be sent on. Whether it was applied is unknown unless the
 * message says otherwise. REST: 503, like NoMasterError; retriable.
 */
export class MasterChangedError extends FlowError {
  override readonly name = 'MasterChangedError'
  readonly status = 503
  readonly retriable = true
}

export interface FlowGatewayStats {
  /** Requests run by the local flow service on behalf of this instance's own callers. */
  local: number
  /** Requests sent to the master (retries counted again). */
  forwarded: number
  /** Requests sent on to a new master after a master change. */
  resent: number
  /** Requests other instances forwarded to us that we served (or refused as not master). */
  served: number
  /** Batch RPC messages sent to the master (each carries many of the requests counted in `forwarded`). */
  forwardedBatches: number
  /** Single requests that went to the master in a batch RPC with others of the same turn (counted in `forwarded` too). */
  coalesced: number
  /** Batch RPC messages served (their entries are counted in `served`). */
  servedBatches: number
  /** Replies whose correlation id is not (or no longer) ours: late, duplicated or foreign; ignored. */
  unknownReplies: number
  /** Messages dropped unread, by reason. */
  dropped: Record<string, number>
}

/** At most this many sends of one request (the first included). */
const MAX_ATTEMPTS = 3

interface Target {
  masterId: number
  term: number
}

/**
 * One forwarded request, or one RPC's worth of a batch. 'sent': an attempt is with `target` under
 * correlation id `id`; 'waiting': the last target was given up on and it waits for the next master;
 * 'local': this instance became master and its own flow service runs it; 'done': settled.
 */
interface Pending {
  state: 'sent' | 'waiting' | 'local' | 'done'
  id: string
  /** Sent as a batch RPC (programBatch) or a single one (program). */
  batch: boolean
  items: ProgramItem[]
  /** batch: the items as written on the wire, by index (kept for resends). */
  encoded: string[] | undefined
  /** Per item, its outcome once known: a replay may settle some items before the others. */
  outcomes: Array<ProgramOutcome | undefined>
  /** Indices of the items not yet settled, in order: what the next attempt carries. */
  open: number[]
  timeoutMs: number
  deadline: number
  target: Target | undefined
  /** The master last given up on, and whether the election has been without a master since. */
  gaveUpOn: Target | undefined
  sawNoMaster: boolean
  attempts: number
  /** Whether an attempt may have been applied (it reached a master that never answered). */
  outcomeUnknown: boolean
  timer: NodeJS.Timeout | undefined
  /** Called once, with every item's outcome. */
  done(outcomes: ProgramOutcome[]): void
}

/** Single requests for one master, with one timeout, gathered to go as one RPC. */
interface Coalesced {
  target: Target
  timeoutMs: number
  /** With each entry's JSON text as a batch carries it, written when the request came in. */
  items: Array<ProgramItem & {text: string}>
  /** Per item: called once with its outcome. */
  done: Array<(outcome: ProgramOutcome) => void>
}

function positiveMs(value: number | undefined, fallback: number, what: string): number {
  const v = value ?? fallback
  if (!Number.isFinite(v) || v <= 0) throw new RangeError(`${what} must be a positive number of milliseconds, got ${value}`)
  return v
}

/** Whether sending the flow-mod again, after a first attempt of unknown outcome, means the same thing. */
export function replaySafe(fm: FlowModMessage): boolean {
  return !(fm.command === OFP.OFPFC_ADD && (fm.flags & OFP.OFPFF_CHECK_OVERLAP) !== 0)
}

export class FlowGateway implements FlowProgrammer {
  /** This gateway's name in reply routing keys: random, so it survives instance id changes and is nobody else's. */
  readonly node = randomBytes(8).toString('hex')
  readonly stats: FlowGatewayStats = {local: 0, forwarded: 0, resent: 0, served: 0, forwardedBatches: 0, coalesced: 0, servedBatches: 0, unknownReplies: 0, dropped: {}}
  private readonly bus: Bus
  private readonly domain: string
  private readonly log: Logger
  private readonly nowMs: () => number
  private readonly defaultTimeoutMs: number
  private readonly replyMarginMs: number
  private readonly watchIntervalMs: number
  private readonly maxMessageBytes: number
  private readonly droppedWarning: RateLimitedWarning
  /** Every request not yet settled. */
  private readonly live = new Set<Pending>()
  /** Single requests of this turn of the event loop, not sent yet (see coalesce). */
  private coalescing: Coalesced | undefined
  /** Requests in state 'sent', by the correlation id of their current attempt. */
  private readonly byId = new Map<string, Pending>()
  private readonly subscribedIds = new Set<number>()
  private local: FlowProgrammer | undefined
  private watchTimer: NodeJS.Timeout | undefined
  private started = false
  private stopped = false

  constructor(private readonly options: FlowGatewayOptions) {
    this.bus = options.bus
    this.domain = options.domain
    this.log = options.logger
    this.local = options.local
    this.nowMs = options.nowMs ?? (() => performance.now())
    this.defaultTimeoutMs = positiveMs(options.defaultTimeoutMs, 5000, 'defaultTimeoutMs')
    this.replyMarginMs = positiveMs(options.replyMarginMs, 200, 'replyMarginMs')
    this.watchIntervalMs = positiveMs(options.watchIntervalMs, 50, 'watchIntervalMs')
    this.maxMessageBytes = options.maxMessageBytes ?? options.bus.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    if (!Number.isInteger(this.maxMessageBytes) || this.maxMessageBytes < 4096) {
      throw new RangeError(`maxMessageBytes must be an integer of at least 4096 bytes, got ${options.maxMessageBytes}`)
    }
    this.droppedWarning = new RateLimitedWarning(this.log, 1000)
  }

  private get instId(): number {
    const id = this.options.instId
    return typeof id === 'function' ? id() : id
  }

  /** The flow service of this instance while it is master (undefined: none; requests to us then fail with 503). */
  setLocal(local: FlowProgrammer | undefined): void {
    this.local = local
  }

  /**
   * Subscribes to this gateway's reply key and its instance's request key. Call before the bus
   * starts (the election driver starts it) so the bindings are in place from the first connection.
   */
  start(): void {
    if (this.started || this.stopped) return
    this.started = true
    this.bus.subscribe(rpcReplyKey(this.domain, this.node), (body) => this.onMessage(body, 'reply'))
    this.ensureRequestSubscription()
    this.watchTimer = setInterval(() => this.watch(), this.watchIntervalMs)
    this.watchTimer.unref?.()
  }

  /** Stops serving and fails every request still in flight (NoMasterError). Idempotent; does not close the bus. */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.watchTimer)
    const unsent = this.coalescing
    this.coalescing = undefined
    for (const done of unsent?.done ?? []) done(new NoMasterError(`instance ${this.instId} is stopping: the request was not forwarded`))
    for (const p of [...this.live]) {
      this.settle(p, new NoMasterError(`instance ${this.instId} is stopping: the forwarded request was abandoned (it may or may not have been applied)`))
    }
  }

  /** Re-examines in-flight requests now (e.g. on a role change) instead of at the next watch tick. */
  checkMaster(): void {
    this.watch()
  }

  /** Forwarded requests not yet answered. */
  get inFlight(): number {
    return this.live.size
  }

  async program(dpid: bigint, flowMod: FlowModMessage, options: ProgramOptions = {}): Promise<ProgramResult> {
    const timeoutMs = positiveMs(options.timeoutMs, this.defaultTimeoutMs, 'timeoutMs')
    if (this.stopped) throw new NoMasterError(`instance ${this.instId} is stopping`)
    const role = this.options.getRole()
    if (role.role === 'master') return this.runLocally(dpid, flowMod, timeoutMs)
    const target = this.masterOf(role)
    if (!target) throw new NoMasterError(this.whyNoMaster(role))
    if (!this.started) throw new NoMasterError(`instance ${this.instId} cannot forward to master ${target.masterId}: its flow gateway is not started`)
    // The entry as a batch carries it, written once: its size decides here, and a batch of the
    // turn's requests (coalesce) splices the same text in. A lone request's RPC is the same entry
    // in an envelope of at most ENVELOPE_BYTES.
    const text = JSON.stringify(batchEntryToJson({dpid, flowMod}))
    const bytes = Buffer.byteLength(text) + ENVELOPE_BYTES
    const limit = Math.min(DEFAULT_MAX_MESSAGE_BYTES, this.maxMessageBytes)
    if (bytes > limit) {
      throw new FlowRequestError('flow', `too large to forward to master ${target.masterId} (about ${bytes} bytes of JSON, at most ${limit})`)
    }
    return new Promise<ProgramResult>((resolve, reject) => {
      this.coalesce(target, timeoutMs, {dpid, flowMod, text}, (outcome) => {
        if (outcome instanceof Error) reject(outcome)
        else resolve(outcome)
      })
    })
  }

  /**
   * Collects the single requests for one master made in one turn of the event loop; at the end of
   * the turn they go as one RPC (a batch RPC when there are several, as programBatch sends them).
   * Why: under load a slave's REST server parses many requests per turn, and one bus message each
   * way per request costs the broker and both instances far more than the request itself. Each
   * request keeps its own outcome, as with a batch: nothing about one depends on the others.
   */
  private coalesce(target: Target, timeoutMs: number, item: ProgramItem & {text: string}, done: (outcome: ProgramOutcome) => void): void {
    let group = this.coalescing
    if (group && (group.target.masterId !== target.masterId || group.target.term !== target.term || group.timeoutMs !== timeoutMs)) {
      this.flushCoalesced()
      group = undefined
    }
    if (!group) {
      const opened: Coalesced = {target, timeoutMs, items: [], done: []}
      this.coalescing = group = opened
      setImmediate(() => { if (this.coalescing === opened) this.flushCoalesced() })
    }
    group.items.push(item)
    group.done.push(done)
  }

  private flushCoalesced(): void {
    const group = this.coalescing
    this.coalescing = undefined
    if (!group) return
    const {items, done, target, timeoutMs} = group
    if (items.length === 1) {
      this.forward(items, undefined, timeoutMs, target, ([outcome]) => done[0]!(outcome!))
      return
    }
    this.stats.coalesced += items.length
    void this.forwardBatch(items, timeoutMs, target, (index, outcome) => done[index]!(outcome))
  }

  /**
   * Applies every item, in order, as one submission: on the master, the local flow service gets
   * them all in one turn of the event loop; on a slave they go to the master as one batch RPC (or
   * as few as the bus's message size allows, in order). Resolves with one outcome per item, in
   * order: its ProgramResult or the typed error program() would have rejected with. Never rejects;
   * with no master, every item fails at once with the same NoMasterError.
   */
  async programBatch(items: readonly ProgramItem[], options: ProgramOptions = {}): Promise<ProgramOutcome[]> {
    const timeoutMs = positiveMs(options.timeoutMs, this.defaultTimeoutMs, 'timeoutMs')
    if (items.length === 0) return []
    const all = (error: Error) => items.map(() => error)
    if (this.stopped) return all(new NoMasterError(`instance ${this.instId} is stopping`))
    const role = this.options.getRole()
    if (role.role === 'master') return this.runBatchLocally(items, timeoutMs)
    const target = this.masterOf(role)
    if (!target) return all(new NoMasterError(this.whyNoMaster(role)))
    if (!this.started) return all(new NoMasterError(`instance ${this.instId} cannot forward to master ${target.masterId}: its flow gateway is not started`))
    const outcomes: Array<ProgramOutcome | undefined> = new Array(items.length)
    await this.forwardBatch(items, timeoutMs, target, (index, outcome) => { outcomes[index] = outcome })
    return outcomes as ProgramOutcome[]
  }

  /**
   * Forwards `items` to `target` as batch RPCs, as few as the bus's message size allows, every one
   * sent now, in order, before any answer can come back; `settle` gets each item's outcome once.
   * Resolves when every item is settled.
   */
  private forwardBatch(items: readonly ProgramItem[], timeoutMs: number, target: Target, settle: (index: number, outcome: ProgramOutcome) => void): Promise<void> {
    const split = splitBatch(items, this.maxMessageBytes)
    for (const i of split.tooLarge) {
      settle(i, new FlowRequestError('flow', `too large to forward to master ${target.masterId} (at most ${this.maxMessageBytes} bytes of JSON in one bus message)`))
    }
    return Promise.all(split.chunks.map((chunk) => new Promise<void>((resolve) => {
      this.forward(chunk.map((i) => items[i]!), chunk.map((i) => split.encoded[i]!), timeoutMs, target, (chunkOutcomes) => {
        chunk.forEach((index, k) => settle(index, chunkOutcomes[k]!))
        resolve()
      })
    }))).then(() => undefined)
  }

  // ---- the requester's side ----

  /** Starts forwarding `items` to `target` as one request (batch: `encoded` given). */
  private forward(items: ProgramItem[], encoded: string[] | undefined, timeoutMs: number, target: Target, done: (outcomes: ProgramOutcome[]) => void): void {
    const p: Pending = {
      state: 'waiting', id: '', batch: encoded !== undefined, items, encoded, outcomes: items.map(() => undefined), open: items.map((_, i) => i),
      timeoutMs, deadline: this.nowMs() + timeoutMs, target: undefined, gaveUpOn: undefined, sawNoMaster: false, attempts: 0, outcomeUnknown: false,
      timer: undefined, done,
    }
    p.timer = setTimeout(() => this.onTimeout(p), timeoutMs)
    this.live.add(p)
    this.send(p, target)
  }

  /** The local flow service gets every item in one loop (one turn); every outcome comes back. */
  private runBatchLocally(items: readonly ProgramItem[], timeoutMs: number): Promise<ProgramOutcome[]> {
    if (!this.local) {
      const error = new NoMasterError(`instance ${this.instId} is master of domain ${this.domain} but its flow service is not running yet`)
      return Promise.resolve(items.map(() => error))
    }
    this.stats.local += items.length
    return programAll(this.local, items, {timeoutMs})
  }

  private runLocally(dpid: bigint, flowMod: FlowModMessage, timeoutMs: number): Promise<ProgramResult> {
    if (!this.local) {
      return Promise.reject(new NoMasterError(`instance ${this.instId} is master of domain ${this.domain} but its flow service is not running yet`))
    }
    this.stats.local++
    return this.local.program(dpid, flowMod, {timeoutMs})
  }

  private masterOf(role: GatewayRole): Target | undefined {
    if (role.role === 'master') return {masterId: this.instId, term: role.term}
    if (role.masterId === undefined || role.masterId === this.instId) return undefined
    return {masterId: role.masterId, term: role.term}
  }

  private whyNoMaster(role: GatewayRole): string {
    const head = `no master in domain ${this.domain}`
    if (!this.bus.connected) return `${head}: instance ${this.instId} is cut off from the broker (reconnecting)`
    if (role.role === 'unknown') return `${head}: election in progress (instance ${this.instId} has not chosen its role yet)`
    return `${head}: the master was lost and no new one has been elected yet`
  }

  /** Sends the request to `target`, or runs it locally if that is this instance (it took over meanwhile). */
  private send(p: Pending, target: Target): void {
    p.attempts++
    if (target.masterId === this.instId) {
      p.state = 'local'
      p.target = undefined
      const remaining = Math.max(1, Math.round(p.deadline - this.nowMs()))
      const open = p.open.map((i) => p.items[i]!)
      if (!p.batch) {
        this.runLocally(open[0]!.dpid, open[0]!.flowMod, remaining).then((result) => this.settle(p, result), (error: Error) => this.settle(p, error))
      } else {
        void this.runBatchLocally(open, remaining).then((outcomes) => this.settleEach(p, outcomes))
      }
      return
    }
    p.id = randomUUID()
    const remaining = p.deadline - this.nowMs()
    // The master gets the caller's time minus a margin for the reply's way back (and at least half of it).
    const masterMs = Math.max(1, Math.round(Math.max(remaining / 2, remaining - this.replyMarginMs)))
    const envelope = {domain: this.domain, id: p.id, from: this.node, fromInst: this.instId, to: target.masterId, term: target.term, timeoutMs: masterMs}
    const body = p.batch
      ? batchRequestText(envelope, p.open.map((i) => p.encoded![i]!))
      : requestToJson({...envelope, dpid: p.items[0]!.dpid, flowMod: p.items[0]!.flowMod})
    const sent = this.bus.publish(rpcRequestKey(this.domain, target.masterId), body)
    if (!sent) {
      // Not sent, so not applied by this attempt.
      if (p.attempts === 1) {
        this.settle(p, new NoMasterError(`cannot forward to master ${target.masterId} of domain ${this.domain}: instance ${this.instId} is cut off from the broker`))
        return
      }
      this.wait(p, target)
      return
    }
    p.state = 'sent'
    p.target = target
    this.byId.set(p.id, p)
    this.stats.forwarded += p.open.length
    if (p.batch) this.stats.forwardedBatches++
    if (p.attempts > 1) this.stats.resent += p.open.length
    this.log.debug('flow request forwarded to the master', {event: 'flow_forwarded', id: p.id, master: target.masterId, term: target.term, attempt: p.attempts})
  }

  /** Gives up on `from` for this request: it waits for the next master. */
  private wait(p: Pending, from: Target): void {
    if (p.state === 'sent') this.byId.delete(p.id)
    p.state = 'waiting'
    p.target = undefined
    p.gaveUpOn = from
    p.sawNoMaster = false
  }

  private onReply(reply: FlowRpcReply | FlowRpcBatchReply): void {
    const p = this.byId.get(reply.id)
    if (!p || p.state !== 'sent' || !p.target) {
      this.stats.unknownReplies++
      this.log.debug('ignored a flow reply for no request of ours', {event: 'flow_reply_ignored', id: reply.id, from: reply.from})
      return
    }
    const target = p.target
    const mismatch = (why: string) => this.settle(p, new RemoteInternalError(`master ${target.masterId} answered ${why}`))
    if (reply.type === 'flow-rpc-reply' && reply.result) {
      return p.batch ? mismatch('a batch with a single result') : this.settle(p, reply.result)
    }
    if (reply.type === 'flow-rpc-batch-reply' && reply.results) {
      if (!p.batch) return mismatch('a single request with a batch of results')
      if (reply.results.length !== p.open.length) return mismatch(`${reply.results.length} results for ${p.open.length} entries`)
      return this.settleEach(p, reply.results.map((o: FlowRpcOutcome, k) => ('error' in o ? errorFromRpc(o.error, p.items[p.open[k]!]!.dpid, target.masterId) : o.result)))
    }
    const error = reply.error as FlowRpcError
    if (error.kind === 'NotMaster') {
      // It did not act on the request: send it on to whoever is master now, or once there is one.
      this.log.debug('the instance we forwarded to is not master; the request goes on to the next one', {
        event: 'flow_forward_not_master', id: p.id, master: target.masterId, reason: error.message,
      })
      this.wait(p, target)
      this.advance(p)
      return
    }
    // One error for every entry (a batch the master could not read, say).
    this.settleEach(p, p.open.map((i) => errorFromRpc(error, p.items[i]!.dpid, target.masterId)))
  }

  /** A waiting request: sends it to the current master if the election has moved on and that is allowed. */
  private advance(p: Pending): void {
    if (p.state !== 'waiting') return
    const current = this.masterOf(this.options.getRole())
    if (!current) {
      p.sawNoMaster = true
      return
    }
    const same = p.gaveUpOn !== undefined && p.gaveUpOn.masterId === current.masterId && p.gaveUpOn.term === current.term
    if (same && !p.sawNoMaster) return // still the master that let it down: wait for the election to move on
    if (p.attempts >= MAX_ATTEMPTS) return this.settle(p, this.changedError(p, `after ${p.attempts} attempts`))
    if (p.outcomeUnknown) {
      // Items that cannot be replayed fail here; the others go on.
      const unsafe = p.open.filter((i) => !replaySafe(p.items[i]!.flowMod))
      if (unsafe.length > 0) {
        const error = this.changedError(p, 'and an ADD with check_overlap cannot be sent again safely')
        for (const i of unsafe) p.outcomes[i] = error
        p.open = p.open.filter((i) => replaySafe(p.items[i]!.flowMod))
        if (p.open.length === 0) return this.finish(p)
      }
    }
    this.log.debug('sending a flow request on to the new master', {
      event: 'flow_forward_resend', master: current.masterId, term: current.term, previous: p.gaveUpOn?.masterId ?? null,
    })
    this.send(p, current)
  }

  private changedError(p: Pending, why: string): MasterChangedError {
    const prev = p.gaveUpOn ? `master ${p.gaveUpOn.masterId} (term ${p.gaveUpOn.term})` : 'the master'
    const outcome = p.outcomeUnknown ? 'it may or may not have been applied' : 'it was not applied'
    return new MasterChangedError(`${prev} of domain ${this.domain} went away while the request was in flight ${why}; ${outcome}: retry`)
  }

  private watch(): void {
    if (this.stopped) return
    this.ensureRequestSubscription()
    if (this.live.size === 0) return
    const current = this.masterOf(this.options.getRole())
    // One line per master given up on, not one per request: a failover may catch many in flight.
    const changed = new Map<string, {master: number, term: number, requests: number}>()
    for (const p of [...this.live]) {
      if (p.state === 'sent' && p.target) {
        const t = p.target
        if (current && current.masterId === t.masterId && current.term === t.term) continue
        const key = `${t.masterId}/${t.term}`
        const entry = changed.get(key) ?? {master: t.masterId, term: t.term, requests: 0}
        entry.requests++
        changed.set(key, entry)
        this.wait(p, t)
        p.outcomeUnknown = true
        p.sawNoMaster = current === undefined
      }
      this.advance(p)
    }
    for (const c of changed.values()) {
      this.log.info(`the master changed while ${c.requests} forwarded flow request(s) were in flight`, {
        event: 'flow_forward_master_changed', master: c.master, term: c.term, requests: c.requests,
        now_master: current?.masterId ?? null, now_term: current?.term ?? null,
      })
    }
  }

  private onTimeout(p: Pending): void {
    if (p.state === 'sent' && p.target) {
      this.settle(p, new ProgramTimeoutError(`master ${p.target.masterId} of domain ${this.domain} did not answer within ${p.timeoutMs} ms; the change may or may not have been applied`))
    } else if (p.state === 'local') {
      this.settle(p, new ProgramTimeoutError(`the flow service of instance ${this.instId} did not answer within ${p.timeoutMs} ms; the change may or may not have been applied`))
    } else {
      this.settle(p, this.changedError(p, `and no new master took over within ${p.timeoutMs} ms`))
    }
  }

  /** Every item still open gets `outcome`. */
  private settle(p: Pending, outcome: ProgramOutcome): void {
    if (p.state === 'done') return
    for (const i of p.open) p.outcomes[i] = outcome
    this.finish(p)
  }

  /** The open items get `outcomes`, one each, in order. */
  private settleEach(p: Pending, outcomes: ProgramOutcome[]): void {
    if (p.state === 'done') return
    p.open.forEach((i, k) => { p.outcomes[i] = outcomes[k] ?? new RemoteInternalError('no outcome for this entry') })
    this.finish(p)
  }

  private finish(p: Pending): void {
    if (p.state === 'done') return
    if (p.state === 'sent') this.byId.delete(p.id)
    p.state = 'done'
    p.target = undefined
    p.open = []
    clearTimeout(p.timer)
    this.live.delete(p)
    p.done(p.outcomes as ProgramOutcome[])
  }

// ---- the master's side ----

  private ensureRequestSubscription(): void {
    if (!this.started) return
    const id = this.instId
    if (this.subscribedIds.has(id)) return
    this.subscribedIds.add(id)
    this.bus.subscribe(rpcRequestKey(this.domain, id), (body) => this.onMessage(body, 'request'))
  }

  private onMessage(body: unknown, expected: 'request' | 'reply'): void {
    if (this.stopped) return
    const parsed = parseFlowRpcMessage(body, this.domain)
    if (!parsed.ok) {
      this.countDropped(parsed.reason, parsed.detail)
      if (parsed.replyTo && expected === 'request') {
        const error: FlowRpcError = {kind: 'BadRequest', message: parsed.detail, field: parsed.detail.split(':')[0]!}
        if (parsed.replyTo.batch) this.replyBatch(parsed.replyTo.from, parsed.replyTo.id, {error})
        else this.reply(parsed.replyTo.from, parsed.replyTo.id, {error})
      }
      return
    }
    const message = parsed.message
    if (message.type === 'flow-rpc-reply' || message.type === 'flow-rpc-batch-reply') {
      if (expected !== 'reply') return this.countDropped('unexpected_type', 'a reply on a request key')
      this.onReply(message)
      return
    }
    if (expected !== 'request') return this.countDropped('unexpected_type', 'a request on a reply key')
    if (message.type === 'flow-rpc-batch-request') void this.serveBatch(message)
    else void this.serve(message)
  }

  /** Why this instance must not act on a request meant for master `to`; undefined: it may. */
  private notMaster(to: number): string | undefined {
    const role = this.options.getRole()
    const me = this.instId
    if (to !== me) return `instance ${me} is not instance ${to} (its id changed)`
    if (role.role !== 'master') return `instance ${me} is ${role.role}, not master`
    if (!this.local) return `instance ${me} is master but its flow service is not running yet`
    return undefined
  }

  /** A forwarded batch: every entry to the flow service in one loop (one turn), one reply with every outcome. */
  private async serveBatch(req: FlowRpcBatchRequest): Promise<void> {
    this.stats.served += req.entries.length
    this.stats.servedBatches++
    const notMaster = this.notMaster(req.to)
    if (notMaster || !this.local) {
      this.log.debug('refused a forwarded flow batch: not master', {event: 'flow_rpc_not_master', id: req.id, from: req.fromInst, reason: notMaster})
      this.replyBatch(req.from, req.id, {error: {kind: 'NotMaster', message: notMaster ?? 'not master'}})
      return
    }
    this.log.debug('serving a forwarded flow batch', {event: 'flow_rpc_serve', id: req.id, from: req.fromInst, entries: req.entries.length})
    const outcomes = await programAll(this.local, req.entries, {timeoutMs: req.timeoutMs})
    let internal: string | undefined
    const results = outcomes.map((o): FlowRpcOutcome => {
      if (!(o instanceof Error)) return {result: o}
      const e = errorToRpc(o)
      if (e.kind === 'Internal') internal ??= e.message
      return {error: e}
    })
    if (internal) this.log.error('flow service failed on a forwarded batch', {event: 'flow_rpc_failed', id: req.id, error: internal})
    this.replyBatch(req.from, req.id, {results})
  }

  private replyBatch(node: string, id: string, body: {results?: FlowRpcOutcome[], error?: FlowRpcError}): void {
    const json = batchReplyToJson({domain: this.domain, id, from: this.instId, ...body}, this.maxMessageBytes)
    const sent = this.bus.publish(rpcReplyKey(this.domain, node), json)
    if (!sent) this.log.warn('could not send a flow reply (broker unreachable); the requester will time out', {event: 'flow_rpc_reply_lost', id})
  }

  private async serve(req: FlowRpcRequest): Promise<void> {
    this.stats.served++
    const notMaster = this.notMaster(req.to)
    if (notMaster || !this.local) {
      this.log.debug('refused a forwarded flow request: not master', {event: 'flow_rpc_not_master', id: req.id, from: req.fromInst, reason: notMaster})
      this.reply(req.from, req.id, {error: {kind: 'NotMaster', message: notMaster ?? 'not master'}})
      return
    }
    this.log.debug('serving a forwarded flow request', {event: 'flow_rpc_serve', id: req.id, from: req.fromInst})
    try {
      const result = await this.local.program(req.dpid, req.flowMod, {timeoutMs: req.timeoutMs})
      this.reply(req.from, req.id, {result})
    } catch (error) {
      const e = errorToRpc(error)
      if (e.kind === 'Internal') this.log.error('flow service failed on a forwarded request', {event: 'flow_rpc_failed', id: req.id, error: e.message})
      this.reply(req.from, req.id, {error: e})
    }
  }

  private reply(node: string, id: string, body: {result?: ProgramResult, error?: FlowRpcError}): void {
    const sent = this.bus.publish(rpcReplyKey(this.domain, node), replyToJson({domain: this.domain, id, from: this.instId, ...body}))
    if (!sent) this.log.warn('could not send a flow reply (broker unreachable); the requester will time out', {event: 'flow_rpc_reply_lost', id})
  }

  private countDropped(reason: string, detail: string): void {
    this.stats.dropped[reason] = (this.stats.dropped[reason] ?? 0) + 1
    this.droppedWarning.warn(reason, 'dropped a flow RPC message', {event: 'message_dropped', kind: 'flow_rpc', reason, detail, count: this.stats.dropped[reason]})
  }
}
