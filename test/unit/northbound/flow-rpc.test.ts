// The forwarding protocol's wire format: FLOW_MODs survive the trip exactly, every typed error is
// re-created as the same class, and anything malformed is refused with a reason (never a throw).
import {expect} from 'chai'
import fc from 'fast-check'
import {FlowRequestError} from '../../../src/flows/ofctl-rest.js'
import {InstanceNotMasterError} from '../../../src/flows/service/errors.js'
import {NoMasterError, ProgramTimeoutError, SwitchRefusedError, UnknownSwitchError} from '../../../src/flows/programmer.js'
import {
  FLOW_RPC_VERSION, RemoteInternalError, batchEntryToJson, batchReplyToJson, batchRequestText, errorFromRpc, errorToRpc, flowModFromJson,
  flowModToJson, parseFlowRpcMessage, replyToJson, requestToJson, rpcReplyKey, rpcRequestKey, splitBatch,
} from '../../../src/northbound/flow-rpc.js'
import {richAdd, smallFlowMod} from '../../helpers/flows-arbitraries.js'
import {OFP} from '../../../src/openflow/codec.js'
import {sampleFlowMod} from './fixtures.js'

const goodRequest = () => requestToJson({
  domain: 'lab', id: 'c0ffee-1', from: 'node1', fromInst: 2, to: 1, term: 65537, dpid: 0xan, timeoutMs: 1000, flowMod: sampleFlowMod(),
})

/** Through JSON text, as the bus carries it. */
const wire = (o: unknown): unknown => JSON.parse(JSON.stringify(o))

describe('flow RPC wire format', () => {
  it('routing keys stay clear of the election and backup keys', () => {
    expect(rpcRequestKey('lab', 3)).to.equal('c.lab.flows.rpc.req.3')
    expect(rpcReplyKey('lab', 'ab12')).to.equal('c.lab.flows.rpc.reply.ab12')
  })

  it('FLOW_MOD survives JSON exactly (fuzzed)', () => {
    fc.assert(fc.property(fc.oneof(smallFlowMod, richAdd), (fm) => {
      const back = flowModFromJson(wire(flowModToJson(fm)))
      expect(back).to.deep.equal({...fm, xid: 0})
    }), {numRuns: 300})
  })

  it('a request and a reply parse back to what was sent', () => {
    const req = parseFlowRpcMessage(wire(goodRequest()), 'lab')
    expect(req.ok).to.equal(true)
    if (!req.ok || req.message.type !== 'flow-rpc-request') throw new Error('not a request')
    expect(req.message).to.deep.include({id: 'c0ffee-1', from: 'node1', fromInst: 2, to: 1, term: 65537, dpid: 0xan, timeoutMs: 1000})
    expect(req.message.flowMod).to.deep.equal(sampleFlowMod())

    const reply = parseFlowRpcMessage(wire(replyToJson({domain: 'lab', id: 'c0ffee-1', from: 1, result: {masterId: 1, term: 65537, version: 7}})), 'lab')
    expect(reply).to.deep.equal({ok: true, message: {type: 'flow-rpc-reply', domain: 'lab', id: 'c0ffee-1', from: 1, result: {masterId: 1, term: 65537, version: 7}}})
  })

  it('refuses what it cannot use, with a reason to count', () => {
    const reasons = (raw: unknown) => {
      const r = parseFlowRpcMessage(raw, 'lab')
      return r.ok ? 'ok' : r.reason
    }
    expect(reasons([1, 2])).to.equal('not_object')
    expect(reasons({...goodRequest(), v: 2})).to.equal('unknown_version')
    expect(reasons({...goodRequest(), v: undefined})).to.equal('unknown_version')
    expect(reasons({...goodRequest(), type: 'flow-rpc-other'})).to.equal('unknown_type')
    expect(reasons({...goodRequest(), domain: 'other'})).to.equal('foreign_domain')
    expect(reasons({...goodRequest(), id: 'has.dot'})).to.equal('malformed')
    expect(reasons({...goodRequest(), id: 'x'.repeat(65)})).to.equal('malformed')
    expect(reasons({...goodRequest(), from: '#'})).to.equal('malformed')
    expect(reasons({...goodRequest(), to: 0})).to.equal('malformed')
    expect(reasons({...goodRequest(), dpid: '1'})).to.equal('malformed')
    expect(reasons({...goodRequest(), timeoutMs: 0})).to.equal('malformed')
    expect(reasons({...goodRequest(), flowMod: {}})).to.equal('malformed')
    const reply = {v: FLOW_RPC_VERSION, type: 'flow-rpc-reply', domain: 'lab', id: 'a', from: 1}
    expect(reasons({...reply, result: {masterId: 1, term: 1, version: 1}})).to.equal('ok')
    expect(reasons(reply)).to.equal('malformed')
    expect(reasons({...reply, result: {masterId: 1, term: 1, version: 1}, error: {kind: 'Internal', message: 'x'}})).to.equal('malformed')
    expect(reasons({...reply, error: {kind: 'Weird', message: 'x'}})).to.equal('malformed')
    expect(reasons({...reply, error: {kind: 'Internal', message: 'x'.repeat(5000)}})).to.equal('malformed')
    expect(reasons({...reply, result: {masterId: 1, term: -1, version: 1}})).to.equal('malformed')
    const hostile = new Proxy({}, {get() { throw new Error('boom') }})
    expect(reasons(hostile)).to.equal('malformed')
  })

  it('a request whose envelope is readable but body is not can be answered (replyTo)', () => {
    const r = parseFlowRpcMessage({...goodRequest(), flowMod: {...flowModToJson(sampleFlowMod()), priority: 70000}}, 'lab')
    expect(r.ok).to.equal(false)
    if (r.ok) return
    expect(r.replyTo).to.deep.equal({id: 'c0ffee-1', from: 'node1', batch: false})
    expect(r.detail).to.match(/^flowMod\.priority: /)
    const bad = parseFlowRpcMessage({...goodRequest(), id: 7}, 'lab')
    expect(bad.ok === false && bad.replyTo).to.equal(undefined)
  })

  it('never throws on random input (fuzzed)', () => {
    fc.assert(fc.property(fc.anything(), (raw) => {
      const r = parseFlowRpcMessage(raw, 'lab')
      expect(r.ok).to.equal(false)
    }), {numRuns: 500})
    fc.assert(fc.property(fc.dictionary(fc.constantFrom('v', 'type', 'domain', 'id', 'from', 'to', 'dpid', 'flowMod', 'result', 'error', 'timeoutMs'), fc.anything()), (extra) => {
      parseFlowRpcMessage({...goodRequest(), ...extra}, 'lab')
    }), {numRuns: 500})
  })

  it('each typed error is re-created as the same class with the same details', () => {
    const roundTrip = (e: Error) => {
      const json = wire(replyToJson({domain: 'lab', id: 'a', from: 1, error: errorToRpc(e)}))
      const parsed = parseFlowRpcMessage(json, 'lab')
      if (!parsed.ok || parsed.message.type !== 'flow-rpc-reply' || !parsed.message.error) throw new Error('not an error reply')
      return errorFromRpc(parsed.message.error, 5n, 1)
    }
    const unknown = roundTrip(new UnknownSwitchError(0xabn))
    expect(unknown).to.be.instanceOf(UnknownSwitchError)
    expect((unknown as UnknownSwitchError).dpid).to.equal(0xabn)
    expect(unknown.message).to.equal('switch 00000000000000ab is not connected')
    const refused = roundTrip(new SwitchRefusedError('bad port', 'OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT'))
    expect(refused).to.be.instanceOf(SwitchRefusedError)
    expect((refused as SwitchRefusedError).code).to.equal('OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT')
    expect(refused.message).to.equal('bad port')
    expect(roundTrip(new ProgramTimeoutError('slow'))).to.be.instanceOf(ProgramTimeoutError)
    expect(roundTrip(new NoMasterError('taking over'))).to.be.instanceOf(NoMasterError)
    const req = roundTrip(new FlowRequestError('match.x', 'bad'))
    expect(req).to.be.instanceOf(FlowRequestError)
    expect((req as FlowRequestError).field).to.equal('match.x')
    const internal = roundTrip(new TypeError('oops'))
    expect(internal).to.be.instanceOf(RemoteInternalError)
    expect((internal as RemoteInternalError).status).to.equal(500)
    expect(internal.message).to.equal('master 1 failed: oops')
  })

  it("the flow service's 'not the master' goes on the wire as NotMaster (the slave sends the request on)", () => {
    expect(errorToRpc(new InstanceNotMasterError(1, 'slave')).kind).to.equal('NotMaster')
  })

  describe('batches', () => {
    const entries = [
      {dpid: 0xan, flowMod: sampleFlowMod()},
      {dpid: 0xffffffffffffffffn, flowMod: sampleFlowMod({command: OFP.OFPFC_DELETE_STRICT, priority: 7})},
    ]
    const envelope = {domain: 'lab', id: 'b-1', from: 'node1', fromInst: 2, to: 1, term: 65537, timeoutMs: 900}
    const goodBatch = () => JSON.parse(batchRequestText(envelope, entries.map((e) => JSON.stringify(batchEntryToJson(e)))).text) as Record<string, unknown>

    it('a batch request parses back to its entries, in order, switches mixed', () => {
      const r = parseFlowRpcMessage(wire(goodBatch()), 'lab')
      expect(r).to.deep.equal({ok: true, message: {type: 'flow-rpc-batch-request', ...envelope, entries}})
    })

    it('a batch reply carries one outcome per entry, errors typed, or one error for the whole batch', () => {
      const results = [{result: {masterId: 1, term: 65537, version: 3}}, {error: errorToRpc(new UnknownSwitchError(0xffffffffffffffffn))}]
      const r = parseFlowRpcMessage(wire(batchReplyToJson({domain: 'lab', id: 'b-1', from: 1, results})), 'lab')
      expect(r).to.deep.equal({ok: true, message: {type: 'flow-rpc-batch-reply', domain: 'lab', id: 'b-1', from: 1, results}})
      const whole = parseFlowRpcMessage(wire(batchReplyToJson({domain: 'lab', id: 'b-1', from: 1, error: {kind: 'NotMaster', message: 'slave'}})), 'lab')
      expect(whole.ok && whole.message).to.deep.include({error: {kind: 'NotMaster', message: 'slave'}})
    })

    it('a malformed batch is dropped with a reason, and answered when its envelope is readable', () => {
      const parse = (raw: unknown) => parseFlowRpcMessage(raw, 'lab')
      const bad = (raw: unknown) => {
        const r = parse(raw)
        return r.ok ? 'ok' : `${r.reason}${r.replyTo ? ` replyTo(batch=${r.replyTo.batch})` : ''}: ${r.detail}`
      }
      expect(bad({...goodBatch(), entries: []})).to.match(/^malformed replyTo\(batch=true\): entries: expected a list of 1\.\./)
      expect(bad({...goodBatch(), entries: 'x'})).to.match(/^malformed replyTo\(batch=true\): entries: /)
      const [first, second] = entries.map(batchEntryToJson)
      expect(bad({...goodBatch(), entries: [first, {...second, dpid: 'zz'}]})).to.match(/^malformed replyTo\(batch=true\): entries\[1\]\.dpid: /)
      expect(bad({...goodBatch(), entries: [first, {dpid: (second as {dpid: string}).dpid, flowMod: {...flowModToJson(sampleFlowMod()), tableId: 256}}]}))
        .to.match(/^malformed replyTo\(batch=true\): entries\[1\]\.flowMod\.tableId: /)
      expect(bad({...goodBatch(), entries: [first, null]})).to.match(/entries\[1\]: expected an object/)
      expect(bad({...goodBatch(), timeoutMs: -1})).to.match(/^malformed replyTo\(batch=true\): timeoutMs/)
      expect(bad({...goodBatch(), from: 'a.b'})).to.match(/^malformed: from/)
      expect(bad({...goodBatch(), v: 9})).to.match(/^unknown_version/)
      const reply = {v: FLOW_RPC_VERSION, type: 'flow-rpc-batch-reply', domain: 'lab', id: 'b-1', from: 1}
      expect(bad(reply)).to.match(/^malformed: results: expected exactly one of results and error/)
      expect(bad({...reply, results: [{result: {masterId: 1, term: 1, version: 1}}, {}]})).to.match(/^malformed: results\[1\]: /)
      expect(bad({...reply, results: [{error: {kind: 'Weird', message: 'x'}}]})).to.match(/^malformed: results\[0\]\.error\.kind: /)
      expect(bad({...reply, results: [{result: {masterId: 0, term: 1, version: 1}}]})).to.match(/^malformed: results\[0\]\.result\.masterId: /)
    })

    it('never throws on random batch fields (fuzzed)', () => {
      fc.assert(fc.property(fc.dictionary(fc.constantFrom('v', 'type', 'entries', 'results', 'error', 'timeoutMs', 'from', 'to'), fc.anything()), (extra) => {
        parseFlowRpcMessage({...goodBatch(), ...extra}, 'lab')
        parseFlowRpcMessage({v: FLOW_RPC_VERSION, type: 'flow-rpc-batch-reply', domain: 'lab', id: 'x', from: 1, ...extra}, 'lab')
      }), {numRuns: 500})
      fc.assert(fc.property(fc.array(fc.anything(), {maxLength: 5}), (list) => {
        expect(parseFlowRpcMessage({...goodBatch(), entries: list}, 'lab').ok).to.equal(false)
      }), {numRuns: 300})
    })

    it('splitBatch: chunks in order, each fitting the message size (and its reply), oversized entries set apart', () => {
      const many = Array.from({length: 1000}, (_, i) => ({dpid: BigInt(i % 3 + 1), flowMod: sampleFlowMod({priority: i})}))
      const maxBytes = 64 * 1024
      const split = splitBatch(many, maxBytes)
      expect(split.tooLarge).to.deep.equal([])
      expect(split.chunks.flat()).to.deep.equal(many.map((_, i) => i))
      expect(split.chunks.length).to.be.greaterThan(1)
      for (const chunk of split.chunks) {
        expect(chunk.length).to.be.at.most(maxBytes / 512)
        const json = batchRequestText(envelope, chunk.map((i) => split.encoded[i]!)).text
        expect(JSON.parse(json).entries, 'the entries spliced in').to.have.length(chunk.length)
        expect(Buffer.byteLength(json)).to.be.at.most(maxBytes)
      }
      // One big message when the bus allows it.
      expect(splitBatch(many, 4 * 1024 * 1024).chunks).to.have.length(1)
      const huge = {dpid: 1n, flowMod: sampleFlowMod({instructions: [{type: 'APPLY_ACTIONS', actions: Array.from({length: 3000}, () => ({type: 'OUTPUT' as const, port: 2, maxLen: 0}))}]})}
      const withHuge = splitBatch([many[0]!, huge, many[1]!], 64 * 1024)
      expect(withHuge.tooLarge).to.deep.equal([1])
      expect(withHuge.chunks.flat()).to.deep.equal([0, 2])
    })

    it('a batch reply of long error messages is shortened until it fits the message size', () => {
      const long = {error: errorToRpc(new SwitchRefusedError('x'.repeat(1000), 'OFPET_BAD_ACTION/OFPBAC_BAD_OUT_GROUP'))}
      const results = Array.from({length: 128}, () => long)
      const full = batchReplyToJson({domain: 'lab', id: 'b', from: 1, results})
      expect(Buffer.byteLength(JSON.stringify(full))).to.be.greaterThan(64 * 1024)
      const fitted = batchReplyToJson({domain: 'lab', id: 'b', from: 1, results}, 64 * 1024)
      expect(Buffer.byteLength(JSON.stringify(fitted))).to.be.at.most(64 * 1024)
      const parsed = parseFlowRpcMessage(wire(fitted), 'lab')
      if (!parsed.ok || parsed.message.type !== 'flow-rpc-batch-reply') throw new Error('not a batch reply')
      expect(parsed.message.results).to.have.length(128)
      const e = errorFromRpc((parsed.message.results![0] as {error: never}).error, 1n, 1)
      expect(e).to.be.instanceOf(SwitchRefusedError)
      expect(e.message.length).to.be.at.most(64)
    })
  })
})
