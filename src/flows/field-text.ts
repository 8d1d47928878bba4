/**
 * Field values written as text, shared by the two human-facing syntaxes (Ryu's REST JSON and
 * ovs-ofctl's flow syntax): integers in decimal or hex, MAC and IP addresses with optional masks
 * or prefix lengths, and the reserved port/group/table/meter names. Helpers throw ValueTextError
 * with a reason; each syntax turns it into its own error naming the field or token.
 */
import { OFP, OXM_FIELDS, type OxmField } from '../openflow/codec.js';
import { formatIpv4, formatIpv6, formatMac, parseIpv4, parseIpv6, parseMac, type OxmFieldSpec } from '../openflow/oxm.js';

export class ValueTextError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'ValueTextError';
  }
}

export const OXM_BY_NAME: ReadonlyMap<string, OxmFieldSpec> = new Map(OXM_FIELDS.map((s) => [s.name as string, s]));

/**
 * Reserved numbers by the names Ryu and ovs-ofctl use: the constant's name without its prefix
 * ('CONTROLLER' for OFPP_CONTROLLER). Ryu also accepts the full name, prefix included.
 */
export interface ReservedNames {
  /** What the numbers are, for messages ('a port number'). */
  noun: string;
  prefix: string;
  values: Readonly<Record<string, number>>;
}

export const PORT_NAMES: ReservedNames = {
  noun: 'a port number',
  prefix: 'OFPP_',
  values: {
    MAX: OFP.OFPP_MAX, IN_PORT: OFP.OFPP_IN_PORT, TABLE: OFP.OFPP_TABLE, NORMAL: OFP.OFPP_NORMAL, FLOOD: OFP.OFPP_FLOOD,
    ALL: OFP.OFPP_ALL, CONTROLLER: OFP.OFPP_CONTROLLER, LOCAL: OFP.OFPP_LOCAL, ANY: OFP.OFPP_ANY,
  },
};
export const GROUP_NAMES: ReservedNames = { noun: 'a group id', prefix: 'OFPG_', values: { MAX: OFP.OFPG_MAX, ALL: OFP.OFPG_ALL, ANY: OFP.OFPG_ANY } };
export const TABLE_NAMES: ReservedNames = { noun: 'a table id', prefix: 'OFPTT_', values: { MAX: OFP.OFPTT_MAX, ALL: OFP.OFPTT_ALL } };
export const METER_NAMES: ReservedNames = {
  noun: 'a meter id',
  prefix: 'OFPM_',
  values: { MAX: OFP.OFPM_MAX, SLOWPATH: OFP.OFPM_SLOWPATH, CONTROLLER: OFP.OFPM_CONTROLLER, ALL: OFP.OFPM_ALL },
};
export const QUEUE_NAMES: ReservedNames = { noun: 'a queue id', prefix: 'OFPQ_', values: { ALL: OFP.OFPQ_ALL } };
export const MAX_LEN_NAMES: ReservedNames = { noun: 'a length', prefix: 'OFPCML_', values: { MAX: OFP.OFPCML_MAX, NO_BUFFER: OFP.OFPCML_NO_BUFFER } };

/** The reserved name of a number, if it has one ('CONTROLLER' for 0xfffffffd among ports). */
export function reservedName(names: ReservedNames, n: number): string | undefined {
  for (const [k, v] of Object.entries(names.values)) if (v === n) return k;
  return undefined;
}

/** The number of a reserved name: bare ('controller') or with its prefix ('OFPP_CONTROLLER'). */
export function reservedNumber(names: ReservedNames, text: string): number | undefined {
  let up = text.trim().toUpperCase();
  if (up.startsWith(names.prefix)) up = up.slice(names.prefix.length);
  return Object.prototype.hasOwnProperty.call(names.values, up) ? names.values[up] : undefined;
}

/**
 * An unsigned integer from text the way Python's int(x, 0) reads it: decimal without leading
 * zeros, or 0x / 0o / 0b prefixed; surrounding blanks allowed.
 */
export function parseUintText(text: string): bigint | undefined {
  const t = text.trim();
  if (/^(0|[1-9][0-9]*)$/.test(t)) return BigInt(t);
  if (/^0[xX][0-9a-fA-F]+$/.test(t) || /^0[oO][0-7]+$/.test(t) || /^0[bB][01]+$/.test(t)) return BigInt(t.toLowerCase());
  return undefined;
}

const BITS_MAX: bigint[] = [];

function bitsMax(bits: number): bigint {
  return (BITS_MAX[bits] ??= (1n << BigInt(bits)) - 1n);
}

/** An unsigned integer of `bits` bits from a JSON number or text; `names` allows reserved names. */
export function uintValue(raw: unknown, bits: number, names?: ReservedNames): bigint {
  const max = bitsMax(bits);
  const expected = (): never => {
    throw new ValueTextError(`${names
      ? `expected ${names.noun} or one of ${Object.keys(names.values).join(', ')}`
      : `expected an integer 0..${max}`}, got ${shownValue(raw)}`);
  };
  let n: bigint | undefined;
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw) || raw < 0) expected();
    if (!Number.isSafeInteger(raw)) throw new ValueTextError(`${raw} is beyond 2^53 and was rounded in JSON; pass it as a string`);
    n = BigInt(raw);
  } else if (typeof raw === 'bigint') {
    n = raw;
  } else if (typeof raw === 'string') {
    n = parseUintText(raw);
    if (n === undefined && names) {
      const r = reservedNumber(names, raw);
      if (r !== undefined) n = BigInt(r);
    }
  }
  if (n === undefined || n < 0n) return expected();
  if (n > max) throw new ValueTextError(`expected ${names ? `${names.noun} ` : 'an integer '}0..${max}, got ${n}`);
  return n;
}

/** A value as an error message quotes it: JSON, cut short. */
export function shownValue(raw: unknown): string {
  let text: string;
  try {
    text = typeof raw === 'bigint' ? String(raw) : JSON.stringify(raw) ?? String(raw);
  } catch {
    text = String(raw);
  }
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

export function uintNumber(raw: unknown, bits: number, names?: ReservedNames): number {
  return Number(uintValue(raw, bits, names));
}

function prefixMask(bytes: number, len: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) {
    const n = Math.max(0, Math.min(8, len - 8 * i));
    out[i] = n === 0 ? 0 : (0xff << (8 - n)) & 0xff;
  }
  return out;
}

/** Value and optional mask of an address field, as bytes. */
export interface AddressBits {
  value: Buffer;
  mask?: Buffer;
}

/** 'aa:bb:cc:dd:ee:ff' or 'aa:bb:cc:dd:ee:ff/ff:ff:ff:00:00:00'. */
export function parseMacText(text: string): AddressBits {
  const [v, m, extra] = text.split('/');
  const value = parseMac((v ?? '').trim());
  if (!value || extra !== undefined) throw new ValueTextError("expected a MAC address 'aa:bb:cc:dd:ee:ff', optionally /mask");
  if (m === undefined) return { value };
  const mask = parseMac(m.trim());
  if (!mask) throw new ValueTextError("the mask after '/' must be a MAC address 'ff:ff:ff:00:00:00'");
  return { value, mask };
}

/** '10.0.0.1', '10.0.0.0/24' or '10.0.0.0/255.255.255.0' (or the IPv6 equivalents). */
export function parseIpText(text: string, family: 4 | 6): AddressBits {
  const bytes = family === 4 ? 4 : 16;
  const parse = family === 4 ? parseIpv4 : parseIpv6;
  const what = family === 4 ? "an IPv4 address '10.0.0.1', optionally /prefix or /mask" : "an IPv6 address 'fe80::1', optionally /prefix or /mask";
  const slash = text.indexOf('/');
  const v = (slash < 0 ? text : text.slice(0, slash)).trim();
  const value = parse(v);
  if (!value) throw new ValueTextError(`expected ${what}`);
  if (slash < 0) return { value };
  const m = text.slice(slash + 1).trim();
  if (/^[0-9]{1,3}$/.test(m)) {
    const len = Number(m);
    if (len > bytes * 8) throw new ValueTextError(`prefix length ${len} is more than ${bytes * 8}`);
    return { value, mask: prefixMask(bytes, len) };
  }
  const mask = parse(m);
  if (!mask) throw new ValueTextError(`expected ${what}`);
  return { value, mask };
}

export function formatAddress(kind: OxmFieldSpec['kind'], b: Buffer): string {
  return kind === 'mac' ? formatMac(b) : kind === 'ipv4' ? formatIpv4(b) : formatIpv6(b);
}

/** The prefix length of a mask that is one (leading ones, then zeros), else undefined. */
export function prefixLength(mask: Buffer): number | undefined {
  let n = 0;
  let seenZero = false;
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      const one = ((byte >> bit) & 1) === 1;
      if (one && seenZero) return undefined;
      if (one) n++;
      else seenZero = true;
    }
  }
  return n;
}

/**
 * An OXM field from value and mask bytes, normalized the way ovs-ofctl does before sending: value
 * bits outside the mask cleared (a switch refuses them: OFPBMC_BAD_WILDCARDS), an all-ones mask
 * dropped, and an all-zero mask meaning "match anything" — undefined: leave the field out.
 */
export function fieldFromBits(spec: OxmFieldSpec, value: Buffer, mask: Buffer | undefined): OxmField | undefined {
  const toValue = (b: Buffer): number | bigint | string => {
    switch (spec.kind) {
      case 'uint': return b.readUIntBE(0, spec.bytes);
      case 'u64': return b.readBigUInt64BE(0);
      default: return formatAddress(spec.kind, b);
    }
  };
  if (!mask || mask.every((x) => x === 0xff)) return { field: spec.name, value: toValue(value) } as OxmField;
  if (mask.every((x) => x === 0)) return undefined;
  const v = Buffer.from(value);
  for (let i = 0; i < v.length; i++) v[i]! &= mask[i]!;
  return { field: spec.name, value: toValue(v), mask: toValue(mask) } as OxmField;
}

/** The bytes of an unsigned integer of the field's width. */
export function uintBytes(spec: OxmFieldSpec, n: bigint): Buffer {
  const out = Buffer.alloc(spec.bytes);
  let x = n;
  for (let i = spec.bytes - 1; i >= 0; i--) {
    out[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  return out;
}
