import { expect } from 'chai';
import {
  DecodeError, EncodeError, OFP, applyActions, decodeMessage, encodeMessage, flowMod, match, output, type OfMessage,
} from '../../../src/openflow/codec.js';

/** ONF bundle messages (EXT-230 in OpenFlow 1.3), byte by byte. Round-trip properties: codec-properties.test.ts. */
describe('ONF bundle messages (codec)', function () {
  const flows = flowMod({ priority: 10, match: match({ in_port: 1 }), instructions: [applyActions(output(2))] });

  it('encodes a bundle control as OVS prints it (ovs-ofctl ofp-print: "bundle_id=0x7 type=COMMIT_REQUEST flags=atomic ordered")', function () {
    const bytes = encodeMessage({
      type: 'BUNDLE_CONTROL', xid: 0x11, bundleId: 7, controlType: OFP.OFPBCT_COMMIT_REQUEST, flags: OFP.OFPBF_ATOMIC | OFP.OFPBF_ORDERED,
    });
    expect(bytes.toString('hex')).to.equal('04040018' + '00000011' + '4f4e4600' + '000008fc' + '00000007' + '0004' + '0003');
    expect(decodeMessage(bytes)).to.deep.equal({ type: 'BUNDLE_CONTROL', xid: 0x11, bundleId: 7, controlType: 4, flags: 3 });
  });

  it('wraps a message in a bundle add, the add\'s xid inside, and decodes the added message', function () {
    const bytes = encodeMessage({ type: 'BUNDLE_ADD_MESSAGE', xid: 0x22, bundleId: 7, flags: OFP.OFPBF_ORDERED, message: flows });
    const inner = encodeMessage({ ...flows, xid: 0x22 });
    expect(bytes.length).to.equal(16 + 8 + inner.length);
    expect(bytes.subarray(0, 24).toString('hex')).to.equal(`0404${(24 + inner.length).toString(16).padStart(4, '0')}` + '00000022' + '4f4e4600' + '000008fd' + '00000007' + '0000' + '0002');
    expect(bytes.subarray(24).equals(inner)).to.equal(true);
    const decoded = decodeMessage(bytes);
    expect(decoded).to.deep.equal({ type: 'BUNDLE_ADD_MESSAGE', xid: 0x22, bundleId: 7, flags: 2, message: { ...flows, xid: 0x22 } });
  });

  it('refuses an added message with an xid of its own (Open vSwitch would answer OFPBFC_MSG_BAD_XID)', function () {
    const m: OfMessage = { type: 'BUNDLE_ADD_MESSAGE', xid: 5, bundleId: 1, flags: 0, message: { ...flows, xid: 6 } };
    expect(() => encodeMessage(m)).to.throw(EncodeError).with.property('field', 'BUNDLE_ADD_MESSAGE.message.xid');
    const { xid: _, ...withoutXid } = flows;
    expect(encodeMessage({ ...m, message: { ...flows, xid: 5 } }).equals(encodeMessage({ ...m, message: withoutXid }))).to.equal(true);
    expect(encodeMessage({ ...m, message: { ...flows, xid: 0 } }).equals(encodeMessage({ ...m, message: withoutXid }))).to.equal(true);
  });

  it('names a bad field of the added message by its path', function () {
    const m: OfMessage = { type: 'BUNDLE_ADD_MESSAGE', xid: 5, bundleId: 1, flags: 0, message: flowMod({ priority: 1 << 16 }) };
    expect(() => encodeMessage(m)).to.throw(EncodeError).with.property('field', 'BUNDLE_ADD_MESSAGE.message.priority');
    const nested: OfMessage = { type: 'BUNDLE_ADD_MESSAGE', xid: 5, bundleId: 1, flags: 0, message: { type: 'BUNDLE_CONTROL', bundleId: 1, controlType: 0, flags: 0 } };
    expect(() => encodeMessage(nested)).to.throw(EncodeError).with.property('field', 'BUNDLE_ADD_MESSAGE.message.type');
  });

  it('pads the added message to 8 bytes before properties, and keeps properties as bytes', function () {
    const barrier = { type: 'BARRIER_REQUEST' as const };
    const props = Buffer.from('0001000800000000', 'hex');
    const bytes = encodeMessage({ type: 'BUNDLE_ADD_MESSAGE', xid: 9, bundleId: 2, flags: 1, message: { type: 'ECHO_REQUEST', data: Buffer.from('abc') }, properties: props });
    // 24 + an 11-byte echo request padded to 16 + 8 bytes of properties.
    expect(bytes.length).to.equal(24 + 16 + 8);
    expect(bytes.subarray(24 + 11, 24 + 16).toString('hex')).to.equal('0000000000');
    const decoded = decodeMessage(bytes);
    expect(decoded).to.deep.include({ type: 'BUNDLE_ADD_MESSAGE', properties: props });
    const control = encodeMessage({ type: 'BUNDLE_CONTROL', xid: 1, bundleId: 2, controlType: 0, flags: 0, properties: props });
    expect(decodeMessage(control)).to.deep.include({ properties: props });
    expect(encodeMessage({ type: 'BUNDLE_ADD_MESSAGE', xid: 9, bundleId: 2, flags: 1, message: barrier }).length).to.equal(32);
  });

  it('decoding a bundle add whose message is bad says where', function () {
    const bytes = Buffer.from(encodeMessage({ type: 'BUNDLE_ADD_MESSAGE', xid: 5, bundleId: 1, flags: 0, message: flows }));
    bytes[24] = 1; // the added message claims OpenFlow 1.0
    const error = (() => {
      try {
        decodeMessage(bytes);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).to.be.instanceOf(DecodeError);
    expect(error).to.include({ reason: 'BAD_VERSION', offset: 24, messageType: 'BUNDLE_ADD_MESSAGE' });
    expect((error as DecodeError).where).to.match(/^BUNDLE_ADD_MESSAGE\.message\./);

    const short = Buffer.from(encodeMessage({ type: 'BUNDLE_ADD_MESSAGE', xid: 5, bundleId: 1, flags: 0, message: flows }));
    short.writeUInt16BE(short.length + 8 - 24, 26); // the added message says 8 bytes more than there are
    expect(() => decodeMessage(short)).to.throw(DecodeError).with.property('ofpError').that.deep.equals({ errorType: OFP.OFPET_EXPERIMENTER, code: OFP.OFPBFC_MSG_BAD_LEN });
  });

  it('an ONF experimenter message of another exp_type stays EXPERIMENTER', function () {
    const m: OfMessage = { type: 'EXPERIMENTER', xid: 1, experimenter: OFP.ONF_EXPERIMENTER_ID, expType: 2302, data: Buffer.alloc(8) };
    expect(decodeMessage(encodeMessage(m))).to.deep.equal(m);
  });
});
