/**
 * Match field prerequisites (OpenFlow 1.3's table of OXM flow match fields): a field may only be matched
 * when the match also pins what makes it meaningful (ipv4_dst needs eth_type 0x0800, tcp_dst needs
 * ip_proto 6, ...). A switch refuses a flow-mod that breaks this with OFPBMC_BAD_PREREQ; checking it
 * before sending lets both the CLI and the REST API name the field and what it needs, and spares the
 * switch a round trip. Worded in ovs-ofctl's keywords with the fields behind them, which reads for
 * both syntaxes.
 */
import type {Match} from '../openflow/codec.js';

/** What the match pins: the exact eth_type, ip_proto and icmpv6_type, if it does. */
export interface PrerequisiteContext {
  ethType?: number;
  ipProto?: number;
  icmpv6Type?: number;
}

/** Why `field` cannot be matched in this context, or undefined when its prerequisites are met. */
export function unmetPrerequisite(field: string, ctx: PrerequisiteContext): string | undefined {
  const eth = (...types: number[]) => ctx.ethType !== undefined && types.includes(ctx.ethType);
  if (field.startsWith('ipv4_')) return eth(0x0800) ? undefined : 'needs ip (eth_type 0x0800)';
  if (field.startsWith('arp_')) return eth(0x0806, 0x8035) ? undefined : 'needs arp (eth_type 0x0806)';
  if (field === 'ipv6_src' || field === 'ipv6_dst' || field === 'ipv6_flabel' || field === 'ipv6_exthdr') return eth(0x86dd) ? undefined : 'needs ipv6 (eth_type 0x86dd)';
  if (field === 'ip_proto' || field === 'ip_dscp' || field === 'ip_ecn') return eth(0x0800, 0x86dd) ? undefined : 'needs ip or ipv6 (eth_type 0x0800 or 0x86dd)';
  if (/^(tcp|udp|sctp)_/.test(field)) {
    const want = field.startsWith('tcp') ? 6 : field.startsWith('udp') ? 17 : 132;
    return eth(0x0800, 0x86dd) && ctx.ipProto === want ? undefined : `needs ${field.slice(0, field.indexOf('_'))} (ip_proto ${want}, with eth_type 0x0800 or 0x86dd)`;
  }
  if (field.startsWith('icmpv4_')) return eth(0x0800) && ctx.ipProto === 1 ? undefined : 'needs icmp (eth_type 0x0800, ip_proto 1)';
  if (field.startsWith('icmpv6_')) return eth(0x86dd) && ctx.ipProto === 58 ? undefined : 'needs icmp6 (eth_type 0x86dd, ip_proto 58)';
  if (field === 'ipv6_nd_target') return eth(0x86dd) && ctx.ipProto === 58 && (ctx.icmpv6Type === 135 || ctx.icmpv6Type === 136) ? undefined : 'needs icmp6 with icmpv6_type 135 or 136';
  if (field === 'ipv6_nd_sll') return eth(0x86dd) && ctx.ipProto === 58 && ctx.icmpv6Type === 135 ? undefined : 'needs icmp6 with icmpv6_type 135';
  if (field === 'ipv6_nd_tll') return eth(0x86dd) && ctx.ipProto === 58 && ctx.icmpv6Type === 136 ? undefined : 'needs icmp6 with icmpv6_type 136';
  if (field.startsWith('mpls_')) return eth(0x8847, 0x8848) ? undefined : 'needs mpls or mplsm (eth_type 0x8847 or 0x8848)';
  if (field === 'pbb_isid') return eth(0x88e7) ? undefined : 'needs pbb (eth_type 0x88e7)';
  return undefined;
}

/** What an OXM match pins (masked values pin nothing). */
export function prerequisiteContext(match: Match): PrerequisiteContext {
  const ctx: PrerequisiteContext = {};
  for (const f of match) {
    if (f.field === 'raw' || f.mask !== undefined) continue;
    if (f.field === 'eth_type') ctx.ethType = Number(f.value);
    else if (f.field === 'ip_proto') ctx.ipProto = Number(f.value);
    else if (f.field === 'icmpv6_type') ctx.icmpv6Type = Number(f.value);
  }
  return ctx;
}

/** The first field of `match` whose prerequisites are not in it, and why. */
export function firstUnmetPrerequisite(match: Match): {field: string; why: string} | undefined {
  const ctx = prerequisiteContext(match);
  for (const f of match) {
    if (f.field === 'raw') continue;
    const why = unmetPrerequisite(f.field, ctx);
    if (why) return {field: f.field, why};
  }
  return undefined;
}
