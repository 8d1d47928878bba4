/**
 * The identities the cluster deleted, per device, newest kept: a takeover removes such a flow from
 * the switch whatever its policy for unknown flows (a delete that was acknowledged must not come
 * back because the dying master had not yet removed it from the switch). Bounded: the oldest go
 * first. An identity added again is no longer a tombstone.
 */
import { flowKey, type FlowChange } from '../flow-table.js';

export class Tombstones {
  readonly #byDevice = new Map<string, Map<string, true>>();

  /** `max`: how many per device (0: none kept); read at every call, so a runtime change applies. */
  constructor(private readonly max: () => number) {}

  /** Remembers the removals among `changes`, and forgets the identities they add again. */
  record(device: string, changes: readonly FlowChange[]): void {
    const max = this.max();
    if (max === 0 || changes.length === 0) return;
    let m = this.#byDevice.get(device);
    if (!m) this.#byDevice.set(device, (m = new Map()));
    for (const c of changes) {
      if (c.op === 'remove') {
        const key = flowKey(c.entry);
        m.delete(key); // re-inserted as the newest
        m.set(key, true);
        if (m.size > max) m.delete(m.keys().next().value!);
      } else if (m.size > 0) {
        // Nothing to forget in an empty map: a stream of adds costs no lookup.
        m.delete(flowKey(c.entry));
      }
    }
  }

  /** The device's deleted identities (flow keys), oldest first. */
  of(device: string): Iterable<string> {
    return this.#byDevice.get(device)?.keys() ?? [];
  }
}
