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

/** Largest value of an unsigned integer of each width (index: bits / 8). */
const UINT_MAX = [0, 0xff, 0xffff, 0xffffff, 0xffffffff];
const U64_MAX = 0xffffffffffffffffn;

/**
 * An append-only encoder over a growable buffer. The common path is cheap: no zero-filling
 * (every byte up to `pos` is written explicitly), range checks are a comparison or two, and the
 * field path of an error is only put together when a value is refused. One Writer can be reused
 * for many messages (`reset`), which is how encodeMessage and the connection's output chunks
 * avoid an allocation per message.
 */
export class Writer {
  buf: Buffer;
  pos = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Back to empty (the buffer is kept). */
  reset(): void {
    this.pos = 0;
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number, path: string, field: string): void {
    if (typeof v !== 'number' || (v & 0xff) !== v) badUint(v, 8, path, field);
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number, path: string, field: string): void {
    if (typeof v !== 'number' || (v & 0xffff) !== v) badUint(v, 16, path, field);
    if (this.pos + 2 > this.buf.length) this.grow(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 8;
    b[p + 1] = v;
    this.pos = p + 2;
  }

  u32(v: number, path: string, field: string): void {
    if (typeof v !== 'number' || v >>> 0 !== v) badUint(v, 32, path, field);
    this.put32(v);
  }

  u64(v: bigint, path: string, field: string): void {
    if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) {
      throw new EncodeError(`${path}.${field}`, `expected an unsigned 64-bit bigint, got ${String(v)}`);
    }
    if (this.pos + 8 > this.buf.length) this.grow(8);
    // Two 32-bit halves: cheaper than writeBigUInt64BE's own checks.
    this.put32Unchecked(Number(v >> 32n));
    this.put32Unchecked(Number(v & 0xffffffffn));
  }

  /** An unsigned integer of 1 to 4 bytes, already known to fit. */
  uintN(v: number, bytes: number): void {
    if (this.pos + bytes > this.buf.length) this.grow(bytes);
    const b = this.buf;
    let p = this.pos;
    if (bytes === 4) b[p++] = v >>> 24;
    if (bytes >= 3) b[p++] = v >>> 16;
    if (bytes >= 2) b[p++] = v >>> 8;
    b[p++] = v;
    this.pos = p;
  }

  /** Unchecked writes, for values that cannot be out of range (constants, lengths, checked input). */
  put8(v: number): void {
    if (this.pos + 1 > this.buf.length) this.grow(1);
    this.buf[this.pos++] = v;
  }

  put16(v: number): void {
    if (this.pos + 2 > this.buf.length) this.grow(2);
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 8;
    b[p + 1] = v;
    this.pos = p + 2;
  }

  put32(v: number): void {
    if (this.pos + 4 > this.buf.length) this.grow(4);
    this.put32Unchecked(v);
  }

  private put32Unchecked(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  bytes(b: Buffer | Uint8Array, path: string, field: string): void {
    if (!(b instanceof Uint8Array)) throw new EncodeError(`${path}.${field}`, 'expected a Buffer');
    if (this.pos + b.length > this.buf.length) this.grow(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  zeros(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
    const b = this.buf;
    const end = this.pos + n;
    for (let p = this.pos; p < end; p++) b[p] = 0;
    this.pos = end;
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
    this.buf[at] = v >>> 8;
    this.buf[at + 1] = v;
  }

  /** Overwrites two bytes already written (a length known only afterwards); unchecked. */
  setU16(at: number, v: number): void {
    this.buf[at] = v >>> 8;
    this.buf[at + 1] = v;
  }

  /** A copy of the bytes written so far, in a buffer of exactly that size. */
  finish(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }
}

/** The refusal of a value that is not an unsigned integer of `bits` bits (the slow path). */
export function badUint(v: unknown, bits: number, path: string, field: string): never {
  throw new EncodeError(`${path}.${field}`, `expected an unsigned ${bits}-bit integer, got ${String(v)}`);
}

/** Whether `v` is an integer that fits in `bytes` unsigned bytes (1 to 4). */
export function fitsUint(v: unknown, bytes: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= UINT_MAX[bytes]!;
}
