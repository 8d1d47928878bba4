// Seeded fault schedules for the election simulator, and the invariants every schedule must keep:
// - never two masters holding the same term at the same time (checked on every role change), for
//   distinct inst_ids. Two instances that share an inst_id (restarts reuse live ids on purpose here,
//   to exercise the collision rules) can tie when faults kept them from hearing each other: such
//   ties are counted apart (ScheduleResult.idCollisionTies), and the next invariant ends them;
// - once faults stop, exactly one master, every other instance a slave naming it, within the bound
//   the timing implies (convergenceBoundMs);
// - after that, no role change at all while nothing fails (with 250 ms event-loop stalls in the
//   fast profile: they are not faults there).
import {maxDetectionMs, minDetectionMs, PROFILES, type ElectionTiming, type ProfileName} from '../../src/election/timing.js'
import {BUS_LOST_NOTICE_MAX_MS, QUIET_LINK, RECONNECT_RETRY_MAX_MS, Rng, SWITCH_ANSWER_MAX_MS, SimNetwork, type LinkModel, type SimNode, type Violation} from './sim-network.js'

/** Longest a message sent during the faults may still travel after they stop. */
export const FAULT_MAX_DELAY_MS = 100
/** An event-loop stall the fast profile must ride out. */
export const STALL_MS = 250

export interface NetworkAssumptions {
  /** Messages sent while faults lasted arrive at most this long after they stop. */
  inFlightMs: number
  /** Delivery delay once quiet. */
  delayMs: number
  /** Longest event-loop stall once quiet (a stall may hit any one step). */
  stallMs: number
  /** A client that lost the broker is connected again at most this long after faults stop. */
  reconnectMs: number
  /** A switch answers a role request (refusal or demotion of the previous master) within this. */
  switchMs: number
}

/**
 * How long after the last fault the cluster has settled on one master that everyone names, derived
 * step by step from the timing (I interval, D check delay, F self-fence) and the network:
 * 1. every message sent during the faults has arrived (or never will): inFlightMs;
 * 2. then, in parallel, the longer of
 *    a. an instance still cut off when faults stopped fences at most F after its first lost
 *       keep-alive (sent before the end), sends its next keep-alive within I, gets the echo after a
 *       delivery delay and rejoins (one that lost its connection starts again within reconnectMs);
 *       its init ends within initMs, and a promotion waits for its probe's echo. If it lost every
 *       term while cut, the switch refuses its term (switchMs) and it waits minDetectionMs for a
 *       newer master before promoting again;
 *    b. every live instance forgets the dead: maxDetectionMs after their last keep-alive;
 * 3. the lowest live id, now free to promote, does so at its next check (checks are less than I + D
 *    apart) once its probe came back, and its announcement reaches everyone after a delivery delay.
 * A stall can delay each step by its length; a deferred judgment adds 1 ms.
 */
export function convergenceBoundMs(t: ElectionTiming, net: NetworkAssumptions): number {
  const I = t.keepAliveIntervalMs
  const {stallMs: stall, delayMs: delay} = net
  const rejoin = Math.max(t.selfFenceMs + I + delay, net.reconnectMs) + stall + 1
  const init = t.initMs + stall + 1 + delay
  const refused = net.switchMs + minDetectionMs(t) + stall
  const forget = maxDetectionMs(t) + stall
  const promote = I + t.timeoutCheckDelayMs + stall + delay + delay
  return net.inFlightMs + Math.max(rejoin + init + refused, forget) + promote
}

export interface ScheduleOptions {
  trace?: boolean
}

export interface ScheduleResult {
  seed: number
  profile: ProfileName
  ok: boolean
  violations: Violation[]
  /** When the faults stopped. */
  quietFromMs: number
  boundMs: number
  /** Time from the end of the faults to the last role change (0 when none was needed). */
  convergenceMs: number
  /** Same-term masters sharing an inst_id, during the faults (see SimNetwork.checkTerms). */
  idCollisionTies: Violation[]
  faults: string[]
  trace: string[]
}

/** Runs schedule `seed` on `profile`: random faults, then quiet, then the checks. */
export function runSchedule(seed: number, profile: ProfileName, options: ScheduleOptions = {}): ScheduleResult {
  const timing = PROFILES[profile]
  const rng = new Rng(seed ^ 0x9e3779b9)
  const unitMs = minDetectionMs(timing) // fault durations scale with the detection time
  const chaos: LinkModel = rng.chance(0.5)
    ? {minDelayMs: 1, maxDelayMs: FAULT_MAX_DELAY_MS, dropP: 0.03, duplicateP: 0.03}
    : {...QUIET_LINK, maxDelayMs: FAULT_MAX_DELAY_MS}
  const sim = new SimNetwork({timing, seed, trace: options.trace, link: chaos, queueDeletedEvents: rng.chance(0.7)})
  const faults: string[] = []
  const note = (what: string) => {
    faults.push(`${sim.nowMs.toFixed(0)} ms: ${what}`)
    sim.trace(undefined, `FAULT ${what}`)
  }

  // Cluster: 2 to 5 instances with distinct small ids, started within 200 ms of each other.
  const count = rng.int(2, 5)
  const ids = new Set<number>()
  while (ids.size < count) ids.add(rng.int(1, 9))
  for (const id of ids) sim.addNode(id, rng.int(0, 200))

  const faultsEndMs = Math.round(rng.int(2, 6) * unitMs)
  const heartbeatMs = 3 * unitMs // the broker drops a silent client after this
  const live = () => sim.nodes.filter((n) => n.alive)
  const target = (): SimNode | undefined => {
    const nodes = live()
    if (nodes.length === 0) return undefined
    const master = nodes.find((n) => n.election.role === 'master')
    return master && rng.chance(0.5) ? master : rng.pick(nodes)
  }
  const restartLater = (oldId: number) => {
    const at = Math.min(faultsEndMs, sim.nowMs + rng.int(Math.round(0.1 * unitMs), 2 * unitMs))
    sim.at(at, () => {
      const others = live()
      const roll = rng.next()
      // A fresh random id (which may collide), the id of a live instance (a forced collision), or its old id.
      const id = roll < 0.6 || others.length === 0 ? rng.int(1, 10000) : roll < 0.85 ? rng.pick(others).election.instId : oldId
      note(`restart with id ${id}`)
      sim.addNode(id)
    })
  }

  const faultCount = rng.int(0, 6)
  for (let i = 0; i < faultCount; i++) {
    const at = rng.int(0, faultsEndMs - 1)
    const kind = rng.next()
    sim.at(at, () => {
      const node = target()
      if (!node) return
      const name = `node ${node.index} (id ${node.election.instId}, ${node.election.role})`
      if (kind < 0.2) {
        note(`crash ${name}`)
        sim.crash(node)
        if (rng.chance(0.6)) restartLater(node.election.instId)
      } else if (kind < 0.3) {
        note(`stop ${name}`)
        sim.stop(node)
        if (rng.chance(0.5)) restartLater(node.election.instId)
      } else if (kind < 0.45) {
        const ms = Math.min(rng.int(Math.round(0.3 * unitMs), 3 * unitMs), faultsEndMs - sim.nowMs)
        note(`hang ${name} for ${ms} ms`)
        sim.freeze(node, ms)
      } else if (kind < 0.55) {
        note(`stall ${name} for ${STALL_MS} ms`)
        sim.freeze(node, STALL_MS)
      } else if (kind < 0.8) {
        const group = [node, ...live().filter((n) => n !== node && rng.chance(0.3))].slice(0, Math.max(1, live().length - 1))
        const mode = rng.chance(0.5) ? 'silent' : 'bus_lost'
        const ms = Math.min(rng.int(Math.round(0.2 * unitMs), 3 * unitMs), faultsEndMs - sim.nowMs)
        note(`cut nodes ${group.map((n) => n.index).join(',')} from the broker (${mode}) for ${ms} ms`)
        for (const member of group) {
          sim.cutFromBroker(member, mode)
          if (mode === 'silent' && ms > heartbeatMs) sim.at(sim.nowMs + heartbeatMs, () => { if (member.cut) sim.brokerDropsConnection(member) })
          sim.at(sim.nowMs + ms, () => sim.heal(member))
        }
      } else {
        const others = live().filter((n) => n !== node)
        if (others.length === 0) return
        const id = rng.pick(others).election.instId
        note(`crash ${name} and restart it with the id ${id} of a live instance`)
        sim.crash(node)
        sim.addNode(id, sim.nowMs + rng.int(0, 50))
      }
    })
  }

  sim.runUntil(faultsEndMs)
  // Faults stop: links are quiet, every cut heals, and at least one instance lives.
  sim.link = QUIET_LINK
  for (const node of sim.nodes) sim.heal(node)
  if (live().length === 0) {
    note('restart one instance (all were gone)')
    sim.addNode(rng.int(1, 10000))
  }
  const stalls = profile === 'fast' && rng.chance(0.5)
  if (stalls) {
    // Every instance stalls for 250 ms once a second, at its own phase: not a fault for this profile.
    for (const node of sim.nodes) {
      const phase = rng.int(0, 999)
      for (let t = faultsEndMs + phase; t < faultsEndMs + 20_000; t += 1000) sim.at(t, () => sim.freeze(node, STALL_MS))
    }
  }

  const boundMs = convergenceBoundMs(timing, {
    inFlightMs: FAULT_MAX_DELAY_MS, delayMs: QUIET_LINK.maxDelayMs, stallMs: stalls ? STALL_MS : 0,
    reconnectMs: BUS_LOST_NOTICE_MAX_MS + RECONNECT_RETRY_MAX_MS, switchMs: SWITCH_ANSWER_MAX_MS,
  })
  const settledAtMs = faultsEndMs + boundMs
  sim.runUntil(settledAtMs)
  const agreed = sim.agreement()
  if (!agreed.ok) sim.violations.push({atMs: settledAtMs, what: `no single agreed master ${Math.round(boundMs)} ms after the faults stopped: ${agreed.why}`})
  const quietEndMs = settledAtMs + 8 * unitMs
  sim.runUntil(quietEndMs)
  for (const change of sim.roleChanges) {
    if (change.atMs > settledAtMs) {
      sim.violations.push({atMs: change.atMs, what: `role change while quiet: node ${change.node} ${change.from} -> ${change.to} (${change.reason})`})
    }
  }
  const atEnd = sim.agreement()
  if (agreed.ok && !atEnd.ok) sim.violations.push({atMs: quietEndMs, what: `agreement lost while quiet: ${atEnd.why}`})

  const lastChange = sim.roleChanges.filter((c) => c.atMs > faultsEndMs).at(-1)
  return {
    seed, profile, ok: sim.violations.length === 0, violations: sim.violations,
    quietFromMs: faultsEndMs, boundMs, convergenceMs: lastChange ? lastChange.atMs - faultsEndMs : 0,
    idCollisionTies: sim.idCollisionTies,
    faults, trace: sim.traceLines,
  }
}
