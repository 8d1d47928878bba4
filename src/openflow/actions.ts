/**
 * Actions (ofp_action_*) and instructions (ofp_instruction_*): encoding and decoding of lists.
 */
import * as C from './constants.js';
import { EncodeError } from './errors.js';
import { Reader, Writer, badUint, pad8 } from './codec-io.js';
import { decodeOxm, elementPath, encodeOxm } from './oxm.js';
import type { Action, Instruction } from './types.js';

const BAD_ACTION_LEN = { errorType: C.OFPET_BAD_ACTION, code: C.OFPBAC_BAD_LEN };
const BAD_ACTION_TYPE = { errorType: C.OFPET_BAD_ACTION, code: C.OFPBAC_BAD_TYPE };
const BAD_INST_LEN = { errorType: C.OFPET_BAD_INSTRUCTION, code: C.OFPBIC_BAD_LEN };
const BAD_INST_TYPE = { errorType: C.OFPET_BAD_INSTRUCTION, code: C.OFPBIC_UNKNOWN_INST };

/** Action type name ↔ OFPAT_* number. */
export const ACTION_TYPES: Readonly<Record<Action['type'], number>> = {
  OUTPUT: C.OFPAT_OUTPUT,
  COPY_TTL_OUT: C.OFPAT_COPY_TTL_OUT,
  COPY_TTL_IN: C.OFPAT_COPY_TTL_IN,
  SET_MPLS_TTL: C.OFPAT_SET_MPLS_TTL,
  DEC_MPLS_TTL: C.OFPAT_DEC_MPLS_TTL,
  PUSH_VLAN: C.OFPAT_PUSH_VLAN,
  POP_VLAN: C.OFPAT_POP_VLAN,
  PUSH_MPLS: C.OFPAT_PUSH_MPLS,
  POP_MPLS: C.OFPAT_POP_MPLS,
  SET_QUEUE: C.OFPAT_SET_QUEUE,
  GROUP: C.OFPAT_GROUP,
  SET_NW_TTL: C.OFPAT_SET_NW_TTL,
  DEC_NW_TTL: C.OFPAT_DEC_NW_TTL,
  SET_FIELD: C.OFPAT_SET_FIELD,
  PUSH_PBB: C.OFPAT_PUSH_PBB,
  POP_PBB: C.OFPAT_POP_PBB,
  EXPERIMENTER: C.OFPAT_EXPERIMENTER,
};

export const INSTRUCTION_TYPES: Readonly<Record<Instruction['type'], number>> = {
  GOTO_TABLE: C.OFPIT_GOTO_TABLE,
  WRITE_METADATA: C.OFPIT_WRITE_METADATA,
  WRITE_ACTIONS: C.OFPIT_WRITE_ACTIONS,
  APPLY_ACTIONS: C.OFPIT_APPLY_ACTIONS,
  CLEAR_ACTIONS: C.OFPIT_CLEAR_ACTIONS,
  METER: C.OFPIT_METER,
  EXPERIMENTER: C.OFPIT_EXPERIMENTER,
};

// ---------------------------------------------------------------------------------------------
// Actions
// ---------------------------------------------------------------------------------------------

export function encodeAction(w: Writer, a: Action, path: string): void {
  encodeActionAt(w, a, path, -1);
}

const hasOwn = Object.prototype.hasOwnProperty;

function isU8(v: unknown): v is number {
  return typeof v === 'number' && (v & 0xff) === v;
}
function isU16(v: unknown): v is number {
  return typeof v === 'number' && (v & 0xffff) === v;
}
function isU32(v: unknown): v is number {
  return typeof v === 'number' && v >>> 0 === v;
}

/** encodeAction for element `index` of the list at `base` (the path is built only for an error). */
function encodeActionAt(w: Writer, a: Action, base: string, index: number): void {
  if (a === null || typeof a !== 'object') throw new EncodeError(elementPath(base, index), 'expected an action object');
  const code = hasOwn.call(ACTION_TYPES, a.type) ? ACTION_TYPES[a.type] : undefined;
  if (code === undefined) throw new EncodeError(`${elementPath(base, index)}.type`, `unknown action type '${String(a.type)}'`);
  const start = w.pos;
  w.put16(code);
  w.put16(0);
  switch (a.type) {
    case 'OUTPUT':
      if (!isU32(a.port)) badUint(a.port, 32, elementPath(base, index), 'port');
      if (!isU16(a.maxLen)) badUint(a.maxLen, 16, elementPath(base, index), 'maxLen');
      w.put32(a.port);
      w.put16(a.maxLen);
      w.zeros(6);
      break;
    case 'COPY_TTL_OUT':
    case 'COPY_TTL_IN':
    case 'DEC_MPLS_TTL':
    case 'POP_VLAN':
    case 'DEC_NW_TTL':
    case 'POP_PBB':
      w.zeros(4);
      break;
    case 'SET_MPLS_TTL':
      if (!isU8(a.mplsTtl)) badUint(a.mplsTtl, 8, elementPath(base, index), 'mplsTtl');
      w.put8(a.mplsTtl);
      w.zeros(3);
      break;
    case 'SET_NW_TTL':
      if (!isU8(a.nwTtl)) badUint(a.nwTtl, 8, elementPath(base, index), 'nwTtl');
      w.put8(a.nwTtl);
      w.zeros(3);
      break;
    case 'PUSH_VLAN':
    case 'PUSH_MPLS':
    case 'POP_MPLS':
    case 'PUSH_PBB':
      if (!isU16(a.ethertype)) badUint(a.ethertype, 16, elementPath(base, index), 'ethertype');
      w.put16(a.ethertype);
      w.zeros(2);
      break;
    case 'SET_QUEUE':
      if (!isU32(a.queueId)) badUint(a.queueId, 32, elementPath(base, index), 'queueId');
      w.put32(a.queueId);
      break;
    case 'GROUP':
      if (!isU32(a.groupId)) badUint(a.groupId, 32, elementPath(base, index), 'groupId');
      w.put32(a.groupId);
      break;
    case 'SET_FIELD':
      encodeOxm(w, a.field, `${elementPath(base, index)}.field`);
      w.align8(start);
      break;
    case 'EXPERIMENTER': {
      const path = elementPath(base, index);
      w.u32(a.experimenter, path, 'experimenter');
      w.bytes(a.data, path, 'data');
      w.align8(start);
      break;
    }
  }
  const len = w.pos - start;
  if (len > 0xffff) w.patchU16(start + 2, len, elementPath(base, index), 'len');
  w.setU16(start + 2, len);
}

export function encodeActions(w: Writer, actions: Action[], path: string): void {
  if (!Array.isArray(actions)) throw new EncodeError(path, 'expected an array of actions');
  for (let i = 0; i < actions.length; i++) {
    const a = actions[i] as Action;
    if (a === undefined && !(i in actions)) continue; // a hole, as forEach would skip it
    encodeActionAt(w, a, path, i);
  }
}

function fixedLen(r: Reader, len: number, want: number, name: string): void {
  if (len !== want) {
    r.fail('BAD_LENGTH', `${name} has length ${len}, expected ${want}`, { offset: r.pos - 4, ofpError: BAD_ACTION_LEN });
  }
}

/** Reads one action; `r` is positioned at its header and bounded by the action list. */
export function decodeAction(list: Reader, index: number): Action {
  const start = list.pos;
  const type = list.u16('action header');
  const len = list.u16('action header');
  if (len < 8) list.fail('BAD_LENGTH', `action length ${len} < 8`, { offset: start + 2, ofpError: BAD_ACTION_LEN });
  list.pos = start;
  const r = list.sub(len, `actions[${index}]`, `action of ${len} bytes`, BAD_ACTION_LEN);
  r.pos += 4;
  switch (type) {
    case C.OFPAT_OUTPUT: {
      fixedLen(r, len, 16, 'OUTPUT');
      const port = r.u32();
      const maxLen = r.u16();
      r.pad(6);
      return { type: 'OUTPUT', port, maxLen };
    }
    case C.OFPAT_COPY_TTL_OUT: fixedLen(r, len, 8, 'COPY_TTL_OUT'); return { type: 'COPY_TTL_OUT' };
    case C.OFPAT_COPY_TTL_IN: fixedLen(r, len, 8, 'COPY_TTL_IN'); return { type: 'COPY_TTL_IN' };
    case C.OFPAT_DEC_MPLS_TTL: fixedLen(r, len, 8, 'DEC_MPLS_TTL'); return { type: 'DEC_MPLS_TTL' };
    case C.OFPAT_POP_VLAN: fixedLen(r, len, 8, 'POP_VLAN'); return { type: 'POP_VLAN' };
    case C.OFPAT_DEC_NW_TTL: fixedLen(r, len, 8, 'DEC_NW_TTL'); return { type: 'DEC_NW_TTL' };
    case C.OFPAT_POP_PBB: fixedLen(r, len, 8, 'POP_PBB'); return { type: 'POP_PBB' };
    case C.OFPAT_SET_MPLS_TTL: fixedLen(r, len, 8, 'SET_MPLS_TTL'); return { type: 'SET_MPLS_TTL', mplsTtl: r.u8() };
    case C.OFPAT_SET_NW_TTL: fixedLen(r, len, 8, 'SET_NW_TTL'); return { type: 'SET_NW_TTL', nwTtl: r.u8() };
    case C.OFPAT_PUSH_VLAN: fixedLen(r, len, 8, 'PUSH_VLAN'); return { type: 'PUSH_VLAN', ethertype: r.u16() };
    case C.OFPAT_PUSH_MPLS: fixedLen(r, len, 8, 'PUSH_MPLS'); return { type: 'PUSH_MPLS', ethertype: r.u16() };
    case C.OFPAT_POP_MPLS: fixedLen(r, len, 8, 'POP_MPLS'); return { type: 'POP_MPLS', ethertype: r.u16() };
    case C.OFPAT_PUSH_PBB: fixedLen(r, len, 8, 'PUSH_PBB'); return { type: 'PUSH_PBB', ethertype: r.u16() };
    case C.OFPAT_SET_QUEUE: fixedLen(r, len, 8, 'SET_QUEUE'); return { type: 'SET_QUEUE', queueId: r.u32() };
    case C.OFPAT_GROUP: fixedLen(r, len, 8, 'GROUP'); return { type: 'GROUP', groupId: r.u32() };
    case C.OFPAT_SET_FIELD: {
      const field = decodeOxm(r);
      if (pad8(r.pos - start) !== len) {
        r.fail('BAD_LENGTH', `SET_FIELD length ${len} does not fit its ${r.pos - start - 4}-byte OXM`, {
          offset: start + 2, ofpError: { errorType: C.OFPET_BAD_ACTION, code: C.OFPBAC_BAD_SET_LEN },
        });
      }
      return { type: 'SET_FIELD', field };
    }
    case C.OFPAT_EXPERIMENTER: {
      const experimenter = r.u32('experimenter id');
      return { type: 'EXPERIMENTER', experimenter, data: r.rest() };
    }
    default:
      return r.fail('UNKNOWN_TYPE', `unknown action type ${type}`, { offset: start, ofpError: BAD_ACTION_TYPE });
  }
}

/** Reads actions until `r` is exhausted. */
export function decodeActions(r: Reader): Action[] {
  const out: Action[] = [];
  while (r.remaining > 0) out.push(decodeAction(r, out.length));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Instructions
// ---------------------------------------------------------------------------------------------

export function encodeInstruction(w: Writer, ins: Instruction, path: string): void {
  encodeInstructionAt(w, ins, path, -1);
}

function encodeInstructionAt(w: Writer, ins: Instruction, base: string, index: number): void {
  if (ins === null || typeof ins !== 'object') throw new EncodeError(elementPath(base, index), 'expected an instruction object');
  const code = hasOwn.call(INSTRUCTION_TYPES, ins.type) ? INSTRUCTION_TYPES[ins.type] : undefined;
  if (code === undefined) throw new EncodeError(`${elementPath(base, index)}.type`, `unknown instruction type '${String(ins.type)}'`);
  const start = w.pos;
  w.put16(code);
  w.put16(0);
  switch (ins.type) {
    case 'GOTO_TABLE':
      if (!isU8(ins.tableId)) badUint(ins.tableId, 8, elementPath(base, index), 'tableId');
      w.put8(ins.tableId);
      w.zeros(3);
      break;
    case 'WRITE_METADATA': {
      const path = elementPath(base, index);
      w.zeros(4);
      w.u64(ins.metadata, path, 'metadata');
      w.u64(ins.metadataMask, path, 'metadataMask');
      break;
    }
    case 'WRITE_ACTIONS':
    case 'APPLY_ACTIONS':
      w.zeros(4);
      encodeActions(w, ins.actions, `${elementPath(base, index)}.actions`);
      break;
    case 'CLEAR_ACTIONS':
      w.zeros(4);
      break;
    case 'METER':
      if (!isU32(ins.meterId)) badUint(ins.meterId, 32, elementPath(base, index), 'meterId');
      w.put32(ins.meterId);
      break;
    case 'EXPERIMENTER': {
      const path = elementPath(base, index);
      w.u32(ins.experimenter, path, 'experimenter');
      w.bytes(ins.data, path, 'data');
      w.align8(start);
      break;
    }
  }
  const len = w.pos - start;
  if (len > 0xffff) w.patchU16(start + 2, len, elementPath(base, index), 'len');
  w.setU16(start + 2, len);
}

export function encodeInstructions(w: Writer, list: Instruction[], path: string): void {
  if (!Array.isArray(list)) throw new EncodeError(path, 'expected an array of instructions');
  for (let i = 0; i < list.length; i++) {
    const ins = list[i] as Instruction;
    if (ins === undefined && !(i in list)) continue; // a hole, as forEach would skip it
    encodeInstructionAt(w, ins, path, i);
  }
}

function instLen(r: Reader, len: number, want: number, name: string): void {
  if (len !== want) {
    r.fail('BAD_LENGTH', `${name} has length ${len}, expected ${want}`, { offset: r.pos - 2, ofpError: BAD_INST_LEN });
  }
}

export function decodeInstruction(list: Reader, index: number): Instruction {
  const start = list.pos;
  const type = list.u16('instruction header');
  const len = list.u16('instruction header');
  if (len < 8) list.fail('BAD_LENGTH', `instruction length ${len} < 8`, { offset: start + 2, ofpError: BAD_INST_LEN });
  list.pos = start;
  const r = list.sub(len, `instructions[${index}]`, `instruction of ${len} bytes`, BAD_INST_LEN);
  r.pos += 4;
  switch (type) {
    case C.OFPIT_GOTO_TABLE: {
      instLen(r, len, 8, 'GOTO_TABLE');
      const tableId = r.u8();
      r.pad(3);
      return { type: 'GOTO_TABLE', tableId };
    }
    case C.OFPIT_WRITE_METADATA: {
      instLen(r, len, 24, 'WRITE_METADATA');
      r.pad(4);
      const metadata = r.u64();
      const metadataMask = r.u64();
      return { type: 'WRITE_METADATA', metadata, metadataMask };
    }
    case C.OFPIT_WRITE_ACTIONS:
    case C.OFPIT_APPLY_ACTIONS: {
      r.pad(4);
      const actions = decodeActions(r);
      return { type: type === C.OFPIT_WRITE_ACTIONS ? 'WRITE_ACTIONS' : 'APPLY_ACTIONS', actions };
    }
    case C.OFPIT_CLEAR_ACTIONS:
      instLen(r, len, 8, 'CLEAR_ACTIONS');
      r.pad(4);
      return { type: 'CLEAR_ACTIONS' };
    case C.OFPIT_METER:
      instLen(r, len, 8, 'METER');
      return { type: 'METER', meterId: r.u32() };
    case C.OFPIT_EXPERIMENTER: {
      const experimenter = r.u32('experimenter id');
      return { type: 'EXPERIMENTER', experimenter, data: r.rest() };
    }
    default:
      return r.fail('UNKNOWN_TYPE', `unknown instruction type ${type}`, { offset: start, ofpError: BAD_INST_TYPE });
  }
}

export function decodeInstructions(r: Reader): Instruction[] {
  const out: Instruction[] = [];
  while (r.remaining > 0) out.push(decodeInstruction(r, out.length));
  return out;
}
