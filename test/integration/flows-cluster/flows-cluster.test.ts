// Flow programming and mirroring with the whole cluster for real: a private RabbitMQ, a private
// Open vSwitch whose bridges are connected to every instance, and three `flowkeeper start`
// processes. Requests go through the instances' REST APIs (Ryu ofctl_rest); what the switch holds
// is read with ovs-ofctl; what each instance holds, from its /cluster; what happened, from its JSON
// log lines; what travels on the bus, by listening on it.
import {expect} from 'chai'
import {AmqpBus} from '../../../src/bus/amqp-bus.js'
import {ElectionDriver} from '../../../src/controller/election-driver.js'
import {resolveTiming} from '../../../src/election/timing.js'
import {instanceRoutingKey, backupRoutingKey} from '../../../src/flows/service/wire.js'
import {waitFor} from '../../../src/lab/exec.js'
import type {InstanceProcess, LogLine} from '../../../src/lab/instance-process.js'
import {epochMs, MemoryLogger} from '../../../src/log.js'
import {rpcReplyKey, rpcRequestKey} from '../../../src/northbound/flow-rpc.js'
import {
  RestClient, addBody, bodyOf, clusterView, deleteStrictBody, expectedSeen, postAll, postFlow, seenFromRyu, seenLine, switchLines,
  tablePositions, testFlow, type ClusterDevice, type TestFlow,
} from '../../helpers/flow-stream.js'
import {RawBus} from '../../helpers/raw-bus.js'
import {sleep, useSwitchLab, type Bridge, type SwitchCluster} from '../../helpers/switch-cluster.js'

const linesSince = (m: InstanceProcess, ts: number, event: string): LogLine[] => m.lines.filter((l) => l.ts > ts && l.event === event)
const byId = (a: InstanceProcess, b: InstanceProcess) => a.id - b.id

describe('flows under a cluster (real RabbitMQ, Open vSwitch, CLI processes)', function () {
  this.timeout(60_000)
  const env = useSwitchLab()
  const clients: RestClient[] = []
  afterEach(() => {
    for (const c of clients.splice(0)) c.close()
  })

  /** A REST client per instance, closed after the test. */
  function apis(sc: SwitchCluster): Map<number, RestClient> {
    const out = new Map<number, RestClient>()
    for (const m of sc.running()) {
      const c = new RestClient(sc.slotOf(m).apiPort)
      clients.push(c)
      out.set(m.id, c)
    }
    return out
  }

  it('flows added through a slave land on the switch, a delete through the other slave removes them, and every instance agrees with the master and the switch', async () => {
    const sc = await env.start({ids: [1, 2, 3], bridges: 2})
    const master = sc.master()
    const [slaveA, slaveB] = sc.running().filter((m) => m !== master).sort(byId) as [InstanceProcess, InstanceProcess]
    const api = apis(sc)
    const flows = sc.bridges.flatMap((b, bi) => Array.from({length: 20}, (_, i) => testFlow(bi * 1000 + i, b)))

    // Add through slave A: each answer names the master and its term.
    const added = await postAll(api.get(slaveA.id)!, 'add', flows.map(addBody))
    for (const o of added) {
      expect(o.headers['x-flowkeeper-master'], 'the master programmed it').to.equal(String(master.id))
      expect(o.headers['x-flowkeeper-term']).to.equal(String(master.term))
    }
    for (const b of sc.bridges) {
      expect(await switchLines(sc.lab, b), `${b.name} after the adds`).to.deep.equal(flows.filter((f) => f.bridge === b).map((f) => seenLine(expectedSeen(f))).sort())
    }

    // Delete through slave B: five flows of each bridge one by one (delete_strict), then on the
    // first bridge every flow with in_port=3 (a non-strict delete selecting several).
    const strict = sc.bridges.flatMap((b) => flows.filter((f) => f.bridge === b).slice(0, 5))
    await postAll(api.get(slaveB.id)!, 'delete_strict', strict.map(deleteStrictBody))
    const [b0] = sc.bridges as [Bridge]
    const loose = await postFlow(api.get(slaveB.id)!, 'delete', {dpid: Number(b0.dpid), table_id: 0, match: {in_port: 3}})
    expect(loose.status, loose.text).to.equal(200)
    const gone = (f: TestFlow) => strict.includes(f) || (f.bridge === b0 && f.inPort === 3)
    const remaining = flows.filter((f) => !gone(f))
    expect(flows.length - remaining.length, 'the deletes removed something of each kind').to.be.greaterThan(strict.length)
    for (const b of sc.bridges) {
      expect(await switchLines(sc.lab, b), `${b.name} after the deletes`).to.deep.equal(remaining.filter((f) => f.bridge === b).map((f) => seenLine(expectedSeen(f))).sort())
    }

    // Every change was acknowledged after the live slaves' mirrors acked it: right now (no
    // polling), every instance's table is where the master's is, with the switch's flow count.
    const dpids = sc.bridges.map((b) => b.dpidHex)
    const masterView = await clusterView(api.get(master.id)!)
    const masterPositions = await tablePositions(api.get(master.id)!, dpids)
    for (const b of sc.bridges) {
      expect(masterPositions[b.dpidHex]!.split('/')[2], `${b.name}: master's table size`).to.equal(String(remaining.filter((f) => f.bridge === b).length))
    }
    for (const slave of [slaveA, slaveB]) {
      const mirrors = await tablePositions(api.get(slave.id)!, dpids)
      if (JSON.stringify(mirrors) !== JSON.stringify(masterPositions)) {
        // The one documented exception: a slave so slow that the master gave up waiting for its
        // ack (ackTimeoutMs) answered anyway and said so. It catches up with the next backup.
        const late = master.lines.filter((l) => l.event === 'flow_ack_late' && l.slave === slave.id)
        expect(late, `instance ${slave.id}'s mirrors (${JSON.stringify(mirrors)}) behind acknowledged changes (${JSON.stringify(masterPositions)}) without a late-ack warning`).to.not.deep.equal([])
        await waitFor(`instance ${slave.id} to catch up`, async () => JSON.stringify(await tablePositions(api.get(slave.id)!, dpids)) === JSON.stringify(masterPositions) || undefined, {timeoutMs: 10_000})
      }
    }
    // The master's view of those mirrors: acknowledged up to its version, nothing late.
    const devices = (masterView.flows as {devices: ClusterDevice[]}).devices.filter((d) => dpids.includes(d.dpid))
    for (const d of devices) {
      expect(d.mirrors?.map((m) => m.inst_id).sort(), `${d.dpid}: mirrors`).to.deep.equal([slaveA.id, slaveB.id])
      for (const m of d.mirrors!) expect({version: m.version, lag: m.lag, late: m.late}, `${d.dpid}: mirror ${m.inst_id}`).to.deep.equal({version: d.version, lag: 0, late: false})
    }

    // The master's GET /stats/flow (Ryu format, read from the switch) says what ovs-ofctl says.
    for (const b of sc.bridges) {
      const reply = await api.get(master.id)!.json<Record<string, Array<Record<string, unknown>>>>(`/stats/flow/${b.dpid}`)
      expect(Object.keys(reply), 'keyed by the dpid in decimal').to.deep.equal([b.dpid.toString()])
      expect(reply[b.dpid.toString()]!.map((f) => seenLine(seenFromRyu(f))).sort(), `${b.name}: /stats/flow vs dump-flows`).to.deep.equal(await switchLines(sc.lab, b))
    }
  })

  it('PATCH /config/flows changes the backup period at runtime (seen in the snapshots the master sends), disables backups, and refuses a bad value with a 400 naming the field', async () => {
    const sc = await env.start({ids: [1, 2, 3], bridges: 2, args: ['--backup-period-ms', '5000']})
    const master = sc.master()
    const api = apis(sc)
    const masterApi = api.get(master.id)!
    await postAll(masterApi, 'add', sc.bridges.flatMap((b, bi) => [0, 1, 2].map((i) => addBody(testFlow(bi * 100 + i, b)))))
    expect(await masterApi.json('/config/flows')).to.deep.equal({backupEnabled: true, backupPeriodMs: 5000})

    // A slave that never acknowledges: a member of the election (so the master counts it among
    // its live slaves) with no flow service behind it. The master's periodic backup sends every
    // table to a slave that has not confirmed its version, once per period: what arrives on the
    // silent slave's routing key is the backup period, observed.
    const silent = await SilentSlave.join(sc.options.amqp, sc.options.domain, 9)
    try {
      await master.waitForLine((l) => l.event === 'flow_slaves_changed' && (l.added as string[]).includes('9'), 5_000, 'the master to see slave 9')
      await sleep(300) // the snapshots sent on joining
      const dpids = sc.bridges.map((b) => b.dpidHex)
      const window = async (ms: number) => {
        const from = performance.now()
        await sleep(ms)
        return silent.snapshotsBetween(from, performance.now(), dpids)
      }

      // 5000 ms: at most one round in 2.5 s.
      const slow = await window(2_500)
      for (const d of dpids) expect(slow.get(d)!.length, `${d}: snapshots in 2.5 s at 5000 ms`).to.be.at.most(1)

      // 200 ms: a round every 200 ms.
      const patched = await masterApi.request('PATCH', '/config/flows', {backupPeriodMs: 200})
      expect(patched.status, patched.text).to.equal(200)
      expect(bodyOf(patched)).to.deep.equal({backupEnabled: true, backupPeriodMs: 200})
      await master.waitForLine((l) => l.event === 'flow_settings_changed' && l.backupPeriodMs === 200, 2_000, 'flow_settings_changed')
      const fast = await window(2_000)
      for (const d of dpids) {
        const times = fast.get(d)!
        expect(times.length, `${d}: snapshots in 2 s at 200 ms`).to.be.within(6, 12)
        const gaps = times.slice(1).map((t, i) => t - times[i]!).sort((a, b) => a - b)
        expect(gaps[gaps.length >> 1], `${d}: median gap between snapshots`).to.be.within(150, 350)
      }

      // Disabled: none at all.
      const disabled = await masterApi.request('PATCH', '/config/flows', {backupEnabled: false})
      expect(bodyOf(disabled)).to.deep.equal({backupEnabled: false, backupPeriodMs: 200})
      await sleep(100) // one that was already on its way
      const off = await window(2_000)
      for (const d of dpids) expect(off.get(d), `${d}: snapshots in 2 s with backups off`).to.deep.equal([])

      // Bad values: 400 naming the field, and nothing changes.
      const bad: Array<[unknown, string]> = [
        [{backupPeriodMs: 10}, 'backupPeriodMs'],
        [{backupPeriodMs: 'fast'}, 'backupPeriodMs'],
        [{backupPeriodMs: 1.5}, 'backupPeriodMs'],
        [{backupEnabled: 'yes'}, 'backupEnabled'],
        [{auditCron: '* * * * *'}, 'auditCron'],
        [[200], 'body'],
        ['{"backupPeriodMs": ', 'body'],
      ]
      for (const [body, field] of bad) {
        const r = await masterApi.request('PATCH', '/config/flows', body)
        expect(r.status, `PATCH ${JSON.stringify(body)}: ${r.text}`).to.equal(400)
        expect(bodyOf(r)?.field, `PATCH ${JSON.stringify(body)}: ${r.text}`).to.equal(field)
        expect(String(bodyOf(r)?.error), 'a sentence saying what is wrong').to.match(/\w+ \w+/)
      }
      expect(await masterApi.json('/config/flows')).to.deep.equal({backupEnabled: false, backupPeriodMs: 200})
      const stillOff = await window(800)
      for (const d of dpids) expect(stillOff.get(d), `${d}: still off after the bad values`).to.deep.equal([])

      // Back on, at 1000 ms: about two rounds in 2.2 s.
      const on = await masterApi.request('PATCH', '/config/flows', {backupEnabled: true, backupPeriodMs: 1000})
      expect(bodyOf(on)).to.deep.equal({backupEnabled: true, backupPeriodMs: 1000})
      const again = await window(2_200)
      for (const d of dpids) expect(again.get(d)!.length, `${d}: snapshots in 2.2 s at 1000 ms`).to.be.within(1, 3)
    } finally {
      await silent.leave()
    }
    // The setting is the instance's own: the slaves kept theirs.
    for (const m of sc.running().filter((x) => x !== master)) {
      expect(await api.get(m.id)!.json('/config/flows'), `instance ${m.id}`).to.deep.equal({backupEnabled: true, backupPeriodMs: 5000})
    }
  })

  it('the audit (every 2 s) restores an owned flow deleted by hand, removes an owned flow added by hand, and leaves a foreign-cookie flow alone', async () => {
    const OWNED = 0xf100_0000_0000_0000n
    const sc = await env.start({
      ids: [1, 2, 3], bridges: 1,
      // debug: an audit that finds nothing to repair logs at debug level only.
      // (FLOWKEEPER_TEST_LOG_DIR makes the cluster helper ask for debug lines itself.)
      args: ['--audit-cron', '*/2 * * * * *', '--owned-cookie', '0xf100000000000000/0xff00000000000000',
        ...(process.env.FLOWKEEPER_TEST_LOG_DIR ? [] : ['--log-level', 'debug'])],
    })
    const master = sc.master()
    const slave = sc.successorOf(master)
    const api = apis(sc)
    const [bridge] = sc.bridges as [Bridge]
    const flows = Array.from({length: 6}, (_, i) => testFlow(i, bridge, OWNED | BigInt(i + 1)))
    await postAll(api.get(slave.id)!, 'add', flows.map(addBody))
    // The cluster refuses to program outside its cookie range.
    const foreignAdd = await postFlow(api.get(slave.id)!, 'add', addBody(testFlow(50, bridge, 0x1234n)))
    expect(foreignAdd.status, foreignAdd.text).to.equal(400)
    expect(bodyOf(foreignAdd)?.code).to.equal('FLOWKEEPER_FOREIGN_COOKIE')
    const expected = flows.map((f) => seenLine(expectedSeen(f))).sort()
    expect(await switchLines(sc.lab, bridge)).to.deep.equal(expected)
    const before = await tablePositions(api.get(master.id)!, [bridge.dpidHex])

    // By hand, behind the controller's back.
    const victim = flows[2]!
    const editedAt = epochMs()
    await sc.lab.ofctl('del-flows', bridge.name, '--strict', `priority=${victim.priority},ip,in_port=${victim.inPort},nw_dst=${victim.dst}`)
    await sc.lab.ofctl('add-flow', bridge.name, 'cookie=0xf1000000000000ff,priority=7,ip,nw_dst=10.77.0.1,actions=drop')
    const foreign = 'cookie=0x1234,priority=8,ip,nw_dst=10.88.0.1,actions=drop'
    await sc.lab.ofctl('add-flow', bridge.name, foreign)
    // Not checked on the switch here: an audit may already have run between two of these commands.
    // What the audits logged below (one restored, one removed) shows the edits were made.

    // The next audits put the owned flows back as the table has them; the foreign one stays.
    const foreignLine = 'table=0 priority=8 cookie=0x1234 in_port=* nw_dst=10.88.0.1 actions=drop'
    const repairedAt = await waitFor('the audit to repair the bridge', async () => {
      const now = await switchLines(sc.lab, bridge)
      return JSON.stringify(now) === JSON.stringify([...expected, foreignLine].sort()) ? epochMs() : undefined
    }, {timeoutMs: 8_000, intervalMs: 100})
    const audits = linesSince(master, editedAt, 'flow_audit').filter((l) => l.dpid === bridge.dpidHex)
    const sum = (k: string) => audits.reduce((n, l) => n + Number(l[k] ?? 0), 0)
    expect({restored: sum('restored'), removed: sum('removed'), conflicts: sum('conflicts'), refused: sum('refused')}, 'what the audits logged')
      .to.deep.equal({restored: 1, removed: 1, conflicts: 0, refused: 0})
    console.log(`      (repaired ${Math.round(repairedAt - editedAt)} ms after the hand edits, by ${audits.length} audit line(s))`)

    // Two more audits later: still in line, the foreign flow still there, the table unchanged.
    await master.waitForNextLine((l) => l.event === 'flow_audit' && l.ts > repairedAt + 2_100, 6_000, 'two more audits')
    expect(await switchLines(sc.lab, bridge)).to.deep.equal([...expected, foreignLine].sort())
    expect(await tablePositions(api.get(master.id)!, [bridge.dpidHex]), 'the table: the truth, not changed by the audit').to.deep.equal(before)
    expect(await tablePositions(api.get(slave.id)!, [bridge.dpidHex]), 'the mirror').to.deep.equal(before)
    const failed = sc.running().flatMap((m) => linesSince(m, editedAt, 'flow_audit_failed'))
    expect(failed).to.deep.equal([])
  })

  it('flows that time out on the switch (hard_timeout, flags send_flow_rem) leave the table and every mirror without waiting for an audit', async () => {
    const sc = await env.start({ids: [1, 2, 3], bridges: 1})  // the default audit: once a minute
    const master = sc.master()
    const api = apis(sc)
    const [bridge] = sc.bridges as [Bridge]
    const lasting = [0, 1].map((i) => addBody(testFlow(i, bridge)))
    const timed = [2, 3, 4].map((i) => ({...addBody(testFlow(i, bridge)), hard_timeout: 1, flags: 1}))
    await postAll(api.get(sc.successorOf(master).id)!, 'add', [...lasting, ...timed])
    const flowsOf = async (id: number) => (await tablePositions(api.get(id)!, [bridge.dpidHex]))[bridge.dpidHex]!.split('/')[2]
    expect(await flowsOf(master.id)).to.equal('5')
    // OVS expires them within a second or two of their hard timeout and tells the master.
    await waitFor('the table and the mirrors to drop the expired flows', async () => {
      const counts = await Promise.all(sc.running().map((m) => flowsOf(m.id)))
      return counts.every((n) => n === '2') || undefined
    }, {timeoutMs: 8_000, intervalMs: 100})
    expect(await switchLines(sc.lab, bridge)).to.have.length(2)
    const positions = await Promise.all(sc.running().map((m) => tablePositions(api.get(m.id)!, [bridge.dpidHex])))
    expect(new Set(positions.map((p) => JSON.stringify(p))).size, 'every mirror at the master\'s version').to.equal(1)
    const view = await clusterView(api.get(master.id)!)
    expect((view.flows as unknown as {counters: Record<string, number>}).counters.expired_by_switch).to.equal(3)
    expect(linesSince(master, 0, 'flow_audit'), 'no audit did it').to.deep.equal([])
  })

  it('malformed backup and RPC messages on the bus are dropped and counted, never applied, and never crash anyone', async () => {
    const sc = await env.start({ids: [1, 2, 3], bridges: 2})
    const master = sc.master()
    const [slaveA, slaveB] = sc.running().filter((m) => m !== master).sort(byId) as [InstanceProcess, InstanceProcess]
    const api = apis(sc)
    const domain = sc.options.domain
    const dpids = sc.bridges.map((b) => b.dpidHex)
    const [b0] = sc.bridges as [Bridge]
    const D = b0.dpidHex

    const raw = await RawBus.open(sc.options.amqp)
    try {
      // Learn slave A's gateway node (its reply key) from a real forwarded request.
      const requests = await raw.listen(`c.${domain}.flows.rpc.req.*`)
      const replies = await raw.listen(rpcReplyKey(domain, 'probe'))
      await postAll(api.get(slaveA.id)!, 'add', sc.bridges.flatMap((b, bi) => [0, 1, 2, 3].map((i) => addBody(testFlow(bi * 100 + i, b)))))
      const forwarded = await waitFor('a forwarded request', async () => requests.messages.find((m) => m.body?.fromInst === slaveA.id))
      const nodeA = String(forwarded.body!.from)
      // The slave sends the requests of one turn as one batch RPC: the flow-mod is an entry's then.
      const firstEntry = (forwarded.body!.entries as Array<Record<string, unknown>> | undefined)?.[0]
      const validFlowMod = (forwarded.body!.flowMod ?? firstEntry?.flowMod) as Record<string, unknown>
      expect(validFlowMod, JSON.stringify(forwarded.body)).to.be.an('object')

      const positions = async () => Object.fromEntries(await Promise.all(sc.running().map(async (m) => [m.id, await tablePositions(api.get(m.id)!, dpids)] as const)))
      const tablesBefore = await positions()
      const switchBefore = await Promise.all(sc.bridges.map((b) => switchLines(sc.lab, b)))
      const since = epochMs()

      const backup = backupRoutingKey(domain)
      const huge = Buffer.from(JSON.stringify({v: 1, type: 'flow-delta', pad: 'x'.repeat(5 * 1024 * 1024)}))
      const delta = {v: 1, type: 'flow-delta', device: D, term: 2 ** 40, version: 1, changes: [], master: 7}
      const entry = {tableId: 0, priority: 5, cookie: '0', idleTimeout: 0, hardTimeout: 0, flags: 0, match: [], instructions: []}
      const rpc = {v: 1, type: 'flow-rpc-request', domain, id: 'probe-1', from: 'probe', fromInst: 1, to: master.id, term: master.term, dpid: D, timeoutMs: 1000, flowMod: validFlowMod}
      // [routing key, body, what it is]; bodies that are Buffers go out as they are.
      const garbage: Array<[string, unknown, string]> = [
        // Backup key: every instance gets these.
        [backup, Buffer.from('{"v":1,"type":"flow-delta",'), 'not JSON'],
        [backup, [1, 2, 3], 'a JSON array'],
        [backup, 42, 'a JSON number'],
        [backup, huge, 'over the data bus limit (5 MiB)'],
        [backup, {...delta, term: 'abc'}, 'term: a string'],
        [backup, {...delta, v: 2}, 'unknown version'],
        [backup, {type: 'flow-delta', device: D, term: 1, version: 1, changes: [], master: 7}, 'no version'],
        [backup, {...delta, type: 'flow-bogus'}, 'unknown type'],
        [backup, {...delta, changes: [{op: 'put', entry: {...entry, priority: 'high'}}]}, 'an edit with a string priority'],
        [backup, {...delta, changes: undefined, bin: 'AAAAAAAA'}, 'binary edits that are not records'],
        [backup, {...delta, changes: undefined, bin: 'not base64!'}, 'binary edits that are not base64'],
        [backup, {...delta, changes: [{op: 'put', entry}], master: 'evil'}, 'a well-formed delta whose master is not an instance id'],
        [backup, {v: 1, type: 'flow-snapshot-part', device: D, term: 2 ** 40, version: 1, snap: 'x', part: 5, parts: 2, master: 7, entries: []}, 'a snapshot part out of range'],
        // The master's own key.
        [instanceRoutingKey(domain, master.id), {v: 1, type: 'flow-ack', device: D, term: master.term, version: -5, from: String(slaveA.id)}, 'an ack with a negative version'],
        [instanceRoutingKey(domain, master.id), {v: 1, type: 'flow-snapshot-request', device: D, from: 'not-an-id'}, 'a snapshot request from no instance'],
        // Slave A's own key: snapshots that would wipe its mirror if applied.
        [instanceRoutingKey(domain, slaveA.id), {v: 1, type: 'flow-snapshot', device: D, term: 2 ** 40, version: 1, master: 7, table: {v: 1, entries: [{...entry, cookie: 5}]}}, 'a snapshot with a numeric cookie'],
        [instanceRoutingKey(domain, slaveA.id), {v: 1, type: 'flow-snapshot', device: D, term: 2 ** 40, version: 1, master: 7, table: {v: 7, entries: []}}, 'a snapshot of an unknown table version'],
        // The master's RPC key.
        [rpcRequestKey(domain, master.id), Buffer.from('add flow please'), 'RPC: not JSON'],
        [rpcRequestKey(domain, master.id), huge, 'RPC: over the limit'],
        [rpcRequestKey(domain, master.id), {...rpc, v: 99}, 'RPC: unknown version'],
        [rpcRequestKey(domain, master.id), {...rpc, v: '1'}, 'RPC: version as a string'],
        [rpcRequestKey(domain, master.id), {...rpc, v: null}, 'RPC: no version'],
        [rpcRequestKey(domain, master.id), {...rpc, domain: 'elsewhere'}, 'RPC: another domain'],
        [rpcRequestKey(domain, master.id), {...rpc, type: 'flow-rpc-whatever'}, 'RPC: unknown type'],
        [rpcRequestKey(domain, master.id), {...rpc, dpid: 'zz'}, 'RPC: a bad dpid'],
        [rpcRequestKey(domain, master.id), {...rpc, id: 'probe-2', flowMod: {...validFlowMod, command: 'add'}}, 'RPC: a flow-mod command as a string'],
        // Slave A's gateway reply key.
        [rpcReplyKey(domain, nodeA), Buffer.from('\u0000\u0001binary'), 'reply: not JSON'],
        [rpcReplyKey(domain, nodeA), {v: 1, type: 'flow-rpc-reply', domain, id: 'x1', from: 'master', result: {}}, 'reply: wrong types'],
        [rpcReplyKey(domain, nodeA), {...rpc, id: 'probe-3', flowMod: {...validFlowMod, priority: 4321}}, 'reply key: a valid request, which must not be served'],
        [rpcReplyKey(domain, nodeA), {v: 1, type: 'flow-rpc-reply', domain, id: 'no-such-request', from: master.id, result: {masterId: master.id, term: master.term, version: 1}}, 'reply: to no request'],
      ]
      for (const [key, body] of garbage) raw.publish(key, body)

      // Told why, where a requester can be told: the two readable requests with unreadable bodies.
      await waitFor('BadRequest replies to the probe', async () => replies.messages.length >= 2 || undefined, {timeoutMs: 5_000})
      expect(replies.messages.map((m) => [m.body?.id, (m.body?.error as {kind?: string})?.kind, (m.body?.error as {field?: string})?.field]).sort())
        .to.deep.equal([['probe-1', 'BadRequest', 'dpid'], ['probe-2', 'BadRequest', 'flowMod.command']])

      // Counted: the warnings are rate-limited (5 s per kind for the flow service, 1 s for the
      // gateway), so one more of each after the window brings a line with the running count.
      // The windows start with each instance's first line of each kind.
      const firsts = await Promise.all([master, slaveA, slaveB].flatMap((m) => [
        m.waitForLine((l) => l.ts > since && l.event === 'flow_message_dropped' && l.malformed_dropped !== undefined, 5_000, 'a malformed line'),
        m.waitForLine((l) => l.ts > since && l.event === 'flow_message_dropped' && l.reason === 'not_json', 5_000, 'a not_json line'),
      ]))
      await sleep(Math.max(0, Math.max(...firsts.map((l) => l.ts)) + 5_300 - epochMs()))
      const probeAt = epochMs()
      raw.publish(backup, {...delta, term: 'again'})
      raw.publish(backup, Buffer.from('not json again'))
      raw.publish(rpcRequestKey(domain, master.id), {...rpc, v: 99})
      raw.publish(rpcRequestKey(domain, master.id), {...rpc, id: 'probe-4', dpid: 'yy'})
      raw.publish(rpcReplyKey(domain, nodeA), {v: 1, type: 'flow-rpc-reply', domain, id: 'x2', from: 'master', result: {}})
      const lastLine = (m: InstanceProcess, pred: (l: LogLine) => boolean, what: string) =>
        m.waitForLine((l) => l.ts >= probeAt && pred(l), 5_000, what)
      // Flow service, per instance: malformed backup messages (its own key's included) and what
      // the data bus dropped before parsing (not JSON, not an object, oversize: any of its keys).
      const expectedCounts = new Map([
        [master.id, {malformed: 9 + 2 + 1, bus: 4 + 2 + 1}],
        [slaveA.id, {malformed: 9 + 2 + 1, bus: 4 + 1 + 1}],
        [slaveB.id, {malformed: 9 + 1, bus: 4 + 1}],
      ])
      for (const m of [master, slaveA, slaveB]) {
        const want = expectedCounts.get(m.id)!
        const malformed = await lastLine(m, (l) => l.event === 'flow_message_dropped' && l.malformed_dropped !== undefined, `instance ${m.id}: malformed count`)
        const bus = await lastLine(m, (l) => l.event === 'flow_message_dropped' && l.reason === 'not_json', `instance ${m.id}: bus drop count`)
        expect({malformed: malformed.malformed_dropped, bus: bus.count}, `instance ${m.id}: counters`).to.deep.equal(want)
        // Each kind of bus drop got its own line in the first window.
        const reasons = new Set(linesSince(m, since, 'flow_message_dropped').map((l) => String(l.reason)))
        for (const r of ['not_json', 'not_object', 'oversize']) expect(reasons.has(r), `instance ${m.id}: a line for ${r}`).to.equal(true)
      }
      // The gateways: the master's for requests, slave A's for its replies.
      const rpcDrops = (m: InstanceProcess) => linesSince(m, since, 'message_dropped').filter((l) => l.kind === 'flow_rpc')
      const lastCount = (m: InstanceProcess, reason: string) => Math.max(0, ...rpcDrops(m).filter((l) => l.reason === reason).map((l) => Number(l.count)))
      await lastLine(master, (l) => l.event === 'message_dropped' && l.reason === 'unknown_version', 'the master gateway\'s count')
      await lastLine(master, (l) => l.event === 'message_dropped' && l.reason === 'malformed', 'the master gateway\'s count')
      await lastLine(slaveA, (l) => l.event === 'message_dropped' && l.reason === 'malformed', 'slave A gateway\'s count')
      expect({
        unknown_version: lastCount(master, 'unknown_version'), foreign_domain: lastCount(master, 'foreign_domain'),
        unknown_type: lastCount(master, 'unknown_type'), malformed: lastCount(master, 'malformed'),
      }, 'master gateway').to.deep.equal({unknown_version: 4, foreign_domain: 1, unknown_type: 1, malformed: 3})
      expect({malformed: lastCount(slaveA, 'malformed'), unexpected_type: lastCount(slaveA, 'unexpected_type')}, 'slave A gateway')
        .to.deep.equal({malformed: 2, unexpected_type: 1})

      // Never applied: every table and mirror where it was, the switches as they were.
      expect(await positions(), 'tables and mirrors').to.deep.equal(tablesBefore)
      expect(await Promise.all(sc.bridges.map((b) => switchLines(sc.lab, b))), 'the switches').to.deep.equal(switchBefore)
      // Never a crash, never a role change, nothing internal failing.
      for (const m of [master, slaveA, slaveB]) {
        expect(m.running, `instance ${m.id} running`).to.equal(true)
        expect(m.roleChanges.filter((c) => c.ts > since), `role changes of ${m.id}`).to.deep.equal([])
        const broken = m.lines.filter((l) => l.ts > since && (l.level === 'error' || ['flow_internal_error', 'bus_handler_error', 'api_error'].includes(String(l.event))))
        expect(broken, `errors logged by ${m.id}`).to.deep.equal([])
      }
      // And the cluster still works: a change through slave B reaches everyone.
      await postAll(api.get(slaveB.id)!, 'add', [addBody(testFlow(999, b0))])
      const after = await positions()
      expect(after[slaveA.id], 'slave A mirrors the master').to.deep.equal(after[master.id])
      expect(after[slaveB.id], 'slave B mirrors the master').to.deep.equal(after[master.id])
      expect(after[master.id]![D]).to.not.equal(tablesBefore[master.id]![D])
    } finally {
      await raw.close()
    }
  })
})

/**
 * An election member with no flow service: the master counts it as a live slave, sends it
 * backups, and never hears an ack. Records what arrives on its instance routing key.
 */
class SilentSlave {
  readonly received: Array<{at: number, type: string, device: string}> = []

  private constructor(private readonly driver: ElectionDriver) {}

  static async join(amqp: string, domain: string, id: number): Promise<SilentSlave> {
    const bus = new AmqpBus({url: amqp, connectionName: `silent slave ${domain}/${id}`, maxMessageBytes: 4 * 1024 * 1024})
    const driver = new ElectionDriver({instId: id, domain, timing: resolveTiming('fast'), bus, logger: new MemoryLogger({inst_id: id})})
    const s = new SilentSlave(driver)
    bus.subscribe(instanceRoutingKey(domain, id), (raw) => {
      const body = raw as Record<string, unknown>
      const type = String(body.type)
      if (type === 'flow-snapshot' || (type === 'flow-snapshot-part' && body.part === 0)) {
        s.received.push({at: performance.now(), type, device: String(body.device)})
      }
    })
    await driver.start()
    await waitFor(`silent slave ${id} to be slave`, async () => driver.role === 'slave' || undefined, {timeoutMs: 5_000})
    return s
  }

  /** Per device, the arrival times of snapshots in [from, to). */
  snapshotsBetween(from: number, to: number, devices: readonly string[]): Map<string, number[]> {
    return new Map(devices.map((d) => [d, this.received.filter((r) => r.device === d && r.at >= from && r.at < to).map((r) => r.at)]))
  }

  leave(): Promise<void> {
    return this.driver.stop()
  }
}
