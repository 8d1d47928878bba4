// The cluster and its switches for real: a private RabbitMQ, a private Open vSwitch whose bridges
// are connected to every instance, and instances started with the CLI as separate processes.
// Faults are real signals. Where a test is about what the switch itself holds, OVS is asked
// (its Controller table, its generation_id); elsewhere the instances' REST API and log lines.
import {expect} from 'chai'
import {connect} from 'node:net'
import type {InstanceProcess} from '../../../src/lab/instance-process.js'
import {epochMs} from '../../../src/log.js'
import {sleep, useSwitchLab, type SwitchCluster} from '../../helpers/switch-cluster.js'

const ROLE_TIMEOUT_MS = 15_000
/** How long after a deposed master resumes nobody may change role: several detection periods of the fast profile (420 ms). */
const NO_FLAP_WINDOW_MS = 2_000

const roleChangesSince = (member: InstanceProcess, ts: number) => member.roleChanges.filter((c) => c.ts > ts)
const linesSince = (member: InstanceProcess, ts: number, event: string) => member.lines.filter((l) => l.ts > ts && l.event === event)

describe('switches under a cluster (real RabbitMQ, Open vSwitch, CLI processes)', function () {
  this.timeout(60_000)
  const env = useSwitchLab()

  it('three instances, four bridges: the master holds MASTER on all four and the others SLAVE, per OVS and per each REST API', async () => {
    const sc = await env.start({ids: [1, 2, 3], bridges: 4})
    // Started together, the lowest id usually wins; whoever won must hold every bridge.
    const master = sc.master()
    for (const m of sc.running()) {
      const switches = await sc.switches(m)
      expect(switches.map((s) => s.dpid).sort(), `instance ${m.id} switches`).to.deep.equal(sc.bridges.map((b) => b.dpidHex))
      expect(new Set(switches.map((s) => s.role)), `instance ${m.id} roles`).to.deep.equal(new Set([m === master ? 'master' : 'slave']))
    }
    await sc.waitForOvsRoles(master)
    // Every bridge carries the master's term as its generation_id.
    for (const bridge of sc.bridges) expect(await sc.generationId(bridge), bridge.name).to.equal(BigInt(master.term!))
  })

  it('SIGKILL the master: the successor asserts a higher generation_id and OVS makes it master on every bridge', async () => {
    const sc = await env.start({ids: [1, 2, 3], bridges: 4})
    const first = sc.master()
    const firstTerm = first.term!
    const expected = sc.successorOf(first)
    const killedAt = epochMs()
    await first.kill()
    const next = await sc.cluster.waitForSingleMaster(ROLE_TIMEOUT_MS)
    expect(next.id, 'the lowest live id').to.equal(expected.id)
    expect(next.term).to.be.greaterThan(firstTerm)
    // The successor's own word: every bridge confirmed MASTER to it ...
    const confirmed = await sc.waitForSwitchRoleLines(next, 'master', killedAt, 5_000)
    expect(confirmed.size).to.equal(4)
    // ... and the switches': each bridge's generation_id is the new term, and OVS reports the
    // successor's controller as master and the remaining instance's as slave.
    for (const bridge of sc.bridges) expect(await sc.generationId(bridge), bridge.name).to.equal(BigInt(next.term!))
    await sc.waitForOvsRoles(next)
    expect(linesSince(next, killedAt, 'switch_role_failed')).to.deep.equal([])
  })

  it('a deposed master that comes back (SIGSTOP, then SIGCONT) changes no bridge: slave everywhere per OVS, the successor keeps MASTER', async () => {
    const sc = await env.start({ids: [1, 2, 3], bridges: 4})
    const first = sc.master()
    const second = sc.successorOf(first)
    const third = sc.running().find((m) => m !== first && m !== second)!
    const stoppedAt = epochMs()
    first.signal('SIGSTOP')
    await second.waitForRole('master', ROLE_TIMEOUT_MS)
    await sc.waitForSwitchRoleLines(second, 'master', stoppedAt, 5_000) // took over on every bridge
    const successorTerm = second.term!
    const resumedAt = epochMs()
    first.signal('SIGCONT')
    await first.waitForRole('slave', ROLE_TIMEOUT_MS)
    await sc.waitForRestRoles(second)
    // OVS's view (refreshed every ~5 s): waiting for it is also the "for a while after" window,
    // which lasts at least NO_FLAP_WINDOW_MS.
    await sc.waitForOvsRoles(second)
    await sleep(NO_FLAP_WINDOW_MS - (epochMs() - resumedAt))
    for (const bridge of sc.bridges) expect(await sc.generationId(bridge), bridge.name).to.equal(BigInt(successorTerm))
    // No flapping: since the resume, the successor and the third instance changed nothing, and
    // the resumed one only ever went down (never asserted or held MASTER again).
    for (const m of [second, third]) {
      expect(roleChangesSince(m, resumedAt), `role changes of ${m.id}`).to.deep.equal([])
      expect(linesSince(m, resumedAt, 'switch_role'), `switch roles of ${m.id}`).to.deep.equal([])
    }
    expect(roleChangesSince(first, resumedAt).map((c) => c.to)).to.not.include('master')
    expect(linesSince(first, resumedAt, 'switch_role').map((l) => l.role)).to.not.include('master')
    expect(second.role).to.equal('master')
    expect(second.term).to.equal(successorTerm)
  })

  it('every instance killed, new processes started: OVS kept the old generation_id and the new master goes above it on every bridge', async () => {
    // The old cluster's master has a term of 5 to 7 (its id); each new instance's first term would
    // be its own id, 1 to 3: only what the switches tell them (NOCHANGE, or a STALE refusal) lifts
    // it above.
    // KNOWN INTERMITTENT FAILURE (about 1 run in 5), a bug in src/openflow/switch-registry.ts
    // (assertRole, the SLAVE retry after STALE): a slave whose SLAVE request is refused STALE a
    // second time, because the new master raised the generation_id between the slave's NOCHANGE
    // read and its retry, stays EQUAL on that bridge for good (REST role 'equal'); nothing logs
    // or retries it. It shows as "instance N (slave): <bridge>:equal" in waitForSettled.
    const sc = await env.start({ids: [5, 6, 7], bridges: 4})
    const oldTerm = await killAllAndReadGeneration(sc)

    const restartedAt = epochMs()
    await Promise.all([1, 2, 3].map((id, slot) => sc.spawn(id, slot)))
    const master = await sc.waitForSettled(ROLE_TIMEOUT_MS)
    expect(master.term).to.be.greaterThan(oldTerm)
    await sc.waitForOvsRoles(master)
    for (const bridge of sc.bridges) expect(await sc.generationId(bridge), bridge.name).to.equal(BigInt(master.term!))
    // Whatever path it took (generation ids read before promoting, or a STALE refusal first), it
    // ended settled on its own: one master, and no assertion left failing.
    const stale = sc.running().flatMap((m) => linesSince(m, restartedAt, 'switch_demoted'))
    const failed = sc.running().flatMap((m) => linesSince(m, restartedAt, 'switch_role_failed'))
    console.log(`      (new master term ${master.term} over ${oldTerm}; ${stale.length} demotions on the way, ` +
      `${master.roleChanges.length} role changes of the master: ${master.roleChanges.map((c) => `${c.to}/${c.reason}/${c.term}`).join(' ')})`)
    expect(sc.cluster.masters()).to.deep.equal([master])
    const masterAssertedAt = master.roleChanges.at(-1)!.ts
    expect(failed.filter((l) => l.ts > masterAssertedAt), 'role assertions failing after the last promotion').to.deep.equal([])
  })

  it('new processes elected before the bridges reconnect: the first MASTER is refused STALE, and they recover on their own', async () => {
    // KNOWN INTERMITTENT FAILURE: the same registry bug as the test above (a slave left EQUAL).
    const sc = await env.start({ids: [5, 6, 7], bridges: 4})
    const oldTerm = await killAllAndReadGeneration(sc)
    // The bridges lose their controllers, so the new cluster elects with no switch to ask.
    await Promise.all(sc.bridges.map((b) => sc.lab.setControllers(b.name, [])))
    const early = await sc.spawn(1, 0)
    await early.waitForRole('master', ROLE_TIMEOUT_MS)
    await Promise.all([2, 3].map((id, i) => sc.spawn(id, i + 1)))
    expect(await sc.cluster.waitForSingleMaster(ROLE_TIMEOUT_MS)).to.equal(early)
    expect(early.term, 'a term chosen without the switches').to.be.lessThan(oldTerm)
    const reconnectedAt = epochMs()
    await Promise.all(sc.bridges.map((b) => sc.lab.setControllers(b.name, sc.slots.map((s) => ({port: s.ofPort})), {maxBackoffMs: 1000})))
    // The switches refuse the old term (STALE) ...
    await early.waitForLine((l) => l.event === 'switch_demoted' && l.reason === 'stale-generation', 10_000, 'switch_demoted (stale-generation)')
    // ... and the cluster ends with one master above the switches' generation_id, accepted everywhere.
    const master = await sc.waitForSettled(ROLE_TIMEOUT_MS)
    console.log(`      (took ${Math.round(epochMs() - reconnectedAt)} ms after the bridges came back; role changes: ` +
      sc.running().flatMap((m) => roleChangesSince(m, reconnectedAt).map((c) => `${m.id}:${c.from}->${c.to}/${c.reason}/${c.term}`)).join(' ') + ')')
    expect(master.term).to.be.greaterThan(oldTerm)
    await sc.waitForOvsRoles(master)
    for (const bridge of sc.bridges) expect(await sc.generationId(bridge), bridge.name).to.equal(BigInt(master.term!))
  })

  it('a bridge that reconnects is brought back to the right role on every instance', async () => {
    const sc = await env.start({ids: [1, 2, 3], bridges: 4})
    const master = sc.master()
    const [victim, ...others] = sc.bridges
    const before = new Map(await Promise.all(sc.running().map(async (m) => [m, await sc.switches(m)] as const)))
    const reconnectedAt = epochMs()
    await sc.lab.reconnectControllers(victim!.name)
    // Each instance sees the bridge leave and come back, then its role settle (REST).
    await Promise.all(sc.running().map((m) => m.waitForNextLine(
      (l) => l.event === 'switch_connected' && l.dpid === victim!.dpidHex, 10_000, `switch_connected ${victim!.name}`)))
    await sc.waitForRestRoles(master)
    for (const m of sc.running()) {
      expect(linesSince(m, reconnectedAt, 'switch_disconnected').map((l) => l.dpid), `instance ${m.id} disconnects`).to.deep.equal([victim!.dpidHex])
      const now = new Map((await sc.switches(m)).map((s) => [s.dpid, s]))
      const then = new Map(before.get(m)!.map((s) => [s.dpid, s]))
      expect(now.get(victim!.dpidHex)!.connected_at, `instance ${m.id}: a new connection`).to.be.greaterThan(then.get(victim!.dpidHex)!.connected_at)
      for (const b of others) expect(now.get(b.dpidHex), `instance ${m.id}: ${b.name} untouched`).to.deep.equal(then.get(b.dpidHex))
      expect(roleChangesSince(m, reconnectedAt), `role changes of ${m.id}`).to.deep.equal([])
    }
    expect(sc.cluster.masters()).to.deep.equal([master])
  })

  it('a TCP connection sending garbage to an OpenFlow port is closed with a logged reason while the bridges go on', async () => {
    const sc = await env.start({ids: [1, 2, 3], bridges: 4})
    const master = sc.master()
    const slave = sc.successorOf(master)
    const before = new Map(await Promise.all(sc.running().map(async (m) => [m, await sc.switches(m)] as const)))
    const since = epochMs()
    const garbage: Array<[string, Buffer]> = [
      ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: flowkeeper\r\n\r\n')],
      // A HELLO, then a header announcing a length shorter than a header: the stream cannot be framed.
      ['a HELLO then an unframeable header', Buffer.concat([
        Buffer.from([0x04, 0x00, 0x00, 0x08, 0, 0, 0, 1]),
        Buffer.from([0x04, 0x02, 0x00, 0x03, 0, 0, 0, 2, 0xde, 0xad, 0xbe, 0xef]),
      ])],
      ['a HELLO then OpenFlow 1.0 traffic', Buffer.concat([
        Buffer.from([0x04, 0x00, 0x00, 0x08, 0, 0, 0, 1]),
        Buffer.from([0x01, 0x05, 0x00, 0x08, 0, 0, 0, 2]),
      ])],
    ]
    for (const target of [master, slave]) {
      for (const [what, bytes] of garbage) {
        const {address, closedInMs} = await sendGarbage(sc.slotOf(target).ofPort, bytes)
        expect(closedInMs, `${what} to ${target.id}: closed promptly`).to.be.lessThan(2_000)
        const line = await target.waitForLine((l) => l.ts > since && l.msg === 'switch disconnected' && l.address === address, 2_000, `the close of ${address} logged`)
        expect(String(line.reason), `${what}: a reason`).to.match(/\w/)
        const warning = target.lines.find((l) => l.ts > since && l.level === 'warn' && l.address === address && String(l.msg).startsWith('closing switch connection'))
        expect(warning, `${what} to ${target.id}: a warning says why`).to.not.equal(undefined)
      }
    }
    // The bridges never noticed: same connections, same roles, nobody changed role.
    await sleep(300)
    for (const m of sc.running()) {
      expect(await sc.switches(m), `instance ${m.id} switches`).to.deep.equal(before.get(m))
      expect(roleChangesSince(m, since), `role changes of ${m.id}`).to.deep.equal([])
      expect(linesSince(m, since, 'switch_disconnected'), `switch disconnects on ${m.id}`).to.deep.equal([])
      expect(linesSince(m, since, 'switch_role'), `switch roles on ${m.id}`).to.deep.equal([])
    }
  })
})

/**
 * Stops every instance at once and returns the generation_id the bridges kept: the master's term.
 * All are frozen (SIGSTOP) before any is killed, so no slave outlives the master long enough to
 * promote itself (RabbitMQ reports a dead peer within milliseconds).
 */
async function killAllAndReadGeneration(sc: SwitchCluster): Promise<number> {
  const masterTerm = sc.master().term!
  const members = sc.running()
  for (const m of members) m.signal('SIGSTOP')
  for (const m of members) m.signal('SIGKILL') // SIGKILL ends a stopped process too
  await Promise.all(members.map((m) => m.exited))
  for (const bridge of sc.bridges) expect(await sc.generationId(bridge), `${bridge.name} kept its generation_id`).to.equal(BigInt(masterTerm))
  return masterTerm
}

/** Connects, writes `bytes`, and waits for the instance to close the connection. */
async function sendGarbage(port: number, bytes: Buffer): Promise<{address: string, closedInMs: number}> {
  const socket = connect({port, host: '127.0.0.1'})
  socket.on('error', () => {}) // a reset is a close too
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve())
    socket.once('error', reject)
  })
  const address = `127.0.0.1:${socket.localPort}`
  socket.resume() // read what it sends (its HELLO), or the end of the stream is never seen
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  const sentAt = performance.now()
  socket.write(bytes)
  const timer = setTimeout(() => socket.destroy(), 5_000)
  await closed
  clearTimeout(timer)
  return {address, closedInMs: performance.now() - sentAt}
}
