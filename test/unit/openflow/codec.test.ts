import { readFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import {
  DecodeError, EncodeError, OFP, applyActions, decodeMessage, encodeMessage, encodeMessageInto, flowMod, flowStatsRequest,
  preEncode,
  gotoTable, hello, match, output, peekHeader, roleRequest, type OfMessage,
} from '../../../src/openflow/codec.js';
import { Writer } from '../../../src/openflow/codec-io.js';

const here = dirname(fileURLToPath(import.meta.url));
const CORPUS = process.env.FLOWKEEPER_CONFORMANCE_DIR ?? resolve(here, '../../../../shared/conformance/openflow13');

function decodeError(buf: Buffer): DecodeError {
  try {
    decodeMessage(buf);
  } catch (err) {
    expect(err).to.be.instanceOf(DecodeError);
    return err as DecodeError;
  }
  throw new Error('expected a DecodeError');
}

describe('openflow codec', function () {
  describe('ONF role status (what OVS sends a demoted controller in OpenFlow 1.3)', function () {
    // OFPT_EXPERIMENTER, experimenter 0x4F4E4600, exp_type 1911, then ofp14_role_status:
    // role u32, reason u8, pad[3], generation_id u64 (OVS ofputil_encode_role_status).
    const bytes = Buffer.from('04040020' + '00000000' + '4f4e4600' + '00000777' + '00000003' + '00000000' + '0000000000000007', 'hex');

    it('decodes into ROLE_STATUS with role, reason and generation id', function () {
      expect(decodeMessage(bytes)).to.deep.equal({
        type: 'ROLE_STATUS', xid: 0, role: OFP.OFPCR_ROLE_SLAVE, reason: OFP.OFPCRR_MASTER_REQUEST, generationId: 7n,
      });
    });

    it('encodes back to the same bytes', function () {
      expect(encodeMessage(decodeMessage(bytes)).equals(bytes)).to.equal(true);
    });

    it('rejects a role status body of the wrong size', function () {
      const short = Buffer.concat([bytes.subarray(0, 28)]);
      short.writeUInt16BE(28, 2);
      expect(decodeError(short).reason).to.equal('TRUNCATED');
    });

    it('leaves other experimenter messages as EXPERIMENTER', function () {
      const other = Buffer.from(bytes);
      other.writeUInt32BE(1912, 12);
      const m = decodeMessage(other);
      expect(m.type).to.equal('EXPERIMENTER');
    });
  });

  describe('ROLE_REQUEST', function () {
    it('carries the election term as a 64-bit generation id', function () {
      const m = roleRequest(OFP.OFPCR_ROLE_MASTER, 0xf000f000f000f000n, 42);
      const bytes = encodeMessage(m);
      expect(bytes.toString('hex')).to.equal('041800180000002a' + '00000002' + '00000000' + 'f000f000f000f000');
      expect(decodeMessage(bytes)).to.deep.equal(m);
    });
  });

  describe('HELLO', function () {
    it('hello() announces OpenFlow 1.3 in a version bitmap', function () {
      expect(encodeMessage(hello(7)).toString('hex')).to.equal('04000010000000070001000800000010');
    });

    it('keeps the header version of a peer that speaks a later version (for negotiation)', function () {
      const peer = Buffer.from('06000010000000010001000800000050', 'hex'); // versions 4 and 6
      expect(decodeMessage(peer)).to.deep.equal({ type: 'HELLO', xid: 1, version: 6, elements: [{ type: 'VERSION_BITMAP', versions: [4, 6] }] });
    });

    it('accepts a bare OpenFlow 1.0 style hello', function () {
      expect(decodeMessage(Buffer.from('0100000800000009', 'hex'))).to.deep.equal({ type: 'HELLO', xid: 9, version: 1, elements: [] });
    });
  });

  describe('builders', function () {
    it('flowMod/match/gotoTable rebuild capture 4-3 byte for byte', function () {
      const path = resolve(CORPUS, '4-3-ofp_flow_mod.packet');
      if (!existsSync(path)) this.skip();
      const m = flowMod({
        tableId: 0, priority: 123, bufferId: 0xffff,
        match: match({ in_port: 6, eth_src: 'f2:0b:a4:7d:f8:ea' }),
        instructions: [gotoTable(1)],
      });
      expect(encodeMessage(m).equals(readFileSync(path))).to.equal(true);
    });

    it('flowMod defaults follow the spec', function () {
      const m = flowMod({ match: match({ tcp_dst: 80, eth_type: 0x0800, ip_proto: 6 }), instructions: [applyActions(output(2))] });
      expect(m).to.include({ command: OFP.OFPFC_ADD, priority: 0x8000, bufferId: OFP.OFP_NO_BUFFER, outPort: OFP.OFPP_ANY, outGroup: OFP.OFPG_ANY, cookie: 0n });
      // match() puts prerequisites first (field-number order).
      expect(m.match.map((f) => f.field)).to.deep.equal(['eth_type', 'ip_proto', 'tcp_dst']);
      expect(m.instructions).to.deep.equal([{ type: 'APPLY_ACTIONS', actions: [{ type: 'OUTPUT', port: 2, maxLen: 0xffff }] }]);
      expect(decodeMessage(encodeMessage(m))).to.deep.equal(m);
    });

    it('flowStatsRequest asks for every flow of every table by default', function () {
      const m = flowStatsRequest();
      expect(m.body).to.deep.equal({ kind: 'FLOW', tableId: OFP.OFPTT_ALL, outPort: OFP.OFPP_ANY, outGroup: OFP.OFPG_ANY, cookie: 0n, cookieMask: 0n, match: [] });
      expect(encodeMessage(m).length).to.equal(56);
    });
  });

  describe('DecodeError says where, why and in what', function () {
    const fm = encodeMessage(flowMod({ xid: 0x1234, match: match({ in_port: 1 }), instructions: [applyActions(output(2))] }));

    it('a truncated FLOW_MOD', function () {
      const short = Buffer.from(fm.subarray(0, fm.length - 4));
      short.writeUInt16BE(short.length, 2);
      const e = decodeError(short);
      expect(e.reason).to.equal('BAD_LENGTH');
      expect(e.messageType).to.equal('FLOW_MOD');
      expect(e.xid).to.equal(0x1234);
      expect(e.where).to.match(/^FLOW_MOD\.instructions\[0\]/);
      expect(e.offset).to.be.within(8, short.length);
      expect(e.message).to.include('FLOW_MOD');
    });

    it('an action length that lies', function () {
      const bad = Buffer.from(fm);
      // The output action's len field: after header(8)+fixed(40)+match(16)+instruction header(8).
      bad.writeUInt16BE(24, 8 + 40 + 16 + 8 + 2);
      const e = decodeError(bad);
      expect(e.where).to.equal('FLOW_MOD.instructions[0].actions[0]');
      expect(e.ofpError).to.deep.equal({ errorType: OFP.OFPET_BAD_ACTION, code: OFP.OFPBAC_BAD_LEN });
    });

    it('an unknown message type carries the error to answer with', function () {
      const e = decodeError(Buffer.from('04630008000000ff', 'hex'));
      expect(e.reason).to.equal('UNKNOWN_TYPE');
      expect(e.messageType).to.equal('type 99');
      expect(e.ofpError).to.deep.equal({ errorType: OFP.OFPET_BAD_REQUEST, code: OFP.OFPBRC_BAD_TYPE });
      expect(e.xid).to.equal(0xff);
    });

    it('a version other than 1.3', function () {
      const e = decodeError(Buffer.from('0514000800000001', 'hex'));
      expect(e.reason).to.equal('BAD_VERSION');
      expect(e.ofpError).to.deep.equal({ errorType: OFP.OFPET_BAD_REQUEST, code: OFP.OFPBRC_BAD_VERSION });
    });

    it('a header length that disagrees with the buffer', function () {
      expect(decodeError(Buffer.from('0414000900000001', 'hex')).reason).to.equal('TRUNCATED');
      expect(decodeError(Buffer.from('041400080000000100', 'hex')).reason).to.equal('BAD_LENGTH');
      expect(decodeError(Buffer.from('0414', 'hex')).reason).to.equal('TRUNCATED');
    });

    it('an unknown multipart type', function () {
      const e = decodeError(Buffer.from('041200100000000100630000' + '00000000', 'hex'));
      expect(e.ofpError).to.deep.equal({ errorType: OFP.OFPET_BAD_REQUEST, code: OFP.OFPBRC_BAD_MULTIPART });
    });

    it('decodeMessage of a non-Buffer is a DecodeError too', function () {
      expect(() => decodeMessage('nope' as unknown as Buffer)).to.throw(DecodeError);
    });
  });

  describe('preEncode', function () {
    it('a message encoded once is written again from its bytes, with the xid it is given', function () {
      const fm = flowMod({ cookie: 7n, priority: 9, match: match({ in_port: 3 }), instructions: [applyActions(output(4))] });
      const bytes = preEncode({ ...fm, xid: 0 } as OfMessage);
      const msg = { ...fm, xid: 0 } as OfMessage;
      preEncode(msg);
      const w = new Writer(16);
      w.u8(0xaa, 'test', 'marker');
      const n = encodeMessageInto(w, msg, 0x01020304);
      expect(n).to.equal(bytes.length);
      const written = w.buf.subarray(1, 1 + n);
      expect(peekHeader(written)).to.include({ xid: 0x01020304, length: bytes.length });
      expect(written.equals(encodeMessage({ ...msg, xid: 0x01020304 } as OfMessage))).to.equal(true);
      expect(decodeMessage(Buffer.from(written))).to.deep.include({ type: 'FLOW_MOD', xid: 0x01020304, cookie: 7n, priority: 9 });
      expect(w.buf[0]).to.equal(0xaa);
    });
  });

  describe('EncodeError names the field', function () {
    const cases: [string, OfMessage, string][] = [
      ['priority out of range', flowMod({ priority: 70000 }), 'FLOW_MOD.priority'],
      ['a cookie that is not a bigint', { ...flowMod(), cookie: 1 as unknown as bigint }, 'FLOW_MOD.cookie'],
      ['a bad MAC in a match', flowMod({ match: [{ field: 'eth_dst', value: 'zz' }] }), 'FLOW_MOD.match[0].value'],
      ['an unknown action', flowMod({ instructions: [applyActions({ type: 'NOPE' } as never)] }), 'FLOW_MOD.instructions[0].actions[0].type'],
      ['an output port out of range', flowMod({ instructions: [applyActions(output(1), output(2 ** 32))] }), 'FLOW_MOD.instructions[0].actions[1].port'],
      ['a bad mask', flowMod({ match: [{ field: 'in_port', value: 1 }, { field: 'ipv4_dst', value: '10.0.0.0', mask: '255.0.0' }] }), 'FLOW_MOD.match[1].mask'],
      ['a field value of the wrong kind', flowMod({ match: [{ field: 'tcp_dst', value: 70000 }] }), 'FLOW_MOD.match[0].value'],
      ['a bad table in goto', flowMod({ instructions: [applyActions(), { type: 'GOTO_TABLE', tableId: 256 }] }), 'FLOW_MOD.instructions[1].tableId'],
      ['a bad set-field value', flowMod({ instructions: [applyActions({ type: 'SET_FIELD', field: { field: 'eth_dst', value: '1:2:3' } })] }), 'FLOW_MOD.instructions[0].actions[0].field.value'],
      ['a non-number xid', { ...flowMod(), xid: 1n as unknown as number }, 'FLOW_MOD.xid'],
    ];
    for (const [what, m, field] of cases) {
      it(what, function () {
        expect(() => encodeMessage(m)).to.throw(EncodeError).with.property('field', field);
      });
    }

    it('says what the value needed and what it got', function () {
      expect(() => encodeMessage(flowMod({ match: [{ field: 'ipv4_dst', value: '10.0.0.256' }] }))).to.throw(EncodeError, `ipv4_dst needs an IPv4 address '10.0.0.1', got "10.0.0.256"`);
      expect(() => encodeMessage(flowMod({ match: [{ field: 'metadata', value: -1n }] }))).to.throw(EncodeError, 'metadata needs an unsigned 64-bit bigint, got -1n');
      expect(() => encodeMessage(flowMod({ priority: 1.5 }))).to.throw(EncodeError, 'expected an unsigned 16-bit integer, got 1.5');
    });

    it('a message that would exceed 65535 bytes', function () {
      expect(() => encodeMessage({ type: 'ECHO_REQUEST', xid: 0, data: Buffer.alloc(70000) })).to.throw(EncodeError, /65535/);
    });
  });

  it('peekHeader reads version, type, length and xid', function () {
    expect(peekHeader(Buffer.from('04140008000000ff', 'hex'))).to.deep.equal({ version: 4, type: 20, length: 8, xid: 255 });
    expect(peekHeader(Buffer.alloc(7))).to.equal(undefined);
  });
});
