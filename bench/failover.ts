// Failover benchmark: three instances on a private RabbitMQ; the master is crashed (SIGKILL),
// hung (SIGSTOP) or stopped gracefully (SIGTERM), R rounds each, for the default profile and the
// reference profile in the same run. Failover time = from the signal to the successor's
// role_change timestamp (its own log line, epoch ms). Then a stall scenario: the master is frozen
// for 250 ms every second for 30 s (SIGSTOP/SIGCONT from outside, which is what a blocked event
// loop looks like to everyone else) and every role change is counted as a false failover.
//
// Usage: npm run bench:failover -- [--rounds R] [--stall-seconds S] [--profiles fast,reference]
import {parseArgs} from 'node:util'
import {LocalCluster} from '../src/lab/local-cluster.js'
import type {InstanceProcess} from '../src/lab/instance-process.js'
import {startPrivateBroker} from '../src/lab/private-broker.js'
import {freePort} from '../src/lab/free-port.js'
import {epochMs} from '../src/log.js'
import {summarize, formatSummary} from './stats.js'

type Scenario = 'crash' | 'hang' | 'graceful'
const SIGNALS: Record<Scenario, NodeJS.Signals> = {crash: 'SIGKILL', hang: 'SIGSTOP', graceful: 'SIGTERM'}

const {values} = parseArgs({
  options: {
    rounds: {type: 'string', default: process.env.BENCH_ROUNDS ?? '20'},
    'stall-seconds': {type: 'string', default: '30'},
    profiles: {type: 'string', default: 'fast,reference'},
  },
})
const rounds = Number(values.rounds)
const stallSeconds = Number(values['stall-seconds'])
const profiles = values.profiles!.split(',')

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
let domainCounter = 0

async function failoverRounds(url: string, profile: string, scenario: Scenario): Promise<number[]> {
  const cluster = new LocalCluster(url, `bench${process.pid}x${++domainCounter}`, ['--profile', profile])
  const times: number[] = []
  try {
    for (const id of [1, 2, 3]) cluster.spawn({id})
    let master = await cluster.waitForSingleMaster(30_000)
    for (let round = 0; round < rounds; round++) {
      // A random phase against the keep-alive schedule, so detection delays are sampled fairly.
      await sleep(300 + Math.random() * 1000)
      const victim = master
      const signalledAt = epochMs()
      victim.signal(SIGNALS[scenario])
      const successor = await waitForNewMaster(cluster, victim, 30_000)
      times.push(successor.roleChanges.at(-1)!.ts - signalledAt)
      await victim.kill()
      const back = cluster.spawn({id: victim.id})
      await back.waitForRole('slave', 30_000)
      master = await cluster.waitForSingleMaster(30_000)
    }
  } finally {
    await cluster.killAll()
  }
  return times
}

async function waitForNewMaster(cluster: LocalCluster, old: InstanceProcess, timeoutMs: number): Promise<InstanceProcess> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const successor = cluster.running().find((m) => m !== old && m.role === 'master')
    if (successor) return successor
    if (Date.now() > deadline) throw new Error(`no successor within ${timeoutMs} ms`)
    await sleep(5)
  }
}

interface StallResult {
  falseFailovers: number
  stalls: number
  /** How long the master was really stopped: a loaded machine wakes the benchmark late. */
  stoppedMs: ReturnType<typeof summarize>
  changes: string[]
}

async function stallScenario(url: string, profile: string): Promise<StallResult> {
  const cluster = new LocalCluster(url, `bench${process.pid}x${++domainCounter}`, ['--profile', profile])
  try {
    for (const id of [1, 2, 3]) cluster.spawn({id})
    const master = await cluster.waitForSingleMaster(30_000)
    await sleep(1000)
    const before = cluster.roleChanges().length
    const stopped: number[] = []
    const end = Date.now() + stallSeconds * 1000
    while (Date.now() < end) {
      const stoppedAt = performance.now()
      master.signal('SIGSTOP')
      await sleep(250)
      master.signal('SIGCONT')
      stopped.push(performance.now() - stoppedAt)
      await sleep(750)
    }
    await sleep(1000)
    const changes = cluster.roleChanges().slice(before).map((c) => `${c.inst_id}:${c.from}->${c.to}(${c.reason})`)
    return {falseFailovers: changes.length, stalls: stopped.length, stoppedMs: summarize(stopped), changes}
  } finally {
    await cluster.killAll()
  }
}

async function main(): Promise<void> {
  const broker = await startPrivateBroker(await freePort(), {distPort: await freePort(), stopWithThisProcess: true})
  const results: Record<string, unknown> = {rounds}
  try {
    process.stdout.write(`failover benchmark: ${rounds} rounds per scenario and profile, 3 instances, broker ${broker.url}\n`)
    for (const profile of profiles) {
      for (const scenario of Object.keys(SIGNALS) as Scenario[]) {
        const times = await failoverRounds(broker.url, profile, scenario)
        const summary = summarize(times)
        results[`${profile}.${scenario}`] = summary
        process.stdout.write(`${profile.padEnd(10)} ${scenario.padEnd(9)} ${formatSummary(summary)}\n`)
      }
      if (stallSeconds > 0) {
        const stall = await stallScenario(broker.url, profile)
        results[`${profile}.stall250ms`] = stall
        process.stdout.write(`${profile.padEnd(10)} stall     ${stall.stalls} stalls of 250 ms in ${stallSeconds} s ` +
          `(really stopped: median ${stall.stoppedMs.median} ms, max ${stall.stoppedMs.max} ms): ` +
          `${stall.falseFailovers} role changes (false failovers)${stall.changes.length ? `: ${stall.changes.join(' ')}` : ''}\n`)
      }
    }
  } finally {
    await broker.stop()
  }
  process.stdout.write(`${JSON.stringify({bench: 'failover', ...results})}\n`)
}

await main()
