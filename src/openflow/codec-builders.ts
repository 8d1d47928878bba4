/**
 * Builders for the messages a controller sends most, with the spec's defaults, and for matches,
 * actions and instructions. Each returns a plain message object (xid 0 unless given: the
 * connection layer assigns xids).
 */
import * as C from './constants.js';
import { EncodeError } from './errors.js';
import { oxmFieldSpec } from './oxm.js';
import type {
  Action, FlowModMessage, FlowStatsFilter, Instruction, Match, MultipartRequestMessage,
  OxmBigintFieldName, OxmField, OxmIpv4FieldName, OxmIpv6FieldName, OxmMacFieldName,
  OxmNumberFieldName, PacketOutMessage, HelloMessage, RoleRequestMessage, EchoReplyMessage,
  EchoRequestMessage, BarrierRequestMessage, FeaturesRequestMessage, MultipartRequestBody,
} from './types.js';

type Masked<V> = V | { value: V; mask: V };

/** A match written as an object: `{ in_port: 1, eth_type: 0x0800, ipv4_dst: { value: '10.0.0.0', mask: '255.0.0.0' } }`. */
export type MatchSpec =
  & { [K in OxmNumberFieldName]?: Masked<number> }
  & { [K in OxmBigintFieldName]?: Masked<bigint> }
  & { [K in OxmMacFieldName | OxmIpv4FieldName | OxmIpv6FieldName]?: Masked<string> };

/**
 * A match from an object, its fields in OXM field-number order (which puts every prerequisite,
 * such as eth_type before ip_proto before tcp_dst, ahead of the fields that need it).
 */
export function match(spec: MatchSpec = {}): Match {
  const fields: OxmField[] = [];
  const codes: number[] = [];
  for (const name in spec) {
    if (!Object.prototype.hasOwnProperty.call(spec, name)) continue; // own keys only, as Object.entries
    const v = (spec as Record<string, unknown>)[name];
    if (v === undefined) continue;
    const s = oxmFieldSpec(name);
    if (!s) throw new EncodeError(`match.${name}`, `unknown OXM field '${name}'`);
    const field = (typeof v === 'object' && v !== null && 'value' in v
      ? { field: name, value: (v as { value: unknown }).value, mask: (v as unknown as { mask: unknown }).mask }
      : { field: name, value: v }) as OxmField;
    insertInFieldOrder(fields, codes, field, s.code);
  }
  return fields;
}

/**
 * Inserts `field` (OXM field number `code`) into `fields`, kept in field-number order alongside
 * their numbers in `codes`: an insertion sort, for a match has a handful of fields. A field of
 * the same number goes after those already there.
 */
export function insertInFieldOrder(fields: OxmField[], codes: number[], field: OxmField, code: number): void {
  let j = fields.length;
  fields.push(field);
  codes.push(code);
  while (j > 0 && codes[j - 1]! > code) {
    fields[j] = fields[j - 1]!;
    codes[j] = codes[j - 1]!;
    j--;
  }
  fields[j] = field;
  codes[j] = code;
}

// Actions --------------------------------------------------------------------------------------

export function output(port: number, maxLen: number = C.OFPCML_NO_BUFFER): Action {
  return { type: 'OUTPUT', port, maxLen };
}

export function setField(field: OxmField): Action {
  return { type: 'SET_FIELD', field };
}

export function groupAction(groupId: number): Action {
  return { type: 'GROUP', groupId };
}

// Instructions ---------------------------------------------------------------------------------

export function applyActions(...actions: Action[]): Instruction {
  return { type: 'APPLY_ACTIONS', actions };
}

export function writeActions(...actions: Action[]): Instruction {
  return { type: 'WRITE_ACTIONS', actions };
}

export function gotoTable(tableId: number): Instruction {
  return { type: 'GOTO_TABLE', tableId };
}

// Messages -------------------------------------------------------------------------------------

/** A HELLO announcing OpenFlow 1.3 only (the version bitmap makes negotiation explicit). */
export function hello(xid = 0, versions: number[] = [C.OFP_VERSION]): HelloMessage {
  return { type: 'HELLO', xid, elements: [{ type: 'VERSION_BITMAP', versions }] };
}

export function echoRequest(xid = 0, data: Buffer = Buffer.alloc(0)): EchoRequestMessage {
  return { type: 'ECHO_REQUEST', xid, data };
}

/** The reply to an echo request: same xid, same data. */
export function echoReply(req: { xid: number; data: Buffer }): EchoReplyMessage {
  return { type: 'ECHO_REPLY', xid: req.xid, data: req.data };
}

export function featuresRequest(xid = 0): FeaturesRequestMessage {
  return { type: 'FEATURES_REQUEST', xid };
}

export function barrierRequest(xid = 0): BarrierRequestMessage {
  return { type: 'BARRIER_REQUEST', xid };
}

/** ROLE_REQUEST; generationId is the election term (ignored by the switch for EQUAL/NOCHANGE). */
export function roleRequest(role: number, generationId: bigint, xid = 0): RoleRequestMessage {
  return { type: 'ROLE_REQUEST', xid, role, generationId };
}

/**
 * A FLOW_MOD with the spec's defaults: ADD in table 0 at priority 0x8000, no timeouts, cookie 0,
 * no buffer, out_port ANY, out_group ANY, no flags, match all, no instructions.
 */
export function flowMod(opts: Partial<Omit<FlowModMessage, 'type'>> = {}): FlowModMessage {
  return {
    type: 'FLOW_MOD',
    xid: opts.xid ?? 0,
    cookie: opts.cookie ?? 0n,
    cookieMask: opts.cookieMask ?? 0n,
    tableId: opts.tableId ?? 0,
    command: opts.command ?? C.OFPFC_ADD,
    idleTimeout: opts.idleTimeout ?? 0,
    hardTimeout: opts.hardTimeout ?? 0,
    priority: opts.priority ?? C.OFP_DEFAULT_PRIORITY,
    bufferId: opts.bufferId ?? C.OFP_NO_BUFFER,
    outPort: opts.outPort ?? C.OFPP_ANY,
    outGroup: opts.outGroup ?? C.OFPG_ANY,
    flags: opts.flags ?? 0,
    match: opts.match ?? [],
    instructions: opts.instructions ?? [],
  };
}

/** A PACKET_OUT of `data` (unbuffered), from the controller unless inPort is given. */
export function packetOut(opts: Partial<Omit<PacketOutMessage, 'type'>> = {}): PacketOutMessage {
  return {
    type: 'PACKET_OUT',
    xid: opts.xid ?? 0,
    bufferId: opts.bufferId ?? C.OFP_NO_BUFFER,
    inPort: opts.inPort ?? C.OFPP_CONTROLLER,
    actions: opts.actions ?? [],
    data: opts.data ?? Buffer.alloc(0),
  };
}

export function multipartRequest(body: MultipartRequestBody, xid = 0, flags = 0): MultipartRequestMessage {
  return { type: 'MULTIPART_REQUEST', xid, flags, body };
}

/** Switch description (OFPMP_DESC). */
export function descStatsRequest(xid = 0): MultipartRequestMessage {
  return multipartRequest({ kind: 'DESC' }, xid);
}

/** Flow stats, by default of every flow in every table. */
export function flowStatsRequest(filter: Partial<FlowStatsFilter> = {}, xid = 0): MultipartRequestMessage {
  return multipartRequest({
    kind: 'FLOW',
    tableId: filter.tableId ?? C.OFPTT_ALL,
    outPort: filter.outPort ?? C.OFPP_ANY,
    outGroup: filter.outGroup ?? C.OFPG_ANY,
    cookie: filter.cookie ?? 0n,
    cookieMask: filter.cookieMask ?? 0n,
    match: filter.match ?? [],
  }, xid);
}

export function portDescRequest(xid = 0): MultipartRequestMessage {
  return multipartRequest({ kind: 'PORT_DESC' }, xid);
}
