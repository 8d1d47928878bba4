// Watches a domain's keep-alives from the bus without taking part in the election: the view
// behind `flowkeeper status`. It never publishes, so observing cannot disturb the cluster.
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

export class DomainObserver {
  private readonly members = new Map<number, ObservedMember>()
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
      return
    }
    if (message.msg !== 'keep_alive') return
    const known = this.members.get(message.inst_id)
    this.members.set(message.inst_id, {
      instId: message.inst_id,
      role: message.role,
      term: message.term,
      lastSeenMs: this.nowMs(),
      keepAlives: (known?.keepAlives ?? 0) + 1,
    })
  }

  view(): DomainView {
    const members = [...this.members.values()].sort((a, b) => a.instId - b.instId)
    const masters = members.filter((m) => m.role === 'master').sort((a, b) => b.term - a.term)
    return {domain: this.domain, members, master: masters[0], conflictingMasters: masters.length > 1, dropped: this.dropped}
  }
}
