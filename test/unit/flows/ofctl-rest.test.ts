/**
 * Ryu ofctl_rest JSON ↔ FLOW_MOD: the examples of Ryu's ofctl_rest documentation, the value
 * formats its to_match accepts, the flow-stats reply it writes, and the guarantee that nothing
 * but FlowRequestError comes out of bad input.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  OFP, applyActions, encodeMessage, flowMod, gotoTable, match, output, writeActions, type FlowStats,
} from '../../../src/openflow/codec.js';
import {
  FlowRequestError, clearFlowsFlowMod, flowStatsLength, formatFlowStatsReply, parseFlowEntryRequest,
  parseFlowStatsFilter, parseRyuMatch, toRyuJson,
} from '../../../src/flows/ofctl-rest.js';
import { FlowTable } from '../../../src/flows/flow-table.js';

function error(f: () => unknown): FlowRequestError {
  try {
    f();
  } catch (err) {
    if (err instanceof FlowRequestError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('ofctl_rest JSON', function () {
  describe('POST /stats/flowentry/<command>', function () {
    it("reads the documentation's add example", function () {
      const r = parseFlowEntryRequest('add', {
        dpid: 1, cookie: 1, cookie_mask: 1, table_id: 0, idle_timeout: 30, hard_timeout: 30, priority: 11111, flags: 1,
        match: { in_port: 1 }, actions: [{ type: 'OUTPUT', port: 2 }],
      });
      expect(r.dpid).to.equal(1n);
      expect(r.flowMod).to.deep.equal(flowMod({
        cookie: 1n, cookieMask: 1n, idleTimeout: 30, hardTimeout: 30, priority: 11111, flags: 1,
        match: match({ in_port: 1 }), instructions: [applyActions(output(2, OFP.OFPCML_MAX))],
      }));
    });

    it("uses Ryu's defaults: table 0, priority 0, no buffer, out_port/out_group ANY, drop", function () {
      const r = parseFlowEntryRequest('delete', { dpid: '0x10' });
      expect(r.dpid).to.equal(16n);
      expect(r.flowMod).to.deep.equal(flowMod({ command: OFP.OFPFC_DELETE, priority: 0 }));
    });

    it('maps every command', function () {
      const cmds = { add: OFP.OFPFC_ADD, modify: OFP.OFPFC_MODIFY, modify_strict: OFP.OFPFC_MODIFY_STRICT, delete: OFP.OFPFC_DELETE, delete_strict: OFP.OFPFC_DELETE_STRICT };
      for (const [name, code] of Object.entries(cmds)) expect(parseFlowEntryRequest(name, { dpid: 1 }).flowMod.command).to.equal(code);
      expect(error(() => parseFlowEntryRequest('clear', { dpid: 1 })).field).to.equal('command');
    });

    it('reads integers as numbers, decimal or hex strings, and reserved names', function () {
      const r = parseFlowEntryRequest('delete', {
        dpid: '18446744073709551615', cookie: '0xf10e000000000001', cookie_mask: '0xffff000000000000', table_id: 'ALL',
        out_port: 'CONTROLLER', out_group: 'OFPG_ANY', buffer_id: 'OFP_NO_BUFFER', priority: '100',
      });
      expect(r.dpid).to.equal(0xffffffffffffffffn);
      const fm = r.flowMod;
      expect([fm.cookie, fm.cookieMask, fm.tableId, fm.outPort, fm.outGroup, fm.bufferId, fm.priority]).to.deep.equal([
        0xf10e000000000001n, 0xffff000000000000n, OFP.OFPTT_ALL, OFP.OFPP_CONTROLLER, OFP.OFPG_ANY, OFP.OFP_NO_BUFFER, 100,
      ]);
    });

    it('mixes actions and instructions in one list, as Ryu does', function () {
      const r = parseFlowEntryRequest('add', {
        dpid: 1,
        actions: [
          { type: 'PUSH_VLAN', ethertype: 33024 },
          { type: 'GOTO_TABLE', table_id: 8 },
          { type: 'SET_FIELD', field: 'vlan_vid', value: 4102 },
          { type: 'WRITE_METADATA', metadata: 3, metadata_mask: '0x3' },
          { type: 'METER', meter_id: 3 },
          { type: 'WRITE_ACTIONS', actions: [{ type: 'POP_VLAN' }, { type: 'OUTPUT', port: 2, max_len: 0 }] },
          { type: 'CLEAR_ACTIONS' },
          { type: 'OUTPUT', port: 'NORMAL' },
          { type: 'GROUP', group_id: 5 },
          { type: 'EXPERIMENTER', experimenter: 101, data: 'AAECAwQFBgc=', data_type: 'base64' },
          { type: 'SET_FIELD', field: 'eth_src', value: 'AA:BB:CC:11:22:33' },
          { type: 'SET_QUEUE', queue_id: 7 },
          { type: 'DEC_NW_TTL' },
        ],
      });
      expect(r.flowMod.instructions).to.deep.equal([
        gotoTable(8),
        { type: 'WRITE_METADATA', metadata: 3n, metadataMask: 3n },
        { type: 'METER', meterId: 3 },
        writeActions({ type: 'POP_VLAN' }, output(2, 0)),
        { type: 'CLEAR_ACTIONS' },
        applyActions(
          { type: 'PUSH_VLAN', ethertype: 0x8100 },
          { type: 'SET_FIELD', field: { field: 'vlan_vid', value: 4102 } },
          output(OFP.OFPP_NORMAL, OFP.OFPCML_MAX),
          { type: 'GROUP', groupId: 5 },
          { type: 'EXPERIMENTER', experimenter: 101, data: Buffer.from([0, 1, 2, 3, 4, 5, 6, 7]) },
          { type: 'SET_FIELD', field: { field: 'eth_src', value: 'aa:bb:cc:11:22:33' } },
          { type: 'SET_QUEUE', queueId: 7 },
          { type: 'DEC_NW_TTL' },
        ),
      ]);
      expect(() => encodeMessage(r.flowMod)).to.not.throw();
    });

    it('names the field and the reason of every refusal', function () {
      const cases: [unknown, string, RegExp][] = [
        [[], 'body', /object/],
        [{}, 'dpid', /required/],
        [{ dpid: 1, actions: [{ type: 'OUTPUT', port: 2 }, { type: 'OUTPUT', port: 'nowhere' }] }, 'actions[1].port', /expected a port number or one of .*IN_PORT.*CONTROLLER/],
        [{ dpid: 1, actions: [{ type: 'OUTPUT' }] }, 'actions[0].port', /required/],
        [{ dpid: 1, actions: [{ type: 'FLY' }] }, 'actions[0].type', /expected one of OUTPUT/],
        [{ dpid: 1, actions: [{ type: 'GOTO_TABLE', table_id: 1 }, { type: 'GOTO_TABLE', table_id: 2 }] }, 'actions[1]', /a second GOTO_TABLE/],
        [{ dpid: 1, actions: [{ type: 'WRITE_ACTIONS', actions: [{ type: 'GOTO_TABLE', table_id: 1 }] }] }, 'actions[0].actions[0].type', /top-level list/],
        [{ dpid: 1, actions: [{ type: 'SET_FIELD', field: 'eth_src', value: 'aa:bb:cc:11:22:33/ff:ff:ff:00:00:00' }] }, 'actions[0].value', /no mask/],
        [{ dpid: 1, actions: [{ type: 'EXPERIMENTER', experimenter: 1, data: '!!', data_type: 'base64' }] }, 'actions[0].data', /base64/],
        [{ dpid: 1, priority: 70000 }, 'priority', /0\.\.65535/],
        [{ dpid: 1, cookie: 2 ** 60 }, 'cookie', /pass it as a string/],
        [{ dpid: 1, cookie: -1 }, 'cookie', /integer/],
        [{ dpid: 1, table_id: true }, 'table_id', /a table id or one of MAX, ALL/],
        [{ dpid: 1, match: { nw_dst: '10.0.0.300' } }, 'match.nw_dst', /IPv4 address/],
        [{ dpid: 1, match: { tp_dst: 80 } }, 'match.tp_dst', /ip_proto/],
        [{ dpid: 1, match: { dl_type: 2048, eth_type: 2048 } }, 'match.eth_type', /same field as 'dl_type'/],
        [{ dpid: 1, match: { colour: 'red' } }, 'match.colour', /unknown match field/],
        [{ dpid: 1, match: { in_port: '1/1' } }, 'match.in_port', /port number/],
        [{ dpid: 1, match: { eth_type: '2048/255' } }, 'match.eth_type', /takes no mask/],
        [{ dpid: 1, match: { dl_vlan: 5000 } }, 'match.dl_vlan', /0\.\.4095/],
        [{ dpid: 1, match: [] }, 'match', /object/],
        // Prerequisites, which the switch would refuse without naming the field (OFPBMC_BAD_PREREQ).
        [{ dpid: 1, match: { ipv4_dst: '10.0.0.3' } }, 'match.ipv4_dst', /^needs ip \(eth_type 0x0800\)$/],
        [{ dpid: 1, match: { nw_dst: '10.0.0.3', in_port: 1 } }, 'match.nw_dst', /^needs ip \(eth_type 0x0800\)$/],
        [{ dpid: 1, match: { eth_type: 2048, tcp_dst: 80 } }, 'match.tcp_dst', /^needs tcp \(ip_proto 6/],
        [{ dpid: 1, match: { nw_proto: 6, tp_dst: 80 } }, 'match.nw_proto', /^needs ip or ipv6/],
        [{ dpid: 1, match: { eth_type: 34525, ip_proto: 58, ipv6_nd_target: '::1' } }, 'match.ipv6_nd_target', /icmpv6_type 135 or 136/],
        [{ dpid: 1, match: { arp_op: 1 } }, 'match.arp_op', /^needs arp \(eth_type 0x0806\)$/],
      ];
      for (const [body, field, reason] of cases) {
        const e = error(() => parseFlowEntryRequest('add', body));
        expect(e.field, JSON.stringify(body)).to.equal(field);
        expect(e.reason, JSON.stringify(body)).to.match(reason);
        expect(e.message).to.equal(`${field}: ${e.reason}`);
      }
    });
  });

  describe('match', function () {
    const m = (raw: Record<string, unknown>) => parseRyuMatch(raw);

    it('reads MAC, IPv4 and IPv6 values with masks and prefixes, clearing host bits', function () {
      expect(m({ dl_dst: 'aa:bb:cc:11:22:33/00:00:00:00:ff:ff' })).to.deep.equal(match({ eth_dst: { value: '00:00:00:00:22:33', mask: '00:00:00:00:ff:ff' } }));
      expect(m({ eth_type: 2048, nw_dst: '192.168.0.1/24' })).to.deep.equal(match({ eth_type: 0x0800, ipv4_dst: { value: '192.168.0.0', mask: '255.255.255.0' } }));
      expect(m({ eth_type: 2048, ipv4_dst: '192.168.10.10/255.255.255.0' })).to.deep.equal(match({ eth_type: 0x0800, ipv4_dst: { value: '192.168.10.0', mask: '255.255.255.0' } }));
      expect(m({ eth_type: 2048, ipv4_src: '10.0.0.1/32' })).to.deep.equal(match({ eth_type: 0x0800, ipv4_src: '10.0.0.1' }));
      expect(m({ eth_type: 2048, ipv4_src: '10.0.0.1/0' }), 'a zero mask matches anything').to.deep.equal(match({ eth_type: 0x0800 }));
      expect(m({ eth_type: 34525, ipv6_dst: '2001::ffff:cccc:bbbb:1111/64' })).to.deep.equal(match({ eth_type: 0x86dd, ipv6_dst: { value: '2001::', mask: 'ffff:ffff:ffff:ffff::' } }));
      expect(m({ eth_type: 34525, ipv6_src: '2001::ffff:cccc:bbbb:2222/ffff:ffff:ffff:ffff::0' })).to.deep.equal(match({ eth_type: 0x86dd, ipv6_src: { value: '2001::', mask: 'ffff:ffff:ffff:ffff::' } }));
    });

    it('maps the legacy names, tp_* by ip_proto and nw_* to ARP addresses for ARP', function () {
      expect(m({ dl_type: 2048, nw_proto: 6, tp_dst: 80, tp_src: '1024' })).to.deep.equal(match({ eth_type: 0x0800, ip_proto: 6, tcp_src: 1024, tcp_dst: 80 }));
      expect(m({ eth_type: 2048, ip_proto: 17, tp_dst: 53 })).to.deep.equal(match({ eth_type: 0x0800, ip_proto: 17, udp_dst: 53 }));
      expect(m({ dl_type: 2054, nw_src: '10.0.0.1', nw_dst: '10.0.0.0/8' })).to.deep.equal(match({ eth_type: 0x0806, arp_spa: '10.0.0.1', arp_tpa: { value: '10.0.0.0', mask: '255.0.0.0' } }));
      expect(m({ dl_src: 'aa:bb:cc:11:22:33', in_port: 'LOCAL' })).to.deep.equal(match({ in_port: OFP.OFPP_LOCAL, eth_src: 'aa:bb:cc:11:22:33' }));
    });

    it('reads VLAN ids the way Ryu documents them', function () {
      expect(m({ dl_vlan: 5 })).to.deep.equal(match({ vlan_vid: 0x1005 }));
      expect(m({ vlan_vid: '5' })).to.deep.equal(match({ vlan_vid: 0x1005 }));
      expect(m({ dl_vlan: '0x0000' })).to.deep.equal(match({ vlan_vid: 0 }));
      expect(m({ dl_vlan: '0x1005' })).to.deep.equal(match({ vlan_vid: 0x1005 }));
      expect(m({ dl_vlan: '0x1000/0x1000' })).to.deep.equal(match({ vlan_vid: { value: 0x1000, mask: 0x1000 } }));
    });

    it('reads masked integers (metadata, tunnel_id, pbb_isid, ipv6_exthdr) from strings', function () {
      expect(m({ metadata: '0x1212/0xffff', tunnel_id: 7 })).to.deep.equal(match({ metadata: { value: 0x1212n, mask: 0xffffn }, tunnel_id: 7n }));
      expect(m({ metadata: '0x3434343434343434/0x01010101010101010' })).to.deep.equal(match({ metadata: { value: 0x1010101010101010n, mask: 0x1010101010101010n } }));
      expect(m({ eth_type: 35047, pbb_isid: '0x05/0xff' })).to.deep.equal(match({ eth_type: 0x88e7, pbb_isid: { value: 5, mask: 0xff } }));
    });
  });

  describe('POST /stats/flow/<dpid> filter', function () {
    it('defaults to every table, port, group and cookie', function () {
      expect(parseFlowStatsFilter({})).to.deep.equal({ tableId: OFP.OFPTT_ALL, outPort: OFP.OFPP_ANY, outGroup: OFP.OFPG_ANY, cookie: 0n, cookieMask: 0n, match: [] });
      expect(parseFlowStatsFilter(undefined).tableId).to.equal(OFP.OFPTT_ALL);
    });

    it("reads the documentation's example", function () {
      expect(parseFlowStatsFilter({ table_id: 0, out_port: 2, cookie: 1, cookie_mask: 1, match: { in_port: 1 } })).to.deep.equal({
        tableId: 0, outPort: 2, outGroup: OFP.OFPG_ANY, cookie: 1n, cookieMask: 1n, match: match({ in_port: 1 }),
      });
    });

    it('clear is a delete of everything in every table', function () {
      const t = FlowTable.of([{ tableId: 3, priority: 1, match: [], cookie: 0n, idleTimeout: 0, hardTimeout: 0, flags: 0, instructions: [] }]);
      t.apply(clearFlowsFlowMod());
      expect(t.size).to.equal(0);
    });
  });

  describe('GET /stats/flow/<dpid> reply', function () {
    const stats = (over: Partial<FlowStats>): FlowStats => ({
      tableId: 0, durationSec: 2, durationNsec: 676000000, priority: 11111, idleTimeout: 0, hardTimeout: 0, flags: 1,
      cookie: 1n, packetCount: 0n, byteCount: 0n, match: match({ in_port: 1 }), instructions: [applyActions(output(2))], ...over,
    });

    it("writes the documentation's example, length included", function () {
      const reply = formatFlowStatsReply(1n, [stats({})]);
      expect(JSON.parse(toRyuJson(reply))).to.deep.equal({
        1: [{
          priority: 11111, cookie: 1, idle_timeout: 0, hard_timeout: 0, actions: ['OUTPUT:2'], match: { in_port: 1 },
          byte_count: 0, duration_sec: 2, duration_nsec: 676000000, packet_count: 0, table_id: 0, length: 88, flags: 1,
        }],
      });
    });

    it("writes matches and actions the way Ryu's ofctl_v1_3 does", function () {
      const reply = formatFlowStatsReply(0xfffffffffffffffen, [stats({
        tableId: 254,
        cookie: 0xffffffffffffffffn,
        packetCount: 2n ** 60n,
        match: match({
          in_port: OFP.OFPP_CONTROLLER, eth_type: 0x0800, eth_src: 'f2:0b:a4:7d:f8:ea', vlan_vid: 0x1064, ip_proto: 6,
          ipv4_dst: { value: '10.0.0.0', mask: '255.255.255.0' }, tcp_dst: 80, metadata: { value: 5n, mask: 0xffn },
        }),
        instructions: [
          { type: 'METER', meterId: OFP.OFPM_CONTROLLER },
          applyActions({ type: 'SET_FIELD', field: { field: 'eth_src', value: '01:02:03:04:05:06' } }, { type: 'PUSH_VLAN', ethertype: 0x8100 }, output(OFP.OFPP_CONTROLLER), { type: 'GROUP', groupId: OFP.OFPG_ALL }),
          { type: 'CLEAR_ACTIONS' },
          writeActions(output(6), { type: 'EXPERIMENTER', experimenter: 8992, data: Buffer.from('p_data') }),
          { type: 'WRITE_METADATA', metadata: 1n, metadataMask: 0xffn },
          gotoTable(255),
        ],
      })]);
      const text = toRyuJson(reply);
      expect(text).to.contain('"18446744073709551614":[');
      expect(text).to.contain('"cookie":18446744073709551615,');
      expect(text).to.contain('"packet_count":1152921504606846976,');
      const flow = reply['18446744073709551614']![0]!;
      expect(flow.table_id).to.equal('MAX');
      expect(flow.match).to.deep.equal({
        in_port: 'CONTROLLER', metadata: '5/255', dl_src: 'f2:0b:a4:7d:f8:ea', dl_type: 2048, dl_vlan: '100', nw_proto: 6,
        nw_dst: '10.0.0.0/255.255.255.0', tp_dst: 80,
      });
      expect(flow.actions).to.deep.equal([
        'METER:CONTROLLER',
        'SET_FIELD: {eth_src:01:02:03:04:05:06}', 'PUSH_VLAN:33024', 'OUTPUT:CONTROLLER', 'GROUP:ALL',
        'CLEAR_ACTIONS',
        { WRITE_ACTIONS: ['OUTPUT:6', 'EXPERIMENTER: {experimenter:8992, data:cF9kYXRh}'] },
        'WRITE_METADATA:0x1/0xff',
        'GOTO_TABLE:ALL',
      ]);
    });

    it('writes dl_vlan without a tag, masked, and flow lengths equal to the wire encoding', function () {
      const r = formatFlowStatsReply(1n, [
        stats({ match: match({ vlan_vid: 0 }) }),
        stats({ match: match({ vlan_vid: { value: 0x1000, mask: 0x1000 } }) }),
      ]);
      expect(r['1']!.map((f) => f.match.dl_vlan)).to.deep.equal(['0x0000', '0x1000/0x1000']);
      const flows = [stats({}), stats({ match: match({ eth_type: 0x86dd, ipv6_src: 'fe80::1' }), instructions: [writeActions({ type: 'SET_FIELD', field: { field: 'ipv6_dst', value: '::1' } }), gotoTable(1)] })];
      for (const f of flows) {
        const bytes = encodeMessage({ type: 'MULTIPART_REPLY', xid: 0, flags: 0, body: { kind: 'FLOW', flows: [f] } });
        expect(flowStatsLength(f)).to.equal(bytes.length - 16);
      }
    });

    it('toRyuJson writes bigints as exact numbers and indents like JSON.stringify', function () {
      const v = { a: [1, 'x', null, { b: true }], c: {}, d: [] };
      expect(toRyuJson(v, 2)).to.equal(JSON.stringify(v, null, 2));
      expect(toRyuJson(v)).to.equal(JSON.stringify(v));
      expect(toRyuJson({ n: 12345678901234567890n })).to.equal('{"n":12345678901234567890}');
    });
  });

  describe('properties', function () {
    const anyValue = fc.oneof(
      fc.anything(), fc.integer(), fc.double(), fc.string(), fc.constantFrom('LOCAL', 'ALL', '0x10', '1/1', '10.0.0.1/24', 'aa:bb:cc:dd:ee:ff', '::1/64', ''),
    );
    /** Mostly plausible values, sometimes anything at all. */
    const mostly = <T>(good: fc.Arbitrary<T>) => fc.oneof({ weight: 12, arbitrary: good }, { weight: 1, arbitrary: anyValue });
    const small = fc.oneof(fc.nat(300), fc.nat(300).map(String), fc.nat(300).map((n) => `0x${n.toString(16)}`));
    const matchValues: Record<string, fc.Arbitrary<unknown>> = {
      in_port: fc.oneof(small, fc.constantFrom('LOCAL', 'controller')), dl_type: fc.constantFrom(2048, 2054, 34525, '0x0800'),
      eth_type: fc.constantFrom(2048, 2054, 34525), nw_proto: fc.constantFrom(6, 17, 1), ip_proto: fc.constantFrom(6, 17, 132),
      tp_dst: small, nw_dst: fc.constantFrom('10.0.0.1', '10.0.0.1/24', '10.0.0.0/255.0.0.0', '10.0.0.1/0'),
      dl_vlan: fc.oneof(fc.nat(4095), fc.constantFrom('0x1000/0x1000', '0x0000', '7')), vlan_vid: fc.nat(4095),
      eth_dst: fc.constantFrom('aa:bb:cc:dd:ee:ff', '01:00:00:00:00:00/01:00:00:00:00:00'), metadata: fc.constantFrom('0x10/0xff', 5, '18446744073709551615'),
      ipv6_src: fc.constantFrom('fe80::1', '2001:db8::/32'), arp_op: fc.constantFrom(1, 2), bogus: anyValue,
    };
    const matchKeys = Object.keys(matchValues);
    const matchArb = fc.oneof(
      { weight: 5, arbitrary: fc.uniqueArray(fc.constantFrom(...matchKeys), { maxLength: 5 }).chain((ks) => fc.tuple(...ks.map((k) => mostly(matchValues[k]!))).map((vs) => Object.fromEntries(ks.map((k, i) => [k, vs[i]])))) },
      { weight: 1, arbitrary: anyValue },
    );
    const actionTypes = ['OUTPUT', 'SET_FIELD', 'GOTO_TABLE', 'WRITE_ACTIONS', 'WRITE_METADATA', 'METER', 'EXPERIMENTER', 'GROUP', 'PUSH_VLAN', 'CLEAR_ACTIONS', 'POP_VLAN', 'X'];
    const action: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
      action: fc.record({
        type: fc.constantFrom(...actionTypes),
        port: mostly(fc.oneof(small, fc.constantFrom('CONTROLLER', 'NORMAL'))), max_len: mostly(small),
        field: fc.constantFrom('eth_src', 'vlan_vid', 'ipv4_dst', 'metadata', 'dl_dst', 'bogus'),
        value: mostly(fc.constantFrom(4102, 'aa:bb:cc:dd:ee:ff', '10.0.0.1', '0x10')), table_id: mostly(small),
        metadata: mostly(small), metadata_mask: mostly(small), meter_id: mostly(small), group_id: mostly(small), ethertype: mostly(fc.constant(33024)),
        experimenter: mostly(small), data: mostly(fc.constantFrom('AAEC', 'text')), data_type: fc.constantFrom('ascii', 'base64', 'x'),
        actions: fc.oneof(fc.array(tie('action'), { maxLength: 3 }), anyValue),
      }, { requiredKeys: ['type'] }),
    })).action;
    const body = fc.oneof(
      { weight: 1, arbitrary: anyValue },
      {
        weight: 6,
        arbitrary: fc.record({
          dpid: mostly(fc.oneof(fc.nat(), fc.constant('0x1'))),
          cookie: mostly(small), cookie_mask: mostly(small), table_id: mostly(fc.oneof(fc.nat(5), fc.constant('ALL'))),
          priority: mostly(small), idle_timeout: mostly(small), flags: mostly(fc.nat(31)), out_port: mostly(small),
          match: matchArb,
          actions: fc.oneof({ weight: 5, arbitrary: fc.array(action, { maxLength: 5 }) }, { weight: 1, arbitrary: anyValue }),
        }, { requiredKeys: [] }),
      },
    );
    let accepted = 0;

    it('bad input yields FlowRequestError and nothing else; good input encodes', function () {
      fc.assert(fc.property(fc.constantFrom('add', 'modify', 'delete_strict', 'nope'), body, (cmd, b) => {
        let r;
        try {
          r = parseFlowEntryRequest(cmd, b);
        } catch (err) {
          if (err instanceof FlowRequestError) return;
          throw err;
        }
        encodeMessage(r.flowMod);
        accepted++;
      }), { numRuns: 3000 });
      expect(accepted, 'some random requests are valid').to.be.greaterThan(150);
      fc.assert(fc.property(body, (b) => {
        try {
          parseFlowStatsFilter(b);
        } catch (err) {
          if (!(err instanceof FlowRequestError)) throw err;
        }
      }), { numRuns: 1000 });
    });
  });
});
