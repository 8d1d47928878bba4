/**
 * The flow replication protocol, pure: the master's per-device logs (versioned deltas, snapshots,
 * which devices a slave is behind on) and the slave's mirror (applies deltas in order, detects
 * gaps, catches up from snapshots). The caller moves the messages (bus) and the time (periods).
 *
 * Versions: each device's log counts its changes within the master's election term, from 0 (the
 * table the master started from) upwards; a delta carries (term, version) and moves a mirror from
 * version - 1 to version. The pair orders everything: a master promoted later has a higher term,
 * and since its first table is its own mirror's (which may be behind or ahead of another slave's),
 * a mirror never applies a delta of a term it has no snapshot of; it waits for one. Messages of an
 * older term than the mirror's are from a deposed master and are ignored.
 *
 * Rebases: a newly promoted master's tables are its mirror's, each at some (old term, version).
 * Instead of sending every table whole to every slave at once (megabytes, and seconds of parsing
 * on each slave in the middle of a failover), it first announces per device "version 0 of my term
 * is (old term, version)". A slave whose mirror is at exactly that position holds the very same
 * table (replication is deterministic) and simply moves to the new term; any other slave
 * (behind, ahead, or with nothing) asks for a snapshot.
 *
 * Snapshots (the ONOS rule, from NewDistributedFlowRuleStore's periodic backup): at each backup
 * period the master sends whole every device that a current slave has not confirmed at its current
 * version — a device changed since that slave's last confirmed backup, or a slave that joined
 * (the set of slaves changed). ONOS compares wall-clock times of the last update and the last
 * backup, which misses an update made while a backup is in flight; versions do not.
 *
 * Wire: a delta's edits travel as JSON (`changes`, backupMessageToJson) or, as the master's flow
 * service publishes them, in binary (`bin`, edit-binary.ts), which slaves read at about half the
 * cost; parseBackupMessage reads either. Snapshots are JSON.
 */
import type { FlowModMessage } from '../openflow/codec.js';
import {
  FlowTable, editsOf, entryFromJson, entryToJson, identityFromJson, identityToJson,
  type CookieNamespace, type FlowChange, type FlowModFailure, type FlowTableSnapshot, type TableEdit,
} from './flow-table.js';
import { JsonShapeError, isRecord } from './json.js';
import { decodeEdits } from './edit-binary.js';

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

/** Protocol version carried as `v` by every backup message. */
export const BACKUP_PROTOCOL_VERSION = 1;

/** A device's id in backup messages: its datapath id as 16 lower-case hex digits. */
export function deviceId(dpid: bigint): string {
  if (dpid < 0n || dpid > 0xffffffffffffffffn) throw new RangeError(`datapath id ${dpid} is not a u64`);
  return dpid.toString(16).padStart(16, '0');
}

export function dpidOf(device: string): bigint {
  if (!DEVICE_RE.test(device)) throw new RangeError(`device id '${device}' is not 16 lower-case hex digits`);
  return BigInt(`0x${device}`);
}

const DEVICE_RE = /^[0-9a-f]{16}$/;

/**
 * The changes of one applied flow-mod, moving a mirror of `device` from version - 1 to `version`;
 * or of several in a row (`from` set): from version from - 1 to `version`, the edits in order. The
 * master sends a batch of flow-mods as one such message rather than one message per flow-mod.
 */
export interface FlowDelta {
  type: 'flow-delta';
  device: string;
  term: number;
  version: number;
  /** The first version covered (default `version`). */
  from?: number;
  edits: TableEdit[];
}

/** The first version a delta covers. */
export function firstVersion(d: FlowDelta): number {
  return d.from ?? d.version;
}

/** Consecutive deltas of one device and term as one (from the first's first version to the last's). */
export function mergeDeltas(deltas: readonly FlowDelta[]): FlowDelta {
  const first = deltas[0];
  if (!first) throw new RangeError('no deltas to merge');
  let version = firstVersion(first) - 1;
  for (const d of deltas) {
    if (d.device !== first.device || d.term !== first.term || firstVersion(d) !== version + 1) {
      throw new RangeError('only consecutive deltas of one device and term merge');
    }
    version = d.version;
  }
  const from = firstVersion(first);
  const edits = deltas.flatMap((d) => d.edits);
  return from === version ? { type: 'flow-delta', device: first.device, term: first.term, version, edits }
    : { type: 'flow-delta', device: first.device, term: first.term, version, from, edits };
}

export function editToJson(e: TableEdit): Record<string, unknown> {
  return e.op === 'put' ? { op: 'put', entry: entryToJson(e.entry) } : { op: 'del', id: identityToJson(e.id) };
}

/** The wire form of a delta from versions from..version whose changes are already JSON (editToJson). */
function deltaJson(device: string, term: number, from: number, version: number, changes: unknown[]): Record<string, unknown> {
  const body: Record<string, unknown> = { v: BACKUP_PROTOCOL_VERSION, type: 'flow-delta', device, term, version };
  if (from !== version) body.from = from;
  body.changes = changes;
  return body;
}

/** A whole table at (term, version). */
export interface FlowSnapshot {
  type: 'flow-snapshot';
  device: string;
  term: number;
  version: number;
  table: FlowTable;
}

/** A new master's device table at (term, version) is the table at `base` of the previous term (see the module comment). */
export interface FlowRebase {
  type: 'flow-rebase';
  device: string;
  term: number;
  version: number;
  base: { term: number; version: number };
}

/** A slave asks for a snapshot of one device (it found a gap, or knows nothing of its term). */
export interface SnapshotRequest {
  type: 'flow-snapshot-request';
  device: string;
  /** The requesting slave's id. */
  from: string;
}

/** A slave's mirror of `device` is at (term, version). */
export interface BackupAck {
  type: 'flow-ack';
  device: string;
  term: number;
  version: number;
  from: string;
}

export type BackupMessage = FlowDelta | FlowSnapshot | FlowRebase | SnapshotRequest | BackupAck;

/** What a mirror applies. */
export type MirrorMessage = FlowDelta | FlowSnapshot | FlowRebase;

/** The JSON-safe form of a message (what goes on the bus). */
export function backupMessageToJson(m: BackupMessage): Record<string, unknown> {
  const head = { v: BACKUP_PROTOCOL_VERSION, type: m.type, device: m.device };
  switch (m.type) {
    case 'flow-delta':
      return deltaJson(m.device, m.term, firstVersion(m), m.version, m.edits.map(editToJson));
    case 'flow-snapshot':
      return { ...head, term: m.term, version: m.version, table: m.table.toSnapshot() satisfies FlowTableSnapshot };
    case 'flow-rebase':
      return { ...head, term: m.term, version: m.version, base: { term: m.base.term, version: m.base.version } };
    case 'flow-snapshot-request':
      return { ...head, from: m.from };
    case 'flow-ack':
      return { ...head, term: m.term, version: m.version, from: m.from };
  }
}

export function encodeBackupMessage(m: BackupMessage): string {
  return JSON.stringify(backupMessageToJson(m));
}

export type ParsedBackupMessage = { ok: true; message: BackupMessage } | { ok: false; reason: string };

/** Deltas per message above which a message is refused (a flow-mod rarely touches more than a table). */
const MAX_DELTA_EDITS = 1_000_000;
const MAX_ID_LENGTH = 128;

function counter(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new JsonShapeError(path, 'expected a non-negative safe integer');
  return v;
}

function peerId(v: unknown, path: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ID_LENGTH) throw new JsonShapeError(path, `expected a non-empty string of at most ${MAX_ID_LENGTH} characters`);
  return v;
}

function editFromJson(raw: unknown, path: string): TableEdit {
  if (!isRecord(raw)) throw new JsonShapeError(path, 'expected an object');
  if (raw.op === 'put') return { op: 'put', entry: entryFromJson(raw.entry, `${path}.entry`) };
  if (raw.op === 'del') return { op: 'del', id: identityFromJson(raw.id, `${path}.id`) };
  throw new JsonShapeError(`${path}.op`, "expected 'put' or 'del'");
}

/**
 * Validates a backup message: a parsed JSON value, or JSON text (string or Buffer). Never
 * throws; a malformed message gives the reason (with the path of the offending value) for the
 * caller to count and drop.
 */
export function parseBackupMessage(raw: unknown): ParsedBackupMessage {
  try {
    let o: unknown = raw;
    if (typeof raw === 'string' || raw instanceof Uint8Array) {
      try {
        o = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
      } catch {
        return { ok: false, reason: 'not JSON' };
      }
    }
    if (!isRecord(o)) return { ok: false, reason: 'not a JSON object' };
    if (o.v !== BACKUP_PROTOCOL_VERSION) return { ok: false, reason: `v: unsupported protocol version ${JSON.stringify(o.v)?.slice(0, 20)}` };
    if (typeof o.device !== 'string' || !DEVICE_RE.test(o.device)) return { ok: false, reason: 'device: expected 16 lower-case hex digits' };
    const device = o.device;
    switch (o.type) {
      case 'flow-delta': {
        const term = counter(o.term, 'term');
        const version = counter(o.version, 'version');
        if (version === 0) throw new JsonShapeError('version', 'a delta moves to version 1 or later');
        const from = o.from === undefined ? version : counter(o.from, 'from');
        if (from === 0 || from > version) throw new JsonShapeError('from', 'the first version of a delta is 1..version');
        const edits = o.bin !== undefined ? binaryEdits(o) : jsonEdits(o.changes);
        return { ok: true, message: from === version ? { type: 'flow-delta', device, term, version, edits } : { type: 'flow-delta', device, term, version, from, edits } };
      }
      case 'flow-snapshot': {
        const term = counter(o.term, 'term');
        const version = counter(o.version, 'version');
        return { ok: true, message: { type: 'flow-snapshot', device, term, version, table: FlowTable.fromSnapshot(o.table) } };
      }
      case 'flow-rebase': {
        const term = counter(o.term, 'term');
        const version = counter(o.version, 'version');
        if (!isRecord(o.base)) throw new JsonShapeError('base', 'expected an object {term, version}');
        const base = { term: counter(o.base.term, 'base.term'), version: counter(o.base.version, 'base.version') };
        if (base.term >= term) throw new JsonShapeError('base.term', 'a rebase continues an older term');
        return { ok: true, message: { type: 'flow-rebase', device, term, version, base } };
      }
      case 'flow-snapshot-request':
        return { ok: true, message: { type: 'flow-snapshot-request', device, from: peerId(o.from, 'from') } };
      case 'flow-ack':
        return {
          ok: true,
          message: { type: 'flow-ack', device, term: counter(o.term, 'term'), version: counter(o.version, 'version'), from: peerId(o.from, 'from') },
        };
      default:
        return { ok: false, reason: 'type: unknown message type' };
    }
  } catch (err) {
    if (err instanceof JsonShapeError) return { ok: false, reason: err.message };
    return { ok: false, reason: `unreadable: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** A delta's edits as JSON (`changes`: editToJson of each). */
function jsonEdits(changes: unknown): TableEdit[] {
  if (!Array.isArray(changes)) throw new JsonShapeError('changes', 'expected an array');
  if (changes.length > MAX_DELTA_EDITS) throw new JsonShapeError('changes', 'too many changes');
  return changes.map((c, i) => editFromJson(c, `changes[${i}]`));
}

/** A delta's edits in binary (`bin`: base64 of edit-binary.ts records), instead of `changes`. */
function binaryEdits(o: Record<string, unknown>): TableEdit[] {
  if (o.changes !== undefined) throw new JsonShapeError('bin', 'a delta carries changes or bin, not both');
  const text = o.bin;
  if (typeof text !== 'string' || text.length % 4 !== 0) throw new JsonShapeError('bin', 'expected base64 text');
  const bytes = Buffer.from(text, 'base64');
  // Buffer.from skips what is not base64 instead of failing: then fewer bytes come out.
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  if (bytes.length !== (text.length / 4) * 3 - padding) throw new JsonShapeError('bin', 'expected base64 text');
  return decodeEdits(bytes, 'bin', MAX_DELTA_EDITS);
}

// ---------------------------------------------------------------------------------------------
// Master side
// ---------------------------------------------------------------------------------------------

export type DeviceApplyResult =
  | { ok: true; changes: FlowChange[]; /** Absent when nothing changed (no version is used). */ delta?: FlowDelta }
  | { ok: false; error: FlowModFailure };

/** One device's table on the master, with its version counter. */
export class DeviceLog {
  #version = 0;

  /** Starts at version 0 with `table` (default empty), which the log now owns. */
  constructor(readonly device: string, readonly term: number, readonly table: FlowTable = new FlowTable()) {
    dpidOf(device);
  }

  get version(): number {
    return this.#version;
  }

  /** Applies a flow-mod to the table; a change gives the delta that replicates it. */
  apply(fm: FlowModMessage): DeviceApplyResult {
    const r = this.table.apply(fm);
    if (!r.ok) return r;
    if (r.changes.length === 0) return { ok: true, changes: [] };
    this.#version++;
    return {
      ok: true,
      changes: r.changes,
      delta: { type: 'flow-delta', device: this.device, term: this.term, version: this.#version, edits: editsOf(r.changes) },
    };
  }

  snapshot(): FlowSnapshot {
    return { type: 'flow-snapshot', device: this.device, term: this.term, version: this.#version, table: this.table.clone() };
  }
}

export interface ReplicatorOptions {
  /** This master's election term: every message it sends carries it. */
  term: number;
  /** The owned namespace of the tables it creates. */
  ownedCookie?: CookieNamespace;
}

/**
 * The master's side: one DeviceLog per device, the current slaves, and how far each slave has
 * confirmed each device.
 */
export class FlowReplicator {
  readonly term: number;
  readonly #ownedCookie: CookieNamespace | undefined;
  readonly #logs = new Map<string, DeviceLog>();
  #slaves: string[] = [];
  /** slave → device → version confirmed in this term. */
  readonly #acked = new Map<string, Map<string, number>>();
  /** device → the mirror position its version 0 was taken from (fromMirror). */
  readonly #bases = new Map<string, { term: number; version: number }>();

  constructor(options: ReplicatorOptions) {
    if (!Number.isSafeInteger(options.term) || options.term < 0) throw new RangeError(`term (${options.term}) must be a non-negative safe integer`);
    this.term = options.term;
    this.#ownedCookie = options.ownedCookie;
  }

  /**
   * The replicator of a newly promoted master: it starts from its own mirror's tables (copies),
   * each at version 0 of the new term. `term` must be above every term the mirror has seen.
   */
  static fromMirror(mirror: Mirror, options: ReplicatorOptions): FlowReplicator {
    const seen = mirror.highestTerm();
    if (seen !== undefined && options.term <= seen) throw new RangeError(`term (${options.term}) must be above the mirror's highest term (${seen})`);
    const r = new FlowReplicator(options);
    for (const [device, table] of mirror.tables()) {
      r.#logs.set(device, new DeviceLog(device, r.term, table));
      const base = mirror.position(device);
      if (base) r.#bases.set(device, base);
    }
    return r;
  }

  /** "Version 0 of this term is the mirror's table at (term, version)", for a device taken from a mirror. */
  rebase(device: string): FlowRebase | undefined {
    const base = this.#bases.get(device);
    return base && { type: 'flow-rebase', device, term: this.term, version: 0, base: { ...base } };
  }

  /** The device's log, created empty (version 0) on first use. */
  device(device: string): DeviceLog {
    let log = this.#logs.get(device);
    if (!log) {
      log = new DeviceLog(device, this.term, new FlowTable(this.#ownedCookie ? { ownedCookie: this.#ownedCookie } : {}));
      this.#logs.set(device, log);
    }
    return log;
  }

  has(device: string): boolean {
    return this.#logs.has(device);
  }

  devices(): string[] {
    return [...this.#logs.keys()].sort();
  }

  /** Forgets a device (e.g. it left the domain for good). */
  forget(device: string): void {
    this.#logs.delete(device);
    for (const m of this.#acked.values()) m.delete(device);
  }

  apply(device: string, fm: FlowModMessage): DeviceApplyResult {
    return this.device(device).apply(fm);
  }

  /** The current slaves (ids as they appear in acks and requests). */
  setSlaves(ids: Iterable<string>): void {
    this.#slaves = [...new Set(ids)].sort();
    for (const s of [...this.#acked.keys()]) if (!this.#slaves.includes(s)) this.#acked.delete(s);
  }

  slaves(): string[] {
    return [...this.#slaves];
  }

  /** A slave confirms its mirror of a device is at (term, version). Acks of other terms are ignored. */
  recordAck(ack: { from: string; device: string; term: number; version: number }): void {
    if (ack.term !== this.term || !this.#slaves.includes(ack.from)) return;
    const log = this.#logs.get(ack.device);
    if (!log || ack.version > log.version) return;
    let m = this.#acked.get(ack.from);
    if (!m) this.#acked.set(ack.from, (m = new Map()));
    if ((m.get(ack.device) ?? -1) < ack.version) m.set(ack.device, ack.version);
  }

  /** The version a slave has confirmed for a device in this term (undefined: none). */
  ackedVersion(slave: string, device: string): number | undefined {
    return this.#acked.get(slave)?.get(device);
  }

  /** The highest version of the device every current slave has confirmed (Infinity with no slaves, -1 when one confirmed none). */
  confirmedByAll(device: string): number {
    let min = Infinity;
    for (const s of this.#slaves) {
      const v = this.#acked.get(s)?.get(device) ?? -1;
      if (v < min) min = v;
    }
    return min;
  }

  /** The slaves that have not yet confirmed `version` of the device (acknowledge a request when empty). */
  pendingAcks(device: string, version: number): string[] {
    return this.#slaves.filter((s) => (this.ackedVersion(s, device) ?? -1) < version);
  }

  /**
   * The snapshots to send at this backup period: every device that some current slave has not
   * confirmed at its current version.
   */
  dueSnapshots(): FlowSnapshot[] {
    const out: FlowSnapshot[] = [];
    for (const device of this.devices()) {
      const log = this.#logs.get(device)!;
      if (this.#slaves.some((s) => (this.ackedVersion(s, device) ?? -1) < log.version)) out.push(log.snapshot());
    }
    return out;
  }

  /** The answer to a snapshot request (undefined for a device this master does not have). */
  answer(request: SnapshotRequest): FlowSnapshot | undefined {
    return this.#logs.get(request.device)?.snapshot();
  }
}

// ---------------------------------------------------------------------------------------------
// Slave side
// ---------------------------------------------------------------------------------------------

export interface MirrorOptions {
  /** Deltas kept per device while waiting for a snapshot; beyond it the oldest are dropped. Default 256. */
  maxBufferedDeltas?: number;
  /** The owned namespace of the mirrored tables. */
  ownedCookie?: CookieNamespace;
}

export type MirrorStatus =
  /** The delta (and any buffered ones it unblocked) was applied. */
  | 'applied'
  /** The snapshot replaced the table (and buffered deltas newer than it were applied). */
  | 'snapshot'
  /** Already applied (same or older version of the current term). */
  | 'duplicate'
  /** From an older term than the mirror's: a deposed master. */
  | 'stale'
  /** Kept until the gap before it is filled or a snapshot arrives. */
  | 'buffered'
  /** A rebase from the mirror's exact position: now at the new term, nothing else changed. */
  | 'rebased'
  /** A rebase from another position than the mirror's: it waits for a snapshot of the new term. */
  | 'unbased';

export interface MirrorOutcome {
  device: string;
  status: MirrorStatus;
  /** Deltas applied by this call, buffered ones included. */
  applied: number;
  /** What this call changed in the mirrored table. */
  changes: FlowChange[];
  /** True when this call made the mirror start waiting for a snapshot of the device: ask for one. */
  needSnapshot: boolean;
  /** Where the mirror of the device now is, to acknowledge (absent while it has no term). */
  position?: { term: number; version: number };
}

interface DeviceMirror {
  term: number | undefined;
  version: number;
  table: FlowTable;
  /** Deltas not yet applicable, sorted by (term, version), unique. */
  buffer: FlowDelta[];
  awaiting: boolean;
  /** A rebase to this term could not be used: waiting for a snapshot of (at least) it. */
  awaitTerm: number | undefined;
}

function cmpDelta(a: { term: number; version: number }, b: { term: number; version: number }): number {
  return a.term - b.term || a.version - b.version;
}

/** The slave's side: one mirrored table per device. */
export class Mirror {
  readonly #devices = new Map<string, DeviceMirror>();
  readonly #maxBuffered: number;
  readonly #ownedCookie: CookieNamespace | undefined;

  constructor(options: MirrorOptions = {}) {
    const max = options.maxBufferedDeltas ?? 256;
    if (!Number.isInteger(max) || max < 0) throw new RangeError(`maxBufferedDeltas (${max}) must be a non-negative integer`);
    this.#maxBuffered = max;
    this.#ownedCookie = options.ownedCookie;
  }

  #state(device: string): DeviceMirror {
    let st = this.#devices.get(device);
    if (!st) {
      st = { term: undefined, version: 0, table: this.#newTable(), buffer: [], awaiting: false, awaitTerm: undefined };
      this.#devices.set(device, st);
    }
    return st;
  }

  #newTable(): FlowTable {
    return new FlowTable(this.#ownedCookie ? { ownedCookie: this.#ownedCookie } : {});
  }

  /** Applies a delta, a snapshot or a rebase (other message types belong to the master). */
  receive(msg: MirrorMessage): MirrorOutcome {
    const st = this.#state(msg.device);
    const wasAwaiting = st.awaiting;
    const outcome = (status: MirrorStatus, applied: number, changes: FlowChange[]): MirrorOutcome => {
      if (st.awaitTerm !== undefined && st.term !== undefined && st.term >= st.awaitTerm) st.awaitTerm = undefined;
      // Whatever is still buffered lies beyond a gap (drain() keeps nothing the mirror is past).
      st.awaiting = st.buffer.length > 0 || st.awaitTerm !== undefined;
      const o: MirrorOutcome = { device: msg.device, status, applied, changes, needSnapshot: st.awaiting && !wasAwaiting };
      if (st.term !== undefined) o.position = { term: st.term, version: st.version };
      return o;
    };
    if (st.term !== undefined && msg.term < st.term) return outcome('stale', 0, []);
    if (msg.type === 'flow-rebase') {
      if (st.term === msg.term && msg.version <= st.version) return outcome('duplicate', 0, []);
      if (st.term === msg.base.term && st.version === msg.base.version) {
        st.term = msg.term;
        st.version = msg.version;
        const drained = this.#drain(st);
        return outcome('rebased', drained.applied, drained.changes);
      }
      if (st.term !== msg.term) st.awaitTerm = Math.max(st.awaitTerm ?? 0, msg.term);
      return outcome('unbased', 0, []);
    }
    if (msg.type === 'flow-snapshot') {
      if (st.term === msg.term && msg.version <= st.version) return outcome('duplicate', 0, []);
      const edits: TableEdit[] = [
        ...st.table.entries().filter((e) => !msg.table.has(e)).map((e): TableEdit => ({ op: 'del', id: e })),
        ...msg.table.entries().map((entry): TableEdit => ({ op: 'put', entry })),
      ];
      const changes = st.table.applyEdits(edits);
      st.term = msg.term;
      st.version = msg.version;
      const drained = this.#drain(st);
      return outcome('snapshot', drained.applied, [...changes, ...drained.changes]);
    }
    if (st.term === msg.term && msg.version <= st.version) return outcome('duplicate', 0, []);
    if (st.term === msg.term && firstVersion(msg) === st.version + 1) {
      const changes = st.table.applyEdits(msg.edits);
      st.version = msg.version;
      const drained = this.#drain(st);
      return outcome('applied', 1 + drained.applied, [...changes, ...drained.changes]);
    }
    this.#buffer(st, msg);
    return outcome('buffered', 0, []);
  }

  #buffer(st: DeviceMirror, d: FlowDelta): void {
    const i = st.buffer.findIndex((x) => cmpDelta(x, d) >= 0);
    if (i >= 0 && cmpDelta(st.buffer[i]!, d) === 0) return;
    if (i < 0) st.buffer.push(d);
    else st.buffer.splice(i, 0, d);
    // The newest deltas are the valuable ones: a snapshot answering our request will be at least
    // as new as the oldest, and only deltas after it are applied.
    while (st.buffer.length > this.#maxBuffered) st.buffer.shift();
  }

  /** Drops buffered deltas the mirror is past, applies the ones that follow it. */
  #drain(st: DeviceMirror): { applied: number; changes: FlowChange[] } {
    let applied = 0;
    const changes: FlowChange[] = [];
    st.buffer = st.buffer.filter((d) => d.term > st.term! || (d.term === st.term && d.version > st.version));
    while (st.buffer.length > 0 && st.buffer[0]!.term === st.term && firstVersion(st.buffer[0]!) === st.version + 1) {
      const d = st.buffer.shift()!;
      changes.push(...st.table.applyEdits(d.edits));
      st.version = d.version;
      applied++;
    }
    return { applied, changes };
  }

  /** The mirror's table of a device (live: read, do not modify). */
  table(device: string): FlowTable | undefined {
    return this.#devices.get(device)?.table;
  }

  position(device: string): { term: number; version: number } | undefined {
    const st = this.#devices.get(device);
    return st && st.term !== undefined ? { term: st.term, version: st.version } : undefined;
  }

  devices(): string[] {
    return [...this.#devices.keys()].sort();
  }

  /** Devices waiting for a snapshot (to re-ask periodically if an answer got lost). */
  awaitingSnapshot(): string[] {
    return this.devices().filter((d) => this.#devices.get(d)!.awaiting);
  }

  bufferedDeltas(device: string): number {
    return this.#devices.get(device)?.buffer.length ?? 0;
  }

  /** The highest term of any message applied (undefined before the first). */
  highestTerm(): number | undefined {
    let max: number | undefined;
    for (const st of this.#devices.values()) if (st.term !== undefined && (max === undefined || st.term > max)) max = st.term;
    return max;
  }

  /** Copies of the mirrored tables of every device with a known term (for a promotion). */
  tables(): Map<string, FlowTable> {
    const out = new Map<string, FlowTable>();
    for (const d of this.devices()) {
      const st = this.#devices.get(d)!;
      if (st.term !== undefined) out.set(d, st.table.clone());
    }
    return out;
  }

  forget(device: string): void {
    this.#devices.delete(device);
  }

  snapshotRequest(device: string, from: string): SnapshotRequest {
    return { type: 'flow-snapshot-request', device, from };
  }

  /** The ack for the device's current position (undefined while it has none). */
  ack(device: string, from: string): BackupAck | undefined {
    const p = this.position(device);
    return p && { type: 'flow-ack', device, term: p.term, version: p.version, from };
  }
}
