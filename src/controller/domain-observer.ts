// Watches a domain's keep-alives from the bus without taking part in the election: the view
// behind `flowkeeper status`. It never publishes, so observing cannot disturb the cluster. When the
// bus cannot be reached, viewFromReports builds the same view from what instances' REST APIs say.
import {discoverRoutingKey, parseElectionMessage, type ElectionMessage} from '../election/messages.js'
import type {Bus} from '../bus/types.js'

export interface ObservedMember {
  instId: number
  role: string
  term: number
  lastSeenMs: number
  keepAlives: number
}

export interface DomainView {
  domain: string
  members: ObservedMember[]
  /** The master with the highest term, if any member claims to be master. */
  master: ObservedMember | undefined
  /** More than one member claims master: a transient state the election resolves. */
  conflictingMasters: boolean
  dropped: number
}

/**
 * How many of the slowest member's keep-alive intervals must pass with no new member before the
 * view is taken as complete: instances of one domain keep alive at the same interval, so every
 * live one has been heard by then.
 */
export const SETTLE_INTERVALS = 3
/** ...and never less than this: a burst of keep-alives (one more at a role change) makes an interval look short. */
export const SETTLE_MIN_MS = 300

export class DomainObserver {
  private readonly members = new Map<number, ObservedMember>()
  /** When each member was first heard (for its keep-alive interval). */
  private readonly firstSeenMs = new Map<number, number>()
  private lastNewMemberMs: number | undefined
  private dropped = 0

  constructor(private readonly bus: Bus, readonly domain: string, private readonly nowMs = () => Date.now()) {}

  /** Subscribes; call before bus.start(). */
  attach(): void {
    this.bus.subscribe(discoverRoutingKey(this.domain), (body) => {
      const parsed = parseElectionMessage(body, this.domain)
      if (parsed.ok) this.observe(parsed.message)
      else this.dropped++
    })
  }

  observe(message: ElectionMessage): void {
    if (message.msg === 'leave') {
      this.members.delete(message.inst_id)
      this.firstSeenMs.delete(message.inst_id)
      return
    }
    if (message.msg !== 'keep_alive') return
    const known = this.members.get(message.inst_id)
    if (!known) {
      this.firstSeenMs.set(message.inst_id, this.nowMs())
      this.lastNewMemberMs = this.nowMs()
    }
    this.members.set(message.inst_id, {
      instId: message.inst_id,
      role: message.role,
      term: message.term,
      lastSeenMs: this.nowMs(),
      keepAlives: (known?.keepAlives ?? 0) + 1,
    })
  }

  view(): DomainView {
    return viewOf(this.domain, [...this.members.values()], this.dropped)
  }

  /**
   * Whether listening longer would hardly change the view: every member seen has sent two
   * keep-alives at least (so its interval is known), and none appeared for SETTLE_INTERVALS of the
   * slowest interval (SETTLE_MIN_MS at least). Never with no member: an empty domain is only known after the whole listen.
   */
  settled(): boolean {
    if (this.members.size === 0 || this.lastNewMemberMs === undefined) return false
    let slowest = 0
    for (const m of this.members.values()) {
      if (m.keepAlives < 2) return false
      slowest = Math.max(slowest, (m.lastSeenMs - this.firstSeenMs.get(m.instId)!) / (m.keepAlives - 1))
    }
    return this.nowMs() - this.lastNewMemberMs >= Math.max(SETTLE_MIN_MS, SETTLE_INTERVALS * slowest)
  }
}

/** What an instance's REST API says of its domain (GET /cluster; the fields the view needs). */
export interface ClusterReport {
  domain: string
  members: Array<{inst_id: number, role: string, term: number, self: boolean}>
}

/**
 * The view from what instances report over REST, for when the bus cannot be heard: each instance
 * knows itself for sure and its peers from their last keep-alives, so a member's own report wins
 * over what others say of it, and otherwise the highest term does. `lastSeenMs` is when the report
 * came, and `keepAlives` 0: nothing was heard on the bus. Reports of another domain are left out.
 */
export function viewFromReports(domain: string, reports: readonly ClusterReport[], nowMs: number): DomainView {
  const best = new Map<number, {m: ClusterReport['members'][number], self: boolean}>()
  for (const report of reports) {
    if (report.domain !== domain) continue
    for (const m of report.members) {
      const known = best.get(m.inst_id)
      if (!known || (m.self && !known.self) || (m.self === known.self && m.term > known.m.term)) best.set(m.inst_id, {m, self: m.self})
    }
  }
  return viewOf(domain, [...best.values()].map(({m}) => ({instId: m.inst_id, role: m.role, term: m.term, lastSeenMs: nowMs, keepAlives: 0})), 0)
}

function viewOf(domain: string, unordered: ObservedMember[], dropped: number): DomainView {
  const members = unordered.sort((a, b) => a.instId - b.instId)
  const masters = members.filter((m) => m.role === 'master').sort((a, b) => b.term - a.term)
  return {domain, members, master: masters[0], conflictingMasters: masters.length > 1, dropped}
}
