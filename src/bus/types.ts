// The bus: the one way flowkeeper instances talk to each other. A narrow interface so that the election,
// the flow mirror and the CLI can run on RabbitMQ (AmqpBus) or in memory (InMemoryBus, for unit tests)
// alike; test/unit/bus/contract.test.ts pins down what both promise.

/** The topic exchange all instances share; the reference algorithm's name, so both can coexist. */
export const DEFAULT_EXCHANGE = 'SDN_Bridge'

/**
 * Largest message body accepted, in either direction (bytes of JSON). Election and flow messages are a
 * few hundred bytes; a flow-table snapshot of a large switch is the biggest legitimate message. Anything
 * larger is refused on publish and dropped (counted as 'oversize') on receipt, so that one bad sender
 * cannot make every instance parse megabytes.
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024

/** Why a received message was not handed to any handler. */
export type DropReason = 'not_json' | 'oversize' | 'not_object'

export interface DroppedMessage {
  reason: DropReason
  routingKey: string
  /** Size of the body as received. */
  bytes: number
}

export interface DeliveryInfo {
  /** The routing key the message was published with (not the subscription pattern). */
  routingKey: string
  /** Date.now() when the bus received it: lets callers measure delivery delay against a sender's clock. */
  receivedAtMs: number
}

/** Called with the JSON-parsed body, always a plain object; it is not validated beyond that. */
export type MessageHandler = (body: unknown, info: DeliveryInfo) => void

export interface BusStats {
  /** Messages handed to the broker. */
  published: number
  /** Messages received and passed to the handlers (dropped ones excluded). */
  received: number
  /** This bus's own messages that came back through the exchange and were skipped (ownMessages 'skip'). */
  ownSkipped?: number
  /** Messages received but dropped, by reason. */
  dropped: Record<string, number>
}

/**
 * What a caller may do with the bus:
 * - 'full' (default): publish and subscribe; the instances use this.
 * - 'observe': subscribe only; publish() always returns false, so an observer (the `status` command)
 *   can never disturb the cluster it watches.
 * - 'publish': publish only; no queue is declared and subscribe() throws.
 */
export type BusMode = 'full' | 'observe' | 'publish'

export interface BusEvents {
  /**
   * Connected and ready: the exchange, the queue (its server-given name; '' in 'publish' mode) and every
   * subscription are in place. Once per connection, the first included (before start() resolves).
   */
  up: [queueName: string]
  /** The connection was lost. Once per loss; the bus then reconnects until close(). Not emitted by close(). */
  down: [reason: string]
  /**
   * Another client's queue was deleted (its process died or closed). From RabbitMQ's event exchange,
   * milliseconds after the fact; never for a queue of this bus. Nothing is emitted when the broker lacks
   * the event exchange (see eventsAvailable).
   */
  queue_deleted: [queueName: string]
  /** A received message was dropped unread. Also counted in stats.dropped. */
  dropped: [dropped: DroppedMessage]
  /** A subscription handler or an event listener threw; the bus carries on. */
  handler_error: [error: unknown, context: string]
}

/**
 * A topic-routed message bus. Each bus has one queue: messages published with a routing key that matches
 * one of its subscriptions reach it once (even if several patterns match), its own messages included. It
 * assumes nothing about delivery beyond what RabbitMQ gives an exclusive, auto-acknowledged queue: in
 * order per sender, at most once, and lost while disconnected.
 */
export interface Bus {
  /**
   * Connects (trying each URL of the list in turn), declares the exchange and the queue, binds every
   * subscription. Resolves once ready; rejects (BusStartError) when no broker could be reached, or
   * (BusClosedError) when close() came first. After that first success the bus reconnects on its own.
   */
  start(): Promise<void>
  /** The largest message body, in bytes, this bus sends or accepts (larger ones are refused / dropped). */
  readonly maxMessageBytes: number
  /** Connected and ready to publish (and receive). */
  readonly connected: boolean
  /** The current queue's name; undefined while disconnected; a new one after every reconnect. */
  readonly queueName: string | undefined
  /** Whether queue_deleted events are coming (the broker has the event exchange). */
  readonly eventsAvailable: boolean
  /**
   * Sends body as JSON (a JsonText as the text it holds). Returns false, never throws, when it was
   * not sent: disconnected, 'observe' mode, a body that does not serialise to JSON or is larger than
   * the size limit.
   */
  publish(routingKey: string, body: object): boolean
  /**
   * Calls handler for every message whose routing key matches the pattern (topic syntax: words separated
   * by '.', '*' one word, '#' zero or more). Bindings survive reconnects. May be called before start().
   * Throws BusConfigError for an invalid pattern or in 'publish' mode.
   */
  subscribe(pattern: string, handler: MessageHandler): void
  on<E extends keyof BusEvents>(event: E, listener: (...args: BusEvents[E]) => void): this
  off<E extends keyof BusEvents>(event: E, listener: (...args: BusEvents[E]) => void): this
  readonly stats: BusStats
  /** Disconnects for good. Idempotent and awaitable; safe before start() and during a reconnect. */
  close(): Promise<void>
}
