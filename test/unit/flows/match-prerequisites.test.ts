import { expect } from 'chai';
import { match } from '../../../src/openflow/codec.js';
import { firstUnmetPrerequisite, prerequisiteContext, unmetPrerequisite } from '../../../src/flows/match-prerequisites.js';

describe('match prerequisites', function () {
  it('accepts each field once the match pins what it needs', function () {
    const met: Array<[string, Record<string, number>]> = [
      ['ipv4_src', { ethType: 0x0800 }],
      ['arp_tpa', { ethType: 0x0806 }],
      ['ipv6_flabel', { ethType: 0x86dd }],
      ['ip_dscp', { ethType: 0x86dd }],
      ['udp_dst', { ethType: 0x0800, ipProto: 17 }],
      ['sctp_src', { ethType: 0x86dd, ipProto: 132 }],
      ['icmpv4_code', { ethType: 0x0800, ipProto: 1 }],
      ['ipv6_nd_sll', { ethType: 0x86dd, ipProto: 58, icmpv6Type: 135 }],
      ['mpls_label', { ethType: 0x8848 }],
      ['pbb_isid', { ethType: 0x88e7 }],
      ['in_port', {}],
      ['eth_dst', {}],
      ['vlan_vid', {}],
    ];
    for (const [field, ctx] of met) expect(unmetPrerequisite(field, ctx), field).to.equal(undefined);
  });

  it('says what is missing, in ovs-ofctl keywords and the fields behind them', function () {
    expect(unmetPrerequisite('ipv4_dst', { ethType: 0x86dd })).to.equal('needs ip (eth_type 0x0800)');
    expect(unmetPrerequisite('tcp_dst', { ethType: 0x0800, ipProto: 17 })).to.equal('needs tcp (ip_proto 6, with eth_type 0x0800 or 0x86dd)');
    expect(unmetPrerequisite('udp_src', { ipProto: 17 }), 'ip_proto alone is not enough').to.match(/^needs udp/);
    expect(unmetPrerequisite('icmpv6_type', { ethType: 0x0800, ipProto: 58 })).to.equal('needs icmp6 (eth_type 0x86dd, ip_proto 58)');
    expect(unmetPrerequisite('ipv6_nd_tll', { ethType: 0x86dd, ipProto: 58, icmpv6Type: 135 })).to.equal('needs icmp6 with icmpv6_type 136');
  });

  it('reads the context from exact values only: a masked field pins nothing', function () {
    expect(prerequisiteContext(match({ eth_type: 0x0800, ip_proto: 6, tcp_dst: 80 }))).to.deep.equal({ ethType: 0x0800, ipProto: 6 });
    expect(prerequisiteContext([{ field: 'icmpv6_type', value: 135, mask: 0xfe }])).to.deep.equal({});
  });

  it('finds the first field in match order whose prerequisites are missing', function () {
    expect(firstUnmetPrerequisite(match({ eth_type: 0x0800, ip_proto: 6, tcp_dst: 80 }))).to.equal(undefined);
    expect(firstUnmetPrerequisite(match({ ip_proto: 6, tcp_dst: 80 }))).to.deep.equal({ field: 'ip_proto', why: 'needs ip or ipv6 (eth_type 0x0800 or 0x86dd)' });
    expect(firstUnmetPrerequisite(match({ in_port: 1, ipv4_dst: '10.0.0.1' }))).to.deep.equal({ field: 'ipv4_dst', why: 'needs ip (eth_type 0x0800)' });
  });
});
