/**
 * The OpenFlow 1.3 codec: `encodeMessage` and `decodeMessage`, pure functions over Buffers.
 *
 * One registry maps each OFPT_* number to its readable name; each message type has a body
 * encoder and decoder (ROLE_STATUS and the ONF bundle messages travel as OFPT_EXPERIMENTER).
 * Encoding writes the header with a zero length, then the body, then patches the length, into
 * a reused buffer (encodeMessage copies the message out once; encodeMessageInto appends to a
 * caller's Writer). Decoding checks the header, bounds a Reader to exactly the message, and
 * dispatches on the type byte. The decoder throws nothing but DecodeError.
 *
 * This module is the entry point: it re-exports the types, errors, constants (as `OFP`), the
 * framer, the OXM helpers and the builders. Typical use on a switch connection:
 *
 *   const framer = new OfFramer();
 *   socket.on('data', (chunk) => {
 *     for (const frame of framer.push(chunk)) {        // throws DecodeError: stream out of sync
 *       const msg = decodeMessage(frame);               // throws DecodeError: one bad message
 *       if (msg.type === 'ECHO_REQUEST') socket.write(encodeMessage(echoReply(msg)));
 *       if (msg.type === 'ROLE_STATUS') ...             // demoted by a newer master
 *     }
 *   });
 *   socket.write(encodeMessage(roleRequest(OFP.OFPCR_ROLE_MASTER, term, nextXid())));
 *   socket.write(encodeMessage(flowMod({
 *     xid: nextXid(), tableId: 0, priority: 100, cookie: 0xf10e000000000001n,
 *     match: match({ in_port: 1, eth_type: 0x0800, ipv4_dst: '10.0.0.1' }),
 *     instructions: [applyActions(output(2))],
 *   })));
 *
 * A DecodeError that carries `ofpError` and `xid` can be answered with an OFPT_ERROR; one from
 * the framer means the connection must be closed.
 */
import * as C from './constants.js';
import { DecodeError, EncodeError, type OfHeader } from './errors.js';
import { Reader, Writer, pad8, type DecodeContext } from './codec-io.js';
import { decodeActions, encodeActions } from './actions.js';
import { decodeMatch, encodeMatch } from './oxm.js';
import { decodeInstructions, encodeInstructions } from './actions.js';
import {
  decodeBands, decodeBuckets, decodeMultipartReplyBody, decodeMultipartRequestBody, decodePort,
  encodeBands, encodeBuckets, encodeMacField, encodeMultipartReplyBody, encodeMultipartRequestBody,
  encodePort, multipartTypeOf,
} from './codec-multipart.js';
import { formatMac } from './oxm.js';
import type {
  AsyncConfig, BundledMessage, HelloElement, OfMessage, OfMessageType, PacketQueue, QueueProperty,
} from './types.js';

export * from './types.js';
export * from './errors.js';
export * as OFP from './constants.js';
export { matchKey, matchField, oxmFieldName, oxmFieldSpec, OXM_FIELDS, formatIpv6, parseIpv6, formatMac, parseMac } from './oxm.js';
export { OfFramer, type FramerOptions } from './framer.js';
export * from './codec-builders.js';

/** Message type name ↔ OFPT_* number. ROLE_STATUS travels as OFPT_EXPERIMENTER. */
export const MESSAGE_TYPES: Readonly<Record<OfMessageType, number>> = {
  HELLO: C.OFPT_HELLO,
  ERROR: C.OFPT_ERROR,
  ECHO_REQUEST: C.OFPT_ECHO_REQUEST,
  ECHO_REPLY: C.OFPT_ECHO_REPLY,
  EXPERIMENTER: C.OFPT_EXPERIMENTER,
  FEATURES_REQUEST: C.OFPT_FEATURES_REQUEST,
  FEATURES_REPLY: C.OFPT_FEATURES_REPLY,
  GET_CONFIG_REQUEST: C.OFPT_GET_CONFIG_REQUEST,
  GET_CONFIG_REPLY: C.OFPT_GET_CONFIG_REPLY,
  SET_CONFIG: C.OFPT_SET_CONFIG,
  PACKET_IN: C.OFPT_PACKET_IN,
  FLOW_REMOVED: C.OFPT_FLOW_REMOVED,
  PORT_STATUS: C.OFPT_PORT_STATUS,
  PACKET_OUT: C.OFPT_PACKET_OUT,
  FLOW_MOD: C.OFPT_FLOW_MOD,
  GROUP_MOD: C.OFPT_GROUP_MOD,
  PORT_MOD: C.OFPT_PORT_MOD,
  TABLE_MOD: C.OFPT_TABLE_MOD,
  MULTIPART_REQUEST: C.OFPT_MULTIPART_REQUEST,
  MULTIPART_REPLY: C.OFPT_MULTIPART_REPLY,
  BARRIER_REQUEST: C.OFPT_BARRIER_REQUEST,
  BARRIER_REPLY: C.OFPT_BARRIER_REPLY,
  QUEUE_GET_CONFIG_REQUEST: C.OFPT_QUEUE_GET_CONFIG_REQUEST,
  QUEUE_GET_CONFIG_REPLY: C.OFPT_QUEUE_GET_CONFIG_REPLY,
  ROLE_REQUEST: C.OFPT_ROLE_REQUEST,
  ROLE_REPLY: C.OFPT_ROLE_REPLY,
  GET_ASYNC_REQUEST: C.OFPT_GET_ASYNC_REQUEST,
  GET_ASYNC_REPLY: C.OFPT_GET_ASYNC_REPLY,
  SET_ASYNC: C.OFPT_SET_ASYNC,
  METER_MOD: C.OFPT_METER_MOD,
  ROLE_STATUS: C.OFPT_EXPERIMENTER,
  BUNDLE_CONTROL: C.OFPT_EXPERIMENTER,
  BUNDLE_ADD_MESSAGE: C.OFPT_EXPERIMENTER,
};

/** The message types that travel as OFPT_EXPERIMENTER (ONF extensions the codec decodes). */
const EXPERIMENTER_TYPES = new Set<OfMessageType>(['ROLE_STATUS', 'BUNDLE_CONTROL', 'BUNDLE_ADD_MESSAGE']);

const TYPE_NAMES = new Map<number, OfMessageType>(
  (Object.entries(MESSAGE_TYPES) as [OfMessageType, number][])
    .filter(([name]) => !EXPERIMENTER_TYPES.has(name))
    .map(([name, code]) => [code, name]),
);

/** 'FLOW_MOD' for 14; undefined for a number OpenFlow 1.3 does not define. */
export function messageTypeName(type: number): OfMessageType | undefined {
  return TYPE_NAMES.get(type);
}

/** Reads the 8-byte header (no validation beyond its presence); undefined if fewer than 8 bytes. */
export function peekHeader(buf: Buffer): OfHeader | undefined {
  if (buf.length < C.OFP_HEADER_SIZE) return undefined;
  return { version: buf[0]!, type: buf[1]!, length: buf.readUInt16BE(2), xid: buf.readUInt32BE(4) };
}

// ---------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------

/** Reused by encodeMessage: each message is written here, then copied out once, exactly sized. */
const scratch = new Writer(2048);

/**
 * The wire bytes of one message (header included, length computed). Throws EncodeError for a
 * value that does not fit its field or a message longer than 65535 bytes.
 */
export function encodeMessage(msg: OfMessage): Buffer {
  const w = scratch;
  w.reset();
  encodeInto(w, msg, typeof msg === 'object' && msg !== null ? msg.type : 'message', msg?.xid);
  const out = w.finish();
  // Do not keep a huge buffer alive for one exceptional message.
  if (w.buf.length > 256 * 1024) w.buf = Buffer.allocUnsafe(2048);
  return out;
}

/**
 * Messages encoded by preEncode: their bytes (with the xid they had), reused by encodeMessageInto
 * with the xid it is given. Keyed weakly: gone with the message.
 */
const PRE_ENCODED = new WeakMap<object, Buffer>();

/**
 * encodeMessage, remembering the bytes so that sending this very message later (through
 * encodeMessageInto, with any xid) copies them instead of encoding it again. For a sender that
 * encodes a message to check it before queueing it; the message must not change afterwards.
 */
export function preEncode(msg: OfMessage): Buffer {
  const bytes = encodeMessage(msg);
  PRE_ENCODED.set(msg, bytes);
  return bytes;
}

/**
 * Appends one message's wire bytes to `w` and returns their length. On EncodeError nothing is
 * left of the message: `w.pos` is back where it was. For writers of many messages into one
 * buffer (the connection's output chunks). `xid`, when given, is written instead of `msg.xid`
 * (which may then be absent).
 */
export function encodeMessageInto(w: Writer, msg: OfMessage | BundledMessage, xid?: number): number {
  const start = w.pos;
  const pre = typeof msg === 'object' && msg !== null ? PRE_ENCODED.get(msg) : undefined;
  if (pre) {
    w.ensure(pre.length);
    pre.copy(w.buf, start);
    w.pos = start + pre.length;
    const id = xid ?? msg.xid;
    if (id !== undefined) w.buf.writeUInt32BE(id >>> 0, start + 4); // else the xid it was encoded with
    return pre.length;
  }
  try {
    encodeInto(w, msg as OfMessage, typeof msg === 'object' && msg !== null ? msg.type : 'message', xid ?? msg?.xid);
  } catch (error) {
    w.pos = start;
    throw error;
  }
  return w.pos - start;
}

function encodeInto(w: Writer, msg: OfMessage, path: string, xid: number | undefined): void {
  if (msg === null || typeof msg !== 'object') throw new EncodeError('message', 'expected a message object');
  const type = MESSAGE_TYPES[msg.type];
  if (type === undefined) throw new EncodeError('message.type', `unknown message type '${String(msg.type)}'`);
  const start = w.pos;
  const version = (msg.type === 'HELLO' || msg.type === 'ERROR') && msg.version !== undefined ? msg.version : C.OFP_VERSION;
  w.u8(version, path, 'version');
  w.u8(type, path, 'type');
  w.put16(0);
  w.u32(xid as number, path, 'xid');
  encodeBody(w, msg, path, xid as number);
  const length = w.pos - start;
  if (length > C.OFP_MAX_MESSAGE_SIZE) {
    throw new EncodeError(path, `message of ${length} bytes exceeds the 65535 an OpenFlow header can state`);
  }
  w.setU16(start + 2, length);
}

function encodeAsync(w: Writer, m: AsyncConfig, path: string): void {
  for (const k of ['packetInMask', 'portStatusMask', 'flowRemovedMask'] as const) {
    const pair = m[k];
    if (!Array.isArray(pair) || pair.length !== 2) throw new EncodeError(`${path}.${k}`, 'expected [masterOrEqual, slave]');
    w.u32(pair[0], path, `${k}[0]`);
    w.u32(pair[1], path, `${k}[1]`);
  }
}

function encodeHelloElements(w: Writer, elements: HelloElement[], path: string): void {
  if (!Array.isArray(elements)) throw new EncodeError(`${path}.elements`, 'expected an array');
  elements.forEach((e, i) => {
    const p = `${path}.elements[${i}]`;
    const start = w.pos;
    if (e.type === 'VERSION_BITMAP') {
      const max = e.versions.reduce((a, b) => Math.max(a, b), 0);
      if (!e.versions.every((v) => Number.isInteger(v) && v >= 0 && v < 32 * 64)) {
        throw new EncodeError(`${p}.versions`, 'versions must be integers 0..2047');
      }
      const words = new Array<number>(Math.floor(max / 32) + 1).fill(0);
      for (const v of e.versions) words[v >> 5] = (words[v >> 5]! | (1 << (v & 31))) >>> 0;
      w.u16(C.OFPHET_VERSIONBITMAP, p, 'type');
      w.u16(4 + 4 * words.length, p, 'length');
      words.forEach((x, j) => w.u32(x, p, `bitmap[${j}]`));
    } else {
      w.u16(e.elementType, p, 'elementType');
      w.u16(4 + e.data.length, p, 'length');
      w.bytes(e.data, p, 'data');
    }
    w.align8(start);
  });
}

function encodeQueues(w: Writer, queues: PacketQueue[], path: string): void {
  queues.forEach((q, i) => {
    const p = `${path}.queues[${i}]`;
    const start = w.pos;
    w.u32(q.queueId, p, 'queueId');
    w.u32(q.port, p, 'port');
    w.u16(0, p, 'len');
    w.zeros(6);
    q.properties.forEach((prop: QueueProperty, j) => {
      const pp = `${p}.properties[${j}]`;
      const ps = w.pos;
      const code = prop.type === 'MIN_RATE' ? C.OFPQT_MIN_RATE : prop.type === 'MAX_RATE' ? C.OFPQT_MAX_RATE
        : prop.type === 'EXPERIMENTER' ? C.OFPQT_EXPERIMENTER : undefined;
      if (code === undefined) throw new EncodeError(`${pp}.type`, `unknown queue property '${String((prop as { type: unknown }).type)}'`);
      w.u16(code, pp, 'type');
      w.u16(0, pp, 'len');
      w.zeros(4);
      if (prop.type === 'EXPERIMENTER') {
        w.u32(prop.experimenter, pp, 'experimenter');
        w.zeros(4);
        w.bytes(prop.data, pp, 'data');
      } else {
        w.u16(prop.rate, pp, 'rate');
        w.zeros(6);
      }
      w.patchU16(ps + 2, w.pos - ps, pp, 'len');
    });
    w.patchU16(start + 8, w.pos - start, p, 'len');
  });
}

function encodeBody(w: Writer, m: OfMessage, path: string, xid: number): void {
  switch (m.type) {
    case 'HELLO':
      encodeHelloElements(w, m.elements, path);
      return;
    case 'ERROR':
      w.u16(m.errorType, path, 'errorType');
      w.u16(m.code, path, 'code');
      if (m.errorType === C.OFPET_EXPERIMENTER) w.u32(m.experimenter ?? 0, path, 'experimenter');
      w.bytes(m.data, path, 'data');
      return;
    case 'ECHO_REQUEST':
    case 'ECHO_REPLY':
      w.bytes(m.data, path, 'data');
      return;
    case 'EXPERIMENTER':
      w.u32(m.experimenter, path, 'experimenter');
      w.u32(m.expType, path, 'expType');
      w.bytes(m.data, path, 'data');
      return;
    case 'ROLE_STATUS':
      w.u32(C.ONF_EXPERIMENTER_ID, path, 'experimenter');
      w.u32(C.ONFT_ROLE_STATUS, path, 'expType');
      w.u32(m.role, path, 'role');
      w.u8(m.reason, path, 'reason');
      w.zeros(3);
      w.u64(m.generationId, path, 'generationId');
      return;
    case 'FEATURES_REQUEST':
    case 'GET_CONFIG_REQUEST':
    case 'BARRIER_REQUEST':
    case 'BARRIER_REPLY':
    case 'GET_ASYNC_REQUEST':
      return;
    case 'FEATURES_REPLY':
      w.u64(m.datapathId, path, 'datapathId');
      w.u32(m.nBuffers, path, 'nBuffers');
      w.u8(m.nTables, path, 'nTables');
      w.u8(m.auxiliaryId, path, 'auxiliaryId');
      w.zeros(2);
      w.u32(m.capabilities, path, 'capabilities');
      w.zeros(4);
      return;
    case 'GET_CONFIG_REPLY':
    case 'SET_CONFIG':
      w.u16(m.flags, path, 'flags');
      w.u16(m.missSendLen, path, 'missSendLen');
      return;
    case 'PACKET_IN':
      w.u32(m.bufferId, path, 'bufferId');
      w.u16(m.totalLen, path, 'totalLen');
      w.u8(m.reason, path, 'reason');
      w.u8(m.tableId, path, 'tableId');
      w.u64(m.cookie, path, 'cookie');
      encodeMatch(w, m.match, `${path}.match`);
      w.zeros(2);
      w.bytes(m.data, path, 'data');
      return;
    case 'FLOW_REMOVED':
      w.u64(m.cookie, path, 'cookie');
      w.u16(m.priority, path, 'priority');
      w.u8(m.reason, path, 'reason');
      w.u8(m.tableId, path, 'tableId');
      w.u32(m.durationSec, path, 'durationSec');
      w.u32(m.durationNsec, path, 'durationNsec');
      w.u16(m.idleTimeout, path, 'idleTimeout');
      w.u16(m.hardTimeout, path, 'hardTimeout');
      w.u64(m.packetCount, path, 'packetCount');
      w.u64(m.byteCount, path, 'byteCount');
      encodeMatch(w, m.match, `${path}.match`);
      return;
    case 'PORT_STATUS':
      w.u8(m.reason, path, 'reason');
      w.zeros(7);
      encodePort(w, m.port, `${path}.port`);
      return;
    case 'PACKET_OUT': {
      w.u32(m.bufferId, path, 'bufferId');
      w.u32(m.inPort, path, 'inPort');
      const lenAt = w.pos;
      w.u16(0, path, 'actionsLen');
      w.zeros(6);
      const start = w.pos;
      encodeActions(w, m.actions, `${path}.actions`);
      w.patchU16(lenAt, w.pos - start, path, 'actionsLen');
      w.bytes(m.data, path, 'data');
      return;
    }
    case 'FLOW_MOD':
      w.u64(m.cookie, path, 'cookie');
      w.u64(m.cookieMask, path, 'cookieMask');
      w.u8(m.tableId, path, 'tableId');
      w.u8(m.command, path, 'command');
      w.u16(m.idleTimeout, path, 'idleTimeout');
      w.u16(m.hardTimeout, path, 'hardTimeout');
      w.u16(m.priority, path, 'priority');
      w.u32(m.bufferId, path, 'bufferId');
      w.u32(m.outPort, path, 'outPort');
      w.u32(m.outGroup, path, 'outGroup');
      w.u16(m.flags, path, 'flags');
      w.zeros(2);
      encodeMatch(w, m.match, path === 'FLOW_MOD' ? 'FLOW_MOD.match' : `${path}.match`);
      encodeInstructions(w, m.instructions, path === 'FLOW_MOD' ? 'FLOW_MOD.instructions' : `${path}.instructions`);
      return;
    case 'GROUP_MOD':
      w.u16(m.command, path, 'command');
      w.u8(m.groupType, path, 'groupType');
      w.zeros(1);
      w.u32(m.groupId, path, 'groupId');
      encodeBuckets(w, m.buckets, `${path}.buckets`);
      return;
    case 'PORT_MOD':
      w.u32(m.portNo, path, 'portNo');
      w.zeros(4);
      encodeMacField(w, m.hwAddr, path, 'hwAddr');
      w.zeros(2);
      w.u32(m.config, path, 'config');
      w.u32(m.mask, path, 'mask');
      w.u32(m.advertise, path, 'advertise');
      w.zeros(4);
      return;
    case 'TABLE_MOD':
      w.u8(m.tableId, path, 'tableId');
      w.zeros(3);
      w.u32(m.config, path, 'config');
      return;
    case 'METER_MOD':
      w.u16(m.command, path, 'command');
      w.u16(m.flags, path, 'flags');
      w.u32(m.meterId, path, 'meterId');
      encodeBands(w, m.bands, `${path}.bands`);
      return;
    case 'MULTIPART_REQUEST':
      w.u16(multipartTypeOf(m.body, path), path, 'body.kind');
      w.u16(m.flags, path, 'flags');
      w.zeros(4);
      encodeMultipartRequestBody(w, m.body, `${path}.body`);
      return;
    case 'MULTIPART_REPLY':
      w.u16(multipartTypeOf(m.body, path), path, 'body.kind');
      w.u16(m.flags, path, 'flags');
      w.zeros(4);
      encodeMultipartReplyBody(w, m.body, `${path}.body`);
      return;
    case 'QUEUE_GET_CONFIG_REQUEST':
      w.u32(m.port, path, 'port');
      w.zeros(4);
      return;
    case 'QUEUE_GET_CONFIG_REPLY':
      w.u32(m.port, path, 'port');
      w.zeros(4);
      encodeQueues(w, m.queues, path);
      return;
    case 'ROLE_REQUEST':
    case 'ROLE_REPLY':
      w.u32(m.role, path, 'role');
      w.zeros(4);
      w.u64(m.generationId, path, 'generationId');
      return;
    case 'GET_ASYNC_REPLY':
    case 'SET_ASYNC':
      encodeAsync(w, m, path);
      return;
    case 'BUNDLE_CONTROL':
      w.put32(C.ONF_EXPERIMENTER_ID);
      w.put32(C.ONFT_BUNDLE_CONTROL);
      w.u32(m.bundleId, path, 'bundleId');
      w.u16(m.controlType, path, 'controlType');
      w.u16(m.flags, path, 'flags');
      if (m.properties !== undefined) w.bytes(m.properties, path, 'properties');
      return;
    case 'BUNDLE_ADD_MESSAGE': {
      w.put32(C.ONF_EXPERIMENTER_ID);
      w.put32(C.ONFT_BUNDLE_ADD_MESSAGE);
      w.u32(m.bundleId, path, 'bundleId');
      w.zeros(2);
      w.u16(m.flags, path, 'flags');
      const inner = m.message;
      if (inner === null || typeof inner !== 'object') throw new EncodeError(`${path}.message`, 'expected a message object');
      if (inner.xid !== undefined && inner.xid !== 0 && inner.xid !== xid) {
        throw new EncodeError(`${path}.message.xid`, `${String(inner.xid)} is not the bundle add's own xid ${xid}: Open vSwitch refuses that (OFPBFC_MSG_BAD_XID); leave it out`);
      }
      if (EXPERIMENTER_TYPES.has(inner.type) && inner.type !== 'ROLE_STATUS') {
        throw new EncodeError(`${path}.message.type`, `a ${inner.type} cannot go into a bundle`);
      }
      const innerStart = w.pos;
      encodeInto(w, inner as OfMessage, `${path}.message`, xid);
      if (m.properties !== undefined && m.properties.length > 0) {
        w.align8(innerStart);
        w.bytes(m.properties, path, 'properties');
      }
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------

const BAD_LEN = { errorType: C.OFPET_BAD_REQUEST, code: C.OFPBRC_BAD_LEN };

/**
 * Decodes exactly one message: `buf` must hold one whole message and nothing else (the framer
 * cuts a stream into such buffers). Throws DecodeError, and nothing else, for anything wrong.
 */
export function decodeMessage(buf: Buffer): OfMessage {
  if (!Buffer.isBuffer(buf)) {
    throw new DecodeError('expected a Buffer', { reason: 'TRUNCATED', offset: 0, where: 'header' });
  }
  const ctx: DecodeContext = { message: buf };
  const top: Reader = new Reader(ctx, 0, buf.length, 'header');
  if (buf.length < C.OFP_HEADER_SIZE) top.fail('TRUNCATED', `${buf.length} bytes cannot hold an 8-byte header`);
  const header: OfHeader = peekHeader(buf)!;
  ctx.header = header;
  const name = TYPE_NAMES.get(header.type);
  ctx.messageType = name ?? `type ${header.type}`;
  if (header.length !== buf.length) {
    top.fail(header.length < buf.length ? 'BAD_LENGTH' : 'TRUNCATED',
      `the header says ${header.length} bytes, the buffer holds ${buf.length}`, { offset: 2, ofpError: BAD_LEN });
  }
  if (header.version !== C.OFP_VERSION && name !== 'HELLO' && name !== 'ERROR') {
    top.fail('BAD_VERSION', `version ${header.version} is not OpenFlow 1.3 (4)`, {
      offset: 0, ofpError: { errorType: C.OFPET_BAD_REQUEST, code: C.OFPBRC_BAD_VERSION },
    });
  }
  if (name === undefined) {
    top.fail('UNKNOWN_TYPE', `unknown message type ${header.type}`, {
      offset: 1, ofpError: { errorType: C.OFPET_BAD_REQUEST, code: C.OFPBRC_BAD_TYPE },
    });
  }
  const r = new Reader(ctx, C.OFP_HEADER_SIZE, buf.length, name);
  try {
    return decodeBody(r, name, header);
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    // A bug, not bad input: still honour the contract, but keep the cause.
    const e = new DecodeError(`internal error: ${(err as Error)?.message ?? String(err)}`, {
      reason: 'BAD_VALUE', offset: r.pos, where: name, messageType: name, header,
    }, buf);
    (e as { cause?: unknown }).cause = err;
    throw e;
  }
}

function fixedBody(r: Reader, size: number, what: string): void {
  if (r.remaining !== size) {
    r.fail(r.remaining < size ? 'TRUNCATED' : 'BAD_LENGTH',
      `${what} body must be ${size} bytes, got ${r.remaining}`, { offset: 2, ofpError: BAD_LEN });
  }
}

function decodeHelloElements(r: Reader): HelloElement[] {
  const out: HelloElement[] = [];
  while (r.remaining > 0) {
    const start = r.pos;
    const type = r.u16('hello element header');
    const length = r.u16('hello element header');
    if (length < 4) r.fail('BAD_LENGTH', `hello element length ${length} < 4`, { offset: start + 2, ofpError: BAD_LEN });
    r.pos = start;
    const e = r.sub(length, `elements[${out.length}]`, `hello element of ${length} bytes`);
    e.pos += 4;
    if (type === C.OFPHET_VERSIONBITMAP) {
      if ((length - 4) % 4 !== 0) e.fail('BAD_LENGTH', `version bitmap of ${length - 4} bytes is not whole 32-bit words`, { offset: start + 2, ofpError: BAD_LEN });
      const versions: number[] = [];
      for (let word = 0; e.remaining > 0; word++) {
        const bits = e.u32();
        for (let b = 0; b < 32; b++) if ((bits >>> b) & 1) versions.push(word * 32 + b);
      }
      out.push({ type: 'VERSION_BITMAP', versions });
    } else {
      out.push({ type: 'UNKNOWN', elementType: type, data: e.rest() });
    }
    r.pad(Math.min(pad8(length) - length, r.remaining));
  }
  return out;
}

function decodeQueues(r: Reader): PacketQueue[] {
  const queues: PacketQueue[] = [];
  while (r.remaining > 0) {
    const start = r.pos;
    r.need(16, 'ofp_packet_queue');
    const len = buf16(r, start + 8);
    if (len < 16) r.fail('BAD_LENGTH', `queue length ${len} < 16`, { offset: start + 8, ofpError: BAD_LEN });
    const q = r.sub(len, `queues[${queues.length}]`, `queue of ${len} bytes`);
    const queueId = q.u32();
    const port = q.u32();
    q.pad(8);
    const properties: QueueProperty[] = [];
    while (q.remaining > 0) {
      const ps = q.pos;
      const type = q.u16('queue property header');
      const plen = q.u16('queue property header');
      if (plen < 8) q.fail('BAD_LENGTH', `queue property length ${plen} < 8`, { offset: ps + 2, ofpError: BAD_LEN });
      q.pos = ps;
      const p = q.sub(plen, `properties[${properties.length}]`, `queue property of ${plen} bytes`);
      p.pad(8);
      if (type === C.OFPQT_MIN_RATE || type === C.OFPQT_MAX_RATE) {
        if (plen !== 16) p.fail('BAD_LENGTH', `rate property length ${plen}, expected 16`, { offset: ps + 2, ofpError: BAD_LEN });
        const rate = p.u16();
        p.pad(6);
        properties.push({ type: type === C.OFPQT_MIN_RATE ? 'MIN_RATE' : 'MAX_RATE', rate });
      } else if (type === C.OFPQT_EXPERIMENTER) {
        const experimenter = p.u32();
        p.pad(4);
        properties.push({ type: 'EXPERIMENTER', experimenter, data: p.rest() });
      } else {
        p.fail('UNKNOWN_TYPE', `unknown queue property ${type}`, { offset: ps });
      }
    }
    queues.push({ queueId, port, properties });
  }
  return queues;
}

function buf16(r: Reader, at: number): number {
  return r.ctx.message.readUInt16BE(at);
}

function decodeAsync(r: Reader): AsyncConfig {
  fixedBody(r, 24, 'async config');
  return {
    packetInMask: [r.u32(), r.u32()],
    portStatusMask: [r.u32(), r.u32()],
    flowRemovedMask: [r.u32(), r.u32()],
  };
}

/** ofp14_bundle_add_msg after the experimenter header: the added message is decoded too. */
function decodeBundleAdd(r: Reader, xid: number): OfMessage {
  r.need(8, 'ONF bundle add');
  const bundleId = r.u32();
  r.pad(2);
  const flags = r.u16();
  const innerStart = r.pos;
  r.need(C.OFP_HEADER_SIZE, 'the added message header');
  const innerLength = buf16(r, innerStart + 2);
  const badLen = { errorType: C.OFPET_EXPERIMENTER, code: C.OFPBFC_MSG_BAD_LEN };
  if (innerLength < C.OFP_HEADER_SIZE) {
    r.fail('BAD_LENGTH', `added message length ${innerLength} < 8`, { offset: innerStart + 2, ofpError: badLen });
  }
  const inner = r.sub(innerLength, 'message', `added message of ${innerLength} bytes`, badLen);
  let message: OfMessage;
  try {
    message = decodeMessage(r.ctx.message.subarray(inner.pos, inner.end));
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    throw new DecodeError(`the added message does not decode: ${err.message}`, {
      reason: err.reason, offset: innerStart + err.offset, where: `BUNDLE_ADD_MESSAGE.message.${err.where}`,
      messageType: 'BUNDLE_ADD_MESSAGE', header: r.ctx.header, ofpError: err.ofpError,
    }, r.ctx.message);
  }
  if (message.type === 'BUNDLE_CONTROL' || message.type === 'BUNDLE_ADD_MESSAGE') {
    r.fail('BAD_VALUE', `a ${message.type} cannot be added to a bundle`, {
      offset: innerStart, ofpError: { errorType: C.OFPET_EXPERIMENTER, code: C.OFPBFC_MSG_UNSUP },
    });
  }
  const m: OfMessage = { type: 'BUNDLE_ADD_MESSAGE', xid, bundleId, flags, message };
  if (r.remaining > 0) {
    // Properties follow the message padded to 8 bytes; bytes that are only padding are not kept.
    r.pad(Math.min(pad8(innerLength) - innerLength, r.remaining), 'padding after the added message');
    if (r.remaining > 0) m.properties = r.rest();
  }
  return m;
}

function decodeBody(r: Reader, name: OfMessageType, h: OfHeader): OfMessage {
  const xid = h.xid;
  switch (name) {
    case 'HELLO': {
      const m: OfMessage = { type: 'HELLO', xid, elements: decodeHelloElements(r) };
      if (h.version !== C.OFP_VERSION) m.version = h.version;
      return m;
    }
    case 'ERROR': {
      const errorType = r.u16('error type');
      const code = r.u16('error code');
      const m: OfMessage = { type: 'ERROR', xid, errorType, code, data: Buffer.alloc(0) };
      if (h.version !== C.OFP_VERSION) m.version = h.version;
      if (errorType === C.OFPET_EXPERIMENTER) m.experimenter = r.u32('experimenter id');
      m.data = r.rest();
      return m;
    }
    case 'ECHO_REQUEST':
    case 'ECHO_REPLY':
      return { type: name, xid, data: r.rest() };
    case 'EXPERIMENTER': {
      const experimenter = r.u32('experimenter id');
      const expType = r.u32('exp_type');
      if (experimenter === C.ONF_EXPERIMENTER_ID && expType === C.ONFT_ROLE_STATUS) {
        fixedBody(r, 16, 'ONF role status');
        const role = r.u32();
        const reason = r.u8();
        r.pad(3);
        return { type: 'ROLE_STATUS', xid, role, reason, generationId: r.u64() };
      }
      if (experimenter === C.ONF_EXPERIMENTER_ID && expType === C.ONFT_BUNDLE_CONTROL) {
        r.need(8, 'ONF bundle control');
        const m: OfMessage = { type: 'BUNDLE_CONTROL', xid, bundleId: r.u32(), controlType: r.u16(), flags: r.u16() };
        if (r.remaining > 0) m.properties = r.rest();
        return m;
      }
      if (experimenter === C.ONF_EXPERIMENTER_ID && expType === C.ONFT_BUNDLE_ADD_MESSAGE) {
        return decodeBundleAdd(r, xid);
      }
      return { type: 'EXPERIMENTER', xid, experimenter, expType, data: r.rest() };
    }
    case 'FEATURES_REQUEST':
    case 'GET_CONFIG_REQUEST':
    case 'BARRIER_REQUEST':
    case 'BARRIER_REPLY':
    case 'GET_ASYNC_REQUEST':
      fixedBody(r, 0, name);
      return { type: name, xid };
    case 'FEATURES_REPLY': {
      fixedBody(r, 24, name);
      const datapathId = r.u64();
      const nBuffers = r.u32();
      const nTables = r.u8();
      const auxiliaryId = r.u8();
      r.pad(2);
      const capabilities = r.u32();
      r.pad(4);
      return { type: name, xid, datapathId, nBuffers, nTables, auxiliaryId, capabilities };
    }
    case 'GET_CONFIG_REPLY':
    case 'SET_CONFIG':
      fixedBody(r, 4, name);
      return { type: name, xid, flags: r.u16(), missSendLen: r.u16() };
    case 'PACKET_IN': {
      const bufferId = r.u32();
      const totalLen = r.u16();
      const reason = r.u8();
      const tableId = r.u8();
      const cookie = r.u64();
      const match = decodeMatch(r);
      r.pad(2);
      return { type: name, xid, bufferId, totalLen, reason, tableId, cookie, match, data: r.rest() };
    }
    case 'FLOW_REMOVED': {
      const cookie = r.u64();
      const priority = r.u16();
      const reason = r.u8();
      const tableId = r.u8();
      const durationSec = r.u32();
      const durationNsec = r.u32();
      const idleTimeout = r.u16();
      const hardTimeout = r.u16();
      const packetCount = r.u64();
      const byteCount = r.u64();
      const match = decodeMatch(r);
      r.done('FLOW_REMOVED match');
      return {
        type: name, xid, cookie, priority, reason, tableId, durationSec, durationNsec, idleTimeout,
        hardTimeout, packetCount, byteCount, match,
      };
    }
    case 'PORT_STATUS': {
      fixedBody(r, 72, name);
      const reason = r.u8();
      r.pad(7);
      return { type: name, xid, reason, port: decodePort(r, 'port') };
    }
    case 'PACKET_OUT': {
      const bufferId = r.u32();
      const inPort = r.u32();
      const actionsLen = r.u16();
      r.pad(6);
      const actions = decodeActions(r.sub(actionsLen, 'actions', `actions_len ${actionsLen}`));
      return { type: name, xid, bufferId, inPort, actions, data: r.rest() };
    }
    case 'FLOW_MOD': {
      const cookie = r.u64();
      const cookieMask = r.u64();
      const tableId = r.u8();
      const command = r.u8();
      const idleTimeout = r.u16();
      const hardTimeout = r.u16();
      const priority = r.u16();
      const bufferId = r.u32();
      const outPort = r.u32();
      const outGroup = r.u32();
      const flags = r.u16();
      r.pad(2);
      const match = decodeMatch(r);
      const instructions = decodeInstructions(r);
      return {
        type: name, xid, cookie, cookieMask, tableId, command, idleTimeout, hardTimeout, priority,
        bufferId, outPort, outGroup, flags, match, instructions,
      };
    }
    case 'GROUP_MOD': {
      const command = r.u16();
      const groupType = r.u8();
      r.pad(1);
      const groupId = r.u32();
      return { type: name, xid, command, groupType, groupId, buckets: decodeBuckets(r) };
    }
    case 'PORT_MOD': {
      fixedBody(r, 32, name);
      const portNo = r.u32();
      r.pad(4);
      const hwAddr = formatMac(r.bytes(6));
      r.pad(2);
      const config = r.u32();
      const mask = r.u32();
      const advertise = r.u32();
      r.pad(4);
      return { type: name, xid, portNo, hwAddr, config, mask, advertise };
    }
    case 'TABLE_MOD': {
      fixedBody(r, 8, name);
      const tableId = r.u8();
      r.pad(3);
      return { type: name, xid, tableId, config: r.u32() };
    }
    case 'METER_MOD': {
      const command = r.u16();
      const flags = r.u16();
      const meterId = r.u32();
      return { type: name, xid, command, flags, meterId, bands: decodeBands(r) };
    }
    case 'MULTIPART_REQUEST':
    case 'MULTIPART_REPLY': {
      const mpType = r.u16('multipart type');
      const flags = r.u16('multipart flags');
      r.pad(4, 'multipart padding');
      const body = r.sub(r.remaining, 'body');
      return name === 'MULTIPART_REQUEST'
        ? { type: name, xid, flags, body: decodeMultipartRequestBody(body, mpType) }
        : { type: name, xid, flags, body: decodeMultipartReplyBody(body, mpType) };
    }
    case 'QUEUE_GET_CONFIG_REQUEST': {
      fixedBody(r, 8, name);
      const port = r.u32();
      r.pad(4);
      return { type: name, xid, port };
    }
    case 'QUEUE_GET_CONFIG_REPLY': {
      const port = r.u32();
      r.pad(4);
      return { type: name, xid, port, queues: decodeQueues(r) };
    }
    case 'ROLE_REQUEST':
    case 'ROLE_REPLY': {
      fixedBody(r, 16, name);
      const role = r.u32();
      r.pad(4);
      return { type: name, xid, role, generationId: r.u64() };
    }
    case 'GET_ASYNC_REPLY':
    case 'SET_ASYNC':
      return { type: name, xid, ...decodeAsync(r) };
    case 'ROLE_STATUS':
    case 'BUNDLE_CONTROL':
    case 'BUNDLE_ADD_MESSAGE':
      // Never a header type: these arrive as EXPERIMENTER (handled above).
      return r.fail('UNKNOWN_TYPE', `${name} is not a header type`);
  }
}
