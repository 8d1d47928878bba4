/**
 * OXM (OpenFlow Extensible Match): the field table, the address formats, and the encoding of
 * single fields and of whole matches (ofp_match, type OFPMT_OXM).
 */
import * as C from './constants.js';
import { EncodeError } from './errors.js';
import { Reader, Writer, fitsUint, pad8 } from './codec-io.js';
import type { Match, OxmBasicFieldName, OxmField, OxmRawField, OxmValueOf } from './types.js';

/** How a basic field's value is written: an integer of `bytes` bytes, or an address. */
export type OxmValueKind = 'uint' | 'u64' | 'mac' | 'ipv4' | 'ipv6';

export interface OxmFieldSpec {
  name: OxmBasicFieldName;
  /** OFPXMT_OFB_* */
  code: number;
  /** Value width on the wire (the mask, if any, has the same width). */
  bytes: number;
  kind: OxmValueKind;
  /** Whether the spec allows a mask. The decoder accepts one anyway. */
  maskable: boolean;
}

function f(name: OxmBasicFieldName, code: number, bytes: number, kind: OxmValueKind, maskable = false): OxmFieldSpec {
  return { name, code, bytes, kind, maskable };
}

/** Every OpenFlow 1.3 basic field, in field-number order (table 12 of the spec). */
export const OXM_FIELDS: readonly OxmFieldSpec[] = [
  f('in_port', C.OFPXMT_OFB_IN_PORT, 4, 'uint'),
  f('in_phy_port', C.OFPXMT_OFB_IN_PHY_PORT, 4, 'uint'),
  f('metadata', C.OFPXMT_OFB_METADATA, 8, 'u64', true),
  f('eth_dst', C.OFPXMT_OFB_ETH_DST, 6, 'mac', true),
  f('eth_src', C.OFPXMT_OFB_ETH_SRC, 6, 'mac', true),
  f('eth_type', C.OFPXMT_OFB_ETH_TYPE, 2, 'uint'),
  f('vlan_vid', C.OFPXMT_OFB_VLAN_VID, 2, 'uint', true),
  f('vlan_pcp', C.OFPXMT_OFB_VLAN_PCP, 1, 'uint'),
  f('ip_dscp', C.OFPXMT_OFB_IP_DSCP, 1, 'uint'),
  f('ip_ecn', C.OFPXMT_OFB_IP_ECN, 1, 'uint'),
  f('ip_proto', C.OFPXMT_OFB_IP_PROTO, 1, 'uint'),
  f('ipv4_src', C.OFPXMT_OFB_IPV4_SRC, 4, 'ipv4', true),
  f('ipv4_dst', C.OFPXMT_OFB_IPV4_DST, 4, 'ipv4', true),
  f('tcp_src', C.OFPXMT_OFB_TCP_SRC, 2, 'uint'),
  f('tcp_dst', C.OFPXMT_OFB_TCP_DST, 2, 'uint'),
  f('udp_src', C.OFPXMT_OFB_UDP_SRC, 2, 'uint'),
  f('udp_dst', C.OFPXMT_OFB_UDP_DST, 2, 'uint'),
  f('sctp_src', C.OFPXMT_OFB_SCTP_SRC, 2, 'uint'),
  f('sctp_dst', C.OFPXMT_OFB_SCTP_DST, 2, 'uint'),
  f('icmpv4_type', C.OFPXMT_OFB_ICMPV4_TYPE, 1, 'uint'),
  f('icmpv4_code', C.OFPXMT_OFB_ICMPV4_CODE, 1, 'uint'),
  f('arp_op', C.OFPXMT_OFB_ARP_OP, 2, 'uint'),
  f('arp_spa', C.OFPXMT_OFB_ARP_SPA, 4, 'ipv4', true),
  f('arp_tpa', C.OFPXMT_OFB_ARP_TPA, 4, 'ipv4', true),
  f('arp_sha', C.OFPXMT_OFB_ARP_SHA, 6, 'mac', true),
  f('arp_tha', C.OFPXMT_OFB_ARP_THA, 6, 'mac', true),
  f('ipv6_src', C.OFPXMT_OFB_IPV6_SRC, 16, 'ipv6', true),
  f('ipv6_dst', C.OFPXMT_OFB_IPV6_DST, 16, 'ipv6', true),
  f('ipv6_flabel', C.OFPXMT_OFB_IPV6_FLABEL, 4, 'uint', true),
  f('icmpv6_type', C.OFPXMT_OFB_ICMPV6_TYPE, 1, 'uint'),
  f('icmpv6_code', C.OFPXMT_OFB_ICMPV6_CODE, 1, 'uint'),
  f('ipv6_nd_target', C.OFPXMT_OFB_IPV6_ND_TARGET, 16, 'ipv6'),
  f('ipv6_nd_sll', C.OFPXMT_OFB_IPV6_ND_SLL, 6, 'mac'),
  f('ipv6_nd_tll', C.OFPXMT_OFB_IPV6_ND_TLL, 6, 'mac'),
  f('mpls_label', C.OFPXMT_OFB_MPLS_LABEL, 4, 'uint'),
  f('mpls_tc', C.OFPXMT_OFB_MPLS_TC, 1, 'uint'),
  f('mpls_bos', C.OFPXMT_OFB_MPLS_BOS, 1, 'uint'),
  f('pbb_isid', C.OFPXMT_OFB_PBB_ISID, 3, 'uint', true),
  f('tunnel_id', C.OFPXMT_OFB_TUNNEL_ID, 8, 'u64', true),
  f('ipv6_exthdr', C.OFPXMT_OFB_IPV6_EXTHDR, 2, 'uint', true),
];

const BY_NAME = new Map<string, OxmFieldSpec>(OXM_FIELDS.map((s) => [s.name, s]));
const BY_CODE = new Map<number, OxmFieldSpec>(OXM_FIELDS.map((s) => [s.code, s]));

export function oxmFieldSpec(name: string): OxmFieldSpec | undefined {
  return BY_NAME.get(name);
}

/** The basic field's name for an OXM class and field number, if it is one ('eth_dst'). */
export function oxmFieldName(oxmClass: number, oxmField: number): OxmBasicFieldName | undefined {
  return oxmClass === C.OFPXMC_OPENFLOW_BASIC ? BY_CODE.get(oxmField)?.name : undefined;
}

// ---------------------------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------------------------

export function formatMac(b: Buffer | Uint8Array): string {
  return b.length === 6 ? macAt(b, 0) : Array.from(b, (x) => HEX[x]!).join(':');
}

const HEX = Array.from({ length: 256 }, (_, x) => x.toString(16).padStart(2, '0'));

/** The MAC address in the 6 bytes at `at`, 'aa:bb:cc:dd:ee:ff' (no copy, no array). */
function macAt(b: Uint8Array, at: number): string {
  return `${HEX[b[at]!]}:${HEX[b[at + 1]!]}:${HEX[b[at + 2]!]}:${HEX[b[at + 3]!]}:${HEX[b[at + 4]!]}:${HEX[b[at + 5]!]}`;
}

export function parseMac(s: string): Buffer | undefined {
  if (typeof s !== 'string') return undefined;
  const out = Buffer.alloc(6);
  return macInto(s, out, 0) ? out : undefined;
}

/** The value of a hex digit's char code, or -1. */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Parses 'aa:bb:cc:dd:ee:ff' (1 or 2 hex digits per byte, ':' or '-' between them, any case)
 * into out[at..at+6). On failure returns false, having written some of those bytes.
 */
function macInto(s: string, out: Uint8Array, at: number): boolean {
  const n = s.length;
  if (n < 11 || n > 17) return false;
  let i = 0;
  for (let g = 0; g < 6; g++) {
    if (g > 0) {
      const sep = s.charCodeAt(i++);
      if (sep !== 58 && sep !== 45) return false;
    }
    let v = hexDigit(s.charCodeAt(i++));
    if (v < 0) return false;
    if (i < n) {
      const d = hexDigit(s.charCodeAt(i));
      if (d >= 0) {
        v = v * 16 + d;
        i++;
      }
    }
    out[at + g] = v;
  }
  return i === n;
}

export function formatIpv4(b: Buffer | Uint8Array): string {
  // A template rather than Array.from(b).join('.'): flow stats and snapshots format one per flow.
  return b.length === 4 ? `${b[0]}.${b[1]}.${b[2]}.${b[3]}` : Array.from(b).join('.');
}

/** Whether `s` is a dotted quad exactly as formatIpv4 writes it (no leading zeros): canonical as it is. */
export function isCanonicalIpv4(s: string): boolean {
  const v = ipv4Number(s);
  return v >= 0 && `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}` === s;
}

export function parseIpv4(s: string): Buffer | undefined {
  if (typeof s !== 'string') return undefined;
  const v = ipv4Number(s);
  if (v < 0) return undefined;
  const out = Buffer.alloc(4);
  out.writeUInt32BE(v, 0);
  return out;
}

/** A dotted quad ('10.0.0.1', 1 to 3 decimal digits per byte) as a u32, or -1 if it is not one. */
function ipv4Number(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255 || dots === 3) return -1;
      value = value * 256 + part;
      dots++;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (++digits > 3) return -1;
      part = part * 10 + (c - 48);
    } else {
      return -1;
    }
  }
  if (digits === 0 || part > 255 || dots !== 3) return -1;
  return value * 256 + part;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (≥ 2) of zero groups as '::'. */
export function formatIpv6(b: Buffer | Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestLen < 2) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

export function parseIpv6(s: string): Buffer | undefined {
  if (typeof s !== 'string' || s.length < 2 || s.length > 45) return undefined;
  let text = s;
  const v4: number[] = [];
  if (text.includes('.')) {
    // An embedded IPv4 address ('::ffff:10.0.0.1') fills the last two groups.
    const i = text.lastIndexOf(':');
    const b = i < 0 ? undefined : parseIpv4(text.slice(i + 1));
    if (!b) return undefined;
    v4.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
    text = text.slice(0, i + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const x of part.split(':')) {
      if (!/^[0-9a-f]{1,4}$/i.test(x)) return undefined;
      out.push(parseInt(x, 16));
    }
    return out;
  };
  const want = 8 - v4.length;
  let gs: number[] | undefined;
  const dbl = text.indexOf('::');
  if (dbl >= 0) {
    if (text.indexOf('::', dbl + 1) >= 0) return undefined;
    const head = groups(text.slice(0, dbl));
    const back = groups(text.slice(dbl + 2));
    if (!head || !back) return undefined;
    const fill = want - head.length - back.length;
    if (fill < 1) return undefined;
    gs = [...head, ...new Array<number>(fill).fill(0), ...back];
  } else {
    gs = groups(text);
    if (!gs || gs.length !== want) return undefined;
  }
  const out = Buffer.alloc(16);
  [...gs, ...v4].forEach((v, i) => out.writeUInt16BE(v, i * 2));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Single fields
// ---------------------------------------------------------------------------------------------

/** What a field of this kind needs, for the error that refuses a value. */
function valueNeeds(spec: OxmFieldSpec): string {
  switch (spec.kind) {
    case 'uint': return `an unsigned ${8 * spec.bytes}-bit integer`;
    case 'u64': return 'an unsigned 64-bit bigint';
    case 'mac': return "a MAC address 'aa:bb:cc:dd:ee:ff'";
    case 'ipv4': return "an IPv4 address '10.0.0.1'";
    case 'ipv6': return "an IPv6 address 'fe80::1'";
  }
}

function badValue(spec: OxmFieldSpec, v: unknown, path: string): never {
  throw new EncodeError(path, `${spec.name} needs ${valueNeeds(spec)}, got ${typeof v === 'bigint' ? `${v}n` : JSON.stringify(v)}`);
}

/** Writes a field's value (or mask) straight into `w`; false, with `w.pos` unmoved, if `v` does not fit the field. */
function writeValue(w: Writer, spec: OxmFieldSpec, v: unknown): boolean {
  switch (spec.kind) {
    case 'uint':
      if (!fitsUint(v, spec.bytes)) return false;
      w.uintN(v, spec.bytes);
      return true;
    case 'u64':
      if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) return false;
      w.u64(v, '', '');
      return true;
    case 'ipv4': {
      const n = typeof v === 'string' ? ipv4Number(v) : -1;
      if (n < 0) return false;
      w.put32(n);
      return true;
    }
    case 'mac':
      if (typeof v !== 'string') return false;
      w.ensure(6);
      if (!macInto(v, w.buf, w.pos)) return false;
      w.pos += 6;
      return true;
    case 'ipv6': {
      const b = parseIpv6(v as string);
      if (!b) return false;
      w.bytes(b, '', '');
      return true;
    }
  }
}

function valueToBytes(spec: OxmFieldSpec, v: unknown, path: string): Buffer {
  const w = new Writer(spec.bytes);
  if (!writeValue(w, spec, v)) badValue(spec, v, path);
  return w.buf;
}

function bytesToValue(spec: OxmFieldSpec, b: Buffer): number | bigint | string {
  return valueAt(spec, b, 0);
}

/**
 * The value of a field of this kind in the spec.bytes bytes at `at` (bounds checked by the
 * caller), read in place: a flow stats reply or a delta has thousands of fields to read.
 */
function valueAt(spec: OxmFieldSpec, b: Buffer, at: number): number | bigint | string {
  switch (spec.kind) {
    case 'uint': return b.readUIntBE(at, spec.bytes);
    case 'u64': return b.readBigUInt64BE(at);
    case 'mac': return macAt(b, at);
    case 'ipv4': return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
    case 'ipv6': return formatIpv6(b.subarray(at, at + 16));
  }
}

/** Bytes an OXM field takes on the wire (header included). */
export function oxmWireLength(field: OxmField): number {
  if (field.field === 'raw') {
    return 4 + (field.oxmClass === C.OFPXMC_EXPERIMENTER ? 4 : 0) + field.value.length + (field.mask?.length ?? 0);
  }
  const spec = BY_NAME.get(field.field);
  if (!spec) return 4;
  return 4 + spec.bytes * (field.mask !== undefined ? 2 : 1);
}

export function encodeOxm(w: Writer, field: OxmField, path: string): void {
  encodeOxmAt(w, field, path, -1);
}

/** The path of element `index` of the list at `base` (`base` itself when index is -1): built only for errors. */
export function elementPath(base: string, index: number): string {
  return index < 0 ? base : `${base}[${index}]`;
}

/** encodeOxm for element `index` of a list (its path is only built to report an error). */
export function encodeOxmAt(w: Writer, field: OxmField, base: string, index: number): void {
  if (field === null || typeof field !== 'object') throw new EncodeError(elementPath(base, index), 'expected an OXM field object');
  if (field.field === 'raw') {
    encodeRawOxm(w, field, elementPath(base, index));
    return;
  }
  const spec = BY_NAME.get(field.field);
  if (!spec) throw new EncodeError(`${elementPath(base, index)}.field`, `unknown OXM field '${String(field.field)}'`);
  const hasMask = field.mask !== undefined;
  w.put16(C.OFPXMC_OPENFLOW_BASIC);
  w.put8((spec.code << 1) | (hasMask ? 1 : 0));
  w.put8(spec.bytes * (hasMask ? 2 : 1));
  if (!writeValue(w, spec, field.value)) badValue(spec, field.value, `${elementPath(base, index)}.value`);
  if (hasMask && !writeValue(w, spec, field.mask)) badValue(spec, field.mask, `${elementPath(base, index)}.mask`);
}

function encodeRawOxm(w: Writer, field: OxmRawField, path: string): void {
  const isExp = field.oxmClass === C.OFPXMC_EXPERIMENTER;
  if (!(field.value instanceof Uint8Array)) throw new EncodeError(`${path}.value`, 'expected a Buffer');
  if (field.mask !== undefined && (!field.hasMask || isExp)) {
    throw new EncodeError(`${path}.mask`, 'a raw mask needs hasMask and a class other than 0xFFFF');
  }
  if (field.hasMask && !isExp && field.mask === undefined) {
    throw new EncodeError(`${path}.mask`, 'hasMask is set but there is no mask');
  }
  if (isExp && typeof field.experimenter !== 'number') {
    throw new EncodeError(`${path}.experimenter`, 'class 0xFFFF needs an experimenter id');
  }
  const len = (isExp ? 4 : 0) + field.value.length + (field.mask?.length ?? 0);
  if (len > 255) throw new EncodeError(path, `OXM payload of ${len} bytes exceeds 255`);
  if (!Number.isInteger(field.oxmField) || field.oxmField < 0 || field.oxmField > 127) {
    throw new EncodeError(`${path}.oxmField`, `expected 0..127, got ${String(field.oxmField)}`);
  }
  w.u16(field.oxmClass, path, 'oxmClass');
  w.u8((field.oxmField << 1) | (field.hasMask ? 1 : 0), path, 'oxmField');
  w.u8(len, path, 'length');
  if (isExp) w.u32(field.experimenter!, path, 'experimenter');
  w.bytes(field.value, path, 'value');
  if (field.mask) w.bytes(field.mask, path, 'mask');
}

const BAD_MATCH_LEN = { errorType: C.OFPET_BAD_MATCH, code: C.OFPBMC_BAD_LEN };

/** Reads one OXM TLV (header and payload) from `r`. */
export function decodeOxm(r: Reader): OxmField {
  const start = r.pos;
  const oxmClass = r.u16('OXM header');
  const fb = r.u8('OXM header');
  const len = r.u8('OXM header');
  const oxmField = fb >> 1;
  const hasMask = (fb & 1) === 1;
  r.need(len, `OXM payload of ${len} bytes`);
  const spec = oxmClass === C.OFPXMC_OPENFLOW_BASIC ? BY_CODE.get(oxmField) : undefined;
  if (spec) {
    if (len !== spec.bytes * (hasMask ? 2 : 1)) {
      r.fail('BAD_LENGTH', `OXM ${spec.name}${hasMask ? ' (masked)' : ''} has length ${len}, expected ${spec.bytes * (hasMask ? 2 : 1)}`, { offset: start, ofpError: BAD_MATCH_LEN });
    }
    // The payload's length was checked above (r.need): read in place.
    const buf = r.ctx.message;
    const value = valueAt(spec, buf, r.pos);
    r.pos += spec.bytes;
    if (!hasMask) return { field: spec.name, value } as OxmField;
    const mask = valueAt(spec, buf, r.pos);
    r.pos += spec.bytes;
    return { field: spec.name, value, mask } as OxmField;
  }
  if (oxmClass === C.OFPXMC_EXPERIMENTER) {
    if (len < 4) r.fail('BAD_LENGTH', `experimenter OXM of length ${len} cannot hold its experimenter id`, { offset: start, ofpError: BAD_MATCH_LEN });
    const experimenter = r.u32('OXM experimenter');
    return { field: 'raw', oxmClass, oxmField, hasMask, experimenter, value: r.bytes(len - 4) };
  }
  if (hasMask) {
    if (len % 2 !== 0) r.fail('BAD_LENGTH', `masked OXM has odd length ${len}`, { offset: start, ofpError: BAD_MATCH_LEN });
    const value = r.bytes(len / 2);
    const mask = r.bytes(len / 2);
    return { field: 'raw', oxmClass, oxmField, hasMask, value, mask };
  }
  return { field: 'raw', oxmClass, oxmField, hasMask, value: r.bytes(len) };
}

// ---------------------------------------------------------------------------------------------
// ofp_match
// ---------------------------------------------------------------------------------------------

/** Writes an ofp_match (type OXM) with its padding to 8 bytes. */
export function encodeMatch(w: Writer, match: Match, path: string): void {
  if (!Array.isArray(match)) throw new EncodeError(path, 'expected an array of OXM fields');
  const start = w.pos;
  w.put16(C.OFPMT_OXM);
  w.put16(0);
  for (let i = 0; i < match.length; i++) {
    const field = match[i] as OxmField;
    if (field === undefined && !(i in match)) continue; // a hole, as forEach would skip it
    encodeOxmAt(w, field, path, i);
  }
  w.patchU16(start + 2, w.pos - start, path, 'length');
  w.align8(start);
}

/** Reads an ofp_match and its padding. */
export function decodeMatch(parent: Reader): Match {
  const start = parent.pos;
  const type = parent.u16('ofp_match.type');
  const length = parent.u16('ofp_match.length');
  if (type !== C.OFPMT_OXM) {
    parent.fail('UNKNOWN_TYPE', `match type ${type} is not OFPMT_OXM (1)`, {
      offset: start, ofpError: { errorType: C.OFPET_BAD_MATCH, code: C.OFPBMC_BAD_TYPE },
    });
  }
  if (length < 4) parent.fail('BAD_LENGTH', `match length ${length} < 4`, { offset: start + 2, ofpError: BAD_MATCH_LEN });
  parent.pos = start;
  const r = parent.sub(length, 'match', `match of ${length} bytes`, BAD_MATCH_LEN);
  r.pos += 4;
  const fields: Match = [];
  while (r.remaining > 0) fields.push(decodeOxm(r));
  parent.pad(pad8(length) - length, 'match padding');
  return fields;
}

// ---------------------------------------------------------------------------------------------
// Identity and lookup
// ---------------------------------------------------------------------------------------------

function rawKey(field: OxmRawField): string {
  const exp = field.experimenter !== undefined ? `:${field.experimenter.toString(16)}` : '';
  const head = `raw(${field.oxmClass.toString(16)}:${field.oxmField}${exp}${field.hasMask ? ':m' : ''})`;
  if (!field.mask) return `${head}=${field.value.toString('hex')}`;
  const v = Buffer.from(field.value);
  for (let i = 0; i < v.length; i++) v[i]! &= field.mask[i] ?? 0;
  return `${head}=${v.toString('hex')}/${field.mask.toString('hex')}`;
}

/**
 * An order-independent identity of a match, for keying flows by (table, priority, match):
 * fields sorted by class and number, values in canonical text, masked-out value bits cleared,
 * and an all-ones mask treated as no mask (a switch stores them the same way).
 * Two matches with the same key select the same packets the same way.
 */
export function matchKey(match: Match): string {
  const parts: [number, number, string][] = [];
  for (const field of match) {
    if (field.field === 'raw') {
      parts.push([field.oxmClass, field.oxmField, rawKey(field)]);
      continue;
    }
    const spec = BY_NAME.get(field.field);
    if (!spec) continue;
    const value = valueToBytes(spec, field.value, 'match');
    let text: string;
    if (field.mask === undefined) {
      text = `${spec.name}=${String(bytesToValue(spec, value))}`;
    } else {
      const mask = valueToBytes(spec, field.mask, 'match');
      if (mask.every((x) => x === 0xff)) {
        text = `${spec.name}=${String(bytesToValue(spec, value))}`;
      } else {
        for (let i = 0; i < value.length; i++) value[i]! &= mask[i]!;
        text = `${spec.name}=${String(bytesToValue(spec, value))}/${String(bytesToValue(spec, mask))}`;
      }
    }
    parts.push([C.OFPXMC_OPENFLOW_BASIC, spec.code, text]);
  }
  parts.sort((a, b) => a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0));
  return parts.map((p) => p[2]).join(',');
}

/** The first field of that name in a match (e.g. a packet-in's 'in_port'), or undefined. */
export function matchField<N extends OxmBasicFieldName>(
  match: Match,
  name: N,
): { field: N; value: OxmValueOf<N>; mask?: OxmValueOf<N> } | undefined {
  return match.find((x) => x.field === name) as { field: N; value: OxmValueOf<N>; mask?: OxmValueOf<N> } | undefined;
}
