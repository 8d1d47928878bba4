// Flow requests forwarded over a real RabbitMQ: gateways on separate AmqpBus connections, one of
// them master with a fake flow service. A request made on a slave (directly, or through the slave's
// REST API) is answered with the master's result or its typed error; a master that goes away
// mid-request is replaced and the request is answered by its successor.
import {randomUUID} from 'node:crypto'
import {expect} from 'chai'
import {AmqpBus} from '../../../src/bus/index.js'
import {SwitchRefusedError, UnknownSwitchError, type FlowProgrammer, type ProgramOptions, type ProgramResult} from '../../../src/flows/programmer.js'
import {MemoryLogger} from '../../../src/log.js'
import {FlowGateway, type GatewayRole} from '../../../src/northbound/flow-gateway.js'
import {rpcRequestKey} from '../../../src/northbound/flow-rpc.js'
import {buildRestApp} from '../../../src/northbound/rest-server.js'
import {OFP, type FlowModMessage} from '../../../src/openflow/codec.js'
import {sharedBroker} from '../../helpers/broker.js'
import {sampleFlowMod, until} from '../../unit/northbound/fixtures.js'

class FakeService implements FlowProgrammer {
  readonly calls: Array<{dpid: bigint, flowMod: FlowModMessage, options?: ProgramOptions | undefined}> = []
  hold = false
  fail: Error | undefined
  constructor(readonly instId: number) {}
  program(dpid: bigint, flowMod: FlowModMessage, options?: ProgramOptions): Promise<ProgramResult> {
    this.calls.push({dpid, flowMod, options})
    if (this.hold) return new Promise(() => {})
    if (this.fail) return Promise.reject(this.fail)
    return Promise.resolve({masterId: this.instId, term: 65536 + this.instId, version: this.calls.length})
  }
}

describe('FlowGateway over RabbitMQ', function () {
  this.timeout(60_000)
  let url: string
  const buses: AmqpBus[] = []
  const gateways: FlowGateway[] = []

  before(async () => {
    url = (await sharedBroker()).url
  })
  afterEach(async () => {
    for (const g of gateways.splice(0)) g.stop()
    await Promise.all(buses.splice(0).map((b) => b.close()))
  })

  /** Instances of one fresh domain on a private exchange; `elect` sets every one's view of the master. */
  async function cluster(ids: number[]) {
    const domain = `nb${randomUUID().slice(0, 8)}`
    const exchange = `flowkeeper.nb.${randomUUID()}`
    const nodes = new Map<number, {bus: AmqpBus, gw: FlowGateway, role: GatewayRole, service: FakeService}>()
    for (const id of ids) {
      const bus = new AmqpBus({url, exchange, connectionName: `nb test ${id}`})
      buses.push(bus)
      const role: GatewayRole = {role: 'unknown', term: 0, masterId: undefined}
      const service = new FakeService(id)
      const gw = new FlowGateway({bus, domain, instId: id, getRole: () => role, local: service, logger: new MemoryLogger(), watchIntervalMs: 10})
      gateways.push(gw)
      gw.start() // before the bus starts: bindings in place on the first connection
      await bus.start()
      nodes.set(id, {bus, gw, role, service})
    }
    const elect = (masterId: number | undefined) => {
      for (const [id, n] of nodes) {
        n.role.role = masterId === undefined ? 'unknown' : id === masterId ? 'master' : 'slave'
        n.role.masterId = masterId
        n.role.term = masterId === undefined ? 0 : 65536 + masterId
      }
    }
    return {domain, node: (id: number) => nodes.get(id)!, elect}
  }

  it("a slave's request is answered with the master's result", async () => {
    const c = await cluster([1, 2])
    c.elect(1)
    const fm = sampleFlowMod({cookie: 0xf10e0000000000ffn, command: OFP.OFPFC_MODIFY})
    const result = await c.node(2).gw.program(0xabcdef0123456789n, fm, {timeoutMs: 3000})
    expect(result).to.deep.equal({masterId: 1, term: 65537, version: 1})
    expect(c.node(1).service.calls).to.have.length(1)
    expect(c.node(1).service.calls[0]!.dpid).to.equal(0xabcdef0123456789n)
    expect(c.node(1).service.calls[0]!.flowMod).to.deep.equal(fm)
    expect(c.node(2).service.calls).to.have.length(0)
  })

  it("a slave's requests of one turn travel as one batch RPC and each gets its own answer", async () => {
    const c = await cluster([1, 2])
    c.elect(1)
    const results = await Promise.all([1, 2, 3, 4, 5].map((p) => c.node(2).gw.program(BigInt(p), sampleFlowMod({priority: p}), {timeoutMs: 3000})))
    expect(c.node(2).gw.stats).to.deep.include({forwarded: 5, forwardedBatches: 1, coalesced: 5})
    expect(c.node(1).gw.stats).to.deep.include({served: 5, servedBatches: 1})
    expect(c.node(1).service.calls.map((call) => [call.dpid, call.flowMod.priority])).to.deep.equal([[1n, 1], [2n, 2], [3n, 3], [4n, 4], [5n, 5]])
    expect(results.map((r) => r.version)).to.deep.equal([1, 2, 3, 4, 5])
  })

  it("the master's typed errors come back as the same classes", async () => {
    const c = await cluster([1, 2])
    c.elect(1)
    c.node(1).service.fail = new SwitchRefusedError('no such port', 'OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT')
    const refused = await c.node(2).gw.program(1n, sampleFlowMod()).then(() => undefined, (e: Error) => e)
    expect(refused).to.be.instanceOf(SwitchRefusedError)
    expect((refused as SwitchRefusedError).code).to.equal('OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT')
    c.node(1).service.fail = new UnknownSwitchError(0x42n)
    const unknown = await c.node(2).gw.program(0x42n, sampleFlowMod()).then(() => undefined, (e: Error) => e)
    expect(unknown).to.be.instanceOf(UnknownSwitchError)
    expect((unknown as UnknownSwitchError).dpid).to.equal(0x42n)
  })

  it("through the slave's REST API: Ryu's empty 200 with the master's outcome, 404 for its unknown switch", async () => {
    const c = await cluster([1, 2])
    c.elect(1)
    const app = buildRestApp({
      logger: new MemoryLogger(),
      flows: c.node(2).gw,
      instance: {domain: c.domain, election: {instId: 2, role: 'slave', term: 65537, election: {masterId: 1, peers: () => []}}},
    })
    try {
      const body = JSON.stringify({dpid: 1, priority: 10, match: {in_port: 1}, actions: [{type: 'OUTPUT', port: 2}]})
      const ok = await app.inject({method: 'POST', url: '/stats/flowentry/add', payload: body, headers: {'content-type': 'application/x-www-form-urlencoded'}})
      expect(ok.statusCode).to.equal(200)
      expect(ok.body).to.equal('')
      expect(ok.headers['x-flowkeeper-master']).to.equal('1')
      expect(c.node(1).service.calls[0]!.flowMod).to.deep.include({command: OFP.OFPFC_ADD, priority: 10})
      c.node(1).service.fail = new UnknownSwitchError(1n)
      const missing = await app.inject({method: 'POST', url: '/stats/flowentry/add', payload: body})
      expect(missing.statusCode).to.equal(404)
      expect(missing.json()).to.deep.include({error: 'switch 0000000000000001 is not connected', kind: 'UnknownSwitchError'})
    } finally {
      await app.close()
    }
  })

  it('a master that dies mid-request is replaced: its successor answers', async () => {
    const c = await cluster([1, 2, 3])
    c.elect(1)
    c.node(1).service.hold = true
    const pending = c.node(3).gw.program(5n, sampleFlowMod(), {timeoutMs: 10_000})
    await until(() => c.node(1).service.calls.length === 1, 'the request at master 1')
    await c.node(1).bus.close()
    c.elect(2)
    const result = await pending
    expect(result).to.deep.equal({masterId: 2, term: 65538, version: 1})
    expect(c.node(3).gw.stats.resent).to.equal(1)
  })

  it('garbage on the request key is dropped and counted; serving goes on', async () => {
    const c = await cluster([1, 2])
    c.elect(1)
    // Published through another member's bus: the cluster's private exchange.
    c.node(2).bus.publish(rpcRequestKey(c.domain, 1), {v: 1, type: 'flow-rpc-request', domain: c.domain, id: 'bad id'})
    c.node(2).bus.publish(rpcRequestKey(c.domain, 1), {v: 7})
    await until(() => (c.node(1).gw.stats.dropped.malformed ?? 0) === 1 && (c.node(1).gw.stats.dropped.unknown_version ?? 0) === 1, 'the drops')
    expect((await c.node(2).gw.program(1n, sampleFlowMod())).masterId).to.equal(1)
  })
})
