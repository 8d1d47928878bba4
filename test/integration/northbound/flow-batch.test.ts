// Batches through a slave for real: a private RabbitMQ, Open vSwitch bridges connected to three
// `flowkeeper start` processes. A JSON array posted to a slave's /stats/flowentry/add goes to the
// master as one batch RPC, lands on the switches, and is acknowledged entry by entry only once the
// mirrors have it; an entry the switch refuses fails alone.
import {expect} from 'chai'
import {waitFor} from '../../../src/lab/exec.js'
import type {InstanceProcess} from '../../../src/lab/instance-process.js'
import {
  RestClient, addBody, bodyOf, expectedSeen, postFlow, seenLine, switchLines, tablePositions, testFlow, type TestFlow,
} from '../../helpers/flow-stream.js'
import {useSwitchLab, type SwitchCluster} from '../../helpers/switch-cluster.js'

interface BatchResult {
  status: number
  master?: number
  term?: number
  version?: number
  error?: string
  kind?: string
  code?: string
}

const byId = (a: InstanceProcess, b: InstanceProcess) => a.id - b.id

describe('flow entry batches through a slave (real RabbitMQ, Open vSwitch, CLI processes)', function () {
  this.timeout(90_000)
  const env = useSwitchLab()
  const clients: RestClient[] = []
  afterEach(() => {
    for (const c of clients.splice(0)) c.close()
  })

  function client(sc: SwitchCluster, m: InstanceProcess): RestClient {
    const c = new RestClient(sc.slotOf(m).apiPort)
    clients.push(c)
    return c
  }

  /** Every instance's table (master) or mirror (slave) at the master's position; a late ack is the one tolerated delay. */
  async function expectMirrorsAtMaster(sc: SwitchCluster, master: InstanceProcess, slaves: InstanceProcess[]): Promise<void> {
    const dpids = sc.bridges.map((b) => b.dpidHex)
    const masterPositions = await tablePositions(client(sc, master), dpids)
    for (const slave of slaves) {
      const mirrors = await tablePositions(client(sc, slave), dpids)
      if (JSON.stringify(mirrors) === JSON.stringify(masterPositions)) continue
      const late = master.lines.filter((l) => l.event === 'flow_ack_late' && l.slave === slave.id)
      expect(late, `instance ${slave.id}'s mirrors (${JSON.stringify(mirrors)}) behind acknowledged changes (${JSON.stringify(masterPositions)}) without a late-ack warning`).to.not.deep.equal([])
      await waitFor(`instance ${slave.id} to catch up`, async () => JSON.stringify(await tablePositions(client(sc, slave), dpids)) === JSON.stringify(masterPositions) || undefined, {timeoutMs: 10_000})
    }
  }

  it('500 adds over 2 bridges in one POST to a slave: 200, one result each, all on the switches, every mirror at the master\'s version; an entry the switch refuses fails alone', async () => {
    const sc = await env.start({ids: [1, 2, 3], bridges: 2})
    const master = sc.master()
    const [slaveA, slaveB] = sc.running().filter((m) => m !== master).sort(byId) as [InstanceProcess, InstanceProcess]
    const entry = client(sc, slaveB)
    // Interleaved: entry i goes to bridge i % 2.
    const flows: TestFlow[] = Array.from({length: 500}, (_, i) => testFlow(i, sc.bridges[i % 2]!))

    const r = await postFlow(entry, 'add', flows.map(addBody))
    expect(r.status, r.text.slice(0, 500)).to.equal(200)
    expect(r.headers['x-flowkeeper-master']).to.equal(String(master.id))
    expect(r.headers['x-flowkeeper-term']).to.equal(String(master.term))
    const results = (bodyOf(r) as {results: BatchResult[]}).results
    expect(results).to.have.length(500)
    for (const [i, x] of results.entries()) expect({status: x.status, master: x.master, term: x.term}, `entry ${i}`).to.deep.equal({status: 200, master: master.id, term: master.term})
    // Per bridge, the versions acknowledged grow with the order of the entries.
    for (const parity of [0, 1]) {
      const versions = results.filter((_, i) => i % 2 === parity).map((x) => x.version!)
      expect(versions, `bridge ${parity} versions in entry order`).to.deep.equal([...versions].sort((a, b) => a - b))
    }
    for (const b of sc.bridges) {
      expect(await switchLines(sc.lab, b), `${b.name} after the batch`).to.deep.equal(flows.filter((f) => f.bridge === b).map((f) => seenLine(expectedSeen(f))).sort())
    }
    await expectMirrorsAtMaster(sc, master, [slaveA, slaveB])
    // One RPC carried the whole batch (500 entries fit one message of the 4 MiB data bus).
    const gateway = (await entry.json<{flows: {gateway?: {forwarded: number, forwarded_batches?: number}}}>('/cluster')).flows.gateway
    expect(gateway).to.deep.include({forwarded: 500, forwarded_batches: 1})

    // An output to a group that does not exist passes our validation; Open vSwitch refuses it.
    const more = Array.from({length: 5}, (_, i) => testFlow(1000 + i, sc.bridges[0]!))
    const bodies: Array<Record<string, unknown>> = more.map(addBody)
    bodies[2] = {...bodies[2], actions: [{type: 'GROUP', group_id: 4242}]}
    const mixed = await postFlow(entry, 'add', bodies)
    expect(mixed.status, mixed.text.slice(0, 500)).to.equal(400)
    const mixedResults = (bodyOf(mixed) as {results: BatchResult[]}).results
    expect(mixedResults.map((x) => x.status)).to.deep.equal([200, 200, 400, 200, 200])
    expect(mixedResults[2]).to.deep.include({kind: 'SwitchRefusedError'})
    expect(mixedResults[2]!.code, JSON.stringify(mixedResults[2])).to.match(/GROUP/)
    expect(mixed.headers['x-flowkeeper-failed']).to.equal('1')
    const expected = [...flows.filter((f) => f.bridge === sc.bridges[0]), ...more.filter((_, i) => i !== 2)]
    expect(await switchLines(sc.lab, sc.bridges[0]!), 'the refused entry alone is missing').to.deep.equal(expected.map((f) => seenLine(expectedSeen(f))).sort())
    await expectMirrorsAtMaster(sc, master, [slaveA, slaveB])

    // An invalid entry: 400 naming it, and nothing of the batch is sent.
    const before = await switchLines(sc.lab, sc.bridges[1]!)
    const invalid = await postFlow(entry, 'add', [addBody(testFlow(2000, sc.bridges[1]!)), {...addBody(testFlow(2001, sc.bridges[1]!)), priority: 70000}])
    expect(invalid.status).to.equal(400)
    expect(bodyOf(invalid)).to.deep.include({field: '[1].priority'})
    expect(await switchLines(sc.lab, sc.bridges[1]!)).to.deep.equal(before)
  })
})
