// AmqpBus on a real RabbitMQ: the shared contract, then what only a real broker can show: crash
// detection through the event exchange, reconnects after a broker restart, heartbeats, URL lists, start
// failures, and a clean exit after close().
import {spawn, type ChildProcess} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {createServer, connect as tcpConnect, type Server, type Socket} from 'node:net'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {connect, type Channel, type ChannelModel} from 'amqplib'
import {expect} from 'chai'
import {AmqpBus, BusConfigError, BusStartError, DEFAULT_EXCHANGE, type AmqpBusOptions} from '../../../src/bus/index.js'
import {freePort, sharedBroker, startBroker, type TestBroker} from '../../helpers/broker.js'
import {busContract, until} from '../../unit/bus/contract.test.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')

busContract('AmqpBus on RabbitMQ', async () => {
  const {url} = await sharedBroker()
  // A private exchange per test: the contract's routing keys (c.0.discover, ...) cannot meet other
  // tests' traffic on the shared broker.
  const exchange = `flowkeeper.contract.${randomUUID()}`
  const buses: AmqpBus[] = []
  let raw: {model: ChannelModel, channel: Channel} | undefined
  return {
    newBus(options) {
      const bus = new AmqpBus({url, exchange, ...options})
      buses.push(bus)
      return bus
    },
    async publishRaw(routingKey, content) {
      if (!raw) {
        const model = await connect(url)
        const channel = await model.createChannel()
        await channel.assertExchange(exchange, 'topic', {durable: false, autoDelete: true})
        raw = {model, channel}
      }
      raw.channel.publish(exchange, routingKey, content)
    },
    async cleanup() {
      await Promise.all(buses.map((b) => b.close()))
      await raw?.model.close().catch(() => {})
    },
  }
})

/** A TCP relay in front of the broker that a test can freeze (a silent broker) or cut (a dead one). */
class Relay {
  private readonly pairs = new Set<[Socket, Socket]>()
  private frozen = false
  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetPort: number): Promise<Relay> {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const relay = new Relay(server, (server.address() as {port: number}).port)
    server.on('connection', (client) => relay.pipe(client, targetPort))
    return relay
  }

  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`
  }

  private pipe(client: Socket, targetPort: number): void {
    const upstream = tcpConnect(targetPort, '127.0.0.1')
    const pair: [Socket, Socket] = [client, upstream]
    this.pairs.add(pair)
    const end = () => {
      client.destroy()
      upstream.destroy()
      this.pairs.delete(pair)
    }
    client.on('error', end).on('close', end)
    // A silent broker's goodbye never arrives either: while frozen, the client side is left hanging.
    const upstreamEnd = () => (this.frozen ? upstream.destroy() : end())
    upstream.on('error', upstreamEnd).on('close', upstreamEnd)
    client.pipe(upstream)
    upstream.pipe(client)
    if (this.frozen) this.pause(pair)
  }

  private pause([a, b]: [Socket, Socket]): void {
    a.unpipe()
    b.unpipe()
    a.pause()
    b.pause()
  }

  /** Stops relaying bytes, both ways, on every connection, old and new: the broker goes silent. */
  freeze(): void {
    this.frozen = true
    for (const pair of this.pairs) this.pause(pair)
  }

  /** Relays again (only connections made from now on: frozen ones stay stuck until they die). */
  thaw(): void {
    this.frozen = false
  }

  async close(): Promise<void> {
    for (const [a, b] of this.pairs) {
      a.destroy()
      b.destroy()
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** Runs node with tsx on an inline ES module; its stdout lines go to onLine. */
function spawnModule(source: string, onLine: (line: string) => void): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', source], {cwd: root, stdio: ['pipe', 'pipe', 'pipe']})
  let buffered = ''
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    let newline: number
    while ((newline = buffered.indexOf('\n')) >= 0) {
      onLine(buffered.slice(0, newline))
      buffered = buffered.slice(newline + 1)
    }
  })
  let stderr = ''
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
  child.on('exit', (code) => { if (code) process.stderr.write(stderr) })
  return child
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode)
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

describe('AmqpBus on RabbitMQ', function () {
  this.timeout(60_000)
  let url: string
  const buses: AmqpBus[] = []
  const children: ChildProcess[] = []
  const relays: Relay[] = []

  function newBus(options: Partial<AmqpBusOptions> = {}): AmqpBus {
    const bus = new AmqpBus({url, ...options})
    buses.push(bus)
    return bus
  }

  before(async () => {
    url = (await sharedBroker()).url
  })

  afterEach(async () => {
    for (const child of children.splice(0)) child.kill('SIGKILL')
    await Promise.all(buses.splice(0).map((b) => b.close()))
    await Promise.all(relays.splice(0).map((r) => r.close()))
  })

  it("declares the reference's exchange (SDN_Bridge: topic, non-durable, auto-delete) and an exclusive server-named queue", async () => {
    const bus = newBus()
    bus.subscribe('c.0.discover', () => {})
    await bus.start()
    expect(bus.queueName).to.match(/^amq\.gen-/)
    const model = await connect(url)
    try {
      const channel = await model.createChannel()
      // Re-declaring with the same properties succeeds; different ones would close the channel (406).
      await channel.assertExchange(DEFAULT_EXCHANGE, 'topic', {durable: false, autoDelete: true})
      const other = await model.createChannel()
      other.on('error', () => {})
      const refused = await other.assertQueue(bus.queueName!, {exclusive: true}).then(() => false, () => true)
      expect(refused, 'another connection may not use our exclusive queue').to.equal(true)
    } finally {
      await model.close().catch(() => {})
    }
  })

  it("emits queue_deleted within milliseconds when another process holding a queue is SIGKILLed", async () => {
    const watcher = newBus({connectionName: 'watcher'})
    const deletedAt = new Map<string, number>()
    watcher.on('queue_deleted', (q) => deletedAt.set(q, performance.now()))
    await watcher.start()
    expect(watcher.eventsAvailable).to.equal(true)

    const delaysMs: number[] = []
    for (let i = 0; i < 5; i++) {
      let queue: string | undefined
      const child = spawnModule(`
        import {connect} from 'amqplib'
        const model = await connect(${JSON.stringify(url)})
        const channel = await model.createChannel()
        const {queue} = await channel.assertQueue('', {exclusive: true})
        console.log(queue)
      `, (line) => { queue = line.trim() })
      children.push(child)
      await until(() => queue !== undefined, 'the child to declare its queue', 10_000)
      const killedAt = performance.now()
      child.kill('SIGKILL')
      await until(() => deletedAt.has(queue!), `queue_deleted for ${queue}`, 5000)
      delaysMs.push(deletedAt.get(queue!)! - killedAt)
      await exited(child)
    }
    console.log(`      queue_deleted after SIGKILL: median ${median(delaysMs).toFixed(1)} ms, max ${Math.max(...delaysMs).toFixed(1)} ms (${delaysMs.map((d) => d.toFixed(1)).join(', ')})`)
    expect(Math.max(...delaysMs)).to.be.below(1000)
  })

  it('falls back silently when the event exchange is missing: no events, everything else works', async () => {
    const bus = newBus({eventExchange: 'amq.flowkeeper.no-such-exchange'})
    const deleted: string[] = []
    bus.on('queue_deleted', (q) => deleted.push(q))
    const got: unknown[] = []
    bus.subscribe('c.0.discover', (body) => got.push(body))
    await bus.start()
    expect(bus.eventsAvailable).to.equal(false)
    const other = newBus()
    await other.start()
    await other.close()
    bus.publish('c.0.discover', {still: 'working'})
    await until(() => got.length === 1, 'a message on the bus whose event check failed')
    expect(deleted).to.deep.equal([])
    expect(bus.connected).to.equal(true)
  })

  it('tries each URL of a comma-separated list in turn: the first is dead, the second works', async () => {
    const deadPort = await freePort()
    const bus = newBus({url: `amqp://guest:guest@127.0.0.1:${deadPort}, ${url}`})
    await bus.start()
    expect(bus.connected).to.equal(true)
  })

  it('fails to start with an error naming every URL and what went wrong (passwords masked)', async () => {
    const [a, b] = [await freePort(), await freePort()]
    const bus = newBus({url: `amqp://guest:secret@127.0.0.1:${a},amqp://guest:secret@127.0.0.1:${b}`})
    const error = await bus.start().then(() => undefined, (e: unknown) => e)
    expect(error).to.be.instanceOf(BusStartError)
    const message = (error as Error).message
    expect(message).to.include(`127.0.0.1:${a}`).and.include(`127.0.0.1:${b}`).and.include('ECONNREFUSED')
    expect(message).to.not.include('secret')
    expect((error as BusStartError).attempts).to.have.length(2)
    expect(bus.connected).to.equal(false)
    // It may be started again later (here: still nothing there).
    await bus.start().then(() => expect.fail('no broker'), (e: unknown) => expect(e).to.be.instanceOf(BusStartError))
  })

  it('gives up on a port that accepts TCP but never speaks AMQP after connectTimeoutMs', async () => {
    const silent = createServer((socket) => socket.on('error', () => {}))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    try {
      const port = (silent.address() as {port: number}).port
      const bus = newBus({url: `amqp://guest:guest@127.0.0.1:${port}`, connectTimeoutMs: 300})
      const started = Date.now()
      const error = await bus.start().then(() => undefined, (e: unknown) => e)
      expect(error).to.be.instanceOf(BusStartError)
      expect((error as Error).message).to.match(/ETIMEDOUT/)
      expect(Date.now() - started).to.be.below(2000)
    } finally {
      silent.close()
    }
  })

  it('refuses malformed URLs at construction', () => {
    expect(() => new AmqpBus({url: 'http://127.0.0.1:5672'})).to.throw(BusConfigError, /amqp:\/\//)
    expect(() => new AmqpBus({url: ' , '})).to.throw(BusConfigError)
    expect(() => new AmqpBus({url, reconnectMaxMs: 10, reconnectInitialMs: 100})).to.throw(BusConfigError, /reconnectMaxMs \(10\).*reconnectInitialMs \(100\)/)
  })

  it('notices a broker gone silent through heartbeats, and reconnects once it answers again', async () => {
    const {port} = new URL(url)
    const relay = await Relay.start(Number(port))
    relays.push(relay)
    const bus = newBus({url: relay.url, heartbeatSeconds: 1, connectTimeoutMs: 1000})
    const downs: Array<{reason: string, at: number}> = []
    const ups: string[] = []
    bus.on('down', (reason) => downs.push({reason, at: Date.now()}))
    bus.on('up', (q) => ups.push(q))
    await bus.start()
    const frozenAt = Date.now()
    relay.freeze()
    await until(() => downs.length === 1, "'down' after the broker went silent", 6000)
    expect(downs[0].reason).to.match(/heartbeat/i)
    expect(downs[0].at - frozenAt).to.be.below(4000) // two to three 1 s heartbeat intervals
    relay.thaw()
    await until(() => ups.length === 2, "'up' once the broker answers", 10_000)
    expect(downs).to.have.length(1)
    expect(bus.connected).to.equal(true)
  })

  describe('with a broker of its own, restarted', function () {
    let broker: TestBroker

    before(async () => {
      broker = await startBroker()
    })

    after(async () => {
      await broker?.stop()
    })

    it("emits 'down' once, reconnects with backoff when the broker is back, rebinds, and emits 'up' with a new queue", async () => {
      const bus = new AmqpBus({url: broker.url})
      buses.push(bus)
      const events: string[] = []
      const deleted: string[] = []
      bus.on('up', (q) => events.push(`up ${q}`))
      bus.on('down', () => events.push('down'))
      bus.on('queue_deleted', (q) => deleted.push(q))
      const before: unknown[] = []
      bus.subscribe('c.0.discover', (body) => before.push(body))
      await bus.start()
      const firstQueue = bus.queueName!

      const restart = broker.restart()
      await until(() => events.includes('down'), "'down' when the broker stops", 15_000)
      expect(bus.connected).to.equal(false)
      expect(bus.publish('c.0.discover', {lost: true})).to.equal(false)
      const during: unknown[] = []
      bus.subscribe('c.1.discover', (body) => during.push(body)) // while down: bound on reconnect
      await restart
      const backAt = Date.now()
      await until(() => events.length === 3, "'up' after the restart", 10_000)
      const upDelayMs = Date.now() - backAt
      console.log(`      'up' ${upDelayMs} ms after restart() returned (the bus may beat the start script's own probe)`)
      expect(upDelayMs).to.be.below(3500) // backoff is capped at 2 s

      expect(events[0]).to.equal(`up ${firstQueue}`)
      expect(events[1]).to.equal('down')
      expect(events[2]).to.match(/^up amq\.gen-/).and.not.equal(`up ${firstQueue}`)
      expect(bus.queueName).to.not.equal(firstQueue)

      const sender = new AmqpBus({url: broker.url})
      buses.push(sender)
      await sender.start()
      sender.publish('c.0.discover', {n: 0})
      sender.publish('c.1.discover', {n: 1})
      await until(() => before.length === 1 && during.length === 1, 'messages on both bindings after the reconnect')
      expect(deleted, 'never queue_deleted for our own old queue').to.not.include(firstQueue)
    })

    it('close() during a reconnect leaves nothing behind: the process exits by itself', async () => {
      const relay = await Relay.start(broker.port)
      relays.push(relay)
      const lines: string[] = []
      const child = spawnModule(`
        import {AmqpBus} from ${JSON.stringify(path.join(root, 'src/bus/amqp-bus.ts'))}
        const bus = new AmqpBus({url: ${JSON.stringify(relay.url)}})
        bus.on('down', () => console.log('down'))
        await bus.start()
        console.log('up')
        process.stdin.resume() // keep running until told; the parent cuts the broker off
        process.stdin.on('data', async () => {
          process.stdin.pause()
          process.stdin.destroy()
          await bus.close()
          console.log('closed')
        })
      `, (line) => lines.push(line))
      children.push(child)
      child.stdin?.on('error', () => {})
      await until(() => lines.includes('up'), 'the child bus up', 15_000)
      await relay.close() // broker unreachable: the child is now reconnecting, timers armed
      await until(() => lines.includes('down'), "the child's 'down'", 10_000)
      await new Promise((resolve) => setTimeout(resolve, 500)) // a few reconnect attempts
      child.stdin!.write('close\n')
      const exitCode = await Promise.race([
        exited(child),
        new Promise<string>((resolve) => setTimeout(() => resolve('still running 5 s after close()'), 5000)),
      ])
      expect(lines).to.include('closed')
      expect(exitCode).to.equal(0)
    })
  })
})
