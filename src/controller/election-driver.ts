// The shell around the pure election state machine: it owns the one timer and the bus, feeds the
// election ticks and validated messages, publishes what the election says to send, and turns role
// changes and events into log lines and typed events. Everything that decides lives in
// src/election; everything that waits or talks lives here.
import {EventEmitter} from 'node:events'
import type {Bus} from '../bus/types.js'
import {Election, type ElectionOutput, type RoleChange} from '../election/election.js'
import {discoverRoutingKey, parseElectionMessage} from '../election/messages.js'
import type {ElectionTiming} from '../election/timing.js'
import {epochMs, type Logger} from '../log.js'
import {RateLimitedWarning} from './rate-limited-warning.js'

/** Election events worth a debug line only; every other event is an info line. */
const QUIET_EVENTS = new Set(['ignored', 'judgment_deferred'])

export interface ElectionDriverOptions {
  instId: number
  domain: string
  timing: ElectionTiming
  bus: Bus
  logger: Logger
  /** Monotonic clock in ms; the election never reads time itself. */
  nowMs?: () => number
  randomId?: () => number
}

export interface RoleChangeEvent extends RoleChange {
  instId: number
  domain: string
  /** Epoch ms with sub-ms precision, as logged. */
  ts: number
}

/**
 * Events: 'role_change' (RoleChangeEvent); 'peers' (PeerInfo[]) whenever the set of peers or
 * their roles changes (the flow service needs to know which slaves must acknowledge). The driver is started once and stopped once;
 * broker loss and reconnects in between are handled inside (the election holds no role
 * while the broker is away).
 */
export class ElectionDriver extends EventEmitter {
  readonly election: Election
  private readonly bus: Bus
  private readonly log: Logger
  private readonly nowMs: () => number
  private readonly routingKey: string
  private readonly droppedWarning: RateLimitedWarning
  private timer: NodeJS.Timeout | undefined
  private brokerLostAt: number | undefined
  private stopped = false
  /** The queue we announced ourselves with; a reconnect brings a new one. */
  private joinedQueue: string | undefined
  /** The peers and roles last announced with 'peers', to emit only on a change. */
  private peersKey = ''
  readonly dropped: Record<string, number> = {}

  constructor(private readonly options: ElectionDriverOptions) {
    super()
    this.bus = options.bus
    this.nowMs = options.nowMs ?? (() => performance.now())
    this.log = options.logger
    this.routingKey = discoverRoutingKey(options.domain)
    this.election = new Election({
      instId: options.instId,
      domain: options.domain,
      timing: options.timing,
      randomId: options.randomId ?? (() => 1 + Math.floor(Math.random() * 10000)),
    })
    this.droppedWarning = new RateLimitedWarning(this.log, 1000)
  }

  get role() { return this.election.role }
  get term() { return this.election.term }
  get instId() { return this.election.instId }

  async start(): Promise<void> {
    this.bus.subscribe(this.routingKey, (body) => this.onMessage(body))
    this.bus.on('up', (queueName) => this.onBusUp(queueName))
    this.bus.on('down', (reason) => this.onBusDown(reason))
    this.bus.on('queue_deleted', (queueName) => this.apply(this.election.peerQueueDeleted(queueName, this.nowMs())))
    this.bus.on('dropped', (d) => this.countDropped(d.reason, {routing_key: d.routingKey, bytes: d.bytes}))
    this.bus.on('handler_error', (error, context) => this.log.error('bus handler failed', {event: 'bus_handler_error', context, error: String(error)}))
    await this.bus.start()
    // Whether or not the bus also announced its first connection with 'up', join exactly once per queue.
    if (this.bus.queueName !== undefined && this.joinedQueue !== this.bus.queueName) this.onBusUp(this.bus.queueName)
  }

  /** Graceful stop: tell the peers we leave (they act at once), then close the bus. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearTimeout(this.timer)
    if (this.bus.connected) this.apply(this.election.leave(this.nowMs()), {publishEvenIfStopped: true})
    await this.bus.close()
  }

  /** A switch reported a generation id: promotions must exceed it, and a higher one demotes us. */
  observeExternalTerm(term: number): void {
    this.apply(this.election.observeExternalTerm(term, this.nowMs()))
  }

  private onBusUp(queueName: string): void {
    if (this.stopped || queueName === this.joinedQueue) return
    this.joinedQueue = queueName
    if (this.brokerLostAt !== undefined) {
      this.log.info('broker regained', {event: 'broker_regained', down_ms: Math.round(this.nowMs() - this.brokerLostAt)})
      this.brokerLostAt = undefined
    }
    this.log.info('joined the election', {event: 'election_joined', queue: queueName})
    this.apply(this.election.start(this.nowMs(), queueName))
  }

  private onBusDown(reason: string): void {
    if (this.stopped) return
    this.brokerLostAt = this.nowMs()
    this.joinedQueue = undefined
    this.log.warn('broker lost', {event: 'broker_lost', reason})
    this.apply(this.election.busLost(this.nowMs()))
  }

  private onMessage(body: unknown): void {
    if (this.stopped) return
    const parsed = parseElectionMessage(body, this.options.domain)
    if (!parsed.ok) {
      this.countDropped(parsed.reason, {})
      return
    }
    this.apply(this.election.receive(parsed.message, this.nowMs()))
  }

  private countDropped(reason: string, fields: Record<string, unknown>): void {
    this.dropped[reason] = (this.dropped[reason] ?? 0) + 1
    this.droppedWarning.warn(reason, 'dropped a message from the bus', {event: 'message_dropped', reason, count: this.dropped[reason], ...fields})
  }

  private apply(output: ElectionOutput, opts: {publishEvenIfStopped?: boolean} = {}): void {
    if (!this.stopped || opts.publishEvenIfStopped) {
      for (const message of output.send) this.bus.publish(this.routingKey, message)
    }
    for (const event of output.events) {
      const {type, ...fields} = event as {type: string} & Record<string, unknown>
      const level = QUIET_EVENTS.has(type) ? 'debug' : 'info'
      this.log[level](type.replace(/_/g, ' '), {event: type, inst_id: this.election.instId, ...fields})
    }
    for (const change of output.roleChanges) {
      const ts = epochMs()
      this.log.info(`role ${change.from} -> ${change.to}`, {
        event: 'role_change', inst_id: this.election.instId, from: change.from, to: change.to, term: change.term, reason: change.reason, ts,
      })
      this.emit('role_change', {...change, instId: this.election.instId, domain: this.options.domain, ts} satisfies RoleChangeEvent)
    }
    this.announcePeers()
    this.schedule()
  }

  private announcePeers(): void {
    const peers = this.election.peers()
    const key = peers.map((p) => `${p.instId}:${p.role}`).join(',')
    if (key === this.peersKey) return
    this.peersKey = key
    this.emit('peers', peers)
  }

  private schedule(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.stopped) return
    const deadline = this.election.nextDeadlineMs()
    if (deadline === undefined) return
    this.timer = setTimeout(() => {
      // setImmediate runs after the poll phase: when the event loop was blocked, the peers'
      // keep-alives that arrived meanwhile are delivered before the election judges anyone.
      setImmediate(() => {
        if (!this.stopped) this.apply(this.election.tick(this.nowMs()))
      })
    }, Math.max(0, deadline - this.nowMs()))
  }
}
