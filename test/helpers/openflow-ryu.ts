/**
 * Test helper: reads Ryu's JSON form of an OpenFlow 1.3 message (the conformance corpus in
 * ../shared/conformance/openflow13) into flowkeeper's message objects, so a decoded capture can
 * be compared field by field, and `diff` finds the first field that differs.
 *
 * Where Ryu decodes a vendor extension that flowkeeper keeps as bytes (Nicira NX actions such as
 * learn, ct, conjunction), the expected value is a RawExpect: the comparison then checks only the
 * experimenter id, the NX subtype and the length, and the capture must be listed as
 * round-trip-only in the conformance test.
 */
import * as C from '../../src/openflow/constants.js';
import { Writer } from '../../src/openflow/codec-io.js';
import { encodeOxm, formatIpv4, formatIpv6, formatMac, oxmFieldSpec, parseIpv4, parseIpv6, parseMac } from '../../src/openflow/oxm.js';
import type {
  Action, Bucket, HelloElement, Instruction, Match, MeterBand, MultipartReplyBody,
  MultipartRequestBody, OfMessage, OxmField, Port, QueueProperty, TableFeatureProperty, TableFeatures,
} from '../../src/openflow/types.js';

// ---------------------------------------------------------------------------------------------
// JSON with big integers
// ---------------------------------------------------------------------------------------------

const BIG = '#bigint#';

/**
 * JSON.parse, except that integers of 16 digits or more (possibly above 2^53) become BigInt.
 * Digit runs inside strings are left alone: the regex consumes whole strings first.
 */
export function parseJsonBig(text: string): unknown {
  const quoted = text.replace(/"(?:[^"\\]|\\.)*"|-?\d{16,}/g, (tok) => (tok.startsWith('"') ? tok : `"${BIG}${tok}"`));
  return JSON.parse(quoted, (_k, v: unknown) => (typeof v === 'string' && v.startsWith(BIG) ? BigInt(v.slice(BIG.length)) : v));
}

// ---------------------------------------------------------------------------------------------
// Partial expectations and comparison
// ---------------------------------------------------------------------------------------------

/** An experimenter action that Ryu decodes and flowkeeper keeps raw: compared by id, subtype, length. */
export class RawExpect {
  constructor(readonly ryuClass: string, readonly subtype: number | undefined, readonly dataLength: number) {}
}

type J = Record<string, unknown>;

/** The first difference between expected and actual, as 'path: expected X, got Y', or undefined. */
export function diff(expected: unknown, actual: unknown, path = '$'): string | undefined {
  const show = (v: unknown): string =>
    typeof v === 'bigint' ? `${v}n` : Buffer.isBuffer(v) ? `<${v.toString('hex')}>` : JSON.stringify(v);
  if (expected instanceof RawExpect) {
    if (!Buffer.isBuffer(actual)) return `${path}: expected raw bytes, got ${show(actual)}`;
    if (actual.length !== expected.dataLength) return `${path}: ${expected.ryuClass} expected ${expected.dataLength} bytes, got ${actual.length}`;
    if (expected.subtype !== undefined && actual.readUInt16BE(0) !== expected.subtype) {
      return `${path}: ${expected.ryuClass} expected NX subtype ${expected.subtype}, got ${actual.readUInt16BE(0)}`;
    }
    return undefined;
  }
  if (Buffer.isBuffer(expected)) {
    if (!Buffer.isBuffer(actual)) return `${path}: expected bytes ${show(expected)}, got ${show(actual)}`;
    return expected.equals(actual) ? undefined : `${path}: expected ${show(expected)}, got ${show(actual)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path}: expected an array, got ${show(actual)}`;
    if (expected.length !== actual.length) return `${path}: expected ${expected.length} items, got ${actual.length}`;
    for (let i = 0; i < expected.length; i++) {
      const d = diff(expected[i], actual[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object') return `${path}: expected an object, got ${show(actual)}`;
    const e = expected as J;
    const a = actual as J;
    const keys = new Set([...Object.keys(e), ...Object.keys(a)]);
    for (const k of keys) {
      if (e[k] === undefined && a[k] === undefined) continue;
      const d = diff(e[k], a[k], `${path}.${k}`);
      if (d) return d;
    }
    return undefined;
  }
  return Object.is(expected, actual) ? undefined : `${path}: expected ${show(expected)}, got ${show(actual)}`;
}

/** Whether an expectation holds any RawExpect (then it cannot be encoded). */
export function hasRaw(x: unknown): boolean {
  if (x instanceof RawExpect) return true;
  if (Buffer.isBuffer(x)) return false;
  if (Array.isArray(x)) return x.some(hasRaw);
  if (x !== null && typeof x === 'object') return Object.values(x).some(hasRaw);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Ryu JSON → flowkeeper objects
// ---------------------------------------------------------------------------------------------

/** The single key of a Ryu wrapper object ({"OFPMatch": {...}}) and its content. */
function unwrap(x: unknown): [string, J] {
  const o = x as J;
  const keys = Object.keys(o);
  if (keys.length !== 1) throw new Error(`expected a one-key wrapper, got keys ${keys.join(',')}`);
  return [keys[0]!, o[keys[0]!] as J];
}

const num = (v: unknown): number => {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  throw new Error(`expected a number, got ${JSON.stringify(v)}`);
};
const big = (v: unknown): bigint => {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(v);
  throw new Error(`expected an integer, got ${JSON.stringify(v)}`);
};
const b64 = (v: unknown): Buffer => Buffer.from((v as string | undefined) ?? '', 'base64');
const u8list = (v: unknown): Buffer => Buffer.from((v as number[]) ?? []);
const u32list = (v: unknown): Buffer => {
  const xs = (v as number[]) ?? [];
  const b = Buffer.alloc(xs.length * 4);
  xs.forEach((x, i) => b.writeUInt32BE(x, i * 4));
  return b;
};
const arr = (v: unknown): unknown[] => (v as unknown[]) ?? [];

/**
 * Nicira (NXM) and ONF fields of the corpus, which flowkeeper keeps as raw OXM: class, field
 * number, width and how Ryu writes the value. Sources: Ryu's nicira_ext / oxm_fields, OVS meta-flow.
 */
const NXM: Record<string, { oxmClass: number; oxmField: number; bytes: number; kind: 'uint' | 'ipv4' }> = {
  reg0: { oxmClass: C.OFPXMC_NXM_1, oxmField: 0, bytes: 4, kind: 'uint' },
  reg1: { oxmClass: C.OFPXMC_NXM_1, oxmField: 1, bytes: 4, kind: 'uint' },
  reg2: { oxmClass: C.OFPXMC_NXM_1, oxmField: 2, bytes: 4, kind: 'uint' },
  reg3: { oxmClass: C.OFPXMC_NXM_1, oxmField: 3, bytes: 4, kind: 'uint' },
  reg4: { oxmClass: C.OFPXMC_NXM_1, oxmField: 4, bytes: 4, kind: 'uint' },
  reg5: { oxmClass: C.OFPXMC_NXM_1, oxmField: 5, bytes: 4, kind: 'uint' },
  reg6: { oxmClass: C.OFPXMC_NXM_1, oxmField: 6, bytes: 4, kind: 'uint' },
  reg7: { oxmClass: C.OFPXMC_NXM_1, oxmField: 7, bytes: 4, kind: 'uint' },
  tun_ipv4_src: { oxmClass: C.OFPXMC_NXM_1, oxmField: 31, bytes: 4, kind: 'ipv4' },
  tun_ipv4_dst: { oxmClass: C.OFPXMC_NXM_1, oxmField: 32, bytes: 4, kind: 'ipv4' },
  pkt_mark: { oxmClass: C.OFPXMC_NXM_1, oxmField: 33, bytes: 4, kind: 'uint' },
  conj_id: { oxmClass: C.OFPXMC_NXM_1, oxmField: 37, bytes: 4, kind: 'uint' },
  ct_state: { oxmClass: C.OFPXMC_NXM_1, oxmField: 105, bytes: 4, kind: 'uint' },
  ct_zone: { oxmClass: C.OFPXMC_NXM_1, oxmField: 106, bytes: 2, kind: 'uint' },
  ct_mark: { oxmClass: C.OFPXMC_NXM_1, oxmField: 107, bytes: 4, kind: 'uint' },
};

function nxmBytes(kind: 'uint' | 'ipv4', bytes: number, v: unknown): Buffer {
  if (kind === 'ipv4') return parseIpv4(v as string)!;
  const b = Buffer.alloc(bytes);
  b.writeUIntBE(num(v), 0, bytes);
  return b;
}

/** Names of OXM fields by (class, field) for table-features OXM ids, basic and NXM. */
function oxmIdFromName(name: string): { oxmClass: number; oxmField: number } {
  const s = oxmFieldSpec(name);
  if (s) return { oxmClass: C.OFPXMC_OPENFLOW_BASIC, oxmField: s.code };
  const n = NXM[name];
  if (n) return { oxmClass: n.oxmClass, oxmField: n.oxmField };
  throw new Error(`unknown OXM name ${name}`);
}

export function ryuOxm(x: unknown): OxmField {
  const [, t] = unwrap(x);
  const name = t.field as string;
  const value = t.value;
  const mask = t.mask ?? undefined;
  if (name === 'pbb_uca') {
    // ONF's pre-1.4 experimenter OXM: class 0xFFFF, experimenter ONF, 16-bit exp type 2560, u8 value.
    return {
      field: 'raw', oxmClass: C.OFPXMC_EXPERIMENTER, oxmField: 0, hasMask: false,
      experimenter: C.ONF_EXPERIMENTER_ID, value: Buffer.from([0x0a, 0x00, num(value)]),
    };
  }
  const nx = NXM[name];
  if (nx) {
    const f: OxmField = {
      field: 'raw', oxmClass: nx.oxmClass, oxmField: nx.oxmField, hasMask: mask !== undefined,
      value: nxmBytes(nx.kind, nx.bytes, value),
    };
    if (mask !== undefined) f.mask = nxmBytes(nx.kind, nx.bytes, mask);
    return f;
  }
  const spec = oxmFieldSpec(name);
  if (!spec) throw new Error(`no mapping for OXM field ${name}`);
  const conv = (v: unknown): unknown => {
    switch (spec.kind) {
      case 'uint': return num(v);
      case 'u64': return big(v);
      case 'mac': return formatMac(parseMac(v as string)!);
      case 'ipv4': return formatIpv4(parseIpv4(v as string)!);
      case 'ipv6': return formatIpv6(parseIpv6(v as string)!);
    }
  };
  const f = { field: name, value: conv(value) } as OxmField;
  if (mask !== undefined) (f as { mask?: unknown }).mask = conv(mask);
  return f;
}

export function ryuMatch(x: unknown): Match {
  const [cls, m] = unwrap(x);
  if (cls !== 'OFPMatch') throw new Error(`expected OFPMatch, got ${cls}`);
  return arr(m.oxm_fields).map(ryuOxm);
}

/** Pads experimenter data to the action length Ryu reports. */
function padTo(data: Buffer, total: number): Buffer {
  return total > data.length ? Buffer.concat([data, Buffer.alloc(total - data.length)]) : data;
}

export function ryuAction(x: unknown): Action {
  const [cls, a] = unwrap(x);
  switch (cls) {
    case 'OFPActionOutput': return { type: 'OUTPUT', port: num(a.port), maxLen: num(a.max_len) };
    case 'OFPActionCopyTtlOut': return { type: 'COPY_TTL_OUT' };
    case 'OFPActionCopyTtlIn': return { type: 'COPY_TTL_IN' };
    case 'OFPActionSetMplsTtl': return { type: 'SET_MPLS_TTL', mplsTtl: num(a.mpls_ttl) };
    case 'OFPActionDecMplsTtl': return { type: 'DEC_MPLS_TTL' };
    case 'OFPActionPushVlan': return { type: 'PUSH_VLAN', ethertype: num(a.ethertype) };
    case 'OFPActionPopVlan': return { type: 'POP_VLAN' };
    case 'OFPActionPushMpls': return { type: 'PUSH_MPLS', ethertype: num(a.ethertype) };
    case 'OFPActionPopMpls': return { type: 'POP_MPLS', ethertype: num(a.ethertype) };
    case 'OFPActionSetQueue': return { type: 'SET_QUEUE', queueId: num(a.queue_id) };
    case 'OFPActionGroup': return { type: 'GROUP', groupId: num(a.group_id) };
    case 'OFPActionSetNwTtl': return { type: 'SET_NW_TTL', nwTtl: num(a.nw_ttl) };
    case 'OFPActionDecNwTtl': return { type: 'DEC_NW_TTL' };
    case 'OFPActionSetField': return { type: 'SET_FIELD', field: ryuOxm(a.field) };
    case 'OFPActionPushPbb': return { type: 'PUSH_PBB', ethertype: num(a.ethertype) };
    case 'OFPActionPopPbb': return { type: 'POP_PBB' };
    case 'OFPActionExperimenterUnknown':
      return { type: 'EXPERIMENTER', experimenter: num(a.experimenter), data: padTo(b64(a.data), num(a.len) - 8) };
    case 'NXActionUnknown': {
      const sub = Buffer.alloc(2);
      sub.writeUInt16BE(num(a.subtype));
      return { type: 'EXPERIMENTER', experimenter: num(a.experimenter), data: padTo(Buffer.concat([sub, b64(a.data)]), num(a.len) - 8) };
    }
    default:
      if (cls.startsWith('NXAction')) {
        // A Nicira action Ryu decodes in full; flowkeeper keeps its bytes.
        return {
          type: 'EXPERIMENTER', experimenter: num(a.experimenter),
          data: new RawExpect(cls, num(a.subtype), num(a.len) - 8) as unknown as Buffer,
        };
      }
      throw new Error(`no mapping for action ${cls}`);
  }
}

export function ryuInstruction(x: unknown): Instruction {
  const [cls, i] = unwrap(x);
  switch (cls) {
    case 'OFPInstructionGotoTable': return { type: 'GOTO_TABLE', tableId: num(i.table_id) };
    case 'OFPInstructionWriteMetadata':
      return { type: 'WRITE_METADATA', metadata: big(i.metadata), metadataMask: big(i.metadata_mask) };
    case 'OFPInstructionActions': {
      const t = num(i.type);
      if (t === C.OFPIT_CLEAR_ACTIONS) return { type: 'CLEAR_ACTIONS' };
      return { type: t === C.OFPIT_WRITE_ACTIONS ? 'WRITE_ACTIONS' : 'APPLY_ACTIONS', actions: arr(i.actions).map(ryuAction) };
    }
    case 'OFPInstructionMeter': return { type: 'METER', meterId: num(i.meter_id) };
    default: throw new Error(`no mapping for instruction ${cls}`);
  }
}

function ryuPort(x: unknown): Port {
  const [, p] = unwrap(x);
  return {
    portNo: num(p.port_no), hwAddr: p.hw_addr as string, name: p.name as string, config: num(p.config),
    state: num(p.state), curr: num(p.curr), advertised: num(p.advertised), supported: num(p.supported),
    peer: num(p.peer), currSpeed: num(p.curr_speed), maxSpeed: num(p.max_speed),
  };
}

function ryuBucket(x: unknown): Bucket {
  const [, b] = unwrap(x);
  return { weight: num(b.weight), watchPort: num(b.watch_port), watchGroup: num(b.watch_group), actions: arr(b.actions).map(ryuAction) };
}

function ryuBand(x: unknown): MeterBand {
  const [cls, b] = unwrap(x);
  const rate = num(b.rate);
  const burstSize = num(b.burst_size);
  switch (cls) {
    case 'OFPMeterBandDrop': return { type: 'DROP', rate, burstSize };
    case 'OFPMeterBandDscpRemark': return { type: 'DSCP_REMARK', rate, burstSize, precLevel: num(b.prec_level) };
    case 'OFPMeterBandExperimenter':
      return { type: 'EXPERIMENTER', rate, burstSize, experimenter: num(b.experimenter), data: Buffer.alloc(num(b.len) - 16) };
    default: throw new Error(`no mapping for band ${cls}`);
  }
}

const TFP_NAMES: Record<number, TableFeatureProperty['type']> = {
  0: 'INSTRUCTIONS', 1: 'INSTRUCTIONS_MISS', 2: 'NEXT_TABLES', 3: 'NEXT_TABLES_MISS', 4: 'WRITE_ACTIONS',
  5: 'WRITE_ACTIONS_MISS', 6: 'APPLY_ACTIONS', 7: 'APPLY_ACTIONS_MISS', 8: 'MATCH', 10: 'WILDCARDS',
  12: 'WRITE_SETFIELD', 13: 'WRITE_SETFIELD_MISS', 14: 'APPLY_SETFIELD', 15: 'APPLY_SETFIELD_MISS',
  0xfffe: 'EXPERIMENTER', 0xffff: 'EXPERIMENTER_MISS',
};

function ryuTableFeatureProperty(x: unknown): TableFeatureProperty {
  const [cls, p] = unwrap(x);
  const type = TFP_NAMES[num(p.type)];
  const ids = (list: unknown) => arr(list).map((y) => {
    const [, id] = unwrap(y);
    const len = num(id.len);
    return len > 4 ? { type: num(id.type), data: Buffer.alloc(len - 4) } : { type: num(id.type) };
  });
  switch (cls) {
    case 'OFPTableFeaturePropInstructions':
      return { type: type as 'INSTRUCTIONS', instructionIds: ids(p.instruction_ids) };
    case 'OFPTableFeaturePropNextTables':
      return { type: type as 'NEXT_TABLES', tableIds: arr(p.table_ids).map(num) };
    case 'OFPTableFeaturePropActions':
      return { type: type as 'WRITE_ACTIONS', actionIds: ids(p.action_ids) };
    case 'OFPTableFeaturePropOxm':
      return {
        type: type as 'MATCH',
        oxmIds: arr(p.oxm_ids).map((y) => {
          const [, id] = unwrap(y);
          return { ...oxmIdFromName(id.type as string), hasMask: num(id.hasmask) === 1, length: num(id.length) };
        }),
      };
    case 'OFPTableFeaturePropExperimenter':
      // 4-55/4-56 give the experimenter data as 32-bit words.
      return { type: type as 'EXPERIMENTER', experimenter: num(p.experimenter), expType: num(p.exp_type), data: u32list(p.data) };
    default: throw new Error(`no mapping for table feature property ${cls}`);
  }
}

function ryuTableFeatures(x: unknown): TableFeatures {
  const [, t] = unwrap(x);
  return {
    tableId: num(t.table_id), name: t.name as string, metadataMatch: big(t.metadata_match),
    metadataWrite: big(t.metadata_write), config: num(t.config), maxEntries: num(t.max_entries),
    properties: arr(t.properties).map(ryuTableFeatureProperty),
  };
}

/** ONF flow monitor requests (EXT-187), the body of 4-63, written as Ryu lays them out. */
function onfFlowMonitorRequests(list: unknown[]): Buffer {
  const w = new Writer();
  for (const y of list) {
    const [, q] = unwrap(y);
    const match = ryuMatch(q.match);
    const m = new Writer();
    match.forEach((f, i) => encodeOxm(m, f, `match[${i}]`));
    const oxm = m.finish();
    w.u32(num(q.id), 'mon', 'id');
    w.u16(num(q.flags), 'mon', 'flags');
    w.u16(oxm.length, 'mon', 'match_len');
    w.u32(num(q.out_port), 'mon', 'out_port');
    w.u8(num(q.table_id), 'mon', 'table_id');
    w.zeros(3);
    const start = w.pos;
    w.bytes(oxm, 'mon', 'match');
    w.align8(start);
  }
  return w.finish();
}

/** The frame Ryu describes with its packet library (Ethernet / IPv4 / ICMP echo). */
function packetLibraryBytes(pkt: J): Buffer {
  const parts: Buffer[] = [];
  for (const proto of arr(pkt.protocols)) {
    const [name, p] = unwrap(proto);
    if (name === 'ethernet') {
      const b = Buffer.alloc(14);
      parseMac(p.dst as string)!.copy(b, 0);
      parseMac(p.src as string)!.copy(b, 6);
      b.writeUInt16BE(num(p.ethertype), 12);
      parts.push(b);
    } else if (name === 'ipv4') {
      const b = Buffer.alloc(20);
      b[0] = (num(p.version) << 4) | num(p.header_length);
      b[1] = num(p.tos);
      b.writeUInt16BE(num(p.total_length), 2);
      b.writeUInt16BE(num(p.identification), 4);
      b.writeUInt16BE((num(p.flags) << 13) | num(p.offset), 6);
      b[8] = num(p.ttl);
      b[9] = num(p.proto);
      b.writeUInt16BE(num(p.csum), 10);
      parseIpv4(p.src as string)!.copy(b, 12);
      parseIpv4(p.dst as string)!.copy(b, 16);
      parts.push(b);
    } else if (name === 'icmp') {
      const [, echo] = unwrap(p.data);
      const b = Buffer.alloc(8);
      b[0] = num(p.type);
      b[1] = num(p.code);
      b.writeUInt16BE(num(p.csum), 2);
      b.writeUInt16BE(num(echo.id), 4);
      b.writeUInt16BE(num(echo.seq), 6);
      parts.push(b, b64(echo.data));
    } else {
      throw new Error(`no mapping for packet library protocol ${name}`);
    }
  }
  return Buffer.concat(parts);
}

function mpRequestBody(cls: string, m: J): MultipartRequestBody {
  const filter = () => ({
    tableId: num(m.table_id), outPort: num(m.out_port), outGroup: num(m.out_group),
    cookie: big(m.cookie), cookieMask: big(m.cookie_mask), match: ryuMatch(m.match),
  });
  switch (cls) {
    case 'OFPDescStatsRequest': return { kind: 'DESC' };
    case 'OFPFlowStatsRequest': return { kind: 'FLOW', ...filter() };
    case 'OFPAggregateStatsRequest': return { kind: 'AGGREGATE', ...filter() };
    case 'OFPTableStatsRequest': return { kind: 'TABLE' };
    case 'OFPPortStatsRequest': return { kind: 'PORT_STATS', portNo: num(m.port_no) };
    case 'OFPQueueStatsRequest': return { kind: 'QUEUE', portNo: num(m.port_no), queueId: num(m.queue_id) };
    case 'OFPGroupStatsRequest': return { kind: 'GROUP', groupId: num(m.group_id) };
    case 'OFPGroupDescStatsRequest': return { kind: 'GROUP_DESC' };
    case 'OFPGroupFeaturesStatsRequest': return { kind: 'GROUP_FEATURES' };
    case 'OFPMeterStatsRequest': return { kind: 'METER', meterId: num(m.meter_id) };
    case 'OFPMeterConfigStatsRequest': return { kind: 'METER_CONFIG', meterId: num(m.meter_id) };
    case 'OFPMeterFeaturesStatsRequest': return { kind: 'METER_FEATURES' };
    case 'OFPPortDescStatsRequest': return { kind: 'PORT_DESC' };
    case 'OFPTableFeaturesStatsRequest': return { kind: 'TABLE_FEATURES', tables: arr(m.body).map(ryuTableFeatures) };
    case 'OFPExperimenterStatsRequest':
      return { kind: 'EXPERIMENTER', experimenter: num(m.experimenter), expType: num(m.exp_type), data: b64(m.data) };
    case 'ONFFlowMonitorStatsRequest':
      return { kind: 'EXPERIMENTER', experimenter: num(m.experimenter), expType: num(m.exp_type), data: onfFlowMonitorRequests(arr(m.body)) };
    default: throw new Error(`no mapping for ${cls}`);
  }
}

function mpReplyBody(cls: string, m: J): MultipartReplyBody {
  const list = arr(m.body);
  const one = (): J => unwrap(Array.isArray(m.body) ? m.body[0] : m.body)[1];
  switch (cls) {
    case 'OFPDescStatsReply': {
      const d = one();
      return { kind: 'DESC', desc: {
        mfrDesc: d.mfr_desc as string, hwDesc: d.hw_desc as string, swDesc: d.sw_desc as string,
        serialNum: d.serial_num as string, dpDesc: d.dp_desc as string,
      } };
    }
    case 'OFPFlowStatsReply':
      return { kind: 'FLOW', flows: list.map((y) => {
        const [, s] = unwrap(y);
        return {
          tableId: num(s.table_id), durationSec: num(s.duration_sec), durationNsec: num(s.duration_nsec),
          priority: num(s.priority), idleTimeout: num(s.idle_timeout), hardTimeout: num(s.hard_timeout),
          flags: num(s.flags), cookie: big(s.cookie), packetCount: big(s.packet_count), byteCount: big(s.byte_count),
          match: ryuMatch(s.match), instructions: arr(s.instructions).map(ryuInstruction),
        };
      }) };
    case 'OFPAggregateStatsReply': {
      const a = one();
      return { kind: 'AGGREGATE', packetCount: big(a.packet_count), byteCount: big(a.byte_count), flowCount: num(a.flow_count) };
    }
    case 'OFPTableStatsReply':
      return { kind: 'TABLE', tables: list.map((y) => {
        const [, t] = unwrap(y);
        return { tableId: num(t.table_id), activeCount: num(t.active_count), lookupCount: big(t.lookup_count), matchedCount: big(t.matched_count) };
      }) };
    case 'OFPPortStatsReply':
      return { kind: 'PORT_STATS', ports: list.map((y) => {
        const [, s] = unwrap(y);
        return {
          portNo: num(s.port_no), rxPackets: big(s.rx_packets), txPackets: big(s.tx_packets), rxBytes: big(s.rx_bytes),
          txBytes: big(s.tx_bytes), rxDropped: big(s.rx_dropped), txDropped: big(s.tx_dropped), rxErrors: big(s.rx_errors),
          txErrors: big(s.tx_errors), rxFrameErr: big(s.rx_frame_err), rxOverErr: big(s.rx_over_err),
          rxCrcErr: big(s.rx_crc_err), collisions: big(s.collisions), durationSec: num(s.duration_sec),
          durationNsec: num(s.duration_nsec),
        };
      }) };
    case 'OFPQueueStatsReply':
      return { kind: 'QUEUE', queues: list.map((y) => {
        const [, s] = unwrap(y);
        return {
          portNo: num(s.port_no), queueId: num(s.queue_id), txBytes: big(s.tx_bytes), txPackets: big(s.tx_packets),
          txErrors: big(s.tx_errors), durationSec: num(s.duration_sec), durationNsec: num(s.duration_nsec),
        };
      }) };
    case 'OFPGroupStatsReply':
      return { kind: 'GROUP', groups: list.map((y) => {
        const [, g] = unwrap(y);
        return {
          groupId: num(g.group_id), refCount: num(g.ref_count), packetCount: big(g.packet_count), byteCount: big(g.byte_count),
          durationSec: num(g.duration_sec), durationNsec: num(g.duration_nsec),
          bucketStats: arr(g.bucket_stats).map((z) => {
            const [, b] = unwrap(z);
            return { packetCount: big(b.packet_count), byteCount: big(b.byte_count) };
          }),
        };
      }) };
    case 'OFPGroupDescStatsReply':
      return { kind: 'GROUP_DESC', groups: list.map((y) => {
        const [, g] = unwrap(y);
        return { groupType: num(g.type), groupId: num(g.group_id), buckets: arr(g.buckets).map(ryuBucket) };
      }) };
    case 'OFPGroupFeaturesStatsReply': {
      const f = one();
      return { kind: 'GROUP_FEATURES', features: {
        types: num(f.types), capabilities: num(f.capabilities),
        maxGroups: arr(f.max_groups).map(num) as [number, number, number, number],
        actions: arr(f.actions).map(num) as [number, number, number, number],
      } };
    }
    case 'OFPMeterStatsReply':
      return { kind: 'METER', meters: list.map((y) => {
        const [, s] = unwrap(y);
        return {
          meterId: num(s.meter_id), flowCount: num(s.flow_count), packetInCount: big(s.packet_in_count),
          byteInCount: big(s.byte_in_count), durationSec: num(s.duration_sec), durationNsec: num(s.duration_nsec),
          bandStats: arr(s.band_stats).map((z) => {
            const [, b] = unwrap(z);
            return { packetBandCount: big(b.packet_band_count), byteBandCount: big(b.byte_band_count) };
          }),
        };
      }) };
    case 'OFPMeterConfigStatsReply':
      return { kind: 'METER_CONFIG', meters: list.map((y) => {
        const [, c] = unwrap(y);
        return { flags: num(c.flags), meterId: num(c.meter_id), bands: arr(c.bands).map(ryuBand) };
      }) };
    case 'OFPMeterFeaturesStatsReply': {
      const f = one();
      return { kind: 'METER_FEATURES', features: {
        maxMeter: num(f.max_meter), bandTypes: num(f.band_types), capabilities: num(f.capabilities),
        maxBands: num(f.max_bands), maxColor: num(f.max_color),
      } };
    }
    case 'OFPTableFeaturesStatsReply': return { kind: 'TABLE_FEATURES', tables: list.map(ryuTableFeatures) };
    case 'OFPPortDescStatsReply': return { kind: 'PORT_DESC', ports: list.map(ryuPort) };
    case 'OFPExperimenterStatsReply': {
      const e = one();
      return { kind: 'EXPERIMENTER', experimenter: num(e.experimenter), expType: num(e.exp_type), data: b64(e.data) };
    }
    default: throw new Error(`no mapping for ${cls}`);
  }
}

function ryuQueueProperty(x: unknown): QueueProperty {
  const [cls, p] = unwrap(x);
  switch (cls) {
    case 'OFPQueuePropMinRate': return { type: 'MIN_RATE', rate: num(p.rate) };
    case 'OFPQueuePropMaxRate': return { type: 'MAX_RATE', rate: num(p.rate) };
    // 4-36 gives this data as single bytes.
    case 'OFPQueuePropExperimenter': return { type: 'EXPERIMENTER', experimenter: num(p.experimenter), data: u8list(p.data) };
    default: throw new Error(`no mapping for queue property ${cls}`);
  }
}

/** The message a Ryu JSON file describes (xid 0, as in every capture). */
export function ryuToMessage(json: unknown): OfMessage {
  const [cls, m] = unwrap(json);
  const xid = 0;
  switch (cls) {
    case 'OFPHello':
      return { type: 'HELLO', xid, elements: arr(m.elements).map((y): HelloElement => {
        const [ecls, e] = unwrap(y);
        if (ecls !== 'OFPHelloElemVersionBitmap') throw new Error(`no mapping for ${ecls}`);
        return { type: 'VERSION_BITMAP', versions: arr(e.versions).map(num) };
      }) };
    case 'OFPErrorMsg': {
      const errorType = num(m.type);
      if (errorType === C.OFPET_EXPERIMENTER) {
        return { type: 'ERROR', xid, errorType, code: num(m.exp_type), experimenter: num(m.experimenter), data: b64(m.data) };
      }
      return { type: 'ERROR', xid, errorType, code: num(m.code), data: b64(m.data) };
    }
    case 'OFPEchoRequest': return { type: 'ECHO_REQUEST', xid, data: b64(m.data) };
    case 'OFPEchoReply': return { type: 'ECHO_REPLY', xid, data: b64(m.data) };
    case 'OFPExperimenter':
      return { type: 'EXPERIMENTER', xid, experimenter: num(m.experimenter), expType: num(m.exp_type), data: b64(m.data) };
    case 'OFPFeaturesRequest': return { type: 'FEATURES_REQUEST', xid };
    case 'OFPSwitchFeatures':
      return {
        type: 'FEATURES_REPLY', xid, datapathId: big(m.datapath_id), nBuffers: num(m.n_buffers),
        nTables: num(m.n_tables), auxiliaryId: num(m.auxiliary_id), capabilities: num(m.capabilities),
      };
    case 'OFPGetConfigRequest': return { type: 'GET_CONFIG_REQUEST', xid };
    case 'OFPGetConfigReply': return { type: 'GET_CONFIG_REPLY', xid, flags: num(m.flags), missSendLen: num(m.miss_send_len) };
    case 'OFPSetConfig': return { type: 'SET_CONFIG', xid, flags: num(m.flags), missSendLen: num(m.miss_send_len) };
    case 'OFPPacketIn':
      return {
        type: 'PACKET_IN', xid, bufferId: num(m.buffer_id), totalLen: num(m.total_len), reason: num(m.reason),
        tableId: num(m.table_id), cookie: big(m.cookie), match: ryuMatch(m.match), data: b64(m.data),
      };
    case 'OFPFlowRemoved':
      return {
        type: 'FLOW_REMOVED', xid, cookie: big(m.cookie), priority: num(m.priority), reason: num(m.reason),
        tableId: num(m.table_id), durationSec: num(m.duration_sec), durationNsec: num(m.duration_nsec),
        idleTimeout: num(m.idle_timeout), hardTimeout: num(m.hard_timeout), packetCount: big(m.packet_count),
        byteCount: big(m.byte_count), match: ryuMatch(m.match),
      };
    case 'OFPPortStatus': return { type: 'PORT_STATUS', xid, reason: num(m.reason), port: ryuPort(m.desc) };
    case 'OFPPacketOut': {
      const data = typeof m.data === 'object' && m.data !== null ? packetLibraryBytes(unwrap(m.data)[1]) : b64(m.data);
      return { type: 'PACKET_OUT', xid, bufferId: num(m.buffer_id), inPort: num(m.in_port), actions: arr(m.actions).map(ryuAction), data };
    }
    case 'OFPFlowMod':
      return {
        type: 'FLOW_MOD', xid, cookie: big(m.cookie), cookieMask: big(m.cookie_mask), tableId: num(m.table_id),
        command: num(m.command), idleTimeout: num(m.idle_timeout), hardTimeout: num(m.hard_timeout),
        priority: num(m.priority), bufferId: num(m.buffer_id), outPort: num(m.out_port), outGroup: num(m.out_group),
        flags: num(m.flags), match: ryuMatch(m.match), instructions: arr(m.instructions).map(ryuInstruction),
      };
    case 'OFPGroupMod':
      return { type: 'GROUP_MOD', xid, command: num(m.command), groupType: num(m.type), groupId: num(m.group_id), buckets: arr(m.buckets).map(ryuBucket) };
    case 'OFPPortMod':
      return {
        type: 'PORT_MOD', xid, portNo: num(m.port_no), hwAddr: m.hw_addr as string, config: num(m.config),
        mask: num(m.mask), advertise: num(m.advertise),
      };
    case 'OFPTableMod': return { type: 'TABLE_MOD', xid, tableId: num(m.table_id), config: num(m.config) };
    case 'OFPBarrierRequest': return { type: 'BARRIER_REQUEST', xid };
    case 'OFPBarrierReply': return { type: 'BARRIER_REPLY', xid };
    case 'OFPQueueGetConfigRequest': return { type: 'QUEUE_GET_CONFIG_REQUEST', xid, port: num(m.port) };
    case 'OFPQueueGetConfigReply':
      return { type: 'QUEUE_GET_CONFIG_REPLY', xid, port: num(m.port), queues: arr(m.queues).map((y) => {
        const [, q] = unwrap(y);
        return { queueId: num(q.queue_id), port: num(q.port), properties: arr(q.properties).map(ryuQueueProperty) };
      }) };
    case 'OFPRoleRequest': return { type: 'ROLE_REQUEST', xid, role: num(m.role), generationId: big(m.generation_id) };
    case 'OFPRoleReply': return { type: 'ROLE_REPLY', xid, role: num(m.role), generationId: big(m.generation_id) };
    case 'OFPGetAsyncRequest': return { type: 'GET_ASYNC_REQUEST', xid };
    case 'OFPGetAsyncReply':
    case 'OFPSetAsync': {
      const pair = (v: unknown) => arr(v).map(num) as [number, number];
      return {
        type: cls === 'OFPSetAsync' ? 'SET_ASYNC' : 'GET_ASYNC_REPLY', xid, packetInMask: pair(m.packet_in_mask),
        portStatusMask: pair(m.port_status_mask), flowRemovedMask: pair(m.flow_removed_mask),
      };
    }
    case 'OFPMeterMod':
      return { type: 'METER_MOD', xid, command: num(m.command), flags: num(m.flags), meterId: num(m.meter_id), bands: arr(m.bands).map(ryuBand) };
    default:
      if (cls.endsWith('StatsRequest')) return { type: 'MULTIPART_REQUEST', xid, flags: num(m.flags), body: mpRequestBody(cls, m) };
      if (cls.endsWith('StatsReply')) return { type: 'MULTIPART_REPLY', xid, flags: num(m.flags), body: mpReplyBody(cls, m) };
      throw new Error(`no mapping for Ryu class ${cls}`);
  }
}
