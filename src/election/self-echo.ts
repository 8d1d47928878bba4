// Our own keep-alives come back to us through the broker (we are bound to the routing key we publish
// on). Their echo is the only proof that the broker still carries what we send: an instance whose
// keep-alive has not come back within selfFenceMs is cut off and must hold no role.
//
// Keep-alives carry no sequence number, so echoes are matched to sends in order: the bus delivers a
// sender's messages in order and at most once. When a keep-alive is lost (we were cut off), its
// entry stays, and each later echo is matched to an older send than the one that came back: the
// estimate errs towards "stale", never towards "fresh". Whoever fences resets the tracker when it
// rejoins, which forgets the lost ones.

/** Sends remembered at most; beyond that (only when cut off for a long time) newer sends are not. */
const MAX_PENDING = 1024

export class SelfEcho {
  /** Send times of keep-alives whose echo has not come back, oldest first. */
  private pending: number[] = []
  private echoSeen = false

  constructor(private readonly selfFenceMs: number) {}

  reset(): void {
    this.pending = []
    this.echoSeen = false
  }

  sent(nowMs: number): void {
    if (this.pending.length < MAX_PENDING) this.pending.push(nowMs)
  }

  /** An own keep-alive came back. Returns false when none was outstanding (nothing to match it to). */
  echoed(): boolean {
    if (this.pending.length === 0) return false
    this.pending.shift()
    this.echoSeen = true
    return true
  }

  /** When we count as cut off unless an echo comes first: selfFenceMs after the oldest unanswered send. */
  staleAtMs(): number | undefined {
    return this.pending.length === 0 ? undefined : this.pending[0] + this.selfFenceMs
  }

  /** An echo came back since the last reset, and no keep-alive is overdue. */
  isFresh(nowMs: number): boolean {
    const staleAt = this.staleAtMs()
    return this.echoSeen && (staleAt === undefined || nowMs < staleAt)
  }
}
