// The REST API of one instance: Ryu ofctl_rest's URLs and JSON where Ryu has them (so scripts
// written for Ryu work unchanged), plus /cluster and /switches for what Ryu does not have.
// Bound to 127.0.0.1 unless told otherwise; an optional bearer token guards every route.
import Fastify, {type FastifyInstance, type FastifyReply, type FastifyRequest} from 'fastify'
import {timingSafeEqual} from 'node:crypto'
import type {Logger} from '../log.js'
import {formatDpid} from '../openflow/connection.js'
import type {Instance} from '../controller/instance.js'

export interface RestServerOptions {
  host: string
  port: number
  token?: string
  instance: Instance
  logger: Logger
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

export class RestServer {
  private closing: Promise<void> | undefined

  private constructor(private readonly app: FastifyInstance, readonly url: string) {}

  static async start(options: RestServerOptions): Promise<RestServer> {
    const app = Fastify({logger: false})
    const {instance, token} = options

    if (token) {
      app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
        if (!tokenMatches(token, request.headers.authorization)) {
          await reply.code(401).header('www-authenticate', 'Bearer').send({error: 'missing or wrong bearer token (Authorization: Bearer <token>)'})
        }
      })
    }

    app.setErrorHandler((error: {statusCode?: number, message: string}, _request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500
      if (status >= 500) options.logger.error('REST request failed', {event: 'api_error', error: error.message})
      void reply.code(status).send({error: error.message})
    })
    app.setNotFoundHandler((request, reply) => {
      void reply.code(404).send({error: `no route ${request.method} ${request.url}`})
    })

    // Ryu: GET /stats/switches -> [dpid, ...]
    app.get('/stats/switches', async () => (instance.registry?.switches() ?? []).map((s) => dpidJson(s.datapathId)))

    // Each switch with the role this instance holds on it.
    app.get('/switches', async () => (instance.registry?.switches() ?? []).map((s) => ({
      dpid: formatDpid(s.datapathId),
      dpid_int: dpidJson(s.datapathId),
      role: s.role,
      address: s.address,
      connected_at: s.connectedAtMs,
    })))

    app.get('/cluster', async () => {
      const election = instance.election
      const master = election.election.masterId
      return {
        domain: instance.domain,
        inst_id: election.instId,
        role: election.role,
        term: election.term,
        master: master ?? null,
        members: [
          {inst_id: election.instId, role: election.role, term: election.term, self: true},
          ...election.election.peers().map((p) => ({inst_id: p.instId, role: p.role, term: p.term, self: false})),
        ].sort((a, b) => a.inst_id - b.inst_id),
      }
    })

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
