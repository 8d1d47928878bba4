// The wire format of flow requests forwarded from a slave to the master over the bus: versioned JSON,
// validated on receipt (never trusted: any client of the broker may publish anything), and the typed
// errors of src/flows/programmer.ts carried across so that the slave re-creates the master's error.
//
// A batch (POST /stats/flowentry/<command> with a JSON array) goes as one flow-rpc-batch-request
// carrying its entries in order, answered by one flow-rpc-batch-reply with one outcome per entry in
// the same order (or one error for the whole batch when the receiver did not act on it: NotMaster,
// BadRequest). A batch whose JSON would exceed the bus's message size is split by the sender into
// several batch requests, sent in order (splitBatch).
//
// Routing keys (topic exchange, one word per '.'):
//   c.{domain}.flows.rpc.req.{instId}   a request to the master whose election id is instId
//   c.{domain}.flows.rpc.reply.{node}   the answer, to the requesting gateway's own node name
// `node` is a random name each gateway draws at construction: it does not change when the election
// regenerates an instance id, and nobody else's replies reach it. Election (c.{domain}.discover) and
// backup (c.{domain}.flows.backup / ack ...) keys never match these patterns.
import {JsonText} from '../bus/codec.js'
import type {FlowModMessage} from '../openflow/codec.js'
import {
  JsonShapeError, instructionToJson, instructionsFromJson, isRecord, matchFromJson, matchToJson, u64String, uint,
  type InstructionJson, type OxmFieldJson,
} from '../flows/json.js'
import {
  FlowError, NoMasterError, ProgramTimeoutError, SwitchRefusedError, UnknownSwitchError, type ProgramResult,
} from '../flows/programmer.js'
import {FlowRequestError} from '../flows/ofctl-rest.js'

/** Carried as `v` by every RPC message; a receiver drops (and counts) any other. */
export const FLOW_RPC_VERSION = 1

export function rpcRequestKey(domain: string, instId: number): string {
  return `c.${domain}.flows.rpc.req.${instId}`
}

export function rpcReplyKey(domain: string, node: string): string {
  return `c.${domain}.flows.rpc.reply.${node}`
}

/** A gateway's node name, a correlation id: what may go into a routing key word or a map key. */
const TOKEN_RE = /^[A-Za-z0-9_-]{1,64}$/
const MAX_MESSAGE_LENGTH = 1024
const MAX_CODE_LENGTH = 128
const MAX_TIMEOUT_MS = 10 * 60_000

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

export interface FlowRpcRequest {
  type: 'flow-rpc-request'
  domain: string
  /** Correlation id: the reply carries it back. */
  id: string
  /** The requesting gateway's node name: the reply goes to rpcReplyKey(domain, from). */
  from: string
  /** The requester's election id (for logs only). */
  fromInst: number
  /** The master it is meant for (election id) and the term the requester saw it in. */
  to: number
  term: number
  dpid: bigint
  /** How long the master may take (its share of the caller's timeout). */
  timeoutMs: number
  flowMod: FlowModMessage
}

/**
 * An error as it crosses the bus. `kind` names the class of src/flows/programmer.ts, or:
 * - 'NotMaster': the receiver is not (or no longer) master and did not act on the request;
 * - 'BadRequest': the receiver could not read the request (a version skew); `field` says where;
 * - 'Internal': anything else the master's flow service threw (REST: 500).
 */
export type FlowRpcErrorKind =
  | 'NoMasterError' | 'UnknownSwitchError' | 'SwitchRefusedError' | 'ProgramTimeoutError'
  | 'NotMaster' | 'BadRequest' | 'Internal'

export interface FlowRpcError {
  kind: FlowRpcErrorKind
  message: string
  /** SwitchRefusedError: the OpenFlow error's name. */
  code?: string
  /** UnknownSwitchError: the datapath id, 16 hex digits. */
  dpid?: string
  /** BadRequest: the path of the value that could not be read. */
  field?: string
}

export interface FlowRpcReply {
  type: 'flow-rpc-reply'
  domain: string
  id: string
  /** The answering instance's election id. */
  from: number
  result?: ProgramResult
  error?: FlowRpcError
}

/** Several flow-mods, to be submitted by the master in one turn of its event loop, in order. */
export interface FlowRpcBatchRequest {
  type: 'flow-rpc-batch-request'
  domain: string
  id: string
  from: string
  fromInst: number
  to: number
  term: number
  timeoutMs: number
  entries: Array<{dpid: bigint, flowMod: FlowModMessage}>
}

/** One entry's outcome in a batch reply. */
export type FlowRpcOutcome = {result: ProgramResult} | {error: FlowRpcError}

/**
 * The answer to a batch: `results`, one per entry in order; or `error` when the receiver acted on
 * none of them (NotMaster, BadRequest). Exactly one of the two.
 */
export interface FlowRpcBatchReply {
  type: 'flow-rpc-batch-reply'
  domain: string
  id: string
  from: number
  results?: FlowRpcOutcome[]
  error?: FlowRpcError
}

export type FlowRpcMessage = FlowRpcRequest | FlowRpcReply | FlowRpcBatchRequest | FlowRpcBatchReply

/** Why a message was dropped: short words, fit to count by. */
export type FlowRpcDropReason = 'not_object' | 'unknown_version' | 'unknown_type' | 'foreign_domain' | 'malformed'

export type ParsedFlowRpc =
  | {ok: true, message: FlowRpcMessage}
  | {
    ok: false
    reason: FlowRpcDropReason
    detail: string
    /** A request of our version whose envelope is readable but whose body is not: it can be told why. */
    replyTo?: {id: string, from: string, batch: boolean}
  }

// ---------------------------------------------------------------------------------------------
// FLOW_MOD as JSON
// ---------------------------------------------------------------------------------------------

export interface FlowModJson {
  cookie: string
  cookieMask: string
  tableId: number
  command: number
  idleTimeout: number
  hardTimeout: number
  priority: number
  bufferId: number
  outPort: number
  outGroup: number
  flags: number
  match: OxmFieldJson[]
  instructions: InstructionJson[]
}

export function flowModToJson(fm: FlowModMessage): FlowModJson {
  return {
    cookie: fm.cookie.toString(),
    cookieMask: fm.cookieMask.toString(),
    tableId: fm.tableId,
    command: fm.command,
    idleTimeout: fm.idleTimeout,
    hardTimeout: fm.hardTimeout,
    priority: fm.priority,
    bufferId: fm.bufferId,
    outPort: fm.outPort,
    outGroup: fm.outGroup,
    flags: fm.flags,
    match: matchToJson(fm.match),
    instructions: fm.instructions.map(instructionToJson),
  }
}

/** Reads a FLOW_MOD written by flowModToJson. Throws JsonShapeError (with the path) and nothing else. */
export function flowModFromJson(raw: unknown, path = 'flowMod'): FlowModMessage {
  if (!isRecord(raw)) throw new JsonShapeError(path, 'expected an object')
  const command = uint(raw.command, 8, `${path}.command`)
  if (command > 4) throw new JsonShapeError(`${path}.command`, 'expected an OFPFC_* command 0..4')
  return {
    type: 'FLOW_MOD',
    xid: 0,
    cookie: u64String(raw.cookie, `${path}.cookie`),
    cookieMask: u64String(raw.cookieMask, `${path}.cookieMask`),
    tableId: uint(raw.tableId, 8, `${path}.tableId`),
    command,
    idleTimeout: uint(raw.idleTimeout, 16, `${path}.idleTimeout`),
    hardTimeout: uint(raw.hardTimeout, 16, `${path}.hardTimeout`),
    priority: uint(raw.priority, 16, `${path}.priority`),
    bufferId: uint(raw.bufferId, 32, `${path}.bufferId`),
    outPort: uint(raw.outPort, 32, `${path}.outPort`),
    outGroup: uint(raw.outGroup, 32, `${path}.outGroup`),
    flags: uint(raw.flags, 16, `${path}.flags`),
    match: matchFromJson(raw.match, `${path}.match`),
    instructions: instructionsFromJson(raw.instructions, `${path}.instructions`),
  }
}

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

function dpidHex(dpid: bigint): string {
  return dpid.toString(16).padStart(16, '0')
}

export function requestToJson(r: Omit<FlowRpcRequest, 'type'>): Record<string, unknown> {
  return {
    v: FLOW_RPC_VERSION, type: 'flow-rpc-request', domain: r.domain, id: r.id, from: r.from, fromInst: r.fromInst,
    to: r.to, term: r.term, dpid: dpidHex(r.dpid), timeoutMs: r.timeoutMs, flowMod: flowModToJson(r.flowMod),
  }
}

export function replyToJson(r: Omit<FlowRpcReply, 'type'>): Record<string, unknown> {
  const out: Record<string, unknown> = {v: FLOW_RPC_VERSION, type: 'flow-rpc-reply', domain: r.domain, id: r.id, from: r.from}
  if (r.error) out.error = r.error
  else out.result = r.result
  return out
}

/** One entry of a batch request as it goes on the wire. */
export function batchEntryToJson(e: {dpid: bigint, flowMod: FlowModMessage}): Record<string, unknown> {
  return {dpid: dpidHex(e.dpid), flowMod: flowModToJson(e.flowMod)}
}

/**
 * A batch request as JSON text, its entries given as the JSON text splitBatch wrote (and measured)
 * for each: they are spliced in, not serialised a second time.
 */
export function batchRequestText(r: Omit<FlowRpcBatchRequest, 'type' | 'entries'>, entries: readonly string[]): JsonText {
  const head = JSON.stringify({
    v: FLOW_RPC_VERSION, type: 'flow-rpc-batch-request', domain: r.domain, id: r.id, from: r.from, fromInst: r.fromInst,
    to: r.to, term: r.term, timeoutMs: r.timeoutMs,
  })
  return new JsonText(`${head.slice(0, -1)},"entries":[${entries.join(',')}]}`)
}

/** Room left in a request for the envelope (ids, domain, numbers): generous, it is a few hundred bytes. */
export const ENVELOPE_BYTES = 1024
/**
 * Of the bus's message size, what one entry of a batch may cost in the reply at most (an outcome
 * with its error message clipped, see batchReplyToJson): it caps the entries per request so that
 * the reply always fits too.
 */
const REPLY_BYTES_PER_ENTRY = 512

export interface SplitBatch {
  /** Indices into the items, per request, in order; each request's entries fit maxBytes together. */
  chunks: number[][]
  /** Each entry's JSON text (batchEntryToJson's), by index: what batchRequestText takes. */
  encoded: string[]
  /** Indices of items too large to go even alone. */
  tooLarge: number[]
}

/**
 * Splits a batch into requests whose JSON fits `maxBytes` (the bus's limit), in order: a request
 * holds as many consecutive entries as fit, and at most maxBytes / 512 of them so that its reply
 * fits as well.
 */
export function splitBatch(items: ReadonlyArray<{dpid: bigint, flowMod: FlowModMessage, text?: string}>, maxBytes: number): SplitBatch {
  const budget = maxBytes - ENVELOPE_BYTES
  const maxEntries = Math.max(1, Math.floor(maxBytes / REPLY_BYTES_PER_ENTRY))
  const chunks: number[][] = []
  const encoded: string[] = []
  const tooLarge: number[] = []
  let current: number[] = []
  let bytes = 0
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!
    const text = item.text ?? JSON.stringify(batchEntryToJson(item)) // written already by a single request (FlowGateway.program)
    encoded.push(text)
    const size = Buffer.byteLength(text) + 1 // and a comma
    if (size > budget) {
      tooLarge.push(i)
      continue
    }
    if (current.length > 0 && (bytes + size > budget || current.length >= maxEntries)) {
      chunks.push(current)
      current = []
      bytes = 0
    }
    current.push(i)
    bytes += size
  }
  if (current.length > 0) chunks.push(current)
  return {chunks, encoded, tooLarge}
}

/**
 * A batch reply that fits `maxBytes`: error messages are clipped shorter and shorter until it does
 * (a batch of failures with long messages must still get its answer through).
 */
export function batchReplyToJson(r: Omit<FlowRpcBatchReply, 'type'>, maxBytes = Number.POSITIVE_INFINITY): Record<string, unknown> {
  const write = (shorten: (e: FlowRpcError) => FlowRpcError) => {
    const out: Record<string, unknown> = {v: FLOW_RPC_VERSION, type: 'flow-rpc-batch-reply', domain: r.domain, id: r.id, from: r.from}
    if (r.error) out.error = shorten(r.error)
    else out.results = (r.results ?? []).map((o) => ('error' in o ? {error: shorten(o.error)} : o))
    return out
  }
  const fits = (o: object) => Buffer.byteLength(JSON.stringify(o)) <= maxBytes
  let out = write((e) => e)
  if (maxBytes === Number.POSITIVE_INFINITY || fits(out)) return out
  out = write((e) => ({...e, message: clip(e.message, 64), ...(e.code !== undefined ? {code: clip(e.code, 48)} : {}), ...(e.field !== undefined ? {field: clip(e.field, 48)} : {})}))
  if (fits(out)) return out
  return write((e) => ({kind: e.kind, message: `${e.kind} (message dropped: the reply was too large)`}))
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s
}

/** A thrown value as it goes back to the requester. */
export function errorToRpc(error: unknown): FlowRpcError {
  const message = clip(error instanceof Error ? error.message : String(error), MAX_MESSAGE_LENGTH)
  if (error instanceof UnknownSwitchError) return {kind: 'UnknownSwitchError', message, dpid: dpidHex(error.dpid)}
  if (error instanceof SwitchRefusedError) return {kind: 'SwitchRefusedError', message, code: clip(error.code, MAX_CODE_LENGTH)}
  if (error instanceof ProgramTimeoutError) return {kind: 'ProgramTimeoutError', message}
  // The flow service's InstanceNotMasterError: its mastership ended before it sent anything.
  if (error instanceof NoMasterError && (error as Error).name === 'InstanceNotMasterError') return {kind: 'NotMaster', message}
  if (error instanceof NoMasterError) return {kind: 'NoMasterError', message}
  if (error instanceof FlowRequestError) return {kind: 'BadRequest', message, field: clip(error.field, MAX_CODE_LENGTH)}
  return {kind: 'Internal', message}
}

/** The flow service failed in a way the contract does not name (a bug, most likely). REST: 500. */
export class RemoteInternalError extends FlowError {
  override readonly name = 'RemoteInternalError'
  readonly status = 500
  readonly retriable = false
}

/**
 * The error a slave's caller sees for an error reply: the same class the master's flow service
 * threw, with its message. 'NotMaster' is handled by the gateway before it gets here.
 */
export function errorFromRpc(e: FlowRpcError, dpid: bigint, masterId: number): Error {
  switch (e.kind) {
    case 'UnknownSwitchError': return new UnknownSwitchError(e.dpid !== undefined ? BigInt(`0x${e.dpid}`) : dpid, e.message)
    case 'SwitchRefusedError': return new SwitchRefusedError(e.message, e.code ?? 'unknown')
    case 'ProgramTimeoutError': return new ProgramTimeoutError(e.message)
    case 'NoMasterError':
    case 'NotMaster': return new NoMasterError(e.message)
    case 'BadRequest': return new FlowRequestError(e.field ?? 'request', `master ${masterId} could not read it: ${e.message}`)
    case 'Internal': return new RemoteInternalError(`master ${masterId} failed: ${e.message}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Reading (validating)
// ---------------------------------------------------------------------------------------------

const ERROR_KINDS = new Set<FlowRpcErrorKind>([
  'NoMasterError', 'UnknownSwitchError', 'SwitchRefusedError', 'ProgramTimeoutError', 'NotMaster', 'BadRequest', 'Internal',
])

function token(v: unknown, path: string): string {
  if (typeof v !== 'string' || !TOKEN_RE.test(v)) throw new JsonShapeError(path, 'expected 1 to 64 letters, digits, _ or -')
  return v
}

function safeCount(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new JsonShapeError(path, 'expected a non-negative safe integer')
  return v
}

function instId(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) throw new JsonShapeError(path, 'expected an instance id 1..65535')
  return v
}

function text(v: unknown, max: number, path: string): string {
  if (typeof v !== 'string' || v.length > max) throw new JsonShapeError(path, `expected a string of at most ${max} characters`)
  return v
}

function parseResult(raw: unknown): ProgramResult {
  if (!isRecord(raw)) throw new JsonShapeError('result', 'expected an object')
  return {
    masterId: instId(raw.masterId, 'result.masterId'),
    term: safeCount(raw.term, 'result.term'),
    version: safeCount(raw.version, 'result.version'),
  }
}

function parseError(raw: unknown): FlowRpcError {
  if (!isRecord(raw)) throw new JsonShapeError('error', 'expected an object')
  const kind = raw.kind
  if (typeof kind !== 'string' || !ERROR_KINDS.has(kind as FlowRpcErrorKind)) throw new JsonShapeError('error.kind', 'unknown error kind')
  const out: FlowRpcError = {kind: kind as FlowRpcErrorKind, message: text(raw.message, MAX_MESSAGE_LENGTH, 'error.message')}
  if (raw.code !== undefined) out.code = text(raw.code, MAX_CODE_LENGTH, 'error.code')
  if (raw.field !== undefined) out.field = text(raw.field, MAX_CODE_LENGTH, 'error.field')
  if (raw.dpid !== undefined) {
    if (typeof raw.dpid !== 'string' || !/^[0-9a-f]{16}$/.test(raw.dpid)) throw new JsonShapeError('error.dpid', 'expected 16 lower-case hex digits')
    out.dpid = raw.dpid
  }
  return out
}

/**
 * Validates a received body (the bus hands over a JSON-parsed object). Never throws: a message that
 * cannot be used gives a reason to count and a detail to log.
 */
export function parseFlowRpcMessage(raw: unknown, expectedDomain: string): ParsedFlowRpc {
  try {
    return parse(raw, expectedDomain)
  } catch (error) {
    // A getter that throws, a revoked proxy: whatever it is, it is not a message.
    return {ok: false, reason: 'malformed', detail: `unreadable: ${String(error)}`}
  }
}

function parse(raw: unknown, expectedDomain: string): ParsedFlowRpc {
  if (!isRecord(raw)) return {ok: false, reason: 'not_object', detail: 'not a JSON object'}
  if (raw.v !== FLOW_RPC_VERSION) return {ok: false, reason: 'unknown_version', detail: `version ${clip(JSON.stringify(raw.v) ?? 'none', 40)}`}
  if (raw.type !== 'flow-rpc-request' && raw.type !== 'flow-rpc-reply' && raw.type !== 'flow-rpc-batch-request' && raw.type !== 'flow-rpc-batch-reply') {
    return {ok: false, reason: 'unknown_type', detail: `type ${clip(JSON.stringify(raw.type) ?? 'none', 40)}`}
  }
  if (raw.domain !== expectedDomain) {
    return {ok: false, reason: 'foreign_domain', detail: `domain ${clip(JSON.stringify(raw.domain) ?? 'none', 80)}`}
  }
  let id: string
  try {
    id = token(raw.id, 'id')
  } catch (error) {
    return malformed(error)
  }
  if (raw.type === 'flow-rpc-reply') {
    try {
      const from = instId(raw.from, 'from')
      const hasError = raw.error !== undefined
      if (hasError === (raw.result !== undefined)) throw new JsonShapeError('result', 'expected exactly one of result and error')
      const message: FlowRpcReply = {type: 'flow-rpc-reply', domain: expectedDomain, id, from}
      if (hasError) message.error = parseError(raw.error)
      else message.result = parseResult(raw.result)
      return {ok: true, message}
    } catch (error) {
      return malformed(error)
    }
  }
  if (raw.type === 'flow-rpc-batch-reply') {
    try {
      const from = instId(raw.from, 'from')
      const hasError = raw.error !== undefined
      if (hasError === (raw.results !== undefined)) throw new JsonShapeError('results', 'expected exactly one of results and error')
      const message: FlowRpcBatchReply = {type: 'flow-rpc-batch-reply', domain: expectedDomain, id, from}
      if (hasError) message.error = parseError(raw.error)
      else message.results = parseOutcomes(raw.results)
      return {ok: true, message}
    } catch (error) {
      return malformed(error)
    }
  }
  let from: string
  try {
    from = token(raw.from, 'from')
  } catch (error) {
    return malformed(error)
  }
  if (raw.type === 'flow-rpc-batch-request') {
    try {
      return {ok: true, message: parseBatchRequest(raw, expectedDomain, id, from)}
    } catch (error) {
      return {...malformed(error), replyTo: {id, from, batch: true}}
    }
  }
  try {
    if (typeof raw.dpid !== 'string' || !/^[0-9a-f]{16}$/.test(raw.dpid)) throw new JsonShapeError('dpid', 'expected 16 lower-case hex digits')
    const timeoutMs = safeCount(raw.timeoutMs, 'timeoutMs')
    if (timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) throw new JsonShapeError('timeoutMs', `expected 1..${MAX_TIMEOUT_MS}`)
    const message: FlowRpcRequest = {
      type: 'flow-rpc-request',
      domain: expectedDomain,
      id,
      from,
      fromInst: instId(raw.fromInst, 'fromInst'),
      to: instId(raw.to, 'to'),
      term: safeCount(raw.term, 'term'),
      dpid: BigInt(`0x${raw.dpid}`),
      timeoutMs,
      flowMod: flowModFromJson(raw.flowMod),
    }
    return {ok: true, message}
  } catch (error) {
    return {...malformed(error), replyTo: {id, from, batch: false}}
  }
}

/** At most this many entries in one batch request or reply (the bus's size limit binds long before). */
export const MAX_RPC_BATCH_ENTRIES = 100_000

function dpidField(v: unknown, path: string): bigint {
  if (typeof v !== 'string' || !/^[0-9a-f]{16}$/.test(v)) throw new JsonShapeError(path, 'expected 16 lower-case hex digits')
  return BigInt(`0x${v}`)
}

function timeout(v: unknown, path: string): number {
  const timeoutMs = safeCount(v, path)
  if (timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) throw new JsonShapeError(path, `expected 1..${MAX_TIMEOUT_MS}`)
  return timeoutMs
}

function entryList(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_RPC_BATCH_ENTRIES) {
    throw new JsonShapeError(path, `expected a list of 1..${MAX_RPC_BATCH_ENTRIES} entries`)
  }
  return v
}

function parseBatchRequest(raw: Record<string, unknown>, domain: string, id: string, from: string): FlowRpcBatchRequest {
  const timeoutMs = timeout(raw.timeoutMs, 'timeoutMs')
  const entries = entryList(raw.entries, 'entries').map((e, i) => {
    const path = `entries[${i}]`
    if (!isRecord(e)) throw new JsonShapeError(path, 'expected an object {dpid, flowMod}')
    return {dpid: dpidField(e.dpid, `${path}.dpid`), flowMod: flowModFromJson(e.flowMod, `${path}.flowMod`)}
  })
  return {
    type: 'flow-rpc-batch-request', domain, id, from,
    fromInst: instId(raw.fromInst, 'fromInst'), to: instId(raw.to, 'to'), term: safeCount(raw.term, 'term'), timeoutMs, entries,
  }
}

function parseOutcomes(raw: unknown): FlowRpcOutcome[] {
  return entryList(raw, 'results').map((o, i) => {
    if (!isRecord(o) || (o.error === undefined) === (o.result === undefined)) {
      throw new JsonShapeError(`results[${i}]`, 'expected an object with exactly one of result and error')
    }
    try {
      return o.error !== undefined ? {error: parseError(o.error)} : {result: parseResult(o.result)}
    } catch (error) {
      if (error instanceof JsonShapeError) throw new JsonShapeError(`results[${i}].${error.path}`, error.reason)
      throw error
    }
  })
}

function malformed(error: unknown): {ok: false, reason: 'malformed', detail: string} {
  if (error instanceof JsonShapeError) return {ok: false, reason: 'malformed', detail: error.message}
  throw error
}
