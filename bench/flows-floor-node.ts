// One process of bench/flows-floor's reference cluster: the least a replicated REST path can do,
// with none of flowkeeper's logic. Forked by bench/flows-floor.ts; never part of the product.
//
//   master  node:http; a POST /stats/flowentry/add body (one Ryu entry or an array of them) is
//           JSON.parse'd, each entry made into a FLOW_MOD with the codec's builders (no checks at
//           all; the cookie read as a JS number, so inexact above 2^53), sent with one barrier
//           through our SwitchRegistry (dist/) with the other requests read in the same turn of the
//           event loop, under one barrier; once it is back, the turn's FLOW_MOD bytes (or, with
//           --delta json, its request bodies) are published as one "delta", and the 200s go out
//           when every slave acked it. GET /lags:
//           the mirror lag of each flow since the last GET (publication to the last slave's ack).
//   slave   consumes the deltas; keeps every FLOW_MOD's bytes in a Map under `table/priority/match
//           bytes` (json: every entry under `table/priority/JSON of the match`); acks to the master.
// No tables with flow-mod semantics, no versions, no validation, no canonical forms, no
// tombstones, no timeouts, no coalescing of requests: whatever flowkeeper does costs more.
import {createServer, type ServerResponse} from 'node:http'
import {connect} from 'amqplib'
import {loadDist} from './raw-rate.js'

type Role = 'master' | 'slave'
const [role, amqpUrl, exchange, slavesText, deltaFormat] = process.argv.slice(2) as [Role, string, string, string, 'binary' | 'json']
const TIMEOUT_MS = 300_000

interface RyuEntry {
  dpid: number
  cookie: number
  table_id: number
  priority: number
  flags: number
  match: Record<string, number | string>
  actions: Array<{type: string, port: number, max_len: number}>
}

const model = await connect(amqpUrl, {noDelay: true})
const channel = await model.createChannel()
await channel.assertExchange(exchange, 'fanout', {durable: false, autoDelete: true})
const {queue} = await channel.assertQueue('', {exclusive: true, durable: false, autoDelete: true})
if (role === 'slave') await runSlave()
else await runMaster(Number(slavesText))

async function runSlave(): Promise<void> {
  await channel.bindQueue(queue, exchange, '')
  const table = new Map<string, RyuEntry>()
  const binaryTable = new Map<string, Buffer>()
  await channel.consume(queue, (m) => {
    if (!m) return
    if (deltaFormat === 'binary') {
      // The FLOW_MODs as sent to the switch, back to back: each kept under table/priority/match bytes.
      const bytes = m.content
      for (let off = 0; off + 56 <= bytes.length;) {
        const length = bytes.readUInt16BE(off + 2)
        const matchLength = bytes.readUInt16BE(off + 50)
        binaryTable.set(`${bytes[off + 24]}/${bytes.readUInt16BE(off + 30)}/${bytes.toString('latin1', off + 52, off + 48 + matchLength)}`, bytes.subarray(off, off + length))
        off += length
      }
    } else {
      // One delta: the request bodies of one turn, each an entry or an array of entries.
      const bodies = JSON.parse(m.content.toString('utf8')) as Array<RyuEntry | RyuEntry[]>
      for (const e of bodies.flat()) table.set(`${e.table_id}/${e.priority}/${JSON.stringify(e.match)}`, e)
    }
    channel.sendToQueue(m.properties.replyTo as string, Buffer.from(m.properties.correlationId as string))
  }, {noAck: true, exclusive: true})
  process.send!({cmd: 'ready'})
}

async function runMaster(slaves: number): Promise<void> {
  const {codec, registry: registryModule} = await loadDist()
  const registry = await registryModule.SwitchRegistry.listen({host: '127.0.0.1', port: 0, connection: {requestTimeoutMs: TIMEOUT_MS}})
  await registry.setDesiredRole('master', 1n)
  const connected = new Set<bigint>()
  registry.on('switch-connected', (info) => {
    if (info.role === 'master') connected.add(info.datapathId)
  })
  registry.on('switch-disconnected', (info) => connected.delete(info.datapathId))

  let seq = 0
  const waiting = new Map<string, {left: number, done: () => void, publishedAt: number, flows: number}>()
  /** Mirror lag samples, as bench/flows counts them: per flow, from the delta's publication to the last slave's ack. */
  let lags: number[] = []
  await channel.consume(queue, (m) => {
    const w = m && waiting.get(m.content.toString('utf8'))
    if (!w || --w.left > 0) return
    const lag = performance.now() - w.publishedAt
    for (let i = 0; i < w.flows; i++) lags.push(lag)
    w.done()
  }, {noAck: true, exclusive: true})

  // The requests read in one turn of the event loop go to the switch with one barrier and to the
  // slaves as one delta, as flowkeeper coalesces them (one barrier per request would be no floor).
  type Pending = {text: string, entries: RyuEntry[], batch: boolean, res: ServerResponse}
  let pending: Pending[] = []
  const flush = async (turn: Pending[]) => {
    const entries = turn.flatMap((r) => r.entries)
    const messages = entries.map((e) => codec.flowMod({
      cookie: BigInt(e.cookie), tableId: e.table_id, priority: e.priority, flags: e.flags, match: codec.match(e.match),
      instructions: [codec.applyActions(...e.actions.map((a) => codec.output(a.port, a.max_len)))],
    }))
    // Encoded once: the connection sends these bytes, and the binary delta is made of them.
    const encoded = deltaFormat === 'binary' ? messages.map((fm) => codec.preEncode(fm)) : undefined
    const results = await registry.sendModifications(BigInt(entries[0]!.dpid), messages, {timeoutMs: TIMEOUT_MS})
    if (results.some(Boolean)) throw new Error('the switch refused a flow-mod')
    const id = String(++seq)
    const delta = encoded ? Buffer.concat(encoded) : Buffer.from(`[${turn.map((r) => r.text).join(',')}]`)
    await new Promise<void>((done) => {
      waiting.set(id, {left: slaves, done, publishedAt: performance.now(), flows: entries.length})
      channel.publish(exchange, '', delta, {correlationId: id, replyTo: queue})
    })
    waiting.delete(id)
    for (const r of turn) r.res.end(r.batch ? `{"results":[${new Array<string>(r.entries.length).fill('{"status":200}').join(',')}]}` : '{}')
  }
  const handle = (body: Buffer, res: ServerResponse) => {
    const text = body.toString('utf8')
    const parsed = JSON.parse(text) as RyuEntry | RyuEntry[]
    if (pending.length === 0) {
      setImmediate(() => {
        const turn = pending
        pending = []
        flush(turn).catch((error: unknown) => {
          for (const r of turn) {
            r.res.statusCode = 500
            r.res.end(String(error))
          }
        })
      })
    }
    pending.push({text, entries: Array.isArray(parsed) ? parsed : [parsed], batch: Array.isArray(parsed), res})
  }

  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/switches') {
      res.end(JSON.stringify([...connected].map(String)))
      return
    }
    if (req.method === 'GET' && req.url === '/lags') {
      res.end(JSON.stringify(lags))
      lags = []
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/stats/flowentry/add') {
        res.statusCode = 404
        res.end()
        return
      }
      handle(Buffer.concat(chunks), res)
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  process.send!({cmd: 'ready', http: typeof address === 'object' && address ? address.port : 0, of: registry.port})
}
