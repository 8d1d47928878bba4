// What `flowkeeper status` shows: the members of a domain as their keep-alives on the bus say,
// heard without taking part in the election.
import {expect} from 'chai'
import {InMemoryBroker} from '../../../src/bus/memory-bus.js'
import {DomainObserver, viewFromReports} from '../../../src/controller/domain-observer.js'
import {renderView} from '../../../src/cli/commands/status.js'
import type {Role} from '../../../src/election/messages.js'

const keepAlive = (instId: number, role: Role, term: number, domain = 'lab') =>
  ({v: 1, msg: 'keep_alive', domain, inst_id: instId, role, qid: `q${instId}`, term, seq: 1})

const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('DomainObserver and the status view', () => {
  it('lists the members heard on the bus with their roles and terms, and the master', async () => {
    const broker = new InMemoryBroker()
    const sender = broker.createBus()
    const bus = broker.createBus({mode: 'observe'})
    const observer = new DomainObserver(bus, 'lab')
    observer.attach()
    await Promise.all([sender.start(), bus.start()])
    sender.publish('c.lab.discover', keepAlive(3, 'slave', 65537))
    sender.publish('c.lab.discover', keepAlive(1, 'master', 65537))
    sender.publish('c.lab.discover', keepAlive(2, 'slave', 65537))
    sender.publish('c.lab.discover', keepAlive(2, 'slave', 65537))
    sender.publish('c.other.discover', keepAlive(9, 'master', 99, 'other')) // another domain's key: not heard
    sender.publish('c.lab.discover', keepAlive(7, 'master', 5, 'other')) // on this key, but another domain: dropped
    sender.publish('c.lab.discover', {v: 1, msg: 'keep_alive', domain: 'lab', inst_id: 'x'}) // malformed: dropped
    await settle()
    const view = observer.view()
    expect(view.members.map((m) => [m.instId, m.role, m.term, m.keepAlives])).to.deep.equal([
      [1, 'master', 65537, 1], [2, 'slave', 65537, 2], [3, 'slave', 65537, 1],
    ])
    expect(view.master?.instId).to.equal(1)
    expect(view.conflictingMasters).to.equal(false)
    expect(view.dropped).to.equal(2)
    expect(renderView(view)).to.equal([
      'domain lab: 3 member(s), master 1 (term 65537)',
      '  ID     ROLE     TERM',
      '  1      master   65537',
      '  2      slave    65537',
      '  3      slave    65537',
    ].join('\n'))
    await Promise.all([sender.close(), bus.close()])
  })

  it('a leave removes the member; two masters are flagged, the higher term shown as master', () => {
    const observer = new DomainObserver(new InMemoryBroker().createBus({mode: 'observe'}), 'lab')
    observer.observe(keepAlive(1, 'master', 65537) as never)
    observer.observe(keepAlive(2, 'master', 131074) as never)
    const view = observer.view()
    expect(view.master?.instId).to.equal(2)
    expect(view.conflictingMasters).to.equal(true)
    expect(renderView(view)).to.include('warning: more than one instance claims master')
    observer.observe({v: 1, msg: 'leave', domain: 'lab', inst_id: 2, qid: 'q2', term: 131074})
    expect(observer.view().members.map((m) => m.instId)).to.deep.equal([1])
    observer.observe({v: 1, msg: 'leave', domain: 'lab', inst_id: 1, qid: 'q1', term: 65537})
    expect(renderView(observer.view())).to.equal('domain lab: no instance heard')
  })

  it('is settled once every member sent two keep-alives and no new one appeared for three of the slowest intervals (300 ms at least)', () => {
    let now = 0
    const observer = new DomainObserver(new InMemoryBroker().createBus({mode: 'observe'}), 'lab', () => now)
    expect(observer.settled(), 'nobody heard yet').to.equal(false)
    const at = (ms: number, ...ids: number[]) => {
      now = ms
      for (const id of ids) observer.observe(keepAlive(id, id === 1 ? 'master' : 'slave', 1) as never)
    }
    at(10, 1)
    at(30, 2)
    at(90, 1)
    expect(observer.settled(), 'instance 2 sent only one').to.equal(false)
    at(110, 2) // both at 80 ms: settled 300 ms after instance 2 appeared (3 x 80 = 240 is less)
    now = 329
    expect(observer.settled()).to.equal(false)
    at(400, 3) // a newcomer starts the wait again
    at(480, 3)
    now = 699
    expect(observer.settled()).to.equal(false)
    now = 700
    expect(observer.settled()).to.equal(true)

    // At the reference profile's 1000 ms, three intervals after the last newcomer.
    now = 0
    const slow = new DomainObserver(new InMemoryBroker().createBus({mode: 'observe'}), 'lab', () => now)
    for (const [ms, id] of [[0, 1], [500, 2], [1000, 1], [1500, 2]] as const) {
      now = ms
      slow.observe(keepAlive(id, 'slave', 1) as never)
    }
    now = 3499
    expect(slow.settled()).to.equal(false)
    now = 3500
    expect(slow.settled()).to.equal(true)
  })
})

describe('the status view from REST reports (when the bus cannot be heard)', () => {
  const member = (inst_id: number, role: string, term: number, self = false) => ({inst_id, role, term, self})

  it('merges what instances report: a member\'s own word first, else the highest term; other domains left out', () => {
    const view = viewFromReports('lab', [
      // Instance 2 still believes 1 is master (its last keep-alive); 1 itself says it is a slave now, under 3.
      {domain: 'lab', members: [member(1, 'master', 65537), member(2, 'slave', 65537, true), member(3, 'slave', 65537)]},
      {domain: 'lab', members: [member(1, 'slave', 65537, true), member(3, 'master', 196611)]},
      {domain: 'other', members: [member(9, 'master', 99, true)]},
    ], 1234)
    expect(view.members.map((m) => [m.instId, m.role, m.term, m.keepAlives, m.lastSeenMs])).to.deep.equal([
      [1, 'slave', 65537, 0, 1234], [2, 'slave', 65537, 0, 1234], [3, 'master', 196611, 0, 1234],
    ])
    expect(view.master?.instId).to.equal(3)
    expect(view.conflictingMasters).to.equal(false)
    expect(renderView(view)).to.include('domain lab: 3 member(s), master 3 (term 196611)')
  })

  it('two masters in the reports are flagged; no report of the domain is no member', () => {
    const twoMasters = viewFromReports('lab', [{domain: 'lab', members: [member(1, 'master', 65537, true), member(2, 'master', 131074)]}], 0)
    expect(twoMasters.master?.instId).to.equal(2)
    expect(twoMasters.conflictingMasters).to.equal(true)
    expect(renderView(viewFromReports('lab', [{domain: 'other', members: [member(1, 'master', 1, true)]}], 0))).to.equal('domain lab: no instance heard')
  })
})
