import { expect } from 'chai';
import fc from 'fast-check';
import { formatIpv6, matchField, matchKey, parseIpv6 } from '../../../src/openflow/oxm.js';
import { match } from '../../../src/openflow/codec-builders.js';
import type { Match } from '../../../src/openflow/types.js';

describe('OXM helpers', function () {
  describe('IPv6 text', function () {
    const cases: [string, string][] = [
      ['fe80::f00b:a4ff:fe48:28a5', 'fe80::f00b:a4ff:fe48:28a5'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['::', '::'],
      ['::1', '::1'],
      ['1::', '1::'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['::ffff:10.0.0.1', '::ffff:a00:1'],
      ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ];
    for (const [input, canonical] of cases) {
      it(`${input} → ${canonical}`, function () {
        expect(formatIpv6(parseIpv6(input)!)).to.equal(canonical);
      });
    }

    it('rejects what is not an address', function () {
      for (const bad of ['', ':', '1:::2', '1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', 'g::1', '12345::', '::1.2.3']) {
        expect(parseIpv6(bad), bad).to.equal(undefined);
      }
    });

    it('format then parse is the identity on 16 bytes', function () {
      fc.assert(fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect(parseIpv6(formatIpv6(b))!.equals(Buffer.from(b))).to.equal(true);
      }));
    });
  });

  describe('matchKey: the identity of a match for a flow store', function () {
    it('does not depend on field order', function () {
      const a: Match = [{ field: 'in_port', value: 1 }, { field: 'eth_type', value: 0x800 }];
      expect(matchKey(a)).to.equal(matchKey([...a].reverse()));
      expect(matchKey(a)).to.equal('in_port=1,eth_type=2048');
    });

    it('treats an all-ones mask as no mask and ignores masked-out value bits', function () {
      expect(matchKey([{ field: 'ipv4_dst', value: '10.0.0.1', mask: '255.255.255.255' }])).to.equal(matchKey([{ field: 'ipv4_dst', value: '10.0.0.1' }]));
      expect(matchKey([{ field: 'ipv4_dst', value: '10.1.2.3', mask: '255.0.0.0' }])).to.equal('ipv4_dst=10.0.0.0/255.0.0.0');
    });

    it('normalises address text', function () {
      expect(matchKey([{ field: 'eth_dst', value: 'AA:BB:CC:DD:EE:FF' }])).to.equal('eth_dst=aa:bb:cc:dd:ee:ff');
      expect(matchKey([{ field: 'ipv6_dst', value: '2001:0db8::0001' }])).to.equal('ipv6_dst=2001:db8::1');
    });

    it('tells different matches apart', function () {
      expect(matchKey([{ field: 'in_port', value: 1 }])).to.not.equal(matchKey([{ field: 'in_port', value: 2 }]));
      expect(matchKey([])).to.equal('');
    });
  });

  it('matchField finds a field by name', function () {
    const m = match({ in_port: 3, eth_type: 0x0806 });
    expect(matchField(m, 'in_port')?.value).to.equal(3);
    expect(matchField(m, 'ipv4_src')).to.equal(undefined);
  });
});
