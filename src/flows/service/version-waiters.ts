/**
 * What waits, per device, for the slaves to confirm a version: requests the switch confirmed,
 * answered once every live slave's mirror has their version. Kept in version order, so that a
 * confirmation up to version v releases a prefix, however many wait. An item answered some other
 * way meanwhile (a timeout, a failure) is not searched for: it leaves when it reaches the front.
 */
export class VersionWaiters<T extends { readonly version: number }> {
  readonly #byDevice = new Map<string, T[]>();

  /** Adds an item for `device`, in version order (a lane's versions only grow: normally at the end). */
  add(device: string, item: T): void {
    let queue = this.#byDevice.get(device);
    if (!queue) this.#byDevice.set(device, (queue = []));
    if (queue.length === 0 || queue[queue.length - 1]!.version <= item.version) {
      queue.push(item);
    } else {
      // Not expected (versions grow), but the order is what releases them: keep it.
      queue.splice(queue.findIndex((w) => w.version > item.version), 0, item);
    }
  }

  /**
   * Removes from the front of the device's queue every item confirmed (version <= `confirmed`) or
   * no longer waiting, and returns those of them still waiting, in version order.
   */
  release(device: string, confirmed: number, waiting: (item: T) => boolean): T[] {
    const queue = this.#byDevice.get(device);
    if (!queue) return [];
    let n = 0;
    while (n < queue.length && (!waiting(queue[n]!) || queue[n]!.version <= confirmed)) n++;
    const removed = queue.splice(0, n);
    if (queue.length === 0) this.#byDevice.delete(device);
    return removed.filter(waiting);
  }

  /** The devices something waits for. */
  devices(): string[] {
    return [...this.#byDevice.keys()];
  }

  clear(): void {
    this.#byDevice.clear();
  }
}
