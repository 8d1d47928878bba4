// Switch failover benchmark: three instances (CLI processes) on a private RabbitMQ, B Open vSwitch
// bridges each connected to all three. Each round SIGKILLs the master and measures the time until
// EVERY bridge has accepted the successor as master, then restarts the killed instance (it rejoins
// as a slave on every bridge) before the next round.
//
// What is measured, and from where: the successor logs one `switch_role` line (role master) per
// bridge when that bridge's ROLE_REPLY confirms MASTER, i.e. just after the switch accepted it;
// its `ts` is epoch ms from the successor's own clock, compared with the epoch ms taken here right
// before the SIGKILL (same host, same clock). Polling OVS instead would add the poll period to
// every sample and load the host; the switches are still asked, after each round: every bridge's
// generation_id (ROLE_REQUEST NOCHANGE on its management socket) must be the successor's term.
//
// The time is split into phases, from the successor's log lines:
//   detection  SIGKILL -> peer_expired (the successor learns the master is gone)
//   promotion  peer_expired -> role_change to master (its election decides)
//   assertion  role_change -> last bridge's switch_role master (ROLE_REQUESTs out, replies in)
//
// Usage: npx tsx bench/failover-switches.ts --bridges 4 --rounds 20   (--bridges 4,100 runs both)
// Build first (npm run build): the instances run from dist/.
import {fileURLToPath} from 'node:url'
import {parseArgs} from 'node:util'
import {freePort} from '../src/lab/free-port.js'
import type {InstanceProcess, LogLine} from '../src/lab/instance-process.js'
import {OvsLab} from '../src/lab/ovs.js'
import {startPrivateBroker} from '../src/lab/private-broker.js'
import {epochMs} from '../src/log.js'
import {SwitchCluster, sleep} from '../test/helpers/switch-cluster.js'
import {formatSummary, summarize, type Summary} from './stats.js'

export interface SwitchFailoverOptions {
  bridges: number
  rounds: number
  /** A broker to use; a private one is started (and stopped) when omitted. */
  amqp?: string
  /** An Open vSwitch lab to use; one is started (and stopped) when omitted. */
  lab?: OvsLab
  /** Called after each round with its sample (for progress output). */
  onRound?: (round: number, sample: RoundSample) => void
}

export interface RoundSample {
  /** SIGKILL -> every bridge confirmed MASTER to the successor. */
  totalMs: number
  detectionMs: number
  promotionMs: number
  /** role_change -> the first bridge's confirmation. */
  firstBridgeMs: number
  /** role_change -> the last bridge's confirmation. */
  assertionMs: number
  successor: number
  term: number
}

export type SwitchFailoverResult = Summary & {
  bridges: number
  rounds: number
  source: 'successor switch_role log lines, checked against every bridge\'s generation_id'
  samples: number[]
  phases: {detection: Summary, promotion: Summary, firstBridge: Summary, assertion: Summary}
}

let runCounter = 0
const ROLE_TIMEOUT_MS = 30_000

export async function runSwitchFailover(options: SwitchFailoverOptions): Promise<SwitchFailoverResult> {
  const {bridges, rounds} = options
  const broker = options.amqp ? undefined : await startPrivateBroker(await freePort(), {stopWithThisProcess: true})
  const lab = options.lab ?? await OvsLab.start()
  const n = ++runCounter
  let sc: SwitchCluster | undefined
  const samples: RoundSample[] = []
  try {
    sc = await SwitchCluster.start({
      amqp: options.amqp ?? broker!.url, lab, ids: [1, 2, 3], bridges,
      prefix: `f${n}`, dpidBase: BigInt(n) << 32n, domain: `fsw${process.pid}x${n}`, settleTimeoutMs: 60_000,
    })
    for (let round = 0; round < rounds; round++) {
      // A random phase against the keep-alive schedule, so any timer-driven delay is sampled fairly.
      await sleep(200 + Math.random() * 400)
      const sample = await oneRound(sc)
      samples.push(sample)
      options.onRound?.(round, sample)
    }
  } finally {
    await sc?.stop()
    if (!options.lab) await lab.stop()
    await broker?.stop()
  }
  const totals = samples.map((s) => s.totalMs)
  return {
    ...summarize(totals),
    bridges,
    rounds,
    source: 'successor switch_role log lines, checked against every bridge\'s generation_id',
    samples: totals.map((t) => Math.round(t * 100) / 100),
    phases: {
      detection: summarize(samples.map((s) => s.detectionMs)),
      promotion: summarize(samples.map((s) => s.promotionMs)),
      firstBridge: summarize(samples.map((s) => s.firstBridgeMs)),
      assertion: summarize(samples.map((s) => s.assertionMs)),
    },
  }
}

async function oneRound(sc: SwitchCluster): Promise<RoundSample> {
  const victim = sc.master()
  const successor = sc.successorOf(victim)
  const slot = sc.slots.indexOf(sc.slotOf(victim))
  const killedAt = epochMs()
  victim.signal('SIGKILL')
  const confirmed = await sc.waitForSwitchRoleLines(successor, 'master', killedAt, ROLE_TIMEOUT_MS)
  const promoted = successor.roleChanges.find((c) => c.ts > killedAt && c.to === 'master')
  if (!promoted) throw new Error(`instance ${successor.id} holds MASTER on every bridge but logged no promotion`)
  const expired = successor.lines.find((l) => l.ts > killedAt && l.event === 'peer_expired' && l.peer_id === victim.id)
  const times = [...confirmed.values()].map((l) => l.ts)
  const last = Math.max(...times)
  const first = Math.min(...times)
  await victim.exited

  // The switches' word: every bridge holds the successor's term as its generation_id.
  const generations = await Promise.all(sc.bridges.map((b) => sc.generationId(b)))
  const wrong = sc.bridges.filter((_, i) => generations[i] !== BigInt(promoted.term))
  if (wrong.length > 0) throw new Error(`bridges without the successor's term ${promoted.term}: ${wrong.map((b) => b.name).join(', ')}`)

  // Bring the killed instance back (same ports: the bridges redial it) and let everything settle.
  await sc.spawn(victim.id, slot)
  await sc.waitForSettled(ROLE_TIMEOUT_MS)
  assertNoFailures(successor, killedAt)
  return {
    totalMs: last - killedAt,
    detectionMs: (expired?.ts ?? promoted.ts) - killedAt,
    promotionMs: expired ? promoted.ts - expired.ts : 0,
    firstBridgeMs: first - promoted.ts,
    assertionMs: last - promoted.ts,
    successor: successor.id,
    term: promoted.term,
  }
}

function assertNoFailures(member: InstanceProcess, since: number): void {
  const bad = member.lines.filter((l: LogLine) => l.ts > since && (l.event === 'switch_role_failed' || l.event === 'switch_demoted'))
  if (bad.length > 0) throw new Error(`instance ${member.id} after the failover: ${bad.map((l) => JSON.stringify(l)).join('\n')}`)
}

const GOALS_P99_MS: Record<number, number> = {4: 150, 100: 300}

async function main(): Promise<void> {
  const {values} = parseArgs({
    options: {
      bridges: {type: 'string', default: '4'},
      rounds: {type: 'string', default: process.env.BENCH_ROUNDS ?? '20'},
    },
  })
  const counts = values.bridges!.split(',').map(Number)
  const rounds = Number(values.rounds)
  if (counts.some((c) => !Number.isInteger(c) || c < 1) || !Number.isInteger(rounds) || rounds < 1) {
    throw new Error('usage: failover-switches.ts --bridges N[,M...] --rounds R')
  }
  const broker = await startPrivateBroker(await freePort(), {stopWithThisProcess: true})
  const lab = await OvsLab.start()
  const results: SwitchFailoverResult[] = []
  try {
    process.stdout.write(`switch failover: SIGKILL the master of 3 instances, until every bridge accepted the successor; ${rounds} rounds\n`)
    for (const bridges of counts) {
      const result = await runSwitchFailover({
        bridges, rounds, amqp: broker.url, lab,
        onRound: (round, s) => process.stderr.write(
          `  [${bridges} bridges] round ${round + 1}: ${s.totalMs.toFixed(1)} ms (detection ${s.detectionMs.toFixed(1)}, promotion ${s.promotionMs.toFixed(1)}, ` +
          `assertion ${s.assertionMs.toFixed(1)}) -> ${s.successor} term ${s.term}\n`),
      })
      results.push(result)
      const goal = GOALS_P99_MS[bridges]
      const verdict = goal === undefined ? '' : result.p99 <= goal ? `  (goal p99 <= ${goal} ms: met)` : `  (goal p99 <= ${goal} ms: MISSED)`
      process.stdout.write(`${String(bridges).padStart(4)} bridges  total      ${formatSummary(result)}${verdict}\n`)
      for (const [phase, summary] of Object.entries(result.phases)) {
        process.stdout.write(`${' '.repeat(14)}${phase.padEnd(12)}${formatSummary(summary)}\n`)
      }
    }
  } finally {
    await lab.stop()
    await broker.stop()
  }
  process.stdout.write(`${JSON.stringify({bench: 'failover-switches', results})}\n`)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main()
