/**
 * MULTIPART_REQUEST / MULTIPART_REPLY bodies (OFPMP_*), and the structures only they use
 * (flow stats, port stats, table features...). Shared structures (ports, buckets, meter bands)
 * live here too since multipart is their main user; codec.ts imports them.
 */
import * as C from './constants.js';
import { EncodeError } from './errors.js';
import { Reader, Writer, pad8 } from './codec-io.js';
import { decodeActions, decodeInstructions, encodeActions, encodeInstructions } from './actions.js';
import { decodeMatch, encodeMatch, formatMac, parseMac } from './oxm.js';
import type {
  Bucket, FlowStats, FlowStatsFilter, GroupDesc, GroupStats, InstructionOrActionId, MeterBand,
  MeterConfig, MeterStats, MultipartKind, MultipartReplyBody, MultipartRequestBody, OxmId, Port,
  PortStats, QueueStats, TableFeatureProperty, TableFeatures, TableStats,
} from './types.js';

const BAD_LEN = { errorType: C.OFPET_BAD_REQUEST, code: C.OFPBRC_BAD_LEN };

/** Multipart kind name ↔ OFPMP_* number. */
export const MULTIPART_TYPES: Readonly<Record<MultipartKind, number>> = {
  DESC: C.OFPMP_DESC,
  FLOW: C.OFPMP_FLOW,
  AGGREGATE: C.OFPMP_AGGREGATE,
  TABLE: C.OFPMP_TABLE,
  PORT_STATS: C.OFPMP_PORT_STATS,
  QUEUE: C.OFPMP_QUEUE,
  GROUP: C.OFPMP_GROUP,
  GROUP_DESC: C.OFPMP_GROUP_DESC,
  GROUP_FEATURES: C.OFPMP_GROUP_FEATURES,
  METER: C.OFPMP_METER,
  METER_CONFIG: C.OFPMP_METER_CONFIG,
  METER_FEATURES: C.OFPMP_METER_FEATURES,
  TABLE_FEATURES: C.OFPMP_TABLE_FEATURES,
  PORT_DESC: C.OFPMP_PORT_DESC,
  EXPERIMENTER: C.OFPMP_EXPERIMENTER,
};
const MULTIPART_KINDS = new Map<number, MultipartKind>(
  Object.entries(MULTIPART_TYPES).map(([k, v]) => [v, k as MultipartKind]),
);

// ---------------------------------------------------------------------------------------------
// Shared structures
// ---------------------------------------------------------------------------------------------

export function encodeMacField(w: Writer, mac: string, path: string, field: string): void {
  const b = parseMac(mac);
  if (!b) throw new EncodeError(`${path}.${field}`, `expected a MAC address 'aa:bb:cc:dd:ee:ff', got ${JSON.stringify(mac)}`);
  w.bytes(b, path, field);
}

export function encodePort(w: Writer, p: Port, path: string): void {
  w.u32(p.portNo, path, 'portNo');
  w.zeros(4);
  encodeMacField(w, p.hwAddr, path, 'hwAddr');
  w.zeros(2);
  w.fixedString(p.name, C.OFP_MAX_PORT_NAME_LEN, path, 'name');
  w.u32(p.config, path, 'config');
  w.u32(p.state, path, 'state');
  w.u32(p.curr, path, 'curr');
  w.u32(p.advertised, path, 'advertised');
  w.u32(p.supported, path, 'supported');
  w.u32(p.peer, path, 'peer');
  w.u32(p.currSpeed, path, 'currSpeed');
  w.u32(p.maxSpeed, path, 'maxSpeed');
}

export function decodePort(parent: Reader, where: string): Port {
  const r = parent.sub(C.OFP_PORT_SIZE, where, 'ofp_port');
  const portNo = r.u32();
  r.pad(4);
  const hwAddr = formatMac(r.bytes(6));
  r.pad(2);
  const name = r.fixedString(C.OFP_MAX_PORT_NAME_LEN, 'port name');
  return {
    portNo, hwAddr, name,
    config: r.u32(), state: r.u32(), curr: r.u32(), advertised: r.u32(), supported: r.u32(),
    peer: r.u32(), currSpeed: r.u32(), maxSpeed: r.u32(),
  };
}

export function encodeBuckets(w: Writer, buckets: Bucket[], path: string): void {
  if (!Array.isArray(buckets)) throw new EncodeError(path, 'expected an array of buckets');
  buckets.forEach((b, i) => {
    const p = `${path}[${i}]`;
    const start = w.pos;
    w.u16(0, p, 'len');
    w.u16(b.weight, p, 'weight');
    w.u32(b.watchPort, p, 'watchPort');
    w.u32(b.watchGroup, p, 'watchGroup');
    w.zeros(4);
    encodeActions(w, b.actions, `${p}.actions`);
    w.patchU16(start, w.pos - start, p, 'len');
  });
}

export function decodeBuckets(r: Reader): Bucket[] {
  const out: Bucket[] = [];
  while (r.remaining > 0) {
    const start = r.pos;
    const len = r.u16('bucket length');
    if (len < 16) r.fail('BAD_LENGTH', `bucket length ${len} < 16`, { offset: start, ofpError: { errorType: C.OFPET_GROUP_MOD_FAILED, code: C.OFPGMFC_BAD_BUCKET } });
    r.pos = start;
    const b = r.sub(len, `buckets[${out.length}]`, `bucket of ${len} bytes`, { errorType: C.OFPET_GROUP_MOD_FAILED, code: C.OFPGMFC_BAD_BUCKET });
    b.pad(2);
    const weight = b.u16();
    const watchPort = b.u32();
    const watchGroup = b.u32();
    b.pad(4);
    out.push({ weight, watchPort, watchGroup, actions: decodeActions(b) });
  }
  return out;
}

const BAND_TYPES: Record<MeterBand['type'], number> = {
  DROP: C.OFPMBT_DROP, DSCP_REMARK: C.OFPMBT_DSCP_REMARK, EXPERIMENTER: C.OFPMBT_EXPERIMENTER,
};

export function encodeBands(w: Writer, bands: MeterBand[], path: string): void {
  if (!Array.isArray(bands)) throw new EncodeError(path, 'expected an array of meter bands');
  bands.forEach((band, i) => {
    const p = `${path}[${i}]`;
    const code = BAND_TYPES[band.type];
    if (code === undefined) throw new EncodeError(`${p}.type`, `unknown meter band type '${String(band.type)}'`);
    const start = w.pos;
    w.u16(code, p, 'type');
    w.u16(0, p, 'len');
    w.u32(band.rate, p, 'rate');
    w.u32(band.burstSize, p, 'burstSize');
    if (band.type === 'DROP') w.zeros(4);
    else if (band.type === 'DSCP_REMARK') {
      w.u8(band.precLevel, p, 'precLevel');
      w.zeros(3);
    } else {
      w.u32(band.experimenter, p, 'experimenter');
      w.bytes(band.data, p, 'data');
    }
    w.patchU16(start + 2, w.pos - start, p, 'len');
  });
}

export function decodeBands(r: Reader): MeterBand[] {
  const out: MeterBand[] = [];
  while (r.remaining > 0) {
    const start = r.pos;
    const type = r.u16('band header');
    const len = r.u16('band header');
    const badBand = { errorType: C.OFPET_METER_MOD_FAILED, code: C.OFPMMFC_BAD_BAND };
    if (len < 16) r.fail('BAD_LENGTH', `meter band length ${len} < 16`, { offset: start + 2, ofpError: badBand });
    r.pos = start;
    const b = r.sub(len, `bands[${out.length}]`, `meter band of ${len} bytes`, badBand);
    b.pad(4);
    const rate = b.u32();
    const burstSize = b.u32();
    if (type === C.OFPMBT_DROP || type === C.OFPMBT_DSCP_REMARK) {
      if (len !== 16) b.fail('BAD_LENGTH', `meter band length ${len}, expected 16`, { offset: start + 2, ofpError: badBand });
      if (type === C.OFPMBT_DROP) {
        b.pad(4);
        out.push({ type: 'DROP', rate, burstSize });
      } else {
        const precLevel = b.u8();
        b.pad(3);
        out.push({ type: 'DSCP_REMARK', rate, burstSize, precLevel });
      }
    } else if (type === C.OFPMBT_EXPERIMENTER) {
      const experimenter = b.u32();
      out.push({ type: 'EXPERIMENTER', rate, burstSize, experimenter, data: b.rest() });
    } else {
      b.fail('UNKNOWN_TYPE', `unknown meter band type ${type}`, { offset: start, ofpError: badBand });
    }
  }
  return out;
}

/** Reads a list of records, each starting with a u16 length (at `lenOffset`), of at least `min` bytes. */
function records<T>(r: Reader, name: string, min: number, lenOffset: number, one: (rec: Reader, len: number) => T): T[] {
  const out: T[] = [];
  while (r.remaining > 0) {
    const start = r.pos;
    r.need(lenOffset + 2, `${name} length`);
    const len = r.ctx.message.readUInt16BE(start + lenOffset);
    if (len < min) r.fail('BAD_LENGTH', `${name} length ${len} < ${min}`, { offset: start + lenOffset, ofpError: BAD_LEN });
    const rec = r.sub(len, `${name}[${out.length}]`, `${name} of ${len} bytes`);
    out.push(one(rec, len));
  }
  return out;
}

/** Reads a list of fixed-size records. */
function fixed<T>(r: Reader, name: string, size: number, one: (rec: Reader) => T): T[] {
  if (r.remaining % size !== 0) {
    r.fail('BAD_LENGTH', `${r.remaining} bytes is not a whole number of ${size}-byte ${name}`, { ofpError: BAD_LEN });
  }
  const out: T[] = [];
  while (r.remaining > 0) out.push(one(r.sub(size, `${name}[${out.length}]`)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

function encodeFlowFilter(w: Writer, f: FlowStatsFilter, path: string): void {
  w.u8(f.tableId, path, 'tableId');
  w.zeros(3);
  w.u32(f.outPort, path, 'outPort');
  w.u32(f.outGroup, path, 'outGroup');
  w.zeros(4);
  w.u64(f.cookie, path, 'cookie');
  w.u64(f.cookieMask, path, 'cookieMask');
  encodeMatch(w, f.match, `${path}.match`);
}

function decodeFlowFilter(r: Reader): FlowStatsFilter {
  const tableId = r.u8();
  r.pad(3);
  const outPort = r.u32();
  const outGroup = r.u32();
  r.pad(4);
  const cookie = r.u64();
  const cookieMask = r.u64();
  const match = decodeMatch(r);
  return { tableId, outPort, outGroup, cookie, cookieMask, match };
}

export function multipartTypeOf(body: { kind: MultipartKind }, path: string): number {
  const code = MULTIPART_TYPES[body?.kind];
  if (code === undefined) throw new EncodeError(`${path}.kind`, `unknown multipart kind '${String(body?.kind)}'`);
  return code;
}

export function encodeMultipartRequestBody(w: Writer, body: MultipartRequestBody, path: string): void {
  switch (body.kind) {
    case 'DESC': case 'TABLE': case 'GROUP_DESC': case 'GROUP_FEATURES': case 'METER_FEATURES': case 'PORT_DESC':
      return;
    case 'FLOW': case 'AGGREGATE':
      encodeFlowFilter(w, body, path);
      return;
    case 'PORT_STATS':
      w.u32(body.portNo, path, 'portNo');
      w.zeros(4);
      return;
    case 'QUEUE':
      w.u32(body.portNo, path, 'portNo');
      w.u32(body.queueId, path, 'queueId');
      return;
    case 'GROUP':
      w.u32(body.groupId, path, 'groupId');
      w.zeros(4);
      return;
    case 'METER': case 'METER_CONFIG':
      w.u32(body.meterId, path, 'meterId');
      w.zeros(4);
      return;
    case 'TABLE_FEATURES':
      encodeTableFeaturesList(w, body.tables, `${path}.tables`);
      return;
    case 'EXPERIMENTER':
      w.u32(body.experimenter, path, 'experimenter');
      w.u32(body.expType, path, 'expType');
      w.bytes(body.data, path, 'data');
      return;
  }
}

function unknownKind(r: Reader, type: number): never {
  return r.fail('UNKNOWN_TYPE', `unknown multipart type ${type}`, {
    offset: 8, ofpError: { errorType: C.OFPET_BAD_REQUEST, code: C.OFPBRC_BAD_MULTIPART },
  });
}

export function decodeMultipartRequestBody(r: Reader, type: number): MultipartRequestBody {
  const kind = MULTIPART_KINDS.get(type) ?? unknownKind(r, type);
  const empty = (): void => r.done(`a ${kind} request (which has no body)`);
  switch (kind) {
    case 'DESC': case 'TABLE': case 'GROUP_DESC': case 'GROUP_FEATURES': case 'METER_FEATURES': case 'PORT_DESC':
      empty();
      return { kind };
    case 'FLOW': case 'AGGREGATE': {
      const f = decodeFlowFilter(r);
      r.done(`${kind} request`);
      return { kind, ...f };
    }
    case 'PORT_STATS': {
      const portNo = r.u32();
      r.pad(4);
      r.done('PORT_STATS request');
      return { kind, portNo };
    }
    case 'QUEUE': {
      const portNo = r.u32();
      const queueId = r.u32();
      r.done('QUEUE request');
      return { kind, portNo, queueId };
    }
    case 'GROUP': {
      const groupId = r.u32();
      r.pad(4);
      r.done('GROUP request');
      return { kind, groupId };
    }
    case 'METER': case 'METER_CONFIG': {
      const meterId = r.u32();
      r.pad(4);
      r.done(`${kind} request`);
      return { kind, meterId };
    }
    case 'TABLE_FEATURES':
      return { kind, tables: decodeTableFeaturesList(r) };
    case 'EXPERIMENTER': {
      const experimenter = r.u32();
      const expType = r.u32();
      return { kind, experimenter, expType, data: r.rest() };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------------------------

export function encodeMultipartReplyBody(w: Writer, body: MultipartReplyBody, path: string): void {
  switch (body.kind) {
    case 'DESC': {
      const d = body.desc;
      const p = `${path}.desc`;
      w.fixedString(d.mfrDesc, C.DESC_STR_LEN, p, 'mfrDesc');
      w.fixedString(d.hwDesc, C.DESC_STR_LEN, p, 'hwDesc');
      w.fixedString(d.swDesc, C.DESC_STR_LEN, p, 'swDesc');
      w.fixedString(d.serialNum, C.SERIAL_NUM_LEN, p, 'serialNum');
      w.fixedString(d.dpDesc, C.DESC_STR_LEN, p, 'dpDesc');
      return;
    }
    case 'FLOW':
      body.flows.forEach((fs, i) => encodeFlowStats(w, fs, `${path}.flows[${i}]`));
      return;
    case 'AGGREGATE':
      w.u64(body.packetCount, path, 'packetCount');
      w.u64(body.byteCount, path, 'byteCount');
      w.u32(body.flowCount, path, 'flowCount');
      w.zeros(4);
      return;
    case 'TABLE':
      body.tables.forEach((t, i) => {
        const p = `${path}.tables[${i}]`;
        w.u8(t.tableId, p, 'tableId');
        w.zeros(3);
        w.u32(t.activeCount, p, 'activeCount');
        w.u64(t.lookupCount, p, 'lookupCount');
        w.u64(t.matchedCount, p, 'matchedCount');
      });
      return;
    case 'PORT_STATS':
      body.ports.forEach((s, i) => {
        const p = `${path}.ports[${i}]`;
        w.u32(s.portNo, p, 'portNo');
        w.zeros(4);
        for (const k of PORT_COUNTERS) w.u64(s[k], p, k);
        w.u32(s.durationSec, p, 'durationSec');
        w.u32(s.durationNsec, p, 'durationNsec');
      });
      return;
    case 'QUEUE':
      body.queues.forEach((q, i) => {
        const p = `${path}.queues[${i}]`;
        w.u32(q.portNo, p, 'portNo');
        w.u32(q.queueId, p, 'queueId');
        w.u64(q.txBytes, p, 'txBytes');
        w.u64(q.txPackets, p, 'txPackets');
        w.u64(q.txErrors, p, 'txErrors');
        w.u32(q.durationSec, p, 'durationSec');
        w.u32(q.durationNsec, p, 'durationNsec');
      });
      return;
    case 'GROUP':
      body.groups.forEach((g, i) => {
        const p = `${path}.groups[${i}]`;
        const start = w.pos;
        w.u16(0, p, 'length');
        w.zeros(2);
        w.u32(g.groupId, p, 'groupId');
        w.u32(g.refCount, p, 'refCount');
        w.zeros(4);
        w.u64(g.packetCount, p, 'packetCount');
        w.u64(g.byteCount, p, 'byteCount');
        w.u32(g.durationSec, p, 'durationSec');
        w.u32(g.durationNsec, p, 'durationNsec');
        g.bucketStats.forEach((b, j) => {
          w.u64(b.packetCount, `${p}.bucketStats[${j}]`, 'packetCount');
          w.u64(b.byteCount, `${p}.bucketStats[${j}]`, 'byteCount');
        });
        w.patchU16(start, w.pos - start, p, 'length');
      });
      return;
    case 'GROUP_DESC':
      body.groups.forEach((g, i) => {
        const p = `${path}.groups[${i}]`;
        const start = w.pos;
        w.u16(0, p, 'length');
        w.u8(g.groupType, p, 'groupType');
        w.zeros(1);
        w.u32(g.groupId, p, 'groupId');
        encodeBuckets(w, g.buckets, `${p}.buckets`);
        w.patchU16(start, w.pos - start, p, 'length');
      });
      return;
    case 'GROUP_FEATURES': {
      const f = body.features;
      const p = `${path}.features`;
      w.u32(f.types, p, 'types');
      w.u32(f.capabilities, p, 'capabilities');
      for (let i = 0; i < 4; i++) w.u32(f.maxGroups[i]!, p, `maxGroups[${i}]`);
      for (let i = 0; i < 4; i++) w.u32(f.actions[i]!, p, `actions[${i}]`);
      return;
    }
    case 'METER':
      body.meters.forEach((m, i) => {
        const p = `${path}.meters[${i}]`;
        const start = w.pos;
        w.u32(m.meterId, p, 'meterId');
        w.u16(0, p, 'len');
        w.zeros(6);
        w.u32(m.flowCount, p, 'flowCount');
        w.u64(m.packetInCount, p, 'packetInCount');
        w.u64(m.byteInCount, p, 'byteInCount');
        w.u32(m.durationSec, p, 'durationSec');
        w.u32(m.durationNsec, p, 'durationNsec');
        m.bandStats.forEach((b, j) => {
          w.u64(b.packetBandCount, `${p}.bandStats[${j}]`, 'packetBandCount');
          w.u64(b.byteBandCount, `${p}.bandStats[${j}]`, 'byteBandCount');
        });
        w.patchU16(start + 4, w.pos - start, p, 'len');
      });
      return;
    case 'METER_CONFIG':
      body.meters.forEach((m, i) => {
        const p = `${path}.meters[${i}]`;
        const start = w.pos;
        w.u16(0, p, 'length');
        w.u16(m.flags, p, 'flags');
        w.u32(m.meterId, p, 'meterId');
        encodeBands(w, m.bands, `${p}.bands`);
        w.patchU16(start, w.pos - start, p, 'length');
      });
      return;
    case 'METER_FEATURES': {
      const f = body.features;
      const p = `${path}.features`;
      w.u32(f.maxMeter, p, 'maxMeter');
      w.u32(f.bandTypes, p, 'bandTypes');
      w.u32(f.capabilities, p, 'capabilities');
      w.u8(f.maxBands, p, 'maxBands');
      w.u8(f.maxColor, p, 'maxColor');
      w.zeros(2);
      return;
    }
    case 'TABLE_FEATURES':
      encodeTableFeaturesList(w, body.tables, `${path}.tables`);
      return;
    case 'PORT_DESC':
      body.ports.forEach((port, i) => encodePort(w, port, `${path}.ports[${i}]`));
      return;
    case 'EXPERIMENTER':
      w.u32(body.experimenter, path, 'experimenter');
      w.u32(body.expType, path, 'expType');
      w.bytes(body.data, path, 'data');
      return;
  }
}

const PORT_COUNTERS = [
  'rxPackets', 'txPackets', 'rxBytes', 'txBytes', 'rxDropped', 'txDropped', 'rxErrors',
  'txErrors', 'rxFrameErr', 'rxOverErr', 'rxCrcErr', 'collisions',
] as const;

function encodeFlowStats(w: Writer, fs: FlowStats, p: string): void {
  const start = w.pos;
  w.u16(0, p, 'length');
  w.u8(fs.tableId, p, 'tableId');
  w.zeros(1);
  w.u32(fs.durationSec, p, 'durationSec');
  w.u32(fs.durationNsec, p, 'durationNsec');
  w.u16(fs.priority, p, 'priority');
  w.u16(fs.idleTimeout, p, 'idleTimeout');
  w.u16(fs.hardTimeout, p, 'hardTimeout');
  w.u16(fs.flags, p, 'flags');
  w.zeros(4);
  w.u64(fs.cookie, p, 'cookie');
  w.u64(fs.packetCount, p, 'packetCount');
  w.u64(fs.byteCount, p, 'byteCount');
  encodeMatch(w, fs.match, `${p}.match`);
  encodeInstructions(w, fs.instructions, `${p}.instructions`);
  w.patchU16(start, w.pos - start, p, 'length');
}

function decodeFlowStats(r: Reader): FlowStats {
  r.pad(2);
  const tableId = r.u8();
  r.pad(1);
  const durationSec = r.u32();
  const durationNsec = r.u32();
  const priority = r.u16();
  const idleTimeout = r.u16();
  const hardTimeout = r.u16();
  const flags = r.u16();
  r.pad(4);
  const cookie = r.u64();
  const packetCount = r.u64();
  const byteCount = r.u64();
  const match = decodeMatch(r);
  const instructions = decodeInstructions(r);
  return {
    tableId, durationSec, durationNsec, priority, idleTimeout, hardTimeout, flags, cookie,
    packetCount, byteCount, match, instructions,
  };
}

export function decodeMultipartReplyBody(r: Reader, type: number): MultipartReplyBody {
  const kind = MULTIPART_KINDS.get(type) ?? unknownKind(r, type);
  switch (kind) {
    case 'DESC': {
      const desc = {
        mfrDesc: r.fixedString(C.DESC_STR_LEN, 'mfr_desc'),
        hwDesc: r.fixedString(C.DESC_STR_LEN, 'hw_desc'),
        swDesc: r.fixedString(C.DESC_STR_LEN, 'sw_desc'),
        serialNum: r.fixedString(C.SERIAL_NUM_LEN, 'serial_num'),
        dpDesc: r.fixedString(C.DESC_STR_LEN, 'dp_desc'),
      };
      r.done('ofp_desc');
      return { kind, desc };
    }
    case 'FLOW':
      return { kind, flows: records(r, 'flows', 56, 0, decodeFlowStats) };
    case 'AGGREGATE': {
      const packetCount = r.u64();
      const byteCount = r.u64();
      const flowCount = r.u32();
      r.pad(4);
      r.done('ofp_aggregate_stats_reply');
      return { kind, packetCount, byteCount, flowCount };
    }
    case 'TABLE':
      return {
        kind,
        tables: fixed(r, 'tables', 24, (t): TableStats => {
          const tableId = t.u8();
          t.pad(3);
          return { tableId, activeCount: t.u32(), lookupCount: t.u64(), matchedCount: t.u64() };
        }),
      };
    case 'PORT_STATS':
      return {
        kind,
        ports: fixed(r, 'ports', 112, (s): PortStats => {
          const portNo = s.u32();
          s.pad(4);
          const c = {} as Record<(typeof PORT_COUNTERS)[number], bigint>;
          for (const k of PORT_COUNTERS) c[k] = s.u64();
          return { portNo, ...c, durationSec: s.u32(), durationNsec: s.u32() };
        }),
      };
    case 'QUEUE':
      return {
        kind,
        queues: fixed(r, 'queues', 40, (q): QueueStats => ({
          portNo: q.u32(), queueId: q.u32(), txBytes: q.u64(), txPackets: q.u64(), txErrors: q.u64(),
          durationSec: q.u32(), durationNsec: q.u32(),
        })),
      };
    case 'GROUP':
      return {
        kind,
        groups: records(r, 'groups', 40, 0, (g): GroupStats => {
          g.pad(4);
          const groupId = g.u32();
          const refCount = g.u32();
          g.pad(4);
          const packetCount = g.u64();
          const byteCount = g.u64();
          const durationSec = g.u32();
          const durationNsec = g.u32();
          const bucketStats = fixed(g, 'bucketStats', 16, (b) => ({ packetCount: b.u64(), byteCount: b.u64() }));
          return { groupId, refCount, packetCount, byteCount, durationSec, durationNsec, bucketStats };
        }),
      };
    case 'GROUP_DESC':
      return {
        kind,
        groups: records(r, 'groups', 8, 0, (g): GroupDesc => {
          g.pad(2);
          const groupType = g.u8();
          g.pad(1);
          const groupId = g.u32();
          return { groupType, groupId, buckets: decodeBuckets(g) };
        }),
      };
    case 'GROUP_FEATURES': {
      const types = r.u32();
      const capabilities = r.u32();
      const maxGroups: [number, number, number, number] = [r.u32(), r.u32(), r.u32(), r.u32()];
      const actions: [number, number, number, number] = [r.u32(), r.u32(), r.u32(), r.u32()];
      r.done('ofp_group_features');
      return { kind, features: { types, capabilities, maxGroups, actions } };
    }
    case 'METER':
      return {
        kind,
        meters: records(r, 'meters', 40, 4, (m): MeterStats => {
          const meterId = m.u32();
          m.pad(8);
          const flowCount = m.u32();
          const packetInCount = m.u64();
          const byteInCount = m.u64();
          const durationSec = m.u32();
          const durationNsec = m.u32();
          const bandStats = fixed(m, 'bandStats', 16, (b) => ({ packetBandCount: b.u64(), byteBandCount: b.u64() }));
          return { meterId, flowCount, packetInCount, byteInCount, durationSec, durationNsec, bandStats };
        }),
      };
    case 'METER_CONFIG':
      return {
        kind,
        meters: records(r, 'meters', 8, 0, (m): MeterConfig => {
          m.pad(2);
          const flags = m.u16();
          const meterId = m.u32();
          return { flags, meterId, bands: decodeBands(m) };
        }),
      };
    case 'METER_FEATURES': {
      const maxMeter = r.u32();
      const bandTypes = r.u32();
      const capabilities = r.u32();
      const maxBands = r.u8();
      const maxColor = r.u8();
      r.pad(2);
      r.done('ofp_meter_features');
      return { kind, features: { maxMeter, bandTypes, capabilities, maxBands, maxColor } };
    }
    case 'TABLE_FEATURES':
      return { kind, tables: decodeTableFeaturesList(r) };
    case 'PORT_DESC':
      return { kind, ports: fixed(r, 'ports', C.OFP_PORT_SIZE, (p) => decodePort(p, 'port')) };
    case 'EXPERIMENTER': {
      const experimenter = r.u32();
      const expType = r.u32();
      return { kind, experimenter, expType, data: r.rest() };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Table features
// ---------------------------------------------------------------------------------------------

const TFP: Record<Exclude<TableFeatureProperty['type'], 'UNKNOWN'>, number> = {
  INSTRUCTIONS: C.OFPTFPT_INSTRUCTIONS,
  INSTRUCTIONS_MISS: C.OFPTFPT_INSTRUCTIONS_MISS,
  NEXT_TABLES: C.OFPTFPT_NEXT_TABLES,
  NEXT_TABLES_MISS: C.OFPTFPT_NEXT_TABLES_MISS,
  WRITE_ACTIONS: C.OFPTFPT_WRITE_ACTIONS,
  WRITE_ACTIONS_MISS: C.OFPTFPT_WRITE_ACTIONS_MISS,
  APPLY_ACTIONS: C.OFPTFPT_APPLY_ACTIONS,
  APPLY_ACTIONS_MISS: C.OFPTFPT_APPLY_ACTIONS_MISS,
  MATCH: C.OFPTFPT_MATCH,
  WILDCARDS: C.OFPTFPT_WILDCARDS,
  WRITE_SETFIELD: C.OFPTFPT_WRITE_SETFIELD,
  WRITE_SETFIELD_MISS: C.OFPTFPT_WRITE_SETFIELD_MISS,
  APPLY_SETFIELD: C.OFPTFPT_APPLY_SETFIELD,
  APPLY_SETFIELD_MISS: C.OFPTFPT_APPLY_SETFIELD_MISS,
  EXPERIMENTER: C.OFPTFPT_EXPERIMENTER,
  EXPERIMENTER_MISS: C.OFPTFPT_EXPERIMENTER_MISS,
};
const TFP_NAMES = new Map<number, keyof typeof TFP>(Object.entries(TFP).map(([k, v]) => [v, k as keyof typeof TFP]));

function encodeIds(w: Writer, ids: InstructionOrActionId[], path: string): void {
  ids.forEach((id, i) => {
    const p = `${path}[${i}]`;
    const data = id.data ?? Buffer.alloc(0);
    w.u16(id.type, p, 'type');
    w.u16(4 + data.length, p, 'len');
    w.bytes(data, p, 'data');
  });
}

function decodeIds(r: Reader, name: string): InstructionOrActionId[] {
  const out: InstructionOrActionId[] = [];
  while (r.remaining > 0) {
    const start = r.pos;
    const type = r.u16(`${name} id`);
    const len = r.u16(`${name} id`);
    if (len < 4) r.fail('BAD_LENGTH', `${name} id length ${len} < 4`, { offset: start + 2, ofpError: BAD_LEN });
    const id: InstructionOrActionId = { type };
    if (len > 4) id.data = r.bytes(len - 4, `${name} id data`);
    out.push(id);
  }
  return out;
}

function encodeTableFeatureProperty(w: Writer, prop: TableFeatureProperty, p: string): void {
  const start = w.pos;
  const code = prop.type === 'UNKNOWN' ? prop.propertyType : TFP[prop.type];
  if (code === undefined) throw new EncodeError(`${p}.type`, `unknown table feature property '${String(prop.type)}'`);
  w.u16(code, p, 'type');
  w.u16(0, p, 'length');
  switch (prop.type) {
    case 'INSTRUCTIONS': case 'INSTRUCTIONS_MISS':
      encodeIds(w, prop.instructionIds, `${p}.instructionIds`);
      break;
    case 'NEXT_TABLES': case 'NEXT_TABLES_MISS':
      prop.tableIds.forEach((t, i) => w.u8(t, p, `tableIds[${i}]`));
      break;
    case 'WRITE_ACTIONS': case 'WRITE_ACTIONS_MISS': case 'APPLY_ACTIONS': case 'APPLY_ACTIONS_MISS':
      encodeIds(w, prop.actionIds, `${p}.actionIds`);
      break;
    case 'MATCH': case 'WILDCARDS': case 'WRITE_SETFIELD': case 'WRITE_SETFIELD_MISS':
    case 'APPLY_SETFIELD': case 'APPLY_SETFIELD_MISS':
      prop.oxmIds.forEach((id: OxmId, i) => {
        const q = `${p}.oxmIds[${i}]`;
        w.u16(id.oxmClass, q, 'oxmClass');
        if (!Number.isInteger(id.oxmField) || id.oxmField < 0 || id.oxmField > 127) {
          throw new EncodeError(`${q}.oxmField`, `expected 0..127, got ${String(id.oxmField)}`);
        }
        w.u8((id.oxmField << 1) | (id.hasMask ? 1 : 0), q, 'oxmField');
        w.u8(id.length, q, 'length');
        if (id.oxmClass === C.OFPXMC_EXPERIMENTER) w.u32(id.experimenter ?? 0, q, 'experimenter');
      });
      break;
    case 'EXPERIMENTER': case 'EXPERIMENTER_MISS':
      w.u32(prop.experimenter, p, 'experimenter');
      w.u32(prop.expType, p, 'expType');
      w.bytes(prop.data, p, 'data');
      break;
    case 'UNKNOWN':
      w.bytes(prop.data, p, 'data');
      break;
  }
  w.patchU16(start + 2, w.pos - start, p, 'length');
  w.align8(start);
}

function decodeTableFeatureProperty(r: Reader, type: number): TableFeatureProperty {
  const name = TFP_NAMES.get(type);
  switch (name) {
    case 'INSTRUCTIONS': case 'INSTRUCTIONS_MISS':
      return { type: name, instructionIds: decodeIds(r, 'instruction') };
    case 'NEXT_TABLES': case 'NEXT_TABLES_MISS': {
      const tableIds: number[] = [];
      while (r.remaining > 0) tableIds.push(r.u8());
      return { type: name, tableIds };
    }
    case 'WRITE_ACTIONS': case 'WRITE_ACTIONS_MISS': case 'APPLY_ACTIONS': case 'APPLY_ACTIONS_MISS':
      return { type: name, actionIds: decodeIds(r, 'action') };
    case 'MATCH': case 'WILDCARDS': case 'WRITE_SETFIELD': case 'WRITE_SETFIELD_MISS':
    case 'APPLY_SETFIELD': case 'APPLY_SETFIELD_MISS': {
      const oxmIds: OxmId[] = [];
      while (r.remaining > 0) {
        const oxmClass = r.u16('OXM id');
        const fb = r.u8('OXM id');
        const length = r.u8('OXM id');
        const id: OxmId = { oxmClass, oxmField: fb >> 1, hasMask: (fb & 1) === 1, length };
        if (oxmClass === C.OFPXMC_EXPERIMENTER) id.experimenter = r.u32('OXM id experimenter');
        oxmIds.push(id);
      }
      return { type: name, oxmIds };
    }
    case 'EXPERIMENTER': case 'EXPERIMENTER_MISS': {
      const experimenter = r.u32();
      const expType = r.u32();
      return { type: name, experimenter, expType, data: r.rest() };
    }
    default:
      return { type: 'UNKNOWN', propertyType: type, data: r.rest() };
  }
}

function encodeTableFeaturesList(w: Writer, tables: TableFeatures[], path: string): void {
  if (!Array.isArray(tables)) throw new EncodeError(path, 'expected an array of table features');
  tables.forEach((t, i) => {
    const p = `${path}[${i}]`;
    const start = w.pos;
    w.u16(0, p, 'length');
    w.u8(t.tableId, p, 'tableId');
    w.zeros(5);
    w.fixedString(t.name, C.OFP_MAX_TABLE_NAME_LEN, p, 'name');
    w.u64(t.metadataMatch, p, 'metadataMatch');
    w.u64(t.metadataWrite, p, 'metadataWrite');
    w.u32(t.config, p, 'config');
    w.u32(t.maxEntries, p, 'maxEntries');
    if (!Array.isArray(t.properties)) throw new EncodeError(`${p}.properties`, 'expected an array');
    t.properties.forEach((prop, j) => encodeTableFeatureProperty(w, prop, `${p}.properties[${j}]`));
    w.patchU16(start, w.pos - start, p, 'length');
  });
}

function decodeTableFeaturesList(r: Reader): TableFeatures[] {
  return records(r, 'tables', 64, 0, (t): TableFeatures => {
    t.pad(2);
    const tableId = t.u8();
    t.pad(5);
    const name = t.fixedString(C.OFP_MAX_TABLE_NAME_LEN, 'table name');
    const metadataMatch = t.u64();
    const metadataWrite = t.u64();
    const config = t.u32();
    const maxEntries = t.u32();
    const properties: TableFeatureProperty[] = [];
    while (t.remaining > 0) {
      const start = t.pos;
      const type = t.u16('property header');
      const length = t.u16('property header');
      if (length < 4) {
        t.fail('BAD_LENGTH', `table feature property length ${length} < 4`, {
          offset: start + 2, ofpError: { errorType: C.OFPET_TABLE_FEATURES_FAILED, code: C.OFPTFFC_BAD_LEN },
        });
      }
      t.pos = start;
      const pr = t.sub(length, `properties[${properties.length}]`, `property of ${length} bytes`,
        { errorType: C.OFPET_TABLE_FEATURES_FAILED, code: C.OFPTFFC_BAD_LEN });
      pr.pos += 4;
      properties.push(decodeTableFeatureProperty(pr, type));
      // The last property's padding may be cut short by a sloppy sender: skip what is there.
      t.pad(Math.min(pad8(length) - length, t.remaining));
    }
    return { tableId, name, metadataMatch, metadataWrite, config, maxEntries, properties };
  });
}
