// FlowGateway on the in-memory bus with fake flow services: requests reach the master and its
// answer comes back as if served locally, typed errors included; no master fails at once; timeouts;
// a master change mid-request; garbage on the RPC keys is dropped and counted.
import {expect} from 'chai'
import {InMemoryBroker, type InMemoryBus} from '../../../src/bus/memory-bus.js'
import {FlowRequestError} from '../../../src/flows/ofctl-rest.js'
import {InstanceNotMasterError} from '../../../src/flows/service/errors.js'
import {
  NoMasterError, ProgramTimeoutError, SwitchRefusedError, UnknownSwitchError,
  type FlowProgrammer, type ProgramOptions, type ProgramResult,
} from '../../../src/flows/programmer.js'
import {MemoryLogger} from '../../../src/log.js'
import {FlowGateway, MasterChangedError, roleFromElection, type GatewayRole} from '../../../src/northbound/flow-gateway.js'
import {FLOW_RPC_VERSION, RemoteInternalError, flowModToJson, rpcReplyKey, rpcRequestKey} from '../../../src/northbound/flow-rpc.js'
import {OFP, type FlowModMessage} from '../../../src/openflow/codec.js'
import {rejection, sampleFlowMod, until} from './fixtures.js'
import {LoopTurns} from '../../helpers/loop-turns.js'

interface Call {
  dpid: bigint
  flowMod: FlowModMessage
  options: ProgramOptions | undefined
  resolve(r: ProgramResult): void
  reject(e: Error): void
}

/** A flow service that records calls; by default answers at once, or holds them for the test to answer. */
class FakeService implements FlowProgrammer {
  readonly calls: Call[] = []
  private readonly loop = new LoopTurns()
  /** Per call, the synchronous stretch it was made in: calls made in one loop share one. */
  readonly turns = this.loop.turns
  hold = false
  fail: Error | undefined
  /** Fails the calls it returns an error for. */
  failWhen: ((dpid: bigint, flowMod: FlowModMessage) => Error | undefined) | undefined
  constructor(readonly instId: number, public term = 65536 + instId) {}

  program(dpid: bigint, flowMod: FlowModMessage, options?: ProgramOptions): Promise<ProgramResult> {
    this.loop.mark()
    return new Promise((resolve, reject) => {
      this.calls.push({dpid, flowMod, options, resolve, reject})
      if (this.hold) return
      const fail = this.fail ?? this.failWhen?.(dpid, flowMod)
      if (fail) reject(fail)
      else resolve({masterId: this.instId, term: this.term, version: this.calls.length})
    })
  }
}

interface Node {
  id: number
  bus: InMemoryBus
  gw: FlowGateway
  role: GatewayRole
  service: FakeService
  log: MemoryLogger
}

const DOMAIN = 'nb'

async function makeCluster(ids: number[], options: {defaultTimeoutMs?: number, maxMessageBytes?: number} = {}) {
  const broker = new InMemoryBroker()
  const nodes = new Map<number, Node>()
  for (const id of ids) {
    const bus = broker.createBus()
    const role: GatewayRole = {role: 'unknown', term: 0, masterId: undefined}
    const service = new FakeService(id)
    const log = new MemoryLogger()
    const gw = new FlowGateway({
      bus, domain: DOMAIN, instId: id, getRole: () => role, local: service, logger: log,
      watchIntervalMs: 5, defaultTimeoutMs: options.defaultTimeoutMs ?? 2000,
      ...(options.maxMessageBytes !== undefined ? {maxMessageBytes: options.maxMessageBytes} : {}),
    })
    gw.start()
    await bus.start()
    nodes.set(id, {id, bus, gw, role, service, log})
  }
  const node = (id: number) => nodes.get(id)!
  /** Everyone sees `masterId` as master with `term` (undefined: no master anywhere). */
  const elect = (masterId: number | undefined, term = masterId === undefined ? 0 : 65536 + masterId) => {
    for (const n of nodes.values()) {
      n.role.role = masterId === undefined ? 'unknown' : n.id === masterId ? 'master' : 'slave'
      n.role.term = term
      n.role.masterId = masterId
      n.service.term = term
    }
  }
  const cleanup = async () => {
    for (const n of nodes.values()) {
      n.gw.stop()
      await n.bus.close()
    }
  }
  return {broker, node, elect, cleanup}
}

type Cluster = Awaited<ReturnType<typeof makeCluster>>

describe('FlowGateway', () => {
  let c: Cluster
  afterEach(async () => c?.cleanup())

  describe('forwarding from a slave to the master', () => {
    beforeEach(async () => {
      c = await makeCluster([1, 2, 3])
      c.elect(1)
    })

    it("the master's own request runs on its flow service", async () => {
      const result = await c.node(1).gw.program(5n, sampleFlowMod(), {timeoutMs: 700})
      expect(result).to.deep.equal({masterId: 1, term: 65537, version: 1})
      expect(c.node(1).service.calls[0]!.options).to.deep.equal({timeoutMs: 700})
      expect(c.node(1).gw.stats.local).to.equal(1)
    })

    it("a slave's request is served by the master and its answer returned as the slave's own", async () => {
      const fm = sampleFlowMod({command: OFP.OFPFC_MODIFY_STRICT, cookie: 0xffffffffffffffffn})
      const result = await c.node(2).gw.program(0xfedcba9876543210n, fm, {timeoutMs: 1000})
      expect(result).to.deep.equal({masterId: 1, term: 65537, version: 1})
      const call = c.node(1).service.calls[0]!
      expect(call.dpid).to.equal(0xfedcba9876543210n)
      expect(call.flowMod).to.deep.equal(fm)
      // The master gets the caller's timeout minus the margin for the reply's way back.
      expect(call.options).to.deep.equal({timeoutMs: 800})
      expect(c.node(2).service.calls).to.have.length(0)
      expect(c.node(3).service.calls).to.have.length(0)
      expect(c.node(2).gw.stats.forwarded).to.equal(1)
      expect(c.node(1).gw.stats.served).to.equal(1)
      expect(c.node(2).gw.inFlight).to.equal(0)
    })

    it('concurrent requests from several slaves each get their own answer', async () => {
      const results = await Promise.all([
        ...[1n, 2n, 3n].map((d) => c.node(2).gw.program(d, sampleFlowMod({priority: Number(d)}))),
        ...[4n, 5n].map((d) => c.node(3).gw.program(d, sampleFlowMod({priority: Number(d)}))),
      ])
      expect(results.map((r) => r.masterId)).to.deep.equal([1, 1, 1, 1, 1])
      expect(new Set(results.map((r) => r.version)).size).to.equal(5)
      const byPriority = new Map(c.node(1).service.calls.map((call) => [call.flowMod.priority, call.dpid]))
      expect([...byPriority.entries()].sort()).to.deep.equal([[1, 1n], [2, 2n], [3, 3n], [4, 4n], [5, 5n]])
    })

    it("a slave's single requests of one turn go to the master as one batch RPC; each keeps its own answer or error", async () => {
      c.node(1).service.failWhen = (dpid, fm) => (fm.priority === 2 ? new UnknownSwitchError(dpid) : undefined)
      const settled = await Promise.allSettled([1, 2, 3, 4].map((p) => c.node(2).gw.program(BigInt(p), sampleFlowMod({priority: p}), {timeoutMs: 1000})))
      expect(c.node(2).gw.stats).to.deep.include({forwarded: 4, forwardedBatches: 1, coalesced: 4})
      expect(c.node(1).gw.stats).to.deep.include({served: 4, servedBatches: 1})
      expect(c.node(1).service.calls.map((call) => call.flowMod.priority)).to.deep.equal([1, 2, 3, 4])
      expect(new Set(c.node(1).service.turns).size).to.equal(1)
      expect(settled.map((r) => r.status)).to.deep.equal(['fulfilled', 'rejected', 'fulfilled', 'fulfilled'])
      expect(((settled[1] as PromiseRejectedResult).reason as UnknownSwitchError).dpid).to.equal(2n)
      const versions = settled.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<ProgramResult>).value.version)
      expect(versions).to.deep.equal([1, 3, 4]) // the fake flow service numbers every call it gets
      // A request made in a later turn goes on its own, as a single RPC.
      await c.node(2).gw.program(5n, sampleFlowMod({priority: 5}), {timeoutMs: 1000})
      expect(c.node(2).gw.stats).to.deep.include({forwarded: 5, forwardedBatches: 1, coalesced: 4})
    })

    it('requests of one turn with different timeouts go as separate RPCs', async () => {
      await Promise.all([c.node(2).gw.program(1n, sampleFlowMod({priority: 1}), {timeoutMs: 1000}), c.node(2).gw.program(2n, sampleFlowMod({priority: 2}), {timeoutMs: 2000})])
      expect(c.node(2).gw.stats).to.deep.include({forwarded: 2, forwardedBatches: 0, coalesced: 0})
    })

    const typed: Array<[string, () => Error, (e: Error) => void]> = [
      ['UnknownSwitchError (404)', () => new UnknownSwitchError(9n), (e) => {
        expect(e).to.be.instanceOf(UnknownSwitchError)
        expect((e as UnknownSwitchError).dpid).to.equal(9n)
        expect((e as UnknownSwitchError).status).to.equal(404)
      }],
      ['SwitchRefusedError (400)', () => new SwitchRefusedError('table full', 'OFPET_FLOW_MOD_FAILED/OFPFMFC_TABLE_FULL'), (e) => {
        expect(e).to.be.instanceOf(SwitchRefusedError)
        expect((e as SwitchRefusedError).code).to.equal('OFPET_FLOW_MOD_FAILED/OFPFMFC_TABLE_FULL')
        expect(e.message).to.equal('table full')
      }],
      ['ProgramTimeoutError (504)', () => new ProgramTimeoutError('mirrors silent'), (e) => {
        expect(e).to.be.instanceOf(ProgramTimeoutError)
        expect(e.message).to.equal('mirrors silent')
      }],
      ['NoMasterError (503)', () => new NoMasterError('takeover in progress'), (e) => {
        expect(e).to.be.instanceOf(NoMasterError)
        expect(e.message).to.equal('takeover in progress')
      }],
      ['FlowRequestError (400)', () => new FlowRequestError('match.in_port', 'out of range'), (e) => {
        expect(e).to.be.instanceOf(FlowRequestError)
        expect((e as FlowRequestError).field).to.equal('match.in_port')
      }],
      ['anything else: RemoteInternalError (500)', () => new TypeError('bug'), (e) => {
        expect(e).to.be.instanceOf(RemoteInternalError)
        expect(e.message).to.equal('master 1 failed: bug')
      }],
    ]
    for (const [name, make, check] of typed) {
      it(`the master's ${name} is re-created on the slave`, async () => {
        c.node(1).service.fail = make()
        const local = await rejection(c.node(1).gw.program(9n, sampleFlowMod()))
        const forwarded = await rejection(c.node(2).gw.program(9n, sampleFlowMod()))
        check(forwarded)
        expect(forwarded.constructor).to.equal(local.constructor === TypeError ? RemoteInternalError : local.constructor)
      })
    }
  })

  describe('no master', () => {
    it('fails at once during the election, naming the domain and why', async () => {
      c = await makeCluster([1, 2])
      const started = performance.now()
      const e = await rejection(c.node(2).gw.program(1n, sampleFlowMod()))
      expect(performance.now() - started).to.be.lessThan(50)
      expect(e).to.be.instanceOf(NoMasterError)
      expect((e as NoMasterError).status).to.equal(503)
      expect(e.message).to.equal('no master in domain nb: election in progress (instance 2 has not chosen its role yet)')
    })

    it('a slave whose master was lost says so', async () => {
      c = await makeCluster([1, 2])
      c.elect(1)
      c.node(2).role.masterId = undefined
      const e = await rejection(c.node(2).gw.program(1n, sampleFlowMod()))
      expect(e.message).to.equal('no master in domain nb: the master was lost and no new one has been elected yet')
    })

    it('an instance cut off from the broker says so', async () => {
      c = await makeCluster([1, 2])
      c.broker.disconnect(c.node(2).bus)
      c.node(2).role.role = 'unknown'
      c.node(2).role.masterId = undefined
      const e = await rejection(c.node(2).gw.program(1n, sampleFlowMod()))
      expect(e.message).to.match(/cut off from the broker/)
    })

    it('a master without its flow service yet answers 503, locally and to forwarded requests', async () => {
      c = await makeCluster([1, 2])
      c.elect(1)
      c.node(1).gw.setLocal(undefined)
      const local = await rejection(c.node(1).gw.program(1n, sampleFlowMod()))
      expect(local).to.be.instanceOf(NoMasterError)
      expect(local.message).to.match(/flow service is not running yet/)
      const forwarded = await rejection(c.node(2).gw.program(1n, sampleFlowMod(), {timeoutMs: 300}))
      // It answered 'not master' and no other master appeared within the timeout.
      expect(forwarded).to.be.instanceOf(MasterChangedError)
      expect(forwarded.message).to.match(/it was not applied/)
    })
  })

  describe('timeouts', () => {
    it('a master that never answers: ProgramTimeoutError at the caller\'s timeout', async () => {
      c = await makeCluster([1, 2])
      c.elect(1)
      c.node(1).service.hold = true
      const started = performance.now()
      const e = await rejection(c.node(2).gw.program(1n, sampleFlowMod(), {timeoutMs: 120}))
      const took = performance.now() - started
      expect(e).to.be.instanceOf(ProgramTimeoutError)
      expect((e as ProgramTimeoutError).status).to.equal(504)
      expect(e.message).to.equal('master 1 of domain nb did not answer within 120 ms; the change may or may not have been applied')
      expect(took).to.be.within(110, 400)
      expect(c.node(2).gw.inFlight).to.equal(0)
      // Its late answer is ignored (counted).
      c.node(1).service.calls[0]!.resolve({masterId: 1, term: 65537, version: 1})
      await until(() => c.node(2).gw.stats.unknownReplies === 1, 'the late reply')
    })

    it('a master that is gone (not subscribed): the same timeout', async () => {
      c = await makeCluster([2])
      c.node(2).role.role = 'slave'
      c.node(2).role.masterId = 7
      c.node(2).role.term = 65543
      const e = await rejection(c.node(2).gw.program(1n, sampleFlowMod(), {timeoutMs: 80}))
      expect(e).to.be.instanceOf(ProgramTimeoutError)
    })

    it('refuses a nonsensical timeout', async () => {
      c = await makeCluster([1])
      c.elect(1)
      for (const timeoutMs of [0, -5, Number.NaN]) {
        expect(await rejection(c.node(1).gw.program(1n, sampleFlowMod(), {timeoutMs}))).to.be.instanceOf(RangeError)
      }
    })
  })

  describe('the master changes while a request is in flight', () => {
    beforeEach(async () => {
      c = await makeCluster([1, 2, 3])
      c.elect(1)
      c.node(1).service.hold = true
    })

    it('the request goes once more to the new master, whose answer is returned; the old one\'s is ignored', async () => {
      const pending = c.node(3).gw.program(4n, sampleFlowMod(), {timeoutMs: 2000})
      await until(() => c.node(1).service.calls.length === 1, 'the request at master 1')
      c.elect(2)
      const result = await pending
      expect(result).to.deep.equal({masterId: 2, term: 65538, version: 1})
      expect(c.node(2).service.calls[0]!.flowMod).to.deep.equal(sampleFlowMod())
      expect(c.node(3).gw.stats.resent).to.equal(1)
      expect(c.node(3).log.lines.some((l) => l.event === 'flow_forward_master_changed')).to.equal(true)
      c.node(1).service.calls[0]!.resolve({masterId: 1, term: 65537, version: 1})
      await until(() => c.node(3).gw.stats.unknownReplies === 1, 'the deposed master\'s late reply')
    })

    it('it waits for the election to finish (no master for a while), then sends it on', async () => {
      const pending = c.node(3).gw.program(4n, sampleFlowMod(), {timeoutMs: 2000})
      await until(() => c.node(1).service.calls.length === 1, 'the request at master 1')
      c.elect(undefined)
      await new Promise((r) => setTimeout(r, 40))
      expect(c.node(3).gw.inFlight).to.equal(1)
      c.elect(2)
      expect((await pending).masterId).to.equal(2)
    })

    it('the same master re-elected with a new term counts as a change (its in-flight state may be lost)', async () => {
      const pending = c.node(3).gw.program(4n, sampleFlowMod(), {timeoutMs: 2000})
      await until(() => c.node(1).service.calls.length === 1, 'the request at master 1')
      c.node(1).service.hold = false
      c.elect(1, 2 * 65536 + 1)
      const result = await pending
      expect(result).to.deep.equal({masterId: 1, term: 2 * 65536 + 1, version: 2})
      expect(c.node(1).service.calls).to.have.length(2)
    })

    it('a slave that became master itself runs the request on its own flow service', async () => {
      const pending = c.node(3).gw.program(4n, sampleFlowMod(), {timeoutMs: 2000})
      await until(() => c.node(1).service.calls.length === 1, 'the request at master 1')
      c.elect(3)
      expect(await pending).to.deep.equal({masterId: 3, term: 65539, version: 1})
      expect(c.node(3).service.calls[0]!.options!.timeoutMs).to.be.within(1500, 2000)
    })

    it('an ADD with check_overlap is not replayed: MasterChangedError (503, retriable, outcome unknown)', async () => {
      const fm = sampleFlowMod({flags: OFP.OFPFF_CHECK_OVERLAP})
      const pending = c.node(3).gw.program(4n, fm, {timeoutMs: 2000})
      await until(() => c.node(1).service.calls.length === 1, 'the request at master 1')
      c.elect(2)
      const e = await rejection(pending)
      expect(e).to.be.instanceOf(MasterChangedError)
      expect((e as MasterChangedError).status).to.equal(503)
      expect((e as MasterChangedError).retriable).to.equal(true)
      expect(e.message).to.equal('master 1 (term 65537) of domain nb went away while the request was in flight and an ADD with check_overlap cannot be sent again safely; it may or may not have been applied: retry')
      expect(c.node(2).service.calls).to.have.length(0)
    })

    it('no new master within the timeout: MasterChangedError', async () => {
      const pending = c.node(3).gw.program(4n, sampleFlowMod(), {timeoutMs: 150})
      await until(() => c.node(1).service.calls.length === 1, 'the request at master 1')
      c.elect(undefined)
      const e = await rejection(pending)
      expect(e).to.be.instanceOf(MasterChangedError)
      expect(e.message).to.match(/no new master took over within 150 ms; it may or may not have been applied/)
    })

    it('a master that answers "not master" did not act: the request goes on, check_overlap or not', async () => {
      c.node(1).service.hold = false
      // Node 1 stepped down but node 3 has not heard yet: it still sends to 1.
      c.node(1).role.role = 'slave'
      c.node(1).role.masterId = 2
      const pending = c.node(3).gw.program(4n, sampleFlowMod({flags: OFP.OFPFF_CHECK_OVERLAP}), {timeoutMs: 2000})
      await until(() => c.node(1).gw.stats.served === 1, 'the refusal')
      await new Promise((r) => setTimeout(r, 30))
      expect(c.node(3).gw.inFlight).to.equal(1) // still believes in 1: waits for the election to move on
      c.elect(2)
      expect((await pending).masterId).to.equal(2)
      expect(c.node(1).service.calls).to.have.length(0)
    })

    it("the flow service's own InstanceNotMasterError is a 'not master' too", async () => {
      c.node(1).service.hold = false
      c.node(1).service.fail = new InstanceNotMasterError(1, 'slave')
      const pending = c.node(3).gw.program(4n, sampleFlowMod(), {timeoutMs: 2000})
      await until(() => c.node(1).service.calls.length === 1, 'the request at master 1')
      await new Promise((r) => setTimeout(r, 20))
      c.elect(2)
      expect((await pending).masterId).to.equal(2)
    })

    it('stop() fails what is in flight', async () => {
      const pending = c.node(3).gw.program(4n, sampleFlowMod(), {timeoutMs: 2000})
      await until(() => c.node(1).service.calls.length === 1, 'the request at master 1')
      c.node(3).gw.stop()
      const e = await rejection(pending)
      expect(e).to.be.instanceOf(NoMasterError)
      expect(e.message).to.match(/stopping/)
      expect(await rejection(c.node(3).gw.program(4n, sampleFlowMod()))).to.be.instanceOf(NoMasterError)
    })
  })

  describe('malformed and foreign messages', () => {
    beforeEach(async () => {
      c = await makeCluster([1, 2])
      c.elect(1)
    })

    it('are dropped and counted, with one rate-limited warning per reason, and never break serving', async () => {
      const reqKey = rpcRequestKey(DOMAIN, 1)
      const replyKey = rpcReplyKey(DOMAIN, c.node(2).gw.node)
      const raw = c.broker.createBus()
      await raw.start()
      for (let i = 0; i < 5; i++) raw.publish(reqKey, {v: FLOW_RPC_VERSION, type: 'flow-rpc-request', domain: DOMAIN, id: '!!'})
      raw.publish(reqKey, {v: 99, type: 'flow-rpc-request'})
      raw.publish(reqKey, {v: FLOW_RPC_VERSION, type: 'flow-rpc-request', domain: 'other'})
      raw.publish(reqKey, [1, 2, 3] as unknown as object)
      raw.publish(replyKey, {v: FLOW_RPC_VERSION, type: 'flow-rpc-reply', domain: DOMAIN, id: 'abc', from: 1, result: {masterId: 1}})
      raw.publish(replyKey, {v: FLOW_RPC_VERSION, type: 'flow-rpc-request', domain: DOMAIN})
      c.broker.publishRaw(reqKey, '{not json')
      // A well-formed reply nobody asked for: ignored, counted apart.
      raw.publish(replyKey, {v: FLOW_RPC_VERSION, type: 'flow-rpc-reply', domain: DOMAIN, id: 'nobody-asked', from: 1, result: {masterId: 1, term: 1, version: 1}})
      await until(() => c.node(2).gw.stats.unknownReplies === 1, 'the stray reply')
      expect(c.node(1).gw.stats.dropped).to.deep.equal({malformed: 5, unknown_version: 1, foreign_domain: 1})
      expect(c.node(1).bus.stats.dropped).to.deep.equal({not_json: 1, not_object: 1}) // the bus drops these before us
      expect(c.node(2).gw.stats.dropped).to.deep.equal({malformed: 2})
      const warnings = c.node(1).log.lines.filter((l) => l.event === 'message_dropped')
      expect(warnings.map((w) => w.reason)).to.deep.equal(['malformed', 'unknown_version', 'foreign_domain'])
      expect(warnings[0]).to.deep.include({level: 'warn', kind: 'flow_rpc', count: 1})
      // Still serving.
      expect((await c.node(2).gw.program(1n, sampleFlowMod())).masterId).to.equal(1)
      await raw.close()
    })

    it('a request of our version with a readable envelope but an unreadable flow-mod is answered BadRequest', async () => {
      const raw = c.broker.createBus()
      const replies: unknown[] = []
      raw.subscribe(rpcReplyKey(DOMAIN, 'tester'), (body) => replies.push(body))
      await raw.start()
      raw.publish(rpcRequestKey(DOMAIN, 1), {
        v: FLOW_RPC_VERSION, type: 'flow-rpc-request', domain: DOMAIN, id: 'r1', from: 'tester', fromInst: 9, to: 1, term: 65537,
        dpid: '0000000000000001', timeoutMs: 100, flowMod: {...flowModToJson(sampleFlowMod()), command: 9},
      })
      await until(() => replies.length === 1, 'the BadRequest reply')
      expect(replies[0]).to.deep.include({type: 'flow-rpc-reply', id: 'r1', from: 1})
      expect((replies[0] as {error: unknown}).error).to.deep.equal({kind: 'BadRequest', message: 'flowMod.command: expected an OFPFC_* command 0..4', field: 'flowMod.command'})
      expect(c.node(1).service.calls).to.have.length(0)
      await raw.close()
    })

    it('a flow-mod too large for one bus message is refused before sending (400)', async () => {
      const actions = Array.from({length: 4000}, (_, i) => ({type: 'OUTPUT' as const, port: i + 1, maxLen: 0}))
      const e = await rejection(c.node(2).gw.program(1n, sampleFlowMod({instructions: [{type: 'APPLY_ACTIONS', actions}]})))
      expect(e).to.be.instanceOf(FlowRequestError)
      expect(e.message).to.match(/^flow: too large to forward to master 1 \(about \d+ bytes of JSON, at most 65536\)$/)
    })
  })

  it('roleFromElection takes the master peer\'s term, not the highest heard of', () => {
    const peers = [{instId: 1, role: 'master' as const, term: 65537}, {instId: 3, role: 'slave' as const, term: 131075}]
    expect(roleFromElection({role: 'slave', term: 131075, masterId: 1, peers: () => peers})).to.deep.equal({role: 'slave', term: 65537, masterId: 1})
    expect(roleFromElection({role: 'master', term: 65538, masterId: 2, peers: () => peers})).to.deep.equal({role: 'master', term: 65538, masterId: 2})
    expect(roleFromElection({role: 'unknown', term: 0, masterId: undefined, peers: () => []})).to.deep.equal({role: 'unknown', term: 0, masterId: undefined})
  })

  describe('batches', () => {
    /** n adds, priority = index, on switches 1..3 in turn. */
    const batch = (n: number, flags = 0) => Array.from({length: n}, (_, i) => ({dpid: BigInt(i % 3 + 1), flowMod: sampleFlowMod({priority: i, flags})}))
    const priorities = (calls: Call[]) => calls.map((call) => call.flowMod.priority)

    beforeEach(async () => {
      c = await makeCluster([1, 2, 3])
      c.elect(1)
    })

    it("the master's own batch: every item to the flow service in order, in one loop, one outcome each", async () => {
      const items = batch(50)
      c.node(1).service.failWhen = (dpid, fm) => (fm.priority === 7 ? new UnknownSwitchError(dpid) : undefined)
      const outcomes = await c.node(1).gw.programBatch(items, {timeoutMs: 700})
      const calls = c.node(1).service.calls
      expect(priorities(calls)).to.deep.equal(items.map((_, i) => i))
      expect(calls.map((call) => call.dpid)).to.deep.equal(items.map((it) => it.dpid))
      expect(new Set(c.node(1).service.turns).size).to.equal(1)
      expect(calls[0]!.options).to.deep.equal({timeoutMs: 700})
      expect(outcomes).to.have.length(50)
      expect(outcomes[0]).to.deep.equal({masterId: 1, term: 65537, version: 1})
      expect(outcomes[7]).to.be.instanceOf(UnknownSwitchError)
      expect(c.node(1).gw.stats.local).to.equal(50)
    })

    it("a slave's batch goes to the master as ONE message; served in one loop; per-entry outcomes and typed errors come back", async () => {
      const items = batch(100)
      c.node(1).service.failWhen = (dpid, fm) => {
        if (fm.priority === 3) return new UnknownSwitchError(dpid)
        if (fm.priority === 90) return new SwitchRefusedError('no such group', 'OFPET_BAD_ACTION/OFPBAC_BAD_OUT_GROUP')
        return undefined
      }
      const outcomes = await c.node(2).gw.programBatch(items, {timeoutMs: 1000})
      expect(c.node(2).gw.stats).to.deep.include({forwarded: 100, forwardedBatches: 1})
      expect(c.node(1).gw.stats).to.deep.include({served: 100, servedBatches: 1})
      const calls = c.node(1).service.calls
      expect(priorities(calls)).to.deep.equal(items.map((_, i) => i))
      expect(calls.map((call) => call.flowMod)).to.deep.equal(items.map((it) => it.flowMod))
      expect(new Set(c.node(1).service.turns).size).to.equal(1)
      expect(calls[0]!.options).to.deep.equal({timeoutMs: 800})
      expect(outcomes[0]).to.deep.equal({masterId: 1, term: 65537, version: 1})
      expect(outcomes[99]).to.deep.equal({masterId: 1, term: 65537, version: 100})
      expect(outcomes[3]).to.be.instanceOf(UnknownSwitchError)
      expect((outcomes[3] as UnknownSwitchError).dpid).to.equal(1n)
      expect(outcomes[90]).to.be.instanceOf(SwitchRefusedError)
      expect((outcomes[90] as SwitchRefusedError).code).to.equal('OFPET_BAD_ACTION/OFPBAC_BAD_OUT_GROUP')
      expect(c.node(2).service.calls).to.have.length(0)
    })

    it('a batch too large for one bus message goes as several, in order, each answered', async () => {
      await c.cleanup()
      c = await makeCluster([1, 2], {maxMessageBytes: 16 * 1024})
      c.elect(1)
      const items = batch(300)
      const outcomes = await c.node(2).gw.programBatch(items)
      expect(c.node(2).gw.stats.forwardedBatches).to.be.greaterThan(5)
      expect(priorities(c.node(1).service.calls)).to.deep.equal(items.map((_, i) => i))
      expect(outcomes.map((o) => (o as ProgramResult).version)).to.deep.equal(items.map((_, i) => i + 1))
    })

    it('no master: every entry fails at once with the same NoMasterError', async () => {
      c.elect(undefined)
      const outcomes = await c.node(2).gw.programBatch(batch(3))
      expect(outcomes).to.have.length(3)
      for (const o of outcomes) expect(o).to.be.instanceOf(NoMasterError)
      expect((outcomes[0] as Error).message).to.match(/^no master in domain nb: election in progress/)
      expect(c.node(2).gw.stats.forwarded).to.equal(0)
    })

    it('a master that never answers: ProgramTimeoutError for every entry', async () => {
      c.node(1).service.hold = true
      const outcomes = await c.node(2).gw.programBatch(batch(4), {timeoutMs: 150})
      for (const o of outcomes) expect(o).to.be.instanceOf(ProgramTimeoutError)
      expect(c.node(2).gw.inFlight).to.equal(0)
    })

    it('the master changes mid-batch: replay-safe entries go on to the new master, check_overlap ADDs fail (outcome unknown)', async () => {
      c.node(1).service.hold = true
      const items = [...batch(3), {dpid: 9n, flowMod: sampleFlowMod({priority: 99, flags: OFP.OFPFF_CHECK_OVERLAP})}, ...batch(2)]
      const pending = c.node(3).gw.programBatch(items, {timeoutMs: 2000})
      await until(() => c.node(1).service.calls.length === 6, 'the batch at master 1')
      c.elect(2)
      const outcomes = await pending
      expect(priorities(c.node(2).service.calls)).to.deep.equal([0, 1, 2, 0, 1])
      expect(new Set(c.node(2).service.turns).size).to.equal(1)
      expect(outcomes[3]).to.be.instanceOf(MasterChangedError)
      expect((outcomes[3] as Error).message).to.match(/check_overlap cannot be sent again safely; it may or may not have been applied/)
      expect(outcomes.filter((o) => !(o instanceof Error)).map((o) => (o as ProgramResult).masterId)).to.deep.equal([2, 2, 2, 2, 2])
      expect(c.node(3).gw.stats.resent).to.equal(5)
    })

    it('a master that answers "not master" did not act: the whole batch goes on, check_overlap or not', async () => {
      c.node(1).role.role = 'slave'
      c.node(1).role.masterId = 2
      const pending = c.node(3).gw.programBatch(batch(3, OFP.OFPFF_CHECK_OVERLAP), {timeoutMs: 2000})
      await until(() => c.node(1).gw.stats.servedBatches === 1, 'the refusal')
      c.elect(2)
      const outcomes = await pending
      expect(outcomes.map((o) => (o as ProgramResult).masterId)).to.deep.equal([2, 2, 2])
      expect(c.node(1).service.calls).to.have.length(0)
    })

    it('a slave promoted mid-batch runs the rest on its own flow service, in one loop', async () => {
      c.node(1).service.hold = true
      const pending = c.node(3).gw.programBatch(batch(4), {timeoutMs: 2000})
      await until(() => c.node(1).service.calls.length === 4, 'the batch at master 1')
      c.elect(3)
      const outcomes = await pending
      expect(outcomes.map((o) => (o as ProgramResult).masterId)).to.deep.equal([3, 3, 3, 3])
      expect(new Set(c.node(3).service.turns).size).to.equal(1)
    })

    it('a malformed batch request is dropped and counted, and answered BadRequest when its envelope is readable', async () => {
      const raw = c.broker.createBus()
      const replies: unknown[] = []
      raw.subscribe(rpcReplyKey(DOMAIN, 'tester'), (body) => replies.push(body))
      await raw.start()
      const envelope = {v: FLOW_RPC_VERSION, type: 'flow-rpc-batch-request', domain: DOMAIN, id: 'b1', from: 'tester', fromInst: 9, to: 1, term: 65537, timeoutMs: 100}
      raw.publish(rpcRequestKey(DOMAIN, 1), {...envelope, entries: [{dpid: '0000000000000001', flowMod: flowModToJson(sampleFlowMod())}, {dpid: 'nope'}]})
      raw.publish(rpcRequestKey(DOMAIN, 1), {...envelope, id: '!', entries: []})
      await until(() => replies.length === 1, 'the BadRequest reply')
      expect(replies[0]).to.deep.include({type: 'flow-rpc-batch-reply', id: 'b1', from: 1})
      expect((replies[0] as {error: unknown}).error).to.deep.equal({kind: 'BadRequest', message: 'entries[1].dpid: expected 16 lower-case hex digits', field: 'entries[1].dpid'})
      await until(() => c.node(1).gw.stats.dropped.malformed === 2, 'both counted')
      expect(c.node(1).service.calls).to.have.length(0)
      // A batch reply with the wrong number of results: every entry fails, nothing hangs.
      c.node(1).service.hold = true
      const pending = c.node(2).gw.programBatch(batch(2), {timeoutMs: 2000})
      await until(() => c.node(1).service.calls.length === 2, 'the batch at master 1')
      const id = [...(c.node(2).gw as unknown as {byId: Map<string, unknown>}).byId.keys()][0]!
      raw.publish(rpcReplyKey(DOMAIN, c.node(2).gw.node), {v: FLOW_RPC_VERSION, type: 'flow-rpc-batch-reply', domain: DOMAIN, id, from: 1, results: [{result: {masterId: 1, term: 65537, version: 1}}]})
      const outcomes = await pending
      expect(outcomes.map((o) => (o as Error).message)).to.deep.equal(['master 1 answered 1 results for 2 entries', 'master 1 answered 1 results for 2 entries'])
      await raw.close()
    })
  })
})
