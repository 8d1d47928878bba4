// The in-memory bus's test knobs, which other modules' unit tests rely on: they must behave like the
// corresponding RabbitMQ events do for AmqpBus.
import {expect} from 'chai'
import sinon from 'sinon'
import {BusStartError, InMemoryBroker} from '../../../src/bus/index.js'
import {until} from './contract.test.js'

describe('InMemoryBroker / InMemoryBus', () => {
  it("broker stop and start: 'down' once, then 'up' with a new queue and the bindings in place", async () => {
    const broker = new InMemoryBroker()
    const bus = broker.createBus()
    const got: unknown[] = []
    bus.subscribe('c.0.discover', (body) => got.push(body))
    const events: string[] = []
    bus.on('up', (q) => events.push(`up ${q}`)).on('down', (r) => events.push(`down ${r}`))
    await bus.start()
    const first = bus.queueName
    broker.stop()
    broker.stop()
    expect(bus.connected).to.equal(false)
    expect(bus.queueName).to.equal(undefined)
    expect(bus.publish('c.0.discover', {lost: true})).to.equal(false)
    broker.start()
    expect(bus.queueName).to.be.a('string').and.not.equal(first)
    expect(events).to.deep.equal([`up ${first}`, 'down broker stopped', `up ${bus.queueName}`])
    bus.publish('c.0.discover', {after: true})
    await until(() => got.length === 1, 'the message after the restart')
    expect(got).to.deep.equal([{after: true}])
    await bus.close()
  })

  it('start() with the broker stopped fails like an unreachable broker', async () => {
    const broker = new InMemoryBroker()
    broker.stop()
    const bus = broker.createBus()
    try {
      await bus.start()
      expect.fail('start() should reject')
    } catch (error) {
      expect(error).to.be.instanceOf(BusStartError)
    }
  })

  it('disconnect() partitions one client until reconnect(); the others see its queue deleted', async () => {
    const broker = new InMemoryBroker()
    const [a, b] = [broker.createBus(), broker.createBus()]
    const deleted: string[] = []
    b.on('queue_deleted', (q) => deleted.push(q))
    const downs: string[] = []
    a.on('down', (r) => downs.push(r))
    await Promise.all([a.start(), b.start()])
    const aQueue = a.queueName!
    broker.disconnect(a, 'cable pulled')
    expect(downs).to.deep.equal(['cable pulled'])
    await until(() => deleted.length === 1, 'queue_deleted at b')
    expect(deleted).to.deep.equal([aQueue])
    broker.stop()
    broker.start()
    expect(a.connected).to.equal(false) // still partitioned
    expect(b.connected).to.equal(true)
    broker.reconnect(a)
    expect(a.connected).to.equal(true)
    expect(a.queueName).to.not.equal(aQueue)
  })

  it('kill() silences a client for good and tells the others at once', async () => {
    const broker = new InMemoryBroker()
    const [victim, peer] = [broker.createBus(), broker.createBus()]
    const victimEvents: string[] = []
    victim.on('down', () => victimEvents.push('down'))
    victim.subscribe('#', () => victimEvents.push('message'))
    const deleted: string[] = []
    peer.on('queue_deleted', (q) => deleted.push(q))
    await Promise.all([victim.start(), peer.start()])
    const victimQueue = victim.queueName!
    broker.kill(victim)
    peer.publish('c.0.discover', {n: 1})
    await until(() => deleted.length === 1, 'queue_deleted')
    expect(deleted).to.deep.equal([victimQueue])
    expect(victimEvents).to.deep.equal([])
    expect(victim.publish('c.0.discover', {n: 2})).to.equal(false)
    await victim.close()
  })

  it('a broker without the event exchange emits no queue_deleted', async () => {
    const broker = new InMemoryBroker({eventsAvailable: false})
    const [a, b] = [broker.createBus(), broker.createBus()]
    const deleted: string[] = []
    a.on('queue_deleted', (q) => deleted.push(q))
    await Promise.all([a.start(), b.start()])
    expect(a.eventsAvailable).to.equal(false)
    await b.close()
    await Promise.resolve()
    await Promise.resolve()
    expect(deleted).to.deep.equal([])
  })

  it('deleteQueue(): the owner reconnects with a new queue, the others hear of it', async () => {
    const broker = new InMemoryBroker()
    const [owner, other] = [broker.createBus(), broker.createBus()]
    const deleted: string[] = []
    other.on('queue_deleted', (q) => deleted.push(q))
    const ownerEvents: string[] = []
    owner.on('down', () => ownerEvents.push('down')).on('up', () => ownerEvents.push('up'))
    await Promise.all([owner.start(), other.start()])
    const old = owner.queueName!
    broker.deleteQueue(old)
    expect(ownerEvents).to.deep.equal(['up', 'down', 'up'])
    expect(owner.queueName).to.not.equal(old)
    await until(() => deleted.length === 1, 'queue_deleted')
    expect(deleted).to.deep.equal([old])
  })

  it('works under sinon fake timers without ticking (deliveries are microtasks)', async () => {
    const clock = sinon.useFakeTimers()
    try {
      const broker = new InMemoryBroker()
      const bus = broker.createBus()
      const got: unknown[] = []
      bus.subscribe('k', (body) => got.push(body))
      await bus.start()
      bus.publish('k', {n: 1})
      expect(got).to.deep.equal([]) // never inside publish()
      await Promise.resolve()
      expect(got).to.deep.equal([{n: 1}])
    } finally {
      clock.restore()
    }
  })
})
