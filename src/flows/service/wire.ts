/**
 * How the flow service moves the replication protocol of ../mirror.ts over the bus.
 *
 * Routing keys (topic exchange; the data bus has its own connection, so bulk snapshots never
 * delay election keep-alives):
 * - `c.{domain}.flows.backup`       master → every instance: deltas, as they happen;
 * - `c.{domain}.flows.inst.{id}`    to one instance: snapshots (and snapshot parts) for a slave,
 *                                   acks and snapshot requests for the master.
 * Neither matches the election's `c.{domain}.discover` nor the forwarder's `c.{domain}.flows.rpc.#`.
 *
 * Envelope: every message from the master carries `master: <its instance id>` next to the
 * mirror.ts fields, so a slave knows where to send its acks and requests.
 *
 * Snapshots: a table that fits in `chunkBytes` goes as one `flow-snapshot` message; a larger one
 * as `flow-snapshot-part` messages, `parts` of them sharing one `snap` id, each holding a run of
 * the table's entries (in table order) and staying under `chunkBytes`. The receiver keeps, per
 * device, the parts of the newest snapshot only, and reads the whole with parseBackupMessage once
 * every part is in: a lost part means that snapshot is never applied, and the next one (the
 * periodic backup sends it again while the slave has not acked) replaces it.
 */
import {BACKUP_PROTOCOL_VERSION, backupMessageToJson, type BackupMessage} from '../mirror.js';
import type {FlowEntryJson} from '../flow-table.js';
import {isRecord} from '../json.js';

export function backupRoutingKey(domain: string): string {
  return `c.${domain}.flows.backup`;
}

export function instanceRoutingKey(domain: string, instId: number | string): string {
  return `c.${domain}.flows.inst.${instId}`;
}

export const SNAPSHOT_PART = 'flow-snapshot-part';

/** An instance id as it appears in routing keys and in acks' `from`. */
export function isInstanceId(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

export function instanceIdOf(s: string): number | undefined {
  if (!/^[1-9]\d{0,4}$/.test(s)) return undefined;
  const n = Number(s);
  return isInstanceId(n) ? n : undefined;
}

/** A protocol message as the master publishes it. */
export function fromMaster(m: BackupMessage, master: number): Record<string, unknown> {
  return {...backupMessageToJson(m), master};
}

/**
 * A run of deltas (versions from..version of one device) as the master publishes it: the edits of
 * the run in their binary form (../edit-binary.ts encodeEdits, one buffer after another), base64
 * in `bin`, with the slaves the master waits for.
 */
export function deltaRunText(
  run: {device: string; term: number; from: number; version: number; bin: readonly Buffer[]}, master: number, slaves: readonly number[],
): string {
  const from = run.from === run.version ? '' : `,"from":${run.from}`;
  const bin = run.bin.length === 1 ? run.bin[0]! : Buffer.concat(run.bin);
  return `{"v":${BACKUP_PROTOCOL_VERSION},"type":"flow-delta","device":${JSON.stringify(run.device)},"term":${run.term},` +
    `"version":${run.version}${from},"bin":"${bin.toString('base64')}","master":${master},"slaves":${JSON.stringify(slaves)}}`;
}

/** The length of `bytes` bytes in base64. */
export function base64Length(bytes: number): number {
  return 4 * Math.ceil(bytes / 3);
}

export function jsonBytes(body: unknown): number {
  return Buffer.byteLength(JSON.stringify(body), 'utf8');
}

export interface SnapshotSource {
  device: string;
  term: number;
  version: number;
  /** The table's entries (FlowTable.toSnapshot().entries). */
  entries: FlowEntryJson[];
}

/** Room kept in each part for the envelope (keys, ids, counters). */
const PART_HEADER_BYTES = 320;

/**
 * The messages that carry one snapshot: one `flow-snapshot` when it fits in chunkBytes, else
 * parts. An entry larger than a part on its own gets a part to itself (the bus may refuse it).
 */
export function snapshotMessages(
  src: SnapshotSource, master: number, snap: string, chunkBytes: number,
  /** Each entry's JSON size + 1, if the caller already has them. */
  entrySizes?: readonly number[],
): Record<string, unknown>[] {
  const whole = {
    v: BACKUP_PROTOCOL_VERSION, type: 'flow-snapshot', device: src.device, term: src.term, version: src.version,
    table: {v: 1, entries: src.entries}, master,
  };
  const sizes = entrySizes ?? src.entries.map((e) => Buffer.byteLength(JSON.stringify(e), 'utf8') + 1);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total + PART_HEADER_BYTES <= chunkBytes) return [whole];
  const runs: FlowEntryJson[][] = [];
  let run: FlowEntryJson[] = [];
  let bytes = 0;
  const budget = Math.max(1, chunkBytes - PART_HEADER_BYTES);
  src.entries.forEach((e, i) => {
    const size = sizes[i]!;
    if (run.length > 0 && bytes + size > budget) {
      runs.push(run);
      run = [];
      bytes = 0;
    }
    run.push(e);
    bytes += size;
  });
  if (run.length > 0) runs.push(run);
  return runs.map((entries, part) => ({
    v: BACKUP_PROTOCOL_VERSION, type: SNAPSHOT_PART, device: src.device, term: src.term, version: src.version,
    snap, part, parts: runs.length, master, entries,
  }));
}

export interface SnapshotPart {
  device: string;
  term: number;
  version: number;
  snap: string;
  part: number;
  parts: number;
  master: number;
  /** Not validated here: the assembled snapshot is read by parseBackupMessage. */
  entries: unknown[];
}

const MAX_PARTS = 1_000_000;
const DEVICE_RE = /^[0-9a-f]{16}$/;
const SNAP_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

function counterOk(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export type ParsedPart = {ok: true; part: SnapshotPart} | {ok: false; reason: string};

/** Validates the envelope of a snapshot part (never throws). */
export function parseSnapshotPart(raw: unknown): ParsedPart {
  if (!isRecord(raw)) return {ok: false, reason: 'not a JSON object'};
  if (raw.v !== BACKUP_PROTOCOL_VERSION) return {ok: false, reason: 'v: unsupported protocol version'};
  if (raw.type !== SNAPSHOT_PART) return {ok: false, reason: `type: expected ${SNAPSHOT_PART}`};
  if (typeof raw.device !== 'string' || !DEVICE_RE.test(raw.device)) return {ok: false, reason: 'device: expected 16 lower-case hex digits'};
  if (!counterOk(raw.term)) return {ok: false, reason: 'term: expected a non-negative safe integer'};
  if (!counterOk(raw.version)) return {ok: false, reason: 'version: expected a non-negative safe integer'};
  if (typeof raw.snap !== 'string' || !SNAP_RE.test(raw.snap)) return {ok: false, reason: 'snap: expected an id of 1 to 64 characters [A-Za-z0-9_.:-]'};
  if (!counterOk(raw.parts) || raw.parts < 1 || raw.parts > MAX_PARTS) return {ok: false, reason: `parts: expected 1..${MAX_PARTS}`};
  if (!counterOk(raw.part) || raw.part >= raw.parts) return {ok: false, reason: 'part: expected 0..parts-1'};
  if (!isInstanceId(raw.master)) return {ok: false, reason: 'master: expected an instance id 1..65535'};
  if (!Array.isArray(raw.entries)) return {ok: false, reason: 'entries: expected an array'};
  return {
    ok: true,
    part: {device: raw.device, term: raw.term, version: raw.version, snap: raw.snap, part: raw.part, parts: raw.parts, master: raw.master, entries: raw.entries},
  };
}

interface Assembly {
  term: number;
  version: number;
  snap: string;
  parts: number;
  master: number;
  received: Array<unknown[] | undefined>;
  count: number;
  lastAtMs: number;
}

export type AssemblyResult =
  /** Every part is in: the whole `flow-snapshot` message, to read with parseBackupMessage. */
  | {status: 'complete'; message: Record<string, unknown>; master: number}
  | {status: 'partial'}
  /** Older than the snapshot being assembled for the device: dropped. */
  | {status: 'superseded'}
  /** Disagrees with the other parts of its snapshot (count): dropped. */
  | {status: 'inconsistent'};

/** Collects snapshot parts: per device, the newest snapshot only. */
export class SnapshotAssembler {
  readonly #byDevice = new Map<string, Assembly>();

  add(p: SnapshotPart, nowMs: number): AssemblyResult {
    let a = this.#byDevice.get(p.device);
    if (a && (a.snap !== p.snap || a.term !== p.term || a.version !== p.version)) {
      if (p.term < a.term || (p.term === a.term && p.version < a.version)) return {status: 'superseded'};
      a = undefined; // a newer snapshot (or the same version sent again) replaces the one in progress
    }
    if (!a) {
      a = {term: p.term, version: p.version, snap: p.snap, parts: p.parts, master: p.master, received: new Array(p.parts), count: 0, lastAtMs: nowMs};
      this.#byDevice.set(p.device, a);
    }
    if (a.parts !== p.parts || a.master !== p.master) return {status: 'inconsistent'};
    a.lastAtMs = nowMs;
    if (a.received[p.part] === undefined) {
      a.received[p.part] = p.entries;
      a.count++;
    }
    if (a.count < a.parts) return {status: 'partial'};
    this.#byDevice.delete(p.device);
    const entries: unknown[] = [];
    for (const run of a.received) for (const e of run!) entries.push(e);
    return {
      status: 'complete',
      master: a.master,
      message: {v: BACKUP_PROTOCOL_VERSION, type: 'flow-snapshot', device: p.device, term: a.term, version: a.version, table: {v: 1, entries}},
    };
  }

  /** Forgets the device's snapshot in progress, if it is not newer than (term, version). */
  supersede(device: string, term: number, version: number): void {
    const a = this.#byDevice.get(device);
    if (a && (a.term < term || (a.term === term && a.version <= version))) this.#byDevice.delete(device);
  }

  /** Drops snapshots that received no part for maxIdleMs (a part was lost). Returns how many. */
  expire(nowMs: number, maxIdleMs: number): number {
    let n = 0;
    for (const [d, a] of this.#byDevice) {
      if (nowMs - a.lastAtMs >= maxIdleMs) {
        this.#byDevice.delete(d);
        n++;
      }
    }
    return n;
  }

  get inProgress(): number {
    return this.#byDevice.size;
  }
}
