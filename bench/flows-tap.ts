// A tap on the flow data bus for the flow benchmarks, in a process of its own (so that the load
// generator's event loop does not delay what it timestamps): an exclusive queue bound to the
// domain's flow keys on the instances' topic exchange, stamping every message with the epoch ms at
// which it arrived. What it sees, per key (src/flows/service/wire.ts, src/northbound/flow-rpc.ts):
//   c.D.flows.backup         flow-delta: the master applied a switch-confirmed change (it publishes
//                            right after the barrier reply, before it waits for acks);
//   c.D.flows.inst.N         flow-ack from a slave to master N: the slave's mirror applied up to
//                            `version` (acks are sent in the microtask after the apply);
//                            snapshots / snapshot parts from the master to slave N;
//   c.D.flows.rpc.req.N      a request a slave forwarded to master N (id);
//   c.D.flows.rpc.reply.X    the master's answer to it (same id).
// Plus a probe it sends to itself every 20 ms: one publish→deliver hop through the broker under the
// current load, which is how much an arrival stamp lags the publish it records.
//
// Mirror lag from these stamps: ack(slave, >= v) - delta(v). Both arrivals come over the same
// broker to the same queue; the delta reaches the slave when it reaches the tap (one fan-out), so
// the difference is the slave's receive+parse+apply+ack plus ONE extra hop (the ack's trip to the
// tap). It over-estimates the apply time by about one probe hop; the report gives both.
import {fork, type ChildProcess} from 'node:child_process'
import {fileURLToPath} from 'node:url'

export interface TapRecords {
  /** [arrivedAt, term, version] per flow-delta. */
  deltas: Array<[number, number, number]>
  /** [arrivedAt, fromInstance, term, version, toInstance] per flow-ack. */
  acks: Array<[number, number, number, number, number]>
  /** [arrivedAt, id, toInstance] per forwarded request. */
  rpcRequests: Array<[number, string, number]>
  /** [arrivedAt, id, version] per reply (version -1: an error reply). */
  rpcReplies: Array<[number, string, number]>
  /** [arrivedAt, routingKey, bytes] per snapshot or snapshot part. */
  snapshots: Array<[number, string, number]>
  /** Probe hops, ms. */
  probeMs: number[]
  /** Messages of other types (snapshot requests...), by type. */
  other: Record<string, number>
}

export function emptyRecords(): TapRecords {
  return {deltas: [], acks: [], rpcRequests: [], rpcReplies: [], snapshots: [], probeMs: [], other: {}}
}

const SELF = fileURLToPath(import.meta.url)
const EXCHANGE = 'SDN_Bridge' // src/bus/types.ts DEFAULT_EXCHANGE; declared the same way here

/** The parent's handle on a tap process. */
export class BusTap {
  private seq = 0
  private readonly waiting = new Map<number, (r: TapRecords) => void>()

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: {cmd: string, seq: number, records: TapRecords}) => {
      if (m.cmd !== 'records') return
      this.waiting.get(m.seq)?.(m.records)
      this.waiting.delete(m.seq)
    })
  }

  static start(amqpUrl: string, domain: string, timeoutMs = 15_000): Promise<BusTap> {
    const child = fork(SELF, ['--tap', amqpUrl, domain], {execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc']})
    process.on('exit', () => child.kill('SIGKILL'))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bus tap not ready within ${timeoutMs} ms`)), timeoutMs)
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`bus tap exited (${code}) before it was ready`))
      })
      child.on('message', (m: {cmd: string}) => {
        if (m.cmd !== 'ready') return
        clearTimeout(timer)
        resolve(new BusTap(child))
      })
    })
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  /** What it recorded since the last take(), after `settleMs` more for the last messages to land. */
  async take(settleMs = 200): Promise<TapRecords> {
    await new Promise((r) => setTimeout(r, settleMs))
    const seq = ++this.seq
    return new Promise((resolve) => {
      this.waiting.set(seq, resolve)
      this.child.send({cmd: 'take', seq})
    })
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return
    const exited = new Promise((r) => this.child.once('exit', r))
    this.child.kill('SIGTERM')
    await exited
  }
}

// ---- the tap process ----

async function runTap(url: string, domain: string): Promise<void> {
  const {connect} = await import('amqplib')
  const {epochMs} = await import('../src/log.js')
  const model = await connect(url, {noDelay: true})
  const channel = await model.createChannel()
  await channel.assertExchange(EXCHANGE, 'topic', {durable: false, autoDelete: true})
  const {queue} = await channel.assertQueue('', {exclusive: true, durable: false, autoDelete: true})
  const prefix = `c.${domain}.flows.`
  const probeKey = `c.${domain}.benchtap.${process.pid}`
  for (const pattern of [`${prefix}backup`, `${prefix}inst.*`, `${prefix}rpc.#`, probeKey]) await channel.bindQueue(queue, EXCHANGE, pattern)
  let records = emptyRecords()
  await channel.consume(queue, (msg) => {
    if (!msg) return
    const at = epochMs()
    const key = msg.fields.routingKey
    const content = msg.content
    if (key === probeKey) {
      records.probeMs.push(at - Number(content.toString('utf8')))
      return
    }
    if (content.length > 4096) {
      // Not parsed whole (the tap would fall behind): the fields before the payload say what it is.
      const head = content.subarray(0, 256).toString('utf8')
      const type = /"type":"([a-z-]+)"/.exec(head)?.[1]
      if (type === 'flow-delta') {
        records.deltas.push([at, Number(/"term":(\d+)/.exec(head)?.[1]), Number(/"version":(\d+)/.exec(head)?.[1])])
      } else if (type === 'flow-snapshot' || type === 'flow-snapshot-part') {
        records.snapshots.push([at, key, content.length])
      } else {
        records.other[type ?? 'unknown'] = (records.other[type ?? 'unknown'] ?? 0) + 1
      }
      return
    }
    let o: Record<string, unknown>
    try {
      o = JSON.parse(content.toString('utf8')) as Record<string, unknown>
    } catch {
      return
    }
    const type = String(o.type)
    if (type === 'flow-delta') records.deltas.push([at, Number(o.term), Number(o.version)])
    else if (type === 'flow-ack') records.acks.push([at, Number(o.from), Number(o.term), Number(o.version), Number(key.slice(key.lastIndexOf('.') + 1))])
    else if (type === 'flow-rpc-request') records.rpcRequests.push([at, String(o.id), Number(o.to)])
    else if (type === 'flow-rpc-reply') records.rpcReplies.push([at, String(o.id), Number((o.result as {version?: number} | undefined)?.version ?? -1)])
    else if (type === 'flow-snapshot' || type === 'flow-snapshot-part') records.snapshots.push([at, key, content.length])
    else records.other[type] = (records.other[type] ?? 0) + 1
  }, {noAck: true})
  const probe = setInterval(() => channel.publish(EXCHANGE, probeKey, Buffer.from(String(epochMs()))), 20)
  process.on('message', (m: {cmd: string, seq: number}) => {
    if (m.cmd !== 'take') return
    const out = records
    records = emptyRecords()
    process.send!({cmd: 'records', seq: m.seq, records: out})
  })
  process.on('SIGTERM', () => {
    clearInterval(probe)
    void model.close().finally(() => process.exit(0))
  })
  process.on('disconnect', () => process.exit(0))
  process.send!({cmd: 'ready'})
}

if (process.argv[2] === '--tap' && process.send) {
  runTap(process.argv[3]!, process.argv[4]!).catch((error) => {
    console.error(`bus tap failed: ${(error as Error).message}`)
    process.exit(1)
  })
}
