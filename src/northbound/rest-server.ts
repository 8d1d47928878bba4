// The REST API of one instance: Ryu ofctl_rest's URLs and JSON where Ryu has them (so scripts
// written for Ryu work unchanged), plus /cluster, /switches and /flows for what Ryu does not have.
// Bound to 127.0.0.1 unless told otherwise; an optional bearer token guards every route.
//
// A JSON array of Ryu flow entries posted to /stats/flowentry/<command> is a batch (flowkeeper's
// extension; a single object behaves exactly as in Ryu): every entry is validated before any is
// sent, then all are submitted in one turn of the event loop, in order, so the master's flow
// service sends them to each switch as one batch with one barrier; one result per entry comes back.
//
// Flow changes go through the instance's FlowProgrammer (its FlowGateway: the local flow service on
// the master, the master over the bus on a slave), so any instance accepts them. Flow reads come
// from the switch itself through the local switch registry: slaves are connected to every switch
// too, and reading is allowed in the SLAVE role.
import Fastify, {type FastifyInstance, type FastifyReply, type FastifyRequest} from 'fastify'
import {timingSafeEqual} from 'node:crypto'
import type {Role} from '../election/messages.js'
import {
  FlowRequestError, clearFlowsFlowMod, formatFlowStatsReply, parseDpid, parseFlowEntryRequest, parseFlowStatsFilter, toRyuJson,
  type FlowEntryCommand,
} from '../flows/ofctl-rest.js'
import {formatOfctlFlow, parseOfctlFlow, type OfctlCommand} from '../flows/ofctl-syntax.js'
import {
  NoMasterError, UnknownSwitchError, programEach,
  type FlowProgrammer, type ProgramItem, type ProgramOutcome, type ProgramResult,
} from '../flows/programmer.js'
import type {FlowServiceStats} from '../flows/service/flow-service.js'
import type {Logger} from '../log.js'
import type {FlowStats, FlowStatsFilter} from '../openflow/codec.js'
import {formatDpid} from '../openflow/connection.js'
import type {SwitchInfo} from '../openflow/switch-registry.js'
import {httpError} from './http-errors.js'
import {JsonBodyError, parseJsonBody} from './json-body.js'

/** What flow status /cluster shows: the flow service's statistics (FlowService.stats()). */
export type FlowStatusProvider = () => FlowServiceStats | Promise<FlowServiceStats>

/**
 * /cluster's "flows": per device the table's (term, version) and, on the master, each live slave's
 * mirror: the version it acknowledged (null: none yet), how far behind it is, and whether its acks
 * are late. On a slave, its own mirror's position.
 */
export function clusterFlows(s: FlowServiceStats, gateway?: GatewayCounters): Record<string, unknown> {
  const out: Record<string, unknown> = {
    role: s.role,
    // The term this instance programs the switches in. A slave's flow service keeps the term it
    // became slave in, which says nothing once another master took over: each device's `term`
    // says whose table its mirror holds.
    term: s.role === 'master' ? s.term : null,
    live_slaves: s.liveSlaves,
    devices: s.devices.map((d) => {
      const out: Record<string, unknown> = {dpid: d.dpid, switch_role: d.switchRole ?? null, term: d.term ?? null, version: d.version, flows: d.size}
      if (d.mirrors) out.mirrors = d.mirrors.map((m) => ({inst_id: m.slave, version: m.acked ?? null, lag: m.lag, late: m.late}))
      if (d.ready !== undefined) out.ready = d.ready
      if (d.queued !== undefined) out.queued = d.queued
      if (d.buffered !== undefined) out.buffered = d.buffered
      if (d.awaitingSnapshot !== undefined) out.awaiting_snapshot = d.awaitingSnapshot
      if (d.trusted !== undefined) out.trusted = d.trusted
      if (d.trust !== undefined) out.trust = d.trust
      return out
    }),
    // The flow service's counters (snapshots, deltas, acks, malformed/dropped messages, takeovers,
    // audits and repairs), snake_case.
    counters: snakeKeys(s.counters ?? {}),
  }
  if (gateway) {
    out.gateway = {
      local: gateway.local, forwarded: gateway.forwarded, resent: gateway.resent, served: gateway.served,
      unknown_replies: gateway.unknownReplies, dropped: {...gateway.dropped},
      ...(gateway.forwardedBatches !== undefined ? {forwarded_batches: gateway.forwardedBatches} : {}),
      ...(gateway.servedBatches !== undefined ? {served_batches: gateway.servedBatches} : {}),
      ...(gateway.coalesced !== undefined ? {coalesced: gateway.coalesced} : {}),
    }
  }
  return out
}

/** The counters of the instance's FlowGateway (requests served locally or forwarded, RPC messages dropped). */
export interface GatewayCounters {
  local: number
  forwarded: number
  resent: number
  served: number
  unknownReplies: number
  /** Batch RPC messages sent and served (their entries count in forwarded and served). */
  forwardedBatches?: number
  servedBatches?: number
  /** Single requests forwarded together with others of the same turn of the event loop, as a batch RPC. */
  coalesced?: number
  /** RPC messages dropped unread, by reason. */
  dropped: Record<string, number>
}

function snakeKeys(o: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v]))
}

/** The gateway's counters, when the flow programmer is a FlowGateway (it has `stats`). */
function gatewayCounters(p: unknown): GatewayCounters | undefined {
  const st = (p as {stats?: unknown} | undefined)?.stats as Partial<GatewayCounters> | undefined
  return st && typeof st === 'object' && typeof st.forwarded === 'number' && typeof st.dropped === 'object' ? st as GatewayCounters : undefined
}

/** What the API reads of an instance (src/controller/instance.ts's Instance satisfies it). */
export interface RestInstance {
  readonly domain: string
  readonly election: {
    readonly instId: number
    readonly role: Role
    readonly term: number
    readonly election: {readonly masterId: number | undefined, peers(): Array<{instId: number, role: Role, term: number}>}
  }
  readonly registry?: {
    switches(): SwitchInfo[]
    flowStats(datapathId: bigint, filter?: Partial<FlowStatsFilter>, options?: {timeoutMs?: number}): Promise<FlowStats[]>
  } | undefined
  /** Where flow changes go (the FlowGateway); RestServerOptions.flows takes precedence. */
  readonly flows?: FlowProgrammer | undefined
  /** Flow replication status for /cluster; RestServerOptions.flowStatus takes precedence. */
  flowStatus?(): FlowServiceStats | Promise<FlowServiceStats>
}

export interface RestServerOptions {
  host: string
  port: number
  token?: string
  instance: RestInstance
  logger: Logger
  /** Where flow changes go; default instance.flows. Without either, flow changes answer 503. */
  flows?: FlowProgrammer
  /** Flow replication status shown by /cluster (FlowService.stats()); default instance.flowStatus. */
  flowStatus?: FlowStatusProvider
  /** How long a flow change may take (switch barrier and mirrors' acks). Default: the programmer's. */
  programTimeoutMs?: number
  /** How long a flow stats read may take. Default 5000 ms. */
  readTimeoutMs?: number
  /** Largest request body in bytes. Default 256 KiB (a forwarded flow-mod must fit a 64 KiB bus message anyway). */
  bodyLimit?: number
  /** Largest body of a batch (a JSON array posted to /stats/flowentry/<command>). Default 4 MiB. */
  batchBodyLimit?: number
  /** Most flow entries in one batch. Default 10,000. */
  maxBatchEntries?: number
  /** The flow service's settings that can change at runtime (GET/PATCH /config/flows). */
  flowSettings?: RuntimeFlowSettings
}

/** What /config/flows reads and changes: the backup settings, without a restart. */
export interface RuntimeFlowSettings {
  readonly settings: {backupEnabled: boolean, backupPeriodMs: number}
  updateSettings(partial: {backupEnabled?: boolean, backupPeriodMs?: number}): void
}

const FLOW_CONFIG_FIELDS = new Set(['backupEnabled', 'backupPeriodMs'])

export type RestAppOptions = Omit<RestServerOptions, 'host' | 'port'>

export const DEFAULT_BODY_LIMIT = 256 * 1024
/** Room for DEFAULT_MAX_BATCH_ENTRIES entries of a few hundred bytes each. */
export const DEFAULT_BATCH_BODY_LIMIT = 4 * 1024 * 1024
export const DEFAULT_MAX_BATCH_ENTRIES = 10_000

/**
 * The body of a batch POST /stats/flowentry/<command>: every entry as parseFlowEntryRequest reads
 * one, each with its own "dpid". Throws FlowRequestError naming the entry and the field
 * (`[3].match.ipv4_dst`) for the first bad entry; an empty batch or one over `maxEntries` is refused.
 */
export function parseFlowEntryBatch(command: FlowEntryCommand | string, body: readonly unknown[], maxEntries = DEFAULT_MAX_BATCH_ENTRIES): ProgramItem[] {
  if (body.length === 0) throw new FlowRequestError('body', `an empty batch: expected a JSON array of 1 to ${maxEntries} flow entries`)
  if (body.length > maxEntries) {
    throw new FlowRequestError('body', `a batch of ${body.length} flow entries: at most ${maxEntries} in one request (split it into several)`)
  }
  return body.map((entry, i) => {
    try {
      return parseFlowEntryRequest(command, entry)
    } catch (error) {
      if (!(error instanceof FlowRequestError)) throw error
      throw new FlowRequestError(error.field === 'body' ? `[${i}]` : `[${i}].${error.field}`, error.reason)
    }
  })
}

/** Ryu returns datapath ids as JSON integers; beyond 2^53 they cannot be exact, so say it as a string. */
function dpidJson(dpid: bigint): number | string {
  return dpid <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(dpid) : dpid.toString()
}

function tokenMatches(expected: string, header: string | undefined): boolean {
  const given = header?.startsWith('Bearer ') ? header.slice(7) : ''
  const a = Buffer.from(expected)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The body of a request Fastify does not parse (a GET), at most `limit` bytes. */
async function readRawBody(request: FastifyRequest, limit: number): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request.raw) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk as Buffer
    size += buffer.length
    if (size > limit) throw Object.assign(new Error(`request body larger than ${limit} bytes`), {statusCode: 413})
    chunks.push(buffer)
  }
  return Buffer.concat(chunks).toString('utf8')
}

const FLOW_ENTRY_COMMANDS: readonly FlowEntryCommand[] = ['add', 'modify', 'modify_strict', 'delete', 'delete_strict']

/** Requests whose body is parsed and route run in one turn of the event loop (see RequestPacer). */
const REQUESTS_PER_TURN = 32

/**
 * Runs deferred work in the check phase, at most `perTurn` items a turn of the event loop: a burst
 * of requests read at once (256 in flight, about 0.1 ms of work each) would otherwise run in one
 * turn, and a bus message that arrives meanwhile (a delta to mirror and acknowledge) would wait for
 * all of them. Between two slices the event loop polls the sockets again. Order is kept.
 */
export class RequestPacer {
  readonly #queue: Array<() => void> = []
  #head = 0
  #scheduled = false

  constructor(private readonly perTurn: number) {}

  defer(work: () => void): void {
    this.#queue.push(work)
    if (!this.#scheduled) {
      this.#scheduled = true
      setImmediate(() => this.#slice())
    }
  }

  #slice(): void {
    const end = Math.min(this.#queue.length, this.#head + this.perTurn)
    try {
      while (this.#head < end) this.#queue[this.#head++]!()
    } finally {
      // (setImmediate from inside an immediate runs at the next turn, after the sockets are polled.)
      if (this.#head < this.#queue.length) {
        setImmediate(() => this.#slice())
      } else {
        this.#queue.length = 0
        this.#head = 0
        this.#scheduled = false
      }
    }
  }
}

/** Success of a flow change, for those who want more than Ryu's empty 200. */
function resultHeaders(reply: FastifyReply, r: ProgramResult): FastifyReply {
  return reply.header('x-flowkeeper-master', String(r.masterId)).header('x-flowkeeper-term', String(r.term)).header('x-flowkeeper-version', String(r.version))
}

/** The Fastify app with every route, not listening: RestServer.start() listens; tests inject(). */
export function buildRestApp(options: RestAppOptions): FastifyInstance {
  const {instance, token, logger} = options
  const bodyLimit = options.bodyLimit ?? DEFAULT_BODY_LIMIT
  const batchBodyLimit = Math.max(bodyLimit, options.batchBodyLimit ?? DEFAULT_BATCH_BODY_LIMIT)
  const maxBatchEntries = options.maxBatchEntries ?? DEFAULT_MAX_BATCH_ENTRIES
  const readTimeoutMs = options.readTimeoutMs ?? 5000
  const app = Fastify({logger: false, bodyLimit})
  const pacer = new RequestPacer(REQUESTS_PER_TURN)

  // Ryu reads any body as JSON whatever its Content-Type (curl -d sends form-urlencoded): so do we.
  // Empty means none (POST /stats/flow/<dpid> without a filter). Big integers stay exact.
  // The flow entry route takes up to batchBodyLimit; anything but a batch (a JSON array) still gets
  // bodyLimit, checked here before the text is parsed.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', {parseAs: 'string', bodyLimit}, (_request, body, done) => {
    const text = body as string
    if (text.length > bodyLimit && !text.trimStart().startsWith('[') && Buffer.byteLength(text) > bodyLimit) {
      done(Object.assign(new Error(`request body larger than ${bodyLimit} bytes`), {statusCode: 413}), undefined)
      return
    }
    // Parsed (and the route run) later, a few requests per turn of the event loop (see
    // RequestPacer), not in the socket's callback: the bus messages read meanwhile (on a slave,
    // the mirror's deltas to acknowledge) go first, so a burst of requests does not hold the
    // replication back.
    pacer.defer(() => {
      try {
        done(null, parseJsonBody(text))
      } catch (error) {
        done(error as JsonBodyError, undefined)
      }
    })
  })

  if (token) {
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (!tokenMatches(token, request.headers.authorization)) {
        await reply.code(401).header('www-authenticate', 'Bearer').send({error: 'missing or wrong bearer token (Authorization: Bearer <token>)'})
      }
    })
  }

  app.setErrorHandler((error: {statusCode?: number, code?: string, message: string}, request, reply) => {
    const mapped = httpError(error)
    if (mapped) {
      void reply.code(mapped.status).headers(mapped.headers).send(mapped.body)
      return
    }
    let status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500
    let message = error.message
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      message = request.routeOptions.bodyLimit === batchBodyLimit && batchBodyLimit > bodyLimit
        ? `request body larger than ${batchBodyLimit} bytes (the limit of a batch of flow entries; split it into several)`
        : `request body larger than ${bodyLimit} bytes`
    }
    if (status >= 500) {
      status = 500
      logger.error('REST request failed', {event: 'api_error', method: request.method, url: request.url, error: error.message})
    }
    void reply.code(status).send({error: message})
  })
  // A path that exists with other methods answers 405 and says which (Allow), not 404.
  const routes: Array<{method: string, path: RegExp}> = []
  app.addHook('onRoute', (route) => {
    const path = new RegExp(`^${route.url.split('/').map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/')}$`)
    for (const method of [route.method].flat()) if (method !== 'HEAD') routes.push({method, path})
  })
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0]!
    const allowed = [...new Set(routes.filter((r) => r.path.test(path)).map((r) => r.method))]
    if (allowed.length > 0) {
      void reply.code(405).header('allow', allowed.join(', ')).send({error: `${request.method} is not allowed on ${path}: use ${allowed.join(' or ')}`})
      return
    }
    void reply.code(404).send({error: `no route ${request.method} ${request.url}`})
  })

  const flows = (): FlowProgrammer => {
    const programmer = options.flows ?? instance.flows
    if (!programmer) throw new NoMasterError(`instance ${instance.election.instId} cannot program flows: no flow programmer is wired`)
    return programmer
  }
  const programOptions = options.programTimeoutMs !== undefined ? {timeoutMs: options.programTimeoutMs} : {}
  const program = (dpid: bigint, flowMod: Parameters<FlowProgrammer['program']>[1]) => flows().program(dpid, flowMod, programOptions)
  const readFlows = (dpid: bigint, filter: Partial<FlowStatsFilter>): Promise<FlowStats[]> => {
    const registry = instance.registry
    if (!registry) throw new UnknownSwitchError(dpid, `switch ${formatDpid(dpid)} is not connected: instance ${instance.election.instId} has no OpenFlow listener`)
    return registry.flowStats(dpid, filter, {timeoutMs: readTimeoutMs})
  }
  const dpidParam = (request: FastifyRequest): bigint => parseDpid((request.params as {dpid: string}).dpid, 'dpid')

  // Ryu: GET /stats/switches -> [dpid, ...]
  app.get('/stats/switches', async () => (instance.registry?.switches() ?? []).map((s) => dpidJson(s.datapathId)))

  // Ryu: POST /stats/flowentry/{add,modify,modify_strict,delete,delete_strict}, body with "dpid"; 200 with an empty body.
  // flowkeeper: a JSON array of such bodies is a batch; 200 with {"results": [...]}, one per entry.
  app.post('/stats/flowentry/:command', {bodyLimit: batchBodyLimit}, async (request, reply) => {
    const {command} = request.params as {command: string}
    if (!FLOW_ENTRY_COMMANDS.includes(command as FlowEntryCommand)) {
      return reply.code(404).send({error: `no flow entry command '${command}': expected one of ${FLOW_ENTRY_COMMANDS.join(', ')}`})
    }
    if (Array.isArray(request.body)) return flowEntryBatch(command, request.body, reply)
    const {dpid, flowMod} = parseFlowEntryRequest(command, request.body)
    const result = await program(dpid, flowMod)
    return resultHeaders(reply, result).code(200).send()
  })

  /**
   * A batch: all entries validated first (a bad one: 400 naming it, nothing sent), then submitted
   * together. 200 when every entry was acknowledged; otherwise the status of the first failed
   * entry, the body listing every entry's result either way.
   */
  async function flowEntryBatch(command: string, body: unknown[], reply: FastifyReply): Promise<FastifyReply> {
    const items = parseFlowEntryBatch(command, body, maxBatchEntries)
    const outcomes = await programEach(flows(), items, programOptions)
    let firstFailure: {status: number, headers: Record<string, string>} | undefined
    let firstResult: ProgramResult | undefined
    let unexpected: string | undefined
    const results = outcomes.map((o: ProgramOutcome) => {
      if (!(o instanceof Error)) {
        firstResult ??= o
        return {status: 200, master: o.masterId, term: o.term, version: o.version}
      }
      const mapped = httpError(o)
      if (!mapped) unexpected ??= o.message
      const status = mapped?.status ?? 500
      firstFailure ??= {status, headers: mapped?.headers ?? {}}
      return {status, ...(mapped?.body ?? {error: o.message})}
    })
    if (unexpected) logger.error('REST batch entries failed', {event: 'api_error', method: 'POST', url: `/stats/flowentry/${command}`, error: unexpected})
    if (firstResult) {
      void reply.header('x-flowkeeper-master', String(firstResult.masterId)).header('x-flowkeeper-term', String(firstResult.term))
      // A table version means something for one switch only.
      if (items.every((it) => it.dpid === items[0]!.dpid)) {
        const versions = results.flatMap((r) => ('version' in r && typeof r.version === 'number' ? [r.version] : []))
        void reply.header('x-flowkeeper-version', String(Math.max(...versions)))
      }
    }
    const failed = results.filter((r) => r.status !== 200).length
    void reply.header('x-flowkeeper-failed', String(failed))
    if (firstFailure) void reply.headers(firstFailure.headers)
    return reply.code(firstFailure?.status ?? 200).type('application/json; charset=utf-8').send(JSON.stringify({results}))
  }

  // Ryu: DELETE /stats/flowentry/clear/<dpid>: every flow of every table; 200 with an empty body.
  app.delete('/stats/flowentry/clear/:dpid', async (request, reply) => {
    const result = await program(dpidParam(request), clearFlowsFlowMod())
    return resultHeaders(reply, result).code(200).send()
  })

  // Ryu: GET|POST /stats/flow/<dpid> (POST: a filter) -> {"<dpid>": [flow, ...]}, 64-bit counters exact.
  app.route({
    method: ['GET', 'POST'],
    url: '/stats/flow/:dpid',
    handler: async (request, reply) => {
      const dpid = dpidParam(request)
      // Fastify parses no body on GET; Ryu reads one there too, so read it ourselves.
      const body = request.method === 'GET' ? parseJsonBody(await readRawBody(request, bodyLimit)) : request.body
      const filter = parseFlowStatsFilter(body)
      const stats = await readFlows(dpid, filter)
      return reply.type('application/json; charset=utf-8').send(toRyuJson(formatFlowStatsReply(dpid, stats)))
    },
  })

  // flowkeeper: flows in ovs-ofctl syntax (the CLI). GET: dump-flows lines; POST {command, flow}: one change.
  app.get('/flows/:dpid', async (request) => {
    const dpid = dpidParam(request)
    const stats = await readFlows(dpid, {})
    return {dpid: formatDpid(dpid), flows: stats.map((s) => formatOfctlFlow(s))}
  })
  app.post('/flows/:dpid', async (request) => {
    const dpid = dpidParam(request)
    const body = request.body as Record<string, unknown> | undefined
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new JsonBodyError('body: expected a JSON object {"command": ..., "flow": ...}')
    const command = body.command ?? 'add'
    if (typeof command !== 'string' || !FLOW_ENTRY_COMMANDS.includes(command as FlowEntryCommand)) {
      throw new JsonBodyError(`command: expected one of ${FLOW_ENTRY_COMMANDS.join(', ')}`)
    }
    const flow = body.flow ?? ''
    if (typeof flow !== 'string') throw new JsonBodyError('flow: expected a flow in ovs-ofctl syntax, as a string')
    const result = await program(dpid, parseOfctlFlow(flow, command as OfctlCommand))
    return {master: result.masterId, term: result.term, version: result.version}
  })

  // Each switch with the role this instance holds on it.
  app.get('/switches', async () => (instance.registry?.switches() ?? []).map((s) => ({
    dpid: formatDpid(s.datapathId),
    dpid_int: dpidJson(s.datapathId),
    role: s.role,
    address: s.address,
    connected_at: s.connectedAtMs,
  })))

  app.get('/cluster', async (_request, reply) => {
    const election = instance.election
    const master = election.election.masterId
    const statusOf = options.flowStatus ?? (instance.flowStatus ? () => instance.flowStatus!() : undefined)
    let flowStatus: unknown = null
    if (statusOf) {
      try {
        flowStatus = clusterFlows(await statusOf(), gatewayCounters(options.flows ?? instance.flows))
      } catch (error) {
        flowStatus = {error: `flow status unavailable: ${(error as Error).message}`}
      }
    }
    const body = {
      domain: instance.domain,
      inst_id: election.instId,
      role: election.role,
      term: election.term,
      master: master ?? null,
      members: [
        {inst_id: election.instId, role: election.role, term: election.term, self: true},
        ...election.election.peers().map((p) => ({inst_id: p.instId, role: p.role, term: p.term, self: false})),
      ].sort((a, b) => a.inst_id - b.inst_id),
      flows: flowStatus,
    }
    return reply.type('application/json; charset=utf-8').send(toRyuJson(body))
  })

  // Backup settings of this instance, changeable without a restart (each instance has its own;
  // they matter on the master, and on a slave from the moment it is promoted).
  const flowSettings = options.flowSettings
  const currentFlowConfig = () => ({backupEnabled: flowSettings!.settings.backupEnabled, backupPeriodMs: flowSettings!.settings.backupPeriodMs})
  app.get('/config/flows', async (_request, reply) => {
    if (!flowSettings) return reply.code(404).send({error: 'this instance has no flow service (started without switches)'})
    return currentFlowConfig()
  })
  app.patch('/config/flows', async (request, reply) => {
    if (!flowSettings) return reply.code(404).send({error: 'this instance has no flow service (started without switches)'})
    const body = request.body
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return reply.code(400).send({error: 'body: expected a JSON object like {"backupPeriodMs": 500}', field: 'body'})
    }
    for (const field of Object.keys(body)) {
      if (!FLOW_CONFIG_FIELDS.has(field)) {
        return reply.code(400).send({error: `${field}: not a runtime setting (use ${[...FLOW_CONFIG_FIELDS].join(' or ')})`, field})
      }
    }
    try {
      flowSettings.updateSettings(body as {backupEnabled?: boolean, backupPeriodMs?: number})
    } catch (error) {
      const field = (error as {setting?: string}).setting
      return reply.code(400).send({error: (error as Error).message, ...(field ? {field} : {})})
    }
    options.logger.info('flow settings changed', {event: 'flow_settings_changed', ...currentFlowConfig()})
    return currentFlowConfig()
  })

  return app
}

export class RestServer {
  private closing: Promise<void> | undefined

  private constructor(private readonly app: FastifyInstance, readonly url: string) {}

  static async start(options: RestServerOptions): Promise<RestServer> {
    const app = buildRestApp(options)
    const address = await app.listen({host: options.host, port: options.port})
    return new RestServer(app, address)
  }

  get port(): number {
    return Number(new URL(this.url).port)
  }

  close(): Promise<void> {
    this.closing ??= this.app.close()
    return this.closing
  }
}
