/**
 * Turns for CPU-heavy work, one holder at a time, an urgent waiter first.
 *
 * Why: at a takeover every switch's flow stats arrive at about the same time. Worked on side by
 * side (each switch's work is sliced to keep the event loop responsive, so the slices interleave)
 * every switch becomes writable only near the end of all of them. In turns, the first switch is
 * writable after its own work, and a switch that writers are waiting for goes before the others.
 */
export class TurnQueue {
  #busy = false;
  readonly #waiting: Array<{urgent: () => boolean; grant: () => void}> = [];

  /** Waits for the turn; resolves with the function that ends it (calling it again does nothing). */
  take(urgent: () => boolean = () => false): Promise<() => void> {
    return new Promise((resolve) => {
      const grant = () => {
        this.#busy = true;
        let ended = false;
        resolve(() => {
          if (ended) return;
          ended = true;
          this.#busy = false;
          this.#next();
        });
      };
      if (this.#busy) this.#waiting.push({urgent, grant});
      else grant();
    });
  }

  /** How many wait for a turn (not counting the holder). */
  get waiting(): number {
    return this.#waiting.length;
  }

  #next(): void {
    if (this.#busy || this.#waiting.length === 0) return;
    // Urgency is asked at the hand-over, not when the waiter queued: writers may have come since.
    const i = Math.max(0, this.#waiting.findIndex((w) => w.urgent()));
    this.#waiting.splice(i, 1)[0]!.grant();
  }
}
