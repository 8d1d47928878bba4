/**
 * A deterministic simulation of flow replication: one master (FlowReplicator), slaves (Mirror),
 * and a network of JSON messages that the test delivers in any order, drops or duplicates. Every
 * message crosses the wire as text and is read back with parseBackupMessage, as on the bus.
 */
import type { FlowModMessage } from '../../src/openflow/codec.js';
import { FlowTable } from '../../src/flows/flow-table.js';
import {
  FlowReplicator, Mirror, encodeBackupMessage, mergeDeltas, parseBackupMessage, type BackupMessage,
} from '../../src/flows/mirror.js';

export const MASTER = 'master';

export interface Packet {
  /** MASTER or a slave id. */
  to: string;
  text: string;
}

export class BackupSim {
  master: FlowReplicator;
  readonly mirrors = new Map<string, Mirror>();
  inFlight: Packet[] = [];
  readonly counts = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, malformed: 0, snapshotsRequested: 0, snapshotsSent: 0 };

  constructor(slaves: string[], term = 1, opts: { maxBufferedDeltas?: number } = {}) {
    this.master = new FlowReplicator({ term });
    for (const s of slaves) this.mirrors.set(s, new Mirror(opts));
    this.master.setSlaves(slaves);
  }

  #send(to: string, m: BackupMessage): void {
    this.counts.sent++;
    this.inFlight.push({ to, text: encodeBackupMessage(m) });
  }

  #broadcast(m: BackupMessage): void {
    for (const s of this.master.slaves()) this.#send(s, m);
  }

  /** The master applies a flow-mod and broadcasts the delta, if any. */
  flowMod(device: string, fm: FlowModMessage): void {
    const r = this.master.apply(device, fm);
    if (r.ok && r.delta) this.#broadcast(r.delta);
  }

  /** The master applies flow-mods in a row and broadcasts their deltas as one message (as a batch goes). */
  flowMods(device: string, fms: FlowModMessage[]): void {
    const deltas = [];
    for (const fm of fms) {
      const r = this.master.apply(device, fm);
      if (r.ok && r.delta) deltas.push(r.delta);
    }
    if (deltas.length > 0) this.#broadcast(mergeDeltas(deltas));
  }

  /** One backup period: the snapshots due. */
  period(): void {
    for (const snap of this.master.dueSnapshots()) {
      this.counts.snapshotsSent++;
      this.#broadcast(snap);
    }
  }

  /** Slaves ask again for the snapshots they still wait for (a request or its answer may have been lost). */
  rerequest(): void {
    for (const [id, mirror] of this.mirrors) {
      for (const d of mirror.awaitingSnapshot()) {
        this.counts.snapshotsRequested++;
        this.#send(MASTER, mirror.snapshotRequest(d, id));
      }
    }
  }

  /** Takes the packet at `pick` (modulo) off the network and delivers, drops, or delivers and keeps a copy. */
  deliver(pick: number, fate: 'deliver' | 'drop' | 'duplicate' = 'deliver'): void {
    if (this.inFlight.length === 0) return;
    const i = pick % this.inFlight.length;
    const p = this.inFlight[i]!;
    if (fate === 'duplicate') this.counts.duplicated++;
    else this.inFlight.splice(i, 1);
    if (fate === 'drop') {
      this.counts.dropped++;
      return;
    }
    this.counts.delivered++;
    this.#receive(p);
  }

  #receive(p: Packet): void {
    const parsed = parseBackupMessage(p.text);
    if (!parsed.ok) {
      this.counts.malformed++;
      return;
    }
    const m = parsed.message;
    if (p.to === MASTER) {
      if (m.type === 'flow-ack') this.master.recordAck(m);
      if (m.type === 'flow-snapshot-request') {
        const snap = this.master.answer(m);
        if (snap && this.master.slaves().includes(m.from)) {
          this.counts.snapshotsSent++;
          this.#send(m.from, snap);
        }
      }
      return;
    }
    const mirror = this.mirrors.get(p.to);
    if (!mirror || (m.type !== 'flow-delta' && m.type !== 'flow-snapshot' && m.type !== 'flow-rebase')) return;
    const out = mirror.receive(m);
    if (out.needSnapshot) {
      this.counts.snapshotsRequested++;
      this.#send(MASTER, mirror.snapshotRequest(m.device, p.to));
    }
    const ack = mirror.ack(m.device, p.to);
    if (ack) this.#send(MASTER, ack);
  }

  /** Delivers everything in order, losslessly, including what the deliveries provoke. */
  flush(limit = 100_000): void {
    for (let n = 0; this.inFlight.length > 0 && n < limit; n++) this.deliver(0);
  }

  /**
   * Lossless rounds (flush, backup period, flush) until every mirror equals the master; returns
   * the number of rounds it took, or -1 if `maxRounds` were not enough.
   */
  quiesce(maxRounds = 5): number {
    for (let round = 0; round <= maxRounds; round++) {
      this.flush();
      if (this.divergences().length === 0) return round;
      this.period();
    }
    return -1;
  }

  /** The mirror of `slave` for `device`, empty if it has none. */
  mirrorTable(slave: string, device: string): FlowTable {
    return this.mirrors.get(slave)?.table(device) ?? new FlowTable();
  }

  /** "slave/device: difference" for every mirrored table that differs from the master's. */
  divergences(): string[] {
    const out: string[] = [];
    for (const slave of this.master.slaves()) {
      for (const device of this.master.devices()) {
        const d = this.master.device(device).table.diff(this.mirrorTable(slave, device));
        if (d.length > 0) out.push(`${slave}/${device}: ${d.join('; ')}`);
      }
    }
    return out;
  }

  /** Promotes `slave`: it becomes the master with `term`; the others stay slaves; in-flight messages stay in flight. */
  promote(slave: string, term: number): void {
    const mirror = this.mirrors.get(slave)!;
    this.master = FlowReplicator.fromMirror(mirror, { term });
    this.mirrors.delete(slave);
    this.master.setSlaves([...this.mirrors.keys()]);
    // Messages to the new master's old slave queue now go nowhere; to the old master, nowhere too.
    this.inFlight = this.inFlight.filter((p) => p.to !== slave && p.to !== MASTER);
    // As FlowService does: each table announced as a rebase of the mirror it came from.
    for (const device of this.master.devices()) {
      const rebase = this.master.rebase(device);
      if (rebase) this.#broadcast(rebase);
    }
  }
}
