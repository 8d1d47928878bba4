/**
 * fast-check arbitraries for every OpenFlow 1.3 message flowkeeper encodes, limited to values
 * that are canonical on the wire (so decode(encode(m)) must equal m exactly): addresses in the
 * text the decoder writes, experimenter action/instruction data in whole 8-byte units (the
 * encoder pads), strings without NUL that fit their fixed fields.
 */
import fc from 'fast-check';
import * as C from '../../src/openflow/constants.js';
import { OXM_FIELDS, formatIpv4, formatIpv6, formatMac } from '../../src/openflow/oxm.js';
import type {
  Action, Bucket, FlowStats, FlowStatsFilter, HelloElement, InstructionOrActionId, Instruction,
  Match, MeterBand, MultipartReplyBody, MultipartRequestBody, OfMessage, OxmField, OxmId, Port,
  QueueProperty, TableFeatureProperty, TableFeatures,
} from '../../src/openflow/types.js';

const u8 = fc.integer({ min: 0, max: 0xff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
const xid = u32;
const bytes = (maxLength = 24, minLength = 0) =>
  fc.uint8Array({ minLength, maxLength }).map((b) => Buffer.from(b));
/** Byte strings whose length is a multiple of 8. */
const bytes8 = fc.integer({ min: 0, max: 3 }).chain((n) => bytes(n * 8, n * 8));

const CHARS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_./:é私のポート'];
/** A string without NUL of at most maxBytes UTF-8 bytes (so it survives a fixed-size field). */
const fixedString = (maxBytes: number) =>
  fc.array(fc.constantFrom(...CHARS), { maxLength: maxBytes }).map((cs) => {
    let s = '';
    for (const c of cs) {
      if (Buffer.byteLength(s + c) > maxBytes) break;
      s += c;
    }
    return s;
  });

const mac = bytes(6, 6).map(formatMac);

// ---------------------------------------------------------------------------------------------
// OXM
// ---------------------------------------------------------------------------------------------

const basicField: fc.Arbitrary<OxmField> = fc.constantFrom(...OXM_FIELDS).chain((spec) => {
  const value: fc.Arbitrary<unknown> =
    spec.kind === 'uint' ? fc.integer({ min: 0, max: 2 ** (8 * spec.bytes) - 1 })
      : spec.kind === 'u64' ? u64
        : spec.kind === 'mac' ? mac
          : spec.kind === 'ipv4' ? bytes(4, 4).map(formatIpv4)
            : bytes(16, 16).map(formatIpv6);
  return fc.record({ value, mask: fc.option(value, { nil: undefined }) }).map(({ value: v, mask }) =>
    (mask === undefined ? { field: spec.name, value: v } : { field: spec.name, value: v, mask }) as OxmField);
});

const rawField: fc.Arbitrary<OxmField> = fc.oneof(
  // Nicira NXM_0/NXM_1 and other non-basic classes, masked or not.
  fc.record({
    oxmClass: fc.oneof(fc.constantFrom(C.OFPXMC_NXM_0, C.OFPXMC_NXM_1), fc.integer({ min: 2, max: 0x7fff })),
    oxmField: fc.integer({ min: 0, max: 127 }),
    value: bytes(16, 1),
    masked: fc.boolean(),
  }).map(({ oxmClass, oxmField, value, masked }): OxmField => (masked
    ? { field: 'raw', oxmClass, oxmField, hasMask: true, value, mask: Buffer.from(value.map((x) => x ^ 0x5a)) }
    : { field: 'raw', oxmClass, oxmField, hasMask: false, value })),
  // Basic-class field numbers OpenFlow 1.3 does not define (40.. are 1.4+).
  fc.record({ oxmField: fc.integer({ min: 40, max: 127 }), value: bytes(8) })
    .map(({ oxmField, value }): OxmField => ({ field: 'raw', oxmClass: C.OFPXMC_OPENFLOW_BASIC, oxmField, hasMask: false, value })),
  // Experimenter class: experimenter id, then opaque payload.
  fc.record({ oxmField: fc.integer({ min: 0, max: 127 }), hasMask: fc.boolean(), experimenter: u32, value: bytes(12) })
    .map(({ oxmField, hasMask, experimenter, value }): OxmField =>
      ({ field: 'raw', oxmClass: C.OFPXMC_EXPERIMENTER, oxmField, hasMask, experimenter, value })),
);

export const oxmField: fc.Arbitrary<OxmField> = fc.oneof({ weight: 4, arbitrary: basicField }, { weight: 1, arbitrary: rawField });
export const match: fc.Arbitrary<Match> = fc.array(oxmField, { maxLength: 6 });

// ---------------------------------------------------------------------------------------------
// Actions, instructions
// ---------------------------------------------------------------------------------------------

export const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ type: fc.constant('OUTPUT' as const), port: u32, maxLen: u16 }),
  fc.constantFrom<Action>(
    { type: 'COPY_TTL_OUT' }, { type: 'COPY_TTL_IN' }, { type: 'DEC_MPLS_TTL' }, { type: 'POP_VLAN' },
    { type: 'DEC_NW_TTL' }, { type: 'POP_PBB' },
  ),
  fc.record({ type: fc.constant('SET_MPLS_TTL' as const), mplsTtl: u8 }),
  fc.record({ type: fc.constant('SET_NW_TTL' as const), nwTtl: u8 }),
  fc.record({ type: fc.constantFrom('PUSH_VLAN' as const, 'PUSH_MPLS' as const, 'POP_MPLS' as const, 'PUSH_PBB' as const), ethertype: u16 }),
  fc.record({ type: fc.constant('SET_QUEUE' as const), queueId: u32 }),
  fc.record({ type: fc.constant('GROUP' as const), groupId: u32 }),
  fc.record({ type: fc.constant('SET_FIELD' as const), field: oxmField }),
  fc.record({ type: fc.constant('EXPERIMENTER' as const), experimenter: u32, data: bytes8 }),
);
const actions = fc.array(action, { maxLength: 5 });

export const instruction: fc.Arbitrary<Instruction> = fc.oneof(
  fc.record({ type: fc.constant('GOTO_TABLE' as const), tableId: u8 }),
  fc.record({ type: fc.constant('WRITE_METADATA' as const), metadata: u64, metadataMask: u64 }),
  fc.record({ type: fc.constantFrom('WRITE_ACTIONS' as const, 'APPLY_ACTIONS' as const), actions }),
  fc.constant<Instruction>({ type: 'CLEAR_ACTIONS' }),
  fc.record({ type: fc.constant('METER' as const), meterId: u32 }),
  fc.record({ type: fc.constant('EXPERIMENTER' as const), experimenter: u32, data: bytes8 }),
);
const instructions = fc.array(instruction, { maxLength: 4 });

// ---------------------------------------------------------------------------------------------
// Structures
// ---------------------------------------------------------------------------------------------

const port: fc.Arbitrary<Port> = fc.record({
  portNo: u32, hwAddr: mac, name: fixedString(C.OFP_MAX_PORT_NAME_LEN), config: u32, state: u32,
  curr: u32, advertised: u32, supported: u32, peer: u32, currSpeed: u32, maxSpeed: u32,
});

const bucket: fc.Arbitrary<Bucket> = fc.record({ weight: u16, watchPort: u32, watchGroup: u32, actions });

const band: fc.Arbitrary<MeterBand> = fc.oneof(
  fc.record({ type: fc.constant('DROP' as const), rate: u32, burstSize: u32 }),
  fc.record({ type: fc.constant('DSCP_REMARK' as const), rate: u32, burstSize: u32, precLevel: u8 }),
  fc.record({ type: fc.constant('EXPERIMENTER' as const), rate: u32, burstSize: u32, experimenter: u32, data: bytes(12) }),
);

const queueProperty: fc.Arbitrary<QueueProperty> = fc.oneof(
  fc.record({ type: fc.constantFrom('MIN_RATE' as const, 'MAX_RATE' as const), rate: u16 }),
  fc.record({ type: fc.constant('EXPERIMENTER' as const), experimenter: u32, data: bytes(10) }),
);

const helloElement: fc.Arbitrary<HelloElement> = fc.oneof(
  fc.uniqueArray(fc.integer({ min: 0, max: 95 }), { maxLength: 6 })
    .map((vs): HelloElement => ({ type: 'VERSION_BITMAP', versions: vs.sort((a, b) => a - b) })),
  fc.record({ type: fc.constant('UNKNOWN' as const), elementType: u16.filter((t) => t !== C.OFPHET_VERSIONBITMAP), data: bytes(20) }),
);

const id: fc.Arbitrary<InstructionOrActionId> = fc.record({ type: u16, data: fc.option(bytes(8, 1), { nil: undefined }) })
  .map(({ type, data }) => (data ? { type, data } : { type }));

const oxmId: fc.Arbitrary<OxmId> = fc.record({
  oxmClass: u16, oxmField: fc.integer({ min: 0, max: 127 }), hasMask: fc.boolean(), length: u8, experimenter: u32,
}).map(({ experimenter, ...rest }) => (rest.oxmClass === C.OFPXMC_EXPERIMENTER ? { ...rest, experimenter } : rest));

const KNOWN_TFP = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15, 0xfffe, 0xffff]);
const tableFeatureProperty: fc.Arbitrary<TableFeatureProperty> = fc.oneof(
  fc.record({ type: fc.constantFrom('INSTRUCTIONS' as const, 'INSTRUCTIONS_MISS' as const), instructionIds: fc.array(id, { maxLength: 4 }) }),
  fc.record({ type: fc.constantFrom('NEXT_TABLES' as const, 'NEXT_TABLES_MISS' as const), tableIds: fc.array(u8, { maxLength: 10 }) }),
  fc.record({
    type: fc.constantFrom('WRITE_ACTIONS' as const, 'WRITE_ACTIONS_MISS' as const, 'APPLY_ACTIONS' as const, 'APPLY_ACTIONS_MISS' as const),
    actionIds: fc.array(id, { maxLength: 4 }),
  }),
  fc.record({
    type: fc.constantFrom('MATCH' as const, 'WILDCARDS' as const, 'WRITE_SETFIELD' as const, 'WRITE_SETFIELD_MISS' as const,
      'APPLY_SETFIELD' as const, 'APPLY_SETFIELD_MISS' as const),
    oxmIds: fc.array(oxmId, { maxLength: 5 }),
  }),
  fc.record({ type: fc.constantFrom('EXPERIMENTER' as const, 'EXPERIMENTER_MISS' as const), experimenter: u32, expType: u32, data: bytes(12) }),
  fc.record({ type: fc.constant('UNKNOWN' as const), propertyType: u16.filter((t) => !KNOWN_TFP.has(t)), data: bytes(12) }),
);

const tableFeatures: fc.Arbitrary<TableFeatures> = fc.record({
  tableId: u8, name: fixedString(C.OFP_MAX_TABLE_NAME_LEN), metadataMatch: u64, metadataWrite: u64,
  config: u32, maxEntries: u32, properties: fc.array(tableFeatureProperty, { maxLength: 4 }),
});

const flowFilter: fc.Arbitrary<FlowStatsFilter> = fc.record({
  tableId: u8, outPort: u32, outGroup: u32, cookie: u64, cookieMask: u64, match,
});

const flowStats: fc.Arbitrary<FlowStats> = fc.record({
  tableId: u8, durationSec: u32, durationNsec: u32, priority: u16, idleTimeout: u16, hardTimeout: u16,
  flags: u16, cookie: u64, packetCount: u64, byteCount: u64, match, instructions,
});

const multipartRequestBody: fc.Arbitrary<MultipartRequestBody> = fc.oneof(
  fc.constantFrom<MultipartRequestBody>(
    { kind: 'DESC' }, { kind: 'TABLE' }, { kind: 'GROUP_DESC' }, { kind: 'GROUP_FEATURES' },
    { kind: 'METER_FEATURES' }, { kind: 'PORT_DESC' },
  ),
  flowFilter.chain((f) => fc.constantFrom<MultipartRequestBody>({ kind: 'FLOW', ...f }, { kind: 'AGGREGATE', ...f })),
  fc.record({ kind: fc.constant('PORT_STATS' as const), portNo: u32 }),
  fc.record({ kind: fc.constant('QUEUE' as const), portNo: u32, queueId: u32 }),
  fc.record({ kind: fc.constant('GROUP' as const), groupId: u32 }),
  fc.record({ kind: fc.constantFrom('METER' as const, 'METER_CONFIG' as const), meterId: u32 }),
  fc.record({ kind: fc.constant('TABLE_FEATURES' as const), tables: fc.array(tableFeatures, { maxLength: 2 }) }),
  fc.record({ kind: fc.constant('EXPERIMENTER' as const), experimenter: u32, expType: u32, data: bytes() }),
);

const multipartReplyBody: fc.Arbitrary<MultipartReplyBody> = fc.oneof(
  fc.record({
    kind: fc.constant('DESC' as const),
    desc: fc.record({
      mfrDesc: fixedString(C.DESC_STR_LEN), hwDesc: fixedString(40), swDesc: fixedString(40),
      serialNum: fixedString(C.SERIAL_NUM_LEN), dpDesc: fixedString(40),
    }),
  }),
  fc.record({ kind: fc.constant('FLOW' as const), flows: fc.array(flowStats, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant('AGGREGATE' as const), packetCount: u64, byteCount: u64, flowCount: u32 }),
  fc.record({
    kind: fc.constant('TABLE' as const),
    tables: fc.array(fc.record({ tableId: u8, activeCount: u32, lookupCount: u64, matchedCount: u64 }), { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('PORT_STATS' as const),
    ports: fc.array(fc.record({
      portNo: u32, rxPackets: u64, txPackets: u64, rxBytes: u64, txBytes: u64, rxDropped: u64, txDropped: u64,
      rxErrors: u64, txErrors: u64, rxFrameErr: u64, rxOverErr: u64, rxCrcErr: u64, collisions: u64,
      durationSec: u32, durationNsec: u32,
    }), { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('QUEUE' as const),
    queues: fc.array(fc.record({
      portNo: u32, queueId: u32, txBytes: u64, txPackets: u64, txErrors: u64, durationSec: u32, durationNsec: u32,
    }), { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('GROUP' as const),
    groups: fc.array(fc.record({
      groupId: u32, refCount: u32, packetCount: u64, byteCount: u64, durationSec: u32, durationNsec: u32,
      bucketStats: fc.array(fc.record({ packetCount: u64, byteCount: u64 }), { maxLength: 3 }),
    }), { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('GROUP_DESC' as const),
    groups: fc.array(fc.record({ groupType: u8, groupId: u32, buckets: fc.array(bucket, { maxLength: 3 }) }), { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('GROUP_FEATURES' as const),
    features: fc.record({
      types: u32, capabilities: u32,
      maxGroups: fc.tuple(u32, u32, u32, u32), actions: fc.tuple(u32, u32, u32, u32),
    }),
  }),
  fc.record({
    kind: fc.constant('METER' as const),
    meters: fc.array(fc.record({
      meterId: u32, flowCount: u32, packetInCount: u64, byteInCount: u64, durationSec: u32, durationNsec: u32,
      bandStats: fc.array(fc.record({ packetBandCount: u64, byteBandCount: u64 }), { maxLength: 3 }),
    }), { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('METER_CONFIG' as const),
    meters: fc.array(fc.record({ flags: u16, meterId: u32, bands: fc.array(band, { maxLength: 3 }) }), { maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('METER_FEATURES' as const),
    features: fc.record({ maxMeter: u32, bandTypes: u32, capabilities: u32, maxBands: u8, maxColor: u8 }),
  }),
  fc.record({ kind: fc.constant('TABLE_FEATURES' as const), tables: fc.array(tableFeatures, { maxLength: 2 }) }),
  fc.record({ kind: fc.constant('PORT_DESC' as const), ports: fc.array(port, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant('EXPERIMENTER' as const), experimenter: u32, expType: u32, data: bytes() }),
);

const pair = fc.tuple(u32, u32);
const asyncConfig = { packetInMask: pair, portStatusMask: pair, flowRemovedMask: pair };
const otherVersion = fc.option(u8.filter((v) => v !== C.OFP_VERSION), { nil: undefined, freq: 4 });
const dropUndefined = <T extends object>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

type Bundles = 'BUNDLE_CONTROL' | 'BUNDLE_ADD_MESSAGE';
/** One arbitrary per message type that can go into a bundle. */
const plainMessageByType: { [K in Exclude<OfMessage['type'], Bundles>]: fc.Arbitrary<Extract<OfMessage, { type: K }>> } = {
  HELLO: fc.record({ type: fc.constant('HELLO' as const), xid, version: otherVersion, elements: fc.array(helloElement, { maxLength: 3 }) }).map(dropUndefined),
  ERROR: fc.oneof(
    fc.record({ type: fc.constant('ERROR' as const), xid, version: otherVersion, errorType: u16.filter((t) => t !== C.OFPET_EXPERIMENTER), code: u16, data: bytes(40) }),
    fc.record({ type: fc.constant('ERROR' as const), xid, version: otherVersion, errorType: fc.constant(C.OFPET_EXPERIMENTER), code: u16, experimenter: u32, data: bytes(40) }),
  ).map(dropUndefined),
  ECHO_REQUEST: fc.record({ type: fc.constant('ECHO_REQUEST' as const), xid, data: bytes(40) }),
  ECHO_REPLY: fc.record({ type: fc.constant('ECHO_REPLY' as const), xid, data: bytes(40) }),
  EXPERIMENTER: fc.record({ type: fc.constant('EXPERIMENTER' as const), xid, experimenter: u32, expType: u32, data: bytes(40) })
    .filter((m) => !(m.experimenter === C.ONF_EXPERIMENTER_ID && [C.ONFT_ROLE_STATUS, C.ONFT_BUNDLE_CONTROL, C.ONFT_BUNDLE_ADD_MESSAGE].includes(m.expType))),
  FEATURES_REQUEST: fc.record({ type: fc.constant('FEATURES_REQUEST' as const), xid }),
  FEATURES_REPLY: fc.record({ type: fc.constant('FEATURES_REPLY' as const), xid, datapathId: u64, nBuffers: u32, nTables: u8, auxiliaryId: u8, capabilities: u32 }),
  GET_CONFIG_REQUEST: fc.record({ type: fc.constant('GET_CONFIG_REQUEST' as const), xid }),
  GET_CONFIG_REPLY: fc.record({ type: fc.constant('GET_CONFIG_REPLY' as const), xid, flags: u16, missSendLen: u16 }),
  SET_CONFIG: fc.record({ type: fc.constant('SET_CONFIG' as const), xid, flags: u16, missSendLen: u16 }),
  PACKET_IN: fc.record({ type: fc.constant('PACKET_IN' as const), xid, bufferId: u32, totalLen: u16, reason: u8, tableId: u8, cookie: u64, match, data: bytes(60) }),
  FLOW_REMOVED: fc.record({
    type: fc.constant('FLOW_REMOVED' as const), xid, cookie: u64, priority: u16, reason: u8, tableId: u8, durationSec: u32,
    durationNsec: u32, idleTimeout: u16, hardTimeout: u16, packetCount: u64, byteCount: u64, match,
  }),
  PORT_STATUS: fc.record({ type: fc.constant('PORT_STATUS' as const), xid, reason: u8, port }),
  PACKET_OUT: fc.record({ type: fc.constant('PACKET_OUT' as const), xid, bufferId: u32, inPort: u32, actions, data: bytes(60) }),
  FLOW_MOD: fc.record({
    type: fc.constant('FLOW_MOD' as const), xid, cookie: u64, cookieMask: u64, tableId: u8, command: u8, idleTimeout: u16,
    hardTimeout: u16, priority: u16, bufferId: u32, outPort: u32, outGroup: u32, flags: u16, match, instructions,
  }),
  GROUP_MOD: fc.record({ type: fc.constant('GROUP_MOD' as const), xid, command: u16, groupType: u8, groupId: u32, buckets: fc.array(bucket, { maxLength: 3 }) }),
  PORT_MOD: fc.record({ type: fc.constant('PORT_MOD' as const), xid, portNo: u32, hwAddr: mac, config: u32, mask: u32, advertise: u32 }),
  TABLE_MOD: fc.record({ type: fc.constant('TABLE_MOD' as const), xid, tableId: u8, config: u32 }),
  MULTIPART_REQUEST: fc.record({ type: fc.constant('MULTIPART_REQUEST' as const), xid, flags: u16, body: multipartRequestBody }),
  MULTIPART_REPLY: fc.record({ type: fc.constant('MULTIPART_REPLY' as const), xid, flags: u16, body: multipartReplyBody }),
  BARRIER_REQUEST: fc.record({ type: fc.constant('BARRIER_REQUEST' as const), xid }),
  BARRIER_REPLY: fc.record({ type: fc.constant('BARRIER_REPLY' as const), xid }),
  QUEUE_GET_CONFIG_REQUEST: fc.record({ type: fc.constant('QUEUE_GET_CONFIG_REQUEST' as const), xid, port: u32 }),
  QUEUE_GET_CONFIG_REPLY: fc.record({
    type: fc.constant('QUEUE_GET_CONFIG_REPLY' as const), xid, port: u32,
    queues: fc.array(fc.record({ queueId: u32, port: u32, properties: fc.array(queueProperty, { maxLength: 3 }) }), { maxLength: 3 }),
  }),
  ROLE_REQUEST: fc.record({ type: fc.constant('ROLE_REQUEST' as const), xid, role: u32, generationId: u64 }),
  ROLE_REPLY: fc.record({ type: fc.constant('ROLE_REPLY' as const), xid, role: u32, generationId: u64 }),
  GET_ASYNC_REQUEST: fc.record({ type: fc.constant('GET_ASYNC_REQUEST' as const), xid }),
  GET_ASYNC_REPLY: fc.record({ type: fc.constant('GET_ASYNC_REPLY' as const), xid, ...asyncConfig }),
  SET_ASYNC: fc.record({ type: fc.constant('SET_ASYNC' as const), xid, ...asyncConfig }),
  METER_MOD: fc.record({ type: fc.constant('METER_MOD' as const), xid, command: u16, flags: u16, meterId: u32, bands: fc.array(band, { maxLength: 3 }) }),
  ROLE_STATUS: fc.record({ type: fc.constant('ROLE_STATUS' as const), xid, role: u32, reason: u8, generationId: u64 }),
};

/** Bundle properties are kept as bytes; none is written as no field at all. */
const bundleProperties = fc.option(bytes(24, 1), { nil: undefined, freq: 3 });

/** One arbitrary per message type, by type name. */
export const messageByType: { [K in OfMessage['type']]: fc.Arbitrary<Extract<OfMessage, { type: K }>> } = {
  ...plainMessageByType,
  BUNDLE_CONTROL: fc.record({
    type: fc.constant('BUNDLE_CONTROL' as const), xid, bundleId: u32, controlType: u16, flags: u16, properties: bundleProperties,
  }).map(dropUndefined),
  // The added message carries the outer xid, as it must on the wire.
  BUNDLE_ADD_MESSAGE: fc.record({
    type: fc.constant('BUNDLE_ADD_MESSAGE' as const), xid, bundleId: u32, flags: u16,
    message: fc.oneof(...Object.values(plainMessageByType) as fc.Arbitrary<OfMessage>[]), properties: bundleProperties,
  }).map((m) => dropUndefined({ ...m, message: { ...m.message, xid: m.xid } })),
};

/** Any message. */
export const message: fc.Arbitrary<OfMessage> = fc.oneof(...Object.values(messageByType) as fc.Arbitrary<OfMessage>[]);
