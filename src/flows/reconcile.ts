/**
 * Takeover reconciliation and the periodic audit: what the cluster believes (a FlowTable) against
 * what the switch has (its flow stats), and the flow-mods that make the switch agree. Pure.
 *
 * Only the owned cookie namespace is ever touched. For owned flows:
 * - in the table, not on the switch → re-installed (ADD, without OFPFF_CHECK_OVERLAP: restoring a
 *   flow is not admitting a new one), unless it has an idle or hard timeout:
 *   then it most likely expired, and it is reported in `expired` for the caller to drop from the
 *   table (a re-install would resurrect a flow the switch retired on purpose);
 * - on both, with other content → only the instructions differ: MODIFY_STRICT (the flow keeps
 *   its counters); the cookie, timeouts or behaviour flags differ: re-installed (ADD replaces it);
 * - on the switch, in `deleted` (identities the cluster deleted, e.g. a delete the previous master
 *   applied but the switch never saw) → removed;
 * - on the switch, unknown to the table → per policy: 'adopt' (a previous master installed it
 *   and died before replicating it: keep it, and add it to the table) or 'remove' (the table is
 *   the truth: delete it).
 * A table entry whose identity the switch holds under a cookie outside the namespace is a
 * conflict: someone else's flow took its place; it is reported and left alone.
 */
import { OFP, type FlowModMessage, type FlowStats } from '../openflow/codec.js';
import {
  addFlowModFor, cookieInNamespace, deleteFlowModFor, entryFromFlowStats, flowKey, sameFlowContent, sameFlowSettings,
  type CookieNamespace, type FlowEntry, type FlowIdentity, type FlowTable,
} from './flow-table.js';

/**
 * Restoring (or adopting) a flow is not admitting a new one: an overlap check that passed when
 * the flow was first added must not block putting it back (someone may have added an overlapping
 * flow since).
 */
function restoreFlowMod(entry: FlowEntry): FlowModMessage {
  const fm = addFlowModFor(entry);
  return { ...fm, flags: fm.flags & ~(OFP.OFPFF_CHECK_OVERLAP | OFP.OFPFF_RESET_COUNTS) };
}

/** New instructions for exactly this owned flow, keeping its counters. */
function fixInstructionsFlowMod(expected: FlowEntry): FlowModMessage {
  return {
    ...addFlowModFor(expected), command: OFP.OFPFC_MODIFY_STRICT, cookieMask: 0xffffffffffffffffn, flags: 0,
  };
}

export type UnknownFlowPolicy = 'adopt' | 'remove';

export interface ReconcileOptions {
  /** What to do with owned flows on the switch that the table does not know. */
  unknown: UnknownFlowPolicy;
  /** The namespace to reconcile; default the table's `ownedCookie`. */
  ownedCookie?: CookieNamespace;
  /** Identities the cluster deleted (flowKey strings or identities): removed from the switch whatever the policy. */
  deleted?: Iterable<string | FlowIdentity>;
  /** Report timed flows missing from the switch as `expired` instead of re-installing them. Default true. */
  expireTimedOut?: boolean;
  /**
   * Which side is the truth for owned flows. 'table' (default): the switch is brought in line with
   * the table. 'switch' (a takeover with a mirror not known to be in sync with the last master, whose
   * every acknowledged change the switch confirmed): the table takes the switch's owned flows —
   * unknown ones adopted whatever `unknown` says, table entries absent from the switch dropped
   * (`dropped`), differing ones replaced by the switch's (`differing`), nothing sent to the switch
   * except the removal of `deleted` identities.
   */
  truth?: 'table' | 'switch';
}

export interface ReconcilePlan {
  /** To send to the switch, in this order: removals first, then installs. Empty when in sync. */
  switchFlowMods: FlowModMessage[];
  /**
   * To apply to the master's table (FlowTable.apply), so that the change replicates like any
   * other: an ADD per adopted flow, a DELETE_STRICT per expired entry.
   */
  tableFlowMods: FlowModMessage[];
  /** Owned table entries absent from the switch (re-installed; with truth 'switch', see `dropped`). */
  missing: FlowEntry[];
  /** truth 'switch': owned table entries absent from the switch, dropped from the table (never re-installed). */
  dropped: FlowEntry[];
  /** Same identity, other content (fixed from the table). */
  differing: { expected: FlowEntry; actual: FlowEntry }[];
  /** Owned switch flows the cluster deleted (removed). */
  deleted: FlowEntry[];
  /** Owned switch flows the table does not know (adopted or removed per policy). */
  unknown: FlowEntry[];
  /** Timed table entries the switch no longer has (dropped from the table). */
  expired: FlowEntry[];
  /** Table entries whose identity the switch holds under a foreign cookie (left alone). */
  conflicts: { expected: FlowEntry; actual: FlowEntry }[];
  /** Switch flows outside the namespace, untouched (conflicts included). */
  foreignOnSwitch: number;
  /** Table entries outside the namespace, not reconciled (the cluster should only hold its own). */
  foreignInTable: number;
}

/** Whether the plan changes nothing (switch and table agree on every owned flow). */
export function planIsEmpty(plan: ReconcilePlan): boolean {
  return plan.switchFlowMods.length === 0 && plan.tableFlowMods.length === 0;
}

/**
 * The plan that brings the switch (`switchFlows`, from a MULTIPART FLOW reply of all tables) in
 * line with `table`. The same function serves the takeover and the periodic audit.
 */
export function reconcile(table: FlowTable, switchFlows: readonly (FlowStats | FlowEntry)[], options: ReconcileOptions): ReconcilePlan {
  const ns = options.ownedCookie ?? table.ownedCookie;
  const owned = (e: { cookie: bigint }) => cookieInNamespace(e.cookie, ns);
  const expireTimedOut = options.expireTimedOut ?? true;
  const switchIsTruth = options.truth === 'switch';
  const deletedKeys = new Set<string>();
  for (const d of options.deleted ?? []) deletedKeys.add(typeof d === 'string' ? d : flowKey(d));

  const onSwitch = new Map<string, FlowEntry>();
  for (const fs of switchFlows) {
    const e = entryFromFlowStats(fs as FlowStats);
    onSwitch.set(flowKey(e), e);
  }

  const plan: ReconcilePlan = {
    switchFlowMods: [], tableFlowMods: [], missing: [], dropped: [], differing: [], deleted: [], unknown: [], expired: [],
    conflicts: [], foreignOnSwitch: 0, foreignInTable: 0,
  };
  /** With the table entry each comes from, to be put in table order. */
  const installs: { fm: FlowModMessage; from: FlowEntry }[] = [];
  const tableFixes: { fm: FlowModMessage; from: FlowEntry }[] = [];
  const removals: FlowModMessage[] = [];

  // The table unsorted (sorting every entry was a good share of a takeover); what the plan keeps is
  // put in table order below.
  const ownedKeys = new Set<string>();
  const keyOf = new Map<FlowEntry, string>();
  for (const [key, expected] of table.keyedUnordered()) {
    if (!owned(expected)) {
      plan.foreignInTable++;
      continue;
    }
    ownedKeys.add(key);
    keyOf.set(expected, key);
    const actual = onSwitch.get(key);
    if (!actual) {
      if (switchIsTruth) {
        plan.dropped.push(expected);
        tableFixes.push({ fm: deleteFlowModFor(expected), from: expected });
      } else if (expireTimedOut && (expected.idleTimeout > 0 || expected.hardTimeout > 0)) {
        plan.expired.push(expected);
        tableFixes.push({ fm: deleteFlowModFor(expected), from: expected });
      } else {
        plan.missing.push(expected);
        installs.push({ fm: restoreFlowMod(expected), from: expected });
      }
    } else if (!owned(actual)) {
      plan.conflicts.push({ expected, actual });
    } else if (!sameFlowContent(expected, actual)) {
      plan.differing.push({ expected, actual });
      if (switchIsTruth) tableFixes.push({ fm: restoreFlowMod(actual), from: expected });
      else installs.push({ fm: sameFlowSettings(expected, actual) ? fixInstructionsFlowMod(expected) : restoreFlowMod(expected), from: expected });
    }
  }
  // Table order (table, priority highest first, key) for everything taken from the table.
  const order = (a: FlowEntry, b: FlowEntry): number => {
    const ka = keyOf.get(a)!;
    const kb = keyOf.get(b)!;
    return a.tableId - b.tableId || b.priority - a.priority || (ka < kb ? -1 : ka > kb ? 1 : 0);
  };
  for (const list of [plan.missing, plan.dropped, plan.expired]) list.sort(order);
  plan.differing.sort((x, y) => order(x.expected, y.expected));
  plan.conflicts.sort((x, y) => order(x.expected, y.expected));
  installs.sort((x, y) => order(x.from, y.from));
  tableFixes.sort((x, y) => order(x.from, y.from));
  for (const t of tableFixes) plan.tableFlowMods.push(t.fm);

  // Owned switch flows the table holds no owned entry for, in the table's order (table,
  // priority, key).
  const strays = [...onSwitch].filter(([key, e]) => owned(e) && !ownedKeys.has(key)).sort(([ka, a], [kb, b]) => a.tableId - b.tableId
    || b.priority - a.priority || (ka < kb ? -1 : ka > kb ? 1 : 0));
  for (const [key, actual] of strays) {
    if (deletedKeys.has(key)) {
      plan.deleted.push(actual);
      removals.push(deleteFlowModFor(actual));
    } else {
      plan.unknown.push(actual);
      if (options.unknown === 'adopt' || switchIsTruth) plan.tableFlowMods.push(restoreFlowMod(actual));
      else removals.push(deleteFlowModFor(actual));
    }
  }
  plan.foreignOnSwitch = [...onSwitch.values()].filter((e) => !owned(e)).length;
  plan.switchFlowMods = [...removals, ...installs.map((i) => i.fm)];
  return plan;
}
