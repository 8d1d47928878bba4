/**
 * fast-check arbitraries for flow tests: flow-mods over deliberately small domains (a few ports,
 * prefixes, priorities, cookies) so that random sequences keep hitting the same identities and
 * the interesting cases — replace, overlap, non-strict selection, cookie and out_port filters.
 */
import fc from 'fast-check';
import { OFP, applyActions, flowMod, gotoTable, output, writeActions, type FlowModMessage, type Instruction, type Match, type OxmField } from '../../src/openflow/codec.js';

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
