// The reference algorithm's failure detector for one peer: a keep-alive refills the bucket, each
// timeout check takes a token, and a check that finds it empty is a miss too many.

export class TokenBucket {
  private count: number

  /** Starts full: the peer has just been heard from. */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity (${capacity}) must be a whole number ≥ 1`)
    this.count = capacity
  }

  get tokens(): number {
    return this.count
  }

  /** A keep-alive arrived. */
  refill(): void {
    this.count = this.capacity
  }

  /** A timeout check: takes a token; returns false when there was none left (the peer missed too many). */
  take(): boolean {
    if (this.count === 0) return false
    this.count--
    return true
  }
}
