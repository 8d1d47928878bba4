// The election's wire format: versioned JSON objects on routing key c.{domain}.discover.
// Anything that arrives is untrusted: parseElectionMessage checks every field and never throws, so a
// malformed message is dropped (and counted by the caller) instead of killing the election, which is
// what the reference's pickle format did.
import {SettingsError} from './errors.js'

export const ELECTION_PROTOCOL_VERSION = 1

export type Role = 'unknown' | 'master' | 'slave'
export const ROLES: readonly Role[] = ['unknown', 'master', 'slave']

/** "Who is there?": every receiver answers with a keep-alive at once. */
export interface FindMessage {
  v: 1
  msg: 'find'
  domain: string
  inst_id: number
  qid: string
}

/** "I am alive, with this role and term." qid is the sender's queue: it tells our own echo apart. */
export interface KeepAliveMessage {
  v: 1
  msg: 'keep_alive'
  domain: string
  inst_id: number
  role: Role
  qid: string
  term: number
  /**
   * Optional: the sender's count of keep-alives on this queue. Only the sender reads it, when the
   * broker echoes the keep-alive back: it tells which of its keep-alives came back and which were
   * lost (see self-echo.ts). Receivers must not require it.
   */
  seq?: number
}

/** A graceful stop: peers forget the sender at once instead of waiting for its bucket to drain. */
export interface LeaveMessage {
  v: 1
  msg: 'leave'
  domain: string
  inst_id: number
  qid: string
  term: number
}

export type ElectionMessage = FindMessage | KeepAliveMessage | LeaveMessage

export const MIN_INST_ID = 1
export const MAX_INST_ID = 65535
/**
 * Largest term accepted from anyone. The next term after it is at most 65536 higher and still a safe
 * integer (< 2^53), so terms never lose precision, in JSON or as an OpenFlow generation_id.
 */
export const MAX_TERM = Number.MAX_SAFE_INTEGER - 65536
/** AMQP queue names are short strings (at most 255 bytes). */
const MAX_QID_LENGTH = 255
/** Unknown fields are tolerated (a later minor change may add some), but not many nor big ones. */
const MAX_FIELDS = 16
const MAX_EXTRA_STRING_LENGTH = 256

const DOMAIN_PATTERN = /^[A-Za-z0-9_-]{1,64}$/

/** Why `domain` cannot be used as a domain, or undefined when it can. */
export function validateDomain(domain: unknown): string | undefined {
  if (typeof domain !== 'string') return `the domain must be a string, not ${typeof domain}`
  if (!DOMAIN_PATTERN.test(domain)) {
    return `domain ${JSON.stringify(domain.length > 80 ? domain.slice(0, 80) + '…' : domain)} must be 1 to 64 letters, digits, ` +
      "'_' or '-' (it becomes part of the routing key c.{domain}.discover)"
  }
  return undefined
}

/** The routing key of a domain's election messages. Throws a SettingsError for an unusable domain. */
export function discoverRoutingKey(domain: string): string {
  const problem = validateDomain(domain)
  if (problem) throw new SettingsError([{setting: 'domain', message: problem}])
  return `c.${domain}.discover`
}

export type ParseResult = {ok: true, message: ElectionMessage} | {ok: false, reason: string}

const KNOWN_FIELDS: Record<ElectionMessage['msg'], readonly string[]> = {
  find: ['v', 'msg', 'domain', 'inst_id', 'qid'],
  keep_alive: ['v', 'msg', 'domain', 'inst_id', 'role', 'qid', 'term', 'seq'],
  leave: ['v', 'msg', 'domain', 'inst_id', 'qid', 'term'],
}

/**
 * Validates a received body (a JSON-parsed object, as the bus delivers it) and returns a fresh message
 * holding only the known fields. Reasons are short snake_case words, fit to count by.
 */
export function parseElectionMessage(raw: unknown, expectedDomain: string): ParseResult {
  try {
    return parse(raw, expectedDomain)
  } catch {
    // A getter that throws, a revoked proxy: whatever it is, it is not a message.
    return {ok: false, reason: 'unreadable'}
  }
}

function parse(raw: unknown, expectedDomain: string): ParseResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return fail('not_object')
  const body = raw as Record<string, unknown>
  const keys = Object.keys(body)
  if (keys.length > MAX_FIELDS) return fail('too_many_fields')

  if (body.v !== ELECTION_PROTOCOL_VERSION) return fail(typeof body.v === 'number' ? 'unsupported_version' : 'bad_version')
  const msg = body.msg
  if (msg !== 'find' && msg !== 'keep_alive' && msg !== 'leave') return fail('unknown_msg')

  for (const key of keys) {
    if (KNOWN_FIELDS[msg].includes(key)) continue
    const value = body[key]
    const small = value === null || typeof value === 'number' || typeof value === 'boolean' ||
      (typeof value === 'string' && value.length <= MAX_EXTRA_STRING_LENGTH)
    if (!small) return fail('bad_extra_field')
  }

  if (typeof body.domain !== 'string' || validateDomain(body.domain) !== undefined) return fail('bad_domain')
  if (body.domain !== expectedDomain) return fail('other_domain')
  const instId = body.inst_id
  if (!isIntegerIn(instId, MIN_INST_ID, MAX_INST_ID)) return fail('bad_inst_id')
  const qid = body.qid
  if (typeof qid !== 'string' || qid.length === 0 || qid.length > MAX_QID_LENGTH) return fail('bad_qid')

  const base = {v: ELECTION_PROTOCOL_VERSION, domain: body.domain, inst_id: instId, qid} as const
  if (msg === 'find') return {ok: true, message: {...base, msg}}

  const term = body.term
  if (!isIntegerIn(term, 0, MAX_TERM)) return fail('bad_term')
  if (msg === 'leave') return {ok: true, message: {...base, msg, term}}

  const role = body.role
  if (typeof role !== 'string' || !(ROLES as readonly string[]).includes(role)) return fail('bad_role')
  const seq = body.seq
  if (seq === undefined) return {ok: true, message: {...base, msg, role: role as Role, term}}
  if (!isIntegerIn(seq, 0, Number.MAX_SAFE_INTEGER)) return fail('bad_seq')
  return {ok: true, message: {...base, msg, role: role as Role, term, seq}}
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max
}

function fail(reason: string): ParseResult {
  return {ok: false, reason}
}
