// The bus's wire rules, shared by the AMQP and in-memory implementations so both behave the same:
// JSON bodies with a size limit, topic-pattern matching, subscription dispatch, safe event emission.
import type {EventEmitter} from 'node:events'
import {BusConfigError} from './errors.js'
import type {DeliveryInfo, DropReason, MessageHandler} from './types.js'

/**
 * A body its sender already wrote as JSON text (a JSON object), published as it is: for a sender
 * that builds large messages from parts it serialised anyway, rather than objects serialised again.
 */
export class JsonText {
  constructor(readonly text: string) {}
}

/** body as JSON bytes, or undefined when it does not serialise or exceeds maxBytes. Never throws. */
export function encodeBody(body: object, maxBytes: number): Buffer | undefined {
  let json: string | undefined
  try {
    json = body instanceof JsonText ? body.text : JSON.stringify(body)
  } catch {
    return undefined // cycles, BigInt, a throwing toJSON
  }
  if (typeof json !== 'string') return undefined
  const bytes = Buffer.from(json, 'utf8')
  return bytes.length <= maxBytes ? bytes : undefined
}

export type Decoded = {ok: true, body: Record<string, unknown>} | {ok: false, reason: DropReason}

/** Parses a received body: size first (an oversize body is never parsed), then JSON, then "an object". */
export function decodeBody(content: Buffer, maxBytes: number): Decoded {
  if (content.length > maxBytes) return {ok: false, reason: 'oversize'}
  let value: unknown
  try {
    value = JSON.parse(content.toString('utf8'))
  } catch {
    return {ok: false, reason: 'not_json'}
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return {ok: false, reason: 'not_object'}
  return {ok: true, body: value as Record<string, unknown>}
}

/** RabbitMQ's limit on routing keys and binding keys (an AMQP short string). */
const MAX_KEY_BYTES = 255

/** Why a topic binding pattern is unusable, or undefined when it is fine. */
export function patternProblem(pattern: string): string | undefined {
  if (typeof pattern !== 'string') return 'must be a string'
  if (Buffer.byteLength(pattern, 'utf8') > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} bytes`
  return undefined
}

/**
 * AMQP topic matching: words separated by '.', '*' matches exactly one word, '#' zero or more words.
 * Same semantics as RabbitMQ's topic exchange (so the in-memory bus routes like the broker).
 */
export function topicMatches(pattern: string, routingKey: string): boolean {
  return matchWords(pattern.split('.'), 0, routingKey.split('.'), 0)
}

function matchWords(p: string[], i: number, k: string[], j: number): boolean {
  while (i < p.length) {
    const word = p[i]
    if (word === '#') {
      // Collapse runs of '#', then try every split point for what the '#' swallows.
      while (i + 1 < p.length && p[i + 1] === '#') i++
      if (i + 1 === p.length) return true
      for (let skip = j; skip <= k.length; skip++) {
        if (matchWords(p, i + 1, k, skip)) return true
      }
      return false
    }
    if (j >= k.length) return false
    if (word !== '*' && word !== k[j]) return false
    i++
    j++
  }
  return j === k.length
}

/** Subscriptions of one bus: patterns (each bound once) and the handlers behind them. */
export class Subscriptions {
  private readonly byPattern = new Map<string, MessageHandler[]>()

  /** Adds a handler; returns true when the pattern is new (it needs a binding). */
  add(pattern: string, handler: MessageHandler): boolean {
    const problem = patternProblem(pattern)
    if (problem) throw new BusConfigError(`subscribe: pattern ${JSON.stringify(pattern)} ${problem}`)
    if (typeof handler !== 'function') throw new BusConfigError('subscribe: handler must be a function')
    const handlers = this.byPattern.get(pattern)
    if (handlers) {
      handlers.push(handler)
      return false
    }
    this.byPattern.set(pattern, [handler])
    return true
  }

  patterns(): string[] {
    return [...this.byPattern.keys()]
  }

  /**
   * Calls every handler whose pattern matches, once each. A handler that throws does not stop the others;
   * its error goes to onError. Returns how many handlers were called.
   */
  dispatch(body: unknown, info: DeliveryInfo, onError: (error: unknown, pattern: string) => void): number {
    let called = 0
    for (const [pattern, handlers] of this.byPattern) {
      if (!topicMatches(pattern, info.routingKey)) continue
      for (const handler of handlers) {
        called++
        try {
          handler(body, info)
        } catch (error) {
          onError(error, pattern)
        }
      }
    }
    return called
  }
}

/**
 * Reconnect delay for attempt n (0-based): exponential from initialMs, capped at maxMs, with "equal
 * jitter" (between half and all of the step) so that instances cut off together do not reconnect in
 * lockstep, yet none waits longer than maxMs.
 */
export function backoffDelayMs(attempt: number, opts: {initialMs: number, maxMs: number, random?: () => number}): number {
  const step = Math.min(opts.maxMs, opts.initialMs * 2 ** Math.min(attempt, 30))
  const random = opts.random ?? Math.random
  return Math.round(step / 2 + random() * (step / 2))
}

/** A URL with its password masked, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password) parsed.password = '***'
    return parsed.toString()
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@')
  }
}

/**
 * Emits a bus event without letting a listener's exception escape into amqplib or a bus's own
 * state: it is reported as 'handler_error' instead (and a throwing handler_error listener is
 * ignored, there being nobody left to tell).
 */
export function emitSafely(emitter: EventEmitter, event: string, args: unknown[]): void {
  try {
    emitter.emit(event, ...args)
  } catch (error) {
    if (event === 'handler_error') return
    try {
      emitter.emit('handler_error', error, `listener of '${event}'`)
    } catch {
      // nobody left to tell
    }
  }
}
