/**
 * OpenFlow 1.3 (wire version 0x04) constants, in the order of the spec's `openflow.h`
 * (OpenFlow Switch Specification 1.3.x, appendix A), section by section.
 *
 * Names are the C names, so that a value seen in a capture, an OVS log or the spec can be
 * grepped here. Extensions used by Open vSwitch in OpenFlow 1.3 (the ONF role status message,
 * Nicira/ONF experimenter ids) are at the end, each with its source.
 */

// ---------------------------------------------------------------------------------------------
// A.1 OpenFlow header
// ---------------------------------------------------------------------------------------------

export const OFP_VERSION = 0x04;
/** IANA port for OpenFlow; 6633 is the legacy one that many tools still default to. */
export const OFP_TCP_PORT = 6653;
export const OFP_SSL_PORT = 6653;
export const OFP_HEADER_SIZE = 8;
/** The header's length field is 16 bits: no OpenFlow message is longer. */
export const OFP_MAX_MESSAGE_SIZE = 0xffff;
export const OFP_ETH_ALEN = 6;
export const OFP_MAX_TABLE_NAME_LEN = 32;
export const OFP_MAX_PORT_NAME_LEN = 16;
export const DESC_STR_LEN = 256;
export const SERIAL_NUM_LEN = 32;
export const OFP_DEFAULT_MISS_SEND_LEN = 128;
export const OFP_DEFAULT_PRIORITY = 0x8000;
export const OFP_NO_BUFFER = 0xffffffff;
export const OFP_FLOW_PERMANENT = 0;

// enum ofp_type
export const OFPT_HELLO = 0;
export const OFPT_ERROR = 1;
export const OFPT_ECHO_REQUEST = 2;
export const OFPT_ECHO_REPLY = 3;
export const OFPT_EXPERIMENTER = 4;
export const OFPT_FEATURES_REQUEST = 5;
export const OFPT_FEATURES_REPLY = 6;
export const OFPT_GET_CONFIG_REQUEST = 7;
export const OFPT_GET_CONFIG_REPLY = 8;
export const OFPT_SET_CONFIG = 9;
export const OFPT_PACKET_IN = 10;
export const OFPT_FLOW_REMOVED = 11;
export const OFPT_PORT_STATUS = 12;
export const OFPT_PACKET_OUT = 13;
export const OFPT_FLOW_MOD = 14;
export const OFPT_GROUP_MOD = 15;
export const OFPT_PORT_MOD = 16;
export const OFPT_TABLE_MOD = 17;
export const OFPT_MULTIPART_REQUEST = 18;
export const OFPT_MULTIPART_REPLY = 19;
export const OFPT_BARRIER_REQUEST = 20;
export const OFPT_BARRIER_REPLY = 21;
export const OFPT_QUEUE_GET_CONFIG_REQUEST = 22;
export const OFPT_QUEUE_GET_CONFIG_REPLY = 23;
export const OFPT_ROLE_REQUEST = 24;
export const OFPT_ROLE_REPLY = 25;
export const OFPT_GET_ASYNC_REQUEST = 26;
export const OFPT_GET_ASYNC_REPLY = 27;
export const OFPT_SET_ASYNC = 28;
export const OFPT_METER_MOD = 29;

// ---------------------------------------------------------------------------------------------
// A.2.1 Port structures
// ---------------------------------------------------------------------------------------------

export const OFP_PORT_SIZE = 64;

// enum ofp_port_config
export const OFPPC_PORT_DOWN = 1 << 0;
export const OFPPC_NO_RECV = 1 << 2;
export const OFPPC_NO_FWD = 1 << 5;
export const OFPPC_NO_PACKET_IN = 1 << 6;

// enum ofp_port_state
export const OFPPS_LINK_DOWN = 1 << 0;
export const OFPPS_BLOCKED = 1 << 1;
export const OFPPS_LIVE = 1 << 2;

// enum ofp_port_no
export const OFPP_MAX = 0xffffff00;
export const OFPP_IN_PORT = 0xfffffff8;
export const OFPP_TABLE = 0xfffffff9;
export const OFPP_NORMAL = 0xfffffffa;
export const OFPP_FLOOD = 0xfffffffb;
export const OFPP_ALL = 0xfffffffc;
export const OFPP_CONTROLLER = 0xfffffffd;
export const OFPP_LOCAL = 0xfffffffe;
export const OFPP_ANY = 0xffffffff;

// enum ofp_port_features (bits, as `>>> 0` keeps them unsigned)
export const OFPPF_10MB_HD = 1 << 0;
export const OFPPF_10MB_FD = 1 << 1;
export const OFPPF_100MB_HD = 1 << 2;
export const OFPPF_100MB_FD = 1 << 3;
export const OFPPF_1GB_HD = 1 << 4;
export const OFPPF_1GB_FD = 1 << 5;
export const OFPPF_10GB_FD = 1 << 6;
export const OFPPF_40GB_FD = 1 << 7;
export const OFPPF_100GB_FD = 1 << 8;
export const OFPPF_1TB_FD = 1 << 9;
export const OFPPF_OTHER = 1 << 10;
export const OFPPF_COPPER = 1 << 11;
export const OFPPF_FIBER = 1 << 12;
export const OFPPF_AUTONEG = 1 << 13;
export const OFPPF_PAUSE = 1 << 14;
export const OFPPF_PAUSE_ASYM = 1 << 15;

// ---------------------------------------------------------------------------------------------
// A.2.2 Queue structures
// ---------------------------------------------------------------------------------------------

export const OFPQ_ALL = 0xffffffff;
export const OFPQ_MIN_RATE_UNCFG = 0xffff;
export const OFPQ_MAX_RATE_UNCFG = 0xffff;

// enum ofp_queue_properties
export const OFPQT_MIN_RATE = 1;
export const OFPQT_MAX_RATE = 2;
export const OFPQT_EXPERIMENTER = 0xffff;

// ---------------------------------------------------------------------------------------------
// A.2.3 Flow match structures (OXM)
// ---------------------------------------------------------------------------------------------

// enum ofp_match_type
export const OFPMT_STANDARD = 0;
export const OFPMT_OXM = 1;

// enum ofp_oxm_class
export const OFPXMC_NXM_0 = 0x0000;
export const OFPXMC_NXM_1 = 0x0001;
export const OFPXMC_OPENFLOW_BASIC = 0x8000;
export const OFPXMC_EXPERIMENTER = 0xffff;

// enum oxm_ofb_match_fields
export const OFPXMT_OFB_IN_PORT = 0;
export const OFPXMT_OFB_IN_PHY_PORT = 1;
export const OFPXMT_OFB_METADATA = 2;
export const OFPXMT_OFB_ETH_DST = 3;
export const OFPXMT_OFB_ETH_SRC = 4;
export const OFPXMT_OFB_ETH_TYPE = 5;
export const OFPXMT_OFB_VLAN_VID = 6;
export const OFPXMT_OFB_VLAN_PCP = 7;
export const OFPXMT_OFB_IP_DSCP = 8;
export const OFPXMT_OFB_IP_ECN = 9;
export const OFPXMT_OFB_IP_PROTO = 10;
export const OFPXMT_OFB_IPV4_SRC = 11;
export const OFPXMT_OFB_IPV4_DST = 12;
export const OFPXMT_OFB_TCP_SRC = 13;
export const OFPXMT_OFB_TCP_DST = 14;
export const OFPXMT_OFB_UDP_SRC = 15;
export const OFPXMT_OFB_UDP_DST = 16;
export const OFPXMT_OFB_SCTP_SRC = 17;
export const OFPXMT_OFB_SCTP_DST = 18;
export const OFPXMT_OFB_ICMPV4_TYPE = 19;
export const OFPXMT_OFB_ICMPV4_CODE = 20;
export const OFPXMT_OFB_ARP_OP = 21;
export const OFPXMT_OFB_ARP_SPA = 22;
export const OFPXMT_OFB_ARP_TPA = 23;
export const OFPXMT_OFB_ARP_SHA = 24;
export const OFPXMT_OFB_ARP_THA = 25;
export const OFPXMT_OFB_IPV6_SRC = 26;
export const OFPXMT_OFB_IPV6_DST = 27;
export const OFPXMT_OFB_IPV6_FLABEL = 28;
export const OFPXMT_OFB_ICMPV6_TYPE = 29;
export const OFPXMT_OFB_ICMPV6_CODE = 30;
export const OFPXMT_OFB_IPV6_ND_TARGET = 31;
export const OFPXMT_OFB_IPV6_ND_SLL = 32;
export const OFPXMT_OFB_IPV6_ND_TLL = 33;
export const OFPXMT_OFB_MPLS_LABEL = 34;
export const OFPXMT_OFB_MPLS_TC = 35;
export const OFPXMT_OFB_MPLS_BOS = 36;
export const OFPXMT_OFB_PBB_ISID = 37;
export const OFPXMT_OFB_TUNNEL_ID = 38;
export const OFPXMT_OFB_IPV6_EXTHDR = 39;

// enum ofp_vlan_id
export const OFPVID_PRESENT = 0x1000;
export const OFPVID_NONE = 0x0000;

// enum ofp_ipv6exthdr_flags
export const OFPIEH_NONEXT = 1 << 0;
export const OFPIEH_ESP = 1 << 1;
export const OFPIEH_AUTH = 1 << 2;
export const OFPIEH_DEST = 1 << 3;
export const OFPIEH_FRAG = 1 << 4;
export const OFPIEH_ROUTER = 1 << 5;
export const OFPIEH_HOP = 1 << 6;
export const OFPIEH_UNREP = 1 << 7;
export const OFPIEH_UNSEQ = 1 << 8;

// ---------------------------------------------------------------------------------------------
// A.2.4 Flow instruction structures
// ---------------------------------------------------------------------------------------------

// enum ofp_instruction_type
export const OFPIT_GOTO_TABLE = 1;
export const OFPIT_WRITE_METADATA = 2;
export const OFPIT_WRITE_ACTIONS = 3;
export const OFPIT_APPLY_ACTIONS = 4;
export const OFPIT_CLEAR_ACTIONS = 5;
export const OFPIT_METER = 6;
export const OFPIT_EXPERIMENTER = 0xffff;

// ---------------------------------------------------------------------------------------------
// A.2.5 Action structures
// ---------------------------------------------------------------------------------------------

// enum ofp_action_type
export const OFPAT_OUTPUT = 0;
export const OFPAT_COPY_TTL_OUT = 11;
export const OFPAT_COPY_TTL_IN = 12;
export const OFPAT_SET_MPLS_TTL = 15;
export const OFPAT_DEC_MPLS_TTL = 16;
export const OFPAT_PUSH_VLAN = 17;
export const OFPAT_POP_VLAN = 18;
export const OFPAT_PUSH_MPLS = 19;
export const OFPAT_POP_MPLS = 20;
export const OFPAT_SET_QUEUE = 21;
export const OFPAT_GROUP = 22;
export const OFPAT_SET_NW_TTL = 23;
export const OFPAT_DEC_NW_TTL = 24;
export const OFPAT_SET_FIELD = 25;
export const OFPAT_PUSH_PBB = 26;
export const OFPAT_POP_PBB = 27;
export const OFPAT_EXPERIMENTER = 0xffff;

// enum ofp_controller_max_len
/** Largest max_len that asks the switch to buffer and send only that many bytes. */
export const OFPCML_MAX = 0xffe5;
/** max_len asking the switch to send the whole packet, unbuffered. */
export const OFPCML_NO_BUFFER = 0xffff;

// ---------------------------------------------------------------------------------------------
// A.3.1 Handshake (switch features)
// ---------------------------------------------------------------------------------------------

// enum ofp_capabilities
export const OFPC_FLOW_STATS = 1 << 0;
export const OFPC_TABLE_STATS = 1 << 1;
export const OFPC_PORT_STATS = 1 << 2;
export const OFPC_GROUP_STATS = 1 << 3;
export const OFPC_IP_REASM = 1 << 5;
export const OFPC_QUEUE_STATS = 1 << 6;
export const OFPC_PORT_BLOCKED = 1 << 8;

// ---------------------------------------------------------------------------------------------
// A.3.2 Switch configuration
// ---------------------------------------------------------------------------------------------

// enum ofp_config_flags
export const OFPC_FRAG_NORMAL = 0;
export const OFPC_FRAG_DROP = 1 << 0;
export const OFPC_FRAG_REASM = 1 << 1;
export const OFPC_FRAG_MASK = 3;

// ---------------------------------------------------------------------------------------------
// A.3.3 Flow table configuration
// ---------------------------------------------------------------------------------------------

// enum ofp_table
export const OFPTT_MAX = 0xfe;
export const OFPTT_ALL = 0xff;

// enum ofp_table_config
export const OFPTC_DEPRECATED_MASK = 3;

// ---------------------------------------------------------------------------------------------
// A.3.4.1 Modify flow entry message
// ---------------------------------------------------------------------------------------------

// enum ofp_flow_mod_command
export const OFPFC_ADD = 0;
export const OFPFC_MODIFY = 1;
export const OFPFC_MODIFY_STRICT = 2;
export const OFPFC_DELETE = 3;
export const OFPFC_DELETE_STRICT = 4;

// enum ofp_flow_mod_flags
export const OFPFF_SEND_FLOW_REM = 1 << 0;
export const OFPFF_CHECK_OVERLAP = 1 << 1;
export const OFPFF_RESET_COUNTS = 1 << 2;
export const OFPFF_NO_PKT_COUNTS = 1 << 3;
export const OFPFF_NO_BYT_COUNTS = 1 << 4;

// ---------------------------------------------------------------------------------------------
// A.3.4.2 Group table modification messages
// ---------------------------------------------------------------------------------------------

// enum ofp_group
export const OFPG_MAX = 0xffffff00;
export const OFPG_ALL = 0xfffffffc;
export const OFPG_ANY = 0xffffffff;

// enum ofp_group_mod_command
export const OFPGC_ADD = 0;
export const OFPGC_MODIFY = 1;
export const OFPGC_DELETE = 2;

// enum ofp_group_type
export const OFPGT_ALL = 0;
export const OFPGT_SELECT = 1;
export const OFPGT_INDIRECT = 2;
export const OFPGT_FF = 3;

// ---------------------------------------------------------------------------------------------
// A.3.4.4 Meter modification messages
// ---------------------------------------------------------------------------------------------

// enum ofp_meter
export const OFPM_MAX = 0xffff0000;
export const OFPM_SLOWPATH = 0xfffffffd;
export const OFPM_CONTROLLER = 0xfffffffe;
export const OFPM_ALL = 0xffffffff;

// enum ofp_meter_mod_command
export const OFPMC_ADD = 0;
export const OFPMC_MODIFY = 1;
export const OFPMC_DELETE = 2;

// enum ofp_meter_flags
export const OFPMF_KBPS = 1 << 0;
export const OFPMF_PKTPS = 1 << 1;
export const OFPMF_BURST = 1 << 2;
export const OFPMF_STATS = 1 << 3;

// enum ofp_meter_band_type
export const OFPMBT_DROP = 1;
export const OFPMBT_DSCP_REMARK = 2;
export const OFPMBT_EXPERIMENTER = 0xffff;

// ---------------------------------------------------------------------------------------------
// A.3.5 Multipart messages
// ---------------------------------------------------------------------------------------------

// enum ofp_multipart_request_flags / ofp_multipart_reply_flags
export const OFPMPF_REQ_MORE = 1 << 0;
export const OFPMPF_REPLY_MORE = 1 << 0;

// enum ofp_multipart_types
export const OFPMP_DESC = 0;
export const OFPMP_FLOW = 1;
export const OFPMP_AGGREGATE = 2;
export const OFPMP_TABLE = 3;
export const OFPMP_PORT_STATS = 4;
export const OFPMP_QUEUE = 5;
export const OFPMP_GROUP = 6;
export const OFPMP_GROUP_DESC = 7;
export const OFPMP_GROUP_FEATURES = 8;
export const OFPMP_METER = 9;
export const OFPMP_METER_CONFIG = 10;
export const OFPMP_METER_FEATURES = 11;
export const OFPMP_TABLE_FEATURES = 12;
export const OFPMP_PORT_DESC = 13;
export const OFPMP_EXPERIMENTER = 0xffff;

// enum ofp_table_feature_prop_type
export const OFPTFPT_INSTRUCTIONS = 0;
export const OFPTFPT_INSTRUCTIONS_MISS = 1;
export const OFPTFPT_NEXT_TABLES = 2;
export const OFPTFPT_NEXT_TABLES_MISS = 3;
export const OFPTFPT_WRITE_ACTIONS = 4;
export const OFPTFPT_WRITE_ACTIONS_MISS = 5;
export const OFPTFPT_APPLY_ACTIONS = 6;
export const OFPTFPT_APPLY_ACTIONS_MISS = 7;
export const OFPTFPT_MATCH = 8;
export const OFPTFPT_WILDCARDS = 10;
export const OFPTFPT_WRITE_SETFIELD = 12;
export const OFPTFPT_WRITE_SETFIELD_MISS = 13;
export const OFPTFPT_APPLY_SETFIELD = 14;
export const OFPTFPT_APPLY_SETFIELD_MISS = 15;
export const OFPTFPT_EXPERIMENTER = 0xfffe;
export const OFPTFPT_EXPERIMENTER_MISS = 0xffff;

// enum ofp_group_capabilities
export const OFPGFC_SELECT_WEIGHT = 1 << 0;
export const OFPGFC_SELECT_LIVENESS = 1 << 1;
export const OFPGFC_CHAINING = 1 << 2;
export const OFPGFC_CHAINING_CHECKS = 1 << 3;

// ---------------------------------------------------------------------------------------------
// A.3.9 Role request messages
// ---------------------------------------------------------------------------------------------

// enum ofp_controller_role
export const OFPCR_ROLE_NOCHANGE = 0;
export const OFPCR_ROLE_EQUAL = 1;
export const OFPCR_ROLE_MASTER = 2;
export const OFPCR_ROLE_SLAVE = 3;

// ---------------------------------------------------------------------------------------------
// A.4.1 Packet-in message
// ---------------------------------------------------------------------------------------------

// enum ofp_packet_in_reason
export const OFPR_NO_MATCH = 0;
export const OFPR_ACTION = 1;
export const OFPR_INVALID_TTL = 2;

// ---------------------------------------------------------------------------------------------
// A.4.2 Flow removed message
// ---------------------------------------------------------------------------------------------

// enum ofp_flow_removed_reason
export const OFPRR_IDLE_TIMEOUT = 0;
export const OFPRR_HARD_TIMEOUT = 1;
export const OFPRR_DELETE = 2;
export const OFPRR_GROUP_DELETE = 3;

// ---------------------------------------------------------------------------------------------
// A.4.3 Port status message
// ---------------------------------------------------------------------------------------------

// enum ofp_port_reason
export const OFPPR_ADD = 0;
export const OFPPR_DELETE = 1;
export const OFPPR_MODIFY = 2;

// ---------------------------------------------------------------------------------------------
// A.4.4 Error message (names and descriptions of every code: see errors.ts)
// ---------------------------------------------------------------------------------------------

// enum ofp_error_type
export const OFPET_HELLO_FAILED = 0;
export const OFPET_BAD_REQUEST = 1;
export const OFPET_BAD_ACTION = 2;
export const OFPET_BAD_INSTRUCTION = 3;
export const OFPET_BAD_MATCH = 4;
export const OFPET_FLOW_MOD_FAILED = 5;
export const OFPET_GROUP_MOD_FAILED = 6;
export const OFPET_PORT_MOD_FAILED = 7;
export const OFPET_TABLE_MOD_FAILED = 8;
export const OFPET_QUEUE_OP_FAILED = 9;
export const OFPET_SWITCH_CONFIG_FAILED = 10;
export const OFPET_ROLE_REQUEST_FAILED = 11;
export const OFPET_METER_MOD_FAILED = 12;
export const OFPET_TABLE_FEATURES_FAILED = 13;
export const OFPET_EXPERIMENTER = 0xffff;

// enum ofp_hello_failed_code
export const OFPHFC_INCOMPATIBLE = 0;
export const OFPHFC_EPERM = 1;

// enum ofp_bad_request_code
export const OFPBRC_BAD_VERSION = 0;
export const OFPBRC_BAD_TYPE = 1;
export const OFPBRC_BAD_MULTIPART = 2;
export const OFPBRC_BAD_EXPERIMENTER = 3;
export const OFPBRC_BAD_EXP_TYPE = 4;
export const OFPBRC_EPERM = 5;
export const OFPBRC_BAD_LEN = 6;
export const OFPBRC_BUFFER_EMPTY = 7;
export const OFPBRC_BUFFER_UNKNOWN = 8;
export const OFPBRC_BAD_TABLE_ID = 9;
export const OFPBRC_IS_SLAVE = 10;
export const OFPBRC_BAD_PORT = 11;
export const OFPBRC_BAD_PACKET = 12;
export const OFPBRC_MULTIPART_BUFFER_OVERFLOW = 13;

// enum ofp_bad_action_code
export const OFPBAC_BAD_TYPE = 0;
export const OFPBAC_BAD_LEN = 1;
export const OFPBAC_BAD_EXPERIMENTER = 2;
export const OFPBAC_BAD_EXP_TYPE = 3;
export const OFPBAC_BAD_OUT_PORT = 4;
export const OFPBAC_BAD_ARGUMENT = 5;
export const OFPBAC_EPERM = 6;
export const OFPBAC_TOO_MANY = 7;
export const OFPBAC_BAD_QUEUE = 8;
export const OFPBAC_BAD_OUT_GROUP = 9;
export const OFPBAC_MATCH_INCONSISTENT = 10;
export const OFPBAC_UNSUPPORTED_ORDER = 11;
export const OFPBAC_BAD_TAG = 12;
export const OFPBAC_BAD_SET_TYPE = 13;
export const OFPBAC_BAD_SET_LEN = 14;
export const OFPBAC_BAD_SET_ARGUMENT = 15;

// enum ofp_bad_instruction_code
export const OFPBIC_UNKNOWN_INST = 0;
export const OFPBIC_UNSUP_INST = 1;
export const OFPBIC_BAD_TABLE_ID = 2;
export const OFPBIC_UNSUP_METADATA = 3;
export const OFPBIC_UNSUP_METADATA_MASK = 4;
export const OFPBIC_BAD_EXPERIMENTER = 5;
export const OFPBIC_BAD_EXP_TYPE = 6;
export const OFPBIC_BAD_LEN = 7;
export const OFPBIC_EPERM = 8;

// enum ofp_bad_match_code
export const OFPBMC_BAD_TYPE = 0;
export const OFPBMC_BAD_LEN = 1;
export const OFPBMC_BAD_TAG = 2;
export const OFPBMC_BAD_DL_ADDR_MASK = 3;
export const OFPBMC_BAD_NW_ADDR_MASK = 4;
export const OFPBMC_BAD_WILDCARDS = 5;
export const OFPBMC_BAD_FIELD = 6;
export const OFPBMC_BAD_VALUE = 7;
export const OFPBMC_BAD_MASK = 8;
export const OFPBMC_BAD_PREREQ = 9;
export const OFPBMC_DUP_FIELD = 10;
export const OFPBMC_EPERM = 11;

// enum ofp_flow_mod_failed_code
export const OFPFMFC_UNKNOWN = 0;
export const OFPFMFC_TABLE_FULL = 1;
export const OFPFMFC_BAD_TABLE_ID = 2;
export const OFPFMFC_OVERLAP = 3;
export const OFPFMFC_EPERM = 4;
export const OFPFMFC_BAD_TIMEOUT = 5;
export const OFPFMFC_BAD_COMMAND = 6;
export const OFPFMFC_BAD_FLAGS = 7;

// enum ofp_group_mod_failed_code
export const OFPGMFC_GROUP_EXISTS = 0;
export const OFPGMFC_INVALID_GROUP = 1;
export const OFPGMFC_WEIGHT_UNSUPPORTED = 2;
export const OFPGMFC_OUT_OF_GROUPS = 3;
export const OFPGMFC_OUT_OF_BUCKETS = 4;
export const OFPGMFC_CHAINING_UNSUPPORTED = 5;
export const OFPGMFC_WATCH_UNSUPPORTED = 6;
export const OFPGMFC_LOOP = 7;
export const OFPGMFC_UNKNOWN_GROUP = 8;
export const OFPGMFC_CHAINED_GROUP = 9;
export const OFPGMFC_BAD_TYPE = 10;
export const OFPGMFC_BAD_COMMAND = 11;
export const OFPGMFC_BAD_BUCKET = 12;
export const OFPGMFC_BAD_WATCH = 13;
export const OFPGMFC_EPERM = 14;

// enum ofp_port_mod_failed_code
export const OFPPMFC_BAD_PORT = 0;
export const OFPPMFC_BAD_HW_ADDR = 1;
export const OFPPMFC_BAD_CONFIG = 2;
export const OFPPMFC_BAD_ADVERTISE = 3;
export const OFPPMFC_EPERM = 4;

// enum ofp_table_mod_failed_code
export const OFPTMFC_BAD_TABLE = 0;
export const OFPTMFC_BAD_CONFIG = 1;
export const OFPTMFC_EPERM = 2;

// enum ofp_queue_op_failed_code
export const OFPQOFC_BAD_PORT = 0;
export const OFPQOFC_BAD_QUEUE = 1;
export const OFPQOFC_EPERM = 2;

// enum ofp_switch_config_failed_code
export const OFPSCFC_BAD_FLAGS = 0;
export const OFPSCFC_BAD_LEN = 1;
export const OFPSCFC_EPERM = 2;

// enum ofp_role_request_failed_code
export const OFPRRFC_STALE = 0;
export const OFPRRFC_UNSUP = 1;
export const OFPRRFC_BAD_ROLE = 2;

// enum ofp_meter_mod_failed_code
export const OFPMMFC_UNKNOWN = 0;
export const OFPMMFC_METER_EXISTS = 1;
export const OFPMMFC_INVALID_METER = 2;
export const OFPMMFC_UNKNOWN_METER = 3;
export const OFPMMFC_BAD_COMMAND = 4;
export const OFPMMFC_BAD_FLAGS = 5;
export const OFPMMFC_BAD_RATE = 6;
export const OFPMMFC_BAD_BURST = 7;
export const OFPMMFC_BAD_BAND = 8;
export const OFPMMFC_BAD_BAND_VALUE = 9;
export const OFPMMFC_OUT_OF_METERS = 10;
export const OFPMMFC_OUT_OF_BANDS = 11;

// enum ofp_table_features_failed_code
export const OFPTFFC_BAD_TABLE = 0;
export const OFPTFFC_BAD_METADATA = 1;
export const OFPTFFC_BAD_TYPE = 2;
export const OFPTFFC_BAD_LEN = 3;
export const OFPTFFC_BAD_ARGUMENT = 4;
export const OFPTFFC_EPERM = 5;

// ---------------------------------------------------------------------------------------------
// A.5.1 Hello
// ---------------------------------------------------------------------------------------------

// enum ofp_hello_elem_type
export const OFPHET_VERSIONBITMAP = 1;

// ---------------------------------------------------------------------------------------------
// Experimenter ids and the extensions Open vSwitch uses in OpenFlow 1.3
// ---------------------------------------------------------------------------------------------

/** Nicira (Open vSwitch's NX extensions: actions, NXM fields, messages). */
export const NX_EXPERIMENTER_ID = 0x00002320;
/** Open Networking Foundation extensions ("ONF", ASCII). */
export const ONF_EXPERIMENTER_ID = 0x4f4e4600;

/**
 * ONF extension EXT-191: in OpenFlow 1.3, Open vSwitch tells a controller that its role changed
 * (typically: another controller became master and demoted it to slave) with an
 * OFPT_EXPERIMENTER message, experimenter ONF_EXPERIMENTER_ID, exp_type ONFT_ROLE_STATUS, whose
 * body is the OpenFlow 1.4 `ofp_role_status`: role (u32), reason (u8), pad[3], generation_id (u64).
 */
export const ONFT_ROLE_STATUS = 1911;
/**
 * ONF extension EXT-230: the OpenFlow 1.4 bundles in OpenFlow 1.3, as Open vSwitch implements
 * them (`ovs-ofctl -O OpenFlow13 --bundle`). OFPT_EXPERIMENTER messages, experimenter
 * ONF_EXPERIMENTER_ID, whose bodies are OpenFlow 1.4's: ofp14_bundle_ctrl_msg (bundle_id u32,
 * type u16, flags u16, properties) and ofp14_bundle_add_msg (bundle_id u32, pad[2], flags u16,
 * the whole added message, then properties padded to 8 bytes).
 */
export const ONFT_BUNDLE_CONTROL = 2300;
export const ONFT_BUNDLE_ADD_MESSAGE = 2301;

// enum ofp14_bundle_ctrl_type (a reply is its request + 1)
export const OFPBCT_OPEN_REQUEST = 0;
export const OFPBCT_OPEN_REPLY = 1;
export const OFPBCT_CLOSE_REQUEST = 2;
export const OFPBCT_CLOSE_REPLY = 3;
export const OFPBCT_COMMIT_REQUEST = 4;
export const OFPBCT_COMMIT_REPLY = 5;
export const OFPBCT_DISCARD_REQUEST = 6;
export const OFPBCT_DISCARD_REPLY = 7;

// enum ofp14_bundle_flags
/** All or nothing: the bundle's messages take effect together, or none does. */
export const OFPBF_ATOMIC = 1 << 0;
/** The messages are applied in the order they were added. */
export const OFPBF_ORDERED = 1 << 1;

// enum ofp14_bundle_failed_code, as OpenFlow 1.3 carries it: an OFPET_EXPERIMENTER error of
// experimenter ONF_EXPERIMENTER_ID whose exp_type is 2300 + the OpenFlow 1.4 code (checked
// against `ovs-ofctl ofp-print`, OVS 3.1).
export const OFPBFC_UNKNOWN = 2300;
export const OFPBFC_EPERM = 2301;
export const OFPBFC_BAD_ID = 2302;
export const OFPBFC_BUNDLE_EXIST = 2303;
export const OFPBFC_BUNDLE_CLOSED = 2304;
export const OFPBFC_OUT_OF_BUNDLES = 2305;
export const OFPBFC_BAD_TYPE = 2306;
export const OFPBFC_BAD_FLAGS = 2307;
export const OFPBFC_MSG_BAD_LEN = 2308;
export const OFPBFC_MSG_BAD_XID = 2309;
export const OFPBFC_MSG_UNSUP = 2310;
export const OFPBFC_MSG_CONFLICT = 2311;
export const OFPBFC_MSG_TOO_MANY = 2312;
export const OFPBFC_MSG_FAILED = 2313;
export const OFPBFC_TIMEOUT = 2314;
export const OFPBFC_BUNDLE_IN_PROGRESS = 2315;

/** ONF EXT-187 flow monitoring (multipart experimenter type). Kept raw by this codec. */
export const ONFMP_FLOW_MONITOR = 1870;

// enum ofp_controller_role_reason (OpenFlow 1.4, used by ONFT_ROLE_STATUS)
/** Another controller asked to be master. */
export const OFPCRR_MASTER_REQUEST = 0;
/** The switch's configuration changed the role. */
export const OFPCRR_CONFIG = 1;
/** Experimenter-defined reason. */
export const OFPCRR_EXPERIMENTER = 2;
