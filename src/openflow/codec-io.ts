/**
 * Bounds-checked cursor over a message (Reader) and a growable buffer (Writer). Every read
 * checks its bounds first and every nested structure gets a child Reader limited to its own
 * length, so a lying length can never make the decoder read past its structure, past the
 * message, or allocate more than the message holds.
 */
import { DecodeError, EncodeError, type DecodeErrorReason, type OfHeader } from './errors.js';

/** What every DecodeError of one message shares. */
const BAD_REQUEST_LEN = { errorType: 1 /* OFPET_BAD_REQUEST */, code: 6 /* OFPBRC_BAD_LEN */ };

export interface DecodeContext {
  /** The whole message (offsets are relative to its first byte). */
  message: Buffer;
  messageType?: string;
  header?: OfHeader;
}

export class Reader {
  pos: number;

  constructor(
    readonly ctx: DecodeContext,
    start: number,
    /** Exclusive end: nothing at or after it is ever read. */
    readonly end: number,
    readonly where: string,
  ) {
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(
    reason: DecodeErrorReason,
    detail: string,
    opts: { offset?: number; ofpError?: { errorType: number; code: number } } = {},
  ): never {
    throw new DecodeError(
      detail,
      {
        reason,
        offset: opts.offset ?? this.pos,
        where: this.where,
        messageType: this.ctx.messageType,
        header: this.ctx.header,
        ofpError: opts.ofpError,
      },
      this.ctx.message,
    );
  }

  /** Fails with TRUNCATED unless `n` more bytes are there. */
  need(n: number, what: string): void {
    if (n > this.end - this.pos) {
      this.fail('TRUNCATED', `${what} needs ${n} bytes, only ${this.end - this.pos} left`);
    }
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.ctx.message[this.pos++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.ctx.message.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.ctx.message.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    this.need(8, what);
    const v = this.ctx.message.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A copy of the next `n` bytes. */
  bytes(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const out = Buffer.from(this.ctx.message.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  /** A copy of everything left. */
  rest(): Buffer {
    return this.bytes(this.remaining);
  }

  /** Skips padding (its content is not checked: senders do not all zero it). */
  pad(n: number, what = 'padding'): void {
    this.need(n, what);
    this.pos += n;
  }

  /**
   * A child reader over the next `len` bytes (advancing this one past them). A length that runs
   * past this reader's end is a lying length: BAD_LENGTH, reported at the child's path, with the
   * OpenFlow error a switch would answer (default OFPET_BAD_REQUEST/OFPBRC_BAD_LEN).
   */
  sub(len: number, where: string, what = where, ofpError = BAD_REQUEST_LEN): Reader {
    if (len > this.end - this.pos) {
      throw new DecodeError(
        `${what} runs past the end of its container (${this.end - this.pos} bytes left)`,
        {
          reason: 'BAD_LENGTH', offset: this.pos, where: `${this.where}.${where}`,
          messageType: this.ctx.messageType, header: this.ctx.header, ofpError,
        },
        this.ctx.message,
      );
    }
    const child = new Reader(this.ctx, this.pos, this.pos + len, `${this.where}.${where}`);
    this.pos += len;
    return child;
  }

  /** Fails unless every byte was consumed (a fixed-size structure with trailing bytes). */
  done(what: string): void {
    if (this.pos !== this.end) {
      this.fail('BAD_LENGTH', `${this.end - this.pos} unexpected bytes after ${what}`);
    }
  }

  /** A NUL-terminated string in a fixed field of `n` bytes (UTF-8). */
  fixedString(n: number, what: string): string {
    this.need(n, what);
    const raw = this.ctx.message.subarray(this.pos, this.pos + n);
    this.pos += n;
    const nul = raw.indexOf(0);
    return raw.subarray(0, nul === -1 ? n : nul).toString('utf8');
  }
}

/** Rounds up to a multiple of 8. */
export function pad8(n: number): number {
  return (n + 7) & ~7;
}

export class Writer {
  private buf: Buffer;
  pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.alloc(initialSize);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private int(v: number, bits: number, path: string, field: string): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** bits - 1) {
      throw new EncodeError(`${path}.${field}`, `expected an unsigned ${bits}-bit integer, got ${String(v)}`);
    }
    return v;
  }

  u8(v: number, path: string, field: string): void {
    this.int(v, 8, path, field);
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number, path: string, field: string): void {
    this.int(v, 16, path, field);
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }

  u32(v: number, path: string, field: string): void {
    this.int(v, 32, path, field);
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  u64(v: bigint, path: string, field: string): void {
    if (typeof v !== 'bigint' || v < 0n || v > 0xffffffffffffffffn) {
      throw new EncodeError(`${path}.${field}`, `expected an unsigned 64-bit bigint, got ${String(v)}`);
    }
    this.ensure(8);
    this.buf.writeBigUInt64BE(v, this.pos);
    this.pos += 8;
  }

  bytes(b: Buffer | Uint8Array, path: string, field: string): void {
    if (!(b instanceof Uint8Array)) throw new EncodeError(`${path}.${field}`, 'expected a Buffer');
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  zeros(n: number): void {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
  }

  /** Pads with zeros to a multiple of 8 counted from `start`. */
  align8(start: number): void {
    this.zeros(pad8(this.pos - start) - (this.pos - start));
  }

  /** A string in a fixed field of `n` bytes, NUL-padded (at most `n` UTF-8 bytes). */
  fixedString(s: string, n: number, path: string, field: string): void {
    if (typeof s !== 'string') throw new EncodeError(`${path}.${field}`, 'expected a string');
    const b = Buffer.from(s, 'utf8');
    if (b.length > n) throw new EncodeError(`${path}.${field}`, `${b.length} UTF-8 bytes do not fit in ${n}`);
    this.bytes(b, path, field);
    this.zeros(n - b.length);
  }

  /** Writes a 16-bit length computed after the fact at `at`. */
  patchU16(at: number, v: number, path: string, field: string): void {
    if (v > 0xffff) throw new EncodeError(`${path}.${field}`, `length ${v} exceeds 65535`);
    this.buf.writeUInt16BE(v, at);
  }

  /** The bytes written so far (a copy-free view of a fresh buffer sized exactly). */
  finish(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}
