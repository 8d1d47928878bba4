// The flow service's settings: defaults, and the validation that names the setting and the fix.
import cron from 'node-cron';
import {EVERY_COOKIE, type CookieNamespace} from '../flow-table.js';
import type {UnknownFlowPolicy} from '../reconcile.js';
import {FlowServiceConfigError, hex64} from './errors.js';

export interface FlowServiceSettings {
  /**
   * Periodic snapshots (the ONOS backup). Off: deltas, acks and snapshot requests still flow
   * (acknowledgements rest on them); only the periodic safety net stops. Default true.
   */
  backupEnabled: boolean;
  /** Period of the snapshot backup (master) and of re-asking for missing snapshots (slaves). Default 2000. */
  backupPeriodMs: number;
  /**
   * How long a request waits for the live slaves' acks after the switch confirmed it; then it
   * resolves anyway, logs, and the late slave gets a snapshot. Above the election's failure
   * detection, so a dead slave leaves the slave set before its acks are given up on. Default 3000.
   */
  ackTimeoutMs: number;
  /** Longest a request waits for a new master's takeover of its switch before it proceeds. Default 5000. */
  takeoverWaitMs: number;
  /** Default ProgramOptions.timeoutMs: queue, switch and acks together. Default 10000. */
  requestTimeoutMs: number;
  /** Barrier and flow-stats timeout towards a switch. Default 10000. */
  switchTimeoutMs: number;
  /** The cookies the cluster owns (programs, mirrors, reconciles). Default every cookie (mask 0). */
  ownedCookie: CookieNamespace;
  /** When the audit runs (node-cron syntax, optional seconds field); 'off' disables it. Default '* * * * *' (every minute). */
  auditCron: string;
  /** Owned flows on a switch the table does not know, at takeover and reconnect: 'adopt' (default) or 'remove'. The audit always removes them. */
  unknownFlowPolicy: UnknownFlowPolicy;
  /**
   * Target size in bytes of every backup message (JSON): snapshots are split into parts of at
   * most this, a delta above it is replaced by a snapshot. Keep it well under the data bus's
   * maxMessageBytes (64 KiB by default). Default 32 KiB.
   */
  chunkBytes: number;
  /** Most flow-mods in one batch (one barrier). Default 1000. */
  maxBatch: number;
  /** Identities remembered per device as deleted by the cluster (removed from a switch at takeover). Default 10000. */
  maxTombstones: number;
}

export const DEFAULT_FLOW_SERVICE_SETTINGS: Readonly<FlowServiceSettings> = Object.freeze({
  backupEnabled: true,
  backupPeriodMs: 2000,
  ackTimeoutMs: 3000,
  takeoverWaitMs: 5000,
  requestTimeoutMs: 10_000,
  switchTimeoutMs: 10_000,
  ownedCookie: EVERY_COOKIE,
  auditCron: '* * * * *',
  unknownFlowPolicy: 'adopt',
  chunkBytes: 32 * 1024,
  maxBatch: 1000,
  maxTombstones: 10_000,
});

/** The settings that updateSettings() may change at runtime. */
export type RuntimeSettings = Omit<FlowServiceSettings, 'ownedCookie'>;

const U64_MAX = 0xffffffffffffffffn;

function integer(name: string, v: unknown, min: number, max: number, why: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new FlowServiceConfigError(name, `${name} (${String(v)}) must be an integer from ${min} to ${max}: ${why}`);
  }
  return v;
}

/** Throws FlowServiceConfigError naming the setting when the cron expression is unusable. */
export function validateAuditCron(expression: unknown): string {
  if (expression === 'off') return expression;
  if (typeof expression !== 'string') throw new FlowServiceConfigError('auditCron', `auditCron must be a string (node-cron syntax, or 'off'), got ${typeof expression}`);
  const result = cron.validateDetailed(expression);
  if (!result.valid) {
    const why = result.errors.map((e) => (e.field === 'expression' ? e.message : `${e.field}: ${e.message}`)).join('; ');
    throw new FlowServiceConfigError(
      'auditCron',
      `auditCron (${JSON.stringify(expression)}) is not a cron expression: ${why}. ` +
        "Use node-cron syntax '[second] minute hour day-of-month month day-of-week', e.g. '* * * * *' (every minute) " +
        "or '*/10 * * * * *' (every 10 seconds), or 'off' to disable the audit",
    );
  }
  return expression;
}

/** Defaults filled in, every value checked. */
export function resolveSettings(partial: Partial<FlowServiceSettings> = {}): FlowServiceSettings {
  const s: FlowServiceSettings = {...DEFAULT_FLOW_SERVICE_SETTINGS};
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = v;
  checkSettings(s);
  return s;
}

export function checkSettings(s: FlowServiceSettings): void {
  if (typeof s.backupEnabled !== 'boolean') throw new FlowServiceConfigError('backupEnabled', `backupEnabled must be true or false, got ${String(s.backupEnabled)}`);
  integer('backupPeriodMs', s.backupPeriodMs, 50, 3_600_000, 'how often changed tables are sent whole to the slaves');
  integer('ackTimeoutMs', s.ackTimeoutMs, 10, 600_000, "how long a request waits for the slaves' acks; keep it above the election's failure detection");
  integer('takeoverWaitMs', s.takeoverWaitMs, 0, 600_000, "how long a request waits for a new master's takeover");
  integer('requestTimeoutMs', s.requestTimeoutMs, 10, 600_000, 'the default time a request may take');
  integer('switchTimeoutMs', s.switchTimeoutMs, 10, 600_000, 'the barrier and flow-stats timeout');
  integer('chunkBytes', s.chunkBytes, 4096, 128 * 1024 * 1024, "the size of backup messages; keep it well under the data bus's maxMessageBytes");
  integer('maxBatch', s.maxBatch, 1, 100_000, 'flow-mods per barrier');
  integer('maxTombstones', s.maxTombstones, 0, 10_000_000, 'deleted identities remembered per device');
  if (s.unknownFlowPolicy !== 'adopt' && s.unknownFlowPolicy !== 'remove') {
    throw new FlowServiceConfigError('unknownFlowPolicy', `unknownFlowPolicy (${String(s.unknownFlowPolicy)}) must be 'adopt' or 'remove'`);
  }
  const ns = s.ownedCookie;
  if (!ns || typeof ns.value !== 'bigint' || typeof ns.mask !== 'bigint' || ns.value < 0n || ns.value > U64_MAX || ns.mask < 0n || ns.mask > U64_MAX) {
    throw new FlowServiceConfigError('ownedCookie', 'ownedCookie must be {value, mask} with two u64 bigints');
  }
  if ((ns.value & ~ns.mask) !== 0n) {
    throw new FlowServiceConfigError(
      'ownedCookie',
      `ownedCookie value ${hex64(ns.value)} has bits outside its mask ${hex64(ns.mask)}: those bits would never be compared; clear them from the value`,
    );
  }
  validateAuditCron(s.auditCron);
}
