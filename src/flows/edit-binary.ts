/**
 * Table edits (flow-table.ts TableEdit) in a compact binary form, for the deltas a master
 * publishes as it programs switches: the slaves read a run of a thousand edits with the OpenFlow
 * codec's match and instruction readers instead of JSON objects for every field, which made a
 * slave's reading of a delta cost about twice as much (bench/flows-floor shows what the slaves'
 * format weighs in the whole cluster's rate). Carried base64-encoded in a delta's `bin` field
 * (mirror.ts); snapshots stay JSON. A master writes it only when every slave it waits for said in
 * its acks that it reads it (`bin: true`): slaves on older code get JSON.
 *
 * One record per edit, back to back, big-endian:
 *   u16 length (of the whole record)  u8 op (1 put, 2 del)  u8 table_id  u16 priority
 *   u16 idle_timeout  u16 hard_timeout  u16 flags  4 zero bytes  u64 cookie      (24 bytes)
 *   ofp_match (OXM, padded to 8 bytes)
 *   put: the instructions, as in a FLOW_MOD, to the end of the record; del: nothing.
 * A del writes zero timeouts, flags and cookie (a reader ignores them). Reading checks every
 * length (the codec's Reader: a lying one is an error, never a read past its record), then
 * validates and normalizes the entry or identity as entryFromJson and identityFromJson do: what a
 * record holds is never trusted.
 */
import { DecodeError, EncodeError } from '../openflow/errors.js';
import { Reader, Writer } from '../openflow/codec-io.js';
import { decodeInstructions, encodeInstructions } from '../openflow/actions.js';
import { decodeMatch, encodeMatch } from '../openflow/oxm.js';
import { OFP, type Instruction } from '../openflow/codec.js';
import { JsonShapeError } from './json.js';
import { MatchValueError, normalizeMatch } from './match-bits.js';
import { normalizeEntry, type FlowEntry, type TableEdit } from './flow-table.js';

const PUT = 1;
const DEL = 2;
const HEAD_BYTES = 24;

const writer = new Writer(64 * 1024);

/**
 * The records of `edits`, one buffer; undefined when one of them cannot be written exactly (send
 * those as JSON): an experimenter action or instruction whose data is not a multiple of 8 bytes
 * comes back padded, and an entry that does not encode at all is the JSON form's to carry.
 */
export function encodeEdits(edits: readonly TableEdit[]): Buffer | undefined {
  try {
    return encodeAll(edits);
  } catch (error) {
    if (error instanceof EncodeError || error instanceof NotExact) return undefined;
    throw error;
  }
}

class NotExact extends Error {}

function encodeAll(edits: readonly TableEdit[]): Buffer {
  const w = writer;
  w.reset();
  for (const edit of edits) {
    const start = w.pos;
    w.put16(0); // the length, patched below
    if (edit.op === 'put') {
      const e = edit.entry;
      w.put8(PUT);
      w.u8(e.tableId, 'entry', 'tableId');
      w.u16(e.priority, 'entry', 'priority');
      w.u16(e.idleTimeout, 'entry', 'idleTimeout');
      w.u16(e.hardTimeout, 'entry', 'hardTimeout');
      w.u16(e.flags, 'entry', 'flags');
      w.put32(0);
      w.u64(e.cookie, 'entry', 'cookie');
      encodeMatch(w, e.match, 'entry.match');
      if (!exactInBinary(e.instructions)) throw new NotExact();
      encodeInstructions(w, e.instructions, 'entry.instructions');
    } else {
      const id = edit.id;
      w.put8(DEL);
      w.u8(id.tableId, 'id', 'tableId');
      w.u16(id.priority, 'id', 'priority');
      w.zeros(HEAD_BYTES - 6);
      encodeMatch(w, id.match, 'id.match');
    }
    w.patchU16(start, w.pos - start, 'edit', 'length');
  }
  const out = w.finish();
  // Do not keep a huge buffer alive for one large run.
  if (w.buf.length > 1024 * 1024) w.buf = Buffer.allocUnsafe(64 * 1024);
  return out;
}

/** Whether the instructions read back as they are (experimenter data is padded to 8 bytes on the wire). */
function exactInBinary(instructions: readonly Instruction[]): boolean {
  for (const i of instructions) {
    if (i.type === 'EXPERIMENTER' && i.data.length % 8 !== 0) return false;
    if ((i.type === 'APPLY_ACTIONS' || i.type === 'WRITE_ACTIONS') && i.actions.some((a) => a.type === 'EXPERIMENTER' && a.data.length % 8 !== 0)) return false;
  }
  return true;
}

/**
 * The edits in `bytes` (encodeEdits), validated and in canonical form. Throws JsonShapeError
 * naming `path[i]` for the first bad record.
 */
export function decodeEdits(bytes: Buffer, path = 'bin', maxEdits = Number.POSITIVE_INFINITY): TableEdit[] {
  const r = new Reader({ message: bytes, messageType: 'delta edits' }, 0, bytes.length, path);
  const edits: TableEdit[] = [];
  while (r.remaining > 0) {
    const at = `${path}[${edits.length}]`;
    if (edits.length >= maxEdits) throw new JsonShapeError(path, `more than ${maxEdits} edits`);
    try {
      edits.push(decodeEdit(r, edits.length));
    } catch (error) {
      if (error instanceof DecodeError) throw new JsonShapeError(at, error.message);
      if (error instanceof MatchValueError) throw new JsonShapeError(at, error.message);
      throw error;
    }
  }
  return edits;
}

function decodeEdit(parent: Reader, index: number): TableEdit {
  const start = parent.pos;
  const length = parent.u16('edit length');
  if (length < HEAD_BYTES + 8) parent.fail('BAD_LENGTH', `edit length ${length} < ${HEAD_BYTES + 8}`, { offset: start });
  parent.pos = start;
  const r = parent.sub(length, `[${index}]`, `edit of ${length} bytes`);
  r.pos += 2;
  const op = r.u8('op');
  const tableId = r.u8('table_id');
  const priority = r.u16('priority');
  const idleTimeout = r.u16('idle_timeout');
  const hardTimeout = r.u16('hard_timeout');
  const flags = r.u16('flags');
  r.pad(4);
  const cookie = r.u64('cookie');
  const match = decodeMatch(r);
  if (op === DEL) {
    r.done('a del edit');
    return { op: 'del', id: { tableId, priority, match: normalizeMatch(match) } };
  }
  if (op !== PUT) r.fail('UNKNOWN_TYPE', `edit op ${op} is neither put (1) nor del (2)`, { offset: start + 2 });
  if (tableId > OFP.OFPTT_MAX) r.fail('BAD_VALUE', `a flow lives in tables 0..${OFP.OFPTT_MAX}, not ${tableId}`, { offset: start + 3 });
  const entry: FlowEntry = { tableId, priority, match, cookie, idleTimeout, hardTimeout, flags, instructions: decodeInstructions(r) };
  return { op: 'put', entry: normalizeEntry(entry) };
}
