/**
 * Matches as bits: the canonical form a flow table stores, and the two relations OpenFlow 1.3
 * flow-mods need — "covers" (non-strict MODIFY/DELETE select entries at least as specific as the
 * request) and "overlaps" (ADD with OFPFF_CHECK_OVERLAP).
 *
 * Canonical form, so that one flow has one identity however it was written and so that what we
 * store equals what a switch reports back in flow stats (checked against Open vSwitch 3.1):
 * - fields sorted by OXM class, field number (and experimenter);
 * - values in the codec's canonical text (lower-case MAC, RFC 5952 IPv6);
 * - value bits outside the mask cleared;
 * - a mask covering every meaningful bit of the field dropped: all-ones, and for the fields
 *   narrower than their OXM width also the narrow all-ones (vlan_vid 0x1fff, ipv6_flabel 0xfffff,
 *   ipv6_exthdr 0x1ff), which is how OVS stores and reports them.
 * A zero mask is kept as written: a switch refuses it (OFPBMC_BAD_WILDCARDS), it never gets stored.
 */
import { OFP, type Match, type OxmField, type OxmRawField } from '../openflow/codec.js';
import {
  formatIpv4, formatIpv6, formatMac, isCanonicalIpv4, oxmFieldSpec, parseIpv4, parseIpv6, parseMac,
  type OxmFieldSpec,
} from '../openflow/oxm.js';

/** A value or mask that does not fit its field: the flow-mod is malformed. */
export class MatchValueError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'MatchValueError';
  }
}

/** Bits of the fields whose meaningful width is narrower than their OXM width. */
const MEANINGFUL_BITS: Readonly<Record<string, number>> = {
  vlan_vid: 13,
  ipv6_flabel: 20,
  ipv6_exthdr: 9,
  vlan_pcp: 3,
  ip_dscp: 6,
  ip_ecn: 2,
  mpls_label: 20,
  mpls_tc: 3,
  mpls_bos: 1,
};

/** One field as bytes: `mask` is all-ones for an exact field. */
export interface FieldBits {
  /** Identity of the field kind: two fields with the same id constrain the same header bits. */
  readonly id: string;
  readonly value: Buffer;
  readonly mask: Buffer;
}

function bad(spec: OxmFieldSpec, what: string, v: unknown): never {
  const shown = typeof v === 'bigint' ? `${v}n` : JSON.stringify(v);
  throw new MatchValueError(spec.name, `needs ${what}, got ${shown}`);
}

/** The wire bytes of a basic field's value (or mask). Throws MatchValueError. */
export function valueBytes(spec: OxmFieldSpec, v: unknown): Buffer {
  switch (spec.kind) {
    case 'uint': {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= 2 ** (8 * spec.bytes)) {
        bad(spec, `an unsigned ${8 * spec.bytes}-bit integer`, v);
      }
      const out = Buffer.alloc(spec.bytes);
      out.writeUIntBE(v as number, 0, spec.bytes);
      return out;
    }
    case 'u64': {
      if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) bad(spec, 'an unsigned 64-bit bigint', v);
      const out = Buffer.alloc(8);
      out.writeBigUInt64BE(v as bigint);
      return out;
    }
    case 'mac':
      return (typeof v === 'string' ? parseMac(v) : undefined) ?? bad(spec, "a MAC address 'aa:bb:cc:dd:ee:ff'", v);
    case 'ipv4':
      return (typeof v === 'string' ? parseIpv4(v) : undefined) ?? bad(spec, "an IPv4 address '10.0.0.1'", v);
    case 'ipv6':
      return (typeof v === 'string' ? parseIpv6(v) : undefined) ?? bad(spec, "an IPv6 address 'fe80::1'", v);
  }
}

/** The canonical value of a basic field from its wire bytes. */
export function bytesValue(spec: OxmFieldSpec, b: Buffer): number | bigint | string {
  switch (spec.kind) {
    case 'uint': return b.readUIntBE(0, spec.bytes);
    case 'u64': return b.readBigUInt64BE(0);
    case 'mac': return formatMac(b);
    case 'ipv4': return formatIpv4(b);
    case 'ipv6': return formatIpv6(b);
  }
}

/** All-ones over the field's meaningful bits (e.g. 0x1fff for vlan_vid), as `bytes` bytes. */
function meaningfulMask(name: string, bytes: number): Buffer {
  const out = Buffer.alloc(bytes, 0xff);
  const bits = MEANINGFUL_BITS[name];
  if (bits === undefined) return out;
  let clear = bytes * 8 - bits;
  for (let i = 0; i < bytes && clear > 0; i++) {
    const n = Math.min(8, clear);
    out[i] = 0xff >> n;
    clear -= n;
  }
  return out;
}

function covers(mask: Buffer, full: Buffer): boolean {
  for (let i = 0; i < full.length; i++) if ((mask[i]! & full[i]!) !== full[i]) return false;
  return true;
}

function rawId(f: OxmRawField): string {
  return `r:${f.oxmClass}:${f.oxmField}:${f.experimenter ?? ''}`;
}

/** The bits of one field. Throws MatchValueError for a value that does not fit. */
export function fieldBits(f: OxmField): FieldBits {
  if (f === null || typeof f !== 'object') throw new MatchValueError('match', 'expected an OXM field object');
  if (f.field === 'raw') {
    if (!(f.value instanceof Uint8Array)) throw new MatchValueError('raw', 'value must be a Buffer');
    const value = Buffer.from(f.value);
    // A raw field with a separate mask of the same width is compared bitwise; anything else
    // (experimenter payloads, odd shapes) is opaque: equal bytes or different.
    if (f.mask !== undefined && f.mask.length === value.length) {
      const mask = Buffer.from(f.mask);
      for (let i = 0; i < value.length; i++) value[i]! &= mask[i]!;
      return { id: rawId(f), value, mask };
    }
    const opaque = f.mask ? Buffer.concat([value, f.mask]) : value;
    return { id: rawId(f), value: opaque, mask: Buffer.alloc(opaque.length, 0xff) };
  }
  const spec = oxmFieldSpec(f.field);
  if (!spec) throw new MatchValueError(String(f.field), 'unknown OXM field');
  const value = valueBytes(spec, f.value);
  const full = meaningfulMask(spec.name, spec.bytes);
  if (f.mask === undefined) return { id: `b:${spec.code}`, value, mask: Buffer.alloc(spec.bytes, 0xff) };
  const mask = valueBytes(spec, f.mask);
  for (let i = 0; i < value.length; i++) value[i]! &= mask[i]!;
  if (covers(mask, full)) return { id: `b:${spec.code}`, value, mask: Buffer.alloc(spec.bytes, 0xff) };
  return { id: `b:${spec.code}`, value, mask };
}

function isAllOnes(b: Buffer): boolean {
  return b.every((x) => x === 0xff);
}

const CANONICAL_MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

/**
 * The canonical value of an unmasked basic field when it is already written canonically (the
 * common case: what the codec decodes, what our tables hold), else undefined. Saves the round trip
 * through bytes that normalizeField otherwise makes: tables normalize every flow they see.
 */
function alreadyCanonicalValue(spec: OxmFieldSpec, v: unknown): boolean {
  switch (spec.kind) {
    case 'uint': return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** (8 * spec.bytes);
    case 'u64': return typeof v === 'bigint' && v >= 0n && v <= 0xffffffffffffffffn;
    case 'ipv4': return typeof v === 'string' && isCanonicalIpv4(v);
    case 'mac': return typeof v === 'string' && CANONICAL_MAC.test(v);
    case 'ipv6': return false;
  }
}

/** A field in canonical form (see the module comment). Throws MatchValueError. */
export function normalizeField(f: OxmField): OxmField {
  if (f !== null && typeof f === 'object' && f.field !== 'raw' && f.mask === undefined) {
    const spec = oxmFieldSpec(f.field);
    if (spec && alreadyCanonicalValue(spec, f.value)) return { field: spec.name, value: f.value } as OxmField;
  }
  if (f.field === 'raw') {
    const out: OxmRawField = { field: 'raw', oxmClass: f.oxmClass, oxmField: f.oxmField, hasMask: f.hasMask, value: Buffer.from(f.value) };
    if (f.experimenter !== undefined) out.experimenter = f.experimenter;
    if (f.mask !== undefined) {
      out.mask = Buffer.from(f.mask);
      if (f.mask.length === f.value.length) for (let i = 0; i < out.value.length; i++) out.value[i]! &= out.mask[i]!;
    }
    return out;
  }
  const spec = oxmFieldSpec(f.field)!;
  const bits = fieldBits(f);
  const value = bytesValue(spec, bits.value);
  if (isAllOnes(bits.mask)) return { field: spec.name, value } as OxmField;
  return { field: spec.name, value, mask: bytesValue(spec, bits.mask) } as OxmField;
}

/** Canonical field order: by OXM class, then field number, then experimenter (none first). */
function compareFields(a: OxmField, b: OxmField): number {
  const ra = a.field === 'raw', rb = b.field === 'raw';
  if (!ra && !rb) return basicCode(a) - basicCode(b); // the common case: both basic, compared without allocating
  const ca = ra ? a.oxmClass : OFP.OFPXMC_OPENFLOW_BASIC, cb = rb ? b.oxmClass : OFP.OFPXMC_OPENFLOW_BASIC;
  if (ca !== cb) return ca - cb;
  const fa = ra ? a.oxmField : basicCode(a), fb = rb ? b.oxmField : basicCode(b);
  if (fa !== fb) return fa - fb;
  return (ra ? a.experimenter ?? -1 : -1) - (rb ? b.experimenter ?? -1 : -1);
}

function basicCode(f: OxmField): number {
  return f.field === 'raw' ? 0 : oxmFieldSpec(f.field)?.code ?? 0;
}

/**
 * Matches this module produced: already canonical. Matches are treated as immutable (a table's
 * entries are never modified in place), so normalizing one again can return it as it is.
 */
const CANONICAL_MATCHES = new WeakSet<Match>();

/**
 * A match in canonical form: normalized fields in class/field order. Throws MatchValueError.
 * A match that already is (what REST requests and the codec mostly give) is returned as it is,
 * like canonicalInstructions does: a match is not modified once handed over.
 */
export function normalizeMatch(match: Match): Match {
  if (!Array.isArray(match)) throw new MatchValueError('match', 'expected an array of OXM fields');
  if (CANONICAL_MATCHES.has(match) || canonicalAsItIs(match)) return match;
  return matchOfNormalizedFields(match.map(normalizeField));
}

/**
 * Whether every field is an unmasked basic field written canonically, each exactly {field, value},
 * in strictly increasing field order: normalizeMatch would make an equal copy of it. One pass, no
 * allocation (a WeakSet mark or fresh field objects per match cost more than this check).
 */
function canonicalAsItIs(match: Match): boolean {
  let prevCode = -1;
  for (let i = 0; i < match.length; i++) {
    const f = match[i] as OxmField | undefined;
    if (f === null || typeof f !== 'object' || f.field === 'raw' || 'mask' in f) return false;
    const spec = oxmFieldSpec(f.field);
    if (!spec || spec.name !== f.field || spec.code <= prevCode || !alreadyCanonicalValue(spec, f.value)) return false;
    let keys = 0;
    for (const _ in f) keys++;
    if (keys !== 2) return false;
    prevCode = spec.code;
  }
  return true;
}

/** A canonical match from fields that normalizeField already produced: ordered, and marked. */
export function matchOfNormalizedFields(fields: OxmField[]): Match {
  let ordered = true;
  for (let i = 1; i < fields.length && ordered; i++) ordered = compareFields(fields[i - 1]!, fields[i]!) <= 0;
  // A stable sort (ES2019), so fields that compare equal (a field given twice) keep their order.
  const out = ordered ? fields : [...fields].sort(compareFields);
  CANONICAL_MATCHES.add(out);
  return out;
}

/** The bits of every field of a match, by field id (a duplicated field keeps its first value). */
export function matchBits(match: Match): Map<string, FieldBits> {
  const out = new Map<string, FieldBits>();
  for (const f of match) {
    const b = fieldBits(f);
    if (!out.has(b.id)) out.set(b.id, b);
  }
  return out;
}

/**
 * Whether `entry` is at least as specific as `request` (OpenFlow 1.3 §6.4, non-strict MODIFY and
 * DELETE): every field of the request is in the entry, the entry's mask includes every bit of the
 * request's mask, and the two values agree on the request's mask. An empty request covers all.
 */
export function covered(entry: Map<string, FieldBits>, request: Map<string, FieldBits>): boolean {
  for (const [id, r] of request) {
    const e = entry.get(id);
    if (!e || e.value.length !== r.value.length) return false;
    for (let i = 0; i < r.mask.length; i++) {
      const rm = r.mask[i]!;
      if ((e.mask[i]! & rm) !== rm) return false;
      if ((e.value[i]! & rm) !== (r.value[i]! & rm)) return false;
    }
  }
  return true;
}

/**
 * Whether one packet could match both (OFPFF_CHECK_OVERLAP): on every field present in both, the
 * values agree on the bits both masks care about. A field present in only one constrains nothing
 * in the other.
 */
export function overlaps(a: Map<string, FieldBits>, b: Map<string, FieldBits>): boolean {
  for (const [id, x] of a) {
    const y = b.get(id);
    if (!y) continue;
    if (x.value.length !== y.value.length) return false;
    for (let i = 0; i < x.value.length; i++) {
      const m = x.mask[i]! & y.mask[i]!;
      if ((x.value[i]! & m) !== (y.value[i]! & m)) return false;
    }
  }
  return true;
}
