/**
 * Errors of the codec (DecodeError, EncodeError) and the names and meanings of every OpenFlow
 * 1.3 error type and code (`errorName`, `describeError`).
 */
import * as C from './constants.js';

/** Why a message could not be decoded. */
export type DecodeErrorReason =
  /** The bytes end before the structure does. */
  | 'TRUNCATED'
  /** A length field disagrees with the bytes around it (too small, too big, not a multiple of 8...). */
  | 'BAD_LENGTH'
  /** The header's version is not 0x04 (HELLO and ERROR excepted). */
  | 'BAD_VERSION'
  /** A type or kind the codec does not know (message type, multipart type, match type...). */
  | 'UNKNOWN_TYPE'
  /** A value that cannot be right (e.g. an OXM length that does not fit its field). */
  | 'BAD_VALUE';

/** An OpenFlow header as read from the start of a message. */
export interface OfHeader {
  version: number;
  /** The OFPT_ number. */
  type: number;
  length: number;
  xid: number;
}

export interface DecodeErrorDetails {
  reason: DecodeErrorReason;
  /** Byte offset in the message (from the first header byte) where decoding stopped. */
  offset: number;
  /** The structure being read, as a path: 'FLOW_MOD.instructions[0].actions[2]'. */
  where: string;
  /** The message type: its name ('FLOW_MOD') if known, else 'type 42'; undefined before the header. */
  messageType?: string;
  /** The header, when at least 8 bytes were there. */
  header?: OfHeader;
  /** The OpenFlow error a switch-side peer would answer with (OFPET_*, code), for replying. */
  ofpError?: { errorType: number; code: number };
}

/**
 * The only error `decodeMessage` and the framer throw. It says where (offset, structure path),
 * why (reason) and in what (message type, header with xid, a hex excerpt of the bytes there).
 */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  readonly reason: DecodeErrorReason;
  readonly offset: number;
  readonly where: string;
  readonly messageType: string | undefined;
  readonly header: OfHeader | undefined;
  readonly xid: number | undefined;
  /** Up to 16 bytes in hex from `offset` (what was there to read). */
  readonly excerpt: string;
  readonly ofpError: { errorType: number; code: number } | undefined;

  constructor(detail: string, d: DecodeErrorDetails, bytes?: Buffer) {
    const excerpt = bytes ? bytes.subarray(d.offset, d.offset + 16).toString('hex') : '';
    const what = d.messageType ? `${d.messageType} ` : '';
    super(`cannot decode ${what}at byte ${d.offset} (${d.where}): ${detail}`);
    this.reason = d.reason;
    this.offset = d.offset;
    this.where = d.where;
    this.messageType = d.messageType;
    this.header = d.header;
    this.xid = d.header?.xid;
    this.excerpt = excerpt;
    this.ofpError = d.ofpError;
  }
}

/** Thrown by `encodeMessage` for a message that cannot be put on the wire (value out of range...). */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  /** The field at fault, as a path: 'FLOW_MOD.match[2].value'. */
  readonly field: string;
  constructor(field: string, detail: string) {
    super(`cannot encode ${field}: ${detail}`);
    this.field = field;
  }
}

// ---------------------------------------------------------------------------------------------
// Error types and codes: name and meaning
// ---------------------------------------------------------------------------------------------

/** [code, C name, what it means in words]. */
type CodeRow = readonly [number, string, string];

interface ErrorTypeRow {
  name: string;
  text: string;
  codes: readonly CodeRow[];
}

const EPERM = 'permissions error';

/**
 * Every OFPET_* of OpenFlow 1.3.5 with its codes. A unit test checks each name against the
 * constant of that name in constants.ts.
 */
export const ERROR_TYPES: ReadonlyMap<number, ErrorTypeRow> = new Map<number, ErrorTypeRow>([
  [C.OFPET_HELLO_FAILED, {
    name: 'OFPET_HELLO_FAILED', text: 'the hello handshake failed', codes: [
      [C.OFPHFC_INCOMPATIBLE, 'OFPHFC_INCOMPATIBLE', 'no OpenFlow version in common'],
      [C.OFPHFC_EPERM, 'OFPHFC_EPERM', EPERM],
    ],
  }],
  [C.OFPET_BAD_REQUEST, {
    name: 'OFPET_BAD_REQUEST', text: 'the switch did not understand the request', codes: [
      [C.OFPBRC_BAD_VERSION, 'OFPBRC_BAD_VERSION', 'the header version is not supported'],
      [C.OFPBRC_BAD_TYPE, 'OFPBRC_BAD_TYPE', 'the message type is not supported'],
      [C.OFPBRC_BAD_MULTIPART, 'OFPBRC_BAD_MULTIPART', 'the multipart request type is not supported'],
      [C.OFPBRC_BAD_EXPERIMENTER, 'OFPBRC_BAD_EXPERIMENTER', 'the experimenter id is not supported'],
      [C.OFPBRC_BAD_EXP_TYPE, 'OFPBRC_BAD_EXP_TYPE', 'the experimenter type is not supported'],
      [C.OFPBRC_EPERM, 'OFPBRC_EPERM', EPERM],
      [C.OFPBRC_BAD_LEN, 'OFPBRC_BAD_LEN', 'wrong request length for its type'],
      [C.OFPBRC_BUFFER_EMPTY, 'OFPBRC_BUFFER_EMPTY', 'the buffer named was already used'],
      [C.OFPBRC_BUFFER_UNKNOWN, 'OFPBRC_BUFFER_UNKNOWN', 'the buffer named does not exist'],
      [C.OFPBRC_BAD_TABLE_ID, 'OFPBRC_BAD_TABLE_ID', 'the table id is invalid or does not exist'],
      [C.OFPBRC_IS_SLAVE, 'OFPBRC_IS_SLAVE',
        'denied because this controller is a slave on this switch (another controller is master)'],
      [C.OFPBRC_BAD_PORT, 'OFPBRC_BAD_PORT', 'invalid port'],
      [C.OFPBRC_BAD_PACKET, 'OFPBRC_BAD_PACKET', 'invalid packet in packet-out'],
      [C.OFPBRC_MULTIPART_BUFFER_OVERFLOW, 'OFPBRC_MULTIPART_BUFFER_OVERFLOW',
        'the multipart request overflowed the buffer the switch assigned to it'],
    ],
  }],
  [C.OFPET_BAD_ACTION, {
    name: 'OFPET_BAD_ACTION', text: 'an action is wrong', codes: [
      [C.OFPBAC_BAD_TYPE, 'OFPBAC_BAD_TYPE', 'unknown action type'],
      [C.OFPBAC_BAD_LEN, 'OFPBAC_BAD_LEN', 'length problem in actions'],
      [C.OFPBAC_BAD_EXPERIMENTER, 'OFPBAC_BAD_EXPERIMENTER', 'unknown experimenter id in an action'],
      [C.OFPBAC_BAD_EXP_TYPE, 'OFPBAC_BAD_EXP_TYPE', 'unknown action type for that experimenter id'],
      [C.OFPBAC_BAD_OUT_PORT, 'OFPBAC_BAD_OUT_PORT', 'problem validating the output port'],
      [C.OFPBAC_BAD_ARGUMENT, 'OFPBAC_BAD_ARGUMENT', 'bad action argument'],
      [C.OFPBAC_EPERM, 'OFPBAC_EPERM', EPERM],
      [C.OFPBAC_TOO_MANY, 'OFPBAC_TOO_MANY', 'the switch cannot handle this many actions'],
      [C.OFPBAC_BAD_QUEUE, 'OFPBAC_BAD_QUEUE', 'problem validating the output queue'],
      [C.OFPBAC_BAD_OUT_GROUP, 'OFPBAC_BAD_OUT_GROUP', 'invalid group id in a group action'],
      [C.OFPBAC_MATCH_INCONSISTENT, 'OFPBAC_MATCH_INCONSISTENT',
        'the action cannot apply to this match, or a set-field prerequisite is missing'],
      [C.OFPBAC_UNSUPPORTED_ORDER, 'OFPBAC_UNSUPPORTED_ORDER',
        'the action order is not supported in an apply-actions instruction'],
      [C.OFPBAC_BAD_TAG, 'OFPBAC_BAD_TAG', 'the action uses an unsupported tag or encapsulation'],
      [C.OFPBAC_BAD_SET_TYPE, 'OFPBAC_BAD_SET_TYPE', 'unsupported field type in a set-field action'],
      [C.OFPBAC_BAD_SET_LEN, 'OFPBAC_BAD_SET_LEN', 'length problem in a set-field action'],
      [C.OFPBAC_BAD_SET_ARGUMENT, 'OFPBAC_BAD_SET_ARGUMENT', 'bad argument in a set-field action'],
    ],
  }],
  [C.OFPET_BAD_INSTRUCTION, {
    name: 'OFPET_BAD_INSTRUCTION', text: 'an instruction is wrong', codes: [
      [C.OFPBIC_UNKNOWN_INST, 'OFPBIC_UNKNOWN_INST', 'unknown instruction'],
      [C.OFPBIC_UNSUP_INST, 'OFPBIC_UNSUP_INST', 'the switch or table does not support the instruction'],
      [C.OFPBIC_BAD_TABLE_ID, 'OFPBIC_BAD_TABLE_ID', 'invalid table id (goto-table)'],
      [C.OFPBIC_UNSUP_METADATA, 'OFPBIC_UNSUP_METADATA', 'metadata value not supported by the datapath'],
      [C.OFPBIC_UNSUP_METADATA_MASK, 'OFPBIC_UNSUP_METADATA_MASK',
        'metadata mask not supported by the datapath'],
      [C.OFPBIC_BAD_EXPERIMENTER, 'OFPBIC_BAD_EXPERIMENTER', 'unknown experimenter id in an instruction'],
      [C.OFPBIC_BAD_EXP_TYPE, 'OFPBIC_BAD_EXP_TYPE', 'unknown instruction for that experimenter id'],
      [C.OFPBIC_BAD_LEN, 'OFPBIC_BAD_LEN', 'length problem in instructions'],
      [C.OFPBIC_EPERM, 'OFPBIC_EPERM', EPERM],
    ],
  }],
  [C.OFPET_BAD_MATCH, {
    name: 'OFPET_BAD_MATCH', text: 'the match is wrong', codes: [
      [C.OFPBMC_BAD_TYPE, 'OFPBMC_BAD_TYPE', 'unsupported match type'],
      [C.OFPBMC_BAD_LEN, 'OFPBMC_BAD_LEN', 'length problem in the match'],
      [C.OFPBMC_BAD_TAG, 'OFPBMC_BAD_TAG', 'the match uses an unsupported tag or encapsulation'],
      [C.OFPBMC_BAD_DL_ADDR_MASK, 'OFPBMC_BAD_DL_ADDR_MASK', 'unsupported Ethernet address mask'],
      [C.OFPBMC_BAD_NW_ADDR_MASK, 'OFPBMC_BAD_NW_ADDR_MASK', 'unsupported network address mask'],
      [C.OFPBMC_BAD_WILDCARDS, 'OFPBMC_BAD_WILDCARDS',
        'unsupported combination of fields masked or omitted'],
      [C.OFPBMC_BAD_FIELD, 'OFPBMC_BAD_FIELD', 'unsupported field type in the match'],
      [C.OFPBMC_BAD_VALUE, 'OFPBMC_BAD_VALUE', 'unsupported value in a match field'],
      [C.OFPBMC_BAD_MASK, 'OFPBMC_BAD_MASK', 'unsupported mask in the match'],
      [C.OFPBMC_BAD_PREREQ, 'OFPBMC_BAD_PREREQ',
        'a prerequisite was not met (e.g. tcp_dst without eth_type=0x0800 and ip_proto=6)'],
      [C.OFPBMC_DUP_FIELD, 'OFPBMC_DUP_FIELD', 'a field appears twice'],
      [C.OFPBMC_EPERM, 'OFPBMC_EPERM', EPERM],
    ],
  }],
  [C.OFPET_FLOW_MOD_FAILED, {
    name: 'OFPET_FLOW_MOD_FAILED', text: 'the flow table change failed', codes: [
      [C.OFPFMFC_UNKNOWN, 'OFPFMFC_UNKNOWN', 'unspecified error'],
      [C.OFPFMFC_TABLE_FULL, 'OFPFMFC_TABLE_FULL', 'the flow table is full'],
      [C.OFPFMFC_BAD_TABLE_ID, 'OFPFMFC_BAD_TABLE_ID', 'the table does not exist'],
      [C.OFPFMFC_OVERLAP, 'OFPFMFC_OVERLAP', 'the flow overlaps another and CHECK_OVERLAP was set'],
      [C.OFPFMFC_EPERM, 'OFPFMFC_EPERM', EPERM],
      [C.OFPFMFC_BAD_TIMEOUT, 'OFPFMFC_BAD_TIMEOUT', 'unsupported idle or hard timeout'],
      [C.OFPFMFC_BAD_COMMAND, 'OFPFMFC_BAD_COMMAND', 'unsupported or unknown command'],
      [C.OFPFMFC_BAD_FLAGS, 'OFPFMFC_BAD_FLAGS', 'unsupported or unknown flags'],
    ],
  }],
  [C.OFPET_GROUP_MOD_FAILED, {
    name: 'OFPET_GROUP_MOD_FAILED', text: 'the group table change failed', codes: [
      [C.OFPGMFC_GROUP_EXISTS, 'OFPGMFC_GROUP_EXISTS', 'a group with that id already exists'],
      [C.OFPGMFC_INVALID_GROUP, 'OFPGMFC_INVALID_GROUP', 'the group id is invalid'],
      [C.OFPGMFC_WEIGHT_UNSUPPORTED, 'OFPGMFC_WEIGHT_UNSUPPORTED',
        'unequal load sharing in select groups is not supported'],
      [C.OFPGMFC_OUT_OF_GROUPS, 'OFPGMFC_OUT_OF_GROUPS', 'the group table is full'],
      [C.OFPGMFC_OUT_OF_BUCKETS, 'OFPGMFC_OUT_OF_BUCKETS', 'too many buckets for a group'],
      [C.OFPGMFC_CHAINING_UNSUPPORTED, 'OFPGMFC_CHAINING_UNSUPPORTED',
        'groups forwarding to groups are not supported'],
      [C.OFPGMFC_WATCH_UNSUPPORTED, 'OFPGMFC_WATCH_UNSUPPORTED',
        'this group cannot watch the port or group given'],
      [C.OFPGMFC_LOOP, 'OFPGMFC_LOOP', 'the group would cause a loop'],
      [C.OFPGMFC_UNKNOWN_GROUP, 'OFPGMFC_UNKNOWN_GROUP', 'MODIFY of a group that does not exist'],
      [C.OFPGMFC_CHAINED_GROUP, 'OFPGMFC_CHAINED_GROUP',
        'not deleted because another group forwards to it'],
      [C.OFPGMFC_BAD_TYPE, 'OFPGMFC_BAD_TYPE', 'unsupported or unknown group type'],
      [C.OFPGMFC_BAD_COMMAND, 'OFPGMFC_BAD_COMMAND', 'unsupported or unknown command'],
      [C.OFPGMFC_BAD_BUCKET, 'OFPGMFC_BAD_BUCKET', 'error in a bucket'],
      [C.OFPGMFC_BAD_WATCH, 'OFPGMFC_BAD_WATCH', 'error in the watch port or group'],
      [C.OFPGMFC_EPERM, 'OFPGMFC_EPERM', EPERM],
    ],
  }],
  [C.OFPET_PORT_MOD_FAILED, {
    name: 'OFPET_PORT_MOD_FAILED', text: 'the port change failed', codes: [
      [C.OFPPMFC_BAD_PORT, 'OFPPMFC_BAD_PORT', 'the port does not exist'],
      [C.OFPPMFC_BAD_HW_ADDR, 'OFPPMFC_BAD_HW_ADDR', 'the hardware address does not match the port'],
      [C.OFPPMFC_BAD_CONFIG, 'OFPPMFC_BAD_CONFIG', 'the config is invalid'],
      [C.OFPPMFC_BAD_ADVERTISE, 'OFPPMFC_BAD_ADVERTISE', 'the advertise bits are invalid'],
      [C.OFPPMFC_EPERM, 'OFPPMFC_EPERM', EPERM],
    ],
  }],
  [C.OFPET_TABLE_MOD_FAILED, {
    name: 'OFPET_TABLE_MOD_FAILED', text: 'the table change failed', codes: [
      [C.OFPTMFC_BAD_TABLE, 'OFPTMFC_BAD_TABLE', 'the table does not exist'],
      [C.OFPTMFC_BAD_CONFIG, 'OFPTMFC_BAD_CONFIG', 'the config is invalid'],
      [C.OFPTMFC_EPERM, 'OFPTMFC_EPERM', EPERM],
    ],
  }],
  [C.OFPET_QUEUE_OP_FAILED, {
    name: 'OFPET_QUEUE_OP_FAILED', text: 'the queue operation failed', codes: [
      [C.OFPQOFC_BAD_PORT, 'OFPQOFC_BAD_PORT', 'invalid port, or the port does not exist'],
      [C.OFPQOFC_BAD_QUEUE, 'OFPQOFC_BAD_QUEUE', 'the queue does not exist'],
      [C.OFPQOFC_EPERM, 'OFPQOFC_EPERM', EPERM],
    ],
  }],
  [C.OFPET_SWITCH_CONFIG_FAILED, {
    name: 'OFPET_SWITCH_CONFIG_FAILED', text: 'the switch config request failed', codes: [
      [C.OFPSCFC_BAD_FLAGS, 'OFPSCFC_BAD_FLAGS', 'the flags are invalid'],
      [C.OFPSCFC_BAD_LEN, 'OFPSCFC_BAD_LEN', 'miss_send_len is invalid'],
      [C.OFPSCFC_EPERM, 'OFPSCFC_EPERM', EPERM],
    ],
  }],
  [C.OFPET_ROLE_REQUEST_FAILED, {
    name: 'OFPET_ROLE_REQUEST_FAILED', text: 'the role request failed', codes: [
      [C.OFPRRFC_STALE, 'OFPRRFC_STALE',
        'stale generation id: the switch has seen a newer master (this controller was deposed)'],
      [C.OFPRRFC_UNSUP, 'OFPRRFC_UNSUP', 'the switch does not support role changes'],
      [C.OFPRRFC_BAD_ROLE, 'OFPRRFC_BAD_ROLE', 'invalid role'],
    ],
  }],
  [C.OFPET_METER_MOD_FAILED, {
    name: 'OFPET_METER_MOD_FAILED', text: 'the meter change failed', codes: [
      [C.OFPMMFC_UNKNOWN, 'OFPMMFC_UNKNOWN', 'unspecified error'],
      [C.OFPMMFC_METER_EXISTS, 'OFPMMFC_METER_EXISTS', 'ADD of a meter that already exists'],
      [C.OFPMMFC_INVALID_METER, 'OFPMMFC_INVALID_METER', 'the meter id is invalid'],
      [C.OFPMMFC_UNKNOWN_METER, 'OFPMMFC_UNKNOWN_METER', 'MODIFY of a meter that does not exist'],
      [C.OFPMMFC_BAD_COMMAND, 'OFPMMFC_BAD_COMMAND', 'unsupported or unknown command'],
      [C.OFPMMFC_BAD_FLAGS, 'OFPMMFC_BAD_FLAGS', 'flag configuration not supported'],
      [C.OFPMMFC_BAD_RATE, 'OFPMMFC_BAD_RATE', 'rate not supported'],
      [C.OFPMMFC_BAD_BURST, 'OFPMMFC_BAD_BURST', 'burst size not supported'],
      [C.OFPMMFC_BAD_BAND, 'OFPMMFC_BAD_BAND', 'band not supported'],
      [C.OFPMMFC_BAD_BAND_VALUE, 'OFPMMFC_BAD_BAND_VALUE', 'band value not supported'],
      [C.OFPMMFC_OUT_OF_METERS, 'OFPMMFC_OUT_OF_METERS', 'no more meters available'],
      [C.OFPMMFC_OUT_OF_BANDS, 'OFPMMFC_OUT_OF_BANDS', 'too many bands for a meter'],
    ],
  }],
  [C.OFPET_TABLE_FEATURES_FAILED, {
    name: 'OFPET_TABLE_FEATURES_FAILED', text: 'setting table features failed', codes: [
      [C.OFPTFFC_BAD_TABLE, 'OFPTFFC_BAD_TABLE', 'the table does not exist'],
      [C.OFPTFFC_BAD_METADATA, 'OFPTFFC_BAD_METADATA', 'invalid metadata mask'],
      [C.OFPTFFC_BAD_TYPE, 'OFPTFFC_BAD_TYPE', 'unknown property type'],
      [C.OFPTFFC_BAD_LEN, 'OFPTFFC_BAD_LEN', 'length problem in properties'],
      [C.OFPTFFC_BAD_ARGUMENT, 'OFPTFFC_BAD_ARGUMENT', 'unsupported property value'],
      [C.OFPTFFC_EPERM, 'OFPTFFC_EPERM', EPERM],
    ],
  }],
  [C.OFPET_EXPERIMENTER, { name: 'OFPET_EXPERIMENTER', text: 'experimenter error', codes: [] }],
]);

/**
 * Experimenter errors this codec can name, by experimenter id then exp_type: the ONF bundle
 * failures (EXT-230), which OpenFlow 1.3 carries as OFPET_EXPERIMENTER errors.
 */
export const EXPERIMENTER_ERRORS: ReadonlyMap<number, { text: string; codes: ReadonlyMap<number, readonly [string, string]> }> = new Map([
  [C.ONF_EXPERIMENTER_ID, {
    text: 'the bundle operation failed',
    codes: new Map<number, readonly [string, string]>([
      [C.OFPBFC_UNKNOWN, ['OFPBFC_UNKNOWN', 'unspecified error']],
      [C.OFPBFC_EPERM, ['OFPBFC_EPERM', EPERM]],
      [C.OFPBFC_BAD_ID, ['OFPBFC_BAD_ID', 'no bundle with that id']],
      [C.OFPBFC_BUNDLE_EXIST, ['OFPBFC_BUNDLE_EXIST', 'a bundle with that id is already open']],
      [C.OFPBFC_BUNDLE_CLOSED, ['OFPBFC_BUNDLE_CLOSED', 'the bundle is closed']],
      [C.OFPBFC_OUT_OF_BUNDLES, ['OFPBFC_OUT_OF_BUNDLES', 'too many bundles open']],
      [C.OFPBFC_BAD_TYPE, ['OFPBFC_BAD_TYPE', 'unsupported or unknown bundle control type']],
      [C.OFPBFC_BAD_FLAGS, ['OFPBFC_BAD_FLAGS', 'unsupported, unknown or inconsistent bundle flags']],
      [C.OFPBFC_MSG_BAD_LEN, ['OFPBFC_MSG_BAD_LEN', 'the added message has a bad length']],
      [C.OFPBFC_MSG_BAD_XID, ['OFPBFC_MSG_BAD_XID', 'the added message\'s xid is not the bundle add\'s']],
      [C.OFPBFC_MSG_UNSUP, ['OFPBFC_MSG_UNSUP', 'this kind of message cannot go into a bundle']],
      [C.OFPBFC_MSG_CONFLICT, ['OFPBFC_MSG_CONFLICT', 'the message conflicts with another in the bundle']],
      [C.OFPBFC_MSG_TOO_MANY, ['OFPBFC_MSG_TOO_MANY', 'too many messages in the bundle']],
      [C.OFPBFC_MSG_FAILED, ['OFPBFC_MSG_FAILED', 'a message of the bundle failed']],
      [C.OFPBFC_TIMEOUT, ['OFPBFC_TIMEOUT', 'the bundle timed out']],
      [C.OFPBFC_BUNDLE_IN_PROGRESS, ['OFPBFC_BUNDLE_IN_PROGRESS', 'the bundle is being committed']],
    ]),
  }],
]);

/**
 * 'OFPET_BAD_REQUEST/OFPBRC_IS_SLAVE'. Unknown values stay readable: 'OFPET_BAD_REQUEST/99',
 * '77/3'; an experimenter error is 'OFPET_EXPERIMENTER/<exp_type>', or with the experimenter id
 * of a known one its name ('OFPET_EXPERIMENTER/OFPBFC_MSG_FAILED').
 */
export function errorName(errorType: number, code: number, experimenter?: number): string {
  const t = ERROR_TYPES.get(errorType);
  if (!t) return `${errorType}/${code}`;
  if (errorType === C.OFPET_EXPERIMENTER && experimenter !== undefined) {
    const known = EXPERIMENTER_ERRORS.get(experimenter)?.codes.get(code);
    if (known) return `${t.name}/${known[0]}`;
  }
  const c = t.codes.find((row) => row[0] === code);
  return `${t.name}/${c ? c[1] : String(code)}`;
}

/**
 * An error in words, for users and logs:
 * 'the switch did not understand the request: denied because this controller is a slave on
 * this switch (another controller is master) (OFPET_BAD_REQUEST/OFPBRC_IS_SLAVE)'.
 */
export function describeError(
  err: { errorType: number; code: number; experimenter?: number } | number,
  code?: number,
): string {
  const e = typeof err === 'number' ? { errorType: err, code: code ?? 0 } : err;
  const t = ERROR_TYPES.get(e.errorType);
  const name = errorName(e.errorType, e.code, e.experimenter);
  if (!t) return `unknown error type ${e.errorType}, code ${e.code} (${name})`;
  if (e.errorType === C.OFPET_EXPERIMENTER) {
    const family = e.experimenter === undefined ? undefined : EXPERIMENTER_ERRORS.get(e.experimenter);
    const known = family?.codes.get(e.code);
    if (family && known) return `${family.text}: ${known[1]} (${name})`;
    const exp = e.experimenter === undefined ? 'unknown' : `0x${e.experimenter.toString(16).padStart(8, '0')}`;
    return `experimenter error: experimenter ${exp}, exp_type ${e.code} (${name})`;
  }
  const c = t.codes.find((row) => row[0] === e.code);
  return `${t.text}: ${c ? c[2] : `unknown code ${e.code}`} (${name})`;
}
