/**
 * fast-check arbitraries for flow tests: flow-mods over deliberately small domains (a few ports,
 * prefixes, priorities, cookies) so that random sequences keep hitting the same identities and
 * the interesting cases — replace, overlap, non-strict selection, cookie and out_port filters.
 */
import fc from 'fast-check';
import {
  OFP, applyActions, flowMod, gotoTable, match as buildMatch, output, writeActions, type Action, type FlowModMessage, type Instruction,
  type Match, type OxmField,
} from '../../src/openflow/codec.js';

export const OWNED = { value: 0xf10e000000000000n, mask: 0xffff000000000000n };

export const cookie = fc.constantFrom(0n, 1n, 0xf10e000000000001n, 0xf10e000000000002n, 0xf10e0000000000ffn);

const ip = (dst: OxmField): OxmField[] => [{ field: 'eth_type', value: 0x0800 }, dst];

/** A handful of matches, chosen so that some are at least as specific as others. */
const BASE_MATCHES: Match[] = [
  [],
  [{ field: 'in_port', value: 1 }],
  [{ field: 'in_port', value: 2 }],
  ip({ field: 'ipv4_dst', value: '10.0.0.0', mask: '255.255.255.0' }),
  ip({ field: 'ipv4_dst', value: '10.0.1.0', mask: '255.255.255.0' }),
  [{ field: 'in_port', value: 1 }, ...ip({ field: 'ipv4_dst', value: '10.0.0.1' })],
  [{ field: 'vlan_vid', value: 0x1064 }],
  [{ field: 'in_port', value: 2 }, { field: 'eth_dst', value: '01:00:00:00:00:00', mask: '01:00:00:00:00:00' }],
];

/** The same match spelled differently: fields reversed, exact fields written with a full mask. */
function respell(m: Match, reverse: boolean, masks: boolean): Match {
  const out = m.map((f): OxmField => {
    if (!masks || f.field === 'raw' || f.mask !== undefined) return f;
    if (f.field === 'ipv4_dst') return { ...f, mask: '255.255.255.255' };
    if (f.field === 'vlan_vid') return { ...f, mask: 0x1fff };
    return f;
  });
  return reverse ? out.reverse() : out;
}

/** One of a few matches, in one of a few spellings. */
export const smallMatch: fc.Arbitrary<Match> = fc.tuple(fc.constantFrom(...BASE_MATCHES), fc.boolean(), fc.boolean())
  .map(([m, reverse, masks]) => respell(m, reverse, masks));

export const smallInstructions: fc.Arbitrary<Instruction[]> = fc.oneof(
  fc.integer({ min: 1, max: 4 }).map((p) => [applyActions(output(p))]),
  fc.integer({ min: 1, max: 4 }).map((p) => [gotoTable(1), applyActions(output(p, 0))]),
  fc.integer({ min: 1, max: 4 }).map((p) => [writeActions(output(p)), gotoTable(2)]),
  fc.constant([{ type: 'APPLY_ACTIONS', actions: [{ type: 'GROUP', groupId: 7 }] }] as Instruction[]),
  fc.constant([] as Instruction[]),
);

const command = fc.constantFrom(
  OFP.OFPFC_ADD, OFP.OFPFC_ADD, OFP.OFPFC_ADD, OFP.OFPFC_ADD,
  OFP.OFPFC_MODIFY, OFP.OFPFC_MODIFY_STRICT, OFP.OFPFC_DELETE, OFP.OFPFC_DELETE_STRICT,
);

/** One flow-mod over the small domains; some are refused (overlap, OFPTT_ALL on ADD/MODIFY). */
export const smallFlowMod: fc.Arbitrary<FlowModMessage> = fc.record({
  command,
  tableId: fc.constantFrom(0, 0, 0, 1, 1, 1, 1, 1, 1, OFP.OFPTT_ALL),
  priority: fc.constantFrom(1, 100),
  match: smallMatch,
  instructions: smallInstructions,
  cookie,
  cookieMask: fc.constantFrom(0n, 0n, 0n, 0xffffffffffffffffn, 0xffff000000000000n),
  flags: fc.constantFrom(0, 0, OFP.OFPFF_SEND_FLOW_REM, OFP.OFPFF_CHECK_OVERLAP),
  outPort: fc.constantFrom(OFP.OFPP_ANY, OFP.OFPP_ANY, 2),
  outGroup: fc.constantFrom(OFP.OFPG_ANY, OFP.OFPG_ANY, 7),
  idleTimeout: fc.constantFrom(0, 0, 30),
}).map((r) => flowMod(r));

/** Flow-mods addressed to one of `devices` device ids. */
export function deviceFlowMods(devices: string[], maxLength = 60): fc.Arbitrary<{ device: string; fm: FlowModMessage }[]> {
  return fc.array(fc.record({ device: fc.constantFrom(...devices), fm: smallFlowMod }), { maxLength });
}

// ---------------------------------------------------------------------------------------------
// Rich entries: every field and action the text syntaxes know, with their prerequisites met
// ---------------------------------------------------------------------------------------------

const u64 = fc.bigInt({ min: 0n, max: 0xffffffffffffffffn });
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':'));
const ipv4 = fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => Array.from(b).join('.'));
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return g.join(':');
});
const prefixMask4 = fc.integer({ min: 1, max: 31 }).map((n) => {
  const m = (0xffffffff << (32 - n)) >>> 0;
  return [24, 16, 8, 0].map((s) => (m >>> s) & 0xff).join('.');
});
const prefixMask6 = fc.integer({ min: 1, max: 127 }).map((n) => {
  const g: string[] = [];
  for (let i = 0; i < 8; i++) {
    const bits = Math.max(0, Math.min(16, n - 16 * i));
    g.push(((0xffff << (16 - bits)) & 0xffff).toString(16));
  }
  return g.join(':');
});

type Fields = Partial<Record<string, unknown>>;
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const masked = <T>(v: fc.Arbitrary<T>, m: fc.Arbitrary<T>) => fc.oneof(v, fc.record({ value: v, mask: m }));
/** Masks that wildcard nothing at all are left out: a zero mask is a field not matched. */
const macMask = mac.filter((m) => m !== '00:00:00:00:00:00');
const ipv4Mask = ipv4.filter((m) => m !== '0.0.0.0');
const u64Mask = fc.bigInt({ min: 1n, max: 0xffffffffffffffffn });

const commonFields: fc.Arbitrary<Fields> = fc.record({
  in_port: opt(fc.oneof(fc.integer({ min: 1, max: 0xfeff }), fc.constant(OFP.OFPP_LOCAL), fc.constant(OFP.OFPP_CONTROLLER))),
  eth_src: opt(mac),
  eth_dst: opt(masked(mac, macMask)),
  metadata: opt(masked(u64, u64Mask)),
  tunnel_id: opt(masked(u64, u64Mask)),
  vlan: opt(fc.oneof(
    fc.integer({ min: 0, max: 4095 }).map((v) => ({ vlan_vid: OFP.OFPVID_PRESENT | v })),
    fc.tuple(fc.integer({ min: 0, max: 4095 }), fc.integer({ min: 0, max: 7 })).map(([v, p]) => ({ vlan_vid: OFP.OFPVID_PRESENT | v, vlan_pcp: p })),
    fc.constant({ vlan_vid: OFP.OFPVID_NONE }),
    fc.constant({ vlan_vid: { value: OFP.OFPVID_PRESENT, mask: OFP.OFPVID_PRESENT } }),
  )),
});

const l3: fc.Arbitrary<Fields> = fc.oneof(
  fc.constant({}),
  fc.constant({ eth_type: 0x88cc }),
  fc.record({ eth_type: fc.constant(0x0800), ipv4_src: opt(masked(ipv4, prefixMask4)), ipv4_dst: opt(masked(ipv4, fc.oneof(prefixMask4, ipv4Mask))), ip_dscp: opt(fc.integer({ min: 0, max: 63 })), ip_ecn: opt(fc.integer({ min: 0, max: 3 })) }).chain((ip) => fc.oneof(
    fc.constant(ip),
    fc.record({ ip_proto: fc.constant(47) }).map((x) => ({ ...ip, ...x })),
    fc.record({ ip_proto: fc.constantFrom(6, 17, 132), src: opt(fc.integer({ min: 0, max: 65535 })), dst: opt(fc.integer({ min: 0, max: 65535 })) }).map(({ ip_proto, src, dst }) => {
      const l4 = ip_proto === 6 ? 'tcp' : ip_proto === 17 ? 'udp' : 'sctp';
      return { ...ip, ip_proto, [`${l4}_src`]: src, [`${l4}_dst`]: dst };
    }),
    fc.record({ ip_proto: fc.constant(1), icmpv4_type: opt(fc.integer({ min: 0, max: 255 })), icmpv4_code: opt(fc.integer({ min: 0, max: 255 })) }).map((x) => ({ ...ip, ...x })),
  )),
  fc.record({ eth_type: fc.constant(0x86dd), ipv6_src: opt(masked(ipv6, prefixMask6)), ipv6_dst: opt(ipv6), ipv6_flabel: opt(masked(fc.integer({ min: 0, max: 0xfffff }), fc.integer({ min: 1, max: 0xffffe }))) }).chain((ip) => fc.oneof(
    fc.constant(ip),
    fc.record({ ip_proto: fc.constantFrom(6, 17), dst: opt(fc.integer({ min: 0, max: 65535 })) }).map(({ ip_proto, dst }) => ({ ...ip, ip_proto, [`${ip_proto === 6 ? 'tcp' : 'udp'}_dst`]: dst })),
    fc.record({ icmpv6_type: fc.constant(135), ipv6_nd_target: opt(ipv6), ipv6_nd_sll: opt(mac) }).map((x) => ({ ...ip, ip_proto: 58, ...x })),
    fc.record({ icmpv6_type: fc.constant(136), icmpv6_code: opt(fc.integer({ min: 0, max: 255 })), ipv6_nd_tll: opt(mac) }).map((x) => ({ ...ip, ip_proto: 58, ...x })),
  )),
  fc.record({ eth_type: fc.constant(0x0806), arp_op: opt(fc.integer({ min: 1, max: 4 })), arp_spa: opt(masked(ipv4, prefixMask4)), arp_tpa: opt(ipv4), arp_sha: opt(mac), arp_tha: opt(mac) }),
  fc.record({ eth_type: fc.constantFrom(0x8847, 0x8848), mpls_label: opt(fc.integer({ min: 0, max: 0xfffff })), mpls_tc: opt(fc.integer({ min: 0, max: 7 })), mpls_bos: opt(fc.integer({ min: 0, max: 1 })) }),
);

/** A match with any of the fields the text syntaxes name, prerequisites included. */
export const richMatch: fc.Arbitrary<Match> = fc.tuple(commonFields, l3).map(([c, l]) => {
  const { vlan, ...rest } = c;
  const spec: Record<string, unknown> = { ...rest, ...(vlan as object | undefined), ...l };
  for (const k of Object.keys(spec)) if (spec[k] === undefined) delete spec[k];
  return buildMatch(spec as never);
});

const port = fc.oneof(fc.integer({ min: 1, max: 0xfeff }), fc.constantFrom(OFP.OFPP_NORMAL, OFP.OFPP_FLOOD, OFP.OFPP_ALL, OFP.OFPP_LOCAL, OFP.OFPP_IN_PORT));
export const richAction: fc.Arbitrary<Action> = fc.oneof(
  port.map((p) => output(p, 0)),
  fc.integer({ min: 0, max: 0xffff }).map((n) => output(OFP.OFPP_CONTROLLER, n)),
  mac.map((v): Action => ({ type: 'SET_FIELD', field: { field: 'eth_src', value: v } })),
  ipv4.map((v): Action => ({ type: 'SET_FIELD', field: { field: 'ipv4_dst', value: v } })),
  fc.integer({ min: 0, max: 4095 }).map((v): Action => ({ type: 'SET_FIELD', field: { field: 'vlan_vid', value: OFP.OFPVID_PRESENT | v } })),
  fc.integer({ min: 0, max: 0xfffff }).map((v): Action => ({ type: 'SET_FIELD', field: { field: 'mpls_label', value: v } })),
  fc.integer({ min: 0, max: 63 }).map((v): Action => ({ type: 'SET_FIELD', field: { field: 'ip_dscp', value: v } })),
  u64.map((v): Action => ({ type: 'SET_FIELD', field: { field: 'tunnel_id', value: v } })),
  fc.constantFrom<Action>({ type: 'POP_VLAN' }, { type: 'DEC_NW_TTL' }, { type: 'DEC_MPLS_TTL' }, { type: 'PUSH_VLAN', ethertype: 0x8100 }, { type: 'PUSH_MPLS', ethertype: 0x8847 }, { type: 'POP_MPLS', ethertype: 0x0800 }),
  fc.integer({ min: 0, max: 255 }).map((n): Action => ({ type: 'SET_NW_TTL', nwTtl: n })),
  fc.integer({ min: 0, max: 255 }).map((n): Action => ({ type: 'SET_MPLS_TTL', mplsTtl: n })),
  fc.integer({ min: 0, max: 0xfffffeff }).map((g): Action => ({ type: 'GROUP', groupId: g })),
  fc.integer({ min: 0, max: 0xfffffffe }).map((q): Action => ({ type: 'SET_QUEUE', queueId: q })),
  fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 12 })).map(([e, d]): Action => ({ type: 'EXPERIMENTER', experimenter: e, data: Buffer.from(d) })),
);

export const richInstructions: fc.Arbitrary<Instruction[]> = fc.record({
  meter: opt(fc.integer({ min: 1, max: 0xffff0000 })),
  apply: fc.array(richAction, { maxLength: 4 }),
  clear: fc.boolean(),
  write: fc.array(richAction, { maxLength: 3 }),
  metadata: opt(fc.tuple(u64, u64)),
  goto: opt(fc.integer({ min: 1, max: 254 })),
}).map((r) => {
  const out: Instruction[] = [];
  if (r.meter !== undefined) out.push({ type: 'METER', meterId: r.meter });
  if (r.apply.length > 0) out.push(applyActions(...r.apply));
  if (r.clear) out.push({ type: 'CLEAR_ACTIONS' });
  if (r.write.length > 0) out.push(writeActions(...r.write));
  if (r.metadata) out.push({ type: 'WRITE_METADATA', metadata: r.metadata[0], metadataMask: r.metadata[1] });
  if (r.goto !== undefined) out.push(gotoTable(r.goto));
  return out;
});

/** An ADD of a rich entry: any table, priority, cookie, timeouts and flags. */
export const richAdd: fc.Arbitrary<FlowModMessage> = fc.record({
  tableId: fc.integer({ min: 0, max: 254 }),
  priority: fc.integer({ min: 0, max: 65535 }),
  cookie: u64,
  idleTimeout: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 65535 })),
  hardTimeout: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 65535 })),
  flags: fc.integer({ min: 0, max: 31 }),
  match: richMatch,
  instructions: richInstructions,
}).map((r) => flowMod(r));
