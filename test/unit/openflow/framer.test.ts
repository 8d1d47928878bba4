import { expect } from 'chai';
import { DecodeError, OfFramer, barrierRequest, encodeMessage, echoRequest } from '../../../src/openflow/codec.js';

describe('OfFramer', function () {
  const a = encodeMessage(echoRequest(1, Buffer.from('hello')));
  const b = encodeMessage(barrierRequest(2));

  it('returns nothing until a message is complete, and keeps the leftover', function () {
    const f = new OfFramer();
    expect(f.push(a.subarray(0, 5))).to.deep.equal([]);
    expect(f.bufferedBytes).to.equal(5);
    const out = f.push(Buffer.concat([a.subarray(5), b.subarray(0, 3)]));
    expect(out.map((x) => x.toString('hex'))).to.deep.equal([a.toString('hex')]);
    expect(f.bufferedBytes).to.equal(3);
    expect(f.push(b.subarray(3)).map((x) => x.toString('hex'))).to.deep.equal([b.toString('hex')]);
    expect(f.bufferedBytes).to.equal(0);
  });

  it('returns every message of a chunk holding several', function () {
    expect(new OfFramer().push(Buffer.concat([a, b, a]))).to.have.length(3);
  });

  it('rejects a header length below 8, and stays failed', function () {
    const f = new OfFramer();
    expect(() => f.push(Buffer.from('0402000400000001', 'hex'))).to.throw(DecodeError, /less than the 8-byte header/);
    expect(f.failed).to.equal(true);
    expect(() => f.push(b)).to.throw(DecodeError);
  });

  it('rejects a message above its limit before buffering it', function () {
    const f = new OfFramer({ maxMessageBytes: 1024 });
    const e = (() => {
      try {
        f.push(Buffer.from('0402080000000001', 'hex'));
      } catch (err) {
        return err as DecodeError;
      }
      throw new Error('expected a DecodeError');
    })();
    expect(e.reason).to.equal('BAD_LENGTH');
    expect(e.header).to.deep.equal({ version: 4, type: 2, length: 2048, xid: 1 });
    expect(f.bufferedBytes).to.equal(0);
  });

  it('refuses a limit above what a header can state', function () {
    expect(() => new OfFramer({ maxMessageBytes: 70000 })).to.throw(RangeError);
  });
});
