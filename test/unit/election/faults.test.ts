// Self-fencing, stalls and hangs: what the election adds so that a cut-off or frozen instance never
// leaves the cluster with two masters, and a slow event loop never causes a failover.
import {expect} from 'chai'
import {PROFILES, minDetectionMs, type ProfileName} from '../../../src/election/timing.js'
import {SimNetwork, type SimNode} from '../../helpers/sim-network.js'
import {Solo, keepAlive} from '../../helpers/sim-solo.js'

/** Three instances (ids 1, 2, 3) settled, id 1 master; no queue-deleted events unless asked. */
function settledCluster(profile: ProfileName, seed: number, opts: {trace?: boolean, queueDeletedEvents?: boolean} = {}): {sim: SimNetwork, master: SimNode} {
  const sim = new SimNetwork({timing: PROFILES[profile], seed, trace: opts.trace, queueDeletedEvents: opts.queueDeletedEvents ?? false})
  for (const id of [3, 2, 1]) sim.addNode(id, 0)
  sim.runUntil(3000)
  const agreed = sim.agreement()
  if (!agreed.ok) throw new Error(agreed.why)
  expect(agreed.master.election.instId).to.equal(1)
  return {sim, master: agreed.master}
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

describe('Election under faults', () => {
  describe('self-fencing', () => {
    for (const profile of ['fast', 'reference'] as const) {
      it(`${profile}: a master cut from the broker steps down before its peers could elect a successor`, () => {
        const t = PROFILES[profile]
        // Cut at every phase of the keep-alive cycle.
        for (let step = 0; step < 20; step++) {
          const {sim, master} = settledCluster(profile, 100 + step)
          const cutAt = sim.nowMs + (step * t.keepAliveIntervalMs) / 20
          sim.runUntil(cutAt)
          sim.cutFromBroker(master, 'silent')
          sim.runUntil(cutAt + 4 * minDetectionMs(t))
          const fenced = sim.roleChanges.find((c) => c.node === master.index && c.reason === 'self_fence')
          const successor = sim.roleChanges.find((c) => c.node !== master.index && c.to === 'master')
          expect(fenced, 'the master fenced').to.not.equal(undefined)
          expect(successor, 'a successor took over').to.not.equal(undefined)
          expect(fenced!.atMs - cutAt, 'fenced within I + F of the cut').to.be.at.most(t.keepAliveIntervalMs + t.selfFenceMs)
          expect(fenced!.atMs, 'fenced before the successor promoted').to.be.below(successor!.atMs)
          expect(successor!.term).to.be.greaterThan(fenced!.term)
        }
      })
    }

    it('a slave cut from everyone never elects itself, though every peer\'s bucket drains', () => {
      const solo = new Solo(1).start().hear(keepAlive(2, 'master', 2), keepAlive(3, 'slave', 2))
      solo.advanceTo(100)
      solo.echoes = false // cut: nothing comes back, nothing comes in
      solo.advanceTo(10_000)
      expect(solo.changes.map((c) => `${c.to} ${c.reason}`)).to.deep.equal(['slave init_found_master', 'unknown self_fence'])
      expect(solo.eventsOf('peer_expired').map((e) => e.peer_id)).to.deep.equal([2, 3])
      expect(solo.election.masterId).to.equal(undefined)
    })

    it('once its keep-alives come back, a fenced instance rejoins: find, init, and slave under the master', () => {
      const solo = new Solo(1).start().hear(keepAlive(2, 'master', 2)).advanceTo(100)
      solo.echoes = false
      solo.advanceTo(3000)
      expect(solo.role).to.equal('unknown')
      solo.echoes = true
      solo.advanceTo(4000) // the next keep-alive comes back
      const rejoined = solo.eventsOf('rejoined')
      expect(rejoined).to.have.length(1)
      expect(solo.sentSince(rejoined[0].atMs).map((m) => m.msg)).to.include('find')
      solo.hear(keepAlive(2, 'master', 2))
      expect(solo.lastChange()).to.include({from: 'unknown', to: 'slave', reason: 'init_found_master'})
    })

    it('a promotion waits for the keep-alive sent when deciding to come back: never on a view the broker no longer backs', () => {
      const solo = new Solo(2).start().hear(keepAlive(1, 'master', 1), keepAlive(3, 'slave', 1))
      solo.advanceTo(1010).hear(keepAlive(3, 'slave', 1))
      solo.echoes = false // cut just before the master expires at 1500
      solo.advanceTo(3000)
      expect(solo.eventsOf('peer_expired').map((e) => e.peer_id)).to.include(1)
      expect(solo.changes.map((c) => c.to)).to.deep.equal(['slave', 'unknown'])
      expect(solo.lastChange()).to.include({reason: 'self_fence'})
    })

    it('init without our own keep-alive back decides nothing', () => {
      const solo = new Solo(5)
      solo.echoes = false
      solo.start().advanceTo(2000)
      expect(solo.role).to.equal('unknown')
      expect(solo.eventsOf('fenced').map((e) => e.why)).to.deep.equal(['echo_late'])
    })
  })

  describe('late ticks', () => {
    it('a tick late by a stall sends one keep-alive, runs no check, and judges only after reading what queued up', () => {
      const solo = new Solo(2).start().hear(keepAlive(1, 'master', 1))
      solo.advanceTo(1010).hear(keepAlive(1, 'master', 1))
      // Frozen from 1010 to 2700: the master's keep-alives of 2010 wait in the socket.
      solo.nowMs = 2700
      const late = solo.apply(solo.election.tick(2700))
      expect(late.send.map((m) => m.msg)).to.deep.equal(['keep_alive'])
      expect(late.events).to.deep.equal([{type: 'judgment_deferred', late_ms: 1200}])
      expect(solo.election.nextDeadlineMs()).to.equal(2701)
      solo.hear(keepAlive(1, 'master', 1))
      solo.advanceTo(2701)
      expect(solo.eventsOf('peer_expired')).to.deep.equal([]) // 1690 ms since 1010, but it spoke meanwhile
      expect(solo.election.masterId).to.equal(1)
    })

    it('a master frozen long enough to be replaced steps down on waking, before reading anything', () => {
      const solo = new Solo(1).start().advanceTo(600)
      expect(solo.role).to.equal('master')
      solo.nowMs = 600 + 1300 // silent for 1300 ms > 1250: peers may have elected a successor
      const out = solo.apply(solo.election.tick(solo.nowMs))
      expect(out.roleChanges).to.deep.equal([{from: 'master', to: 'unknown', term: 1, reason: 'self_fence'}])
      expect(solo.eventsOf('fenced')[0]).to.include({why: 'silent_too_long'})
    })
  })

  describe('stalls and hangs (fast profile)', () => {
    it('an event loop blocked for 250 ms once a second causes no failover, on any instance', () => {
      for (let seed = 1; seed <= 20; seed++) {
        const {sim} = settledCluster('fast', seed, {trace: true})
        const changesBefore = sim.roleChanges.length
        const tracedBefore = sim.traceLines.length
        for (const node of sim.nodes) {
          const phase = sim.rng.int(0, 999)
          for (let t = sim.nowMs + phase; t < sim.nowMs + 20_000; t += 1000) sim.at(t, () => sim.freeze(node, 250))
        }
        sim.runUntil(sim.nowMs + 21_000)
        expect(sim.roleChanges.slice(changesBefore), `seed ${seed}`).to.deep.equal([])
        const trouble = sim.traceLines.slice(tracedBefore).filter((l) => /peer_expired|fenced/.test(l))
        expect(trouble, `seed ${seed}`).to.deep.equal([])
      }
    })

    it('a hung (SIGSTOPped) master is replaced within 600 ms of the stop (p99), with a higher term', () => {
      const latencies: number[] = []
      for (let step = 0; step < 200; step++) {
        const {sim, master} = settledCluster('fast', 1000 + step)
        const hangAt = sim.nowMs + (step % 80) + step / 200
        sim.runUntil(hangAt)
        sim.freeze(master, 5000)
        sim.runUntil(hangAt + 2000)
        const successor = sim.roleChanges.find((c) => c.atMs >= hangAt && c.to === 'master')
        expect(successor, `step ${step}`).to.not.equal(undefined)
        expect(successor!.instId).to.equal(2)
        expect(successor!.term).to.be.greaterThan(master.election.term)
        latencies.push(successor!.atMs - hangAt)
      }
      expect(percentile(latencies, 99)).to.be.at.most(600)
      expect(Math.min(...latencies)).to.be.at.least(minDetectionMs(PROFILES.fast) - PROFILES.fast.keepAliveIntervalMs)
    })

    it('when the hung master wakes up, it steps down and follows the new master: never two masters for good', () => {
      const {sim, master} = settledCluster('fast', 5)
      sim.freeze(master, 3000)
      sim.runUntil(sim.nowMs + 6000)
      const agreed = sim.agreement()
      expect(agreed.ok && agreed.master.election.instId).to.equal(2)
      expect(master.election.role).to.equal('slave')
      expect(sim.violations).to.deep.equal([])
    })
  })

  it('reference profile: a hung master is replaced 0.5–1.5 s after the stop, as in the reference', () => {
    for (let step = 0; step < 20; step++) {
      const {sim, master} = settledCluster('reference', 2000 + step)
      const hangAt = sim.nowMs + step * 50
      sim.runUntil(hangAt)
      sim.freeze(master, 10_000)
      sim.runUntil(hangAt + 3000)
      const successor = sim.roleChanges.find((c) => c.atMs >= hangAt && c.to === 'master')!
      expect(successor.atMs - hangAt).to.be.within(250, 1550)
    }
  })

  it('a crashed master whose queue the broker reports deleted is replaced within milliseconds', () => {
    const {sim, master} = settledCluster('fast', 9, {queueDeletedEvents: true})
    const crashAt = sim.nowMs
    sim.crash(master)
    sim.runUntil(crashAt + 1000)
    const successor = sim.roleChanges.find((c) => c.to === 'master' && c.atMs >= crashAt)!
    expect(successor.reason).to.equal('master_crashed')
    expect(successor.atMs - crashAt).to.be.below(50)
  })
})
