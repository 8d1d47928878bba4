import { expect } from 'chai';
import * as C from '../../../src/openflow/constants.js';
import { ERROR_TYPES, EXPERIMENTER_ERRORS, describeError, errorName } from '../../../src/openflow/errors.js';

describe('OpenFlow error names', function () {
  it('names the switch refusing a slave and a stale master', function () {
    expect(errorName(C.OFPET_BAD_REQUEST, C.OFPBRC_IS_SLAVE)).to.equal('OFPET_BAD_REQUEST/OFPBRC_IS_SLAVE');
    expect(errorName(11, 0)).to.equal('OFPET_ROLE_REQUEST_FAILED/OFPRRFC_STALE');
  });

  it('stays readable for values it does not know', function () {
    expect(errorName(C.OFPET_BAD_REQUEST, 99)).to.equal('OFPET_BAD_REQUEST/99');
    expect(errorName(77, 3)).to.equal('77/3');
    expect(errorName(C.OFPET_EXPERIMENTER, 60000)).to.equal('OFPET_EXPERIMENTER/60000');
  });

  it('every type and code of OpenFlow 1.3 is named, and each name is its constant', function () {
    const constants = C as unknown as Record<string, number>;
    const counts: Record<string, number> = {};
    for (const [type, row] of ERROR_TYPES) {
      expect(constants[row.name], row.name).to.equal(type);
      const prefix = row.codes[0]?.[1].split('_')[0];
      for (const [code, name] of row.codes) {
        expect(constants[name], name).to.equal(code);
        expect(name.split('_')[0], `${name} in ${row.name}`).to.equal(prefix);
      }
      counts[row.name] = row.codes.length;
      // Codes are the whole enumeration 0..n-1.
      expect(row.codes.map((c) => c[0])).to.deep.equal(row.codes.map((_, i) => i));
    }
    expect(counts).to.deep.equal({
      OFPET_HELLO_FAILED: 2, OFPET_BAD_REQUEST: 14, OFPET_BAD_ACTION: 16, OFPET_BAD_INSTRUCTION: 9,
      OFPET_BAD_MATCH: 12, OFPET_FLOW_MOD_FAILED: 8, OFPET_GROUP_MOD_FAILED: 15, OFPET_PORT_MOD_FAILED: 5,
      OFPET_TABLE_MOD_FAILED: 3, OFPET_QUEUE_OP_FAILED: 3, OFPET_SWITCH_CONFIG_FAILED: 3,
      OFPET_ROLE_REQUEST_FAILED: 3, OFPET_METER_MOD_FAILED: 12, OFPET_TABLE_FEATURES_FAILED: 6,
      OFPET_EXPERIMENTER: 0,
    });
  });

  it('names the ONF bundle failures OpenFlow 1.3 carries as experimenter errors', function () {
    expect(errorName(C.OFPET_EXPERIMENTER, 2313, C.ONF_EXPERIMENTER_ID)).to.equal('OFPET_EXPERIMENTER/OFPBFC_MSG_FAILED');
    expect(errorName(C.OFPET_EXPERIMENTER, 2313)).to.equal('OFPET_EXPERIMENTER/2313');
    expect(errorName(C.OFPET_EXPERIMENTER, 2313, 0x2320)).to.equal('OFPET_EXPERIMENTER/2313');
    expect(describeError({ errorType: C.OFPET_EXPERIMENTER, code: C.OFPBFC_MSG_BAD_XID, experimenter: C.ONF_EXPERIMENTER_ID }))
      .to.equal("the bundle operation failed: the added message's xid is not the bundle add's (OFPET_EXPERIMENTER/OFPBFC_MSG_BAD_XID)");
    const constants = C as unknown as Record<string, number>;
    const codes = [...EXPERIMENTER_ERRORS.get(C.ONF_EXPERIMENTER_ID)!.codes];
    expect(codes.map(([code]) => code)).to.deep.equal(codes.map((_, i) => 2300 + i));
    for (const [code, [name]] of codes) expect(constants[name], name).to.equal(code);
  });

  it('describes errors in words', function () {
    expect(describeError({ errorType: 1, code: 10 })).to.match(/slave.*\(OFPET_BAD_REQUEST\/OFPBRC_IS_SLAVE\)$/);
    expect(describeError(11, 0)).to.match(/^the role request failed: stale generation id/);
    expect(describeError({ errorType: 0xffff, code: 60000, experimenter: 999999 })).to.equal(
      'experimenter error: experimenter 0x000f423f, exp_type 60000 (OFPET_EXPERIMENTER/60000)');
    expect(describeError(42, 1)).to.equal('unknown error type 42, code 1 (42/1)');
    expect(describeError(C.OFPET_BAD_MATCH, 99)).to.include('unknown code 99');
  });
});
