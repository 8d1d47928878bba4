/**
 * JSON-safe forms of matches, instructions and flow entries, for snapshots and backup messages,
 * and their validating readers. The codec's types hold bigints and Buffers; here 64-bit values are
 * decimal strings and byte payloads lower-case hex. Readers take `unknown` (anything a peer may
 * send) and throw nothing but JsonShapeError, whose `path` names the offending value.
 */
import { OXM_FIELDS, type Action, type Instruction, type Match, type OxmField } from '../openflow/codec.js';
import { MatchValueError, matchOfNormalizedFields, normalizeField } from './match-bits.js';

export class JsonShapeError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`${path}: ${reason}`);
    this.name = 'JsonShapeError';
  }
}

export type OxmFieldJson =
  | { field: string; value: number | string; mask?: number | string }
  | {
      field: 'raw'; oxmClass: number; oxmField: number; hasMask: boolean; experimenter?: number;
      /** Hex. */
      value: string;
      mask?: string;
    };

export type ActionJson =
  | { type: 'OUTPUT'; port: number; maxLen: number }
  | { type: 'COPY_TTL_OUT' | 'COPY_TTL_IN' | 'DEC_MPLS_TTL' | 'POP_VLAN' | 'DEC_NW_TTL' | 'POP_PBB' }
  | { type: 'SET_MPLS_TTL'; mplsTtl: number }
  | { type: 'PUSH_VLAN' | 'PUSH_MPLS' | 'POP_MPLS' | 'PUSH_PBB'; ethertype: number }
  | { type: 'SET_QUEUE'; queueId: number }
  | { type: 'GROUP'; groupId: number }
  | { type: 'SET_NW_TTL'; nwTtl: number }
  | { type: 'SET_FIELD'; field: OxmFieldJson }
  | { type: 'EXPERIMENTER'; experimenter: number; data: string };

export type InstructionJson =
  | { type: 'GOTO_TABLE'; tableId: number }
  | { type: 'WRITE_METADATA'; metadata: string; metadataMask: string }
  | { type: 'WRITE_ACTIONS' | 'APPLY_ACTIONS'; actions: ActionJson[] }
  | { type: 'CLEAR_ACTIONS' }
  | { type: 'METER'; meterId: number }
  | { type: 'EXPERIMENTER'; experimenter: number; data: string };

const KIND = new Map(OXM_FIELDS.map((s) => [s.name as string, s.kind]));

// Limits: far above anything real, low enough that a hostile message cannot make us allocate
// without bound before it is refused.
const MAX_MATCH_FIELDS = 64;
const MAX_INSTRUCTIONS = 16;
const MAX_ACTIONS = 4096;
const MAX_HEX_BYTES = 4096;

// ---------------------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------------------

export function oxmFieldToJson(f: OxmField): OxmFieldJson {
  if (f.field === 'raw') {
    const out: OxmFieldJson = { field: 'raw', oxmClass: f.oxmClass, oxmField: f.oxmField, hasMask: f.hasMask, value: f.value.toString('hex') };
    if (f.experimenter !== undefined) out.experimenter = f.experimenter;
    if (f.mask !== undefined) out.mask = f.mask.toString('hex');
    return out;
  }
  const conv = (v: unknown): number | string => (typeof v === 'bigint' ? v.toString() : (v as number | string));
  const out: OxmFieldJson = { field: f.field, value: conv(f.value) };
  if (f.mask !== undefined) out.mask = conv(f.mask);
  return out;
}

export function matchToJson(m: Match): OxmFieldJson[] {
  return m.map(oxmFieldToJson);
}

export function actionToJson(a: Action): ActionJson {
  switch (a.type) {
    case 'SET_FIELD': return { type: 'SET_FIELD', field: oxmFieldToJson(a.field) };
    case 'EXPERIMENTER': return { type: 'EXPERIMENTER', experimenter: a.experimenter, data: a.data.toString('hex') };
    default: return { ...a } as ActionJson;
  }
}

export function instructionToJson(i: Instruction): InstructionJson {
  switch (i.type) {
    case 'WRITE_METADATA': return { type: 'WRITE_METADATA', metadata: i.metadata.toString(), metadataMask: i.metadataMask.toString() };
    case 'WRITE_ACTIONS':
    case 'APPLY_ACTIONS': return { type: i.type, actions: i.actions.map(actionToJson) };
    case 'EXPERIMENTER': return { type: 'EXPERIMENTER', experimenter: i.experimenter, data: i.data.toString('hex') };
    default: return { ...i };
  }
}

// ---------------------------------------------------------------------------------------------
// Reading (validating)
// ---------------------------------------------------------------------------------------------

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function record(v: unknown, path: string): Record<string, unknown> {
  if (!isRecord(v)) throw new JsonShapeError(path, 'expected an object');
  return v;
}

export function uint(v: unknown, bits: number, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** bits - 1) {
    throw new JsonShapeError(path, `expected an integer 0..${2 ** bits - 1}`);
  }
  return v;
}

/** A u64 written as a decimal string. */
export function u64String(v: unknown, path: string): bigint {
  if (typeof v !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(v)) throw new JsonShapeError(path, 'expected a u64 as a decimal string');
  const n = BigInt(v);
  if (n > 0xffffffffffffffffn) throw new JsonShapeError(path, 'exceeds 2^64 - 1');
  return n;
}

function hex(v: unknown, path: string): Buffer {
  if (typeof v !== 'string' || v.length % 2 !== 0 || v.length > 2 * MAX_HEX_BYTES || !/^[0-9a-f]*$/.test(v)) {
    throw new JsonShapeError(path, 'expected lower-case hex of whole bytes');
  }
  return Buffer.from(v, 'hex');
}

function array(v: unknown, max: number, path: string): unknown[] {
  if (!Array.isArray(v)) throw new JsonShapeError(path, 'expected an array');
  if (v.length > max) throw new JsonShapeError(path, `more than ${max} elements`);
  return v;
}

function basicValue(kind: string, v: unknown, path: string): number | bigint | string {
  switch (kind) {
    case 'u64': return u64String(v, path);
    case 'uint':
      if (typeof v !== 'number') throw new JsonShapeError(path, 'expected a number');
      return v;
    default:
      if (typeof v !== 'string') throw new JsonShapeError(path, 'expected a string');
      return v;
  }
}

/** A field read from JSON, validated, as written (a forwarded flow-mod goes to the switch as it was). */
export function oxmFieldFromJson(raw: unknown, path: string): OxmField {
  return readOxmField(raw, path, false);
}

function readOxmField(raw: unknown, path: string, canonical: boolean): OxmField {
  const o = record(raw, path);
  if (o.field === 'raw') {
    const out: OxmField = {
      field: 'raw',
      oxmClass: uint(o.oxmClass, 16, `${path}.oxmClass`),
      oxmField: uint(o.oxmField, 7, `${path}.oxmField`),
      hasMask: (() => {
        if (typeof o.hasMask !== 'boolean') throw new JsonShapeError(`${path}.hasMask`, 'expected a boolean');
        return o.hasMask;
      })(),
      value: hex(o.value, `${path}.value`),
    };
    if (o.experimenter !== undefined) out.experimenter = uint(o.experimenter, 32, `${path}.experimenter`);
    if (o.mask !== undefined) out.mask = hex(o.mask, `${path}.mask`);
    return canonical ? normalizeField(out) : out;
  }
  if (typeof o.field !== 'string') throw new JsonShapeError(`${path}.field`, 'expected an OXM field name');
  const kind = KIND.get(o.field);
  if (!kind) throw new JsonShapeError(`${path}.field`, `unknown OXM field '${o.field.slice(0, 40)}'`);
  const field = { field: o.field, value: basicValue(kind, o.value, `${path}.value`) } as OxmField;
  if (o.mask !== undefined) (field as { mask?: unknown }).mask = basicValue(kind, o.mask, `${path}.mask`);
  try {
    // Range and address syntax (no bytes made for a value already canonical).
    const normalized = normalizeField(field);
    return canonical ? normalized : field;
  } catch (err) {
    if (err instanceof MatchValueError) throw new JsonShapeError(path, err.reason);
    throw err;
  }
}

/** A match read from JSON, validated field by field, as written. */
export function matchFromJson(raw: unknown, path: string): Match {
  return array(raw, MAX_MATCH_FIELDS, path).map((f, i) => readOxmField(f, `${path}[${i}]`, false));
}

/** A match read from JSON, validated field by field, in canonical form (see match-bits.ts): what tables hold. */
export function canonicalMatchFromJson(raw: unknown, path: string): Match {
  return matchOfNormalizedFields(array(raw, MAX_MATCH_FIELDS, path).map((f, i) => readOxmField(f, `${path}[${i}]`, true)));
}

const SIMPLE_ACTIONS = new Set(['COPY_TTL_OUT', 'COPY_TTL_IN', 'DEC_MPLS_TTL', 'POP_VLAN', 'DEC_NW_TTL', 'POP_PBB']);
const ETHERTYPE_ACTIONS = new Set(['PUSH_VLAN', 'PUSH_MPLS', 'POP_MPLS', 'PUSH_PBB']);

export function actionFromJson(raw: unknown, path: string): Action {
  const o = record(raw, path);
  const t = o.type;
  if (typeof t === 'string' && SIMPLE_ACTIONS.has(t)) return { type: t } as Action;
  if (typeof t === 'string' && ETHERTYPE_ACTIONS.has(t)) return { type: t, ethertype: uint(o.ethertype, 16, `${path}.ethertype`) } as Action;
  switch (t) {
    case 'OUTPUT': return { type: 'OUTPUT', port: uint(o.port, 32, `${path}.port`), maxLen: uint(o.maxLen, 16, `${path}.maxLen`) };
    case 'SET_MPLS_TTL': return { type: 'SET_MPLS_TTL', mplsTtl: uint(o.mplsTtl, 8, `${path}.mplsTtl`) };
    case 'SET_QUEUE': return { type: 'SET_QUEUE', queueId: uint(o.queueId, 32, `${path}.queueId`) };
    case 'GROUP': return { type: 'GROUP', groupId: uint(o.groupId, 32, `${path}.groupId`) };
    case 'SET_NW_TTL': return { type: 'SET_NW_TTL', nwTtl: uint(o.nwTtl, 8, `${path}.nwTtl`) };
    case 'SET_FIELD': return { type: 'SET_FIELD', field: oxmFieldFromJson(o.field, `${path}.field`) };
    case 'EXPERIMENTER': return { type: 'EXPERIMENTER', experimenter: uint(o.experimenter, 32, `${path}.experimenter`), data: hex(o.data, `${path}.data`) };
    default: throw new JsonShapeError(`${path}.type`, 'unknown action type');
  }
}

export function instructionFromJson(raw: unknown, path: string): Instruction {
  const o = record(raw, path);
  switch (o.type) {
    case 'GOTO_TABLE': return { type: 'GOTO_TABLE', tableId: uint(o.tableId, 8, `${path}.tableId`) };
    case 'WRITE_METADATA': return {
      type: 'WRITE_METADATA',
      metadata: u64String(o.metadata, `${path}.metadata`),
      metadataMask: u64String(o.metadataMask, `${path}.metadataMask`),
    };
    case 'WRITE_ACTIONS':
    case 'APPLY_ACTIONS': return {
      type: o.type,
      actions: array(o.actions, MAX_ACTIONS, `${path}.actions`).map((a, i) => actionFromJson(a, `${path}.actions[${i}]`)),
    };
    case 'CLEAR_ACTIONS': return { type: 'CLEAR_ACTIONS' };
    case 'METER': return { type: 'METER', meterId: uint(o.meterId, 32, `${path}.meterId`) };
    case 'EXPERIMENTER': return { type: 'EXPERIMENTER', experimenter: uint(o.experimenter, 32, `${path}.experimenter`), data: hex(o.data, `${path}.data`) };
    default: throw new JsonShapeError(`${path}.type`, 'unknown instruction type');
  }
}

export function instructionsFromJson(raw: unknown, path: string): Instruction[] {
  return array(raw, MAX_INSTRUCTIONS, path).map((x, i) => instructionFromJson(x, `${path}[${i}]`));
}
