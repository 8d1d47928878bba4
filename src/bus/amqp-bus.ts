// The bus on RabbitMQ (amqplib): one connection, one channel, one exclusive server-named queue bound to
// the shared topic exchange, and optionally to RabbitMQ's event exchange for fast crash detection. On a
// lost connection it reconnects forever with capped, jittered backoff and redeclares everything; every
// state change comes out as an event, and nothing it receives can throw into amqplib.
import {randomUUID} from 'node:crypto'
import {EventEmitter} from 'node:events'
import {connect, type Channel, type ChannelModel, type ConsumeMessage} from 'amqplib'
import {backoffDelayMs, decodeBody, encodeBody, redactUrl, Subscriptions, emitSafely} from './codec.js'
import {BusClosedError, BusConfigError, BusStartError} from './errors.js'
import {DEFAULT_EXCHANGE, DEFAULT_MAX_MESSAGE_BYTES, type Bus, type BusEvents, type BusMode, type BusStats, type MessageHandler} from './types.js'

/** RabbitMQ's event exchange (plugin rabbitmq_event_exchange): broker events as messages. */
export const EVENT_EXCHANGE = 'amq.rabbitmq.event'

export interface AmqpBusOptions {
  /** One URL or a comma-separated list, tried in order on every (re)connect: amqp://user:pass@host:port/vhost */
  url: string
  /** Topic exchange shared by the instances; declared non-durable and auto-delete, as the reference does. */
  exchange?: string
  mode?: BusMode
  /** See DEFAULT_MAX_MESSAGE_BYTES. */
  maxMessageBytes?: number
  /**
   * AMQP heartbeat in seconds (unless the URL sets ?heartbeat=). amqplib declares a silent broker dead
   * after two to three intervals, so 2 s notices a vanished broker (power loss, partition: no TCP reset)
   * in 4 to 6 s; lower costs a little traffic, raising it delays the 'down' event.
   */
  heartbeatSeconds?: number
  /** Time allowed for TCP connect plus AMQP handshake to one URL before trying the next. */
  connectTimeoutMs?: number
  /** First reconnect delay; doubles per failed round of URLs up to reconnectMaxMs (with jitter). */
  reconnectInitialMs?: number
  /** Cap on the reconnect delay: how long a broker that is back may go unnoticed. */
  reconnectMaxMs?: number
  /** Subscribe to queue.deleted on the event exchange when the broker has it (default true). */
  queueEvents?: boolean
  /** Where the broker publishes its events; default EVENT_EXCHANGE (the plugin's, in vhost '/'). */
  eventExchange?: string
  /** Shown in the broker's connection list (client property connection_name). */
  connectionName?: string
  /**
   * 'skip': messages this bus published that come back to its own queue are dropped unread
   * (before JSON parsing; counted in stats.ownSkipped). For a bus whose owner ignores its own
   * messages anyway, e.g. a master's large delta messages. Default 'deliver' (the election needs
   * its own keep-alives back).
   */
  ownMessages?: 'deliver' | 'skip'
  /** For tests: the jitter source. */
  random?: () => number
}

interface Session {
  readonly model: ChannelModel
  readonly channel: Channel
  readonly url: string
  readonly queue: string | undefined
  readonly events: boolean
  /** Patterns bound to this session's queue. */
  readonly bound: Set<string>
  /** Set when the connection or channel closed; an ended session is never reused. */
  ended: boolean
}

type State = 'idle' | 'starting' | 'up' | 'reconnecting' | 'closed'

export class AmqpBus extends EventEmitter<BusEvents> implements Bus {
  readonly urls: readonly string[]
  readonly exchange: string
  readonly mode: BusMode
  readonly maxMessageBytes: number
  private readonly heartbeatSeconds: number
  private readonly connectTimeoutMs: number
  private readonly reconnectInitialMs: number
  private readonly reconnectMaxMs: number
  private readonly queueEvents: boolean
  private readonly eventExchange: string
  private readonly connectionName: string | undefined
  private readonly random: () => number
  /** Set with ownMessages 'skip': sent as the AMQP app-id of every message, recognised on delivery. */
  private readonly ownTag: string | undefined
  private readonly subscriptions = new Subscriptions()

  private state: State = 'idle'
  private session: Session | undefined
  private starting: Promise<void> | undefined
  private closing: Promise<void> | undefined
  /** A connect attempt in progress: close() waits for it so that no socket outlives the bus. */
  private attempt: Promise<unknown> | undefined
  private reconnectTimer: NodeJS.Timeout | undefined
  private failedRounds = 0
  /** Every queue this bus ever had: an event about one of them is about us, not a peer. */
  private readonly ownQueues = new Set<string>()
  private readonly vhost: string
  private _eventsAvailable = false

  readonly stats: BusStats = {published: 0, received: 0, dropped: {}}

  constructor(options: AmqpBusOptions) {
    super()
    this.urls = parseUrls(options.url)
    this.exchange = options.exchange ?? DEFAULT_EXCHANGE
    this.mode = options.mode ?? 'full'
    if (!['full', 'observe', 'publish'].includes(this.mode)) throw new BusConfigError(`mode must be full, observe or publish, not ${JSON.stringify(this.mode)}`)
    this.maxMessageBytes = positive('maxMessageBytes', options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES)
    this.heartbeatSeconds = positive('heartbeatSeconds', options.heartbeatSeconds ?? 2)
    this.connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs ?? 3000)
    this.reconnectInitialMs = positive('reconnectInitialMs', options.reconnectInitialMs ?? 100)
    this.reconnectMaxMs = positive('reconnectMaxMs', options.reconnectMaxMs ?? 2000)
    if (this.reconnectMaxMs < this.reconnectInitialMs) {
      throw new BusConfigError(`reconnectMaxMs (${this.reconnectMaxMs}) must be at least reconnectInitialMs (${this.reconnectInitialMs})`)
    }
    this.queueEvents = options.queueEvents ?? true
    this.eventExchange = options.eventExchange ?? EVENT_EXCHANGE
    this.connectionName = options.connectionName
    this.random = options.random ?? Math.random
    this.ownTag = options.ownMessages === 'skip' ? `flowkeeper-${randomUUID()}` : undefined
    // All URLs share one vhost in practice; events carry theirs, and we only want our own vhost's.
    this.vhost = vhostOf(this.urls[0])
  }

  /** A method, not a field read, so that TypeScript does not narrow the state across awaits. */
  private isClosed(): boolean {
    return this.state === 'closed'
  }

  get connected(): boolean {
    return this.state === 'up'
  }

  get queueName(): string | undefined {
    return this.state === 'up' ? this.session?.queue : undefined
  }

  get eventsAvailable(): boolean {
    return this._eventsAvailable
  }

  start(): Promise<void> {
    if (this.state === 'closed') return Promise.reject(new BusClosedError('start() after close()'))
    this.starting ??= this.firstConnect()
    return this.starting
  }

  private async firstConnect(): Promise<void> {
    this.state = 'starting'
    for (let round = 1; ; round++) {
      let session: Session
      try {
        session = await this.track(this.connectAny())
      } catch (error) {
        if (this.isClosed()) throw new BusClosedError('closed before the bus was ready', {cause: error})
        this.state = 'idle'
        this.starting = undefined // a later start() may try again
        throw error
      }
      if (this.isClosed()) {
        await endSession(session)
        throw new BusClosedError('closed before the bus was ready')
      }
      if (this.adopt(session)) return
      // The connection closed in the instant between its setup and now: try another round or two.
      if (round === 3) {
        this.state = 'idle'
        this.starting = undefined
        throw new BusStartError([{url: redactUrl(session.url), error: 'connection closed right after setup, three times'}])
      }
    }
  }

  publish(routingKey: string, body: object): boolean {
    if (this.mode === 'observe') return false
    const session = this.session
    if (this.state !== 'up' || !session || session.ended) return false
    const content = encodeBody(body, this.maxMessageBytes)
    if (!content) return false
    try {
      // amqplib returns false when its write buffer is full but still sends the message: it was accepted.
      session.channel.publish(this.exchange, routingKey, content, this.ownTag ? {contentType: 'application/json', appId: this.ownTag} : {contentType: 'application/json'})
    } catch {
      return false // channel closing, routing key too long, ...
    }
    this.stats.published++
    return true
  }

  subscribe(pattern: string, handler: MessageHandler): void {
    if (this.mode === 'publish') throw new BusConfigError("subscribe() on a bus in 'publish' mode")
    if (this.isClosed()) return
    this.subscriptions.add(pattern, handler)
    if (this.state === 'up' && this.session) this.bindMissing(this.session)
  }

  /** Binds the patterns the session's queue lacks (those subscribed since its setup began). */
  private bindMissing(session: Session): void {
    if (!session.queue) return
    for (const pattern of this.subscriptions.patterns()) {
      if (session.bound.has(pattern)) continue
      session.bound.add(pattern)
      // A failed bind means the channel is gone; the reconnect that follows binds every pattern anew.
      session.channel.bindQueue(session.queue, this.exchange, pattern).catch(() => {})
    }
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    this.state = 'closed'
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = undefined
    const session = this.session
    this.session = undefined
    if (session) await endSession(session)
    // A connect attempt in flight sees 'closed' and ends its own session; wait for it to finish.
    await this.attempt?.catch(() => {})
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.attempt = promise
    promise.then(
      () => { if (this.attempt === promise) this.attempt = undefined },
      () => { if (this.attempt === promise) this.attempt = undefined },
    )
    return promise
  }

  /** One round: each URL in turn until one connects and sets up. */
  private async connectAny(): Promise<Session> {
    const failures: Array<{url: string, error: string}> = []
    for (const url of this.urls) {
      if (this.isClosed()) break
      try {
        return await this.openSession(url)
      } catch (error) {
        failures.push({url: redactUrl(url), error: describe(error)})
      }
    }
    if (this.isClosed()) throw new BusClosedError('closed while connecting')
    throw new BusStartError(failures)
  }

  private async openSession(url: string): Promise<Session> {
    const model = await connect(withHeartbeat(url, this.heartbeatSeconds), {
      timeout: this.connectTimeoutMs,
      // Keep-alives and acks are tiny and latency-bound: Nagle's algorithm must not hold them back.
      noDelay: true,
      clientProperties: this.connectionName ? {connection_name: this.connectionName} : {},
    })
    let session: Session | undefined
    let closeReason = 'connection closed'
    // amqplib emits 'error' before 'close' when the broker or a heartbeat timeout ends the connection;
    // without an 'error' listener that would be an uncaught exception.
    model.on('error', (error: unknown) => { closeReason = describe(error) })
    model.on('close', () => { if (session) this.lost(session, closeReason) })
    try {
      if (this.isClosed()) throw new BusClosedError('closed while connecting')
      const events = this.queueEvents && this.mode !== 'publish' && await hasExchange(model, this.eventExchange)
      const channel = await model.createChannel()
      channel.on('error', (error: unknown) => { closeReason = `channel closed: ${describe(error)}` })
      // A channel closed under a live connection (e.g. publishing to an exchange that auto-deleted) is
      // a loss like any other: reconnecting declares everything again.
      channel.on('close', () => { if (session) this.lost(session, closeReason) })
      await channel.assertExchange(this.exchange, 'topic', {durable: false, autoDelete: true})
      let queue: string | undefined
      const bound = new Set<string>()
      if (this.mode !== 'publish') {
        queue = (await channel.assertQueue('', {exclusive: true, durable: false, autoDelete: true})).queue
        this.ownQueues.add(queue)
        // Patterns subscribed while we bind are picked up too: loop until every one is bound (and
        // adopt() binds any that come during the last steps).
        for (let next = this.unbound(bound); next !== undefined; next = this.unbound(bound)) {
          await channel.bindQueue(queue, this.exchange, next)
          bound.add(next)
        }
        if (events) await channel.bindQueue(queue, this.eventExchange, 'queue.deleted')
        const consumerQueue = queue
        await channel.consume(queue, (message) => this.onDelivery(message, consumerQueue), {noAck: true, exclusive: true})
      }
      session = {model, channel, url, queue, events, bound, ended: false}
      return session
    } catch (error) {
      await endModel(model)
      throw error
    }
  }

  private unbound(bound: Set<string>): string | undefined {
    return this.subscriptions.patterns().find((p) => !bound.has(p))
  }

  /** Makes a freshly set-up session the current one; false if it already ended. */
  private adopt(session: Session): boolean {
    if (session.ended) return false
    this.session = session
    this.state = 'up'
    this.failedRounds = 0
    this.bindMissing(session)
    this._eventsAvailable = session.events
    this.emitSafe('up', session.queue ?? '')
    return true
  }

  /** The session's connection or channel closed. Acts once, and only for the current session. */
  private lost(session: Session, reason: string): void {
    if (session.ended) return
    session.ended = true
    void endSession(session) // the connection may still be open when only the channel closed
    if (session !== this.session || this.isClosed()) return
    this.session = undefined
    this.state = 'reconnecting'
    this.emitSafe('down', reason)
    this.scheduleReconnect()
  }

  private scheduleReconnect(): void {
    if (this.state !== 'reconnecting') return
    const delayMs = backoffDelayMs(this.failedRounds, {initialMs: this.reconnectInitialMs, maxMs: this.reconnectMaxMs, random: this.random})
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined
      void this.reconnect()
    }, delayMs)
  }

  private async reconnect(): Promise<void> {
    if (this.state !== 'reconnecting') return
    let session: Session
    try {
      session = await this.track(this.connectAny())
    } catch {
      this.failedRounds++
      this.scheduleReconnect()
      return
    }
    if (this.state !== 'reconnecting') {
      await endSession(session)
      return
    }
    if (!this.adopt(session)) {
      this.failedRounds++
      this.scheduleReconnect()
    }
  }

  private onDelivery(message: ConsumeMessage | null, queue: string): void {
    try {
      if (message === null) {
        // The broker cancelled our consumer: the queue was deleted under us. Start over.
        const session = this.session
        if (session && session.queue === queue) this.lost(session, `queue ${queue} was deleted by the broker`)
        return
      }
      if (message.fields.exchange === this.eventExchange) this.onBrokerEvent(message)
      else this.onMessage(message)
    } catch (error) {
      this.emitSafe('handler_error', error, 'delivery')
    }
  }

  private onMessage(message: ConsumeMessage): void {
    if (this.ownTag !== undefined && message.properties.appId === this.ownTag) {
      this.stats.ownSkipped = (this.stats.ownSkipped ?? 0) + 1
      return
    }
    const routingKey = message.fields.routingKey
    const decoded = decodeBody(message.content, this.maxMessageBytes)
    if (!decoded.ok) {
      this.stats.dropped[decoded.reason] = (this.stats.dropped[decoded.reason] ?? 0) + 1
      this.emitSafe('dropped', {reason: decoded.reason, routingKey, bytes: message.content.length})
      return
    }
    this.stats.received++
    const info = {routingKey, receivedAtMs: Date.now()}
    this.subscriptions.dispatch(decoded.body, info, (error, pattern) => this.emitSafe('handler_error', error, `handler for ${pattern}`))
  }

  private onBrokerEvent(message: ConsumeMessage): void {
    if (message.fields.routingKey !== 'queue.deleted') return
    const headers = message.properties.headers ?? {}
    const name = headerString(headers.name)
    const vhost = headerString(headers.vhost)
    if (name === undefined || this.ownQueues.has(name)) return
    if (vhost !== undefined && vhost !== this.vhost) return
    this.emitSafe('queue_deleted', name)
  }

  /** Emits without letting a listener's exception escape (see emitSafely). */
  private emitSafe<E extends keyof BusEvents>(event: E, ...args: BusEvents[E]): void {
    emitSafely(this, event, args)
  }
}

function parseUrls(list: string): string[] {
  if (typeof list !== 'string') throw new BusConfigError('url must be a string (comma-separated for several)')
  const urls = list.split(',').map((u) => u.trim()).filter((u) => u.length > 0)
  if (urls.length === 0) throw new BusConfigError('url: no AMQP URL given')
  for (const url of urls) {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      throw new BusConfigError(`url: ${JSON.stringify(redactUrl(url))} is not a URL (expected amqp://user:pass@host:port)`)
    }
    if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
      throw new BusConfigError(`url: ${redactUrl(url)} must start with amqp:// or amqps://`)
    }
  }
  return urls
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new BusConfigError(`${name} must be a positive number, got ${value}`)
  return value
}

function withHeartbeat(url: string, seconds: number): string {
  const parsed = new URL(url)
  if (parsed.searchParams.has('heartbeat')) return url
  parsed.searchParams.set('heartbeat', String(seconds))
  return parsed.toString()
}

function vhostOf(url: string): string {
  const path = new URL(url).pathname
  return path.length > 1 ? decodeURIComponent(path.slice(1)) : '/'
}

/**
 * Whether an exchange exists, asked on a throwaway channel: a failed passive declare makes the broker
 * close the channel it was asked on, which must not be the one we keep.
 */
async function hasExchange(model: ChannelModel, name: string): Promise<boolean> {
  const probe = await model.createChannel()
  probe.on('error', () => {}) // the expected 404 when the plugin is off
  try {
    await probe.checkExchange(name)
  } catch {
    return false
  }
  await probe.close().catch(() => {})
  return true
}

function headerString(value: unknown): string | undefined {
  if (typeof value === 'string') return value
  if (Buffer.isBuffer(value)) return value.toString('utf8')
  return undefined
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as {code?: unknown}).code
    return code !== undefined && !error.message.includes(String(code)) ? `${error.message} (${String(code)})` : error.message
  }
  return String(error)
}

/** Closes a session's channel, then its connection; see endModel. */
async function endSession(session: Session): Promise<void> {
  session.ended = true
  await endModel(session.model, session.channel)
}

/**
 * Closes a connection politely, and if the broker does not answer within a moment (it is gone but the
 * socket is not), destroys the socket: close() must never leave a socket or a heartbeat timer keeping
 * the process alive.
 *
 * The channel is closed first and its close-ok awaited: that is what guarantees the broker has taken
 * every message published on it. Closing the connection alone can overtake publishes still queued in
 * amqplib, and a leaving instance's last message (its 'leave') would be lost.
 */
async function endModel(model: ChannelModel, channel?: Channel): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const forced = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      destroySocket(model)
      resolve()
    }, 1000)
  })
  const polite = (async () => {
    if (channel) await channel.close().catch(() => {})
    await model.close().catch(() => {})
  })()
  try {
    await Promise.race([polite, forced])
  } finally {
    clearTimeout(timer)
  }
}

function destroySocket(model: ChannelModel): void {
  // amqplib keeps the socket on the underlying connection; not part of its typed API.
  const connection = (model as unknown as {connection?: {stream?: {destroy?: () => void}}}).connection
  try {
    connection?.stream?.destroy?.()
  } catch {
    // already gone
  }
}
