// Our own keep-alives come back to us through the broker (we are bound to the routing key we publish
// on). Their echo is the only proof that the broker still carries what we send: an instance whose
// keep-alive has not come back within selfFenceMs is cut off and must hold no role.
//
// Each keep-alive carries a sequence number (seq) that only we read. The bus delivers a sender's
// messages in order and at most once, so when keep-alive n comes back, every earlier one has either
// come back already or was lost: they are no longer outstanding. An echo without seq (never sent by
// us, but tolerated) is matched to the oldest outstanding keep-alive, which errs towards "stale".

/** Outstanding keep-alives remembered at most; beyond that (cut off for a long time) newer ones are not. */
const MAX_PENDING = 1024

export class SelfEcho {
  /** Keep-alives sent and not yet echoed, oldest first. */
  private pending: Array<{seq: number, sentMs: number}> = []
  private echoSeen = false
  private nextSeq = 0
  /** Send time of the newest keep-alive that came back. */
  private lastEchoedSentMs = -Infinity

  constructor(private readonly selfFenceMs: number) {}

  /** Forget what is outstanding (a new connection, or a rejoin). Numbers keep counting up. */
  reset(): void {
    this.pending = []
    this.echoSeen = false
    this.lastEchoedSentMs = -Infinity
  }

  /** A keep-alive is sent now; returns the seq to put in it. */
  sent(nowMs: number): number {
    const seq = this.nextSeq++
    if (this.pending.length < MAX_PENDING) this.pending.push({seq, sentMs: nowMs})
    return seq
  }

  /** An own keep-alive came back. Returns false when it was not outstanding (a duplicate, or from before a reset). */
  echoed(seq: number | undefined): boolean {
    const index = seq === undefined ? 0 : this.pending.findIndex((p) => p.seq === seq)
    if (index < 0 || this.pending.length === 0) return false
    this.lastEchoedSentMs = Math.max(this.lastEchoedSentMs, this.pending[index].sentMs)
    this.pending.splice(0, index + 1)
    this.echoSeen = true
    return true
  }

  /** When we count as cut off unless an echo comes first: selfFenceMs after the oldest outstanding send. */
  staleAtMs(): number | undefined {
    return this.pending.length === 0 ? undefined : this.pending[0].sentMs + this.selfFenceMs
  }

  /** An echo came back since the last reset, and no keep-alive is overdue: not cut off (yet). */
  isFresh(nowMs: number): boolean {
    const staleAt = this.staleAtMs()
    return this.echoSeen && (staleAt === undefined || nowMs < staleAt)
  }

  /** Whether a keep-alive sent at or after `sentMs` has come back. */
  confirmedSince(sentMs: number): boolean {
    return this.lastEchoedSentMs >= sentMs
  }
}
