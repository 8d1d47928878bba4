/**
 * Cuts a TCP byte stream into OpenFlow messages, driven by the header's length field.
 *
 * `push(chunk)` returns every message completed by that chunk (each a Buffer holding exactly one
 * message, ready for decodeMessage) and keeps the leftover bytes for the next push. Memory is
 * bounded: at most one incomplete message (≤ maxMessageBytes) is buffered between pushes.
 * A header claiming fewer than 8 bytes, or more than maxMessageBytes, means the stream has lost
 * its framing: push throws a DecodeError and the framer stays failed (the connection must close).
 */
import * as C from './constants.js';
import { DecodeError } from './errors.js';

export interface FramerOptions {
  /** Largest message accepted (default and ceiling: 65535, all a 16-bit length can say). */
  maxMessageBytes?: number;
}

export class OfFramer {
  private readonly maxMessageBytes: number;
  /** Bytes received but not yet returned (always less than one whole message). */
  private pending: Buffer = Buffer.alloc(0);
  private failure: DecodeError | undefined;

  constructor(opts: FramerOptions = {}) {
    const max = opts.maxMessageBytes ?? C.OFP_MAX_MESSAGE_SIZE;
    if (!Number.isInteger(max) || max < C.OFP_HEADER_SIZE || max > C.OFP_MAX_MESSAGE_SIZE) {
      throw new RangeError(`maxMessageBytes (${max}) must be an integer from 8 to 65535`);
    }
    this.maxMessageBytes = max;
  }

  /** Bytes held back waiting for the rest of a message. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  /** Whether a framing error was met (every later push rethrows it). */
  get failed(): boolean {
    return this.failure !== undefined;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.failure) throw this.failure;
    const data = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    let pos = 0;
    while (data.length - pos >= C.OFP_HEADER_SIZE) {
      const length = data.readUInt16BE(pos + 2);
      if (length < C.OFP_HEADER_SIZE || length > this.maxMessageBytes) {
        const header = {
          version: data[pos]!, type: data[pos + 1]!, length, xid: data.readUInt32BE(pos + 4),
        };
        this.failure = new DecodeError(
          length < C.OFP_HEADER_SIZE
            ? `header length ${length} is less than the 8-byte header: the stream is out of sync`
            : `header length ${length} exceeds the limit of ${this.maxMessageBytes} bytes`,
          { reason: 'BAD_LENGTH', offset: 2, where: 'framer', header, messageType: `type ${header.type}`,
            ofpError: { errorType: C.OFPET_BAD_REQUEST, code: C.OFPBRC_BAD_LEN } },
          data.subarray(pos, pos + C.OFP_HEADER_SIZE),
        );
        this.pending = Buffer.alloc(0);
        throw this.failure;
      }
      if (data.length - pos < length) break;
      out.push(data.subarray(pos, pos + length));
      pos += length;
    }
    // Copy the leftover so the (possibly large) chunk it came from can be freed.
    this.pending = pos === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(pos));
    return out;
  }
}
