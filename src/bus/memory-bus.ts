// The bus in memory, for unit tests of the modules above it: one InMemoryBroker plays RabbitMQ (a topic
// exchange, exclusive queues, the event exchange), and each InMemoryBus is one client of it. Same
// contract as AmqpBus (test/unit/bus/contract.test.ts), plus the knobs a test needs: stop and restart
// the broker, cut one client off, kill one, inject raw bytes.
//
// Timing: deliveries and queue_deleted events arrive in a later microtask, never inside publish() (as on
// a real broker, a handler never runs in the middle of its caller); nothing uses timers or
// queueMicrotask, so sinon's fake timers need no ticking. Connection changes (stop, start, disconnect,
// reconnect) take effect synchronously.
import {EventEmitter} from 'node:events'
import {decodeBody, encodeBody, Subscriptions, topicMatches, emitSafely} from './codec.js'
import {BusClosedError, BusConfigError, BusStartError} from './errors.js'
import {DEFAULT_MAX_MESSAGE_BYTES, type Bus, type BusEvents, type BusMode, type BusStats, type MessageHandler} from './types.js'

export interface InMemoryBrokerOptions {
  /** Whether the broker has the event exchange (queue_deleted events). Default true. */
  eventsAvailable?: boolean
}

export interface InMemoryBusOptions {
  mode?: BusMode
  maxMessageBytes?: number
  /** As AmqpBusOptions.ownMessages. */
  ownMessages?: 'deliver' | 'skip'
}

interface Queue {
  readonly name: string
  readonly owner: InMemoryBus
}

export class InMemoryBroker {
  readonly eventsAvailable: boolean
  private _running = true
  private queueCounter = 0
  private readonly buses = new Set<InMemoryBus>()
  private readonly queues = new Map<string, Queue>()

  constructor(options: InMemoryBrokerOptions = {}) {
    this.eventsAvailable = options.eventsAvailable ?? true
  }

  get running(): boolean {
    return this._running
  }

  /** A new client of this broker (not connected until its start()). */
  createBus(options: InMemoryBusOptions = {}): InMemoryBus {
    return new InMemoryBus(this, options)
  }

  /** Names of the queues that exist now. */
  queueNames(): string[] {
    return [...this.queues.keys()]
  }

  /** The broker goes away: every connected client goes down (and keeps trying to reconnect). */
  stop(reason = 'broker stopped'): void {
    if (!this._running) return
    this._running = false
    this.queues.clear() // exclusive queues die with their connections; nobody is left to hear about it
    for (const bus of this.buses) bus._connectionLost(reason)
  }

  /** The broker is back: every client that is trying to reconnect does, with a new queue. */
  start(): void {
    if (this._running) return
    this._running = true
    for (const bus of this.buses) bus._tryReconnect()
  }

  /** Cuts one client off (a network partition): it goes down and stays down until reconnect(bus). */
  disconnect(bus: InMemoryBus, reason = 'connection lost'): void {
    bus._partitioned = true
    this.dropQueueOf(bus)
    bus._connectionLost(reason)
  }

  /** Ends the partition made by disconnect(): the client reconnects (if the broker runs). */
  reconnect(bus: InMemoryBus): void {
    bus._partitioned = false
    bus._tryReconnect()
  }

  /** The client's process dies (SIGKILL): its queue is deleted, it never emits or delivers again. */
  kill(bus: InMemoryBus): void {
    bus._dead = true
    this.dropQueueOf(bus)
    this.buses.delete(bus)
  }

  /** Deletes a queue as an administrator would; its owner goes down and reconnects with a new one. */
  deleteQueue(name: string): void {
    const queue = this.queues.get(name)
    if (!queue) return
    this.queues.delete(name)
    this.announceDeleted(name)
    queue.owner._connectionLost(`queue ${name} was deleted by the broker`)
    queue.owner._tryReconnect()
  }

  /** Publishes raw bytes on the exchange, as a foreign or broken client would. */
  publishRaw(routingKey: string, content: Buffer | string): void {
    if (!this._running) return
    this.route(routingKey, typeof content === 'string' ? Buffer.from(content, 'utf8') : content)
  }

  // ---- used by InMemoryBus ----

  /** @internal */
  _register(bus: InMemoryBus): void {
    this.buses.add(bus)
  }

  /** @internal Connects a client: a new exclusive queue, or undefined in 'publish' mode. */
  _open(bus: InMemoryBus, withQueue: boolean): string | undefined {
    if (!withQueue) return undefined
    const name = `mem.gen-${++this.queueCounter}`
    this.queues.set(name, {name, owner: bus})
    return name
  }

  /** @internal A client closes: its queue goes, the others hear about it. */
  _close(bus: InMemoryBus): void {
    this.dropQueueOf(bus)
    this.buses.delete(bus)
  }

  /** @internal */
  _publish(routingKey: string, content: Buffer, from?: InMemoryBus): void {
    this.route(routingKey, content, from)
  }

  private route(routingKey: string, content: Buffer, from?: InMemoryBus): void {
    for (const queue of this.queues.values()) {
      if (!queue.owner._bindings().some((pattern) => topicMatches(pattern, routingKey))) continue
      const {owner, name} = queue
      // Delivered only if that queue still exists then (a disconnect in between loses the message).
      later(() => {
        if (this.queues.get(name) === queue) owner._deliver(routingKey, content, from)
      })
    }
  }

  private dropQueueOf(bus: InMemoryBus): void {
    for (const [name, queue] of this.queues) {
      if (queue.owner !== bus) continue
      this.queues.delete(name)
      this.announceDeleted(name)
    }
  }

  private announceDeleted(name: string): void {
    if (!this.eventsAvailable || !this._running) return
    for (const queue of this.queues.values()) {
      const {owner} = queue
      later(() => {
        if (this.queues.get(queue.name) === queue) owner._queueDeleted(name)
      })
    }
  }
}

type State = 'idle' | 'up' | 'reconnecting' | 'closed'

/**
 * Runs fn in a later microtask through a resolved promise: unlike queueMicrotask, sinon's fake timers
 * cannot hijack it, so tests with a fake clock see deliveries without ticking.
 */
function later(fn: () => void): void {
  void Promise.resolve().then(() => {
    try {
      fn()
    } catch {
      // the buses catch their listeners' errors; nothing may escape as an unhandled rejection
    }
  })
}

export class InMemoryBus extends EventEmitter<BusEvents> implements Bus {
  readonly mode: BusMode
  readonly stats: BusStats = {published: 0, received: 0, dropped: {}}
  readonly maxMessageBytes: number
  private readonly ownMessages: 'deliver' | 'skip'
  private readonly subscriptions = new Subscriptions()
  private readonly ownQueues = new Set<string>()
  private state: State = 'idle'
  private queue: string | undefined
  /** @internal set by InMemoryBroker */
  _partitioned = false
  /** @internal set by InMemoryBroker.kill */
  _dead = false

  constructor(readonly broker: InMemoryBroker, options: InMemoryBusOptions = {}) {
    super()
    this.mode = options.mode ?? 'full'
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.ownMessages = options.ownMessages ?? 'deliver'
    if (!(this.maxMessageBytes > 0)) throw new BusConfigError(`maxMessageBytes must be a positive number, got ${this.maxMessageBytes}`)
  }

  get connected(): boolean {
    return this.state === 'up' && !this._dead
  }

  get queueName(): string | undefined {
    return this.connected ? this.queue : undefined
  }

  get eventsAvailable(): boolean {
    return this.broker.eventsAvailable && this.mode !== 'publish'
  }

  async start(): Promise<void> {
    if (this.state === 'closed') throw new BusClosedError('start() after close()')
    if (this.state !== 'idle') return
    if (!this.broker.running || this._partitioned) {
      throw new BusStartError([{url: 'memory://', error: 'broker not running'}])
    }
    this.broker._register(this)
    this.open()
  }

  publish(routingKey: string, body: object): boolean {
    if (this.mode === 'observe' || !this.connected) return false
    const content = encodeBody(body, this.maxMessageBytes)
    if (!content || typeof routingKey !== 'string' || Buffer.byteLength(routingKey) > 255) return false
    this.broker._publish(routingKey, content, this)
    this.stats.published++
    return true
  }

  subscribe(pattern: string, handler: MessageHandler): void {
    if (this.mode === 'publish') throw new BusConfigError("subscribe() on a bus in 'publish' mode")
    if (this.state === 'closed') return
    this.subscriptions.add(pattern, handler) // bindings are looked up at routing time
  }

  async close(): Promise<void> {
    const previous = this.state
    if (previous === 'closed') return
    this.state = 'closed'
    this.queue = undefined
    if (previous !== 'idle') this.broker._close(this)
  }

  // ---- used by InMemoryBroker ----

  /** @internal */
  _bindings(): string[] {
    return this.state === 'up' && !this._dead ? this.subscriptions.patterns() : []
  }

  /** @internal */
  _connectionLost(reason: string): void {
    if (this.state !== 'up' || this._dead) return
    this.state = 'reconnecting'
    this.queue = undefined
    this.emitSafe('down', reason)
  }

  /** @internal */
  _tryReconnect(): void {
    if (this.state !== 'reconnecting' || this._dead || this._partitioned || !this.broker.running) return
    this.open()
  }

  /** @internal */
  _deliver(routingKey: string, content: Buffer, from?: InMemoryBus): void {
    if (!this.connected) return
    if (from === this && this.ownMessages === 'skip') {
      this.stats.ownSkipped = (this.stats.ownSkipped ?? 0) + 1
      return
    }
    const decoded = decodeBody(content, this.maxMessageBytes)
    if (!decoded.ok) {
      this.stats.dropped[decoded.reason] = (this.stats.dropped[decoded.reason] ?? 0) + 1
      this.emitSafe('dropped', {reason: decoded.reason, routingKey, bytes: content.length})
      return
    }
    this.stats.received++
    this.subscriptions.dispatch(decoded.body, {routingKey, receivedAtMs: Date.now()}, (error, pattern) => this.emitSafe('handler_error', error, `handler for ${pattern}`))
  }

  /** @internal */
  _queueDeleted(name: string): void {
    if (!this.connected || this.ownQueues.has(name) || !this.eventsAvailable) return
    this.emitSafe('queue_deleted', name)
  }

  private open(): void {
    this.queue = this.broker._open(this, this.mode !== 'publish')
    if (this.queue) this.ownQueues.add(this.queue)
    this.state = 'up'
    this.emitSafe('up', this.queue ?? '')
  }

  private emitSafe<E extends keyof BusEvents>(event: E, ...args: BusEvents[E]): void {
    if (this._dead) return
    emitSafely(this, event, args)
  }
}
