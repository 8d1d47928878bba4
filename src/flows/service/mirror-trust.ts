/**
 * A slave's judgement of its mirrors: may a takeover take a device's mirror for the truth (re-install
 * what the switch lacks, remove what the mirror does not hold), or must it take the switch for the
 * truth?
 *
 * A mirror is trusted in a term when it got a snapshot of that term listing this instance among the
 * slaves whose acks the master waits for, and nothing since could have made it miss a change: the
 * master then acknowledged no change of that device without this mirror's ack. Trust ends with
 * anything that breaks that chain (a gap in the deltas, a lost bus connection, a stall, a role
 * change, a snapshot that does not list this instance), each with the reason a takeover reports.
 */
import type { Mirror } from '../mirror.js';

export interface TrustVerdict {
  trusted: boolean;
  why: string;
}

export class MirrorTrust {
  /** device → the term in which its mirror is known in sync with that term's master. */
  readonly #trusted = new Map<string, number>();
  /** Why a device's mirror is not trusted (latest reason); #whyAll for the devices not listed. */
  readonly #why = new Map<string, string>();
  #whyAll = 'no snapshot from a master yet';

  /** How many mirrors are trusted now. */
  get size(): number {
    return this.#trusted.size;
  }

  /** Why every mirror was last distrusted at once. */
  get reasonForAll(): string {
    return this.#whyAll;
  }

  /** Whether the mirror of a device is known in sync with the master of the term it follows, and why (not). */
  of(device: string, mirror: Mirror): TrustVerdict {
    const pos = mirror.position(device);
    if (!pos) return { trusted: false, why: 'no mirror of this switch' };
    if (mirror.awaitingSnapshot().includes(device)) return { trusted: false, why: 'a gap in the deltas, not repaired by a snapshot yet' };
    const t = this.#trusted.get(device);
    if (t === undefined) return { trusted: false, why: this.#why.get(device) ?? this.#whyAll };
    if (t !== pos.term) return { trusted: false, why: `no snapshot of term ${pos.term} listing this instance among the master's slaves` };
    return { trusted: true, why: `in sync with the master of term ${t} (snapshot and contiguous deltas, acks awaited from this instance)` };
  }

  /** The mirror of `device` is in sync with the master of `term`. */
  grant(device: string, term: number): void {
    this.#trusted.set(device, term);
    this.#why.delete(device);
  }

  /** No mirror is trusted until its next snapshot. Returns how many were. */
  revokeAll(why: string): number {
    const had = this.#trusted.size;
    this.#trusted.clear();
    this.#why.clear();
    this.#whyAll = why;
    return had;
  }

  /** This device's mirror is not trusted until its next snapshot. Returns whether it was. */
  revoke(device: string, why: string): boolean {
    const had = this.#trusted.delete(device);
    this.#why.set(device, why);
    return had;
  }

  /** Forgets every verdict (a master judges no mirror of its own). */
  clear(): void {
    this.#trusted.clear();
    this.#why.clear();
  }
}
