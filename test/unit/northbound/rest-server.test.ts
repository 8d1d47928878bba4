// The REST API through fastify's inject(): Ryu ofctl_rest's flow endpoints (URLs, bodies, status
// codes, empty 200s, flow stats JSON), errors as JSON naming the field, flowkeeper's /flows and
// /cluster, the bearer token.
import {expect} from 'chai'
import type {FastifyInstance} from 'fastify'
import http from 'node:http'
import {clearFlowsFlowMod} from '../../../src/flows/ofctl-rest.js'
import type {FlowServiceStats} from '../../../src/flows/service/flow-service.js'
import {
  NoMasterError, ProgramTimeoutError, SwitchRefusedError, UnknownSwitchError,
  type FlowProgrammer, type ProgramItem, type ProgramOptions, type ProgramOutcome, type ProgramResult,
} from '../../../src/flows/programmer.js'
import {MemoryLogger} from '../../../src/log.js'
import {MasterChangedError} from '../../../src/northbound/flow-gateway.js'
import {RemoteInternalError} from '../../../src/northbound/flow-rpc.js'
import {buildRestApp, DEFAULT_BATCH_BODY_LIMIT, RequestPacer, RestServer, type RestAppOptions, type RestInstance} from '../../../src/northbound/rest-server.js'
import {OFP, type FlowModMessage, type FlowStats, type FlowStatsFilter} from '../../../src/openflow/codec.js'
import {SwitchTimeoutError} from '../../../src/openflow/connection.js'
import {SwitchNotConnectedError} from '../../../src/openflow/roles.js'
import {LoopTurns} from '../../helpers/loop-turns.js'

class FakeProgrammer implements FlowProgrammer {
  readonly calls: Array<{dpid: bigint, flowMod: FlowModMessage, options: ProgramOptions | undefined}> = []
  private readonly loop = new LoopTurns()
  /** Per call, the synchronous stretch it was made in: calls made in one loop share one. */
  readonly turns = this.loop.turns
  fail: Error | undefined
  failWhen: ((dpid: bigint, flowMod: FlowModMessage) => Error | undefined) | undefined
  async program(dpid: bigint, flowMod: FlowModMessage, options?: ProgramOptions): Promise<ProgramResult> {
    this.loop.mark()
    this.calls.push({dpid, flowMod, options})
    const fail = this.fail ?? this.failWhen?.(dpid, flowMod)
    if (fail) throw fail
    return {masterId: 1, term: 65537, version: this.calls.length}
  }
}

const FLOW: FlowStats = {
  tableId: 0, durationSec: 12, durationNsec: 500_000_000, priority: 100, idleTimeout: 30, hardTimeout: 0, flags: 0,
  cookie: 0xf10e000000000001n, packetCount: 18446744073709551615n, byteCount: 123n,
  match: [{field: 'in_port', value: 1}, {field: 'eth_type', value: 0x0800}, {field: 'ipv4_dst', value: '10.0.0.1'}],
  instructions: [{type: 'APPLY_ACTIONS', actions: [{type: 'OUTPUT', port: 2, maxLen: OFP.OFPCML_MAX}]}],
}

class FakeRegistry {
  readonly reads: Array<{dpid: bigint, filter: Partial<FlowStatsFilter> | undefined, options: unknown}> = []
  fail: Error | undefined
  switches() {
    return [{datapathId: 1n, role: 'slave' as const, address: '127.0.0.1:5000', connectedAtMs: 1}, {datapathId: 0xffffffffffffffffn, role: 'slave' as const, address: '127.0.0.1:5001', connectedAtMs: 2}]
  }
  async flowStats(dpid: bigint, filter?: Partial<FlowStatsFilter>, options?: {timeoutMs?: number}): Promise<FlowStats[]> {
    this.reads.push({dpid, filter, options})
    if (this.fail) throw this.fail
    return [FLOW]
  }
}

function fakeInstance(registry: FakeRegistry | undefined): RestInstance {
  return {
    domain: 'lab',
    registry,
    election: {
      instId: 2, role: 'slave', term: 65537,
      election: {masterId: 1, peers: () => [{instId: 3, role: 'slave', term: 65537}, {instId: 1, role: 'master', term: 65537}]},
    },
  }
}

const RYU_ADD = {
  dpid: 1, cookie: 1, cookie_mask: 1, table_id: 0, idle_timeout: 30, hard_timeout: 30, priority: 11111, flags: 1,
  match: {in_port: 1}, actions: [{type: 'OUTPUT', port: 2}],
}

describe('REST API', () => {
  let app: FastifyInstance
  let programmer: FakeProgrammer
  let registry: FakeRegistry
  let log: MemoryLogger

  const build = (extra: Partial<RestAppOptions> = {}, withRegistry = true) => {
    programmer = new FakeProgrammer()
    registry = new FakeRegistry()
    log = new MemoryLogger()
    app = buildRestApp({instance: fakeInstance(withRegistry ? registry : undefined), logger: log, flows: programmer, ...extra})
    return app
  }
  const post = (url: string, body: unknown, headers: Record<string, string> = {'content-type': 'application/json'}) =>
    app.inject({method: 'POST', url, payload: typeof body === 'string' ? body : JSON.stringify(body), headers})

  beforeEach(() => build())
  afterEach(async () => app.close())

  describe('POST /stats/flowentry/<command>', () => {
    it('add: 200 with an empty body like Ryu; the FLOW_MOD reaches the programmer; the outcome in headers', async () => {
      const r = await post('/stats/flowentry/add', RYU_ADD)
      expect(r.statusCode).to.equal(200)
      expect(r.body).to.equal('')
      expect(r.headers['x-flowkeeper-master']).to.equal('1')
      expect(r.headers['x-flowkeeper-term']).to.equal('65537')
      expect(r.headers['x-flowkeeper-version']).to.equal('1')
      expect(programmer.calls).to.have.length(1)
      const {dpid, flowMod} = programmer.calls[0]!
      expect(dpid).to.equal(1n)
      expect(flowMod).to.deep.include({command: OFP.OFPFC_ADD, priority: 11111, idleTimeout: 30, hardTimeout: 30, cookie: 1n, flags: 1})
      expect(flowMod.match).to.deep.equal([{field: 'in_port', value: 1}])
      expect(flowMod.instructions).to.deep.equal([{type: 'APPLY_ACTIONS', actions: [{type: 'OUTPUT', port: 2, maxLen: OFP.OFPCML_MAX}]}])
    })

    it('each command maps to its OFPFC_*', async () => {
      const expected = {add: OFP.OFPFC_ADD, modify: OFP.OFPFC_MODIFY, modify_strict: OFP.OFPFC_MODIFY_STRICT, delete: OFP.OFPFC_DELETE, delete_strict: OFP.OFPFC_DELETE_STRICT}
      for (const [command, code] of Object.entries(expected)) {
        const r = await post(`/stats/flowentry/${command}`, {dpid: '0x10', match: {in_port: 1}})
        expect(r.statusCode, command).to.equal(200)
        expect(programmer.calls.at(-1)!.flowMod.command, command).to.equal(code)
        expect(programmer.calls.at(-1)!.dpid).to.equal(16n)
      }
    })

    it('an unknown command is 404, as in Ryu', async () => {
      const r = await post('/stats/flowentry/replace', RYU_ADD)
      expect(r.statusCode).to.equal(404)
      expect(r.json()).to.deep.equal({error: "no flow entry command 'replace': expected one of add, modify, modify_strict, delete, delete_strict"})
      expect(programmer.calls).to.have.length(0)
    })

    it('a known path with the wrong method is 405 naming the methods it takes; an unknown path is 404', async () => {
      const get = await app.inject({method: 'GET', url: '/stats/flowentry/add'})
      expect(get.statusCode).to.equal(405)
      expect(get.headers.allow).to.equal('POST')
      expect(get.json()).to.deep.equal({error: 'GET is not allowed on /stats/flowentry/add: use POST'})
      const del = await app.inject({method: 'DELETE', url: '/stats/flow/1?x=1'})
      expect(del.statusCode).to.equal(405)
      expect(del.headers.allow).to.equal('GET, POST')
      const none = await app.inject({method: 'GET', url: '/stats/nothing'})
      expect(none.statusCode).to.equal(404)
      expect(none.json()).to.deep.equal({error: 'no route GET /stats/nothing'})
      expect(programmer.calls).to.have.length(0)
    })

    it('bad input: 400 naming the field and the reason', async () => {
      const cases: Array<[unknown, string, string]> = [
        [{match: {}}, 'dpid', 'required'],
        [{...RYU_ADD, dpid: 'one'}, 'dpid', 'expected an integer 0..18446744073709551615, got "one"'],
        [{...RYU_ADD, priority: 'high'}, 'priority', 'expected an integer 0..65535, got "high"'],
        [{...RYU_ADD, match: {ipv4_dst: '10.0.0.3'}}, 'match.ipv4_dst', 'needs ip (eth_type 0x0800)'],
        [{...RYU_ADD, match: {in_prot: 1}}, 'match.in_prot', 'unknown match field'],
        [{...RYU_ADD, priority: 70000}, 'priority', 'expected an integer 0..65535, got 70000'],
        [{...RYU_ADD, actions: [{type: 'OUTPUT'}]}, 'actions[0].port', 'required'],
        [7, 'body', 'expected a JSON object'],
      ]
      for (const [body, field, reason] of cases) {
        const r = await post('/stats/flowentry/add', body)
        expect(r.statusCode, field).to.equal(400)
        expect(r.json(), field).to.deep.equal({error: `${field}: ${reason}`, field, reason})
      }
      expect(programmer.calls).to.have.length(0)
    })

    it('malformed JSON: 400 with a clear message; an empty body is a missing dpid', async () => {
      const r = await post('/stats/flowentry/add', '{"dpid": 1,')
      expect(r.statusCode).to.equal(400)
      expect(r.json().field).to.equal('body')
      expect(r.json().error).to.match(/^body is not valid JSON: /)
      const empty = await post('/stats/flowentry/add', '')
      expect(empty.statusCode).to.equal(400)
      expect(empty.json().error).to.equal('body: expected a JSON object')
    })

    it('takes the body whatever its Content-Type, as Ryu does (curl -d sends form-urlencoded)', async () => {
      const variants: Array<Record<string, string>> = [{'content-type': 'application/x-www-form-urlencoded'}, {'content-type': 'text/plain'}, {}]
      for (const headers of variants) {
        const r = await post('/stats/flowentry/add', RYU_ADD, headers)
        expect(r.statusCode, JSON.stringify(headers)).to.equal(200)
      }
      expect(programmer.calls).to.have.length(3)
    })

    it('keeps 64-bit integers written as bare JSON numbers exact (Python reads them so)', async () => {
      const r = await post('/stats/flowentry/add', '{"dpid": 18446744073709551615, "cookie": 18364758544493064721, "match": {"in_port": 1}, "actions": []}')
      expect(r.statusCode).to.equal(200)
      expect(programmer.calls[0]!.dpid).to.equal(18446744073709551615n)
      expect(programmer.calls[0]!.flowMod.cookie).to.equal(18364758544493064721n)
    })

    it('a body over the limit: 413', async () => {
      build({bodyLimit: 1024})
      const r = await post('/stats/flowentry/add', {...RYU_ADD, pad: 'x'.repeat(2000)})
      expect(r.statusCode).to.equal(413)
      expect(r.json()).to.deep.equal({error: 'request body larger than 1024 bytes'})
    })

    const mapped: Array<[string, () => Error, number, Record<string, unknown>]> = [
      ['UnknownSwitchError', () => new UnknownSwitchError(1n), 404, {error: 'switch 0000000000000001 is not connected', kind: 'UnknownSwitchError', retriable: false, dpid: '0000000000000001'}],
      ['NoMasterError', () => new NoMasterError('no master in domain lab: election in progress'), 503, {error: 'no master in domain lab: election in progress', kind: 'NoMasterError', retriable: true}],
      ['MasterChangedError', () => new MasterChangedError('master 1 went away'), 503, {error: 'master 1 went away', kind: 'MasterChangedError', retriable: true}],
      ['SwitchRefusedError', () => new SwitchRefusedError('bad out port', 'OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT'), 400, {error: 'bad out port', kind: 'SwitchRefusedError', retriable: false, code: 'OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT'}],
      ['ProgramTimeoutError', () => new ProgramTimeoutError('no barrier reply'), 504, {error: 'no barrier reply', kind: 'ProgramTimeoutError', retriable: true}],
      ['RemoteInternalError', () => new RemoteInternalError('master 1 failed: oops'), 500, {error: 'master 1 failed: oops', kind: 'RemoteInternalError', retriable: false}],
    ]
    for (const [name, make, status, body] of mapped) {
      it(`${name} from the programmer: ${status}`, async () => {
        programmer.fail = make()
        const r = await post('/stats/flowentry/add', RYU_ADD)
        expect(r.statusCode).to.equal(status)
        expect(r.json()).to.deep.equal(body)
        if (status === 503) expect(r.headers['retry-after']).to.equal('1')
      })
    }

    it('an unexpected error: 500, logged', async () => {
      programmer.fail = new TypeError('boom')
      const r = await post('/stats/flowentry/add', RYU_ADD)
      expect(r.statusCode).to.equal(500)
      expect(r.json()).to.deep.equal({error: 'boom'})
      expect(log.lines.filter((l) => l.event === 'api_error')).to.have.length(1)
    })

    it('no flow programmer wired: 503', async () => {
      build({flows: undefined})
      const r = await post('/stats/flowentry/add', RYU_ADD)
      expect(r.statusCode).to.equal(503)
      expect(r.json().error).to.equal('instance 2 cannot program flows: no flow programmer is wired')
    })

    it('passes the configured timeout to the programmer', async () => {
      build({programTimeoutMs: 1234})
      await post('/stats/flowentry/add', RYU_ADD)
      expect(programmer.calls[0]!.options).to.deep.equal({timeoutMs: 1234})
    })
  })

  describe('POST /stats/flowentry/<command> with a JSON array: a batch', () => {
    /** n adds to switch `dpid` (or 1, 2, 3 in turn), priority = index. */
    const entries = (n: number, dpid?: number) => Array.from({length: n}, (_, i) => ({...RYU_ADD, dpid: dpid ?? i % 3 + 1, priority: i}))

    it('every entry submitted in order, in one loop; 200 with one result per entry', async () => {
      const body = entries(6)
      const r = await post('/stats/flowentry/add', body)
      expect(r.statusCode).to.equal(200)
      expect(r.headers['content-type']).to.equal('application/json; charset=utf-8')
      expect(r.json()).to.deep.equal({results: body.map((_, i) => ({status: 200, master: 1, term: 65537, version: i + 1}))})
      expect(programmer.calls.map((c) => [c.dpid, c.flowMod.priority])).to.deep.equal(body.map((e, i) => [BigInt(e.dpid), i]))
      expect(new Set(programmer.turns).size).to.equal(1)
      expect(r.headers).to.deep.include({'x-flowkeeper-master': '1', 'x-flowkeeper-term': '65537', 'x-flowkeeper-failed': '0'})
      // Several switches: no single table version to report.
      expect(r.headers['x-flowkeeper-version']).to.equal(undefined)
      const one = await post('/stats/flowentry/delete_strict', entries(2, 5))
      expect(one.headers['x-flowkeeper-version']).to.equal('8')
      expect(programmer.calls.slice(6).map((c) => c.flowMod.command)).to.deep.equal([OFP.OFPFC_DELETE_STRICT, OFP.OFPFC_DELETE_STRICT])
    })

    it('one invalid entry: 400 naming the entry and the field, and nothing is sent', async () => {
      const cases: Array<[unknown[], string, string]> = [
        [[...entries(3), {...RYU_ADD, match: {eth_type: 0x800, ipv4_dst: '10.0.0.300'}}], '[3].match.ipv4_dst', ''],
        [[RYU_ADD, 'x'], '[1]', 'expected a JSON object'],
        [[RYU_ADD, [RYU_ADD]], '[1]', 'expected a JSON object'],
        [[{...RYU_ADD, dpid: undefined}], '[0].dpid', 'required'],
        [[RYU_ADD, {...RYU_ADD, actions: [{type: 'OUTPUT'}]}], '[1].actions[0].port', 'required'],
      ]
      for (const [body, field, reason] of cases) {
        const r = await post('/stats/flowentry/add', body)
        expect(r.statusCode, field).to.equal(400)
        expect(r.json().field, field).to.equal(field)
        expect(r.json().error, field).to.match(new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}: ${reason}`))
      }
      expect(programmer.calls).to.have.length(0)
    })

    it('an empty batch, or one over the cap: 400 saying why', async () => {
      const empty = await post('/stats/flowentry/add', [])
      expect(empty.statusCode).to.equal(400)
      expect(empty.json()).to.deep.include({field: 'body', error: 'body: an empty batch: expected a JSON array of 1 to 10000 flow entries'})
      build({maxBatchEntries: 5})
      const big = await post('/stats/flowentry/add', entries(6))
      expect(big.statusCode).to.equal(400)
      expect(big.json().error).to.equal('body: a batch of 6 flow entries: at most 5 in one request (split it into several)')
      expect(programmer.calls).to.have.length(0)
    })

    it('failed entries: their status and error each, the others acknowledged; HTTP status = the first failure\'s', async () => {
      programmer.failWhen = (dpid, fm) => {
        if (fm.priority === 1) return new UnknownSwitchError(dpid)
        if (fm.priority === 3) return new SwitchRefusedError('no such group', 'OFPET_BAD_ACTION/OFPBAC_BAD_OUT_GROUP')
        if (fm.priority === 4) return new TypeError('boom')
        return undefined
      }
      const r = await post('/stats/flowentry/add', entries(5))
      expect(r.statusCode).to.equal(404)
      expect(r.headers).to.deep.include({'x-flowkeeper-master': '1', 'x-flowkeeper-failed': '3'})
      expect(r.json().results).to.deep.equal([
        {status: 200, master: 1, term: 65537, version: 1},
        {status: 404, error: 'switch 0000000000000002 is not connected', kind: 'UnknownSwitchError', retriable: false, dpid: '0000000000000002'},
        {status: 200, master: 1, term: 65537, version: 3},
        {status: 400, error: 'no such group', kind: 'SwitchRefusedError', retriable: false, code: 'OFPET_BAD_ACTION/OFPBAC_BAD_OUT_GROUP'},
        {status: 500, error: 'boom'},
      ])
      expect(log.lines.filter((l) => l.event === 'api_error')).to.have.length(1)
    })

    it('no master: 503 with Retry-After, every entry saying so', async () => {
      programmer.fail = new NoMasterError('no master in domain lab: election in progress')
      const r = await post('/stats/flowentry/modify', entries(2))
      expect(r.statusCode).to.equal(503)
      expect(r.headers['retry-after']).to.equal('1')
      expect(r.headers['x-flowkeeper-master']).to.equal(undefined)
      expect(r.json().results.map((x: {status: number, kind: string}) => [x.status, x.kind])).to.deep.equal([[503, 'NoMasterError'], [503, 'NoMasterError']])
    })

    it("uses the programmer's programBatch when it has one", async () => {
      const seen: ProgramItem[][] = []
      const batcher = Object.assign(new FakeProgrammer(), {
        async programBatch(items: readonly ProgramItem[], options?: ProgramOptions): Promise<ProgramOutcome[]> {
          seen.push([...items])
          expect(options).to.deep.equal({timeoutMs: 777})
          return items.map((_, i) => (i === 1 ? new ProgramTimeoutError('slow') : {masterId: 3, term: 9, version: i}))
        },
      })
      build({flows: batcher, programTimeoutMs: 777})
      const r = await post('/stats/flowentry/add', entries(3, 7))
      expect(seen).to.have.length(1)
      expect(seen[0]!.map((it) => it.flowMod.priority)).to.deep.equal([0, 1, 2])
      expect(batcher.calls).to.have.length(0)
      expect(r.statusCode).to.equal(504)
      expect(r.json().results[1]).to.deep.equal({status: 504, error: 'slow', kind: 'ProgramTimeoutError', retriable: true})
    })

    it('a batch may be larger than the body limit of other requests, up to its own; a single entry keeps the smaller one', async () => {
      build({bodyLimit: 2048, batchBodyLimit: 64 * 1024})
      const r = await post('/stats/flowentry/add', entries(40))
      expect(r.statusCode).to.equal(200)
      expect(r.json().results).to.have.length(40)
      const single = await post('/stats/flowentry/add', {...RYU_ADD, pad: 'x'.repeat(4000)})
      expect(single.statusCode).to.equal(413)
      expect(single.json()).to.deep.equal({error: 'request body larger than 2048 bytes'}) // as before batches existed
      const huge = await post('/stats/flowentry/add', entries(1000))
      expect(huge.statusCode).to.equal(413)
      expect(huge.json().error).to.equal('request body larger than 65536 bytes (the limit of a batch of flow entries; split it into several)')
      const other = await post('/flows/1', {flow: 'x'.repeat(4000)})
      expect(other.statusCode).to.equal(413)
      expect(other.json().error).to.equal('request body larger than 2048 bytes')
    })

    it('the default limits hold 10,000 ordinary entries', async () => {
      const body = entries(10_000, 1)
      expect(Buffer.byteLength(JSON.stringify(body))).to.be.below(DEFAULT_BATCH_BODY_LIMIT)
      const r = await post('/stats/flowentry/add', body)
      expect(r.statusCode).to.equal(200)
      expect(r.json().results).to.have.length(10_000)
      expect(new Set(programmer.turns).size).to.equal(1)
    })
  })

  describe('DELETE /stats/flowentry/clear/<dpid>', () => {
    it('deletes every flow of every table: 200, empty body', async () => {
      const r = await app.inject({method: 'DELETE', url: '/stats/flowentry/clear/10'})
      expect(r.statusCode).to.equal(200)
      expect(r.body).to.equal('')
      expect(programmer.calls[0]!.dpid).to.equal(10n)
      expect(programmer.calls[0]!.flowMod).to.deep.equal(clearFlowsFlowMod())
    })

    it('bad dpid: 400; unknown switch: 404; no master: 503', async () => {
      const bad = await app.inject({method: 'DELETE', url: '/stats/flowentry/clear/zz'})
      expect(bad.statusCode).to.equal(400)
      expect(bad.json().field).to.equal('dpid')
      programmer.fail = new UnknownSwitchError(10n)
      expect((await app.inject({method: 'DELETE', url: '/stats/flowentry/clear/10'})).statusCode).to.equal(404)
      programmer.fail = new NoMasterError('none')
      expect((await app.inject({method: 'DELETE', url: '/stats/flowentry/clear/10'})).statusCode).to.equal(503)
    })
  })

  describe('GET|POST /stats/flow/<dpid>', () => {
    it("GET: Ryu's flow stats JSON keyed by the decimal dpid, 64-bit counters exact", async () => {
      const r = await app.inject({method: 'GET', url: '/stats/flow/1'})
      expect(r.statusCode).to.equal(200)
      expect(r.headers['content-type']).to.match(/^application\/json/)
      expect(r.body).to.contain('"packet_count":18446744073709551615')
      const body = JSON.parse(r.body.replace('18446744073709551615', '0'))
      expect(Object.keys(body)).to.deep.equal(['1'])
      expect(body['1'][0]).to.deep.include({
        priority: 100, idle_timeout: 30, hard_timeout: 0, byte_count: 123, duration_sec: 12, duration_nsec: 500000000,
        table_id: 0, flags: 0, actions: ['OUTPUT:2'], match: {in_port: 1, dl_type: 2048, nw_dst: '10.0.0.1'},
      })
      expect(registry.reads[0]).to.deep.include({dpid: 1n, options: {timeoutMs: 5000}})
    })

    it('POST: the filter reaches the switch; an empty body is no filter', async () => {
      const r = await post('/stats/flow/0x1', {table_id: 3, out_port: 2, cookie: 1, cookie_mask: 1, match: {in_port: 7}})
      expect(r.statusCode).to.equal(200)
      expect(registry.reads[0]!.filter).to.deep.equal({tableId: 3, outPort: 2, outGroup: OFP.OFPG_ANY, cookie: 1n, cookieMask: 1n, match: [{field: 'in_port', value: 7}]})
      const empty = await post('/stats/flow/1', '')
      expect(empty.statusCode).to.equal(200)
      expect(registry.reads[1]!.filter).to.deep.include({tableId: OFP.OFPTT_ALL, match: []})
    })

    it('GET with a filter body, as Ryu also reads it', async () => {
      const r = await app.inject({method: 'GET', url: '/stats/flow/1', payload: '{"table_id": 4}', headers: {'content-type': 'application/json'}})
      expect(r.statusCode).to.equal(200)
      expect(registry.reads[0]!.filter).to.deep.include({tableId: 4})
    })

    it('a bad filter: 400 naming the field', async () => {
      const r = await post('/stats/flow/1', {match: {nw_dts: '10.0.0.1'}})
      expect(r.statusCode).to.equal(400)
      expect(r.json()).to.deep.equal({error: 'match.nw_dts: unknown match field', field: 'match.nw_dts', reason: 'unknown match field'})
    })

    it('unknown switch: 404; no OpenFlow listener: 404; switch silent: 504', async () => {
      registry.fail = new SwitchNotConnectedError(5n)
      const r = await app.inject({method: 'GET', url: '/stats/flow/5'})
      expect(r.statusCode).to.equal(404)
      expect(r.json()).to.deep.include({error: 'switch 0000000000000005 is not connected', dpid: '0000000000000005'})
      registry.fail = new SwitchTimeoutError('MULTIPART_REQUEST', 7, 5000, 5n)
      expect((await app.inject({method: 'GET', url: '/stats/flow/5'})).statusCode).to.equal(504)
      build({}, false)
      const none = await app.inject({method: 'GET', url: '/stats/flow/5'})
      expect(none.statusCode).to.equal(404)
      expect(none.json().error).to.equal('switch 0000000000000005 is not connected: instance 2 has no OpenFlow listener')
    })
  })

  describe('/flows/<dpid> (ovs-ofctl syntax, for the CLI)', () => {
    it('GET: dump-flows lines', async () => {
      const r = await app.inject({method: 'GET', url: '/flows/1'})
      expect(r.statusCode).to.equal(200)
      expect(r.json()).to.deep.equal({
        dpid: '0000000000000001',
        flows: ['cookie=0xf10e000000000001, duration=12.500s, table=0, n_packets=18446744073709551615, n_bytes=123, idle_timeout=30, priority=100,ip,in_port=1,nw_dst=10.0.0.1 actions=output:2'],
      })
    })

    it('POST {command, flow}: parsed as ovs-ofctl does, answered with the outcome', async () => {
      const r = await post('/flows/1', {command: 'add', flow: 'priority=5,tcp,tp_dst=80 actions=drop'})
      expect(r.statusCode).to.equal(200)
      expect(r.json()).to.deep.equal({master: 1, term: 65537, version: 1})
      expect(programmer.calls[0]!.flowMod).to.deep.include({command: OFP.OFPFC_ADD, priority: 5, instructions: []})
      await post('/flows/1', {command: 'delete_strict', flow: 'priority=5,tcp,tp_dst=80'})
      expect(programmer.calls[1]!.flowMod).to.deep.include({command: OFP.OFPFC_DELETE_STRICT, priority: 5})
    })

    it('POST with a syntax error: 400 naming the token and the reason', async () => {
      const r = await post('/flows/1', {command: 'add', flow: 'in_port=1 actions=outptu:2'})
      expect(r.statusCode).to.equal(400)
      expect(r.json()).to.deep.equal({error: 'flow: outptu:2: unknown action', field: 'flow', token: 'outptu:2', reason: 'unknown action'})
      const cmd = await post('/flows/1', {command: 'replace', flow: ''})
      expect(cmd.statusCode).to.equal(400)
      expect(cmd.json().error).to.equal('command: expected one of add, modify, modify_strict, delete, delete_strict')
    })
  })

  describe('/cluster and /stats/switches', () => {
    it("/cluster: members, master, and each mirror's version per device from the flow service", async () => {
      const stats = {
        instId: 1, domain: 'lab', role: 'master', term: 65537, liveSlaves: [2, 3], snapshotsInProgress: 0, counters: {}, settings: {},
        devices: [{
          dpid: '0000000000000001', switchRole: 'master', term: 65537, version: 12, size: 5, ready: true, queued: 0,
          mirrors: [{slave: 2, acked: 12, lag: 0, late: false}, {slave: 3, acked: undefined, lag: 12, late: true}],
        }],
      } as unknown as FlowServiceStats
      build({flowStatus: () => stats})
      const r = await app.inject({method: 'GET', url: '/cluster'})
      expect(r.statusCode).to.equal(200)
      expect(r.json()).to.deep.equal({
        domain: 'lab', inst_id: 2, role: 'slave', term: 65537, master: 1,
        members: [
          {inst_id: 1, role: 'master', term: 65537, self: false},
          {inst_id: 2, role: 'slave', term: 65537, self: true},
          {inst_id: 3, role: 'slave', term: 65537, self: false},
        ],
        flows: {
          role: 'master', term: 65537, live_slaves: [2, 3],
          devices: [{
            dpid: '0000000000000001', switch_role: 'master', term: 65537, version: 12, flows: 5, ready: true, queued: 0,
            mirrors: [{inst_id: 2, version: 12, lag: 0, late: false}, {inst_id: 3, version: null, lag: 12, late: true}],
          }],
          counters: {},
        },
      })
    })

    it('/cluster: the flow service\'s counters and the gateway\'s (dropped RPC messages by reason), snake_case', async () => {
      const stats = {
        instId: 2, domain: 'lab', role: 'slave', term: 65537, liveSlaves: [], snapshotsInProgress: 0, settings: {},
        counters: {snapshotsSent: 3, deltasSent: 40, malformedDropped: 2, busDropped: 1, audits: 5, auditRepairs: 7, takeoversFromSwitch: 1},
        devices: [{dpid: '0000000000000001', switchRole: 'slave', term: 65537, version: 11, size: 5, buffered: 0, awaitingSnapshot: false,
          trusted: false, trust: 'became slave (was unknown)'}],
      } as unknown as FlowServiceStats
      const gateway = Object.assign(new FakeProgrammer(), {
        stats: {local: 1, forwarded: 9, resent: 2, served: 0, unknownReplies: 3, dropped: {malformed: 4, not_json: 1}},
      })
      build({flowStatus: () => stats, flows: gateway})
      const flows = (await app.inject({method: 'GET', url: '/cluster'})).json().flows
      expect(flows.counters).to.deep.equal({
        snapshots_sent: 3, deltas_sent: 40, malformed_dropped: 2, bus_dropped: 1, audits: 5, audit_repairs: 7, takeovers_from_switch: 1,
      })
      expect(flows.gateway).to.deep.equal({local: 1, forwarded: 9, resent: 2, served: 0, unknown_replies: 3, dropped: {malformed: 4, not_json: 1}})
      expect(flows.devices[0]).to.include({trusted: false, trust: 'became slave (was unknown)'})
    })

    it("/cluster on a slave: its own mirror's position per device, and no term of its own (it programs nothing)", async () => {
      const stats = {
        instId: 2, domain: 'lab', role: 'slave', term: 65537, liveSlaves: [], snapshotsInProgress: 0, counters: {}, settings: {},
        devices: [{dpid: '0000000000000001', switchRole: 'slave', term: 65537, version: 11, size: 5, buffered: 1, awaitingSnapshot: false}],
      } as unknown as FlowServiceStats
      build({flowStatus: () => stats})
      expect((await app.inject({method: 'GET', url: '/cluster'})).json().flows).to.deep.equal({
        role: 'slave', term: null, live_slaves: [],
        devices: [{dpid: '0000000000000001', switch_role: 'slave', term: 65537, version: 11, flows: 5, buffered: 1, awaiting_snapshot: false}],
        counters: {},
      })
    })

    it('/cluster: flows null without a provider, an error field when it fails', async () => {
      expect((await app.inject({method: 'GET', url: '/cluster'})).json().flows).to.equal(null)
      build({flowStatus: async () => { throw new Error('not started') }})
      expect((await app.inject({method: 'GET', url: '/cluster'})).json().flows).to.deep.equal({error: 'flow status unavailable: not started'})
    })

    it("/stats/switches: Ryu's list of integer dpids (a string beyond 2^53)", async () => {
      const r = await app.inject({method: 'GET', url: '/stats/switches'})
      expect(r.json()).to.deep.equal([1, '18446744073709551615'])
    })
  })

  describe('bearer token', () => {
    beforeEach(() => build({token: 's3cret'}))

    it('missing or wrong: 401 before anything runs; right: served', async () => {
      const none = await post('/stats/flowentry/add', RYU_ADD)
      expect(none.statusCode).to.equal(401)
      expect(none.headers['www-authenticate']).to.equal('Bearer')
      expect(none.json()).to.deep.equal({error: 'missing or wrong bearer token (Authorization: Bearer <token>)'})
      const wrong = await post('/stats/flowentry/add', RYU_ADD, {'content-type': 'application/json', authorization: 'Bearer s3creT'})
      expect(wrong.statusCode).to.equal(401)
      expect((await app.inject({method: 'GET', url: '/stats/flow/1'})).statusCode).to.equal(401)
      expect((await app.inject({method: 'GET', url: '/cluster', headers: {authorization: 's3cret'}})).statusCode).to.equal(401)
      expect(programmer.calls).to.have.length(0)
      expect(registry.reads).to.have.length(0)
      const right = await post('/stats/flowentry/add', RYU_ADD, {'content-type': 'application/json', authorization: 'Bearer s3cret'})
      expect(right.statusCode).to.equal(200)
      expect((await app.inject({method: 'GET', url: '/stats/flow/1', headers: {authorization: 'Bearer s3cret'}})).statusCode).to.equal(200)
    })
  })

  it('RestServer listens on a real port and answers', async () => {
    const reg = new FakeRegistry()
    const server = await RestServer.start({host: '127.0.0.1', port: 0, instance: fakeInstance(reg), logger: new MemoryLogger(), flows: new FakeProgrammer()})
    try {
      const response = await fetch(`${server.url}/stats/flowentry/add`, {method: 'POST', body: JSON.stringify(RYU_ADD)})
      expect(response.status).to.equal(200)
      expect(await response.text()).to.equal('')
      // A GET with a filter body over a real socket (fetch cannot send one).
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${server.url}/stats/flow/1`, {method: 'GET', headers: {'content-type': 'application/json', 'content-length': '15'}}, (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        })
        req.on('error', reject)
        req.end('{"table_id": 6}')
      })
      expect(status).to.equal(200)
      expect(reg.reads[0]!.filter).to.deep.include({tableId: 6})
    } finally {
      await server.close()
    }
  })
})

describe('RequestPacer: deferred request work, a few items a turn of the event loop', () => {
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

  it('runs the items in order, at most perTurn a turn, so what arrives meanwhile is not held behind all of them', async () => {
    const pacer = new RequestPacer(32)
    const ran: number[] = []
    for (let i = 0; i < 70; i++) pacer.defer(() => ran.push(i))
    expect(ran).to.deep.equal([]) // nothing in the socket's callback
    const seen: number[] = []
    // An immediate queued now stands for a bus message read in the same turn: it runs after the first slice only.
    for (let t = 0; t < 4; t++) {
      await turn()
      seen.push(ran.length)
    }
    expect(seen).to.deep.equal([32, 64, 70, 70])
    expect(ran).to.deep.equal(Array.from({length: 70}, (_, i) => i))
    // Idle again: new work starts at the next turn.
    pacer.defer(() => ran.push(70))
    await turn()
    expect(ran.at(-1)).to.equal(70)
  })
})
