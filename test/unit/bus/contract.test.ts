// What every Bus promises, run against the in-memory bus here and against RabbitMQ in
// test/integration/bus/amqp-bus.test.ts (which imports busContract from this file).
import {expect} from 'chai'
import {BusClosedError, BusConfigError, InMemoryBroker, type Bus, type BusMode, type DeliveryInfo, type DroppedMessage} from '../../../src/bus/index.js'

export interface ContractHarness {
  /** A new bus on the harness's broker, closed by cleanup(). */
  newBus(options?: {mode?: BusMode, maxMessageBytes?: number, ownMessages?: 'deliver' | 'skip'}): Bus
  /** Raw bytes on the exchange, as a foreign or broken client would send them. */
  publishRaw(routingKey: string, content: Buffer): Promise<void>
  cleanup(): Promise<void>
}

/** Resolves when predicate() holds, polling; rejects after timeoutMs naming what was awaited. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

interface Received {
  body: unknown
  info: DeliveryInfo
}

function collect(bus: Bus, pattern: string): Received[] {
  const got: Received[] = []
  bus.subscribe(pattern, (body, info) => got.push({body, info}))
  return got
}

export function busContract(name: string, makeHarness: () => Promise<ContractHarness>): void {
  describe(`Bus contract: ${name}`, function () {
    let h: ContractHarness

    beforeEach(async () => {
      h = await makeHarness()
    })

    afterEach(async () => {
      await h.cleanup()
    })

    async function started(options?: {mode?: BusMode, maxMessageBytes?: number}): Promise<Bus> {
      const bus = h.newBus(options)
      await bus.start()
      return bus
    }

    it('delivers a message published by one bus to another bound to its routing key', async () => {
      const receiver = h.newBus()
      const got = collect(receiver, 'c.0.discover')
      await receiver.start()
      const sender = await started()
      const before = Date.now()
      expect(sender.publish('c.0.discover', {msg: 'find', inst_id: 7})).to.equal(true)
      await until(() => got.length === 1, 'the message')
      expect(got[0].body).to.deep.equal({msg: 'find', inst_id: 7})
      expect(got[0].info.routingKey).to.equal('c.0.discover')
      expect(got[0].info.receivedAtMs).to.be.within(before, Date.now())
      expect(sender.stats.published).to.equal(1)
      expect(receiver.stats.received).to.equal(1)
    })

    it('keeps domains apart: c.0.discover and c.1.discover reach only their own subscribers', async () => {
      const domain0 = h.newBus()
      const domain1 = h.newBus()
      const got0 = collect(domain0, 'c.0.discover')
      const got1 = collect(domain1, 'c.1.discover')
      await Promise.all([domain0.start(), domain1.start()])
      const sender = await started()
      sender.publish('c.0.discover', {n: 0})
      sender.publish('c.1.discover', {n: 1})
      // One sender's messages arrive in order, so once the second is in, a misrouted first would be too.
      await until(() => got0.length === 1 && got1.length === 1, 'one message on each domain')
      expect(got0.map((r) => r.body)).to.deep.equal([{n: 0}])
      expect(got1.map((r) => r.body)).to.deep.equal([{n: 1}])
    })

    it("echoes a bus's own messages back to its own queue when it is bound to that key (the election relies on it)", async () => {
      const bus = h.newBus()
      const got = collect(bus, 'c.0.discover')
      await bus.start()
      bus.publish('c.0.discover', {msg: 'keep_alive', inst_id: 1})
      await until(() => got.length === 1, 'the echo')
      expect(got[0].body).to.deep.equal({msg: 'keep_alive', inst_id: 1})
    })

    it("with ownMessages 'skip', a bus's own messages do not come back to it (counted), while the others get them", async () => {
      const skipping = h.newBus({ownMessages: 'skip'})
      const other = h.newBus()
      const mine = collect(skipping, 'c.0.flows.#')
      const theirs = collect(other, 'c.0.flows.#')
      await skipping.start()
      await other.start()
      skipping.publish('c.0.flows.backup', {n: 1})
      other.publish('c.0.flows.backup', {n: 2})
      await until(() => theirs.length === 2 && mine.length === 1 && skipping.stats.ownSkipped === 1, 'the deliveries')
      expect(mine.map((r) => r.body)).to.deep.equal([{n: 2}])
      expect(theirs.map((r) => r.body)).to.have.deep.members([{n: 1}, {n: 2}])
    })

    it("routes topic patterns like RabbitMQ ('*' one word, '#' any) and delivers a message once per handler", async () => {
      const bus = h.newBus()
      const star = collect(bus, 'c.*.discover')
      const hash = collect(bus, 'c.0.#')
      const other = collect(bus, 'c.*.backup')
      await bus.start()
      const sender = await started()
      sender.publish('c.0.discover', {n: 1})
      sender.publish('c.0.x.discover', {n: 2})
      sender.publish('c.9.discover', {n: 3})
      await until(() => star.length === 2 && hash.length === 2, 'the routed messages')
      expect(star.map((r) => r.body)).to.deep.equal([{n: 1}, {n: 3}])
      expect(hash.map((r) => r.body)).to.deep.equal([{n: 1}, {n: 2}])
      expect(other).to.have.length(0)
      expect(bus.stats.received).to.equal(3)
    })

    it('binds a subscription made after start()', async () => {
      const bus = await started()
      const got = collect(bus, 'c.5.discover')
      const sender = await started()
      // The binding is asynchronous on a real broker: publish until the first message gets through.
      await until(() => {
        if (got.length === 0) sender.publish('c.5.discover', {late: true})
        return got.length > 0
      }, 'a message on the late subscription')
      expect(got[0].body).to.deep.equal({late: true})
    })

    it('drops and counts what is not a JSON object, or too large, and carries on', async () => {
      const bus = h.newBus({maxMessageBytes: 1024})
      const got = collect(bus, 'c.0.discover')
      const dropped: DroppedMessage[] = []
      bus.on('dropped', (d) => dropped.push(d))
      await bus.start()
      await h.publishRaw('c.0.discover', Buffer.from('{"msg": "keep_al'))
      await h.publishRaw('c.0.discover', Buffer.from([0x80, 0x02, 0x7d, 0x71])) // the reference's pickle
      await h.publishRaw('c.0.discover', Buffer.from('[1, 2]'))
      await h.publishRaw('c.0.discover', Buffer.from('null'))
      await h.publishRaw('c.0.discover', Buffer.from('42'))
      const oversize = Buffer.from(JSON.stringify({pad: 'x'.repeat(2000)}))
      await h.publishRaw('c.0.discover', oversize)
      await h.publishRaw('c.0.discover', Buffer.from('{"ok": true}'))
      await until(() => got.length === 1, 'the valid message after the bad ones')
      expect(dropped.map((d) => d.reason)).to.deep.equal(['not_json', 'not_json', 'not_object', 'not_object', 'not_object', 'oversize'])
      expect(dropped[5]).to.deep.equal({reason: 'oversize', routingKey: 'c.0.discover', bytes: oversize.length})
      expect(bus.stats.dropped).to.deep.equal({not_json: 2, not_object: 3, oversize: 1})
      expect(bus.stats.received).to.equal(1)
      expect(got[0].body).to.deep.equal({ok: true})
    })

    it('refuses to publish, returning false and never throwing, what it could not send', async () => {
      const unstarted = h.newBus()
      expect(unstarted.publish('c.0.discover', {a: 1})).to.equal(false)
      const bus = await started({maxMessageBytes: 100})
      const circular: Record<string, unknown> = {}
      circular.self = circular
      expect(bus.publish('c.0.discover', circular)).to.equal(false)
      expect(bus.publish('c.0.discover', {big: 10n} as object)).to.equal(false)
      expect(bus.publish('c.0.discover', {pad: 'x'.repeat(200)})).to.equal(false)
      expect(bus.publish('k'.repeat(300), {a: 1})).to.equal(false)
      expect(bus.publish('c.0.discover', {a: 1})).to.equal(true)
      expect(bus.stats.published).to.equal(1)
      await bus.close()
      expect(bus.publish('c.0.discover', {a: 1})).to.equal(false)
    })

    it("keeps a throwing handler from hurting the others or the bus (reported as 'handler_error')", async () => {
      const bus = h.newBus()
      const errors: unknown[] = []
      bus.on('handler_error', (error) => errors.push(error))
      bus.subscribe('c.0.discover', () => {
        throw new Error('handler bug')
      })
      const got = collect(bus, 'c.0.discover')
      await bus.start()
      bus.publish('c.0.discover', {n: 1})
      bus.publish('c.0.discover', {n: 2})
      await until(() => got.length === 2, 'both messages')
      expect(errors).to.have.length(2)
      expect((errors[0] as Error).message).to.equal('handler bug')
      expect(bus.connected).to.equal(true)
    })

    it("announces 'up' with the queue name before start() resolves, and reports it while connected", async () => {
      const bus = h.newBus()
      const ups: string[] = []
      bus.on('up', (queueName) => ups.push(queueName))
      expect(bus.connected).to.equal(false)
      expect(bus.queueName).to.equal(undefined)
      await bus.start()
      expect(ups).to.have.length(1)
      expect(ups[0]).to.be.a('string').and.not.equal('')
      expect(bus.queueName).to.equal(ups[0])
      expect(bus.connected).to.equal(true)
      await bus.start() // a second start is the same start
      expect(ups).to.have.length(1)
    })

    it('gives every bus its own queue, and tells the others when a queue goes away (never its owner)', async function () {
      const watcher = await started()
      if (!watcher.eventsAvailable) this.skip()
      const deleted: string[] = []
      watcher.on('queue_deleted', (q) => deleted.push(q))
      const leaver = await started()
      const leaverQueue = leaver.queueName
      expect(leaverQueue).to.be.a('string').and.not.equal(watcher.queueName)
      await leaver.close()
      await until(() => deleted.includes(leaverQueue!), 'queue_deleted for the closed bus')
      expect(deleted).to.not.include(watcher.queueName)
    })

    it('delivers what was published just before close() (a leaving instance says goodbye this way)', async () => {
      const receiver = h.newBus()
      const got = collect(receiver, 'c.0.discover')
      await receiver.start()
      for (let i = 0; i < 5; i++) {
        const leaver = await started()
        expect(leaver.publish('c.0.discover', {msg: 'leave', i})).to.equal(true)
        await leaver.close()
      }
      await until(() => got.length === 5, 'every goodbye')
      expect(got.map((r) => (r.body as {i: number}).i)).to.deep.equal([0, 1, 2, 3, 4])
    })

    it('closes idempotently: before start, twice, concurrently; start() after close() rejects', async () => {
      const never = h.newBus()
      await never.close()
      await never.close()
      await expectRejection(never.start(), BusClosedError)

      const bus = await started()
      await Promise.all([bus.close(), bus.close()])
      await bus.close()
      expect(bus.connected).to.equal(false)
      expect(bus.queueName).to.equal(undefined)
    })

    it("observes without taking part in 'observe' mode, and only publishes in 'publish' mode", async () => {
      const observer = h.newBus({mode: 'observe'})
      const seen = collect(observer, 'c.0.discover')
      await observer.start()
      expect(observer.publish('c.0.discover', {from: 'observer'})).to.equal(false)

      const publisher = await started({mode: 'publish'})
      expect(() => publisher.subscribe('c.0.discover', () => {})).to.throw(BusConfigError)
      expect(publisher.queueName).to.equal(undefined)
      expect(publisher.publish('c.0.discover', {from: 'publisher'})).to.equal(true)
      await until(() => seen.length === 1, "the publisher's message at the observer")
      expect(seen[0].body).to.deep.equal({from: 'publisher'})
    })

    it('rejects an invalid subscription pattern at once', () => {
      const bus = h.newBus()
      expect(() => bus.subscribe('x'.repeat(256), () => {})).to.throw(BusConfigError)
    })
  })
}

async function expectRejection(promise: Promise<unknown>, type: new (...args: never[]) => Error): Promise<Error> {
  try {
    await promise
  } catch (error) {
    expect(error).to.be.instanceOf(type)
    return error as Error
  }
  throw new Error(`expected a rejection with ${type.name}`)
}

busContract('InMemoryBus', async () => {
  const broker = new InMemoryBroker()
  const buses: Bus[] = []
  return {
    newBus(options) {
      const bus = broker.createBus(options)
      buses.push(bus)
      return bus
    },
    async publishRaw(routingKey, content) {
      broker.publishRaw(routingKey, content)
    },
    async cleanup() {
      await Promise.all(buses.map((b) => b.close()))
    },
  }
})
