// The promise the flow service makes, under fire: a change is acknowledged only once the switch
// confirmed it and the live slaves' mirrors acked it, so a failover loses nothing acknowledged and
// resurrects nothing deleted. A stream of 10,000 adds and deletes over four bridges goes through
// all three instances' REST APIs, 32 in flight; the master is SIGKILLed in the middle; every
// request's outcome is recorded and then held against what the switches and the new master hold.
import {expect} from 'chai'
import type {InstanceProcess} from '../../../src/lab/instance-process.js'
import {waitFor} from '../../../src/lab/exec.js'
import {epochMs} from '../../../src/log.js'
import {
  RestClient, addBody, clusterView, deleteLooseBody, deleteStrictBody, expectedSeen, flowKey, postAll, postFlow, runStream, seededRandom,
  seenFromDump, seenKey, seenLine, switchLines, tablePositions, tally, testFlow, type HttpOutcome, type OpRecord, type StreamOp, type TestFlow,
} from '../../helpers/flow-stream.js'
import {RawBus} from '../../helpers/raw-bus.js'
import {sleep, useSwitchLab, type Bridge, type SwitchCluster} from '../../helpers/switch-cluster.js'

const TOTAL = 10_000
const CONCURRENCY = 32
/** The master is killed when this many answers have come back. */
const KILL_AFTER = 4_000
/** Share of requests that delete a flow whose add was acknowledged (the rest add new flows). */
const DELETE_SHARE = 0.3
const AUDIT_CRON = '*/2 * * * * *'

interface Op extends StreamOp {
  kind: 'add' | 'delete'
  flow: TestFlow
}

/** What the requests did to one flow, as far as their answers tell. */
interface FlowFate {
  flow: TestFlow
  add: 'acked' | 'failed'
  /** Undefined: never asked to delete. */
  del?: 'acked' | 'failed' | 'pending'
}

/** Outcomes that leave the change's fate unknown and ask for a retry; anything else that is not 200 is a bug. */
function retriable(o: HttpOutcome): boolean {
  return o.status === 503 || o.status === 504 || (o.status === 0 && o.code !== undefined)
}

const outcomeName = (o: HttpOutcome) => (o.status ? String(o.status) : o.code ?? 'error')

describe('flows under a cluster: SIGKILL the master in the middle of a stream', function () {
  this.timeout(180_000)
  const env = useSwitchLab()
  const clients: RestClient[] = []
  afterEach(() => {
    for (const c of clients.splice(0)) c.close()
  })

  /** Every flow of every bridge on the switch, by bridge, as identity keys. */
  async function switchKeys(sc: SwitchCluster): Promise<Map<Bridge, Set<string>>> {
    const out = new Map<Bridge, Set<string>>()
    await Promise.all(sc.bridges.map(async (b) => out.set(b, new Set((await sc.lab.dumpFlows(b.name)).map((d) => seenKey(seenFromDump(d)))))))
    return out
  }

  it(`${TOTAL} adds and deletes over 4 bridges through every instance, 32 in flight, master SIGKILLed after ${KILL_AFTER} answers: nothing acknowledged is lost or comes back`, async () => {
    // The audit every 2 s: later, to read the new master's table back through the switch.
    const sc = await env.start({ids: [1, 2, 3], bridges: 4, args: ['--audit-cron', AUDIT_CRON]})
    const first = sc.master()
    const successor = sc.successorOf(first)
    const api = new Map(sc.running().map((m) => {
      const c = new RestClient(sc.slotOf(m).apiPort)
      clients.push(c)
      return [m.id, c] as const
    }))
    let endpoints: InstanceProcess[] = sc.running().sort((a, b) => a.id - b.id)

    // ---- the stream ----
    const random = seededRandom(0x5eed)
    const fates = new Map<number, FlowFate>()
    const deletable: TestFlow[] = [] // acknowledged adds not yet chosen for deletion
    let issued = 0
    let nextFlow = 0
    let answered = 0
    let killedAt: number | undefined
    const next = (): Op | undefined => {
      if (issued >= TOTAL) return undefined
      const seq = issued++
      if (deletable.length > 0 && random() < DELETE_SHARE) {
        const i = Math.floor(random() * deletable.length)
        const flow = deletable[i]!
        deletable[i] = deletable[deletable.length - 1]!
        deletable.pop()
        fates.get(flow.id)!.del = 'pending'
        const strict = random() < 0.5
        return {seq, kind: 'delete', flow, command: strict ? 'delete_strict' : 'delete', body: strict ? deleteStrictBody(flow) : deleteLooseBody(flow)}
      }
      const id = nextFlow++
      const flow = testFlow(id, sc.bridges[id % sc.bridges.length]!)
      return {seq, kind: 'add', flow, command: 'add', body: addBody(flow)}
    }
    const started = performance.now()
    const streamStartedAt = epochMs()
    const records = await runStream<Op>({
      next,
      finished: () => issued >= TOTAL,
      concurrency: CONCURRENCY,
      route: (op) => {
        const m = endpoints[op.seq % endpoints.length]!
        return {via: m.id, client: api.get(m.id)!}
      },
      onDone: (r) => {
        const ok = r.outcome.status === 200
        if (r.op.kind === 'add') {
          fates.set(r.op.flow.id, {flow: r.op.flow, add: ok ? 'acked' : 'failed'})
          if (ok) deletable.push(r.op.flow)
        } else {
          fates.get(r.op.flow.id)!.del = ok ? 'acked' : 'failed'
        }
        if (++answered === KILL_AFTER) {
          killedAt = epochMs()
          endpoints = endpoints.filter((m) => m !== first) // the client stops using it; what is in flight there fails
          void first.kill()
        }
      },
    })
    const streamMs = performance.now() - started
    expect(killedAt, 'the master was killed during the stream').to.not.equal(undefined)
    expect(records).to.have.length(TOTAL)

    // ---- the failover ----
    // One master again, holding every switch. Usually the lowest surviving id, promoted once; on
    // a starved machine the new master may fence itself and the role move on: allowed, and shown.
    const next2 = await sc.waitForSettled(30_000)
    const promotions = sc.cluster.roleChanges().filter((c) => c.ts > killedAt! && c.to === 'master')
    const promotedAt = promotions[0]!.ts
    const lastChangeAt = Math.max(...sc.cluster.roleChanges().filter((c) => c.ts > killedAt!).map((c) => c.ts))
    const promotedLastAt = next2.roleChanges.at(-1)!.ts
    const takeovers = await Promise.all(sc.bridges.map((b) =>
      next2.waitForLine((l) => l.event === 'flow_switch_takeover' && l.dpid === b.dpidHex && l.ts > promotedLastAt, 10_000, `takeover of ${b.name}`)))
    const readyAt = Math.max(lastChangeAt, ...takeovers.map((l) => l.ts))
    if (promotions.length > 1 || next2 !== successor) {
      console.log(`      (after the kill: ${promotions.map((c) => `${c.inst_id} master/${c.reason}`).join(', ')}; ` +
        `${sc.cluster.roleChanges().filter((c) => c.ts > killedAt! && c.to !== 'master').map((c) => `${c.inst_id} ${c.to}/${c.reason}`).join(', ')})`)
    }

    // ---- what the answers say ----
    // On a starved machine where roles flap, a flow-mod can reach a switch right after another
    // instance took it over: the switch answers OFPET_BAD_REQUEST/OFPBRC_IS_SLAVE, which the flow
    // service answers 503 (SwitchDemotedError, a NoMasterError): nothing applied, retriable.
    const bad = records.filter((r) => r.outcome.status !== 200 && !retriable(r.outcome))
    expect(bad.map((r) => `${r.op.command} via ${r.via}: ${outcomeName(r.outcome)} ${r.outcome.text}`), 'answers that are neither 200 nor retriable').to.deep.equal([])
    const failed = records.filter((r) => r.outcome.status !== 200)
    // Before the kill nothing fails, unless the roles moved already (a starved machine).
    const rolesMovedBeforeKill = sc.cluster.roleChanges().some((c) => c.ts > streamStartedAt && c.ts < killedAt!)
    const beforeKill = records.filter((r) => r.endedAt < killedAt!)
    if (!rolesMovedBeforeKill) expect(beforeKill.filter((r) => r.outcome.status !== 200).map((r) => outcomeName(r.outcome)), 'failures before the kill').to.deep.equal([])

    // ---- what the switches and the new master hold ----
    const all = [...fates.values()]
    const mustHave = all.filter((f) => f.add === 'acked' && f.del === undefined)
    const mustNotHave = all.filter((f) => f.del === 'acked')
    const onSwitch = await switchKeys(sc)
    const has = (f: TestFlow, keys: Map<Bridge, Set<string>>) => keys.get(f.bridge)!.has(flowKey(f))
    const where = (f: FlowFate) => `${f.flow.bridge.name} ${flowKey(f.flow)}`
    const lost = mustHave.filter((f) => !has(f.flow, onSwitch))
    const resurrected = mustNotHave.filter((f) => has(f.flow, onSwitch))
    if (lost.length + resurrected.length > 0) explainFlows(sc, records, killedAt!, [...lost, ...resurrected].map((f) => f.flow))
    expect(lost.map(where), 'acknowledged adds missing from the switch').to.deep.equal([])
    // (A master of the moment with no live slave acknowledges alone: see the test below.)
    expect(resurrected.map(where), 'acknowledged deletes back on the switch').to.deep.equal([])
    // The new master's table has what the switch has (count per device), and so has the
    // surviving slave's mirror; and the table itself, read back through the switch: wipe every
    // bridge by hand and let the audit (the table is the truth) put back exactly what it holds.
    const dpids = sc.bridges.map((b) => b.dpidHex)
    await whileStable(sc, 'the table checks', async (master) => {
      const now = await switchKeys(sc)
      const tables = await tablePositions(api.get(master.id)!, dpids)
      for (const b of sc.bridges) expect(Number(tables[b.dpidHex]!.split('/')[2]), `${b.name}: new master's table size vs switch`).to.equal(now.get(b)!.size)
      for (const m of sc.running().filter((x) => x !== master)) {
        expect(await tablePositions(api.get(m.id)!, dpids), `instance ${m.id} mirrors the new master`).to.deep.equal(tables)
      }
      await Promise.all(sc.bridges.map((b) => sc.lab.ofctl('del-flows', b.name)))
      const restored = await waitFor('the audit to restore every bridge', async () => {
        const keys = await switchKeys(sc)
        return sc.bridges.every((b) => keys.get(b)!.size === Number(tables[b.dpidHex]!.split('/')[2])) ? keys : undefined
      }, {timeoutMs: 10_000, intervalMs: 200})
      for (const b of sc.bridges) {
        expect([...restored.get(b)!].sort(), `${b.name}: the new master's table (restored by the audit) vs the switch before`).to.deep.equal([...now.get(b)!].sort())
      }
      expect(await tablePositions(api.get(master.id)!, dpids), 'the audit changed no table').to.deep.equal(tables)
    })

    // ---- the stream resumed through the new master ----
    // Everything sent once the last role change was over and the new master had taken over every
    // switch succeeded, programmed by it (unless the roles were still moving, most of the stream).
    const afterReady = records.filter((r) => r.startedAt > readyAt)
    if (promotions.length === 1) expect(afterReady.length, 'requests sent after the takeover').to.be.greaterThan(1000)
    if (afterReady.some((r) => r.outcome.status !== 200)) explain(sc, records, killedAt!)
    expect(tally(afterReady), 'outcomes of requests sent after the takeover').to.deep.equal(afterReady.length ? {200: afterReady.length} : {})
    for (const r of afterReady) expect(r.outcome.headers['x-flowkeeper-master'], 'programmed by the new master').to.equal(String(next2.id))

    // ---- retry what failed, as a client would ----
    const retries: Array<{record: OpRecord<Op>, attempts: HttpOutcome[]}> = []
    await Promise.all(failed.map(async (r) => {
      const attempts: HttpOutcome[] = []
      for (let i = 0; i < 10; i++) {
        const via = endpoints[(r.op.seq + i) % endpoints.length]!
        const o = await api.get(via.id)!.request('POST', `/stats/flowentry/${r.op.command}`, r.op.body)
        attempts.push(o)
        if (!retriable(o)) break
        await sleep(500)
      }
      retries.push({record: r, attempts})
    }))
    const notLanded = retries.filter((x) => x.attempts.at(-1)!.status !== 200)
    expect(notLanded.map((x) => `${x.record.op.command}: ${x.attempts.map(outcomeName).join(',')} ${x.attempts.at(-1)!.text}`), 'retries that did not succeed').to.deep.equal([])
    for (const x of retries) {
      const f = fates.get(x.record.op.flow.id)!
      if (x.record.op.kind === 'add') f.add = 'acked'
      else f.del = 'acked'
    }

    // ---- the end state: exactly the adds minus the deletes, everywhere ----
    const present = [...fates.values()].filter((f) => f.add === 'acked' && f.del !== 'acked')
    const expected = new Map(sc.bridges.map((b) => [b, present.filter((f) => f.flow.bridge === b).map((f) => flowKey(f.flow)).sort()] as const))
    await whileStable(sc, 'the final checks', async (master) => {
      const finalKeys = await switchKeys(sc)
      const finalTables = await tablePositions(api.get(master.id)!, dpids)
      const wrong = [...fates.values()].filter((f) => has(f.flow, finalKeys) !== (f.add === 'acked' && f.del !== 'acked'))
      if (wrong.length > 0) explainFlows(sc, [...records, ...retries.flatMap((x) => x.record)], killedAt!, wrong.map((f) => f.flow))
      for (const b of sc.bridges) {
        expect([...finalKeys.get(b)!].sort(), `${b.name}: switch after the retries`).to.deep.equal(expected.get(b))
        expect(Number(finalTables[b.dpidHex]!.split('/')[2]), `${b.name}: new master's table size after the retries`).to.equal(expected.get(b)!.length)
      }
      for (const m of sc.running().filter((x) => x !== master)) {
        expect(await tablePositions(api.get(m.id)!, dpids), `instance ${m.id}, after the retries`).to.deep.equal(finalTables)
      }
    })

    // ---- what was measured ----
    const acked = records.filter((r) => r.outcome.status === 200)
    const lastAckBefore = Math.max(...acked.filter((r) => r.endedAt < killedAt!).map((r) => r.endedAt))
    const firstAckAfter = Math.min(...acked.filter((r) => r.startedAt > killedAt!).map((r) => r.endedAt))
    const failedVia = tally(failed.map((r) => ({outcome: {...r.outcome, status: 0, code: `${outcomeName(r.outcome)} via ${r.via === first.id ? 'the killed master' : `instance ${r.via}`}`}})))
    console.log([
      `      ${TOTAL} requests in ${(streamMs / 1000).toFixed(1)} s (${Math.round(TOTAL / (streamMs / 1000))}/s): ` +
        `${acked.length} acknowledged, ${failed.length} failed (${JSON.stringify(failedVia)})`,
      `      failover: promoted ${Math.round(promotedAt - killedAt!)} ms after the kill, every switch taken over at +${Math.round(readyAt - killedAt!)} ms; ` +
        `no answer for ${Math.round(firstAckAfter - lastAckBefore)} ms; ${afterReady.length} requests after the takeover, all 200`,
      `      checked: ${mustHave.length} acknowledged adds present, ${mustNotHave.length} acknowledged deletes absent; ` +
        `${retries.length} retried (${retries.filter((x) => x.attempts.length > 1).length} needed more than one attempt), all landed; ` +
        `final ${present.length} flows on ${sc.bridges.length} bridges`,
    ].join('\n'))
  })

  // A request is acknowledged once the switch confirmed it and every *live slave* acked it. With
  // no live slave (both hung long enough for the election to expire them and the broker to drop
  // their queues) the master acknowledges alone: the changes exist only in its memory and on the
  // switch. When it dies, the instance that takes over has a mirror that never saw them; it knows
  // (its data bus connection was lost, it rejoined as slave, the master's deltas stopped listing
  // it...) that its mirror is not in sync, so its takeover takes the switch — which confirmed
  // every acknowledged change by barrier — for the truth instead of re-installing from the mirror
  // (src/flows/service/flow-service.ts, mirror trust; src/flows/reconcile.ts, truth 'switch').
  it('a delete and a modify acknowledged while the master had no live slave survive the takeover by an instance that never saw them (the switch is its truth)', async () => {
    const sc = await env.start({ids: [1, 2, 3], bridges: 1})
    const master = sc.master()
    const slaves = sc.running().filter((m) => m !== master).sort((a, b) => a.id - b.id)
    const masterApi = new RestClient(sc.slotOf(master).apiPort)
    clients.push(masterApi)
    const [bridge] = sc.bridges as [Bridge]
    const [gone, changed, kept] = [0, 1, 2].map((i) => testFlow(i, bridge)) as [TestFlow, TestFlow, TestFlow]
    await postAll(masterApi, 'add', [gone, changed, kept].map(addBody))

    // Both slaves hang; the master counts them out, and the broker drops their connections
    // (missed AMQP heartbeats): whatever is published from now on never reaches them.
    const raw = await RawBus.open(sc.options.amqp)
    try {
      const queues = slaves.map((s) => String(master.lines.find((l) => l.event === 'peer_discovered' && l.peer_id === s.id)!.qid))
      for (const s of slaves) s.signal('SIGSTOP')
      await waitFor('the master to count no live slave', async () => {
        const flows = (await clusterView(masterApi)).flows as {live_slaves: number[]}
        return flows.live_slaves.length === 0 || undefined
      }, {timeoutMs: 5_000})
      await waitFor('the hung slaves\' queues to be gone', async () => (await Promise.all(queues.map((q) => raw.queueGone(q)))).every(Boolean) || undefined,
        {timeoutMs: 15_000, intervalMs: 250})
      await sleep(1_000) // their data connections go the same way (same heartbeats)
    } finally {
      await raw.close()
    }

    // Acknowledged by the master alone.
    const modified = {...addBody(changed), actions: [{type: 'OUTPUT', port: 9}]}
    for (const [command, body] of [['delete_strict', deleteStrictBody(gone)], ['modify_strict', modified]] as const) {
      const r = await postFlow(masterApi, command, body)
      expect(r.status, `${command}: ${r.text}`).to.equal(200)
    }
    const acknowledged = [seenLine({...expectedSeen(changed), actions: 'output:9'}), seenLine(expectedSeen(kept))].sort()
    expect(await switchLines(sc.lab, bridge), 'on the switch once acknowledged').to.deep.equal(acknowledged)

    // The master dies; the slaves wake up, reconnect, and one of them takes over.
    const killedAt = epochMs()
    await master.kill()
    for (const s of slaves) s.signal('SIGCONT')
    const next = await sc.waitForSettled(30_000)
    const promotedAt = next.roleChanges.at(-1)!.ts
    const takeover = await next.waitForLine((l) => l.event === 'flow_switch_takeover' && l.dpid === bridge.dpidHex && l.ts > promotedAt, 10_000, 'the takeover')
    console.log(`      (instance ${next.id} took over ${Math.round(promotedAt - killedAt)} ms after the kill: truth ${takeover.truth} (${takeover.why}), ` +
      `restored ${takeover.restored}, fixed ${takeover.fixed}, dropped ${takeover.dropped}, updated ${takeover.updated})`)
    expect(takeover.truth, 'the stale mirror is not taken for the truth').to.equal('switch')
    expect(await switchLines(sc.lab, bridge), 'what was acknowledged, after the failover').to.deep.equal(acknowledged)
  })
})

/**
 * Runs checks that need the roles to hold still: once one master holds every switch (taken
 * over after its last promotion); again (at most three times) if the roles moved meanwhile.
 */
async function whileStable(sc: SwitchCluster, what: string, check: (master: InstanceProcess) => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const master = await sc.waitForSettled(30_000)
    const promotedAt = master.roleChanges.at(-1)!.ts
    await Promise.all(sc.bridges.map((b) => master.waitForLine(
      (l) => l.event === 'flow_switch_takeover' && l.dpid === b.dpidHex && l.ts > promotedAt, 10_000, `takeover of ${b.name}`)))
    const changes = sc.cluster.roleChanges().length
    const moved = () => sc.cluster.roleChanges().length !== changes
    try {
      await check(master)
    } catch (error) {
      if (!moved() || attempt >= 3) throw error
      console.log(`      (roles moved during ${what}: checking again)`)
      continue
    }
    if (!moved()) return
    if (attempt >= 3) throw new Error(`roles kept moving during ${what}`)
  }
}

/** On a lost or resurrected flow: its requests and answers, and what the instances logged about replication and roles meanwhile. */
function explainFlows(sc: SwitchCluster, records: Array<OpRecord<Op>>, killedAt: number, flows: TestFlow[]): void {
  const rel = (t: number) => `+${Math.round(t - killedAt)}ms`
  for (const f of flows) {
    for (const r of records.filter((x) => x.op.flow === f)) {
      const h = r.outcome.headers
      console.log(`      flow ${f.bridge.name} ${flowKey(f)}: ${r.op.command} via ${r.via} sent ${rel(r.startedAt)} answered ${rel(r.endedAt)}: ` +
        `${outcomeName(r.outcome)} master=${h['x-flowkeeper-master']} term=${h['x-flowkeeper-term']} version=${h['x-flowkeeper-version']}`)
    }
  }
  const wanted = new Set(['role_change', 'flow_ack_late', 'flow_switch_takeover', 'flow_takeover', 'flow_step_down', 'flow_slaves_changed', 'peer_expired',
    'peer_discovered', 'fenced', 'flow_forward_master_changed', 'switch_demoted', 'flow_publish_failed', 'flow_message_dropped'])
  for (const m of [...sc.cluster.members.values()]) {
    const lines = m.lines.filter((l) => l.ts > killedAt - 3_000 && wanted.has(String(l.event)))
    console.log(lines.slice(0, 120).map((l) => {
      const {ts, level: _l, msg: _m, inst_id: _i, domain: _d, ...rest} = l
      return `      [${m.id}] ${rel(ts)} ${JSON.stringify(rest)}`
    }).join('\n'))
  }
}

/** On a failure: what failed when and why, and what the instances logged meanwhile. */
function explain(sc: SwitchCluster, records: Array<OpRecord<Op>>, killedAt: number): void {
  const groups = new Map<string, Array<OpRecord<Op>>>()
  for (const r of records.filter((x) => x.outcome.status !== 200)) {
    const k = `via ${r.via}: ${outcomeName(r.outcome)} ${r.outcome.text.replace(/[0-9a-f]{16}/g, '<dpid>').replace(/\d+/g, 'N').slice(0, 240)}`
    groups.set(k, [...(groups.get(k) ?? []), r])
  }
  const rel = (t: number) => `+${Math.round(t - killedAt)}ms`
  for (const [k, rs] of groups) {
    console.log(`      ${rs.length}x ${k} (sent ${rel(Math.min(...rs.map((r) => r.startedAt)))}..${rel(Math.max(...rs.map((r) => r.startedAt)))})`)
  }
  const quiet = new Set(['flow_audit', 'flow_forwarded', 'flow_rpc_serve'])
  for (const m of [...sc.cluster.members.values()]) {
    const lines = m.lines.filter((l) => l.ts > killedAt - 100 && !quiet.has(String(l.event)) && l.level !== 'debug')
    console.log(lines.slice(0, 60).map((l) => `      [${m.id}] ${rel(l.ts)} ${JSON.stringify(l)}`).join('\n'))
  }
}
