import { expect } from 'chai';
import fc from 'fast-check';
import { formatIpv6, matchField, matchKey, parseIpv4, parseIpv6, parseMac } from '../../../src/openflow/oxm.js';
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

  describe('IPv4 and MAC text (hand-written parsers, checked against the regular expressions they replaced)', function () {
    /** The former parsers, as the reference. */
    function refIpv4(s: string): Buffer | undefined {
      const parts = s.split('.');
      if (parts.length !== 4) return undefined;
      const out = Buffer.alloc(4);
      for (let i = 0; i < 4; i++) {
        if (!/^\d{1,3}$/.test(parts[i]!) || Number(parts[i]) > 255) return undefined;
        out[i] = Number(parts[i]);
      }
      return out;
    }
    function refMac(s: string): Buffer | undefined {
      const m = /^([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})[:-]([0-9a-f]{1,2})$/i.exec(s);
      return m ? Buffer.from(m.slice(1).map((x) => parseInt(x, 16))) : undefined;
    }
    const same = (a: Buffer | undefined, b: Buffer | undefined) => (a === undefined ? b === undefined : b !== undefined && a.equals(b));
    /** Strings close to addresses: the characters that matter, in runs that look like the real thing. */
    const near = (alphabet: string[], maxLength: number) => fc.array(fc.constantFrom(...alphabet), { maxLength }).map((cs) => cs.join(''));

    it('IPv4: the same answer as before on near-addresses', function () {
      const parts = fc.oneof(fc.nat(300).map(String), fc.constantFrom('', '00', '007', '0255', '256', '1a', ' 1'));
      const quads = fc.array(parts, { minLength: 1, maxLength: 6 }).map((ps) => ps.join('.'));
      fc.assert(fc.property(fc.oneof(quads, near(['1', '2', '5', '0', '.', '9', 'x', '-'], 18)), (s) => {
        expect(same(parseIpv4(s), refIpv4(s)), s).to.equal(true);
      }), { numRuns: 5000 });
      for (const s of ['10.0.0.1', '255.255.255.255', '0.0.0.0', '010.001.0.1']) expect(same(parseIpv4(s), refIpv4(s)), s).to.equal(true);
      expect(parseIpv4('10.0.0.1')!.toString('hex')).to.equal('0a000001');
    });

    it('MAC: the same answer as before on near-addresses', function () {
      const group = fc.oneof(fc.nat(255).map((n) => n.toString(16)), fc.constantFrom('', 'A', 'fF', 'abc', 'g', '0x'));
      const macs = fc.tuple(fc.array(group, { minLength: 1, maxLength: 7 }), fc.array(fc.constantFrom(':', '-', '.'), { minLength: 7, maxLength: 7 }))
        .map(([gs, seps]) => gs.map((g, i) => (i === 0 ? g : seps[i]! + g)).join(''));
      fc.assert(fc.property(fc.oneof(macs, near(['a', 'F', '0', '9', ':', '-', 'g'], 20)), (s) => {
        expect(same(parseMac(s), refMac(s)), s).to.equal(true);
      }), { numRuns: 5000 });
      expect(parseMac('AA-bb:0c:d:e:ff')!.toString('hex')).to.equal('aabb0c0d0eff');
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
