/**
 * ovs-ofctl flow syntax ↔ the codec's FLOW_MOD, for the CLI: `in_port=1,ip,nw_dst=10.0.0.1
 * actions=output:2` in, and table entries out the way `ovs-ofctl -O OpenFlow13 dump-flows`
 * prints them (checked line by line against Open vSwitch 3.1, see the tests).
 *
 * Parsing follows ovs-ofctl(8) and ovs-fields(7) for the common subset:
 * - `table=`, `priority=` (default 32768), `cookie=V[/M]` (a mask only to select, never on add),
 *   `idle_timeout=`, `hard_timeout=`, `out_port=` / `out_group=` (deletes), the flags
 *   `send_flow_rem check_overlap reset_counts no_packet_counts no_byte_counts`; what dump-flows
 *   adds (`duration=`, `n_packets=`, `n_bytes=`, `idle_age=`, `hard_age=`) is ignored, so a dumped
 *   line reads back;
 * - shorthands ip ipv6 icmp icmp6 tcp tcp6 udp udp6 sctp sctp6 arp rarp mpls mplsm, and fields by
 *   their OVS names (dl_src, dl_dst, dl_type, dl_vlan, dl_vlan_pcp, vlan_tci, nw_src, nw_dst — the
 *   ARP addresses for arp —, nw_proto, nw_tos, nw_ecn, tp_src, tp_dst, icmp_type, icmp_code,
 *   nd_target, nd_sll, nd_tll, ipv6_label, tun_id, ...) or their OXM names; values in decimal or
 *   hex, `/mask` where the field takes one, IP prefixes; value bits outside a mask are cleared (as
 *   ovs-ofctl does); prerequisites (nw_dst needs ip or arp, tp_dst needs tcp, udp or sctp, ...)
 *   are checked;
 * - actions output:N, N, drop, normal, flood, all, local, in_port, controller[:max_len],
 *   mod_vlan_vid, mod_vlan_pcp, strip_vlan / pop_vlan, push_vlan, push_mpls, pop_mpls,
 *   set_mpls_label, set_mpls_tc, set_mpls_ttl, dec_mpls_ttl, mod_dl_src, mod_dl_dst, mod_nw_src,
 *   mod_nw_dst, mod_tp_src, mod_tp_dst, mod_nw_tos, mod_nw_ecn, mod_nw_ttl, dec_ttl,
 *   set_field:V->F, group, set_queue, and the instructions meter, clear_actions,
 *   write_actions(...), write_metadata:V[/M], goto_table. Nicira extensions (resubmit, learn,
 *   ...) are not understood; an experimenter action we print reads back from our own form
 *   `experimenter(id=0x2320,data=0x...)`.
 * Errors are FlowSyntaxError naming the offending token and the reason.
 */
import {
  OFP, match as buildMatch, type Action, type FlowModMessage, type FlowStats, type Instruction, type Match, type OxmField,
} from '../openflow/codec.js';
import type { OxmFieldSpec } from '../openflow/oxm.js';
import {
  GROUP_NAMES, METER_NAMES, OXM_BY_NAME, PORT_NAMES, QUEUE_NAMES, TABLE_NAMES, ValueTextError, fieldFromBits,
  formatAddress, parseIpText, parseMacText, prefixLength, reservedName, uintBytes, uintValue,
  type ReservedNames,
} from './field-text.js';
import type { FlowEntry } from './flow-table.js';
import { unmetPrerequisite } from './match-prerequisites.js';

export class FlowSyntaxError extends Error {
  constructor(readonly token: string, readonly reason: string) {
    super(`${token}: ${reason}`);
    this.name = 'FlowSyntaxError';
  }
}

export type OfctlCommand = 'add' | 'modify' | 'modify_strict' | 'delete' | 'delete_strict';

const COMMANDS: Readonly<Record<OfctlCommand, number>> = {
  add: OFP.OFPFC_ADD, modify: OFP.OFPFC_MODIFY, modify_strict: OFP.OFPFC_MODIFY_STRICT,
  delete: OFP.OFPFC_DELETE, delete_strict: OFP.OFPFC_DELETE_STRICT,
};

const FLAG_NAMES: readonly [string, number][] = [
  ['send_flow_rem', OFP.OFPFF_SEND_FLOW_REM], ['check_overlap', OFP.OFPFF_CHECK_OVERLAP],
  ['reset_counts', OFP.OFPFF_RESET_COUNTS], ['no_packet_counts', OFP.OFPFF_NO_PKT_COUNTS],
  ['no_byte_counts', OFP.OFPFF_NO_BYT_COUNTS],
];

/** Shorthand → [eth_type, ip_proto?]. */
const SHORTHANDS: Readonly<Record<string, [number, number?]>> = {
  ip: [0x0800], ipv6: [0x86dd], icmp: [0x0800, 1], icmp6: [0x86dd, 58], tcp: [0x0800, 6], tcp6: [0x86dd, 6],
  udp: [0x0800, 17], udp6: [0x86dd, 17], sctp: [0x0800, 132], sctp6: [0x86dd, 132], arp: [0x0806], rarp: [0x8035],
  mpls: [0x8847], mplsm: [0x8848],
};

/** OVS field names that map to one OXM field whatever the rest of the match. */
const DIRECT_NAMES: Readonly<Record<string, string>> = {
  dl_src: 'eth_src', dl_dst: 'eth_dst', dl_type: 'eth_type', dl_vlan_pcp: 'vlan_pcp', tun_id: 'tunnel_id',
  ip_src: 'ipv4_src', ip_dst: 'ipv4_dst', ipv6_label: 'ipv6_flabel', nd_target: 'ipv6_nd_target',
  nd_sll: 'ipv6_nd_sll', nd_tll: 'ipv6_nd_tll', nw_ecn: 'ip_ecn',
};

const IGNORED_KEYS = new Set(['duration', 'n_packets', 'n_bytes', 'idle_age', 'hard_age']);

interface ParseContext {
  token: string;
}

function fail(token: string, reason: string): never {
  throw new FlowSyntaxError(token, reason);
}

function withToken<T>(token: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof ValueTextError) fail(token, err.reason);
    throw err;
  }
}

function uint(token: string, text: string, bits: number, names?: ReservedNames): number {
  return Number(withToken(token, () => uintValue(text, bits, names)));
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/** Splits on commas outside parentheses. */
function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  out.push(cur);
  return out.map((t) => t.trim()).filter((t) => t.length > 0);
}

interface RawField {
  token: string;
  name: string;
  value: string;
}

/**
 * One flow in ovs-ofctl syntax → the FLOW_MOD of `command` ('add' by default: add-flow; the
 * others as mod-flows, mod-flows --strict, del-flows, del-flows --strict). Throws FlowSyntaxError.
 */
export function parseOfctlFlow(text: string, command: OfctlCommand = 'add'): FlowModMessage {
  if (typeof text !== 'string') fail(String(text), 'expected a flow as text');
  if (!Object.prototype.hasOwnProperty.call(COMMANDS, command)) fail(String(command), `expected one of ${Object.keys(COMMANDS).join(', ')}`);
  const isDelete = command === 'delete' || command === 'delete_strict';
  const at = /(^|[\s,])actions?\s*=/.exec(text);
  const matchText = at ? text.slice(0, at.index) : text;
  const actionsText = at ? text.slice(at.index + at[0].length) : undefined;
  if (isDelete && actionsText !== undefined) fail('actions', 'a delete takes no actions');
  if (!isDelete && actionsText === undefined) fail(text.trim() || '(empty)', 'must specify actions (actions=...)');

  const fm: FlowModMessage = {
    type: 'FLOW_MOD', xid: 0, cookie: 0n, cookieMask: 0n, tableId: isDelete ? OFP.OFPTT_ALL : 0, command: COMMANDS[command],
    idleTimeout: 0, hardTimeout: 0, priority: OFP.OFP_DEFAULT_PRIORITY, bufferId: OFP.OFP_NO_BUFFER,
    outPort: OFP.OFPP_ANY, outGroup: OFP.OFPG_ANY, flags: 0, match: [], instructions: [],
  };
  const fields: RawField[] = [];
  let shorthand: { token: string; ethType: number; ipProto?: number } | undefined;
  for (const token of matchText.split(/[\s,]+/).filter((t) => t.length > 0)) {
    const eq = token.indexOf('=');
    const key = (eq < 0 ? token : token.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? undefined : token.slice(eq + 1);
    if (value === undefined) {
      const sh = SHORTHANDS[key];
      const flag = FLAG_NAMES.find(([n]) => n === key);
      if (sh) {
        if (shorthand) fail(token, `conflicts with '${shorthand.token}'`);
        shorthand = { token, ethType: sh[0], ...(sh[1] !== undefined ? { ipProto: sh[1] } : {}) };
      } else if (flag) {
        fm.flags |= flag[1];
      } else {
        fail(token, 'unknown keyword (expected a field=value, a protocol such as ip or tcp, or a flag such as send_flow_rem)');
      }
      continue;
    }
    if (value === '') fail(token, 'missing value after =');
    switch (key) {
      case 'table': fm.tableId = uint(token, value, 8, TABLE_NAMES); break;
      case 'priority': fm.priority = uint(token, value, 16); break;
      case 'idle_timeout': fm.idleTimeout = uint(token, value, 16); break;
      case 'hard_timeout': fm.hardTimeout = uint(token, value, 16); break;
      case 'cookie': {
        const [v, m] = value.split('/', 2) as [string, string | undefined];
        fm.cookie = withToken(token, () => uintValue(v, 64));
        if (m !== undefined) {
          if (command === 'add') fail(token, 'flow additions cannot use a cookie mask');
          fm.cookieMask = m.trim() === '-1' ? 0xffffffffffffffffn : withToken(token, () => uintValue(m, 64));
        }
        break;
      }
      case 'out_port':
        if (!isDelete) fail(token, 'out_port restricts deletes only');
        fm.outPort = uint(token, value, 32, PORT_NAMES);
        break;
      case 'out_group':
        if (!isDelete) fail(token, 'out_group restricts deletes only');
        fm.outGroup = uint(token, value, 32, GROUP_NAMES);
        break;
      default:
        if (IGNORED_KEYS.has(key)) break;
        fields.push({ token, name: key, value });
    }
  }
  if (fm.tableId === OFP.OFPTT_ALL && !isDelete) fail(`table=${fm.tableId}`, 'only deletes apply to every table');
  fm.match = buildFlowMatch(fields, shorthand);
  if (actionsText !== undefined) fm.instructions = parseActions(actionsText, fm.match);
  return fm;
}

function l4Proto(proto: number | undefined): string | undefined {
  return proto === 6 ? 'tcp' : proto === 17 ? 'udp' : proto === 132 ? 'sctp' : undefined;
}

function parseFieldValue(spec: OxmFieldSpec, token: string, value: string): OxmField | undefined {
  switch (spec.kind) {
    case 'mac': {
      const bits = withToken(token, () => parseMacText(value));
      if (bits.mask && !spec.maskable) fail(token, `${spec.name} takes no mask`);
      return fieldFromBits(spec, bits.value, bits.mask);
    }
    case 'ipv4':
    case 'ipv6': {
      const bits = withToken(token, () => parseIpText(value, spec.kind === 'ipv4' ? 4 : 6));
      if (bits.mask && !spec.maskable && !bits.mask.every((x) => x === 0xff)) fail(token, `${spec.name} takes no mask`);
      return fieldFromBits(spec, bits.value, bits.mask);
    }
    default: {
      if (spec.name === 'in_port' || spec.name === 'in_phy_port') {
        return { field: spec.name, value: uint(token, value, 32, PORT_NAMES) };
      }
      const bits = spec.bytes * 8;
      const [v, m] = value.split('/', 2) as [string, string | undefined];
      const n = withToken(token, () => uintValue(v, bits));
      if (m === undefined) return fieldFromBits(spec, uintBytes(spec, n), undefined);
      if (!spec.maskable) fail(token, `${spec.name} takes no mask`);
      const mask = withToken(token, () => uintValue(m, bits));
      return fieldFromBits(spec, uintBytes(spec, n), uintBytes(spec, mask));
    }
  }
}

function buildFlowMatch(raw: RawField[], shorthand: { token: string; ethType: number; ipProto?: number } | undefined): Match {
  // First what the other names depend on: eth_type and ip_proto.
  let ethType = shorthand?.ethType;
  let proto = shorthand?.ipProto;
  const fieldOf = new Map<string, { token: string; field: OxmField | undefined }>();
  const put = (name: string, token: string, field: OxmField | undefined) => {
    const prev = fieldOf.get(name);
    if (prev) fail(token, `sets ${name} again (after '${prev.token}')`);
    fieldOf.set(name, { token, field });
  };
  if (shorthand) {
    put('eth_type', shorthand.token, { field: 'eth_type', value: shorthand.ethType });
    if (shorthand.ipProto !== undefined) put('ip_proto', shorthand.token, { field: 'ip_proto', value: shorthand.ipProto });
  }
  const rest: RawField[] = [];
  for (const f of raw) {
    const early = f.name === 'dl_type' || f.name === 'eth_type' || f.name === 'nw_proto' || f.name === 'ip_proto';
    if (early && f.value.includes('/')) fail(f.token, `${f.name} takes no mask`);
    if (f.name === 'dl_type' || f.name === 'eth_type') {
      const v = uint(f.token, f.value, 16);
      put('eth_type', f.token, { field: 'eth_type', value: v });
      ethType = v;
    } else if ((f.name === 'nw_proto' || f.name === 'ip_proto') && ethType !== 0x0806 && ethType !== 0x8035) {
      const v = uint(f.token, f.value, 8);
      put('ip_proto', f.token, { field: 'ip_proto', value: v });
      proto = v;
    } else {
      rest.push(f);
    }
  }
  const isArp = ethType === 0x0806 || ethType === 0x8035;
  const icmpTypeToken = rest.find((f) => f.name === 'icmp_type' || f.name === 'icmpv6_type');
  const icmpv6Type = icmpTypeToken && ethType === 0x86dd ? uint(icmpTypeToken.token, icmpTypeToken.value, 8) : undefined;
  let vlanPcpOnly: string | undefined;
  for (const f of rest) {
    const { token } = f;
    let name = DIRECT_NAMES[f.name] ?? f.name;
    let value = f.value;
    switch (f.name) {
      case 'nw_src': name = isArp ? 'arp_spa' : 'ipv4_src'; break;
      case 'nw_dst': name = isArp ? 'arp_tpa' : 'ipv4_dst'; break;
      case 'nw_proto': name = 'arp_op'; break; // ARP: its opcode (IP was taken care of above)
      case 'tp_src':
      case 'tp_dst': {
        const l4 = l4Proto(proto);
        if (!l4) fail(token, 'needs tcp, udp or sctp (or nw_proto=6/17/132) in the match');
        name = `${l4}_${f.name.slice(3)}`;
        break;
      }
      case 'icmp_type':
      case 'icmp_code':
        name = `${ethType === 0x86dd ? 'icmpv6' : 'icmpv4'}_${f.name.slice(5)}`;
        break;
      case 'nw_tos': {
        const tos = uint(token, value, 8);
        if ((tos & 3) !== 0) fail(token, 'nw_tos is the DSCP shifted left by 2: its low 2 bits must be 0');
        name = 'ip_dscp';
        value = String(tos >> 2);
        break;
      }
      case 'dl_vlan': {
        const vid = uint(token, value, 16);
        if (vid === 0xffff) put('vlan_vid', token, { field: 'vlan_vid', value: OFP.OFPVID_NONE });
        else if (vid > 0xfff) fail(token, 'a VLAN id is 0..4095 (0xffff: no VLAN header)');
        else put('vlan_vid', token, { field: 'vlan_vid', value: OFP.OFPVID_PRESENT | vid });
        continue;
      }
      case 'vlan_tci': {
        const [v, m] = value.split('/', 2) as [string, string | undefined];
        const tci = uint(token, v, 16);
        const mask = m === undefined ? 0xffff : uint(token, m, 16);
        const pcpMask = (mask >> 13) & 7;
        if (pcpMask !== 0 && pcpMask !== 7) fail(token, 'only all or none of the PCP bits can be matched (use dl_vlan_pcp)');
        const vidMask = mask & 0x1fff;
        if (vidMask !== 0) {
          const spec = OXM_BY_NAME.get('vlan_vid')!;
          put('vlan_vid', token, fieldFromBits(spec, uintBytes(spec, BigInt(tci & 0x1fff)), uintBytes(spec, BigInt(vidMask === 0x1fff ? 0xffff : vidMask))));
        }
        if (pcpMask === 7) put('vlan_pcp', token, { field: 'vlan_pcp', value: (tci >> 13) & 7 });
        continue;
      }
      default:
        break;
    }
    const spec = OXM_BY_NAME.get(name);
    if (!spec) fail(token, 'unknown field');
    if (name === 'vlan_pcp') vlanPcpOnly = token;
    put(name, token, parseFieldValue(spec, token, value));
  }
  // OpenFlow 1.3 matches the PCP only of tagged packets; ovs-ofctl adds "tagged" for dl_vlan_pcp.
  if (vlanPcpOnly !== undefined && !fieldOf.has('vlan_vid')) {
    fieldOf.set('vlan_vid', { token: vlanPcpOnly, field: { field: 'vlan_vid', value: OFP.OFPVID_PRESENT, mask: OFP.OFPVID_PRESENT } });
  }
  const spec: Record<string, unknown> = {};
  for (const [name, { token, field }] of fieldOf) {
    if (!field || field.field === 'raw') continue;
    const why = unmetPrerequisite(name, {ethType, ipProto: proto, icmpv6Type});
    if (why) fail(token, why);
    spec[name] = field.mask === undefined ? field.value : { value: field.value, mask: field.mask };
  }
  return buildMatch(spec);
}

const PORT_ACTIONS: Readonly<Record<string, number>> = {
  normal: OFP.OFPP_NORMAL, flood: OFP.OFPP_FLOOD, all: OFP.OFPP_ALL, local: OFP.OFPP_LOCAL, in_port: OFP.OFPP_IN_PORT,
  table: OFP.OFPP_TABLE,
};

/** OVS names of set-field targets that are not OXM names. */
const SET_FIELD_NAMES: Readonly<Record<string, string>> = {
  ...DIRECT_NAMES, nw_src: 'ipv4_src', nw_dst: 'ipv4_dst', nw_tos: 'ip_dscp',
};

function setField(token: string, name: string, value: string): Action {
  const spec = OXM_BY_NAME.get(name);
  if (!spec) fail(token, `unknown field '${name}'`);
  if (value.includes('/') && spec.kind !== 'ipv4' && spec.kind !== 'ipv6') fail(token, 'OpenFlow 1.3 sets whole fields: no mask');
  const f = parseFieldValue(spec, token, value);
  if (!f || f.mask !== undefined) fail(token, 'OpenFlow 1.3 sets whole fields: no mask');
  return { type: 'SET_FIELD', field: f };
}

function parseAction(token: string, m: Match, depth: number): Action | Instruction | 'drop' {
  const colon = token.indexOf(':');
  const paren = token.indexOf('(');
  let name: string;
  let arg: string | undefined;
  if (paren >= 0 && (colon < 0 || paren < colon)) {
    if (!token.endsWith(')')) fail(token, "unbalanced '('");
    name = token.slice(0, paren);
    arg = token.slice(paren + 1, -1);
  } else if (colon >= 0) {
    name = token.slice(0, colon);
    arg = token.slice(colon + 1);
  } else {
    name = token;
  }
  name = name.trim().toLowerCase();
  const need = (): string => {
    if (arg === undefined || arg.trim() === '') fail(token, `${name} needs an argument (${name}:...)`);
    return arg.trim();
  };
  const none = () => {
    if (arg !== undefined) fail(token, `${name} takes no argument`);
  };
  const protoOf = () => m.find((f) => f.field === 'ip_proto')?.value as number | undefined;
  if (/^[0-9]+$/.test(name) && arg === undefined) return { type: 'OUTPUT', port: uint(token, name, 32), maxLen: 0 };
  switch (name) {
    case 'drop': none(); return 'drop';
    case 'output': {
      const port = uint(token, need(), 32, PORT_NAMES);
      return { type: 'OUTPUT', port, maxLen: port === OFP.OFPP_CONTROLLER ? OFP.OFPCML_NO_BUFFER : 0 };
    }
    case 'controller': {
      let maxLen: number = OFP.OFPCML_NO_BUFFER;
      if (arg !== undefined) {
        const a = arg.trim();
        const kv = /^max_len\s*=\s*(.+)$/.exec(a);
        maxLen = uint(token, kv ? kv[1]! : a, 16);
      }
      return { type: 'OUTPUT', port: OFP.OFPP_CONTROLLER, maxLen };
    }
    case 'strip_vlan':
    case 'pop_vlan': none(); return { type: 'POP_VLAN' };
    case 'push_vlan': return { type: 'PUSH_VLAN', ethertype: uint(token, need(), 16) };
    case 'push_mpls': return { type: 'PUSH_MPLS', ethertype: uint(token, need(), 16) };
    case 'pop_mpls': return { type: 'POP_MPLS', ethertype: uint(token, need(), 16) };
    case 'push_pbb': return { type: 'PUSH_PBB', ethertype: uint(token, need(), 16) };
    case 'pop_pbb': none(); return { type: 'POP_PBB' };
    case 'copy_ttl_out': none(); return { type: 'COPY_TTL_OUT' };
    case 'copy_ttl_in': none(); return { type: 'COPY_TTL_IN' };
    case 'mod_vlan_vid': {
      const vid = uint(token, need(), 12);
      return { type: 'SET_FIELD', field: { field: 'vlan_vid', value: OFP.OFPVID_PRESENT | vid } };
    }
    case 'mod_vlan_pcp': return { type: 'SET_FIELD', field: { field: 'vlan_pcp', value: uint(token, need(), 3) } };
    case 'set_mpls_label': return { type: 'SET_FIELD', field: { field: 'mpls_label', value: uint(token, need(), 20) } };
    case 'set_mpls_tc': return { type: 'SET_FIELD', field: { field: 'mpls_tc', value: uint(token, need(), 3) } };
    case 'set_mpls_ttl': return { type: 'SET_MPLS_TTL', mplsTtl: uint(token, need(), 8) };
    case 'dec_mpls_ttl': none(); return { type: 'DEC_MPLS_TTL' };
    case 'mod_nw_ttl': return { type: 'SET_NW_TTL', nwTtl: uint(token, need(), 8) };
    case 'dec_ttl': none(); return { type: 'DEC_NW_TTL' };
    case 'mod_dl_src': return setField(token, 'eth_src', need());
    case 'mod_dl_dst': return setField(token, 'eth_dst', need());
    case 'mod_nw_src': return setField(token, 'ipv4_src', need());
    case 'mod_nw_dst': return setField(token, 'ipv4_dst', need());
    case 'mod_tp_src':
    case 'mod_tp_dst': {
      const l4 = l4Proto(protoOf());
      if (!l4) fail(token, 'needs tcp, udp or sctp in the match');
      return setField(token, `${l4}_${name.slice(7)}`, need());
    }
    case 'mod_nw_tos': {
      const tos = uint(token, need(), 8);
      if ((tos & 3) !== 0) fail(token, 'nw_tos is the DSCP shifted left by 2: its low 2 bits must be 0');
      return { type: 'SET_FIELD', field: { field: 'ip_dscp', value: tos >> 2 } };
    }
    case 'mod_nw_ecn': return { type: 'SET_FIELD', field: { field: 'ip_ecn', value: uint(token, need(), 2) } };
    case 'set_field': {
      const a = need();
      const arrow = a.lastIndexOf('->');
      if (arrow < 0) fail(token, 'expected set_field:VALUE->FIELD');
      const target = a.slice(arrow + 2).trim().toLowerCase();
      let oxm = SET_FIELD_NAMES[target] ?? target;
      if (target === 'tp_src' || target === 'tp_dst') {
        const l4 = l4Proto(protoOf());
        if (!l4) fail(token, 'needs tcp, udp or sctp in the match');
        oxm = `${l4}_${target.slice(3)}`;
      }
      if (target === 'icmp_type' || target === 'icmp_code') {
        oxm = `${m.some((f) => f.field === 'eth_type' && f.value === 0x86dd) ? 'icmpv6' : 'icmpv4'}_${target.slice(5)}`;
      }
      let value = a.slice(0, arrow).trim();
      if (target === 'nw_tos') {
        const tos = uint(token, value, 8);
        if ((tos & 3) !== 0) fail(token, 'nw_tos is the DSCP shifted left by 2: its low 2 bits must be 0');
        value = String(tos >> 2);
      }
      return setField(token, oxm, value);
    }
    case 'group': return { type: 'GROUP', groupId: uint(token, need(), 32, GROUP_NAMES) };
    case 'set_queue': return { type: 'SET_QUEUE', queueId: uint(token, need(), 32, QUEUE_NAMES) };
    case 'experimenter': {
      const kv = /^\s*id\s*=\s*([^,]+?)\s*,\s*data\s*=\s*(0x)?([0-9a-fA-F]*)\s*$/.exec(arg ?? '');
      if (!kv || kv[3]!.length % 2 !== 0) fail(token, 'expected experimenter(id=N,data=0xHEX)');
      return { type: 'EXPERIMENTER', experimenter: uint(token, kv[1]!, 32), data: Buffer.from(kv[3]!, 'hex') };
    }
    // Instructions
    case 'goto_table': return { type: 'GOTO_TABLE', tableId: uint(token, need(), 8, TABLE_NAMES) };
    case 'meter': return { type: 'METER', meterId: uint(token, need(), 32, METER_NAMES) };
    case 'clear_actions': none(); return { type: 'CLEAR_ACTIONS' };
    case 'write_metadata': {
      const [v, mk] = need().split('/', 2) as [string, string | undefined];
      const metadata = withToken(token, () => uintValue(v, 64));
      const metadataMask = mk === undefined ? 0xffffffffffffffffn : withToken(token, () => uintValue(mk, 64));
      return { type: 'WRITE_METADATA', metadata, metadataMask };
    }
    case 'write_actions': {
      if (depth > 0) fail(token, 'write_actions cannot nest');
      if (arg === undefined || paren < 0) fail(token, 'expected write_actions(ACTION,...)');
      const actions: Action[] = [];
      for (const t of splitTopLevel(arg)) {
        const a = parseAction(t, m, depth + 1);
        if (a === 'drop' || !isAction(a)) fail(t, 'only actions go inside write_actions(...)');
        actions.push(a);
      }
      return { type: 'WRITE_ACTIONS', actions };
    }
    default: {
      const port = PORT_ACTIONS[name];
      if (port !== undefined) {
        none();
        return { type: 'OUTPUT', port, maxLen: 0 };
      }
      if (/^[0-9]+$/.test(name)) fail(token, 'a bare port number takes no argument');
      return fail(token, 'unknown action');
    }
  }
}

const ACTION_KINDS = new Set<string>([
  'OUTPUT', 'COPY_TTL_OUT', 'COPY_TTL_IN', 'SET_MPLS_TTL', 'DEC_MPLS_TTL', 'PUSH_VLAN', 'POP_VLAN', 'PUSH_MPLS', 'POP_MPLS',
  'SET_QUEUE', 'GROUP', 'SET_NW_TTL', 'DEC_NW_TTL', 'SET_FIELD', 'PUSH_PBB', 'POP_PBB', 'EXPERIMENTER',
]);

/** parseAction() returns experimenter actions, never experimenter instructions: the type tells them apart. */
function isAction(a: Action | Instruction): a is Action {
  return ACTION_KINDS.has(a.type);
}

/** The actions part (after `actions=`) → instructions. Throws FlowSyntaxError. */
export function parseActions(text: string, m: Match = []): Instruction[] {
  const tokens = splitTopLevel(text);
  if (tokens.length === 0) fail('actions=', 'no actions (write actions=drop to drop)');
  const apply: Action[] = [];
  const inst: Instruction[] = [];
  const seen = new Map<string, string>();
  let dropped: string | undefined;
  for (const token of tokens) {
    const a = parseAction(token, m, 0);
    if (a === 'drop') {
      dropped = token;
      continue;
    }
    if (isAction(a)) {
      apply.push(a);
      continue;
    }
    const prev = seen.get(a.type);
    if (prev !== undefined) fail(token, `a second ${a.type.toLowerCase()} (after '${prev}')`);
    seen.set(a.type, token);
    inst.push(a);
  }
  if (dropped !== undefined && (apply.length > 0 || inst.length > 0)) fail(dropped, 'drop must be the only action');
  return [...(apply.length > 0 ? [{ type: 'APPLY_ACTIONS' as const, actions: apply }] : []), ...inst];
}

// ---------------------------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------------------------

const hex = (n: number | bigint) => `0x${n.toString(16)}`;
/** C's %#x, which OVS uses for 64-bit fields: no 0x prefix on zero. */
const altHex = (n: number | bigint) => (n === 0 || n === 0n ? '0' : hex(n));
const hex4 = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

function shorthandOf(ethType: number | undefined, proto: number | undefined): { name: string; usesProto: boolean } | undefined {
  if (ethType === undefined) return undefined;
  for (const [name, [e, p]] of Object.entries(SHORTHANDS)) {
    if (e === ethType && p !== undefined && p === proto) return { name, usesProto: true };
  }
  for (const [name, [e, p]] of Object.entries(SHORTHANDS)) if (e === ethType && p === undefined) return { name, usesProto: false };
  return undefined;
}

function addressText(spec: OxmFieldSpec, f: OxmField): string {
  const value = String(f.value);
  if (f.mask === undefined) return value;
  if (spec.kind === 'mac') return `${value}/${String(f.mask)}`;
  const maskBytes = withToken('mask', () => parseIpText(String(f.mask), spec.kind === 'ipv4' ? 4 : 6).value);
  const len = prefixLength(maskBytes);
  return len !== undefined ? `${value}/${len}` : `${value}/${formatAddress(spec.kind, maskBytes)}`;
}

function intText(f: { value: unknown; mask?: unknown }, hexValue: boolean): string {
  if (f.mask !== undefined) return `${altHex(f.value as number | bigint)}/${altHex(f.mask as number | bigint)}`;
  return hexValue ? altHex(f.value as number | bigint) : String(f.value);
}

const hex5 = (n: number) => `0x${n.toString(16).padStart(5, '0')}`;

/** OVS's print order of the fields it prints by name (after the priority and the shorthand). */
const ORDER: readonly string[] = [
  'tunnel_id', 'metadata', 'in_port', 'in_phy_port', 'vlan_vid', 'vlan_pcp', 'eth_src', 'eth_dst', 'eth_type',
  'ipv6_src', 'ipv6_dst', 'ipv6_flabel', 'ipv4_src', 'ipv4_dst', 'arp_spa', 'arp_tpa', 'arp_op', 'arp_sha', 'arp_tha',
  'ip_proto', 'ip_dscp', 'ip_ecn', 'mpls_label', 'mpls_tc', 'mpls_bos', 'icmpv4_type', 'icmpv4_code', 'icmpv6_type',
  'icmpv6_code', 'tcp_src', 'tcp_dst', 'udp_src', 'udp_dst', 'sctp_src', 'sctp_dst', 'ipv6_nd_target', 'ipv6_nd_sll',
  'ipv6_nd_tll', 'pbb_isid', 'ipv6_exthdr',
];

/** A match (and priority) as dump-flows prints it: `priority=100,tcp,nw_src=10.0.0.0/24,tp_dst=80`. */
export function formatOfctlMatch(m: Match, priority: number = OFP.OFP_DEFAULT_PRIORITY): string {
  const parts: string[] = [];
  if (priority !== OFP.OFP_DEFAULT_PRIORITY) parts.push(`priority=${priority}`);
  const by = new Map<string, OxmField>();
  const raws: OxmField[] = [];
  for (const f of m) {
    if (f.field === 'raw') raws.push(f);
    else if (!by.has(f.field)) by.set(f.field, f);
  }
  const eth = by.get('eth_type');
  const protoF = by.get('ip_proto');
  const ethType = eth && eth.mask === undefined ? eth.value as number : undefined;
  const proto = protoF && protoF.mask === undefined ? protoF.value as number : undefined;
  const sh = shorthandOf(ethType, proto);
  if (sh) {
    parts.push(sh.name);
    by.delete('eth_type');
    if (sh.usesProto) by.delete('ip_proto');
  }
  for (const name of ORDER) {
    const f = by.get(name);
    if (!f) continue;
    const spec = OXM_BY_NAME.get(name)!;
    switch (name) {
      case 'tunnel_id': parts.push(`tun_id=${intText(f, true)}`); break;
      case 'metadata': parts.push(`metadata=${intText(f, true)}`); break;
      case 'in_port':
      case 'in_phy_port': parts.push(`${name}=${reservedName(PORT_NAMES, f.value as number) ?? String(f.value)}`); break;
      case 'vlan_vid': {
        const v = f.value as number;
        if (f.mask === undefined && (v & OFP.OFPVID_PRESENT) !== 0 && v <= 0x1fff) parts.push(`dl_vlan=${v & 0xfff}`);
        else if (f.mask === undefined) parts.push(`vlan_tci=${hex4(v)}/0x1fff`);
        else parts.push(`vlan_tci=${hex4(v & 0x1fff)}/${hex4((f.mask as number) & 0x1fff)}`);
        break;
      }
      case 'vlan_pcp': parts.push(`dl_vlan_pcp=${intText(f, false)}`); break;
      case 'eth_src': parts.push(`dl_src=${addressText(spec, f)}`); break;
      case 'eth_dst': parts.push(`dl_dst=${addressText(spec, f)}`); break;
      case 'eth_type': parts.push(f.mask === undefined ? `dl_type=${hex4(f.value as number)}` : `dl_type=${intText(f, true)}`); break;
      case 'ipv6_flabel': parts.push(`ipv6_label=${hex5(f.value as number)}${f.mask !== undefined ? `/${hex5(f.mask as number)}` : ''}`); break;
      case 'ipv4_src': parts.push(`nw_src=${addressText(spec, f)}`); break;
      case 'ipv4_dst': parts.push(`nw_dst=${addressText(spec, f)}`); break;
      case 'ip_proto': parts.push(`nw_proto=${intText(f, false)}`); break;
      case 'ip_dscp': parts.push(f.mask === undefined ? `nw_tos=${(f.value as number) << 2}` : `ip_dscp=${intText(f, false)}`); break;
      case 'ip_ecn': parts.push(`nw_ecn=${intText(f, false)}`); break;
      case 'icmpv4_type':
      case 'icmpv6_type': parts.push(`icmp_type=${intText(f, false)}`); break;
      case 'icmpv4_code':
      case 'icmpv6_code': parts.push(`icmp_code=${intText(f, false)}`); break;
      case 'tcp_src':
      case 'udp_src':
      case 'sctp_src': parts.push(`tp_src=${intText(f, false)}`); break;
      case 'tcp_dst':
      case 'udp_dst':
      case 'sctp_dst': parts.push(`tp_dst=${intText(f, false)}`); break;
      case 'ipv6_nd_target': parts.push(`nd_target=${addressText(spec, f)}`); break;
      case 'ipv6_nd_sll': parts.push(`nd_sll=${addressText(spec, f)}`); break;
      case 'ipv6_nd_tll': parts.push(`nd_tll=${addressText(spec, f)}`); break;
      case 'arp_op': parts.push(`arp_op=${intText(f, false)}`); break;
      default:
        parts.push(spec.kind === 'uint' || spec.kind === 'u64' ? `${name}=${intText(f, spec.kind === 'u64')}` : `${name}=${addressText(spec, f)}`);
    }
  }
  for (const f of raws) {
    if (f.field !== 'raw') continue;
    parts.push(`oxm(class=${hex(f.oxmClass)},field=${f.oxmField}${f.experimenter !== undefined ? `,experimenter=${hex(f.experimenter)}` : ''})=0x${f.value.toString('hex')}${f.mask ? `/0x${f.mask.toString('hex')}` : ''}`);
  }
  return parts.join(',');
}

/** OVS's names of set-field targets where they differ from the OXM names. */
const SET_FIELD_PRINT: Readonly<Record<string, string>> = {
  ipv4_src: 'ip_src', ipv4_dst: 'ip_dst', tunnel_id: 'tun_id', ipv6_flabel: 'ipv6_label', ipv6_nd_target: 'nd_target',
  ipv6_nd_sll: 'nd_sll', ipv6_nd_tll: 'nd_tll', icmpv4_type: 'icmp_type', icmpv4_code: 'icmp_code',
};

function actionText(a: Action): string {
  switch (a.type) {
    case 'OUTPUT': {
      if (a.port === OFP.OFPP_CONTROLLER) return `CONTROLLER:${a.maxLen}`;
      const name = reservedName(PORT_NAMES, a.port);
      if (name && Object.prototype.hasOwnProperty.call(PORT_ACTIONS, name.toLowerCase())) return name;
      return `output:${name ?? a.port}`;
    }
    case 'SET_FIELD': {
      const f = a.field;
      if (f.field === 'raw') return `set_field:0x${f.value.toString('hex')}->oxm(class=${hex(f.oxmClass)},field=${f.oxmField})`;
      const spec = OXM_BY_NAME.get(f.field)!;
      const v = spec.kind === 'u64' ? altHex(f.value as bigint) : String(f.value);
      return `set_field:${v}->${SET_FIELD_PRINT[f.field] ?? f.field}`;
    }
    case 'PUSH_VLAN': return `push_vlan:${hex4(a.ethertype)}`;
    case 'POP_VLAN': return 'pop_vlan';
    case 'PUSH_MPLS': return `push_mpls:${hex4(a.ethertype)}`;
    case 'POP_MPLS': return `pop_mpls:${hex4(a.ethertype)}`;
    case 'PUSH_PBB': return `push_pbb:${hex4(a.ethertype)}`;
    case 'POP_PBB': return 'pop_pbb';
    case 'GROUP': return `group:${a.groupId}`;
    case 'SET_QUEUE': return `set_queue:${a.queueId}`;
    case 'DEC_NW_TTL': return 'dec_ttl';
    case 'SET_NW_TTL': return `mod_nw_ttl:${a.nwTtl}`;
    case 'SET_MPLS_TTL': return `set_mpls_ttl(${a.mplsTtl})`;
    case 'DEC_MPLS_TTL': return 'dec_mpls_ttl';
    case 'COPY_TTL_OUT': return 'copy_ttl_out';
    case 'COPY_TTL_IN': return 'copy_ttl_in';
    case 'EXPERIMENTER': return `experimenter(id=${hex(a.experimenter)},data=0x${a.data.toString('hex')})`;
  }
}

const PRINT_ORDER: Readonly<Record<Instruction['type'], number>> = {
  METER: 0, APPLY_ACTIONS: 1, CLEAR_ACTIONS: 2, WRITE_ACTIONS: 3, WRITE_METADATA: 4, GOTO_TABLE: 5, EXPERIMENTER: 6,
};

/** Instructions as dump-flows prints them after `actions=` ('drop' when there are none). */
export function formatOfctlActions(instructions: Instruction[]): string {
  const parts: string[] = [];
  const sorted = [...instructions].sort((a, b) => PRINT_ORDER[a.type] - PRINT_ORDER[b.type]);
  for (const ins of sorted) {
    switch (ins.type) {
      case 'METER': parts.push(`meter:${ins.meterId}`); break;
      case 'APPLY_ACTIONS': parts.push(...ins.actions.map(actionText)); break;
      case 'CLEAR_ACTIONS': parts.push('clear_actions'); break;
      case 'WRITE_ACTIONS': if (ins.actions.length > 0) parts.push(`write_actions(${ins.actions.map(actionText).join(',')})`); break;
      case 'WRITE_METADATA':
        parts.push(ins.metadataMask === 0xffffffffffffffffn ? `write_metadata:${altHex(ins.metadata)}` : `write_metadata:${altHex(ins.metadata)}/${altHex(ins.metadataMask)}`);
        break;
      case 'GOTO_TABLE': parts.push(`goto_table:${ins.tableId}`); break;
      case 'EXPERIMENTER': parts.push(`experimenter_instruction(id=${hex(ins.experimenter)},data=0x${ins.data.toString('hex')})`); break;
    }
  }
  return parts.length > 0 ? parts.join(',') : 'drop';
}

function isStats(f: FlowEntry | FlowStats): f is FlowStats {
  return 'packetCount' in f && 'durationSec' in f;
}

export interface FormatOptions {
  /** Print duration and counters (default: when given flow stats). */
  stats?: boolean;
}

/**
 * One flow as `ovs-ofctl dump-flows` prints it (without its leading space). With stats:
 * `cookie=0x10, duration=2.500s, table=1, n_packets=0, n_bytes=0, idle_timeout=30, priority=100,tcp,...
 * actions=output:3`; without (a table entry, or `stats: false`), as `dump-flows --no-stats`:
 * cookie and table only when not 0.
 */
export function formatOfctlFlow(flow: FlowEntry | FlowStats, options: FormatOptions = {}): string {
  const stats = options.stats ?? isStats(flow);
  let head = '';
  if (stats && isStats(flow)) {
    const duration = `${flow.durationSec}.${String(Math.floor(flow.durationNsec / 1e6)).padStart(3, '0')}s`;
    head = `cookie=${hex(flow.cookie)}, duration=${duration}, table=${flow.tableId}, n_packets=${flow.packetCount}, n_bytes=${flow.byteCount}, `;
  } else {
    if (flow.cookie !== 0n) head += `cookie=${hex(flow.cookie)}, `;
    if (flow.tableId !== 0) head += `table=${flow.tableId}, `;
  }
  if (flow.idleTimeout !== 0) head += `idle_timeout=${flow.idleTimeout}, `;
  if (flow.hardTimeout !== 0) head += `hard_timeout=${flow.hardTimeout}, `;
  const flags = FLAG_NAMES.filter(([, bit]) => (flow.flags & bit) !== 0).map(([n]) => n);
  if (flags.length > 0) head += `${flags.join(' ')} `;
  const m = formatOfctlMatch(flow.match, flow.priority);
  return `${head}${m ? `${m} ` : ''}actions=${formatOfctlActions(flow.instructions)}`;
}

