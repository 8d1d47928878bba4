/**
 * Ryu ofctl_rest's OpenFlow 1.3 JSON ↔ the codec's FLOW_MOD, so that scripts written for Ryu
 * work unchanged against flowkeeper:
 * - the bodies of POST /stats/flowentry/{add,modify,modify_strict,delete,delete_strict}
 *   (parseFlowEntryRequest) and of POST /stats/flow/<dpid> (parseFlowStatsFilter);
 * - the reply of GET|POST /stats/flow/<dpid> (formatFlowStatsReply, written with toRyuJson).
 *
 * Formats and defaults follow Ryu's ofctl_rest documentation and ofctl_v1_3 (Ryu 4.x):
 * - integers as JSON numbers or strings ('0x10' as Python's int(x, 0) reads them); ports, groups,
 *   tables, meters, queues also by reserved name ('CONTROLLER', 'OFPP_LOCAL', 'ALL', ...);
 * - match: OXM names (in_port, eth_dst, ipv4_dst, tcp_dst, ...) and the legacy aliases Ryu
 *   accepts (dl_dst, dl_src, dl_type, dl_vlan, nw_src, nw_dst, nw_proto, tp_src, tp_dst — tp_*
 *   by ip_proto, nw_src/nw_dst as arp_spa/arp_tpa when eth_type is ARP); MAC and IP values with
 *   '/mask' or '/prefix'; vlan_vid as Ryu reads it (a decimal number gets OFPVID_PRESENT, a hex
 *   string is the raw OXM value, 'value/mask' is raw);
 * - actions: one list mixing actions (gathered, in order, into one APPLY_ACTIONS) and the
 *   instructions GOTO_TABLE, WRITE_METADATA, METER, WRITE_ACTIONS, CLEAR_ACTIONS;
 * - defaults: table_id 0, priority 0, cookie 0, cookie_mask 0, timeouts 0, buffer_id
 *   OFP_NO_BUFFER, out_port OFPP_ANY, out_group OFPG_ANY, flags 0, OUTPUT max_len OFPCML_MAX.
 * Where Ryu logs and ignores a bad value (an unknown match field or action type) this refuses the
 * request with a FlowRequestError naming the field and the reason: a typo should not silently
 * widen a match. Value bits outside a mask are cleared (Ryu's own doc example '192.168.0.1/24'
 * would otherwise be refused by the switch), and a zero mask leaves the field out.
 */
import {
  OFP, insertInFieldOrder, type Action, type FlowModMessage, type FlowStats, type FlowStatsFilter, type Instruction,
  type Match, type OxmField,
} from '../openflow/codec.js';
import { isCanonicalIpv4, oxmWireLength, type OxmFieldSpec } from '../openflow/oxm.js';
import {
  GROUP_NAMES, MAX_LEN_NAMES, METER_NAMES, OXM_BY_NAME, PORT_NAMES, QUEUE_NAMES, TABLE_NAMES, ValueTextError,
  fieldFromBits, parseIpText, parseMacText, reservedName, uintBytes, uintNumber, uintValue,
  type ReservedNames,
} from './field-text.js';
import { firstUnmetPrerequisite } from './match-prerequisites.js';

/** A request Ryu's JSON cannot express: `field` is the path of the offending value. */
export class FlowRequestError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'FlowRequestError';
  }
}

export type FlowEntryCommand = 'add' | 'modify' | 'modify_strict' | 'delete' | 'delete_strict';

const COMMANDS: Readonly<Record<FlowEntryCommand, number>> = {
  add: OFP.OFPFC_ADD,
  modify: OFP.OFPFC_MODIFY,
  modify_strict: OFP.OFPFC_MODIFY_STRICT,
  delete: OFP.OFPFC_DELETE,
  delete_strict: OFP.OFPFC_DELETE_STRICT,
};

export interface FlowEntryRequest {
  dpid: bigint;
  flowMod: FlowModMessage;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function own(o: Record<string, unknown>, k: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, k) ? o[k] : undefined;
}

/** A value reader's ValueTextError as a FlowRequestError for `field`; anything else as it is. */
function asFieldError(field: string, err: unknown): unknown {
  return err instanceof ValueTextError ? new FlowRequestError(field, err.reason) : err;
}

/** Runs a value reader, turning its ValueTextError into a FlowRequestError for `field`. */
function at<T>(field: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw asFieldError(field, err);
  }
}

// The readers of the fields every request has catch inline rather than through `at`: a batch
// reads thousands of entries, and a closure per field was a good part of what each one allocated.

function uintField(o: Record<string, unknown>, key: string, bits: number, dflt: number, names?: ReservedNames, path = key): number {
  const raw = own(o, key);
  if (raw === undefined) return dflt;
  try {
    return uintNumber(raw, bits, names);
  } catch (err) {
    throw asFieldError(path, err);
  }
}

function u64Field(o: Record<string, unknown>, key: string, path = key): bigint {
  const raw = own(o, key);
  if (raw === undefined) return 0n;
  try {
    return uintValue(raw, 64);
  } catch (err) {
    throw asFieldError(path, err);
  }
}

/** A datapath id as Ryu reads it: a number, or a string in decimal or 0x hex. */
export function parseDpid(raw: unknown, field = 'dpid'): bigint {
  if (raw === undefined) throw new FlowRequestError(field, 'required');
  try {
    return uintValue(raw, 64);
  } catch (err) {
    throw asFieldError(field, err);
  }
}

/** The body of POST /stats/flowentry/<command>. Throws FlowRequestError, and nothing else, on bad input. */
export function parseFlowEntryRequest(command: FlowEntryCommand | string, body: unknown): FlowEntryRequest {
  if (!Object.prototype.hasOwnProperty.call(COMMANDS, command)) {
    throw new FlowRequestError('command', `expected one of ${Object.keys(COMMANDS).join(', ')}`);
  }
  if (!isRecord(body)) throw new FlowRequestError('body', 'expected a JSON object');
  const dpid = parseDpid(own(body, 'dpid'));
  const bufferRaw = own(body, 'buffer_id');
  const bufferId = bufferRaw === 'OFP_NO_BUFFER' || bufferRaw === 'NO_BUFFER' ? OFP.OFP_NO_BUFFER : uintField(body, 'buffer_id', 32, OFP.OFP_NO_BUFFER);
  const flowMod: FlowModMessage = {
    type: 'FLOW_MOD',
    xid: 0,
    cookie: u64Field(body, 'cookie'),
    cookieMask: u64Field(body, 'cookie_mask'),
    tableId: uintField(body, 'table_id', 8, 0, TABLE_NAMES),
    command: COMMANDS[command as FlowEntryCommand],
    idleTimeout: uintField(body, 'idle_timeout', 16, 0),
    hardTimeout: uintField(body, 'hard_timeout', 16, 0),
    priority: uintField(body, 'priority', 16, 0),
    bufferId,
    outPort: uintField(body, 'out_port', 32, OFP.OFPP_ANY, PORT_NAMES),
    outGroup: uintField(body, 'out_group', 32, OFP.OFPG_ANY, GROUP_NAMES),
    flags: uintField(body, 'flags', 16, 0),
    match: parseRyuMatch(own(body, 'match') ?? {}),
    instructions: parseRyuActions(own(body, 'actions') ?? []),
  };
  return { dpid, flowMod };
}

/** The body of POST /stats/flow/<dpid> (which flows to report). Throws FlowRequestError. */
export function parseFlowStatsFilter(body: unknown): FlowStatsFilter {
  if (body === undefined || body === null || (typeof body === 'string' && body.trim() === '')) body = {};
  if (!isRecord(body)) throw new FlowRequestError('body', 'expected a JSON object');
  return {
    tableId: uintField(body, 'table_id', 8, OFP.OFPTT_ALL, TABLE_NAMES),
    outPort: uintField(body, 'out_port', 32, OFP.OFPP_ANY, PORT_NAMES),
    outGroup: uintField(body, 'out_group', 32, OFP.OFPG_ANY, GROUP_NAMES),
    cookie: u64Field(body, 'cookie'),
    cookieMask: u64Field(body, 'cookie_mask'),
    match: parseRyuMatch(own(body, 'match') ?? {}),
  };
}

/** DELETE /stats/flowentry/clear/<dpid>: every flow of every table. */
export function clearFlowsFlowMod(): FlowModMessage {
  return {
    type: 'FLOW_MOD', xid: 0, cookie: 0n, cookieMask: 0n, tableId: OFP.OFPTT_ALL, command: OFP.OFPFC_DELETE,
    idleTimeout: 0, hardTimeout: 0, priority: 0, bufferId: OFP.OFP_NO_BUFFER, outPort: OFP.OFPP_ANY,
    outGroup: OFP.OFPG_ANY, flags: 0, match: [], instructions: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Match
// ---------------------------------------------------------------------------------------------

const LEGACY_ALIASES: Readonly<Record<string, string>> = {
  dl_dst: 'eth_dst', dl_src: 'eth_src', dl_type: 'eth_type', dl_vlan: 'vlan_vid',
  nw_src: 'ipv4_src', nw_dst: 'ipv4_dst', nw_proto: 'ip_proto',
};

const L4_BY_PROTO: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

/** One basic field's value (and mask) from Ryu's JSON; errors name `${base}.${key}`. */
function fieldValue(spec: OxmFieldSpec, raw: unknown, base: string, key: string, setField: boolean): OxmField | undefined {
  // The common spellings, already what the long way below would make of them: a plain number
  // for an integer field (vlan_vid aside: Ryu reads a decimal VLAN id specially), a dotted quad.
  if (typeof raw === 'number' && spec.kind === 'uint' && spec.name !== 'vlan_vid' && Number.isInteger(raw) && raw >= 0 && raw < 2 ** (spec.bytes * 8)) {
    return { field: spec.name, value: raw } as OxmField;
  }
  if (typeof raw === 'string' && spec.kind === 'ipv4' && isCanonicalIpv4(raw)) return { field: spec.name, value: raw } as OxmField;
  const path = `${base}.${key}`;
  const text = (): string => {
    if (typeof raw !== 'string') throw new FlowRequestError(path, `expected a string, got ${typeof raw}`);
    return raw;
  };
  switch (spec.kind) {
    case 'mac': {
      const bits = at(path, () => parseMacText(text()));
      if (setField && bits.mask) throw new FlowRequestError(path, 'set-field values take no mask');
      return fieldFromBits(spec, bits.value, bits.mask);
    }
    case 'ipv4':
    case 'ipv6': {
      const bits = at(path, () => parseIpText(text(), spec.kind === 'ipv4' ? 4 : 6));
      if (setField && bits.mask) throw new FlowRequestError(path, 'set-field values take no mask');
      if (!spec.maskable && bits.mask && !bits.mask.every((x) => x === 0xff)) throw new FlowRequestError(path, `${spec.name} takes no mask`);
      return fieldFromBits(spec, bits.value, bits.mask);
    }
    default: {
      const bits = spec.bytes * 8;
      if (spec.name === 'in_port' || spec.name === 'in_phy_port') {
        return { field: spec.name, value: at(path, () => uintNumber(raw, 32, PORT_NAMES)) };
      }
      if (typeof raw === 'string' && raw.includes('/')) {
        if (setField) throw new FlowRequestError(path, 'set-field values take no mask');
        if (!spec.maskable) throw new FlowRequestError(path, `${spec.name} takes no mask`);
        const [v, m] = raw.split('/', 2) as [string, string];
        const value = at(path, () => uintValue(v, bits));
        const mask = at(path, () => uintValue(m, bits));
        return fieldFromBits(spec, uintBytes(spec, value), uintBytes(spec, mask));
      }
      let n = at(path, () => uintValue(raw, bits));
      // Ryu: a vlan_vid written as a decimal number (or decimal string) is a VLAN id and gets
      // OFPVID_PRESENT; written in hex it is the raw OXM value. Set-field values are raw.
      if (spec.name === 'vlan_vid' && !setField && (typeof raw === 'number' || /^\s*[0-9]+\s*$/.test(String(raw)))) {
        if (n > 0xfffn) throw new FlowRequestError(path, `a VLAN id is 0..4095 (write the raw value in hex, e.g. '0x1064')`);
        n |= BigInt(OFP.OFPVID_PRESENT);
      }
      return fieldFromBits(spec, uintBytes(spec, n), undefined);
    }
  }
}

/** Reads `raw` as an unsigned integer of `bits`, or undefined when it is none. */
function uintOrUndefined(raw: unknown, bits: number): bigint | undefined {
  try {
    return uintValue(raw, bits);
  } catch {
    return undefined;
  }
}

/** Ryu's match dict → an OXM match (in field order). Throws FlowRequestError. */
export function parseRyuMatch(raw: unknown, path = 'match'): Match {
  if (!isRecord(raw)) throw new FlowRequestError(path, 'expected an object of match fields');
  const ethType = own(raw, 'eth_type') ?? own(raw, 'dl_type');
  const isArp = ethType !== undefined && uintOrUndefined(ethType, 16) === 0x0806n;
  const proto = own(raw, 'ip_proto') ?? own(raw, 'nw_proto');
  // The fields in field-number order, with their numbers; and for each field read, its OXM name and
  // the request's key that gave it (two keys may name one field: eth_dst and dl_dst).
  const fields: OxmField[] = [];
  const codes: number[] = [];
  const names: string[] = [];
  const keys: string[] = [];
  for (const key of Object.keys(raw)) {
    const value = raw[key];
    let name = LEGACY_ALIASES[key] ?? key;
    if (isArp && key === 'nw_src') name = 'arp_spa';
    if (isArp && key === 'nw_dst') name = 'arp_tpa';
    if (key === 'tp_src' || key === 'tp_dst') {
      const p = proto === undefined ? undefined : uintOrUndefined(proto, 8);
      const l4 = p === undefined ? undefined : L4_BY_PROTO[Number(p)];
      if (!l4) throw new FlowRequestError(`${path}.${key}`, 'needs ip_proto (or nw_proto) 6, 17 or 132 to tell TCP, UDP and SCTP ports apart');
      name = `${l4}_${key.slice(3)}`;
    }
    const spec = OXM_BY_NAME.get(name);
    if (!spec) throw new FlowRequestError(`${path}.${key}`, 'unknown match field');
    const seen = names.indexOf(name);
    if (seen >= 0) throw new FlowRequestError(`${path}.${key}`, `the same field as '${keys[seen]}'`);
    names.push(name);
    keys.push(key);
    const f = fieldValue(spec, value, path, key, false);
    if (!f || f.field === 'raw') continue; // a field whose mask is all zeros matches anything
    insertInFieldOrder(fields, codes, f, spec.code);
  }
  // The switch would refuse these (OFPBMC_BAD_PREREQ) without saying which field.
  const unmet = firstUnmetPrerequisite(fields);
  if (unmet) throw new FlowRequestError(`${path}.${keys[names.indexOf(unmet.field)] ?? unmet.field}`, unmet.why);
  return fields;
}

// ---------------------------------------------------------------------------------------------
// Actions and instructions
// ---------------------------------------------------------------------------------------------

const INSTRUCTION_KEYS = new Set(['GOTO_TABLE', 'WRITE_METADATA', 'METER', 'WRITE_ACTIONS', 'CLEAR_ACTIONS']);
const ACTION_TYPES = [
  'OUTPUT', 'COPY_TTL_OUT', 'COPY_TTL_IN', 'SET_MPLS_TTL', 'DEC_MPLS_TTL', 'PUSH_VLAN', 'POP_VLAN', 'PUSH_MPLS',
  'POP_MPLS', 'SET_QUEUE', 'GROUP', 'SET_NW_TTL', 'DEC_NW_TTL', 'SET_FIELD', 'PUSH_PBB', 'POP_PBB', 'EXPERIMENTER',
];

function required(o: Record<string, unknown>, key: string, path: string): unknown {
  const v = own(o, key);
  if (v === undefined) throw new FlowRequestError(`${path}.${key}`, 'required');
  return v;
}

/** `o[key]`, required, as an unsigned integer of `bits`; errors name `${path}.${key}`. */
function requiredUint(o: Record<string, unknown>, key: string, path: string, bits: number, names?: ReservedNames): number {
  const v = required(o, key, path);
  try {
    return uintNumber(v, bits, names);
  } catch (err) {
    throw asFieldError(`${path}.${key}`, err);
  }
}

function parseAction(raw: unknown, path: string): Action {
  if (!isRecord(raw)) throw new FlowRequestError(path, 'expected an action object {"type": ...}');
  const type = own(raw, 'type');
  if (type === 'OUTPUT') { // nearly every action: read without making the closure below
    const port = requiredUint(raw, 'port', path, 32, PORT_NAMES);
    const maxLen = own(raw, 'max_len') === undefined ? OFP.OFPCML_MAX : requiredUint(raw, 'max_len', path, 16, MAX_LEN_NAMES);
    return { type: 'OUTPUT', port, maxLen };
  }
  const num = (key: string, bits: number, names?: ReservedNames) => requiredUint(raw, key, path, bits, names);
  switch (type) {
    case 'COPY_TTL_OUT':
    case 'COPY_TTL_IN':
    case 'DEC_MPLS_TTL':
    case 'POP_VLAN':
    case 'DEC_NW_TTL':
    case 'POP_PBB':
      return { type };
    case 'SET_MPLS_TTL': return { type, mplsTtl: num('mpls_ttl', 8) };
    case 'SET_NW_TTL': return { type, nwTtl: num('nw_ttl', 8) };
    case 'PUSH_VLAN':
    case 'PUSH_MPLS':
    case 'POP_MPLS':
    case 'PUSH_PBB':
      return { type, ethertype: num('ethertype', 16) };
    case 'SET_QUEUE': return { type, queueId: num('queue_id', 32, QUEUE_NAMES) };
    case 'GROUP': return { type, groupId: num('group_id', 32, GROUP_NAMES) };
    case 'SET_FIELD': {
      const fieldRaw = required(raw, 'field', path);
      if (typeof fieldRaw !== 'string') throw new FlowRequestError(`${path}.field`, 'expected a field name');
      const name = LEGACY_ALIASES[fieldRaw] ?? fieldRaw;
      const spec = OXM_BY_NAME.get(name);
      if (!spec) throw new FlowRequestError(`${path}.field`, 'unknown field');
      const field = fieldValue(spec, required(raw, 'value', path), path, 'value', true);
      return { type, field: field! };
    }
    case 'EXPERIMENTER': {
      const experimenter = num('experimenter', 32);
      const dataType = own(raw, 'data_type') ?? 'ascii';
      const data = own(raw, 'data') ?? '';
      if (typeof data !== 'string') throw new FlowRequestError(`${path}.data`, 'expected a string');
      if (dataType === 'ascii') return { type, experimenter, data: Buffer.from(data, 'latin1') };
      if (dataType !== 'base64') throw new FlowRequestError(`${path}.data_type`, "expected 'ascii' or 'base64'");
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(data) || data.length % 4 !== 0) throw new FlowRequestError(`${path}.data`, 'not base64');
      return { type, experimenter, data: Buffer.from(data, 'base64') };
    }
    default:
      throw new FlowRequestError(`${path}.type`, `expected one of ${ACTION_TYPES.join(', ')}${INSTRUCTION_KEYS.has(String(type)) ? ' (instructions go in the top-level list)' : ''}`);
  }
}

/** Ryu's "actions" list → instructions (instructions as listed, then one APPLY_ACTIONS). Throws FlowRequestError. */
export function parseRyuActions(raw: unknown, path = 'actions'): Instruction[] {
  if (!Array.isArray(raw)) throw new FlowRequestError(path, 'expected a list of actions');
  const apply: Action[] = [];
  const inst: Instruction[] = [];
  let seen: Set<string> | undefined;
  for (let i = 0; i < raw.length; i++) {
    const item: unknown = raw[i];
    const ipath = `${path}[${i}]`;
    const type = isRecord(item) ? own(item, 'type') : undefined;
    if (typeof type !== 'string' || !INSTRUCTION_KEYS.has(type)) {
      apply.push(parseAction(item, ipath));
      continue;
    }
    const o = item as Record<string, unknown>;
    seen ??= new Set<string>(); // only requests with instructions besides actions need it
    if (seen.has(type)) throw new FlowRequestError(ipath, `a second ${type} (a flow has at most one instruction of each type)`);
    seen.add(type);
    switch (type) {
      case 'GOTO_TABLE':
        inst.push({ type, tableId: at(`${ipath}.table_id`, () => uintNumber(required(o, 'table_id', ipath), 8, TABLE_NAMES)) });
        break;
      case 'WRITE_METADATA': {
        const metadata = at(`${ipath}.metadata`, () => uintValue(required(o, 'metadata', ipath), 64));
        const maskRaw = own(o, 'metadata_mask');
        const metadataMask = maskRaw === undefined ? 0xffffffffffffffffn : at(`${ipath}.metadata_mask`, () => uintValue(maskRaw, 64));
        inst.push({ type, metadata, metadataMask });
        break;
      }
      case 'METER':
        inst.push({ type, meterId: at(`${ipath}.meter_id`, () => uintNumber(required(o, 'meter_id', ipath), 32, METER_NAMES)) });
        break;
      case 'CLEAR_ACTIONS':
        inst.push({ type });
        break;
      case 'WRITE_ACTIONS': {
        const list = required(o, 'actions', ipath);
        if (!Array.isArray(list)) throw new FlowRequestError(`${ipath}.actions`, 'expected a list of actions');
        const actions = list.map((a, j) => parseAction(a, `${ipath}.actions[${j}]`));
        if (actions.length > 0) inst.push({ type, actions });
        break;
      }
    }
  }
  if (apply.length > 0) inst.push({ type: 'APPLY_ACTIONS', actions: apply });
  return inst;
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

/** One flow of GET /stats/flow/<dpid> as Ryu writes it. 64-bit counters stay bigints: write with toRyuJson. */
export interface RyuFlowStats {
  priority: number;
  cookie: bigint;
  idle_timeout: number;
  hard_timeout: number;
  actions: (string | { WRITE_ACTIONS: string[] })[];
  match: Record<string, number | bigint | string>;
  byte_count: bigint;
  duration_sec: number;
  duration_nsec: number;
  packet_count: bigint;
  table_id: number | string;
  length: number;
  flags: number;
}

const REPLY_KEYS: Readonly<Record<string, string>> = {
  eth_src: 'dl_src', eth_dst: 'dl_dst', eth_type: 'dl_type', vlan_vid: 'dl_vlan', ipv4_src: 'nw_src', ipv4_dst: 'nw_dst',
  ip_proto: 'nw_proto', tcp_src: 'tp_src', tcp_dst: 'tp_dst', udp_src: 'tp_src', udp_dst: 'tp_dst',
};

function toUser(names: ReservedNames, n: number): number | string {
  return reservedName(names, n) ?? n;
}

function hex4(n: number): string {
  return `0x${n.toString(16).padStart(4, '0')}`;
}

/** A match as Ryu's match_to_str writes it (legacy names for the OpenFlow 1.0 fields). */
export function formatRyuMatch(match: Match): Record<string, number | bigint | string> {
  const out: Record<string, number | bigint | string> = {};
  for (const f of match) {
    if (f.field === 'raw') {
      const key = `oxm_${f.oxmClass.toString(16)}_${f.oxmField}`;
      if (!(key in out)) out[key] = f.value.toString('hex') + (f.mask ? `/${f.mask.toString('hex')}` : '');
      continue;
    }
    const key = REPLY_KEYS[f.field] ?? f.field;
    if (key in out) continue;
    let value: number | bigint | string;
    if (f.field === 'vlan_vid') {
      const v = f.value as number;
      value = f.mask !== undefined ? `${hex4(v)}/${hex4(f.mask as number)}` : (v & OFP.OFPVID_PRESENT) !== 0 ? String(v & ~OFP.OFPVID_PRESENT) : hex4(v);
    } else if (f.field === 'in_port') {
      value = toUser(PORT_NAMES, f.value as number);
    } else {
      value = f.mask !== undefined ? `${String(f.value)}/${String(f.mask)}` : f.value;
    }
    out[key] = value;
  }
  return out;
}

function actionText(a: Action): string {
  switch (a.type) {
    case 'OUTPUT': return `OUTPUT:${toUser(PORT_NAMES, a.port)}`;
    case 'SET_MPLS_TTL': return `SET_MPLS_TTL:${a.mplsTtl}`;
    case 'PUSH_VLAN':
    case 'PUSH_MPLS':
    case 'POP_MPLS':
    case 'PUSH_PBB': return `${a.type}:${a.ethertype}`;
    case 'SET_QUEUE': return `SET_QUEUE:${toUser(QUEUE_NAMES, a.queueId)}`;
    case 'GROUP': return `GROUP:${toUser(GROUP_NAMES, a.groupId)}`;
    case 'SET_NW_TTL': return `SET_NW_TTL:${a.nwTtl}`;
    case 'SET_FIELD': {
      const f = a.field;
      if (f.field === 'raw') return `SET_FIELD: {oxm_${f.oxmClass.toString(16)}_${f.oxmField}:${f.value.toString('hex')}}`;
      return `SET_FIELD: {${f.field}:${String(f.value)}}`;
    }
    case 'EXPERIMENTER': return `EXPERIMENTER: {experimenter:${a.experimenter}, data:${a.data.toString('base64')}}`;
    default: return a.type;
  }
}

/** Instructions as Ryu's actions_to_str writes them (experimenter instructions are left out, as Ryu does). */
export function formatRyuActions(instructions: Instruction[]): (string | { WRITE_ACTIONS: string[] })[] {
  const out: (string | { WRITE_ACTIONS: string[] })[] = [];
  for (const ins of instructions) {
    switch (ins.type) {
      case 'APPLY_ACTIONS': out.push(...ins.actions.map(actionText)); break;
      case 'WRITE_ACTIONS': if (ins.actions.length > 0) out.push({ WRITE_ACTIONS: ins.actions.map(actionText) }); break;
      case 'CLEAR_ACTIONS': out.push('CLEAR_ACTIONS'); break;
      case 'GOTO_TABLE': out.push(`GOTO_TABLE:${toUser(TABLE_NAMES, ins.tableId)}`); break;
      case 'WRITE_METADATA':
        out.push(ins.metadataMask !== 0n ? `WRITE_METADATA:0x${ins.metadata.toString(16)}/0x${ins.metadataMask.toString(16)}` : `WRITE_METADATA:0x${ins.metadata.toString(16)}`);
        break;
      case 'METER': out.push(`METER:${toUser(METER_NAMES, ins.meterId)}`); break;
      case 'EXPERIMENTER': break;
    }
  }
  return out;
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

function actionLength(a: Action): number {
  switch (a.type) {
    case 'OUTPUT': return 16;
    case 'SET_FIELD': return pad8(4 + oxmWireLength(a.field));
    case 'EXPERIMENTER': return pad8(8 + a.data.length);
    default: return 8;
  }
}

function instructionLength(i: Instruction): number {
  switch (i.type) {
    case 'WRITE_METADATA': return 24;
    case 'APPLY_ACTIONS':
    case 'WRITE_ACTIONS': return 8 + i.actions.reduce((n, a) => n + actionLength(a), 0);
    case 'EXPERIMENTER': return pad8(8 + i.data.length);
    default: return 8;
  }
}

/** The length of the ofp_flow_stats entry on the wire (Ryu reports it). */
export function flowStatsLength(fs: { match: Match; instructions: Instruction[] }): number {
  const matchLen = pad8(4 + fs.match.reduce((n, f) => n + oxmWireLength(f), 0));
  return 48 + matchLen + fs.instructions.reduce((n, i) => n + instructionLength(i), 0);
}

/** GET /stats/flow/<dpid>: `{"<dpid in decimal>": [flow, ...]}`. */
export function formatFlowStatsReply(dpid: bigint, flows: readonly FlowStats[]): Record<string, RyuFlowStats[]> {
  return {
    [dpid.toString()]: flows.map((s) => ({
      priority: s.priority,
      cookie: s.cookie,
      idle_timeout: s.idleTimeout,
      hard_timeout: s.hardTimeout,
      actions: formatRyuActions(s.instructions),
      match: formatRyuMatch(s.match),
      byte_count: s.byteCount,
      duration_sec: s.durationSec,
      duration_nsec: s.durationNsec,
      packet_count: s.packetCount,
      table_id: toUser(TABLE_NAMES, s.tableId),
      length: flowStatsLength(s),
      flags: s.flags,
    })),
  };
}

/**
 * JSON text with bigints written as exact integers (as Python's json writes Ryu's counters and
 * cookies), which JSON.stringify cannot do. `indent` as JSON.stringify's.
 */
export function toRyuJson(value: unknown, indent?: number): string {
  const nl = indent ? '\n' : '';
  const walk = (v: unknown, depth: number): string => {
    if (typeof v === 'bigint') return v.toString();
    if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
    const pad = indent ? ' '.repeat(indent * (depth + 1)) : '';
    const end = indent ? ' '.repeat(indent * depth) : '';
    const sep = indent ? ': ' : ':';
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return `[${nl}${v.map((x) => pad + walk(x, depth + 1)).join(`,${nl}`)}${nl}${end}]`;
    }
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined && typeof x !== 'function');
    if (entries.length === 0) return '{}';
    return `{${nl}${entries.map(([k, x]) => `${pad}${JSON.stringify(k)}${sep}${walk(x, depth + 1)}`).join(`,${nl}`)}${nl}${end}}`;
  };
  return walk(value, 0);
}

