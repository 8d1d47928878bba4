// The election's timing: named profiles, overrides, and the validation that keeps them safe.
//
// How the numbers work together (I = keepAliveIntervalMs, D = timeoutCheckDelayMs,
// M = missTolerance, F = selfFenceMs):
// - Every instance sends a keep-alive every I, and D after each of its own keep-alives runs a check
//   that takes one token from every peer's bucket. A keep-alive refills the sender's bucket to M.
//   A peer is declared dead at a check that finds its bucket empty, and never before it has been
//   silent for minDetectionMs = M × I + D / 2 (measured from the last keep-alive we processed).
//   Finds realign everyone's keep-alives, so checks normally land D after the peers' keep-alives
//   arrive: a dead peer is found D + M × I after its last keep-alive, give or take one interval.
// - An instance stays alive in its peers' eyes as long as the gap between two of its keep-alives, as
//   the peers receive them, stays under minDetectionMs: that is the event-loop stall (plus delivery
//   jitter) it can ride out, minDetectionMs − I.
// - Self-fencing: each own keep-alive must come back from the broker within F. Since the keep-alive
//   after the last one that came back leaves at most I later, an instance cut from the broker steps
//   down at most I + F after the last keep-alive its peers got, which validateTiming requires to be
//   less than minDetectionMs: the peers cannot have elected a successor yet.
import {SettingsError} from './errors.js'

export {SettingsError} from './errors.js'

export interface ElectionTiming {
  /** Time between two keep-alives of this instance. */
  keepAliveIntervalMs: number
  /** The token check runs this long after each own keep-alive (reference: half the interval). */
  timeoutCheckDelayMs: number
  /** Tokens a keep-alive refills: checks a peer may miss before it is declared dead (reference: 1). */
  missTolerance: number
  /** How long a starting (or rejoining) instance listens before choosing its role. */
  initMs: number
  /** Our own keep-alive must come back from the broker within this, or we are cut off and step down. */
  selfFenceMs: number
}

/**
 * The reference algorithm's timing (1 s / 0.5 s / 1 miss, INIT = TIMEOUT_INTERVAL = 0.5 s). A crash
 * is detected 0.5–1.5 s after the last keep-alive. With a single token it relies on the find-aligned
 * phases: a keep-alive arriving more than D late is a miss, so it tolerates little jitter.
 */
const reference: ElectionTiming = Object.freeze({
  keepAliveIntervalMs: 1000,
  timeoutCheckDelayMs: 500,
  missTolerance: 1,
  initMs: 500,
  // Not in the reference. 200 ms is far above a broker round trip (about a millisecond on a LAN), so
  // it never fires while the broker answers: the reference's behaviour is unchanged. It is the
  // largest round number the safety rule allows: I + F (1200) < minDetectionMs (1250).
  selfFenceMs: 200,
})

/**
 * The default: fast failover on a LAN broker, and no failover for a 250 ms event-loop stall.
 * minDetectionMs = 5 × 80 + 20 = 420 ms.
 * - A hung (SIGSTOPped) master is declared dead 340–480 ms after it stopped (420–440 ms after its last
 *   keep-alive with aligned phases); the successor promotes at that same check. A crashed process is
 *   usually gone sooner: RabbitMQ reports its queue deleted within milliseconds.
 * - An instance whose event loop is blocked for 250 ms goes silent for at most 80 + 250 = 330 ms,
 *   under the 420 ms after which peers may expire it: 90 ms are left for delivery jitter. The blocked
 *   instance judges nobody while it catches up (see Election.tick), so it expires no one either.
 */
const fast: ElectionTiming = Object.freeze({
  // 12.5 keep-alives a second per instance: trivial for RabbitMQ (each is ~150 bytes). Halving it
  // would double the traffic for ~40 ms faster detection; raising it slows detection by M per ms.
  keepAliveIntervalMs: 80,
  // Checks half-way between keep-alives, as the reference does: peers' keep-alives (sent at the same
  // phase, thanks to find) have 40 ms to arrive before they are counted as missed.
  timeoutCheckDelayMs: 40,
  // Five tokens: detection after 400–480 ms of silence. Each token more tolerates 80 ms more of stall
  // or jitter and costs 80 ms of failover time.
  missTolerance: 5,
  // A joining instance waits 400 ms for answers to its find: long enough for a peer that is itself
  // stalled for 250 ms to answer. Shorter starts a lone instance faster but risks a newcomer choosing
  // its role before a stalled master answered.
  initMs: 400,
  // The broker must echo our keep-alive within 200 ms, a hundred times a LAN round trip. Raising it
  // tolerates a slower broker but I + F must stay under 420 ms (here 280: 140 ms of margin for our
  // own timer lateness). Lowering it fences sooner, and falsely when the broker is briefly slow.
  selfFenceMs: 200,
})

export const PROFILES = Object.freeze({reference, fast}) satisfies Readonly<Record<string, ElectionTiming>>
export type ProfileName = keyof typeof PROFILES
export const DEFAULT_PROFILE: ProfileName = 'fast'

/** No peer is declared dead sooner than this after we processed its last keep-alive. */
export function minDetectionMs(t: ElectionTiming): number {
  return t.missTolerance * t.keepAliveIntervalMs + t.timeoutCheckDelayMs / 2
}

/**
 * Latest a running instance declares a silent peer dead, after it processed its last keep-alive: the
 * (M+1)-th check after it, or the first check once minDetectionMs has passed. Two checks are less than
 * I + D apart (a find can move a check by up to D), exactly I apart when no find comes in between.
 */
export function maxDetectionMs(t: ElectionTiming, opts: {findsInBetween?: boolean} = {}): number {
  const gap = t.keepAliveIntervalMs + (opts.findsInBetween === false ? 0 : t.timeoutCheckDelayMs)
  return Math.max((t.missTolerance + 1) * gap, minDetectionMs(t) + gap)
}

/** Whether `name` is one of PROFILES. */
export function isProfileName(name: string): name is ProfileName {
  return Object.prototype.hasOwnProperty.call(PROFILES, name)
}

/** A profile with single settings overridden (undefined means "keep the profile's"), validated. */
export function resolveTiming(profileName: string = DEFAULT_PROFILE, overrides: Partial<ElectionTiming> = {}): ElectionTiming {
  if (!isProfileName(profileName)) {
    throw new SettingsError([{
      setting: 'profile',
      message: `profile (${JSON.stringify(profileName)}) is not a timing profile: use one of ${Object.keys(PROFILES).join(', ')}`,
    }])
  }
  const timing: ElectionTiming = {...PROFILES[profileName]}
  for (const key of Object.keys(timing) as Array<keyof ElectionTiming>) {
    const value = overrides[key]
    if (value !== undefined) timing[key] = value
  }
  return validateTiming(timing)
}

interface Range { min: number, max: number, why: string }

const RANGES: Record<keyof ElectionTiming, Range> = {
  keepAliveIntervalMs: {min: 10, max: 60_000, why: 'below 10 ms timer jitter is as large as the interval; above a minute failover takes minutes'},
  timeoutCheckDelayMs: {min: 1, max: 60_000, why: 'the check runs between two own keep-alives'},
  missTolerance: {min: 1, max: 1000, why: 'at least one token, and a thousand intervals is already more than anyone waits'},
  initMs: {min: 1, max: 600_000, why: 'a starting instance must listen for some time, and not for more than ten minutes'},
  selfFenceMs: {min: 10, max: 600_000, why: 'a broker round trip takes more than a few milliseconds'},
}

/**
 * Returns `t` when every setting is a whole number in range and the settings together are safe;
 * otherwise throws a SettingsError naming every problem, the values involved and how to fix it.
 */
export function validateTiming(t: ElectionTiming): ElectionTiming {
  const problems: Array<{setting: string, message: string}> = []
  for (const key of Object.keys(RANGES) as Array<keyof ElectionTiming>) {
    const value: unknown = (t as unknown as Record<string, unknown>)[key]
    const {min, max, why} = RANGES[key]
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      problems.push({setting: key, message: `${key} (${String(value)}) must be a whole number${key === 'missTolerance' ? '' : ' of milliseconds'}`})
    } else if (value < min || value > max) {
      problems.push({setting: key, message: `${key} (${value}) must be between ${min} and ${max}: ${why}`})
    }
  }
  if (problems.length > 0) throw new SettingsError(problems)

  const {keepAliveIntervalMs: I, timeoutCheckDelayMs: D, missTolerance: M, selfFenceMs: F} = t
  if (D >= I) {
    problems.push({
      setting: 'timeoutCheckDelayMs',
      message: `timeoutCheckDelayMs (${D}) must be less than keepAliveIntervalMs (${I}): the check runs between two own keep-alives; ` +
        'lower timeoutCheckDelayMs (half the interval is usual) or raise keepAliveIntervalMs',
    })
  }
  const floor = minDetectionMs(t)
  if (F + I >= floor) {
    problems.push({
      setting: 'selfFenceMs',
      message: `selfFenceMs (${F}) + keepAliveIntervalMs (${I}) must be less than the peers' detection time ` +
        `missTolerance × keepAliveIntervalMs + timeoutCheckDelayMs / 2 (${M} × ${I} + ${D} / 2 = ${floor}): ` +
        'a master cut from the broker would still hold its role when its peers elect a successor; ' +
        `lower selfFenceMs (below ${floor - I}) or raise missTolerance`,
    })
  }
  if (problems.length > 0) throw new SettingsError(problems)
  return t
}
