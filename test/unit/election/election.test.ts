// The reference algorithm's rules and what flowkeeper adds, one behaviour per test, on a fake clock.
// Times use the reference profile unless said: keep-alive every 1000 ms, check 500 ms after each,
// one token, init 500 ms, self-fence 200 ms, no expiry before 1250 ms of silence.
import {expect} from 'chai'
import {Election} from '../../../src/election/election.js'
import {nextTerm} from '../../../src/election/term.js'
import {PROFILES, SettingsError} from '../../../src/election/timing.js'
import {DOMAIN, Solo, find, keepAlive, leave} from '../../helpers/sim-solo.js'
import {SimNetwork} from '../../helpers/sim-network.js'

/** The keep-alive `solo` sends with this role and term (its seq aside). */
function keepAliveOf(solo: Solo, role: 'unknown' | 'master' | 'slave', term: number) {
  const last = [...solo.sent].reverse().find((s) => s.message.msg === 'keep_alive')!.message as {seq?: number}
  return {v: 1, msg: 'keep_alive', domain: DOMAIN, inst_id: solo.election.instId, role, qid: solo.qid, term, seq: last.seq}
}

/** A slave (id `instId`) under master 1 (term 1), with a slave 3 beside it. */
function slaveUnderMaster1(instId: number): Solo {
  return new Solo(instId).start().hear(keepAlive(1, 'master', 1), keepAlive(3, 'slave', 1))
}

describe('Election', () => {
  describe('the reference algorithm', () => {
    it('start sends a keep-alive and a find, and holds no role until init ends', () => {
      const solo = new Solo(5).start()
      expect(solo.sentSince(0).map((m) => m.msg)).to.deep.equal(['keep_alive', 'find'])
      expect(solo.sentSince(0)[0]).to.include({role: 'unknown', term: 0, inst_id: 5, qid: 'q-self'})
      expect(solo.role).to.equal('unknown')
      solo.advanceTo(499)
      expect(solo.role).to.equal('unknown')
    })

    it('alone when init ends: master, with its own id as term (epoch 0)', () => {
      const solo = new Solo(5).start().advanceTo(500)
      expect(solo.lastChange()).to.include({from: 'unknown', to: 'master', term: 5, reason: 'init', atMs: 500})
      expect(solo.election.masterId).to.equal(5)
    })

    it('keeps alive every interval and checks the peers timeoutCheckDelayMs after each own keep-alive', () => {
      const solo = new Solo(5).start().hear(keepAlive(9, 'slave', 0))
      solo.advanceTo(3000)
      const periodic = solo.sent.filter((s) => s.message.msg === 'keep_alive' && s.atMs % 1000 === 0).map((s) => s.atMs)
      expect(periodic).to.include.members([0, 1000, 2000, 3000])
      // Peer 9 was heard once, at 0: the check at 500 takes its token, the one at 1500 finds none
      // (and 1500 ms of silence, past the 1250 ms floor).
      expect(solo.eventsOf('peer_expired')).to.deep.equal([
        {type: 'peer_expired', peer_id: 9, role: 'slave', why: 'missed_keep_alives', silent_ms: 1500, atMs: 1500},
      ])
    })

    it('a keep-alive refills the bucket: a peer heard every interval is never expired', () => {
      const solo = new Solo(5).start()
      for (let t = 0; t <= 10_000; t += 1000) solo.advanceTo(t + 10).hear(keepAlive(9, 'slave', 0))
      expect(solo.eventsOf('peer_expired')).to.deep.equal([])
      expect(solo.election.peers()).to.deep.equal([{instId: 9, role: 'slave', term: 0, qid: 'q9', tokens: 1, lastSeenMs: 10_010}])
    })

    it('init ends with no master known and our id the lowest: master', () => {
      const solo = new Solo(5).start().hear(keepAlive(7, 'unknown', 0), keepAlive(6, 'slave', 0)).advanceTo(500)
      expect(solo.lastChange()).to.include({to: 'master', reason: 'init'})
    })

    it('init ends with a lower id known and no master: slave', () => {
      const solo = new Solo(5).start().hear(keepAlive(3, 'unknown', 0)).advanceTo(500)
      expect(solo.lastChange()).to.include({to: 'slave', reason: 'init'})
    })

    it('a master heard during init ends init early, as slave', () => {
      const solo = new Solo(5)
      solo.start().advanceTo(100)
      solo.hear(keepAlive(9, 'master', 9))
      expect(solo.lastChange()).to.include({from: 'unknown', to: 'slave', term: 9, reason: 'init_found_master', atMs: 100})
      expect(solo.election.masterId).to.equal(9)
      solo.advanceTo(600)
      expect(solo.changes).to.have.length(1)
    })

    it('a find makes a receiver send a keep-alive at once and restart its keep-alive timer on it', () => {
      const solo = new Solo(5).start().hear(keepAlive(1, 'master', 1)).advanceTo(300)
      solo.hear(find(8))
      expect(solo.sentSince(300)).to.deep.equal([keepAliveOf(solo, 'slave', 1)])
      solo.advanceTo(1299)
      expect(solo.sentSince(301)).to.deep.equal([])
      solo.advanceTo(1300)
      expect(solo.sentSince(1300)).to.have.length(1)
    })

    it('kill the master; the lowest live id takes over with a higher term', () => {
      const solo = slaveUnderMaster1(2)
      for (let t = 1000; t <= 3000; t += 1000) solo.advanceTo(t + 10).hear(keepAlive(3, 'slave', 1)) // 1 fell silent after 10 ms
      expect(solo.lastChange()).to.include({from: 'slave', to: 'master', term: nextTerm(1, 2), reason: 'master_expired', atMs: 1500})
      expect(solo.election.term).to.equal(2).and.to.be.greaterThan(1)
    })

    it('kill the master; a slave that is not the lowest live id stays slave', () => {
      const solo = slaveUnderMaster1(5)
      for (let t = 1000; t <= 5000; t += 1000) solo.advanceTo(t + 10).hear(keepAlive(3, 'slave', 1))
      expect(solo.eventsOf('peer_expired').map((e) => e.peer_id)).to.deep.equal([1])
      expect(solo.changes.map((c) => c.to)).to.deep.equal(['slave'])
    })

    it('a lower id joining later never takes over from a live master', () => {
      const sim = new SimNetwork({timing: PROFILES.fast, seed: 7})
      sim.addNode(5, 0)
      sim.addNode(6, 10)
      sim.runUntil(2000)
      const late = sim.addNode(1, 2000)
      sim.runUntil(6000)
      expect(sim.agreement()).to.deep.include({ok: true})
      expect(sim.roleChanges.filter((c) => c.atMs >= 2000).map((c) => `${c.instId} ${c.to} ${c.reason}`)).to.deep.equal(['1 slave init_found_master'])
      expect(late.election.masterId).to.equal(5)
    })

    it('ignores its own keep-alives, echoed by the broker, as a peer', () => {
      const solo = new Solo(5).start().advanceTo(5000)
      expect(solo.election.peers()).to.deep.equal([])
    })

    describe('id collisions', () => {
      it('an instance without a role regenerates its id', () => {
        const solo = new Solo(5, PROFILES.reference, [77]).start()
        solo.hear(keepAlive(5, 'unknown', 0, 'q-other'))
        expect(solo.election.instId).to.equal(77)
        expect(solo.eventsOf('id_regenerated')).to.deep.equal([{type: 'id_regenerated', old_id: 5, new_id: 77, why: 'collision_while_unknown', atMs: 0}])
        expect(solo.election.peers().map((p) => p.instId)).to.deep.equal([5])
      })

      it('a slave that collides with a master regenerates its id', () => {
        const solo = new Solo(5, PROFILES.reference, [77]).start().hear(keepAlive(1, 'master', 1))
        solo.hear(keepAlive(5, 'master', 65541, 'q-other'))
        expect(solo.election.instId).to.equal(77)
        expect(solo.role).to.equal('slave')
      })

      it('of two colliding slaves, the one with the higher queue name regenerates', () => {
        const higher = new Solo(5, PROFILES.reference, [77]).start('q-m').hear(keepAlive(1, 'master', 1))
        higher.hear(keepAlive(5, 'slave', 1, 'q-a'))
        expect(higher.election.instId).to.equal(77)
        const lower = new Solo(5, PROFILES.reference, [77]).start('q-m').hear(keepAlive(1, 'master', 1))
        lower.hear(keepAlive(5, 'slave', 1, 'q-z'))
        expect(lower.election.instId).to.equal(5)
      })

      it('a master keeps its id when another instance collides with it', () => {
        const solo = new Solo(5).start().advanceTo(500)
        solo.hear(keepAlive(5, 'slave', 5, 'q-other'), keepAlive(5, 'unknown', 0, 'q-another'))
        expect(solo.election.instId).to.equal(5)
        expect(solo.role).to.equal('master')
      })

      it('two masters with one id and one term: the lower queue name stays, the other steps down and regenerates', () => {
        const solo = new Solo(5, PROFILES.reference, [77]).start('q-m').advanceTo(500)
        solo.hear(keepAlive(5, 'master', 5, 'q-a'))
        expect(solo.lastChange()).to.include({from: 'master', to: 'slave', reason: 'id_collision'})
        expect(solo.election.instId).to.equal(77)
        const winner = new Solo(5, PROFILES.reference, [77]).start('q-a').advanceTo(500)
        winner.hear(keepAlive(5, 'master', 5, 'q-m'))
        expect(winner.role).to.equal('master')
        expect(winner.election.instId).to.equal(5)
      })

      it('a peer that regenerated its id is forgotten under the old one at once', () => {
        const solo = new Solo(5).start().hear(keepAlive(3, 'unknown', 0, 'q-x'))
        solo.hear(keepAlive(8, 'unknown', 0, 'q-x'))
        expect(solo.election.peers().map((p) => p.instId)).to.deep.equal([8])
        expect(solo.eventsOf('peer_expired')[0]).to.include({peer_id: 3, why: 'id_changed'})
      })
    })
  })

  describe('terms', () => {
    it('every keep-alive carries the sender\'s term', () => {
      const solo = new Solo(5).start().advanceTo(3000)
      const terms = solo.sent.filter((s) => s.message.msg === 'keep_alive' && s.atMs > 500).map((s) => (s.message as {term: number}).term)
      expect(terms).to.have.length.greaterThan(1)
      expect(new Set(terms)).to.deep.equal(new Set([5]))
    })

    it('a promotion exceeds every term known, from peers and from switches, with our id in the low bits', () => {
      const solo = new Solo(2).start().hear(keepAlive(1, 'master', 65537), keepAlive(3, 'slave', 131075))
      solo.apply(solo.election.observeExternalTerm(200_000, 10))
      for (let t = 1000; t <= 2000; t += 1000) solo.advanceTo(t + 10).hear(keepAlive(3, 'slave', 131075))
      expect(solo.lastChange()).to.include({to: 'master', reason: 'master_expired', term: 4 * 65536 + 2})
    })

    it('two masters that see each other: the higher term stays, the other steps down', () => {
      const solo = new Solo(2).start().advanceTo(500)
      solo.hear(keepAlive(1, 'master', 1))
      expect(solo.role).to.equal('master')
      expect(solo.sentSince(500).at(-1)).to.include({msg: 'keep_alive', role: 'master', term: 2}) // told the stale master at once
      solo.hear(keepAlive(3, 'master', 65539))
      expect(solo.lastChange()).to.include({from: 'master', to: 'slave', term: 65539, reason: 'two_masters'})
      expect(solo.election.masterId).to.equal(3)
    })

    it('a master that hears of a higher term from a slave steps down: a newer master existed', () => {
      const solo = new Solo(2).start().advanceTo(500)
      solo.hear(keepAlive(4, 'slave', 65539))
      expect(solo.lastChange()).to.include({from: 'master', to: 'slave', reason: 'higher_term'})
    })

    it('a switch reporting a generation_id above our term demotes us, and we do not fight back', () => {
      const solo = new Solo(2).start().advanceTo(500)
      solo.apply(solo.election.observeExternalTerm(2, 600)) // our own generation_id: nothing
      expect(solo.role).to.equal('master')
      solo.advanceTo(700)
      solo.apply(solo.election.observeExternalTerm(65540, 700))
      expect(solo.lastChange()).to.include({from: 'master', to: 'slave', reason: 'switch_demoted', atMs: 700})
      // No master shows up: only after a detection window (1250 ms) does it promote again, above the switch.
      solo.advanceTo(1949)
      expect(solo.role).to.equal('slave')
      solo.advanceTo(2600)
      expect(solo.lastChange()).to.include({to: 'master', reason: 'no_master', term: 2 * 65536 + 2})
    })
  })

  describe('leave and crash', () => {
    it('a leave is acted on at once: the peer is gone and, when it was the master, the lowest live id promotes now', () => {
      const solo = slaveUnderMaster1(2)
      solo.advanceTo(200).hear(leave(1, 1))
      expect(solo.eventsOf('peer_expired')).to.deep.equal([{type: 'peer_expired', peer_id: 1, role: 'master', why: 'left', silent_ms: 200, atMs: 200}])
      expect(solo.lastChange()).to.include({to: 'master', reason: 'master_left', atMs: 200})
    })

    it('a leave from a queue we do not know that id under is ignored', () => {
      const solo = slaveUnderMaster1(2).hear(leave(1, 1, 'q-stale'))
      expect(solo.election.masterId).to.equal(1)
      expect(solo.eventsOf('ignored').map((e) => e.why)).to.deep.equal(['leave_of_unknown_peer'])
    })

    it('the broker reporting the master\'s queue deleted: it crashed, the lowest live id promotes now', () => {
      const solo = slaveUnderMaster1(2).advanceTo(50)
      solo.apply(solo.election.peerQueueDeleted('q1', 50))
      expect(solo.eventsOf('peer_expired')[0]).to.include({peer_id: 1, why: 'queue_deleted'})
      expect(solo.lastChange()).to.include({to: 'master', reason: 'master_crashed', atMs: 50})
    })

    it('our own queue deleted: nothing reaches us any more, so we hold no role', () => {
      const solo = new Solo(5).start().advanceTo(600)
      solo.apply(solo.election.peerQueueDeleted('q-self', 600))
      expect(solo.lastChange()).to.include({from: 'master', to: 'unknown', reason: 'self_fence'})
      expect(solo.eventsOf('fenced')[0]).to.include({why: 'own_queue_deleted'})
    })

    it('leave() returns the leave message and gives up the role', () => {
      const solo = new Solo(5).start().advanceTo(600)
      const out = solo.apply(solo.election.leave(600))
      expect(out.send).to.deep.equal([{v: 1, msg: 'leave', domain: DOMAIN, inst_id: 5, qid: 'q-self', term: 5}])
      expect(out.roleChanges).to.deep.equal([{from: 'master', to: 'unknown', term: 5, reason: 'leave'}])
      expect(solo.election.nextDeadlineMs()).to.equal(undefined)
    })
  })

  describe('broker loss', () => {
    it('busLost: no role, nothing sent, no deadline until start() again with the new queue', () => {
      const solo = new Solo(5).start().advanceTo(600)
      const out = solo.apply(solo.election.busLost(600))
      expect(out).to.deep.equal({send: [], roleChanges: [{from: 'master', to: 'unknown', term: 5, reason: 'broker_lost'}], events: []})
      expect(solo.election.nextDeadlineMs()).to.equal(undefined)
      expect(solo.election.tick(5000).send).to.deep.equal([])
      solo.advanceTo(5000).start('q-new')
      expect(solo.sentSince(5000).map((m) => `${m.msg} ${m.qid}`)).to.deep.equal(['keep_alive q-new', 'find q-new'])
      solo.advanceTo(5500)
      expect(solo.lastChange()).to.include({to: 'master', reason: 'init', term: 65541})
    })

    it('an instance without a role never counts as master', () => {
      const solo = new Solo(5).start().hear(keepAlive(1, 'unknown', 65537))
      expect(solo.election.masterId).to.equal(undefined)
      solo.advanceTo(500)
      expect(solo.lastChange()).to.include({to: 'slave', reason: 'init'}) // 1 is lower, and not a master
    })
  })

  describe('inputs', () => {
    it('refuses an inst_id outside 1..65535, a bad domain, bad timing', () => {
      const ok = {instId: 1, domain: 'd', timing: PROFILES.fast, randomId: () => 2}
      expect(() => new Election({...ok, instId: 0})).to.throw(RangeError)
      expect(() => new Election({...ok, domain: 'a.b'})).to.throw(SettingsError)
      expect(() => new Election({...ok, timing: {...PROFILES.fast, selfFenceMs: 1000}})).to.throw(SettingsError, 'selfFenceMs (1000)')
    })

    it('a tick before the next deadline, or an extra one, does nothing', () => {
      const solo = new Solo(5).start()
      const deadline = solo.election.nextDeadlineMs()!
      expect(solo.election.tick(deadline - 1)).to.deep.equal({send: [], roleChanges: [], events: []})
      solo.advanceTo(deadline)
      expect(solo.election.tick(deadline)).to.deep.equal({send: [], roleChanges: [], events: []})
    })

    it('a clock that steps back is held at its last reading', () => {
      const solo = new Solo(5).start().advanceTo(2000)
      expect(solo.election.tick(100).send).to.deep.equal([])
      expect(() => solo.election.tick(Number.NaN)).to.throw(RangeError)
    })
  })
})
