/**
 * The OpenFlow 1.3 messages as plain objects.
 *
 * Conventions (the same in every type below):
 * - A message is a discriminated union on `type`, the OFPT_ name without its prefix
 *   ('FLOW_MOD', 'MULTIPART_REPLY', ...), and carries the header's `xid` (u32). The header's
 *   version and length are not fields: the encoder writes them, the decoder checks them.
 * - Field names are the spec's, in camelCase (`table_id` → `tableId`). Enumerations and flag sets
 *   are plain numbers; their values are the OFP* constants in constants.ts.
 * - 64-bit fields (cookie, cookie_mask, metadata, tunnel_id, datapath_id, generation_id and u64
 *   counters) are `bigint`. Everything else numeric is a `number`.
 * - Byte payloads are `Buffer`s. The decoder copies them: a decoded message never keeps the
 *   frame it came from alive.
 * - MAC addresses are strings 'aa:bb:cc:dd:ee:ff' (lower case), IPv4 addresses dotted quads,
 *   IPv6 addresses RFC 5952 text ('fe80::1').
 * - Padding is never a field: the encoder writes zeros, the decoder ignores it. Anything the
 *   codec does not understand but may meet on the wire (experimenter actions, experimenter and
 *   Nicira OXM fields, experimenter properties) is kept as bytes so it re-encodes unchanged.
 */

// ---------------------------------------------------------------------------------------------
// OXM match fields
// ---------------------------------------------------------------------------------------------

/** One OXM field of the OpenFlow basic class (0x8000), value and optional mask of one type. */
interface Oxm<N extends string, V> {
  /** The spec's OXM_OF_ name, lower case (as in Ryu and ofctl_rest): 'in_port', 'eth_dst', ... */
  field: N;
  value: V;
  /** Present only for a masked (wildcarded) field: 1 bits are the bits that must match. */
  mask?: V;
}

/** OXM basic fields whose value is a number (widths 8 to 32 bits, see OXM_FIELDS in oxm.ts). */
export type OxmNumberFieldName =
  | 'in_port' | 'in_phy_port' | 'eth_type'
  /** The raw wire value: a tagged packet has OFPVID_PRESENT (0x1000) set, e.g. 0x1000 | 100. */
  | 'vlan_vid'
  | 'vlan_pcp' | 'ip_dscp' | 'ip_ecn' | 'ip_proto' | 'tcp_src' | 'tcp_dst' | 'udp_src' | 'udp_dst'
  | 'sctp_src' | 'sctp_dst' | 'icmpv4_type' | 'icmpv4_code' | 'arp_op' | 'ipv6_flabel'
  | 'icmpv6_type' | 'icmpv6_code' | 'mpls_label' | 'mpls_tc' | 'mpls_bos' | 'pbb_isid'
  | 'ipv6_exthdr';
export type OxmBigintFieldName = 'metadata' | 'tunnel_id';
export type OxmMacFieldName = 'eth_dst' | 'eth_src' | 'arp_sha' | 'arp_tha' | 'ipv6_nd_sll' | 'ipv6_nd_tll';
export type OxmIpv4FieldName = 'ipv4_src' | 'ipv4_dst' | 'arp_spa' | 'arp_tpa';
export type OxmIpv6FieldName = 'ipv6_src' | 'ipv6_dst' | 'ipv6_nd_target';
export type OxmBasicFieldName =
  | OxmNumberFieldName | OxmBigintFieldName | OxmMacFieldName | OxmIpv4FieldName | OxmIpv6FieldName;

/** The value type of a basic field: `OxmValueOf<'in_port'>` is number, of 'eth_dst' string. */
export type OxmValueOf<N extends OxmBasicFieldName> =
  N extends OxmNumberFieldName ? number : N extends OxmBigintFieldName ? bigint : string;

export type OxmBasicField =
  | Oxm<OxmNumberFieldName, number>
  | Oxm<OxmBigintFieldName, bigint>
  | Oxm<OxmMacFieldName | OxmIpv4FieldName | OxmIpv6FieldName, string>;

/**
 * An OXM field outside the OpenFlow basic class, or a basic-class field number this codec does
 * not know: Nicira NXM fields (class 0x0000/0x0001: registers, tun_ipv4_src, ct_state, ...),
 * experimenter fields (class 0xFFFF, e.g. ONF's pbb_uca). Kept as bytes so it round-trips.
 */
export interface OxmRawField {
  field: 'raw';
  oxmClass: number;
  /** 7-bit field number within the class. */
  oxmField: number;
  hasMask: boolean;
  /** Class 0xFFFF only: the 32-bit experimenter id that starts the payload. */
  experimenter?: number;
  /**
   * The payload after the header (and, for class 0xFFFF, after the experimenter id). For
   * classes other than 0xFFFF with hasMask, this is the first half and `mask` the second.
   */
  value: Buffer;
  mask?: Buffer;
}

export type OxmField = OxmBasicField | OxmRawField;

/**
 * An OpenFlow 1.3 match (ofp_match of type OFPMT_OXM): its OXM fields in wire order. An empty
 * list matches everything. `match()` in codec-builders.ts builds one from an object in the
 * canonical order; `matchKey()` in oxm.ts gives an order-independent identity for flow stores.
 */
export type Match = OxmField[];

// ---------------------------------------------------------------------------------------------
// Actions and instructions
// ---------------------------------------------------------------------------------------------

export type Action =
  /** Send out `port` (or OFPP_CONTROLLER, ...); `maxLen` bytes to the controller (OFPCML_NO_BUFFER: all). */
  | { type: 'OUTPUT'; port: number; maxLen: number }
  | { type: 'COPY_TTL_OUT' }
  | { type: 'COPY_TTL_IN' }
  | { type: 'SET_MPLS_TTL'; mplsTtl: number }
  | { type: 'DEC_MPLS_TTL' }
  | { type: 'PUSH_VLAN'; ethertype: number }
  | { type: 'POP_VLAN' }
  | { type: 'PUSH_MPLS'; ethertype: number }
  | { type: 'POP_MPLS'; ethertype: number }
  | { type: 'SET_QUEUE'; queueId: number }
  | { type: 'GROUP'; groupId: number }
  | { type: 'SET_NW_TTL'; nwTtl: number }
  | { type: 'DEC_NW_TTL' }
  /** Set one header field; `field` is an OXM field without mask (masks are not allowed by 1.3). */
  | { type: 'SET_FIELD'; field: OxmField }
  | { type: 'PUSH_PBB'; ethertype: number }
  | { type: 'POP_PBB' }
  /**
   * Any experimenter action (Nicira NX actions: resubmit, learn, ct, note, ...), kept as bytes:
   * `data` is everything after the experimenter id (for NX actions: the 16-bit subtype first).
   * The encoder pads `data` with zeros to a multiple of 8 bytes of action.
   */
  | { type: 'EXPERIMENTER'; experimenter: number; data: Buffer };

export type ActionType = Action['type'];

export type Instruction =
  | { type: 'GOTO_TABLE'; tableId: number }
  | { type: 'WRITE_METADATA'; metadata: bigint; metadataMask: bigint }
  | { type: 'WRITE_ACTIONS'; actions: Action[] }
  | { type: 'APPLY_ACTIONS'; actions: Action[] }
  | { type: 'CLEAR_ACTIONS' }
  | { type: 'METER'; meterId: number }
  /** `data` is everything after the experimenter id. */
  | { type: 'EXPERIMENTER'; experimenter: number; data: Buffer };

export type InstructionType = Instruction['type'];

// ---------------------------------------------------------------------------------------------
// Common structures
// ---------------------------------------------------------------------------------------------

/** ofp_port: a switch port as described in FEATURES/PORT_STATUS/PORT_DESC. */
export interface Port {
  portNo: number;
  hwAddr: string;
  name: string;
  /** OFPPC_* bits. */
  config: number;
  /** OFPPS_* bits. */
  state: number;
  /** OFPPF_* bits. */
  curr: number;
  advertised: number;
  supported: number;
  peer: number;
  /** kbps */
  currSpeed: number;
  /** kbps */
  maxSpeed: number;
}

export interface Bucket {
  /** Relative weight (select groups); 0 for other group types. */
  weight: number;
  /** Port/group whose liveness decides (fast failover groups); OFPP_ANY / OFPG_ANY if none. */
  watchPort: number;
  watchGroup: number;
  actions: Action[];
}

export type MeterBand =
  | { type: 'DROP'; rate: number; burstSize: number }
  | { type: 'DSCP_REMARK'; rate: number; burstSize: number; precLevel: number }
  /** `data` is what follows the 16-byte band header. */
  | { type: 'EXPERIMENTER'; rate: number; burstSize: number; experimenter: number; data: Buffer };

export type QueueProperty =
  /** Rates in 1/10 of a percent; > 1000 means disabled. */
  | { type: 'MIN_RATE'; rate: number }
  | { type: 'MAX_RATE'; rate: number }
  | { type: 'EXPERIMENTER'; experimenter: number; data: Buffer };

export interface PacketQueue {
  queueId: number;
  port: number;
  properties: QueueProperty[];
}

export type HelloElement =
  /** The OpenFlow versions the sender supports (wire version numbers, 4 = OpenFlow 1.3). */
  | { type: 'VERSION_BITMAP'; versions: number[] }
  | { type: 'UNKNOWN'; elementType: number; data: Buffer };

// ---------------------------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------------------------

interface Header<T extends string> {
  type: T;
  xid: number;
}

export interface HelloMessage extends Header<'HELLO'> {
  /**
   * The header version. Present only when it is not 4 (OpenFlow 1.3): a peer's HELLO may carry
   * any version (it announces the highest it supports), and version negotiation needs it.
   */
  version?: number;
  elements: HelloElement[];
}

export interface ErrorMessage extends Header<'ERROR'> {
  /** As HELLO: present only when the header version is not 4 (e.g. an OpenFlow 1.0 HELLO_FAILED). */
  version?: number;
  /** OFPET_*. */
  errorType: number;
  /** The code within errorType (OFPBRC_*, ...); for OFPET_EXPERIMENTER the exp_type. */
  code: number;
  /** OFPET_EXPERIMENTER only. */
  experimenter?: number;
  /** Usually the first bytes (at least 64) of the message that failed, header included. */
  data: Buffer;
}

export interface EchoRequestMessage extends Header<'ECHO_REQUEST'> { data: Buffer }
export interface EchoReplyMessage extends Header<'ECHO_REPLY'> { data: Buffer }

/** An experimenter message this codec does not decode further (not ONF role status). */
export interface ExperimenterMessage extends Header<'EXPERIMENTER'> {
  experimenter: number;
  expType: number;
  data: Buffer;
}

export interface FeaturesRequestMessage extends Header<'FEATURES_REQUEST'> {}
export interface FeaturesReplyMessage extends Header<'FEATURES_REPLY'> {
  datapathId: bigint;
  nBuffers: number;
  nTables: number;
  /** 0 for the main connection. */
  auxiliaryId: number;
  /** OFPC_* bits. */
  capabilities: number;
}

export interface GetConfigRequestMessage extends Header<'GET_CONFIG_REQUEST'> {}
export interface GetConfigReplyMessage extends Header<'GET_CONFIG_REPLY'> { flags: number; missSendLen: number }
export interface SetConfigMessage extends Header<'SET_CONFIG'> { flags: number; missSendLen: number }

export interface PacketInMessage extends Header<'PACKET_IN'> {
  /** OFP_NO_BUFFER if the packet is not buffered on the switch. */
  bufferId: number;
  /** Length of the whole frame (data may be shorter). */
  totalLen: number;
  /** OFPR_*. */
  reason: number;
  tableId: number;
  cookie: bigint;
  match: Match;
  data: Buffer;
}

export interface FlowRemovedMessage extends Header<'FLOW_REMOVED'> {
  cookie: bigint;
  priority: number;
  /** OFPRR_*. */
  reason: number;
  tableId: number;
  durationSec: number;
  durationNsec: number;
  idleTimeout: number;
  hardTimeout: number;
  packetCount: bigint;
  byteCount: bigint;
  match: Match;
}

export interface PortStatusMessage extends Header<'PORT_STATUS'> {
  /** OFPPR_*. */
  reason: number;
  port: Port;
}

export interface PacketOutMessage extends Header<'PACKET_OUT'> {
  bufferId: number;
  inPort: number;
  actions: Action[];
  /** The frame, when bufferId is OFP_NO_BUFFER. */
  data: Buffer;
}

export interface FlowModMessage extends Header<'FLOW_MOD'> {
  cookie: bigint;
  /** For MODIFY/DELETE: which cookie bits must match; 0n matches every cookie. */
  cookieMask: bigint;
  tableId: number;
  /** OFPFC_*. */
  command: number;
  /** Seconds; 0 = never. */
  idleTimeout: number;
  hardTimeout: number;
  priority: number;
  bufferId: number;
  /** DELETE only: restrict to flows that output to this port (OFPP_ANY: no restriction). */
  outPort: number;
  outGroup: number;
  /** OFPFF_* bits. */
  flags: number;
  match: Match;
  instructions: Instruction[];
}

export interface GroupModMessage extends Header<'GROUP_MOD'> {
  /** OFPGC_*. */
  command: number;
  /** OFPGT_*. */
  groupType: number;
  groupId: number;
  buckets: Bucket[];
}

export interface PortModMessage extends Header<'PORT_MOD'> {
  portNo: number;
  hwAddr: string;
  config: number;
  /** Which config bits to change. */
  mask: number;
  /** OFPPF_* bits to advertise; 0 to leave unchanged. */
  advertise: number;
}

export interface TableModMessage extends Header<'TABLE_MOD'> {
  tableId: number;
  config: number;
}

export interface MeterModMessage extends Header<'METER_MOD'> {
  /** OFPMC_*. */
  command: number;
  /** OFPMF_* bits. */
  flags: number;
  meterId: number;
  bands: MeterBand[];
}

export interface MultipartRequestMessage extends Header<'MULTIPART_REQUEST'> {
  /** OFPMPF_REQ_MORE when more requests follow. */
  flags: number;
  body: MultipartRequestBody;
}

export interface MultipartReplyMessage extends Header<'MULTIPART_REPLY'> {
  /** OFPMPF_REPLY_MORE when more replies follow (the connection layer joins them). */
  flags: number;
  body: MultipartReplyBody;
}

export interface BarrierRequestMessage extends Header<'BARRIER_REQUEST'> {}
export interface BarrierReplyMessage extends Header<'BARRIER_REPLY'> {}

export interface QueueGetConfigRequestMessage extends Header<'QUEUE_GET_CONFIG_REQUEST'> { port: number }
export interface QueueGetConfigReplyMessage extends Header<'QUEUE_GET_CONFIG_REPLY'> {
  port: number;
  queues: PacketQueue[];
}

export interface RoleRequestMessage extends Header<'ROLE_REQUEST'> {
  /** OFPCR_ROLE_*. */
  role: number;
  /** Ignored by the switch for EQUAL and NOCHANGE; must not go backwards for MASTER/SLAVE. */
  generationId: bigint;
}
export interface RoleReplyMessage extends Header<'ROLE_REPLY'> { role: number; generationId: bigint }

/** Masks per async message type: [0] for MASTER/EQUAL role, [1] for SLAVE role. */
export interface AsyncConfig {
  /** Bit (1 << OFPR_*) per packet-in reason. */
  packetInMask: [number, number];
  /** Bit (1 << OFPPR_*) per port-status reason. */
  portStatusMask: [number, number];
  /** Bit (1 << OFPRR_*) per flow-removed reason. */
  flowRemovedMask: [number, number];
}
export interface GetAsyncRequestMessage extends Header<'GET_ASYNC_REQUEST'> {}
export interface GetAsyncReplyMessage extends Header<'GET_ASYNC_REPLY'>, AsyncConfig {}
export interface SetAsyncMessage extends Header<'SET_ASYNC'>, AsyncConfig {}

/**
 * ONF role status (EXT-191), sent by Open vSwitch in OpenFlow 1.3 as an OFPT_EXPERIMENTER message
 * (experimenter 0x4F4E4600, exp_type 1911) when this controller's role changed without its asking,
 * typically: another controller became master, so this one is now a slave.
 */
export interface RoleStatusMessage extends Header<'ROLE_STATUS'> {
  /** The new role, OFPCR_ROLE_*. */
  role: number;
  /** OFPCRR_*: MASTER_REQUEST (another controller asked), CONFIG, EXPERIMENTER. */
  reason: number;
  /** The generation id of the request that caused the change. */
  generationId: bigint;
}

/**
 * An ONF bundle control (EXT-230, OpenFlow 1.4's OFPT_BUNDLE_CONTROL carried in OpenFlow 1.3 as
 * OFPT_EXPERIMENTER, experimenter 0x4F4E4600, exp_type 2300): open, close, commit or discard a
 * bundle, and the switch's reply to each (with the request's xid).
 */
export interface BundleControlMessage extends Header<'BUNDLE_CONTROL'> {
  bundleId: number;
  /** OFPBCT_*: OPEN_REQUEST 0, OPEN_REPLY 1, CLOSE_* 2/3, COMMIT_* 4/5, DISCARD_* 6/7. */
  controlType: number;
  /** OFPBF_ATOMIC | OFPBF_ORDERED. */
  flags: number;
  /** Properties (ofp14_bundle_prop_*), kept as bytes; absent when there are none. */
  properties?: Buffer;
}

/** A message as it is added to a bundle: its xid, when given (and not 0, the builders' "unset"), must be the BUNDLE_ADD_MESSAGE's. */
export type BundledMessage = OfMessage extends infer M ? (M extends OfMessage ? Omit<M, 'xid'> & { xid?: number } : never) : never;

/**
 * ONF bundle add (EXT-230, exp_type 2301): one message added to an open bundle. On the wire the
 * added message carries the xid of the BUNDLE_ADD_MESSAGE around it (Open vSwitch refuses
 * anything else with OFPBFC_MSG_BAD_XID): leave `message.xid` out (or 0, as the builders make it)
 * and the encoder puts it there; a different one is an EncodeError. Decoded, `message.xid` is what the bytes said.
 */
export interface BundleAddMessage extends Header<'BUNDLE_ADD_MESSAGE'> {
  bundleId: number;
  /** The bundle's flags, as given when it was opened. */
  flags: number;
  message: BundledMessage;
  /** Properties (after the message, which is then padded to 8 bytes), kept as bytes; absent when there are none. */
  properties?: Buffer;
}

export type OfMessage =
  | HelloMessage
  | ErrorMessage
  | EchoRequestMessage
  | EchoReplyMessage
  | ExperimenterMessage
  | FeaturesRequestMessage
  | FeaturesReplyMessage
  | GetConfigRequestMessage
  | GetConfigReplyMessage
  | SetConfigMessage
  | PacketInMessage
  | FlowRemovedMessage
  | PortStatusMessage
  | PacketOutMessage
  | FlowModMessage
  | GroupModMessage
  | PortModMessage
  | TableModMessage
  | MultipartRequestMessage
  | MultipartReplyMessage
  | BarrierRequestMessage
  | BarrierReplyMessage
  | QueueGetConfigRequestMessage
  | QueueGetConfigReplyMessage
  | RoleRequestMessage
  | RoleReplyMessage
  | GetAsyncRequestMessage
  | GetAsyncReplyMessage
  | SetAsyncMessage
  | MeterModMessage
  | RoleStatusMessage
  | BundleControlMessage
  | BundleAddMessage;

export type OfMessageType = OfMessage['type'];
/** The message of a given type: `OfMessageOf<'FLOW_MOD'>` is FlowModMessage. */
export type OfMessageOf<T extends OfMessageType> = Extract<OfMessage, { type: T }>;

// ---------------------------------------------------------------------------------------------
// Multipart bodies (`body.kind` is the OFPMP_ name without prefix)
// ---------------------------------------------------------------------------------------------

/** Which flows a FLOW or AGGREGATE request is about. */
export interface FlowStatsFilter {
  /** OFPTT_ALL for all tables. */
  tableId: number;
  /** OFPP_ANY: no restriction. */
  outPort: number;
  /** OFPG_ANY: no restriction. */
  outGroup: number;
  cookie: bigint;
  cookieMask: bigint;
  match: Match;
}

export type MultipartRequestBody =
  | { kind: 'DESC' }
  | ({ kind: 'FLOW' } & FlowStatsFilter)
  | ({ kind: 'AGGREGATE' } & FlowStatsFilter)
  | { kind: 'TABLE' }
  /** OFPP_ANY for all ports. */
  | { kind: 'PORT_STATS'; portNo: number }
  | { kind: 'QUEUE'; portNo: number; queueId: number }
  /** OFPG_ALL for all groups. */
  | { kind: 'GROUP'; groupId: number }
  | { kind: 'GROUP_DESC' }
  | { kind: 'GROUP_FEATURES' }
  /** OFPM_ALL for all meters. */
  | { kind: 'METER'; meterId: number }
  | { kind: 'METER_CONFIG'; meterId: number }
  | { kind: 'METER_FEATURES' }
  /** Empty to read the features; non-empty to set them. */
  | { kind: 'TABLE_FEATURES'; tables: TableFeatures[] }
  | { kind: 'PORT_DESC' }
  /** `data` follows the experimenter header (e.g. ONF flow monitor requests, kept raw). */
  | { kind: 'EXPERIMENTER'; experimenter: number; expType: number; data: Buffer };

export type MultipartReplyBody =
  | { kind: 'DESC'; desc: SwitchDescription }
  | { kind: 'FLOW'; flows: FlowStats[] }
  | { kind: 'AGGREGATE'; packetCount: bigint; byteCount: bigint; flowCount: number }
  | { kind: 'TABLE'; tables: TableStats[] }
  | { kind: 'PORT_STATS'; ports: PortStats[] }
  | { kind: 'QUEUE'; queues: QueueStats[] }
  | { kind: 'GROUP'; groups: GroupStats[] }
  | { kind: 'GROUP_DESC'; groups: GroupDesc[] }
  | { kind: 'GROUP_FEATURES'; features: GroupFeatures }
  | { kind: 'METER'; meters: MeterStats[] }
  | { kind: 'METER_CONFIG'; meters: MeterConfig[] }
  | { kind: 'METER_FEATURES'; features: MeterFeatures }
  | { kind: 'TABLE_FEATURES'; tables: TableFeatures[] }
  | { kind: 'PORT_DESC'; ports: Port[] }
  | { kind: 'EXPERIMENTER'; experimenter: number; expType: number; data: Buffer };

export type MultipartKind = MultipartRequestBody['kind'];

export interface SwitchDescription {
  mfrDesc: string;
  hwDesc: string;
  swDesc: string;
  serialNum: string;
  dpDesc: string;
}

/** One flow entry as the switch reports it. Identity for a flow store: (tableId, priority, match). */
export interface FlowStats {
  tableId: number;
  durationSec: number;
  durationNsec: number;
  priority: number;
  idleTimeout: number;
  hardTimeout: number;
  flags: number;
  cookie: bigint;
  packetCount: bigint;
  byteCount: bigint;
  match: Match;
  instructions: Instruction[];
}

export interface TableStats {
  tableId: number;
  activeCount: number;
  lookupCount: bigint;
  matchedCount: bigint;
}

export interface PortStats {
  portNo: number;
  rxPackets: bigint;
  txPackets: bigint;
  rxBytes: bigint;
  txBytes: bigint;
  rxDropped: bigint;
  txDropped: bigint;
  rxErrors: bigint;
  txErrors: bigint;
  rxFrameErr: bigint;
  rxOverErr: bigint;
  rxCrcErr: bigint;
  collisions: bigint;
  durationSec: number;
  durationNsec: number;
}

export interface QueueStats {
  portNo: number;
  queueId: number;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  durationSec: number;
  durationNsec: number;
}

export interface GroupStats {
  groupId: number;
  refCount: number;
  packetCount: bigint;
  byteCount: bigint;
  durationSec: number;
  durationNsec: number;
  bucketStats: { packetCount: bigint; byteCount: bigint }[];
}

export interface GroupDesc {
  groupType: number;
  groupId: number;
  buckets: Bucket[];
}

export interface GroupFeatures {
  /** Bit (1 << OFPGT_*) per supported group type. */
  types: number;
  /** OFPGFC_* bits. */
  capabilities: number;
  /** Per group type (ALL, SELECT, INDIRECT, FF). */
  maxGroups: [number, number, number, number];
  /** Per group type: bit (1 << OFPAT_*) per supported action. */
  actions: [number, number, number, number];
}

export interface MeterStats {
  meterId: number;
  flowCount: number;
  packetInCount: bigint;
  byteInCount: bigint;
  durationSec: number;
  durationNsec: number;
  bandStats: { packetBandCount: bigint; byteBandCount: bigint }[];
}

export interface MeterConfig {
  flags: number;
  meterId: number;
  bands: MeterBand[];
}

export interface MeterFeatures {
  maxMeter: number;
  /** Bit (1 << OFPMBT_*) per band type. */
  bandTypes: number;
  /** OFPMF_* bits. */
  capabilities: number;
  maxBands: number;
  maxColor: number;
}

/** One entry of an instruction or action id list: the type and, for experimenters, the rest. */
export interface InstructionOrActionId {
  /** OFPIT_* or OFPAT_*. */
  type: number;
  /** Bytes after the 4-byte header (the experimenter id for experimenter types); omitted when none. */
  data?: Buffer;
}

/** An OXM header in a table features property (no value). */
export interface OxmId {
  oxmClass: number;
  oxmField: number;
  hasMask: boolean;
  /** The payload length the header announces. */
  length: number;
  /** Class 0xFFFF only: the experimenter id that follows the header. */
  experimenter?: number;
}

export type TableFeatureProperty =
  | { type: 'INSTRUCTIONS' | 'INSTRUCTIONS_MISS'; instructionIds: InstructionOrActionId[] }
  | { type: 'NEXT_TABLES' | 'NEXT_TABLES_MISS'; tableIds: number[] }
  | {
      type: 'WRITE_ACTIONS' | 'WRITE_ACTIONS_MISS' | 'APPLY_ACTIONS' | 'APPLY_ACTIONS_MISS';
      actionIds: InstructionOrActionId[];
    }
  | {
      type:
        | 'MATCH' | 'WILDCARDS' | 'WRITE_SETFIELD' | 'WRITE_SETFIELD_MISS' | 'APPLY_SETFIELD'
        | 'APPLY_SETFIELD_MISS';
      oxmIds: OxmId[];
    }
  | { type: 'EXPERIMENTER' | 'EXPERIMENTER_MISS'; experimenter: number; expType: number; data: Buffer }
  /** A property type 1.3 does not define: kept as bytes. */
  | { type: 'UNKNOWN'; propertyType: number; data: Buffer };

export interface TableFeatures {
  tableId: number;
  name: string;
  metadataMatch: bigint;
  metadataWrite: bigint;
  config: number;
  maxEntries: number;
  properties: TableFeatureProperty[];
}
