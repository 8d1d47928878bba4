/**
 * Numbers the synchronous stretches of code that calls are made in: calls made in one turn of the
 * event loop (before the microtask queue drains) get the same number. For fakes that check a
 * batch was submitted "in one loop".
 */
export class LoopTurns {
  /** Per call of mark(), the stretch it was made in. */
  readonly turns: number[] = []
  private turn = 0
  private open = false

  mark(): void {
    if (!this.open) {
      this.open = true
      queueMicrotask(() => {
        this.turn++
        this.open = false
      })
    }
    this.turns.push(this.turn)
  }
}
