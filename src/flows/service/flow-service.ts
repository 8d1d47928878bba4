/**
 * The flow service: the runtime around the pure replication parts (../flow-table.ts,
 * ../mirror.ts, ../reconcile.ts). One per instance. The election tells it its role
 * (setRole / setLiveSlaves); the switch registry gives it the switches; a bus of its own carries
 * the backup messages (wire.ts).
 *
 * Master — the one writer:
 * - program(): per-device lanes; the requests that pile up while a batch is at the switch go
 *   together as the next batch (one sendModifications, one barrier). Per message, the switch's
 *   verdict: refused → SwitchRefusedError in words, table untouched; confirmed → FlowTable.apply in
 *   the same order, the delta published at once, and the request resolves when every live slave's
 *   mirror acknowledged that version (or ackTimeoutMs passed, see #onAckTimeout).
 * - backups: every backupPeriodMs, the ONOS rule (a device a slave has not confirmed at its
 *   current version is sent whole) refined so that versions still in flight to a slave whose acks
 *   keep coming do not trigger a snapshot; new slaves and late slaves always get one; snapshot
 *   requests are answered; snapshots are split into parts of at most chunkBytes.
 * - takeover (on promotion, and for each switch that connects or confirms us as master later):
 *   flow stats, reconcile with the table (re-install missing, remove what the cluster deleted,
 *   adopt or remove unknown owned flows per unknownFlowPolicy), one batch + barrier, adopted flows
 *   replicated. Requests for that switch wait for it (bounded by takeoverWaitMs), then proceed.
 * - audit (node-cron, auditCron): the same reconciliation with the table as the truth (strays
 *   removed), per connected switch, serialized with the requests in the switch's lane.
 *
 * Slave: a Mirror fed by deltas and snapshots, acks (coalesced per device), snapshot requests on
 * gaps (and again every period while still waiting). Never programs a switch: program() rejects.
 */
import cron, {type ScheduledTask} from 'node-cron';
import type {Bus, DeliveryInfo, DroppedMessage} from '../../bus/types.js';
import {JsonText} from '../../bus/codec.js';
import {RateLimitedWarning} from '../../controller/rate-limited-warning.js';
import type {Role} from '../../election/messages.js';
import type {Logger} from '../../log.js';
import {
  OFP, describeError, errorName, preEncode, type FlowModMessage, type FlowRemovedMessage, type FlowStats, type FlowStatsFilter,
} from '../../openflow/codec.js';
import {
  ConnectionClosedError, OpenFlowError, SwitchTimeoutError, formatDpid, type Outgoing, type RequestOptions,
} from '../../openflow/connection.js';
import {NotMasterError, SwitchNotConnectedError, type HeldRole} from '../../openflow/roles.js';
import type {RegistryEvents} from '../../openflow/switch-registry.js';
import {
  FlowTable, cookieInNamespace, entryFromFlowStats, entryFromJson, entryToJson, validateFlowMod, flowKey, type FlowEntry, type FlowEntryJson, type TableEdit,
} from '../flow-table.js';
import {
  FlowReplicator, Mirror, backupMessageToJson, deviceId, firstVersion, parseBackupMessage, type DeviceLog,
  type FlowDelta, type FlowSnapshot, type MirrorMessage,
} from '../mirror.js';
import {encodeEdits} from '../edit-binary.js';
import {
  NoMasterError, ProgramTimeoutError, SwitchRefusedError, UnknownSwitchError, type FlowProgrammer, type ProgramOptions, type ProgramResult,
} from '../programmer.js';
import {JsonShapeError, isRecord} from '../json.js';
import {reconcile, type ReconcilePlan} from '../reconcile.js';
import {ForeignCookieError, InstanceNotMasterError, SwitchDemotedError} from './errors.js';
import {checkSettings, resolveSettings, validateAuditCron, type FlowServiceSettings, type RuntimeSettings} from './settings.js';
import {
  SNAPSHOT_PART, SnapshotAssembler, backupRoutingKey, base64Length, deltaRunText, fromMaster, instanceIdOf, instanceRoutingKey, isInstanceId, jsonBytes,
  parseSnapshotPart, snapshotMessages,
} from './wire.js';
import {TurnQueue} from './turns.js';
import {REHEARSAL_FLOWS, REHEARSAL_MIN_FLOWS, REHEARSAL_ROUNDS, rehearseTakeover} from './rehearsal.js';
import {MirrorTrust} from './mirror-trust.js';
import {Tombstones} from './tombstones.js';
import {VersionWaiters} from './version-waiters.js';

// ---------------------------------------------------------------------------------------------
// What the service needs from the switches (SwitchRegistry satisfies it)
// ---------------------------------------------------------------------------------------------

export type FlowSwitchEvent = 'switch-connected' | 'switch-disconnected' | 'role-changed' | 'message';

export interface FlowSwitches {
  switches(): Array<{datapathId: bigint; role: HeldRole}>;
  /** undefined: not connected. */
  roleOn(datapathId: bigint): HeldRole | undefined;
  /**
   * The messages then one barrier; per message the switch's OpenFlowError or undefined. Throws
   * SwitchNotConnectedError, NotMasterError (role not confirmed), SwitchTimeoutError, ConnectionClosedError.
   */
  sendModifications(datapathId: bigint, messages: readonly Outgoing[], options?: RequestOptions): Promise<Array<OpenFlowError | undefined>>;
  flowStats(datapathId: bigint, filter?: Partial<FlowStatsFilter>, options?: RequestOptions): Promise<FlowStats[]>;
  on<E extends FlowSwitchEvent>(event: E, listener: (...args: RegistryEvents[E]) => void): unknown;
  off<E extends FlowSwitchEvent>(event: E, listener: (...args: RegistryEvents[E]) => void): unknown;
}

/** A table to read (tableOf): the live table, not a copy; the types keep writers out. */
export type ReadonlyFlowTable = Pick<
  FlowTable, 'size' | 'get' | 'has' | 'entries' | 'keyed' | 'ownedEntries' | 'isOwned' | 'ownedCookie' | 'toSnapshot' | 'clone' | 'equals' | 'diff'
>;

export interface FlowServiceOptions {
  instId: number;
  domain: string;
  /** A bus for flow data only (its own connection). The service subscribes; the owner starts and closes it. */
  bus: Bus;
  switches: FlowSwitches;
  logger: Logger;
  settings?: Partial<FlowServiceSettings>;
  /** Monotonic clock (ms) for stats and rate limits. Default performance.now(). */
  nowMs?: () => number;
}

// ---------------------------------------------------------------------------------------------
// Reports and stats
// ---------------------------------------------------------------------------------------------

export interface DeviceReconcileReport {
  dpid: string;
  mode: 'takeover' | 'audit';
  /**
   * Which side was the truth: 'table' (the mirror was known in sync with the last master, or this
   * master's own table: the switch is brought in line) or 'switch' (a takeover with a mirror that may
   * have missed acknowledged changes: the table takes the switch's owned flows).
   */
  truth: 'table' | 'switch';
  /** Why that side. */
  why: string;
  /** Owned flows re-installed on the switch. */
  restored: number;
  /** Owned flows whose content was fixed on the switch. */
  fixed: number;
  /** Owned flows removed from the switch (deleted by the cluster, or strays). */
  removed: number;
  /** Unknown owned flows taken into the table (and replicated). */
  adopted: number;
  /** Timed entries the switch no longer has, dropped from the table. */
  expired: number;
  /** truth 'switch': table entries the switch does not have, dropped from the table (not re-installed). */
  dropped: number;
  /** truth 'switch': table entries whose content the switch holds otherwise, taken from the switch. */
  updated: number;
  /** Table entries whose identity the switch holds under a foreign cookie (left alone). */
  conflicts: number;
  /** Flow-mods of the repair the switch refused. */
  refused: number;
  durationMs: number;
  /** Of durationMs: waiting for the switch's flow stats (all its flows listed). */
  statsMs?: number;
  /** Of durationMs: waiting for the turn of the CPU (other switches' reconciliations; see turns.ts). */
  turnWaitMs?: number;
  error?: string;
}

export interface AuditReport {
  ran: boolean;
  /** Why it did not run. */
  reason?: string;
  devices: DeviceReconcileReport[];
}

export interface MirrorLag {
  slave: number;
  /** Version the slave confirmed in this term (undefined: none yet, it may not know the term). */
  acked: number | undefined;
  /** Versions behind (from 0 when nothing is confirmed). */
  lag: number;
  late: boolean;
}

export interface DeviceStats {
  dpid: string;
  /** Held role on the switch (undefined: not connected). */
  switchRole: HeldRole | undefined;
  term: number | undefined;
  version: number;
  size: number;
  /** Master: the takeover reconciliation of this switch is done in the current term. */
  ready?: boolean;
  /** Master: requests and jobs waiting in the switch's lane. */
  queued?: number;
  /** Master: each live slave's position. */
  mirrors?: MirrorLag[];
  /** Slave: deltas held back by a gap. */
  buffered?: number;
  /** Slave: waiting for a snapshot. */
  awaitingSnapshot?: boolean;
  /** Slave: the mirror is known in sync with the current master (a takeover would trust it). */
  trusted?: boolean;
  /** Slave: why (not) trusted. */
  trust?: string;
}

export interface FlowServiceCounters {
  requests: number;
  refused: number;
  batches: number;
  flowModsSent: number;
  /** Deltas (versions) published, and the messages that carried them (a batch's go together). */
  deltasSent: number;
  deltaMessagesSent: number;
  /** Deltas above chunkBytes, replaced by a snapshot. */
  deltasOversize: number;
  snapshotsSent: number;
  /** Master: rebases published at promotion (one per device taken from the mirror), instead of snapshots. */
  rebasesSent: number;
  /**
   * (snapshot, slave) pairs not sent because the same device at the same (or a newer) version was
   * sent to that slave less than ackTimeoutMs ago and not acknowledged yet (still in flight).
   */
  snapshotsDeduped: number;
  snapshotPartsSent: number;
  snapshotRequestsAnswered: number;
  acksReceived: number;
  /** (request, slave) pairs whose ack did not come within ackTimeoutMs. */
  acksLate: number;
  publishFailed: number;
  deltasReceived: number;
  snapshotsReceived: number;
  /** Slave: rebases received, and of those the ones that did not start from this mirror's position (a snapshot was asked for). */
  rebasesReceived: number;
  rebasesUnusable: number;
  acksSent: number;
  snapshotRequestsSent: number;
  /** Deltas and snapshots of an older term (a deposed master), ignored. */
  staleIgnored: number;
  /** Malformed backup messages dropped (never applied). */
  malformedDropped: number;
  /** Messages the data bus dropped before they reached us (oversize, not JSON). */
  busDropped: number;
  takeovers: number;
  takeoverRepairs: number;
  /** Takeovers of a switch with the switch as the truth (the mirror was not known in sync). */
  takeoversFromSwitch: number;
  /** Slave: times its mirrors stopped being trusted (role change, bus loss, not in the master's slave set, stall). */
  mirrorDistrusted: number;
  adopted: number;
  /** Master: entries dropped from the table because their switch reported them expired (FLOW_REMOVED, idle or hard timeout). */
  expiredBySwitch: number;
  audits: number;
  auditRepairs: number;
  reconcileFailures: number;
  /** The switch accepted a flow-mod that the table model refused (should not happen; audited). */
  modelDisagreements: number;
}

export interface FlowServiceStats {
  instId: number;
  domain: string;
  role: Role;
  term: number;
  liveSlaves: number[];
  devices: DeviceStats[];
  counters: FlowServiceCounters;
  /** Snapshots being assembled from parts (slave). */
  snapshotsInProgress: number;
  settings: Omit<FlowServiceSettings, 'ownedCookie'> & {ownedCookie: {value: string; mask: string}};
}

// ---------------------------------------------------------------------------------------------
// Internals
// ---------------------------------------------------------------------------------------------

interface Request {
  dpid: bigint;
  device: string;
  /** As the switch gets it. */
  fm: FlowModMessage;
  /** The same with its match and instructions in canonical form, as the table applies it (see #admit). */
  tableFm: FlowModMessage;
  term: number;
  timeoutMs: number;
  state: 'waiting' | 'queued' | 'sent' | 'acking' | 'done';
  resolve: (r: ProgramResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
  /** While 'waiting' for the takeover: how to stop waiting. */
  cancelWait?: () => void;
  /** While 'acking'. */
  ack?: AckWaiter;
}

interface AckWaiter {
  req: Request;
  device: string;
  version: number;
  timer: NodeJS.Timeout | undefined;
}

/** Whether the waiter is still its request's, and the request still unanswered. */
function isWaiting(w: AckWaiter): boolean {
  return w.req.ack === w && w.req.state !== 'done';
}

type LaneItem =
  | {kind: 'request'; req: Request}
  | {kind: 'reconcile'; mode: 'takeover' | 'audit'; done: (r: DeviceReconcileReport | undefined) => void};

interface Lane {
  dpid: bigint;
  device: string;
  items: LaneItem[];
  running: boolean;
  kicked: boolean;
  /** The term in which this switch's takeover reconciliation finished (or gave up). */
  readyTerm: number | undefined;
  takeoverQueued: boolean;
  /** The takeover failed: the next audit reconciles with the takeover's policy. */
  takeoverIncomplete: boolean;
  readyWaiters: Set<() => void>;
}

const CHECK_OVERLAP = OFP.OFPFF_CHECK_OVERLAP;

/**
 * A shallow copy with the flow-mod's fields only (written out: object spread and rest are several
 * times slower, and this runs for every request).
 */
function copyFlowMod(f: FlowModMessage): FlowModMessage {
  return {
    type: 'FLOW_MOD', xid: f.xid, cookie: f.cookie, cookieMask: f.cookieMask, tableId: f.tableId, command: f.command,
    idleTimeout: f.idleTimeout, hardTimeout: f.hardTimeout, priority: f.priority, bufferId: f.bufferId, outPort: f.outPort,
    outGroup: f.outGroup, flags: f.flags, match: f.match, instructions: f.instructions,
  };
}

/** How long a snapshot is serialised or published before it yields to the event loop. */
const SNAPSHOT_SLICE_MS = 8;
/** Tables of at least this many flows are applied by a slave in a turn of the event loop of their own (#inTurn). */
const LARGE_SNAPSHOT_ENTRIES = 1000;

/** The number of entries of a snapshot's table as it came off the wire (0 for anything else). */
function snapshotEntries(table: unknown): number {
  const entries = (table as {entries?: unknown} | null | undefined)?.entries;
  return Array.isArray(entries) ? entries.length : 0;
}

/** A delta message carrying at least this many versions (a batch's run) is acknowledged without waiting for the turn to end. */
const ACK_AT_ONCE_VERSIONS = 16;

function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function emptyCounters(): FlowServiceCounters {
  return {
    requests: 0, refused: 0, batches: 0, flowModsSent: 0, deltasSent: 0, deltaMessagesSent: 0, deltasOversize: 0, snapshotsSent: 0, snapshotsDeduped: 0, snapshotPartsSent: 0,
    snapshotRequestsAnswered: 0, acksReceived: 0, acksLate: 0, publishFailed: 0, deltasReceived: 0, snapshotsReceived: 0, acksSent: 0,
    rebasesSent: 0, rebasesReceived: 0, rebasesUnusable: 0,
    snapshotRequestsSent: 0, staleIgnored: 0, malformedDropped: 0, busDropped: 0, takeovers: 0, takeoverRepairs: 0, takeoversFromSwitch: 0,
    mirrorDistrusted: 0, adopted: 0, expiredBySwitch: 0,
    audits: 0, auditRepairs: 0, reconcileFailures: 0, modelDisagreements: 0,
  };
}

const NOT_LISTED = "the master does not list this instance among the slaves whose acks it waits for (it counted it out)";

/** The `slaves` of a master's delta or snapshot (undefined: absent or malformed, i.e. not listed). */
function slavesOf(v: unknown): number[] | undefined {
  return Array.isArray(v) && v.length <= 65535 && v.every(isInstanceId) ? v : undefined;
}

function unref(t: NodeJS.Timeout | undefined): void {
  (t as {unref?: () => void} | undefined)?.unref?.();
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class FlowService implements FlowProgrammer {
  readonly instId: number;
  readonly domain: string;
  readonly #bus: Bus;
  readonly #switches: FlowSwitches;
  readonly #log: Logger;
  readonly #now: () => number;
  #settings: FlowServiceSettings;

  #role: Role = 'unknown';
  #term = 0;
  #liveSlaves: number[] = [];
  /** Master only. */
  #replicator: FlowReplicator | undefined;
  /** Slave side (kept while unknown too); rebuilt from the logs when a master steps down. */
  #mirror: Mirror;
  /** The master of the newest term a backup message came from: where acks and requests go. */
  #knownMaster: {id: number; term: number} | undefined;

  readonly #lanes = new Map<bigint, Lane>();
  /** Whether this process rehearsed a takeover already (#maybeRehearseTakeover). */
  #rehearsed = false;
  /** The CPU part of reconciliations (takeovers, audits), one switch at a time. */
  readonly #reconcileTurns = new TurnQueue();
  /** Requests the switch confirmed, waiting for the slaves' acks of their version (#checkAckWaiters). */
  readonly #ackWaiters = new VersionWaiters<AckWaiter>();
  readonly #requests = new Set<Request>();
  /** `${slave}|${device}` marked late by an ack timeout: sent a snapshot at the next backup. */
  readonly #late = new Set<string>();
  readonly #lastAckAt = new Map<string, number>();
  /**
   * Master: `${slave}|${device}` → the snapshot last sent to that slave in this term and not yet
   * acknowledged. Every sender (promotion, takeovers, the periodic backup, requests, new slaves)
   * goes through #sendSnapshot, which sends a device to a slave again only once this one is
   * superseded (a newer version), acknowledged, or older than ackTimeoutMs (lost).
   */
  readonly #snapshotsInFlight = new Map<string, {term: number; version: number; atMs: number; snap: string}>();
  /**
   * Master: `${slave}|${device}` sent a rebase in this term: the takeover of the switch sends it no
   * snapshot (a slave that cannot use the rebase asks for one; the periodic backup covers a loss).
   */
  readonly #rebased = new Set<string>();
  #lastBackupAt = -Infinity;
  readonly #tombstones = new Tombstones(() => this.#settings.maxTombstones);
  readonly #assembler = new SnapshotAssembler();
  #awaitingSeen = new Set<string>();
  readonly #acksToSend = new Map<string, number>();
  /** Slave: per switch, mirror work waiting for its turn (see #inTurn). */
  readonly #mirrorBacklog = new Map<string, Array<() => void>>();
  #acksScheduled = false;
  /** The slaves whose last ack said they read binary deltas (edit-binary.ts). */
  #readsBinary = new Set<string>();
  #snapSeq = 0;
  /** Slave: which mirrors a takeover may take for the truth, and why (not). */
  readonly #trust = new MirrorTrust();
  /** Slave: when the backup timer last ran (a stalled process may have been counted out by the master). */
  #lastTickAt: number;
  /**
   * Master: devices whose table is the truth at takeover (the mirror was trusted at promotion, or
   * a takeover of it finished in this term); the others are taken over from the switch.
   */
  #tableTrusted = new Set<string>();
  /** Master: why a device's table is not trusted (for the takeover's log line). */
  #untrustedWhy = new Map<string, string>();

  #tickTimer: NodeJS.Timeout | undefined;
  #auditTask: ScheduledTask | undefined;
  #closed = false;
  readonly #counters = emptyCounters();
  readonly #warnings: RateLimitedWarning;

  readonly #listeners: {[E in FlowSwitchEvent]: (...args: RegistryEvents[E]) => void};
  readonly #onBusDown = (reason: string) => {
    if (this.#closed || this.#role === 'master') return;
    this.#distrustAll(`the flow data bus connection was lost (${reason}): backup messages may have been missed`);
  };

  readonly #onDropped = (d: DroppedMessage) => {
    if (this.#closed) return;
    this.#counters.busDropped++;
    this.#warnings.warn(`bus:${d.reason}`, 'flow data bus dropped a message', {event: 'flow_message_dropped', reason: d.reason, routing_key: d.routingKey, bytes: d.bytes, count: this.#counters.busDropped});
  };

  constructor(options: FlowServiceOptions) {
    if (!isInstanceId(options.instId)) throw new RangeError(`instId (${options.instId}) must be an integer from 1 to 65535`);
    if (!/^[A-Za-z0-9_-]+$/.test(options.domain)) throw new RangeError(`domain (${JSON.stringify(options.domain)}) must be letters, digits, '_' or '-'`);
    this.instId = options.instId;
    this.domain = options.domain;
    this.#bus = options.bus;
    this.#switches = options.switches;
    this.#log = options.logger.child({component: 'flows'});
    this.#now = options.nowMs ?? (() => performance.now());
    this.#settings = resolveSettings(options.settings);
    this.#warnings = new RateLimitedWarning(this.#log, 5000, this.#now);
    this.#mirror = this.#newMirror();
    this.#lastTickAt = this.#now();

    this.#bus.subscribe(backupRoutingKey(this.domain), (body, info) => this.#onBus(body, info));
    this.#bus.subscribe(instanceRoutingKey(this.domain, this.instId), (body, info) => this.#onBus(body, info));
    this.#bus.on('dropped', this.#onDropped);
    this.#bus.on('down', this.#onBusDown);

    this.#listeners = {
      'switch-connected': (info) => this.#maybeTakeover(info.datapathId),
      'switch-disconnected': ({datapathId}) => {
        const lane = this.#lanes.get(datapathId);
        if (lane) lane.readyTerm = undefined; // reconnected later: reconciled again (it may have lost flows)
      },
      'role-changed': ({datapathId, role}) => {
        if (role === 'master') this.#maybeTakeover(datapathId);
        else {
          const lane = this.#lanes.get(datapathId);
          if (lane) lane.readyTerm = undefined; // someone else may write there until we get it back
        }
      },
      message: (datapathId, message) => {
        if (message.type === 'FLOW_REMOVED') this.#onFlowRemoved(datapathId, message);
      },
    };
    for (const e of Object.keys(this.#listeners) as FlowSwitchEvent[]) this.#switches.on(e, this.#listeners[e] as never);

    this.#scheduleTick();
    this.#scheduleAudit();
  }

  // -------------------------------------------------------------------------------------------
  // Role and settings
  // -------------------------------------------------------------------------------------------

  get role(): Role {
    return this.#role;
  }

  get term(): number {
    return this.#term;
  }

  get settings(): Readonly<FlowServiceSettings> {
    return this.#settings;
  }

  /** The election's verdict (call on every role_change). liveSlaves: the ids of the live slaves. */
  setRole(role: Role, term: number, liveSlaves: number[] = []): void {
    if (this.#closed) return;
    const wasMaster = this.#role === 'master';
    const previous = this.#role;
    if (role === 'master') {
      if (!wasMaster || term !== this.#term) {
        if (wasMaster) this.#stepDown(`term changed from ${this.#term} to ${term}`);
        this.#checkStall();
        this.#role = 'master';
        this.#term = term;
        this.#liveSlaves = this.#slaveList(liveSlaves);
        this.#promote(term);
        return;
      }
    } else {
      if (wasMaster) this.#stepDown(`role ${role}`);
      this.#role = role;
      this.#term = term;
      // Whatever it was before (unknown after a broker loss or a self-fence, master, nothing at
      // start), an instance that becomes slave may have missed changes: no mirror is trusted until
      // the master's next snapshot of it.
      if (role !== previous) this.#distrustAll(`became ${role} (was ${previous})`);
    }
    this.setLiveSlaves(liveSlaves);
  }

  /** The live slaves changed (peer discovered / expired): the ones acks are awaited from. */
  setLiveSlaves(ids: number[]): void {
    if (this.#closed) return;
    this.#liveSlaves = this.#slaveList(ids);
    const rep = this.#replicator;
    if (!rep) return;
    const before = new Set(rep.slaves());
    rep.setSlaves(this.#liveSlaves.map(String));
    const now = new Set(rep.slaves());
    for (const key of [...this.#late, ...this.#lastAckAt.keys(), ...this.#snapshotsInFlight.keys()]) {
      if (!now.has(key.split('|')[0]!)) {
        this.#late.delete(key);
        this.#lastAckAt.delete(key);
        this.#snapshotsInFlight.delete(key);
      }
    }
    // A new slave is sent every table now rather than at the next period: the requests wait for its acks.
    const added = [...now].filter((s) => !before.has(s));
    if (added.length > 0) {
      this.#log.info('new slaves: sending them every table', {event: 'flow_slaves_changed', added, slaves: [...now]});
      for (const device of rep.devices()) this.#sendSnapshot(rep.device(device), added);
    }
    this.#checkAckWaiters();
  }

  /** Changes settings at runtime (the backup timer and the audit schedule are rescheduled). ownedCookie cannot change. */
  updateSettings(partial: Partial<RuntimeSettings>): void {
    if ('ownedCookie' in partial) throw new RangeError('ownedCookie cannot change at runtime (the tables carry it)');
    const next: FlowServiceSettings = {...this.#settings};
    for (const [k, v] of Object.entries(partial)) if (v !== undefined) (next as unknown as Record<string, unknown>)[k] = v;
    checkSettings(next);
    const prev = this.#settings;
    this.#settings = next;
    if (this.#closed) return;
    if (prev.backupPeriodMs !== next.backupPeriodMs || prev.backupEnabled !== next.backupEnabled) this.#scheduleTick();
    if (prev.auditCron !== next.auditCron) this.#scheduleAudit();
    this.#log.info('flow settings changed', {event: 'flow_settings', ...partial});
  }

  // -------------------------------------------------------------------------------------------
  // Mirror trust (slave): may a takeover take the mirror for the truth?
  // -------------------------------------------------------------------------------------------

  /** Something may have made this instance miss changes: no mirror is trusted until its next snapshot. */
  #distrustAll(why: string): void {
    const had = this.#trust.revokeAll(why);
    if (had > 0) {
      this.#counters.mirrorDistrusted++;
      this.#log.info('mirrors not trusted until the next snapshots: a takeover would take the switches for the truth', {
        event: 'flow_mirror_untrusted', why, devices: had,
      });
    }
  }

  #distrustDevice(device: string, why: string): void {
    if (this.#trust.revoke(device, why)) this.#counters.mirrorDistrusted++;
  }

  /**
   * The backup timer runs every backupPeriodMs; much later means the process was stalled (stopped,
   * starved): the master may have counted this instance out and acknowledged changes without it.
   */
  #checkStall(): void {
    const now = this.#now();
    const late = now - this.#lastTickAt - this.#settings.backupPeriodMs;
    if (this.#role !== 'master' && late > Math.max(1000, this.#settings.ackTimeoutMs / 2)) {
      this.#distrustAll(`this instance was stalled for about ${Math.round(late)} ms: the master may have counted it out`);
    }
  }

  #slaveList(ids: number[]): number[] {
    return [...new Set(ids.filter((id) => isInstanceId(id) && id !== this.instId))].sort((a, b) => a - b);
  }

  #newMirror(): Mirror {
    return new Mirror({ownedCookie: this.#settings.ownedCookie});
  }

  #promote(term: number): void {
    const ownedCookie = this.#settings.ownedCookie;
    this.#tableTrusted = new Set();
    this.#untrustedWhy = new Map();
    for (const device of this.#mirror.devices()) {
      const t = this.#trust.of(device, this.#mirror);
      if (t.trusted) this.#tableTrusted.add(device);
      else this.#untrustedWhy.set(device, t.why);
    }
    this.#trust.clear();
    let rep: FlowReplicator;
    try {
      rep = FlowReplicator.fromMirror(this.#mirror, {term, ownedCookie});
    } catch (error) {
      // The election guarantees a term above any seen; should a mirror know a higher one anyway,
      // keep its tables all the same (they are the best knowledge there is).
      this.#log.error('promoted with a term not above the mirror\'s: taking its tables anyway', {event: 'flow_takeover', term, error: errorText(error)});
      rep = new FlowReplicator({term, ownedCookie});
      for (const [device, table] of this.#mirror.tables()) {
        rep.device(device).table.applyEdits(table.entries().map((entry): TableEdit => ({op: 'put', entry})));
      }
    }
    rep.setSlaves(this.#liveSlaves.map(String));
    this.#replicator = rep;
    this.#late.clear();
    this.#lastAckAt.clear();
    this.#snapshotsInFlight.clear();
    this.#knownMaster = undefined;
    this.#counters.takeovers++;
    for (const lane of this.#lanes.values()) {
      lane.readyTerm = undefined;
      lane.takeoverQueued = false;
    }
    this.#log.info('master: taking over the flow tables', {
      event: 'flow_takeover', term, devices: rep.devices().length, flows: rep.devices().reduce((n, d) => n + rep.device(d).table.size, 0),
      slaves: rep.slaves(), trusted: [...this.#tableTrusted], untrusted: Object.fromEntries(this.#untrustedWhy),
    });
    // The slaves learn the new term from these at once (else from their first snapshot request):
    // a rebase where the table came from the mirror (a slave at that very position needs nothing
    // else), the table whole otherwise.
    this.#rebased.clear();
    for (const device of rep.devices()) {
      const rebase = rep.rebase(device);
      if (rebase && this.#publish(backupRoutingKey(this.domain), {...fromMaster(rebase, this.instId), slaves: this.#ackedSlaves()})) {
        this.#counters.rebasesSent++;
        for (const s of rep.slaves()) this.#rebased.add(`${s}|${device}`);
      } else {
        this.#sendSnapshot(rep.device(device), rep.slaves());
      }
    }
    for (const sw of this.#switches.switches()) this.#maybeTakeover(sw.datapathId);
  }

  #stepDown(why: string): void {
    const rep = this.#replicator;
    this.#replicator = undefined;
    this.#role = 'unknown';
    // Our own tables are the best mirror there is until the next master's snapshots arrive.
    const mirror = this.#newMirror();
    if (rep) for (const device of rep.devices()) mirror.receive(rep.device(device).snapshot());
    this.#mirror = mirror;
    this.#knownMaster = undefined;
    this.#late.clear();
    this.#lastAckAt.clear();
    this.#snapshotsInFlight.clear();
    this.#rebased.clear();
    this.#log.info('master no more: flow requests go to the next master', {event: 'flow_step_down', why, devices: rep?.devices().length ?? 0});
    for (const lane of this.#lanes.values()) {
      lane.readyTerm = undefined;
      lane.takeoverQueued = false;
      for (const item of lane.items.splice(0)) {
        if (item.kind === 'reconcile') item.done(undefined);
        else this.#fail(item.req, new InstanceNotMasterError(this.instId, 'none', `mastership ended (${why}) before the request was sent`));
      }
      for (const go of [...lane.readyWaiters]) go();
    }
    for (const req of [...this.#requests]) {
      if (req.state === 'acking') {
        this.#fail(req, new ProgramTimeoutError(
          'the switch confirmed the flow-mod, but this instance stopped being master before every slave acknowledged it: ' +
            'the next master finds it on the switch (adopted or removed by its takeover policy)',
        ));
      }
    }
    this.#ackWaiters.clear(); // every waiter was just answered
  }

  // -------------------------------------------------------------------------------------------
  // program()
  // -------------------------------------------------------------------------------------------

  async program(dpid: bigint, flowMod: FlowModMessage, options: ProgramOptions = {}): Promise<ProgramResult> {
    this.#counters.requests++;
    if (this.#closed) throw new InstanceNotMasterError(this.instId, 'closed', 'the flow service is closed');
    const rep = this.#replicator;
    if (this.#role !== 'master' || !rep) throw new InstanceNotMasterError(this.instId, this.#role);
    if (this.#switches.roleOn(dpid) === undefined) throw new UnknownSwitchError(dpid);
    const {fm, tableFm} = this.#admit(flowMod);
    const timeoutMs = options.timeoutMs !== undefined && Number.isFinite(options.timeoutMs) && options.timeoutMs > 0
      ? options.timeoutMs : this.#settings.requestTimeoutMs;
    const lane = this.#lane(dpid);
    return new Promise<ProgramResult>((resolve, reject) => {
      const req: Request = {dpid, device: lane.device, fm, tableFm, term: rep.term, timeoutMs, state: 'waiting', resolve, reject, timer: undefined};
      this.#requests.add(req);
      req.timer = setTimeout(() => this.#onRequestTimeout(req), timeoutMs);
      unref(req.timer);
      if (lane.readyTerm === rep.term) {
        this.#enqueue(lane, req);
        return;
      }
      // A takeover of this switch is pending or running: wait for it, boundedly, then go anyway.
      let waitTimer: NodeJS.Timeout | undefined;
      const go = () => {
        lane.readyWaiters.delete(go);
        clearTimeout(waitTimer);
        req.cancelWait = undefined;
        if (req.state === 'waiting') this.#enqueue(lane, req);
      };
      req.cancelWait = () => {
        lane.readyWaiters.delete(go);
        clearTimeout(waitTimer);
      };
      lane.readyWaiters.add(go);
      waitTimer = setTimeout(go, this.#settings.takeoverWaitMs);
      unref(waitTimer);
    });
  }

  /**
   * Checks a flow-mod before it may go to a switch; returns it as it will be sent, and the same
   * with the match and instructions the check put in canonical form, for the table to apply
   * without normalizing them again.
   */
  #admit(flowMod: FlowModMessage): {fm: FlowModMessage; tableFm: FlowModMessage} {
    if (flowMod === null || typeof flowMod !== 'object' || flowMod.type !== 'FLOW_MOD') {
      throw new SwitchRefusedError('expected a FLOW_MOD message', 'FLOWKEEPER_BAD_REQUEST');
    }
    // The table model's static checks: nothing but the message itself is judged.
    const valid = validateFlowMod(flowMod);
    if (!valid.ok) {
      this.#counters.refused++;
      throw new SwitchRefusedError(`refused before sending: ${describeError(valid.error)}: ${valid.error.reason}`, errorName(valid.error.errorType, valid.error.code));
    }
    const fm = copyFlowMod(flowMod);
    fm.xid = 0;
    const ns = this.#settings.ownedCookie;
    if (ns.mask !== 0n) {
      if (fm.command === OFP.OFPFC_ADD) {
        if (!cookieInNamespace(fm.cookie, ns)) {
          this.#counters.refused++;
          throw new ForeignCookieError(fm.cookie, ns, 'ADD with');
        }
      } else {
        // MODIFY and DELETE are narrowed to the owned namespace: a broad delete must not remove
        // what others installed (and the table, which holds only owned flows, must select what
        // the switch selects). A selection that can only match foreign cookies is refused.
        const both = fm.cookieMask & ns.mask;
        if (((fm.cookie ^ ns.value) & both) !== 0n) {
          this.#counters.refused++;
          throw new ForeignCookieError(fm.cookie, ns, 'a selection by');
        }
        fm.cookie = (fm.cookie & ~ns.mask) | ns.value;
        fm.cookieMask |= ns.mask;
      }
    }
    try {
      // One bad message must not fail its whole batch at the switch connection; the bytes are kept
      // for the connection to send (fm is not changed after this).
      preEncode(fm);
    } catch (error) {
      this.#counters.refused++;
      throw new SwitchRefusedError(`cannot be encoded: ${errorText(error)}`, 'FLOWKEEPER_ENCODE');
    }
    const tableFm = copyFlowMod(fm);
    tableFm.match = valid.match;
    tableFm.instructions = valid.instructions;
    return {fm, tableFm};
  }

  #lane(dpid: bigint): Lane {
    let lane = this.#lanes.get(dpid);
    if (!lane) {
      lane = {
        dpid, device: deviceId(dpid), items: [], running: false, kicked: false, readyTerm: undefined, takeoverQueued: false,
        takeoverIncomplete: false, readyWaiters: new Set(),
      };
      this.#lanes.set(dpid, lane);
    }
    return lane;
  }

  #enqueue(lane: Lane, req: Request): void {
    if (req.state === 'done') return;
    if (this.#role !== 'master' || this.#term !== req.term || this.#closed) {
      this.#fail(req, new InstanceNotMasterError(this.instId, this.#role, 'mastership ended before the request was sent'));
      return;
    }
    req.state = 'queued';
    lane.items.push({kind: 'request', req});
    this.#kick(lane);
  }

  /** Runs the lane soon: requests made in the same turn of the event loop join one batch. */
  #kick(lane: Lane): void {
    if (lane.running || lane.kicked) return;
    lane.kicked = true;
    void Promise.resolve().then(() => {
      lane.kicked = false;
      void this.#pump(lane);
    });
  }

  async #pump(lane: Lane): Promise<void> {
    if (lane.running) return;
    lane.running = true;
    try {
      while (lane.items.length > 0 && !this.#closed) {
        const head = lane.items[0]!;
        if (head.kind === 'reconcile') {
          lane.items.shift();
          head.done(await this.#reconcileLane(lane, head.mode));
          continue;
        }
        const batch: Request[] = [];
        while (batch.length < this.#settings.maxBatch && lane.items.length > 0 && lane.items[0]!.kind === 'request') {
          const {req} = lane.items.shift() as {kind: 'request'; req: Request};
          if (req.state === 'queued') batch.push(req);
        }
        if (batch.length > 0) await this.#runBatch(lane, batch);
      }
    } catch (error) {
      this.#log.error('flow lane failed', {event: 'flow_internal_error', dpid: lane.device, error: errorText(error), stack: (error as Error)?.stack});
    } finally {
      lane.running = false;
      if (lane.items.length > 0 && !this.#closed) this.#kick(lane);
    }
  }

  async #runBatch(lane: Lane, batch: Request[]): Promise<void> {
    const rep = this.#replicator;
    if (!rep || this.#role !== 'master') {
      for (const req of batch) this.#fail(req, new InstanceNotMasterError(this.instId, this.#role, 'mastership ended before the request was sent'));
      return;
    }
    for (const req of batch) req.state = 'sent';
    this.#counters.batches++;
    this.#counters.flowModsSent += batch.length;
    let results: Array<OpenFlowError | undefined>;
    try {
      results = await this.#switches.sendModifications(lane.dpid, batch.map((r) => r.fm), {timeoutMs: this.#settings.switchTimeoutMs});
    } catch (error) {
      const mapped = this.#sendError(error, lane.dpid);
      for (const req of batch) this.#fail(req, mapped);
      if (error instanceof SwitchTimeoutError) void this.#auditLane(lane); // the switch may hold part of the batch: bring it back in line
      return;
    }
    const current = rep === this.#replicator;
    const log = rep.device(lane.device);
    const deltas: FlowDelta[] = [];
    const acking: Array<[Request, number]> = [];
    batch.forEach((req, i) => {
      const refusal = results[i];
      if (refusal?.is(OFP.OFPET_BAD_REQUEST, OFP.OFPBRC_IS_SLAVE)) {
        // Not a verdict on the request: the switch has another master now (nothing applied).
        this.#fail(req, new SwitchDemotedError(this.instId, lane.device));
        return;
      }
      if (refusal) {
        this.#counters.refused++;
        this.#fail(req, new SwitchRefusedError(`switch ${lane.device} refused the flow-mod: ${describeError(refusal)}`, refusal.codeName));
        return;
      }
      let applied = log.apply(req.tableFm);
      // The switch is the judge of overlaps: it accepted, so the table takes it.
      if (!applied.ok && (req.tableFm.flags & CHECK_OVERLAP) !== 0) applied = log.apply({...req.tableFm, flags: req.tableFm.flags & ~CHECK_OVERLAP});
      if (!applied.ok) {
        this.#counters.modelDisagreements++;
        this.#log.error('the switch accepted a flow-mod that the table model refuses; auditing the switch', {
          event: 'flow_model_disagreement', dpid: lane.device, reason: applied.error.reason, error: describeError(applied.error),
        });
        this.#fail(req, new ProgramTimeoutError(`the switch accepted the flow-mod but the flow table refuses it (${applied.error.reason}); an audit will bring the switch back in line with the table`));
        void this.#auditLane(lane);
        return;
      }
      this.#tombstones.record(lane.device, applied.changes);
      if (applied.delta) deltas.push(applied.delta);
      acking.push([req, applied.delta?.version ?? log.version]);
    });
    if (current && !this.#publishDeltas(deltas)) this.#sendSnapshot(log, rep.slaves());
    for (const [req, version] of acking) this.#awaitAcks(req, lane.device, version);
  }

  /**
   * A switch reports that a flow of ours timed out (it was installed with OFPFF_SEND_FLOW_REM): the
   * table drops it too, and the mirrors with it, instead of holding it until the next audit.
   * Handled at once, in the order the switch sent it: a batch whose barrier is still awaited is
   * applied to the table after this, as the switch applied it after the expiry. Only timeouts: a
   * removal by a DELETE is either ours (the table applies it with its request) or someone else's
   * (the audit puts the flow back). Only the entry with this identity AND this cookie goes: one
   * replaced meanwhile by an ADD with another cookie stays. Not during a takeover (its
   * reconciliation drops timed entries the switch no longer has).
   */
  #onFlowRemoved(dpid: bigint, m: FlowRemovedMessage): void {
    if (m.reason !== OFP.OFPRR_IDLE_TIMEOUT && m.reason !== OFP.OFPRR_HARD_TIMEOUT) return;
    const rep = this.#replicator;
    const lane = this.#lanes.get(dpid);
    if (this.#closed || this.#role !== 'master' || !rep || !lane || lane.readyTerm !== rep.term) return;
    const log = rep.device(lane.device);
    const applied = log.apply({
      type: 'FLOW_MOD', xid: 0, cookie: m.cookie, cookieMask: 0xffffffffffffffffn, tableId: m.tableId, command: OFP.OFPFC_DELETE_STRICT,
      idleTimeout: 0, hardTimeout: 0, priority: m.priority, bufferId: OFP.OFP_NO_BUFFER, outPort: OFP.OFPP_ANY, outGroup: OFP.OFPG_ANY,
      flags: 0, match: m.match, instructions: [],
    });
    if (!applied.ok || !applied.delta) return;
    this.#counters.expiredBySwitch++;
    this.#log.debug('the switch reported a flow expired: dropped from the table', {
      event: 'flow_expired', dpid: lane.device, priority: m.priority, table_id: m.tableId, reason: m.reason === OFP.OFPRR_IDLE_TIMEOUT ? 'idle_timeout' : 'hard_timeout',
      version: applied.delta.version,
    });
    if (!this.#publishDeltas([applied.delta])) this.#sendSnapshot(log, rep.slaves());
  }

  #sendError(error: unknown, dpid: bigint): Error {
    const hex = formatDpid(dpid);
    if (error instanceof SwitchNotConnectedError) return new UnknownSwitchError(dpid);
    if (error instanceof NotMasterError) {
      return new NoMasterError(`switch ${hex} has not confirmed instance ${this.instId} as its master (role held: ${error.heldRole}); retry once the switch and the election agree`);
    }
    if (error instanceof SwitchTimeoutError) return new ProgramTimeoutError(`switch ${hex} did not confirm within ${error.timeoutMs} ms: the flow-mod may or may not be applied`);
    if (error instanceof ConnectionClosedError) return new ProgramTimeoutError(`the connection to switch ${hex} closed before it confirmed (${error.reason}): the flow-mod may or may not be applied`);
    return new ProgramTimeoutError(`sending to switch ${hex} failed (${errorText(error)}): the flow-mod may or may not be applied`);
  }

  /** The version's acks from every live slave, then resolve. */
  #awaitAcks(req: Request, device: string, version: number): void {
    if (req.state === 'done') return;
    const rep = this.#replicator;
    if (!rep || rep.term !== req.term) {
      this.#fail(req, new ProgramTimeoutError('the switch confirmed the flow-mod, but this instance stopped being master before every slave acknowledged it'));
      return;
    }
    if (rep.pendingAcks(device, version).length === 0) {
      this.#succeed(req, version);
      return;
    }
    req.state = 'acking';
    const waiter: AckWaiter = {req, device, version, timer: undefined};
    waiter.timer = setTimeout(() => this.#onAckTimeout(waiter), this.#settings.ackTimeoutMs);
    unref(waiter.timer);
    req.ack = waiter;
    this.#ackWaiters.add(device, waiter);
  }

  #checkAckWaiters(device?: string): void {
    const rep = this.#replicator;
    if (!rep) return;
    const devices = device === undefined ? this.#ackWaiters.devices() : [device];
    for (const d of devices) {
      for (const w of this.#ackWaiters.release(d, rep.confirmedByAll(d), isWaiting)) this.#succeed(w.req, w.version);
    }
  }

  /**
   * A live slave did not confirm in time. The request resolves all the same, and the slave gets
   * the device's table whole at the next backup (at once when periodic backups are off).
   *
   * Why resolve rather than fail: the switch has confirmed the change, so it is in effect;
   * failing would tell the caller it did not happen, and nothing could take it back. Waiting
   * longer would let one slow slave stall every writer. A slave that died is out of the slave
   * set within the election's failure detection, below the default ackTimeoutMs, so this only
   * concerns a live but slow slave; the risk is that exactly this slave takes over before its
   * snapshot lands. Then an added flow survives anyway (its takeover finds it on the switch and
   * adopts it); only a delete could come back, and the warning logged here says so.
   */
  #onAckTimeout(w: AckWaiter): void {
    const rep = this.#replicator;
    if (w.req.state !== 'acking') return;
    const pending = rep ? rep.pendingAcks(w.device, w.version) : [];
    this.#counters.acksLate += pending.length;
    const fresh: string[] = [];
    for (const s of pending) {
      const key = `${s}|${w.device}`;
      if (!this.#late.has(key)) fresh.push(s);
      this.#late.add(key);
      this.#warnings.warn(`late:${s}`, "a slave's mirror did not acknowledge in time: the request is answered anyway, the slave gets a snapshot", {
        event: 'flow_ack_late', slave: Number(s), dpid: w.device, version: w.version, ack_timeout_ms: this.#settings.ackTimeoutMs, acks_late: this.#counters.acksLate,
      });
    }
    if (rep && fresh.length > 0 && !this.#settings.backupEnabled) this.#sendSnapshot(rep.device(w.device), fresh);
    this.#succeed(w.req, w.version);
  }

  #onRequestTimeout(req: Request): void {
    const ms = req.timeoutMs;
    switch (req.state) {
      case 'waiting':
      case 'queued':
        this.#fail(req, new ProgramTimeoutError(`not sent to switch ${req.device} within ${ms} ms (a takeover or earlier requests held it): nothing was applied`));
        break;
      case 'sent':
        this.#fail(req, new ProgramTimeoutError(`switch ${req.device} did not confirm within ${ms} ms: the flow-mod may or may not be applied`));
        break;
      case 'acking':
        this.#fail(req, new ProgramTimeoutError(`the switch applied the flow-mod but not every slave acknowledged it within ${ms} ms`));
        break;
      default:
    }
  }

  #settle(req: Request): boolean {
    if (req.state === 'done') return false;
    req.state = 'done';
    clearTimeout(req.timer);
    req.cancelWait?.();
    if (req.ack) {
      clearTimeout(req.ack.timer);
      // Left in #ackWaiters: dropped when it reaches the front.
    }
    this.#requests.delete(req);
    return true;
  }

  #succeed(req: Request, version: number): void {
    if (this.#settle(req)) req.resolve({masterId: this.instId, term: req.term, version});
  }

  #fail(req: Request, error: Error): void {
    if (this.#settle(req)) req.reject(error);
  }

  // -------------------------------------------------------------------------------------------
  // Publishing
  // -------------------------------------------------------------------------------------------

  #publish(routingKey: string, body: Record<string, unknown> | JsonText, type = body instanceof JsonText ? undefined : body.type): boolean {
    const ok = this.#bus.publish(routingKey, body);
    if (!ok) {
      this.#counters.publishFailed++;
      this.#warnings.warn('publish', 'a backup message could not be published (data bus down, or larger than its limit)', {
        event: 'flow_publish_failed', routing_key: routingKey, type, publish_failed: this.#counters.publishFailed,
      });
    }
    return ok;
  }

  /**
   * Publishes consecutive deltas of one device (a batch's), as few messages as chunkBytes allows:
   * one message carries a run of versions (from..version). False when one delta alone is larger
   * than chunkBytes: the rest is not sent, send the table whole instead.
   */
  #publishDeltas(deltas: readonly FlowDelta[]): boolean {
    if (deltas.length === 0) return true;
    const slaves = this.#ackedSlaves();
    // What the message holds besides its edits: v, type, device, term, versions, master, slaves.
    const limit = this.#settings.chunkBytes - 200 - jsonBytes(slaves);
    const {device, term} = deltas[0]!;
    // Binary only when every slave waited for has said it reads it (an older slave would drop it).
    const binary = slaves.every((id) => this.#readsBinary.has(String(id)));
    let run: {device: string; term: number; from: number; version: number; bin: Buffer[]; bytes: number} | undefined;
    const flush = () => {
      if (!run) return;
      this.#counters.deltasSent += run.version - run.from + 1;
      this.#counters.deltaMessagesSent++;
      this.#publish(backupRoutingKey(this.domain), new JsonText(deltaRunText(run, this.instId, slaves)), 'flow-delta');
      run = undefined;
    };
    for (const d of deltas) {
      const bin = binary ? encodeEdits(d.edits) : undefined;
      if (!bin) {
        // For a slave that reads JSON only, or an edit the binary form cannot carry exactly
        // (odd-sized experimenter data): JSON, a delta a message.
        flush();
        const body = {...fromMaster(d, this.instId), slaves};
        if (jsonBytes(body) > this.#settings.chunkBytes) {
          this.#counters.deltasOversize++;
          return false;
        }
        this.#counters.deltasSent += d.version - firstVersion(d) + 1;
        this.#counters.deltaMessagesSent++;
        this.#publish(backupRoutingKey(this.domain), body);
        continue;
      }
      if (base64Length(bin.length) > limit) {
        flush();
        this.#counters.deltasOversize++;
        return false;
      }
      if (run && base64Length(run.bytes + bin.length) > limit) flush();
      if (!run) run = {device, term, from: firstVersion(d), version: d.version, bin: [], bytes: 0};
      run.bin.push(bin);
      run.version = d.version;
      run.bytes += bin.length;
    }
    flush();
    return true;
  }

  /**
   * The slaves whose acks this master waits for, carried by every delta and snapshot: a slave not
   * listed knows its mirror may miss acknowledged changes (it is not trusted at a takeover).
   */
  #ackedSlaves(): number[] {
    return this.#replicator ? this.#replicator.slaves().map(Number) : [];
  }

  /**
   * The device's table whole (in parts when large) to each of `slaves` — but not to a slave that
   * has this device at this (or a newer) version in flight: sent less than ackTimeoutMs ago and
   * not acknowledged (see #snapshotsInFlight). A lost one goes again once that window passed.
   */
  #sendSnapshot(log: DeviceLog, slaves: readonly string[], periodic?: {now: number; lastBackupAt: number}): void {
    if (slaves.length === 0) return;
    const now = periodic?.now ?? this.#now();
    const windowMs = this.#settings.ackTimeoutMs;
    const targets = slaves.filter((s) => {
      const f = this.#snapshotsInFlight.get(`${s}|${log.device}`);
      if (!f || f.term !== log.term || f.version < log.version || now - f.atMs >= windowMs) return true;
      // The ONOS rule: once per period to a slave that has not confirmed the version — unless one
      // went to it since the last period (at promotion, takeover, on request, as a new slave).
      return periodic !== undefined && f.atMs <= periodic.lastBackupAt;
    });
    this.#counters.snapshotsDeduped += slaves.length - targets.length;
    if (targets.length === 0) return;
    const snap = `${this.instId}-${++this.#snapSeq}`;
    for (const s of targets) this.#snapshotsInFlight.set(`${s}|${log.device}`, {term: log.term, version: log.version, atMs: now, snap});
    this.#counters.snapshotsSent += targets.length;
    // Entries are immutable (a change replaces them): this array is the table at this version.
    const src = {device: log.device, term: log.term, version: log.version, entries: log.table.entries()};
    void this.#publishSnapshot(src, targets, this.#ackedSlaves(), snap).catch((error: unknown) => {
      this.#log.error('sending a snapshot failed', {event: 'flow_internal_error', dpid: src.device, error: errorText(error)});
    });
  }

  /**
   * Serialises a snapshot in slices and publishes it part by part, yielding to the event loop
   * between slices and parts, so that a large table never blocks the loop (election keep-alives,
   * acks, requests) for long. A slave whose copy was superseded (a newer snapshot to it, its ack,
   * a new term) is sent no more parts of this one.
   */
  async #publishSnapshot(
    src: {device: string; term: number; version: number; entries: readonly FlowEntry[]}, slaves: readonly string[], waitedFor: number[], snap: string,
  ): Promise<void> {
    const rep = this.#replicator;
    const current = (slave: string): boolean =>
      !this.#closed && this.#replicator === rep && this.#snapshotsInFlight.get(`${slave}|${src.device}`)?.snap === snap;
    let sliceStart = this.#now();
    /** Time for a turn of the event loop (at most every SNAPSHOT_SLICE_MS). */
    const sliceOver = (): boolean => this.#now() - sliceStart >= SNAPSHOT_SLICE_MS;
    const entries: FlowEntryJson[] = new Array(src.entries.length);
    const sizes: number[] = new Array(src.entries.length);
    for (let i = 0; i < src.entries.length; i++) {
      if (i % 64 === 0 && sliceOver()) {
        await yieldToLoop();
        sliceStart = this.#now();
        if (!slaves.some(current)) return;
      }
      const json = entryToJson(src.entries[i]!);
      entries[i] = json;
      sizes[i] = Buffer.byteLength(JSON.stringify(json), 'utf8') + 1;
    }
    const messages = snapshotMessages({...src, entries}, this.instId, snap, this.#settings.chunkBytes, sizes);
    for (const m of messages) m.slaves = waitedFor;
    if (messages.length > 1) this.#counters.snapshotPartsSent += messages.length * slaves.length;
    for (let i = 0; i < messages.length; i++) {
      if (sliceOver()) {
        await yieldToLoop();
        sliceStart = this.#now();
      }
      for (const slave of slaves) if (current(slave)) this.#publish(instanceRoutingKey(this.domain, slave), messages[i]!);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Receiving
  // -------------------------------------------------------------------------------------------

  #onBus(body: unknown, _info: DeliveryInfo): void {
    if (this.#closed) return;
    const o = body as Record<string, unknown>;
    if (o.master === this.instId && this.#role === 'master') return; // our own deltas, back from the exchange
    // A large table is read and applied in a turn of the event loop of its own (see #inTurn), and
    // what comes after it for the same switch waits for it.
    if (this.#role !== 'master' && (o.type === 'flow-snapshot' || o.type === 'flow-delta' || o.type === 'flow-rebase')
      && (this.#mirrorBacklog.has(String(o.device)) || (o.type === 'flow-snapshot' && snapshotEntries(o.table) >= LARGE_SNAPSHOT_ENTRIES))) {
      if (o.type === 'flow-snapshot' && isInstanceId(o.master)) {
        const master = o.master;
        this.#inTurn(String(o.device), () => this.#readAndApplySnapshot(o, master, slavesOf(o.slaves)));
      } else {
        this.#inTurn(String(o.device), () => this.#onBusNow(o));
      }
      return;
    }
    this.#onBusNow(o);
  }

  /**
   * Mirror work for one switch in a turn of the event loop of its own, in arrival order: a table of
   * thousands of flows takes long enough to read and apply that several at once (a slave that
   * joins gets every table) would hold the election's keep-alives back and fence this instance.
   */
  #inTurn(device: string, work: () => void | Promise<void>): void {
    const backlog = this.#mirrorBacklog.get(device);
    if (backlog) {
      backlog.push(work);
      return;
    }
    const queue = [work];
    this.#mirrorBacklog.set(device, queue);
    const failed = (error: unknown): void => {
      this.#log.error('applying a backup message failed', {event: 'flow_internal_error', dpid: device, error: errorText(error)});
    };
    const after = (): void => {
      if (queue.length > 0 && !this.#closed) setImmediate(next);
      else this.#mirrorBacklog.delete(device);
    };
    const next = (): void => {
      const item = queue.shift();
      let running: void | Promise<void> = undefined;
      if (item && !this.#closed && this.#role !== 'master') {
        try {
          running = item();
        } catch (error) {
          failed(error);
        }
      }
      // Work that reads a table in slices is finished before the next item starts.
      if (running instanceof Promise) void running.catch(failed).then(after);
      else after();
    };
    setImmediate(next);
  }

  #onBusNow(o: Record<string, unknown>): void {
    const body: unknown = o;
    try {
      if (o.type === SNAPSHOT_PART) {
        this.#onSnapshotPart(o);
        return;
      }
      const parsed = parseBackupMessage(body);
      if (!parsed.ok) {
        this.#malformed(parsed.reason, o.type);
        return;
      }
      const m = parsed.message;
      switch (m.type) {
        case 'flow-delta':
        case 'flow-snapshot':
        case 'flow-rebase':
          if (!isInstanceId(o.master)) {
            this.#malformed('master: expected an instance id 1..65535', m.type);
            return;
          }
          if (this.#role !== 'master') this.#mirrorReceive(m, o.master, slavesOf(o.slaves));
          return;
        case 'flow-ack': {
          const rep = this.#replicator;
          if (!rep) return;
          this.#counters.acksReceived++;
          rep.recordAck(m);
          // Each ack says whether its slave reads binary deltas (older code says nothing: JSON for it).
          if (o.bin === true) this.#readsBinary.add(m.from);
          else this.#readsBinary.delete(m.from);
          const key = `${m.from}|${m.device}`;
          if (rep.ackedVersion(m.from, m.device) === m.version && m.term === rep.term) {
            const inFlight = this.#snapshotsInFlight.get(key);
            if (inFlight && inFlight.term === m.term && m.version >= inFlight.version) this.#snapshotsInFlight.delete(key);
            this.#lastAckAt.set(key, this.#now());
            if (rep.has(m.device) && m.version >= rep.device(m.device).version) this.#late.delete(key);
          }
          this.#checkAckWaiters(m.device);
          return;
        }
        case 'flow-snapshot-request': {
          const rep = this.#replicator;
          if (!rep) return;
          const to = instanceIdOf(m.from);
          if (to === undefined) {
            this.#malformed('from: expected an instance id 1..65535', m.type);
            return;
          }
          if (!rep.has(m.device)) return; // a device this master has no table of
          this.#counters.snapshotRequestsAnswered++;
          this.#sendSnapshot(rep.device(m.device), [String(to)]);
          return;
        }
      }
    } catch (error) {
      this.#malformed(`unreadable: ${errorText(error)}`, o.type);
    }
  }

  #malformed(reason: string, type: unknown): void {
    this.#counters.malformedDropped++;
    this.#warnings.warn('malformed', 'dropped a malformed backup message', {
      event: 'flow_message_dropped', reason, type: typeof type === 'string' ? type.slice(0, 40) : undefined, malformed_dropped: this.#counters.malformedDropped,
    });
  }

  #onSnapshotPart(o: Record<string, unknown>): void {
    const parsed = parseSnapshotPart(o);
    if (!parsed.ok) {
      this.#malformed(parsed.reason, SNAPSHOT_PART);
      return;
    }
    if (this.#role === 'master') return;
    const p = parsed.part;
    const at = this.#mirror.position(p.device);
    if (at && at.term === p.term && at.version >= p.version) {
      // Already there (our ack was lost, or this is a re-send): confirm again, read nothing.
      if (p.part === 0) {
        this.#trustOnSnapshot(p.device, p.term, slavesOf(o.slaves));
        this.#queueAck(p.device, p.master);
      }
      return;
    }
    const r = this.#assembler.add(p, this.#now());
    if (r.status === 'inconsistent') this.#malformed('parts: disagrees with the other parts of its snapshot', SNAPSHOT_PART);
    if (r.status !== 'complete') return;
    if (this.#mirrorBacklog.has(p.device) || snapshotEntries(r.message.table) >= LARGE_SNAPSHOT_ENTRIES) {
      this.#inTurn(p.device, () => this.#readAndApplySnapshot(r.message, r.master, slavesOf(o.slaves), 'assembled snapshot: '));
      return;
    }
    const whole = parseBackupMessage(r.message);
    if (!whole.ok) {
      this.#malformed(`assembled snapshot: ${whole.reason}`, SNAPSHOT_PART);
      return;
    }
    this.#mirrorReceive(whole.message as FlowSnapshot, r.master, slavesOf(o.slaves));
  }

  /**
   * Trust rules, per device: a snapshot of the mirror's term that lists this instance among the
   * slaves the master waits for makes it trusted (if no gap remains); a delta or snapshot that does
   * not list it distrusts every device (the master acknowledges without this instance); a gap
   * distrusts the device until a snapshot.
   */
  #mirrorReceive(m: MirrorMessage, master: number, slaves: number[] | undefined): void {
    if (m.type === 'flow-snapshot') {
      this.#counters.snapshotsReceived++;
      this.#assembler.supersede(m.device, m.term, m.version);
    } else if (m.type === 'flow-rebase') {
      this.#counters.rebasesReceived++;
    } else {
      this.#counters.deltasReceived++;
    }
    const out = this.#mirror.receive(m);
    if (out.status === 'rebased') this.#assembler.supersede(m.device, m.term, m.version);
    if (out.status === 'unbased') {
      this.#counters.rebasesUnusable++;
      this.#distrustDevice(m.device, 'the new master\'s table did not start from this mirror\'s position: waiting for its snapshot');
      this.#log.info('the new master\'s rebase does not start from this mirror: asking for a snapshot', {
        event: 'flow_rebase_unusable', dpid: m.device, term: m.term, ...(m.type === 'flow-rebase' ? {base: m.base} : {}), at: this.#mirror.position(m.device),
      });
    }
    if (out.status === 'stale') {
      this.#counters.staleIgnored++;
      return;
    }
    if (!this.#knownMaster || m.term >= this.#knownMaster.term) this.#knownMaster = {id: master, term: m.term};
    if (!slaves?.includes(this.instId)) {
      if (this.#trust.size > 0 || this.#trust.reasonForAll !== NOT_LISTED) this.#distrustAll(NOT_LISTED);
    } else if (out.status === 'buffered') {
      this.#distrustDevice(m.device, 'a gap in the deltas, not repaired by a snapshot yet');
    } else if (m.type === 'flow-snapshot' || out.status === 'rebased') {
      this.#trustOnSnapshot(m.device, m.term, slaves);
    }
    this.#tombstones.record(m.device, out.changes);
    if (out.needSnapshot) this.#requestSnapshot(m.device, master);
    // A run of many versions (a batch) is acknowledged at once: the runs after it in the same read
    // from the socket would otherwise hold its ack back (and the requests waiting for it).
    if (out.position) this.#queueAck(m.device, master, m.type !== 'flow-delta' || m.version - firstVersion(m) + 1 >= ACK_AT_ONCE_VERSIONS);
    // As early as possible in a slave's life: not when it may be promoted at any moment.
    if (!this.#rehearsed && this.#role === 'slave' && (out.changes.length > 0 || m.type === 'flow-snapshot')) this.#maybeRehearseTakeover();
  }

  #trustOnSnapshot(device: string, term: number, slaves: number[] | undefined): void {
    if (this.#role === 'master' || !slaves?.includes(this.instId)) return;
    const pos = this.#mirror.position(device);
    if (!pos || pos.term !== term || this.#mirror.awaitingSnapshot().includes(device)) return;
    this.#trust.grant(device, term);
  }

  #requestSnapshot(device: string, master: number): void {
    this.#counters.snapshotRequestsSent++;
    this.#publish(instanceRoutingKey(this.domain, master), backupMessageToJson(this.#mirror.snapshotRequest(device, String(this.instId))));
  }

  /**
   * Acks are cumulative: one per device per turn of the event loop, however many deltas came —
   * except after a run of at least ACK_AT_ONCE_VERSIONS versions, a snapshot or a rebase: at once.
   */
  #queueAck(device: string, master: number, now = false): void {
    if (now) {
      this.#acksToSend.delete(device);
      this.#sendAck(device, master);
      return;
    }
    this.#acksToSend.set(device, master);
    if (this.#acksScheduled) return;
    this.#acksScheduled = true;
    // process.nextTick, not a promise: the acks of the messages read from the socket go out right
    // after them, ahead of the promise continuations those messages released (on a slave that
    // serves REST, the HTTP answers to forwarded requests), which would otherwise delay every ack.
    process.nextTick(() => {
      this.#acksScheduled = false;
      for (const [device, to] of this.#acksToSend) this.#sendAck(device, to);
      this.#acksToSend.clear();
    });
  }

  #sendAck(device: string, to: number): void {
    if (this.#closed || this.#role === 'master') return;
    const ack = this.#mirror.ack(device, String(this.instId));
    if (!ack) return;
    this.#counters.acksSent++;
    this.#publish(instanceRoutingKey(this.domain, to), {...backupMessageToJson(ack), bin: true});
  }

  // -------------------------------------------------------------------------------------------
  // Backup period
  // -------------------------------------------------------------------------------------------

  #scheduleTick(): void {
    clearTimeout(this.#tickTimer);
    this.#tickTimer = undefined;
    this.#lastTickAt = this.#now();
    if (this.#closed) return;
    this.#tickTimer = setTimeout(() => {
      this.#tickTimer = undefined;
      try {
        this.#tick();
      } catch (error) {
        this.#log.error('flow backup period failed', {event: 'flow_internal_error', error: errorText(error)});
      }
      this.#scheduleTick();
    }, this.#settings.backupPeriodMs);
    unref(this.#tickTimer);
  }

  #tick(): void {
    this.#checkStall();
    const now = this.#now();
    this.#lastTickAt = now;
    if (this.#role === 'master') {
      if (this.#settings.backupEnabled) this.#periodicBackup(now);
      return;
    }
    // Slave: ask again for snapshots still missing a whole period later (a request or its answer was lost).
    const awaiting = new Set(this.#mirror.awaitingSnapshot());
    for (const device of awaiting) {
      if (this.#awaitingSeen.has(device) && this.#knownMaster) this.#requestSnapshot(device, this.#knownMaster.id);
    }
    this.#awaitingSeen = awaiting;
    // A mirror not trusted (this instance rejoined, lost the bus, was counted out...) asks for a
    // snapshot: the master's answer lists the slaves it waits for, and trusts it again if listed.
    if (this.#role === 'slave' && this.#knownMaster) {
      for (const device of this.#mirror.devices()) {
        if (!awaiting.has(device) && !this.#trust.of(device, this.#mirror).trusted) this.#requestSnapshot(device, this.#knownMaster.id);
      }
    }
    this.#assembler.expire(now, 3 * this.#settings.backupPeriodMs);
  }

  /** Once in this process's life, as soon as its mirror holds enough flows (see rehearsal.ts). */
  #maybeRehearseTakeover(): void {
    if (this.#rehearsed) return;
    let largest: FlowTable | undefined;
    for (const table of this.#mirror.tables().values()) if (!largest || table.size > largest.size) largest = table;
    if (!largest || largest.size < REHEARSAL_MIN_FLOWS) return;
    this.#rehearsed = true;
    const entries: FlowEntry[] = [];
    for (const [, entry] of largest.keyedUnordered()) {
      entries.push(entry);
      if (entries.length === REHEARSAL_FLOWS) break;
    }
    const ownedCookie = this.#settings.ownedCookie;
    const started = this.#now();
    let rounds = 0;
    let inLine = 0;
    const round = (): void => {
      if (this.#closed || this.#role !== 'slave') return;
      try {
        inLine = rehearseTakeover(entries, ownedCookie);
      } catch (error) {
        this.#log.warn('rehearsing a takeover failed (a real one would take the same path)', {event: 'flow_internal_error', error: errorText(error)});
        return;
      }
      if (++rounds < REHEARSAL_ROUNDS) {
        setImmediate(round);
        return;
      }
      this.#log.debug('rehearsed a takeover on copies of the mirror', {
        event: 'flow_takeover_rehearsed', flows: entries.length, in_line: inLine, rounds, ms: Math.round(this.#now() - started),
      });
    };
    setImmediate(round);
  }

  /**
   * The ONOS rule with versions: a device goes whole to each slave that has not confirmed its
   * current version — unless that slave's acks for it keep coming (one since the last backup)
   * and it is not marked late: then the missing versions are merely in flight.
   */
  #periodicBackup(now: number): void {
    const rep = this.#replicator;
    if (!rep) return;
    for (const device of rep.devices()) {
      const log = rep.device(device);
      const targets = rep.slaves().filter((s) => {
        const key = `${s}|${device}`;
        const acked = rep.ackedVersion(s, device);
        if (acked !== undefined && acked >= log.version) {
          this.#late.delete(key);
          return false;
        }
        if (acked === undefined || this.#late.has(key)) return true;
        const lastAck = this.#lastAckAt.get(key);
        return lastAck === undefined || lastAck < this.#lastBackupAt;
      });
      if (targets.length > 0) this.#sendSnapshot(log, targets, {now, lastBackupAt: this.#lastBackupAt});
    }
    this.#lastBackupAt = now;
  }

  // -------------------------------------------------------------------------------------------
  // Takeover and audit
  // -------------------------------------------------------------------------------------------

  #maybeTakeover(dpid: bigint): void {
    const rep = this.#replicator;
    if (this.#closed || this.#role !== 'master' || !rep) return;
    if (this.#switches.roleOn(dpid) !== 'master') return;
    const lane = this.#lane(dpid);
    if (lane.readyTerm === rep.term || lane.takeoverQueued) return;
    lane.takeoverQueued = true;
    // First in the lane: requests queued before it were let through by the bounded wait.
    lane.items.unshift({kind: 'reconcile', mode: 'takeover', done: () => {}});
    this.#kick(lane);
  }

  #auditLane(lane: Lane): Promise<DeviceReconcileReport | undefined> {
    return new Promise((resolve) => {
      lane.items.push({kind: 'reconcile', mode: 'audit', done: resolve});
      this.#kick(lane);
    });
  }

  /**
   * Compares every connected switch with the table and repairs drift (master only). The cron job
   * calls it; tests and the CLI may too. Resolves when every switch has been audited.
   */
  async auditNow(): Promise<AuditReport> {
    if (this.#closed) return {ran: false, reason: 'closed', devices: []};
    const rep = this.#replicator;
    if (this.#role !== 'master' || !rep) return {ran: false, reason: `not master (role ${this.#role})`, devices: []};
    const jobs: Array<Promise<DeviceReconcileReport | undefined>> = [];
    for (const sw of this.#switches.switches()) {
      if (sw.role !== 'master') continue;
      const lane = this.#lane(sw.datapathId);
      if (lane.readyTerm !== rep.term) continue; // its takeover is still to come
      jobs.push(this.#auditLane(lane));
    }
    const devices = (await Promise.all(jobs)).filter((r): r is DeviceReconcileReport => r !== undefined);
    return {ran: true, devices};
  }

  async #reconcileLane(lane: Lane, requested: 'takeover' | 'audit'): Promise<DeviceReconcileReport | undefined> {
    const rep = this.#replicator;
    if (!rep || this.#role !== 'master') {
      if (requested === 'takeover') lane.takeoverQueued = false;
      return undefined;
    }
    const mode = requested === 'audit' && lane.takeoverIncomplete ? 'takeover' : requested;
    const started = this.#now();
    // At a takeover, the table is the truth only if the mirror it came from was known in sync with
    // the last master (or this master already reconciled the switch in this term). Otherwise it may
    // lack changes acknowledged without this instance: the switch, which confirmed every
    // acknowledged change by barrier, is the truth.
    const tableTrusted = mode !== 'takeover' || this.#tableTrusted.has(lane.device);
    const why = mode !== 'takeover' ? 'audit: the table of this master is the truth'
      : tableTrusted ? (this.#untrustedWhy.has(lane.device) ? 'reconciled earlier in this term' : 'the mirror was in sync with the last master')
        : `the mirror was not known in sync with the last master: ${this.#untrustedWhy.get(lane.device) ?? 'no mirror of this switch'}`;
    const report: DeviceReconcileReport = {
      dpid: lane.device, mode: requested, truth: tableTrusted ? 'table' : 'switch', why,
      restored: 0, fixed: 0, removed: 0, adopted: 0, expired: 0, dropped: 0, updated: 0, conflicts: 0, refused: 0, durationMs: 0,
    };
    let endTurn: (() => void) | undefined;
    try {
      const flows = await this.#switches.flowStats(lane.dpid, {}, {timeoutMs: this.#settings.switchTimeoutMs});
      const statsAt = this.#now();
      report.statsMs = Math.round(statsAt - started);
      // At a takeover every switch's flow stats arrive at about the same time: their CPU work takes
      // turns (see turns.ts), a switch with writers waiting first, so that each becomes writable
      // after its own work rather than all near the end. A turn begins in a turn of the event loop
      // of its own: reconciliations run back to back in one drain of the microtask queue otherwise,
      // long enough to hold the election's keep-alives back (a self-fence). The switch's flows are
      // put in canonical form (the bulk of the work) in slices for the same reason.
      endTurn = await this.#reconcileTurns.take(() => lane.readyWaiters.size > 0);
      report.turnWaitMs = Math.round(this.#now() - statsAt);
      await yieldToLoop();
      const switchFlows = await this.#inSlices(flows, (f) => {
        const e = entryFromFlowStats(f);
        flowKey(e); // computed once, in the slices, and kept by the entry
        return e;
      });
      if (rep !== this.#replicator) return undefined;
      const log = rep.device(lane.device);
      const policy = !tableTrusted ? 'adopt' : mode === 'takeover' ? this.#settings.unknownFlowPolicy : 'remove';
      // Untrusted: no tombstone is applied either — a delete this mirror saw may have been followed
      // by an acknowledged re-add it missed; only deletes of the trusted history are removed.
      const plan = reconcile(log.table, switchFlows, {
        unknown: policy, ownedCookie: this.#settings.ownedCookie, truth: tableTrusted ? 'table' : 'switch',
        deleted: tableTrusted ? this.#tombstones.of(lane.device) : [],
      });
      this.#fillReport(report, plan, policy);
      endTurn();
      if (plan.switchFlowMods.length > 0) {
        const results = await this.#switches.sendModifications(lane.dpid, plan.switchFlowMods, {timeoutMs: this.#settings.switchTimeoutMs});
        results.forEach((e, i) => {
          if (!e) return;
          report.refused++;
          this.#log.warn('the switch refused a repair', {
            event: 'flow_repair_refused', dpid: lane.device, mode, error: describeError(e), priority: plan.switchFlowMods[i]!.priority,
          });
        });
      }
      if (rep === this.#replicator) {
        const deltas: FlowDelta[] = [];
        for (const fm of plan.tableFlowMods) {
          const r = log.apply(fm);
          if (!r.ok) continue;
          this.#tombstones.record(lane.device, r.changes);
          if (r.delta) deltas.push(r.delta);
        }
        const snapshotInstead = !this.#publishDeltas(deltas);
        // Slaves that know nothing of this device in this term (a switch new to the cluster)
        // get it now rather than asking when the first delta finds them without a base.
        const unaware = snapshotInstead ? rep.slaves()
          : rep.slaves().filter((s) => rep.ackedVersion(s, lane.device) === undefined && !this.#rebased.has(`${s}|${lane.device}`));
        if (requested === 'takeover' || snapshotInstead) this.#sendSnapshot(log, unaware);
      }
      if (mode === 'takeover') {
        lane.takeoverIncomplete = false;
        if (rep === this.#replicator) this.#tableTrusted.add(lane.device); // from now on the table is this master's own
      }
    } catch (error) {
      report.error = errorText(error);
      this.#counters.reconcileFailures++;
      if (mode === 'takeover') lane.takeoverIncomplete = true;
      this.#log.warn(`${mode} of a switch failed`, {event: mode === 'takeover' ? 'flow_takeover_failed' : 'flow_audit_failed', dpid: lane.device, error: report.error});
    } finally {
      endTurn?.();
      if (requested === 'takeover') {
        lane.takeoverQueued = false;
        if (rep === this.#replicator) lane.readyTerm = rep.term; // requests proceed even if it failed
        for (const go of [...lane.readyWaiters]) go();
      }
    }
    report.durationMs = Math.round(this.#now() - started);
    const repairs = report.restored + report.fixed + report.removed + report.adopted + report.expired + report.dropped + report.updated;
    if (mode === 'takeover' && report.truth === 'switch') this.#counters.takeoversFromSwitch++;
    if (requested === 'takeover') {
      this.#counters.takeoverRepairs += repairs;
      this.#log.info(report.truth === 'switch'
        ? 'switch taken over with the switch as the truth (its owned flows adopted, nothing re-installed)'
        : 'switch taken over with the table as the truth (missing re-installed, deleted removed)', {event: 'flow_switch_takeover', term: rep.term, ...report});
    } else {
      this.#counters.audits++;
      this.#counters.auditRepairs += repairs;
      const level = repairs > 0 ? 'info' : 'debug';
      this.#log[level](repairs > 0 ? 'audit repaired a switch' : 'audit: switch in line with the table', {event: 'flow_audit', ...report});
    }
    this.#counters.adopted += report.adopted;
    return report;
  }

  /**
   * A large snapshot (a whole flow-snapshot message, or one assembled from parts) read a slice of
   * entries at a time, yielding to the event loop in between, then applied to the mirror: a table
   * of thousands of flows read in one go holds the election's keep-alives back (worst in a process
   * just started, whose code is not optimized yet). Malformed: dropped and counted.
   */
  async #readAndApplySnapshot(message: Record<string, unknown>, master: number, slaves: number[] | undefined, what = ''): Promise<void> {
    const table = isRecord(message.table) ? message.table : {};
    const rawEntries = table.entries;
    // The envelope and the table's own fields, checked as parseBackupMessage does, without entries.
    const head = parseBackupMessage({...message, table: {...table, entries: []}});
    if (!head.ok || head.message.type !== 'flow-snapshot' || !Array.isArray(rawEntries)) {
      this.#malformed(`${what}${head.ok ? 'table.entries: expected an array' : head.reason}`, 'flow-snapshot');
      return;
    }
    let snapshot: FlowSnapshot;
    try {
      const entries = await this.#inSlices(rawEntries, (raw, i) => {
        const e = entryFromJson(raw, `table.entries[${i}]`);
        flowKey(e); // computed here, in the slices, and kept by the entry
        return e;
      });
      snapshot = {...head.message, table: FlowTable.fromSnapshotEntries(entries, {ownedCookie: this.#settings.ownedCookie})};
    } catch (error) {
      if (!(error instanceof JsonShapeError)) throw error;
      this.#malformed(`${what}${error.message}`, 'flow-snapshot');
      return;
    }
    if (this.#closed || this.#role === 'master') return;
    this.#mirrorReceive(snapshot, master, slaves);
  }

  /** items.map(f), yielding to the event loop about every SNAPSHOT_SLICE_MS. */
  async #inSlices<T, R>(items: readonly T[], f: (item: T, index: number) => R): Promise<R[]> {
    const out = new Array<R>(items.length);
    let sliceStart = this.#now();
    for (let i = 0; i < items.length; i++) {
      out[i] = f(items[i]!, i);
      if ((i & 127) === 127 && this.#now() - sliceStart >= SNAPSHOT_SLICE_MS) {
        await yieldToLoop();
        sliceStart = this.#now();
      }
    }
    return out;
  }

  #fillReport(report: DeviceReconcileReport, plan: ReconcilePlan, policy: 'adopt' | 'remove'): void {
    report.restored = plan.missing.length;
    report.dropped = plan.dropped.length;
    report.fixed = report.truth === 'table' ? plan.differing.length : 0;
    report.updated = report.truth === 'switch' ? plan.differing.length : 0;
    report.removed = plan.deleted.length + (policy === 'remove' ? plan.unknown.length : 0);
    report.adopted = policy === 'adopt' ? plan.unknown.length : 0;
    report.expired = plan.expired.length;
    report.conflicts = plan.conflicts.length;
    if (plan.conflicts.length > 0) {
      this.#log.warn('flows of the table are held on the switch under a foreign cookie: left alone', {
        event: 'flow_conflict', dpid: report.dpid, conflicts: plan.conflicts.length,
      });
    }
  }

  #scheduleAudit(): void {
    void this.#auditTask?.destroy();
    this.#auditTask = undefined;
    const expression = validateAuditCron(this.#settings.auditCron);
    if (this.#closed || expression === 'off') return;
    const log = this.#log;
    this.#auditTask = cron.schedule(expression, async () => {
      if (this.#closed || this.#role !== 'master') return;
      try {
        await this.auditNow();
      } catch (error) {
        log.error('audit failed', {event: 'flow_audit_failed', error: errorText(error)});
      }
    }, {
      name: `flowkeeper-audit-${this.domain}-${this.instId}`,
      noOverlap: true,
      unref: true,
      logger: {
        info: (m) => log.debug(m, {event: 'flow_audit_cron'}),
        warn: (m) => log.warn(m, {event: 'flow_audit_cron'}),
        error: (m, e) => log.error(String(m), {event: 'flow_audit_cron', error: e ? errorText(e) : undefined}),
        debug: (m) => log.debug(String(m), {event: 'flow_audit_cron'}),
      },
    });
  }

  // -------------------------------------------------------------------------------------------
  // Reads
  // -------------------------------------------------------------------------------------------

  /** The table of a switch: the master's store, or a slave's mirror (undefined: none). */
  tableOf(dpid: bigint): ReadonlyFlowTable | undefined {
    const device = deviceId(dpid);
    const rep = this.#replicator;
    if (rep) return rep.has(device) ? rep.device(device).table : undefined;
    return this.#mirror.table(device);
  }

  /** Where this instance's table of a switch is: (term, version). */
  positionOf(dpid: bigint): {term: number; version: number} | undefined {
    const device = deviceId(dpid);
    const rep = this.#replicator;
    if (rep) return rep.has(device) ? {term: rep.term, version: rep.device(device).version} : undefined;
    return this.#mirror.position(device);
  }

  stats(): FlowServiceStats {
    const rep = this.#replicator;
    const devices = new Set<string>(rep ? rep.devices() : this.#mirror.devices());
    for (const sw of this.#switches.switches()) devices.add(deviceId(sw.datapathId));
    const out: DeviceStats[] = [];
    for (const device of [...devices].sort()) {
      const dpid = BigInt(`0x${device}`);
      const switchRole = this.#switches.roleOn(dpid);
      if (rep) {
        const log = rep.has(device) ? rep.device(device) : undefined;
        const lane = this.#lanes.get(dpid);
        const version = log?.version ?? 0;
        out.push({
          dpid: device, switchRole, term: rep.term, version, size: log?.table.size ?? 0,
          ready: lane?.readyTerm === rep.term, queued: lane?.items.length ?? 0,
          mirrors: rep.slaves().map((s) => {
            const acked = rep.ackedVersion(s, device);
            return {slave: Number(s), acked, lag: version - (acked ?? 0), late: this.#late.has(`${s}|${device}`)};
          }),
        });
      } else {
        const pos = this.#mirror.position(device);
        out.push({
          dpid: device, switchRole, term: pos?.term, version: pos?.version ?? 0, size: this.#mirror.table(device)?.size ?? 0,
          buffered: this.#mirror.bufferedDeltas(device), awaitingSnapshot: this.#mirror.awaitingSnapshot().includes(device),
          ...(() => {
            const t = this.#trust.of(device, this.#mirror);
            return {trusted: t.trusted, trust: t.why};
          })(),
        });
      }
    }
    const {ownedCookie, ...rest} = this.#settings;
    return {
      instId: this.instId, domain: this.domain, role: this.#role, term: this.#term, liveSlaves: [...this.#liveSlaves], devices: out,
      counters: {...this.#counters}, snapshotsInProgress: this.#assembler.inProgress,
      settings: {...rest, ownedCookie: {value: `0x${ownedCookie.value.toString(16)}`, mask: `0x${ownedCookie.mask.toString(16)}`}},
    };
  }

  /** Stops timers and the audit, answers what is pending, ignores the bus from now on. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#tickTimer);
    this.#tickTimer = undefined;
    await this.#auditTask?.destroy();
    this.#auditTask = undefined;
    this.#bus.off('dropped', this.#onDropped);
    this.#bus.off('down', this.#onBusDown);
    for (const e of Object.keys(this.#listeners) as FlowSwitchEvent[]) this.#switches.off(e, this.#listeners[e] as never);
    for (const lane of this.#lanes.values()) {
      for (const item of lane.items.splice(0)) if (item.kind === 'reconcile') item.done(undefined);
      lane.readyWaiters.clear();
    }
    for (const req of [...this.#requests]) {
      this.#fail(req, req.state === 'waiting' || req.state === 'queued'
        ? new InstanceNotMasterError(this.instId, 'closed', 'the flow service closed before the request was sent')
        : new ProgramTimeoutError('the flow service closed before the request was acknowledged: the flow-mod may or may not be applied'));
    }
  }
}
