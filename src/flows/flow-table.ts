/**
 * A device's flow tables with OpenFlow 1.3 flow-mod semantics: the one `FlowTable.apply(flowMod)`
 * that serves the master's store, the slaves' mirrors (through the changes it returns) and the
 * tests. Pure: no I/O, no clock.
 *
 * Semantics (OpenFlow 1.3.x §6.4, "Flow Table Modification Messages", cross-checked against
 * Open vSwitch 3.1 where the spec leaves room):
 * - Identity of an entry: (table_id, priority, match), the match in canonical form (match-bits.ts),
 *   so field order, redundant masks and address spelling do not make two entries.
 * - ADD inserts, or replaces the entry with the same identity (cookie, timeouts, flags and
 *   instructions all come from the request). OFPFF_CHECK_OVERLAP refuses the ADD with
 *   OFPFMFC_OVERLAP when another entry of the same table and priority could match a packet the
 *   new one matches; the entry with the very same match is not an overlap, it is replaced (OVS does
 *   the same). table_id OFPTT_ALL is OFPFMFC_BAD_TABLE_ID.
 * - MODIFY / MODIFY_STRICT replace the instructions of the selected entries and leave cookie,
 *   timeouts and flags unchanged; they never insert (1.3 dropped 1.0's modify-as-add). OFPTT_ALL
 *   is OFPFMFC_BAD_TABLE_ID: the spec allows it for deletes only, and OVS refuses it.
 * - DELETE / DELETE_STRICT remove the selected entries; OFPTT_ALL means every table. out_port /
 *   out_group restrict them to entries with an OUTPUT to that port / a GROUP action to that
 *   group, in apply- or write-actions (OFPP_ANY / OFPG_ANY: no restriction). The spec says
 *   MODIFY ignores these fields, and so do we (as OVS does).
 * - Strict selection: same priority and identical match. Non-strict: any priority, and the entry's
 *   match is at least as specific as the request's (match-bits.ts `covered`).
 * - MODIFY and DELETE select only entries whose cookie agrees with the request's cookie on
 *   cookie_mask (cookie_mask 0: every entry). ADD ignores cookie_mask.
 * - Counters and durations are the switch's business and are not kept here, so
 *   OFPFF_RESET_COUNTS changes nothing in this table (the flag itself is stored, as OVS does).
 * - Instructions are kept in canonical form: in the order the pipeline executes them (meter,
 *   apply, clear, write, write-metadata, goto), empty apply/write-actions dropped, set-field
 *   values canonical — how OVS reports them in flow stats.
 * - Not checked here: prerequisites, port/group/meter existence, table capabilities. Apply a
 *   flow-mod here after (or in step with) the switch accepting it.
 */
import {
  OFP, matchKey, type FlowModMessage, type FlowStats, type Instruction, type Action, type Match,
} from '../openflow/codec.js';
import {
  MatchValueError, covered, matchBits, normalizeField, normalizeMatch, overlaps, type FieldBits,
} from './match-bits.js';
import { oxmFieldSpec } from '../openflow/oxm.js';
import {
  JsonShapeError, actionToJson, canonicalMatchFromJson, instructionToJson, instructionsFromJson, matchFromJson, matchToJson, record, u64String,
  uint, type InstructionJson, type OxmFieldJson,
} from './json.js';

// ---------------------------------------------------------------------------------------------
// Entries and identities
// ---------------------------------------------------------------------------------------------

/** One flow entry as the cluster believes it is on the switch. Treat as immutable. */
export interface FlowEntry {
  readonly tableId: number;
  readonly priority: number;
  /** Canonical (see match-bits.ts). */
  readonly match: Match;
  readonly cookie: bigint;
  /** Seconds; 0 = never. */
  readonly idleTimeout: number;
  readonly hardTimeout: number;
  /** OFPFF_* bits, as given by the ADD that created the entry. */
  readonly flags: number;
  /** Canonical order (see the module comment). */
  readonly instructions: Instruction[];
}

export interface FlowIdentity {
  tableId: number;
  priority: number;
  match: Match;
}

/** The identity of a flow as a string: equal for equal identities, whatever the match's spelling. */
export function flowKey(id: FlowIdentity): string {
  if (id instanceof CanonicalEntry) return id.flowKey();
  return keyOfCanonical(id.tableId, id.priority, normalizeMatch(id.match));
}

function keyOfCanonical(tableId: number, priority: number, canonicalMatch: Match): string {
  return `${tableId}/${priority}/${canonicalMatchKey(canonicalMatch)}`;
}

/**
 * matchKey(match) for a canonical match, built from its fields' canonical text directly instead
 * of through bytes (the values already are what matchKey would print). Falls back to matchKey
 * for what this does not cover (raw fields, a field given twice), so the result is always
 * matchKey's. (An entry's is computed once: CanonicalEntry.flowKey.)
 */
function canonicalMatchKey(match: Match): string {
  let key = '';
  let prevCode = -1;
  for (const f of match) {
    const spec = f.field === 'raw' ? undefined : oxmFieldSpec(f.field);
    if (!spec || spec.code <= prevCode) return matchKey(match);
    prevCode = spec.code;
    const text = f.mask === undefined ? `${spec.name}=${String(f.value)}` : `${spec.name}=${String(f.value)}/${String(f.mask)}`;
    key = key === '' ? text : `${key},${text}`;
  }
  return key;
}

// ---------------------------------------------------------------------------------------------
// Cookie namespace
// ---------------------------------------------------------------------------------------------

/** The cookies the cluster owns: those equal to `value` on the bits of `mask`. */
export interface CookieNamespace {
  value: bigint;
  mask: bigint;
}

/** Mask 0: every cookie is owned (the default when no namespace is configured). */
export const EVERY_COOKIE: CookieNamespace = Object.freeze({ value: 0n, mask: 0n });

export function cookieInNamespace(cookie: bigint, ns: CookieNamespace): boolean {
  return (cookie & ns.mask) === (ns.value & ns.mask);
}

// ---------------------------------------------------------------------------------------------
// Canonical instructions
// ---------------------------------------------------------------------------------------------

const EXECUTION_ORDER: Readonly<Record<Instruction['type'], number>> = {
  METER: 0, APPLY_ACTIONS: 1, CLEAR_ACTIONS: 2, WRITE_ACTIONS: 3, WRITE_METADATA: 4, GOTO_TABLE: 5, EXPERIMENTER: 6,
};

function canonicalAction(a: Action): Action {
  switch (a.type) {
    case 'SET_FIELD': return { type: 'SET_FIELD', field: normalizeField(a.field) };
    case 'EXPERIMENTER': return { type: 'EXPERIMENTER', experimenter: a.experimenter, data: Buffer.from(a.data) };
    default: return { ...a };
  }
}

/** Instructions in canonical form (throws MatchValueError for a bad set-field value). */
export function canonicalInstructions(list: Instruction[]): Instruction[] {
  // Kept as given (like an entry, a flow-mod is not modified once handed over): what a switch
  // reports and what REST requests hold mostly is canonical already, and tables see thousands.
  if (alreadyCanonical(list)) return list;
  const out: Instruction[] = [];
  for (const ins of list) {
    switch (ins.type) {
      case 'APPLY_ACTIONS':
      case 'WRITE_ACTIONS':
        if (ins.actions.length > 0) out.push({ type: ins.type, actions: ins.actions.map(canonicalAction) });
        break;
      case 'EXPERIMENTER':
        out.push({ type: 'EXPERIMENTER', experimenter: ins.experimenter, data: Buffer.from(ins.data) });
        break;
      default:
        out.push({ ...ins });
    }
  }
  // Array.prototype.sort is stable: two instructions of one type (invalid anyway) keep their order.
  out.sort((a, b) => (EXECUTION_ORDER[a.type] ?? 9) - (EXECUTION_ORDER[b.type] ?? 9));
  return out;
}

/**
 * Whether a list needs no change to be canonical: in execution order, no empty action list, and
 * nothing whose value normalization could change (set-field, experimenter data).
 */
function alreadyCanonical(list: Instruction[]): boolean {
  if (!Array.isArray(list)) return false;
  let last = -1;
  for (const ins of list) {
    if (ins === null || typeof ins !== 'object') return false;
    const order = EXECUTION_ORDER[ins.type];
    if (order === undefined || order < last || ins.type === 'EXPERIMENTER') return false;
    last = order;
    if (ins.type === 'APPLY_ACTIONS' || ins.type === 'WRITE_ACTIONS') {
      if (!Array.isArray(ins.actions) || ins.actions.length === 0) return false;
      for (const a of ins.actions) if (a === null || typeof a !== 'object' || a.type === 'SET_FIELD' || a.type === 'EXPERIMENTER') return false;
    }
  }
  return true;
}

/**
 * Whether two canonical instruction lists are the same; `semantic`: OUTPUT max_len counts only for
 * output to the controller. Compares the common shapes field by field (this runs for every flow
 * of every reconciliation) and the rest by their JSON text.
 */
function sameInstructionList(a: Instruction[], b: Instruction[], semantic: boolean): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.type !== y.type) return false;
    switch (x.type) {
      case 'APPLY_ACTIONS':
      case 'WRITE_ACTIONS': {
        const ya = (y as typeof x).actions;
        if (x.actions.length !== ya.length) return false;
        for (let j = 0; j < ya.length; j++) if (!sameAction(x.actions[j]!, ya[j]!, semantic)) return false;
        break;
      }
      case 'GOTO_TABLE':
        if (x.tableId !== (y as typeof x).tableId) return false;
        break;
      case 'METER':
        if (x.meterId !== (y as typeof x).meterId) return false;
        break;
      case 'WRITE_METADATA':
        if (x.metadata !== (y as typeof x).metadata || x.metadataMask !== (y as typeof x).metadataMask) return false;
        break;
      default:
        if (JSON.stringify(instructionToJson(x)) !== JSON.stringify(instructionToJson(y))) return false;
    }
  }
  return true;
}

function sameAction(a: Action, b: Action, semantic: boolean): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 'OUTPUT': {
      const o = b as typeof a;
      // max_len only means something for output to the controller; switches echo whatever was sent.
      return a.port === o.port && (a.maxLen === o.maxLen || (semantic && a.port !== OFP.OFPP_CONTROLLER));
    }
    case 'GROUP': return a.groupId === (b as typeof a).groupId;
    case 'SET_QUEUE': return a.queueId === (b as typeof a).queueId;
    case 'POP_VLAN': case 'DEC_NW_TTL': case 'COPY_TTL_OUT': case 'COPY_TTL_IN': case 'DEC_MPLS_TTL': case 'POP_PBB':
      return true;
    default: return JSON.stringify(actionToJson(a)) === JSON.stringify(actionToJson(b));
  }
}

/**
 * Whether two entries of the same identity install the same behaviour: same cookie, timeouts,
 * behaviour flags and instructions, where OUTPUT max_len counts only for output to the
 * controller. This is what reconciliation compares (a switch's flow stats against the table).
 */
export function sameFlowContent(a: FlowEntry, b: FlowEntry): boolean {
  return sameFlowSettings(a, b) && sameInstructions(a, b);
}

/**
 * The flags that describe the entry's behaviour. OFPFF_CHECK_OVERLAP and OFPFF_RESET_COUNTS are
 * instructions to the ADD itself; a switch may remember them (OVS does) but they change nothing
 * about the installed flow.
 */
export const BEHAVIOUR_FLAGS = OFP.OFPFF_SEND_FLOW_REM | OFP.OFPFF_NO_PKT_COUNTS | OFP.OFPFF_NO_BYT_COUNTS;

/** Same cookie, timeouts and behaviour flags (what a MODIFY cannot change). */
export function sameFlowSettings(a: FlowEntry, b: FlowEntry): boolean {
  return a.cookie === b.cookie && a.idleTimeout === b.idleTimeout && a.hardTimeout === b.hardTimeout
    && (a.flags & BEHAVIOUR_FLAGS) === (b.flags & BEHAVIOUR_FLAGS);
}

/** Same instructions, where OUTPUT max_len counts only for output to the controller. */
export function sameInstructions(a: { instructions: Instruction[] }, b: { instructions: Instruction[] }): boolean {
  return sameInstructionList(a.instructions, b.instructions, true);
}

/** Exact equality of two entries (identity and every stored field). */
export function entryEquals(a: FlowEntry, b: FlowEntry): boolean {
  return a.tableId === b.tableId && a.priority === b.priority && sameStoredContent(a, b)
    && (a.match === b.match || JSON.stringify(matchToJson(a.match)) === JSON.stringify(matchToJson(b.match)));
}

/** Every stored field but the identity equal (for two entries known to have the same identity). */
function sameStoredContent(a: FlowEntry, b: FlowEntry): boolean {
  return a.cookie === b.cookie && a.idleTimeout === b.idleTimeout && a.hardTimeout === b.hardTimeout && a.flags === b.flags
    && sameInstructionList(a.instructions, b.instructions, false);
}

/** Whether the entry sends to `port` (OUTPUT in apply- or write-actions). */
export function outputsTo(instructions: Instruction[], port: number): boolean {
  return instructions.some((i) => (i.type === 'APPLY_ACTIONS' || i.type === 'WRITE_ACTIONS')
    && i.actions.some((a) => a.type === 'OUTPUT' && a.port === port));
}

/** Whether the entry uses group `groupId` (GROUP action in apply- or write-actions). */
export function usesGroup(instructions: Instruction[], groupId: number): boolean {
  return instructions.some((i) => (i.type === 'APPLY_ACTIONS' || i.type === 'WRITE_ACTIONS')
    && i.actions.some((a) => a.type === 'GROUP' && a.groupId === groupId));
}

// ---------------------------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------------------------

/**
 * An entry in canonical form, made only by this module (normalizeEntry, and tables building
 * entries from canonical parts): `instanceof` tells a canonical entry at no cost, and its flowKey
 * is computed once. (A WeakSet of canonical entries and a WeakMap of keys cost about a
 * microsecond per flow each, and more in garbage collection, on every path a flow takes.)
 * Its fields are those of FlowEntry and nothing else: it compares, spreads and serialises as one.
 */
class CanonicalEntry implements FlowEntry {
  #key: string | undefined;

  constructor(
    readonly tableId: number,
    readonly priority: number,
    readonly match: Match,
    readonly cookie: bigint,
    readonly idleTimeout: number,
    readonly hardTimeout: number,
    readonly flags: number,
    readonly instructions: Instruction[],
    key?: string,
  ) {
    this.#key = key;
  }

  flowKey(): string {
    return (this.#key ??= keyOfCanonical(this.tableId, this.priority, this.match));
  }
}

/** An entry in canonical form. Throws MatchValueError for a value that does not fit its field. */
export function normalizeEntry(e: FlowEntry): FlowEntry {
  if (e instanceof CanonicalEntry) return e;
  return new CanonicalEntry(
    e.tableId, e.priority, normalizeMatch(e.match), e.cookie, e.idleTimeout, e.hardTimeout, e.flags, canonicalInstructions(e.instructions),
  );
}

/** The entry a switch reports in a flow-stats reply (counters and durations dropped). */
export function entryFromFlowStats(fs: FlowStats): FlowEntry {
  return normalizeEntry(fs);
}

/** An ADD that installs `entry` as it is (replacing whatever has its identity). */
export function addFlowModFor(entry: FlowEntry, xid = 0): FlowModMessage {
  return {
    type: 'FLOW_MOD', xid, cookie: entry.cookie, cookieMask: 0n, tableId: entry.tableId, command: OFP.OFPFC_ADD,
    idleTimeout: entry.idleTimeout, hardTimeout: entry.hardTimeout, priority: entry.priority,
    bufferId: OFP.OFP_NO_BUFFER, outPort: OFP.OFPP_ANY, outGroup: OFP.OFPG_ANY, flags: entry.flags,
    match: entry.match, instructions: entry.instructions,
  };
}

/**
 * A DELETE_STRICT of exactly this entry. With `exactCookie` (the default) the cookie mask is all
 * ones, so a flow of the same identity that someone else has since installed under another cookie
 * is left alone.
 */
export function deleteFlowModFor(entry: FlowIdentity & { cookie?: bigint }, opts: { exactCookie?: boolean; xid?: number } = {}): FlowModMessage {
  const exact = (opts.exactCookie ?? true) && entry.cookie !== undefined;
  return {
    type: 'FLOW_MOD', xid: opts.xid ?? 0, cookie: exact ? entry.cookie! : 0n, cookieMask: exact ? 0xffffffffffffffffn : 0n,
    tableId: entry.tableId, command: OFP.OFPFC_DELETE_STRICT, idleTimeout: 0, hardTimeout: 0, priority: entry.priority,
    bufferId: OFP.OFP_NO_BUFFER, outPort: OFP.OFPP_ANY, outGroup: OFP.OFPG_ANY, flags: 0, match: entry.match, instructions: [],
  };
}

export interface FlowEntryJson {
  tableId: number;
  priority: number;
  /** Decimal. */
  cookie: string;
  idleTimeout: number;
  hardTimeout: number;
  flags: number;
  match: OxmFieldJson[];
  instructions: InstructionJson[];
}

export function entryToJson(e: FlowEntry): FlowEntryJson {
  return {
    tableId: e.tableId,
    priority: e.priority,
    cookie: e.cookie.toString(),
    idleTimeout: e.idleTimeout,
    hardTimeout: e.hardTimeout,
    flags: e.flags,
    match: matchToJson(e.match),
    instructions: e.instructions.map(instructionToJson),
  };
}

function canonicalOrShapeError<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof MatchValueError) throw new JsonShapeError(path, err.message);
    throw err;
  }
}

/** Reads (and validates, and normalizes) an entry written by entryToJson. Throws JsonShapeError. */
export function entryFromJson(raw: unknown, path = 'entry'): FlowEntry {
  const o = record(raw, path);
  const e: FlowEntry = {
    tableId: uint(o.tableId, 8, `${path}.tableId`),
    priority: uint(o.priority, 16, `${path}.priority`),
    cookie: u64String(o.cookie, `${path}.cookie`),
    idleTimeout: uint(o.idleTimeout, 16, `${path}.idleTimeout`),
    hardTimeout: uint(o.hardTimeout, 16, `${path}.hardTimeout`),
    flags: uint(o.flags, 16, `${path}.flags`),
    match: canonicalMatchFromJson(o.match, `${path}.match`),
    instructions: instructionsFromJson(o.instructions, `${path}.instructions`),
  };
  if (e.tableId > OFP.OFPTT_MAX) throw new JsonShapeError(`${path}.tableId`, `a flow lives in tables 0..${OFP.OFPTT_MAX}`);
  return canonicalOrShapeError(path, () => normalizeEntry(e));
}

export function identityToJson(id: FlowIdentity): { tableId: number; priority: number; match: OxmFieldJson[] } {
  return { tableId: id.tableId, priority: id.priority, match: matchToJson(id.match) };
}

export function identityFromJson(raw: unknown, path = 'id'): FlowIdentity {
  const o = record(raw, path);
  const tableId = uint(o.tableId, 8, `${path}.tableId`);
  const priority = uint(o.priority, 16, `${path}.priority`);
  const match = canonicalMatchFromJson(o.match, `${path}.match`);
  return { tableId, priority, match: canonicalOrShapeError(path, () => normalizeMatch(match)) };
}

// ---------------------------------------------------------------------------------------------
// Changes
// ---------------------------------------------------------------------------------------------

/** What one flow-mod did to the table, entry by entry. */
export type FlowChange =
  /** A new identity. */
  | { op: 'add'; entry: FlowEntry }
  /** ADD over an existing identity: the switch restarts the entry's duration (and timeouts). */
  | { op: 'replace'; before: FlowEntry; entry: FlowEntry }
  /** MODIFY: new instructions, the rest unchanged. */
  | { op: 'modify'; before: FlowEntry; entry: FlowEntry }
  | { op: 'remove'; entry: FlowEntry };

/** Why a flow-mod was refused: the OFPT_ERROR a switch would send. */
export interface FlowModFailure {
  /** OFPET_*. */
  errorType: number;
  code: number;
  reason: string;
}

export type ApplyResult = { ok: true; changes: FlowChange[] } | { ok: false; error: FlowModFailure };

/**
 * The state-independent form of a change, which is what a mirror applies: put this entry (by its
 * identity), or delete this identity. Applying an edit twice is applying it once.
 */
export type TableEdit = { op: 'put'; entry: FlowEntry } | { op: 'del'; id: FlowIdentity };

export function editsOf(changes: readonly FlowChange[]): TableEdit[] {
  return changes.map((c) => (c.op === 'remove'
    ? { op: 'del', id: { tableId: c.entry.tableId, priority: c.entry.priority, match: c.entry.match } }
    : { op: 'put', entry: c.entry }));
}

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

export interface FlowTableOptions {
  /** The cookies the cluster owns; default EVERY_COOKIE. */
  ownedCookie?: CookieNamespace;
}

/** The JSON-safe canonical form of a table (entries in table order). */
export interface FlowTableSnapshot {
  v: 1;
  entries: FlowEntryJson[];
}

/** Upper bound on entries read from a snapshot: well above any switch's flow table. */
const MAX_SNAPSHOT_ENTRIES = 1_000_000;

interface Rec {
  key: string;
  entry: FlowEntry;
  /** The match as bits, computed when a selection or an overlap check first needs it. */
  bits?: Map<string, FieldBits>;
}

function bitsOf(r: Rec): Map<string, FieldBits> {
  return (r.bits ??= matchBits(r.entry.match));
}

function fail(errorType: number, code: number, reason: string): ApplyResult {
  return { ok: false, error: { errorType, code, reason } };
}

const U64_MAX = 0xffffffffffffffffn;

function isUint(v: unknown, bits: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** bits;
}

function isU64(v: unknown): v is bigint {
  return typeof v === 'bigint' && v >= 0n && v <= U64_MAX;
}

/**
 * The checks of a FLOW_MOD that need no table (field ranges, values that fit their fields, the
 * command and table id), with its match and instructions in canonical form: what apply() would
 * refuse on any table. The master checks a request with it before sending it to a switch.
 */
export function validateFlowMod(fm: FlowModMessage): { ok: true; match: Match; instructions: Instruction[] } | { ok: false; error: FlowModFailure } {
  const bad = staticCheck(fm);
  if (bad) return { ok: false, error: bad };
  let match: Match;
  let instructions: Instruction[];
  try {
    match = normalizeMatch(fm.match);
  } catch (err) {
    if (err instanceof MatchValueError) return { ok: false, error: { errorType: OFP.OFPET_BAD_MATCH, code: OFP.OFPBMC_BAD_VALUE, reason: err.message } };
    throw err;
  }
  try {
    instructions = canonicalInstructions(fm.instructions);
  } catch (err) {
    if (err instanceof MatchValueError) return { ok: false, error: { errorType: OFP.OFPET_BAD_ACTION, code: OFP.OFPBAC_BAD_SET_ARGUMENT, reason: err.message } };
    throw err;
  }
  const tableError = (errorType: number, code: number, reason: string) => ({ ok: false as const, error: { errorType, code, reason } });
  switch (fm.command) {
    case OFP.OFPFC_ADD:
      if (fm.tableId > OFP.OFPTT_MAX) return tableError(OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_BAD_TABLE_ID, `ADD needs a table 0..${OFP.OFPTT_MAX}, got ${fm.tableId}`);
      break;
    case OFP.OFPFC_MODIFY:
    case OFP.OFPFC_MODIFY_STRICT:
      if (fm.tableId > OFP.OFPTT_MAX) {
        return tableError(OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_BAD_TABLE_ID, `MODIFY needs a table 0..${OFP.OFPTT_MAX} (OFPTT_ALL is for deletes only), got ${fm.tableId}`);
      }
      break;
    case OFP.OFPFC_DELETE:
    case OFP.OFPFC_DELETE_STRICT:
      break;
    default:
      return tableError(OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_BAD_COMMAND, `unknown flow-mod command ${fm.command}`);
  }
  return { ok: true, match, instructions };
}

function staticCheck(fm: FlowModMessage): FlowModFailure | undefined {
  const err = (errorType: number, code: number, reason: string): FlowModFailure => ({ errorType, code, reason });
  if (fm === null || typeof fm !== 'object') return err(OFP.OFPET_BAD_REQUEST, OFP.OFPBRC_BAD_TYPE, 'expected a FLOW_MOD message');
  if (!isUint(fm.tableId, 8)) return err(OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_BAD_TABLE_ID, `table_id ${String(fm.tableId)} is not 0..255`);
  if (!isUint(fm.priority, 16)) return err(OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_UNKNOWN, `priority ${String(fm.priority)} is not 0..65535`);
  if (!isUint(fm.idleTimeout, 16) || !isUint(fm.hardTimeout, 16)) return err(OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_BAD_TIMEOUT, 'timeouts are 0..65535 seconds');
  if (!isUint(fm.flags, 16)) return err(OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_BAD_FLAGS, `flags ${String(fm.flags)} is not 0..0xffff`);
  if (!isU64(fm.cookie) || !isU64(fm.cookieMask)) return err(OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_UNKNOWN, 'cookie and cookie_mask are u64 bigints');
  if (!isUint(fm.outPort, 32) || !isUint(fm.outGroup, 32)) return err(OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_UNKNOWN, 'out_port and out_group are u32');
  if (!Array.isArray(fm.instructions)) return err(OFP.OFPET_BAD_INSTRUCTION, OFP.OFPBIC_UNKNOWN_INST, 'instructions must be an array');
  return undefined;
}

export class FlowTable {
  readonly ownedCookie: CookieNamespace;
  readonly #recs = new Map<string, Rec>();
  #sorted: Rec[] | undefined;

  constructor(options: FlowTableOptions = {}) {
    const ns = options.ownedCookie ?? EVERY_COOKIE;
    this.ownedCookie = Object.freeze({ value: ns.value, mask: ns.mask });
  }

  get size(): number {
    return this.#recs.size;
  }

  /** Applies one FLOW_MOD; returns what changed, or the error a switch would answer with. */
  apply(fm: FlowModMessage): ApplyResult {
    const v = validateFlowMod(fm);
    if (!v.ok) return v;
    const { match, instructions } = v;
    switch (fm.command) {
      case OFP.OFPFC_ADD: return this.#add(fm, match, instructions);
      case OFP.OFPFC_MODIFY:
      case OFP.OFPFC_MODIFY_STRICT: return this.#modify(fm, match, instructions);
      case OFP.OFPFC_DELETE:
      case OFP.OFPFC_DELETE_STRICT: return this.#delete(fm, match);
      default: return fail(OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_BAD_COMMAND, `unknown flow-mod command ${fm.command}`);
    }
  }

  /** (The table id was checked by validateFlowMod, as for #modify.) */
  #add(fm: FlowModMessage, match: Match, instructions: Instruction[]): ApplyResult {
    const key = keyOfCanonical(fm.tableId, fm.priority, match);
    let bits: Map<string, FieldBits> | undefined;
    if ((fm.flags & OFP.OFPFF_CHECK_OVERLAP) !== 0) {
      bits = matchBits(match);
      for (const r of this.#recs.values()) {
        if (r.key !== key && r.entry.tableId === fm.tableId && r.entry.priority === fm.priority && overlaps(bitsOf(r), bits)) {
          return fail(OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_OVERLAP, `overlaps the entry ${r.key}`);
        }
      }
    }
    const entry = new CanonicalEntry(fm.tableId, fm.priority, match, fm.cookie, fm.idleTimeout, fm.hardTimeout, fm.flags, instructions, key);
    const before = this.#recs.get(key)?.entry;
    this.#put(bits ? { key, entry, bits } : { key, entry });
    return { ok: true, changes: [before ? { op: 'replace', before, entry } : { op: 'add', entry }] };
  }

  /** Entries a MODIFY/DELETE selects, in table order. */
  #select(fm: FlowModMessage, match: Match, strict: boolean, withOutFilters: boolean): Rec[] {
    const allTables = fm.tableId === OFP.OFPTT_ALL;
    const cookieOk = (r: Rec) => fm.cookieMask === 0n || (r.entry.cookie & fm.cookieMask) === (fm.cookie & fm.cookieMask);
    const outOk = (r: Rec) => !withOutFilters
      || ((fm.outPort === OFP.OFPP_ANY || outputsTo(r.entry.instructions, fm.outPort))
        && (fm.outGroup === OFP.OFPG_ANY || usesGroup(r.entry.instructions, fm.outGroup)));
    if (strict && !allTables) {
      const r = this.#recs.get(keyOfCanonical(fm.tableId, fm.priority, match));
      return r && cookieOk(r) && outOk(r) ? [r] : [];
    }
    const matchText = canonicalMatchKey(match);
    const req = strict ? undefined : matchBits(match);
    // An empty match covers every entry: no need for the entries' bits (a clear selects them all).
    const coversAll = req !== undefined && req.size === 0;
    return this.#ordered().filter((r) => {
      if (!allTables && r.entry.tableId !== fm.tableId) return false;
      if (strict) {
        if (r.entry.priority !== fm.priority || r.key !== `${r.entry.tableId}/${fm.priority}/${matchText}`) return false;
      } else if (!coversAll && !covered(bitsOf(r), req!)) {
        return false;
      }
      return cookieOk(r) && outOk(r);
    });
  }

  #modify(fm: FlowModMessage, match: Match, instructions: Instruction[]): ApplyResult {
    const selected = this.#select(fm, match, fm.command === OFP.OFPFC_MODIFY_STRICT, false);
    const changes: FlowChange[] = [];
    for (const r of selected) {
      if (sameInstructionList(r.entry.instructions, instructions, false)) continue;
      const e = r.entry;
      const entry = new CanonicalEntry(
        e.tableId, e.priority, e.match, e.cookie, e.idleTimeout, e.hardTimeout, e.flags, instructions.map(cloneInstruction), r.key,
      );
      this.#put(r.bits ? { key: r.key, entry, bits: r.bits } : { key: r.key, entry });
      changes.push({ op: 'modify', before: r.entry, entry });
    }
    return { ok: true, changes };
  }

  #delete(fm: FlowModMessage, match: Match): ApplyResult {
    if (fm.tableId > OFP.OFPTT_MAX && fm.tableId !== OFP.OFPTT_ALL) {
      return fail(OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_BAD_TABLE_ID, `no table ${fm.tableId}`);
    }
    const selected = this.#select(fm, match, fm.command === OFP.OFPFC_DELETE_STRICT, true);
    for (const r of selected) this.#remove(r.key);
    return { ok: true, changes: selected.map((r) => ({ op: 'remove', entry: r.entry })) };
  }

  #put(rec: Rec): void {
    this.#recs.set(rec.key, rec);
    this.#sorted = undefined;
  }

  #remove(key: string): boolean {
    const had = this.#recs.delete(key);
    if (had) this.#sorted = undefined;
    return had;
  }

  #ordered(): Rec[] {
    if (!this.#sorted) {
      this.#sorted = [...this.#recs.values()].sort((a, b) => a.entry.tableId - b.entry.tableId
        || b.entry.priority - a.entry.priority || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
    return this.#sorted;
  }

  /**
   * Applies state-independent edits (a backup delta): `put` sets the entry of that identity,
   * `del` removes it. Returns what actually changed. Throws MatchValueError for a malformed entry
   * (edits read by parseBackupMessage are already valid).
   */
  applyEdits(edits: readonly TableEdit[]): FlowChange[] {
    const changes: FlowChange[] = [];
    for (const edit of edits) {
      if (edit.op === 'put') {
        const entry = normalizeEntry(edit.entry);
        const key = flowKey(entry);
        const before = this.#recs.get(key)?.entry;
        // Same key: same identity; only the rest can differ.
        if (before && (before === entry || sameStoredContent(before, entry))) continue;
        this.#put({ key, entry });
        changes.push(before ? { op: 'replace', before, entry } : { op: 'add', entry });
      } else {
        const key = flowKey(edit.id);
        const before = this.#recs.get(key)?.entry;
        if (before && this.#remove(key)) changes.push({ op: 'remove', entry: before });
      }
    }
    return changes;
  }

  /** The entry with this identity (or flowKey). */
  get(id: FlowIdentity | string): FlowEntry | undefined {
    return this.#recs.get(typeof id === 'string' ? id : flowKey(id))?.entry;
  }

  has(id: FlowIdentity | string): boolean {
    return this.get(id) !== undefined;
  }

  /** Every entry, by table, then priority (highest first), then match key. */
  entries(): FlowEntry[] {
    return this.#ordered().map((r) => r.entry);
  }

  /** [flowKey, entry] pairs in entries() order. */
  /** [flowKey, entry] pairs in no particular order (no sort: for a caller that orders what it keeps). */
  *keyedUnordered(): IterableIterator<[string, FlowEntry]> {
    for (const r of this.#recs.values()) yield [r.key, r.entry];
  }

  keyed(): [string, FlowEntry][] {
    return this.#ordered().map((r) => [r.key, r.entry]);
  }

  /** Whether the entry's cookie is in this table's owned namespace. */
  isOwned(entry: { cookie: bigint }): boolean {
    return cookieInNamespace(entry.cookie, this.ownedCookie);
  }

  ownedEntries(): FlowEntry[] {
    return this.entries().filter((e) => this.isOwned(e));
  }

  /**
   * An independent copy (same owned namespace): changing one table leaves the other alone. The
   * entries themselves are shared, which is safe because nothing modifies an entry in place (a
   * change replaces it), and cheap: a promotion copies every mirrored table.
   */
  clone(): FlowTable {
    const t = new FlowTable({ ownedCookie: this.ownedCookie });
    for (const r of this.#recs.values()) t.#recs.set(r.key, { ...r });
    return t;
  }

  /** Same entries, field for field (the owned namespace is configuration, not compared). */
  equals(other: FlowTable): boolean {
    if (other.size !== this.size) return false;
    for (const [key, r] of this.#recs) {
      const o = other.#recs.get(key);
      if (!o || !entryEquals(r.entry, o.entry)) return false;
    }
    return true;
  }

  /** Keys present in one table and not the other, or with different entries (for test reports). */
  diff(other: FlowTable): string[] {
    const out: string[] = [];
    for (const [key, r] of this.#recs) {
      const o = other.#recs.get(key);
      if (!o) out.push(`only here: ${key}`);
      else if (!entryEquals(r.entry, o.entry)) out.push(`differs: ${key}`);
    }
    for (const key of other.#recs.keys()) if (!this.#recs.has(key)) out.push(`only there: ${key}`);
    return out;
  }

  toSnapshot(): FlowTableSnapshot {
    return { v: 1, entries: this.entries().map(entryToJson) };
  }

  /** A table from toSnapshot()'s output (validated: throws JsonShapeError on anything else). */
  static fromSnapshot(raw: unknown, options: FlowTableOptions = {}): FlowTable {
    const o = record(raw, 'table');
    if (o.v !== 1) throw new JsonShapeError('table.v', 'unsupported snapshot version (expected 1)');
    if (!Array.isArray(o.entries)) throw new JsonShapeError('table.entries', 'expected an array');
    if (o.entries.length > MAX_SNAPSHOT_ENTRIES) throw new JsonShapeError('table.entries', `more than ${MAX_SNAPSHOT_ENTRIES} entries`);
    return FlowTable.fromSnapshotEntries(o.entries.map((raw, i) => entryFromJson(raw, `table.entries[${i}]`)), options);
  }

  /**
   * A table from a snapshot's entries already read with entryFromJson (in order; for a reader
   * that reads them a slice at a time). Throws JsonShapeError for two entries of one identity.
   */
  static fromSnapshotEntries(entries: readonly FlowEntry[], options: FlowTableOptions = {}): FlowTable {
    const t = new FlowTable(options);
    entries.forEach((entry, i) => {
      const key = flowKey(entry);
      if (t.#recs.has(key)) throw new JsonShapeError(`table.entries[${i}]`, `duplicate identity ${key}`);
      t.#recs.set(key, { key, entry });
    });
    return t;
  }

  /** A table holding these entries (normalized; a later entry replaces an earlier one of the same identity). */
  static of(entries: Iterable<FlowEntry>, options: FlowTableOptions = {}): FlowTable {
    const t = new FlowTable(options);
    t.applyEdits([...entries].map((entry) => ({ op: 'put', entry })));
    return t;
  }
}

function cloneAction(a: Action): Action {
  if (a.type === 'SET_FIELD') {
    const f = a.field;
    return { type: 'SET_FIELD', field: f.field === 'raw' ? { ...f, value: Buffer.from(f.value), ...(f.mask ? { mask: Buffer.from(f.mask) } : {}) } : { ...f } };
  }
  if (a.type === 'EXPERIMENTER') return { ...a, data: Buffer.from(a.data) };
  return { ...a };
}

function cloneInstruction(i: Instruction): Instruction {
  if (i.type === 'APPLY_ACTIONS' || i.type === 'WRITE_ACTIONS') return { type: i.type, actions: i.actions.map(cloneAction) };
  if (i.type === 'EXPERIMENTER') return { ...i, data: Buffer.from(i.data) };
  return { ...i };
}

export function cloneEntry(e: FlowEntry): FlowEntry {
  return {
    ...e,
    match: e.match.map((f) => (f.field === 'raw' ? { ...f, value: Buffer.from(f.value), ...(f.mask ? { mask: Buffer.from(f.mask) } : {}) } : { ...f })),
    instructions: e.instructions.map(cloneInstruction),
  };
}
