/**
 * Property tests of the codec: every message round-trips; no input makes the decoder throw
 * anything but DecodeError (or hang, or read past the message); the framer rebuilds a stream
 * cut anywhere.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { DecodeError, OfFramer, decodeMessage, encodeMessage, type OfMessage } from '../../../src/openflow/codec.js';
import { diff } from '../../helpers/openflow-ryu.js';
import { message, messageByType } from '../../helpers/openflow-arbitraries.js';

/** Decodes, accepting success or DecodeError; anything else fails the property. */
function decodeOrDecodeError(buf: Buffer): OfMessage | DecodeError {
  try {
    return decodeMessage(buf);
  } catch (err) {
    // A DecodeError with a cause wraps an internal exception: a codec bug, not bad input.
    if (err instanceof DecodeError && (err as { cause?: unknown }).cause === undefined) return err;
    throw new Error(`decodeMessage threw ${String(err)} (not a DecodeError) for ${buf.toString('hex')}`);
  }
}

describe('codec properties', function () {
  describe('decode(encode(m)) equals m', function () {
    for (const [type, arb] of Object.entries(messageByType)) {
      it(type, function () {
        fc.assert(fc.property(arb as fc.Arbitrary<OfMessage>, (m) => {
          const bytes = encodeMessage(m);
          expect(bytes.readUInt16BE(2), 'header length').to.equal(bytes.length);
          const back = decodeMessage(bytes);
          const d = diff(m, back);
          expect(d, d).to.equal(undefined);
          // And the bytes are stable: encoding the decoded message gives them again.
          expect(encodeMessage(back).equals(bytes)).to.equal(true);
        }), { numRuns: 150 });
      });
    }
  });

  describe('hostile input yields only DecodeError', function () {
    it('random bytes', function () {
      fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        decodeOrDecodeError(Buffer.from(b));
      }), { numRuns: 2000 });
    });

    it('random bodies behind a consistent version-4 header, for every type number', function () {
      fc.assert(fc.property(fc.integer({ min: 0, max: 40 }), fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 0, max: 0xffff }), (type, body, word) => {
        const buf = Buffer.alloc(8 + body.length);
        buf[0] = 4;
        buf[1] = type;
        buf.writeUInt16BE(buf.length, 2);
        Buffer.from(body).copy(buf, 8);
        // Give multipart bodies a plausible kind so the per-kind parsers are reached.
        if ((type === 18 || type === 19) && buf.length >= 10) buf.writeUInt16BE(word % 16 === 15 ? 0xffff : word % 16, 8);
        decodeOrDecodeError(buf);
      }), { numRuns: 3000 });
    });

    it('truncated messages (header still claiming the full length)', function () {
      fc.assert(fc.property(message, fc.nat(), (m, cut) => {
        const bytes = encodeMessage(m);
        const at = cut % bytes.length;
        const r = decodeOrDecodeError(bytes.subarray(0, at));
        expect(r).to.be.instanceOf(DecodeError);
        expect((r as DecodeError).reason).to.equal('TRUNCATED');
      }), { numRuns: 500 });
    });

    it('truncated messages whose header was patched to the shorter length', function () {
      fc.assert(fc.property(message, fc.nat(), (m, cut) => {
        const bytes = Buffer.from(encodeMessage(m));
        const at = 8 + (cut % Math.max(1, bytes.length - 8));
        const short = bytes.subarray(0, at);
        short.writeUInt16BE(at, 2);
        decodeOrDecodeError(short);
      }), { numRuns: 1000 });
    });

    it('lying lengths and flipped bytes inside valid messages', function () {
      fc.assert(fc.property(message, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0xffff })), { minLength: 1, maxLength: 4 }), (m, edits) => {
        const bytes = Buffer.from(encodeMessage(m));
        if (bytes.length <= 9) return;
        for (const [pos, value] of edits) {
          // Anywhere after the header's length field: a 16-bit value (lengths are 16-bit).
          const at = 4 + (pos % (bytes.length - 5));
          bytes.writeUInt16BE(value, at);
        }
        const r = decodeOrDecodeError(bytes);
        if (r instanceof DecodeError) {
          expect(r.offset).to.be.within(0, bytes.length);
        }
      }), { numRuns: 3000 });
    });

    it('trailing bytes after a message are rejected', function () {
      fc.assert(fc.property(message, fc.uint8Array({ minLength: 1, maxLength: 16 }), (m, extra) => {
        const r = decodeOrDecodeError(Buffer.concat([encodeMessage(m), Buffer.from(extra)]));
        expect(r).to.be.instanceOf(DecodeError);
      }), { numRuns: 300 });
    });
  });

  describe('framer', function () {
    it('yields exactly the messages of a stream split at random points', function () {
      fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 12 }), (msgs, cuts) => {
        const frames = msgs.map(encodeMessage);
        const stream = Buffer.concat(frames);
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const framer = new OfFramer();
        const got: Buffer[] = [];
        let prev = 0;
        for (const p of [...points, stream.length]) {
          got.push(...framer.push(stream.subarray(prev, p)));
          prev = p;
        }
        expect(got.length).to.equal(frames.length);
        got.forEach((g, i) => expect(g.equals(frames[i]!), `frame ${i}`).to.equal(true));
        expect(framer.bufferedBytes).to.equal(0);
        got.forEach((g, i) => expect(diff(msgs[i], decodeMessage(g))).to.equal(undefined));
      }), { numRuns: 300 });
    });

    it('byte by byte, never holds more than one incomplete message', function () {
      fc.assert(fc.property(fc.array(message, { minLength: 1, maxLength: 4 }), (msgs) => {
        const frames = msgs.map(encodeMessage);
        const stream = Buffer.concat(frames);
        const framer = new OfFramer();
        let n = 0;
        for (let i = 0; i < stream.length; i++) {
          n += framer.push(stream.subarray(i, i + 1)).length;
          expect(framer.bufferedBytes).to.be.below(65536);
        }
        expect(n).to.equal(frames.length);
      }), { numRuns: 50 });
    });

    it('random streams: only DecodeError, and once failed it stays failed', function () {
      fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 10 }), (chunks) => {
        const framer = new OfFramer();
        let failed = false;
        for (const c of chunks) {
          try {
            framer.push(Buffer.from(c));
            expect(failed).to.equal(false);
          } catch (err) {
            expect(err).to.be.instanceOf(DecodeError);
            failed = true;
          }
        }
        expect(framer.failed).to.equal(failed);
      }), { numRuns: 1000 });
    });
  });
});
