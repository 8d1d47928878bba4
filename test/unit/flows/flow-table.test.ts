/**
 * FlowTable: OpenFlow 1.3 flow-mod semantics, checked case by case against what Open vSwitch 3.1
 * does with the same flow-mods (the cases below were run on a dummy-datapath bridge first), then
 * by properties over random flow-mod sequences.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  OFP, applyActions, flowMod, gotoTable, match, output, writeActions, type FlowModMessage, type Match, type OxmField,
} from '../../../src/openflow/codec.js';
import {
  FlowTable, addFlowModFor, canonicalInstructions, cookieInNamespace, deleteFlowModFor, editsOf, entryFromFlowStats, entryToJson, flowKey,
  sameFlowContent, sameInstructions, type ApplyResult, type FlowChange,
} from '../../../src/flows/flow-table.js';
import { JsonShapeError } from '../../../src/flows/json.js';
import { OWNED, richAdd, richMatch, smallFlowMod } from '../../helpers/flows-arbitraries.js';
import { instruction as anyInstruction, match as anyMatch } from '../../helpers/openflow-arbitraries.js';
import { instructionToJson } from '../../../src/flows/json.js';
import { matchKey } from '../../../src/openflow/codec.js';
import { MatchValueError, matchOfNormalizedFields, normalizeField, normalizeMatch } from '../../../src/flows/match-bits.js';

function ok(r: ApplyResult): FlowChange[] {
  if (!r.ok) throw new Error(`refused: ${r.error.reason}`);
  return r.changes;
}

function table(...mods: FlowModMessage[]): FlowTable {
  const t = new FlowTable();
  for (const m of mods) ok(t.apply(m));
  return t;
}

const out = (p: number) => [applyActions(output(p))];

describe('FlowTable', function () {
  describe('identity', function () {
    it('is (table, priority, match) whatever the field order, exact masks or address spelling', function () {
      const t = table(flowMod({ priority: 5, match: match({ in_port: 1, eth_type: 0x0800, ipv4_dst: '10.0.0.1' }), instructions: out(1) }));
      const reordered: Match = [
        { field: 'ipv4_dst', value: '10.0.0.1', mask: '255.255.255.255' }, { field: 'eth_type', value: 0x0800 }, { field: 'in_port', value: 1 },
      ];
      expect(t.get({ tableId: 0, priority: 5, match: reordered })).to.not.equal(undefined);
      expect(t.get({ tableId: 0, priority: 6, match: match({ in_port: 1, eth_type: 0x0800, ipv4_dst: '10.0.0.1' }) })).to.equal(undefined);
      expect(t.get({ tableId: 1, priority: 5, match: match({ in_port: 1, eth_type: 0x0800, ipv4_dst: '10.0.0.1' }) })).to.equal(undefined);
    });

    it('treats vlan_vid/0x1fff as exact and clears value bits outside a mask, as OVS reports them', function () {
      const t = table(
        flowMod({ priority: 1, match: match({ vlan_vid: { value: 0x1064, mask: 0x1fff } }) }),
        flowMod({ priority: 2, match: match({ eth_type: 0x0800, ipv4_dst: { value: '10.0.0.5', mask: '255.255.255.0' } }) }),
        flowMod({ priority: 3, match: match({ eth_dst: { value: 'AA:BB:CC:DD:EE:FF', mask: 'ff:ff:ff:00:00:00' } }) }),
      );
      expect(t.entries().map((e) => e.match)).to.deep.equal([
        [{ field: 'eth_dst', value: 'aa:bb:cc:00:00:00', mask: 'ff:ff:ff:00:00:00' }],
        [{ field: 'eth_type', value: 0x0800 }, { field: 'ipv4_dst', value: '10.0.0.0', mask: '255.255.255.0' }],
        [{ field: 'vlan_vid', value: 0x1064 }],
      ]);
      expect(t.has({ tableId: 0, priority: 1, match: match({ vlan_vid: 0x1064 }) })).to.equal(true);
    });

    it('orders entries by table, then priority (highest first), then match', function () {
      const t = table(
        flowMod({ tableId: 1, priority: 9, match: match({ in_port: 1 }) }),
        flowMod({ tableId: 0, priority: 1, match: match({ in_port: 2 }) }),
        flowMod({ tableId: 0, priority: 7, match: match({ in_port: 3 }) }),
        flowMod({ tableId: 0, priority: 7, match: match({ in_port: 1 }) }),
      );
      expect(t.entries().map((e) => [e.tableId, e.priority, e.match[0]!.value])).to.deep.equal([[0, 7, 1], [0, 7, 3], [0, 1, 2], [1, 9, 1]]);
    });
  });

  describe('ADD', function () {
    it('inserts, and replaces an identical identity with everything from the request', function () {
      const t = new FlowTable();
      const c1 = ok(t.apply(flowMod({ priority: 10, cookie: 5n, idleTimeout: 100, match: match({ in_port: 1 }), instructions: out(2) })));
      expect(c1.map((c) => c.op)).to.deep.equal(['add']);
      const c2 = ok(t.apply(flowMod({ priority: 10, cookie: 8n, flags: OFP.OFPFF_SEND_FLOW_REM, match: match({ in_port: 1 }), instructions: out(9) })));
      expect(c2.map((c) => c.op)).to.deep.equal(['replace']);
      expect(t.size).to.equal(1);
      const e = t.entries()[0]!;
      expect([e.cookie, e.idleTimeout, e.flags]).to.deep.equal([8n, 0, OFP.OFPFF_SEND_FLOW_REM]);
      expect(e.instructions).to.deep.equal(out(9));
    });

    it('CHECK_OVERLAP refuses an overlapping entry of the same priority and changes nothing', function () {
      const t = table(flowMod({ tableId: 1, priority: 10, match: match({ in_port: 1 }), instructions: out(2) }));
      const r = t.apply(flowMod({ tableId: 1, priority: 10, flags: OFP.OFPFF_CHECK_OVERLAP, match: match({ eth_type: 0x0800 }), instructions: out(9) }));
      expect(r.ok).to.equal(false);
      if (!r.ok) expect([r.error.errorType, r.error.code]).to.deep.equal([OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_OVERLAP]);
      expect(t.size).to.equal(1);
    });

    it('CHECK_OVERLAP accepts disjoint matches, other priorities, other tables, and replaces the identical match (as OVS)', function () {
      const t = table(flowMod({ tableId: 1, priority: 10, match: match({ eth_type: 0x0800, ipv4_dst: { value: '10.0.0.0', mask: '255.255.255.0' } }) }));
      const co = OFP.OFPFF_CHECK_OVERLAP;
      ok(t.apply(flowMod({ tableId: 1, priority: 10, flags: co, match: match({ eth_type: 0x0800, ipv4_dst: { value: '10.0.1.0', mask: '255.255.255.0' } }) })));
      ok(t.apply(flowMod({ tableId: 1, priority: 10, flags: co, match: match({ eth_type: 0x86dd }) })));
      ok(t.apply(flowMod({ tableId: 1, priority: 11, flags: co, match: match({ eth_type: 0x0800 }) })));
      ok(t.apply(flowMod({ tableId: 2, priority: 10, flags: co, match: match({ eth_type: 0x0800 }) })));
      const r = ok(t.apply(flowMod({ tableId: 1, priority: 10, flags: co, cookie: 8n, match: match({ eth_type: 0x0800, ipv4_dst: { value: '10.0.0.0', mask: '255.255.255.0' } }) })));
      expect(r.map((c) => c.op)).to.deep.equal(['replace']);
      expect(t.size).to.equal(5);
    });

    it('refuses table OFPTT_ALL', function () {
      const r = new FlowTable().apply(flowMod({ tableId: OFP.OFPTT_ALL }));
      expect(r.ok || [r.error.errorType, r.error.code]).to.deep.equal([OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_BAD_TABLE_ID]);
    });

    it('refuses malformed values with an error, never an exception', function () {
      const t = new FlowTable();
      const r1 = t.apply(flowMod({ match: [{ field: 'in_port', value: -1 }] }));
      expect(r1.ok || r1.error.errorType).to.equal(OFP.OFPET_BAD_MATCH);
      const r2 = t.apply(flowMod({ instructions: [applyActions({ type: 'SET_FIELD', field: { field: 'eth_src', value: 'nope' } })] }));
      expect(r2.ok || r2.error.errorType).to.equal(OFP.OFPET_BAD_ACTION);
      const r3 = t.apply(flowMod({ command: 9 }));
      expect(r3.ok || r3.error.code).to.equal(OFP.OFPFMFC_BAD_COMMAND);
      const r4 = t.apply(flowMod({ priority: 70000 }));
      expect(r4.ok).to.equal(false);
      expect(t.size).to.equal(0);
    });

    it('stores instructions in execution order without empty action lists (as OVS reports them)', function () {
      const t = table(flowMod({ match: match({ in_port: 3 }), instructions: [gotoTable(2), writeActions(), applyActions(output(1))] }));
      expect(t.entries()[0]!.instructions).to.deep.equal([applyActions(output(1)), gotoTable(2)]);
      const t2 = table(flowMod({ match: match({ in_port: 4 }), instructions: [applyActions()] }));
      expect(t2.entries()[0]!.instructions).to.deep.equal([]);
    });
  });

  describe('MODIFY', function () {
    const base = () => table(
      flowMod({ tableId: 1, cookie: 5n, priority: 10, idleTimeout: 100, match: match({ in_port: 1 }), instructions: out(2) }),
      flowMod({ tableId: 2, cookie: 6n, priority: 20, match: match({ in_port: 1 }), instructions: out(3) }),
      flowMod({ tableId: 1, cookie: 7n, priority: 30, match: match({ in_port: 1, eth_type: 0x0800 }), instructions: out(3) }),
    );

    it('non-strict: new instructions for every covered entry of the table, any priority; cookie, timeouts, flags kept', function () {
      const t = base();
      const changes = ok(t.apply(flowMod({ command: OFP.OFPFC_MODIFY, tableId: 1, priority: 99, cookie: 9n, idleTimeout: 5, flags: 1, match: match({ in_port: 1 }), instructions: out(4) })));
      expect(changes.map((c) => [c.op, c.entry.priority])).to.deep.equal([['modify', 30], ['modify', 10]]);
      const e = t.get({ tableId: 1, priority: 10, match: match({ in_port: 1 }) })!;
      expect([e.cookie, e.idleTimeout, e.flags]).to.deep.equal([5n, 100, 0]);
      expect(e.instructions).to.deep.equal(out(4));
      expect(t.get({ tableId: 2, priority: 20, match: match({ in_port: 1 }) })!.instructions).to.deep.equal(out(3));
    });

    it('strict: only the same priority and identical match', function () {
      const t = base();
      expect(ok(t.apply(flowMod({ command: OFP.OFPFC_MODIFY_STRICT, tableId: 1, priority: 99, match: match({ in_port: 1 }), instructions: out(5) })))).to.deep.equal([]);
      const c = ok(t.apply(flowMod({ command: OFP.OFPFC_MODIFY_STRICT, tableId: 1, priority: 10, match: match({ in_port: 1 }), instructions: out(5) })));
      expect(c.map((x) => x.entry.priority)).to.deep.equal([10]);
    });

    it('never inserts (OpenFlow 1.3 dropped modify-as-add)', function () {
      const t = base();
      expect(ok(t.apply(flowMod({ command: OFP.OFPFC_MODIFY, tableId: 3, match: match({ in_port: 7 }), instructions: out(5) })))).to.deep.equal([]);
      expect(t.size).to.equal(3);
    });

    it('filters by cookie under cookie_mask', function () {
      const t = base();
      expect(ok(t.apply(flowMod({ command: OFP.OFPFC_MODIFY, tableId: 1, cookie: 6n, cookieMask: 0xffn, instructions: out(6) })))).to.deep.equal([]);
      const c = ok(t.apply(flowMod({ command: OFP.OFPFC_MODIFY, tableId: 1, cookie: 5n, cookieMask: 0xffn, instructions: out(6) })));
      expect(c.map((x) => x.entry.cookie)).to.deep.equal([5n]);
    });

    it('ignores out_port (the spec restricts only deletes)', function () {
      const t = base();
      const c = ok(t.apply(flowMod({ command: OFP.OFPFC_MODIFY, tableId: 1, outPort: 9, match: match({ in_port: 1, eth_type: 0x0800 }), instructions: out(6) })));
      expect(c).to.have.length(1);
    });

    it('refuses OFPTT_ALL (valid for deletes only; OVS answers OFPFMFC_BAD_TABLE_ID)', function () {
      const r = base().apply(flowMod({ command: OFP.OFPFC_MODIFY, tableId: OFP.OFPTT_ALL, instructions: out(1) }));
      expect(r.ok || r.error.code).to.equal(OFP.OFPFMFC_BAD_TABLE_ID);
    });

    it('reports no change when the instructions are already those', function () {
      const t = base();
      expect(ok(t.apply(flowMod({ command: OFP.OFPFC_MODIFY_STRICT, tableId: 1, priority: 10, match: match({ in_port: 1 }), instructions: out(2) })))).to.deep.equal([]);
    });
  });

  describe('DELETE', function () {
    // The Open vSwitch session these cases come from:
    //   priority=10,ip,nw_dst=10.0.0.0/24 actions=write_actions(output:2)
    //   priority=11,ip,nw_dst=10.0.0.5    actions=output:3
    //   priority=13,ip,nw_dst=10.0.1.0/24 actions=output:2
    //   del-flows "ip,nw_dst=10.0.0.0/16,out_port=2" → only priority=11 is left.
    const ovs = () => table(
      flowMod({ priority: 10, match: match({ eth_type: 0x0800, ipv4_dst: { value: '10.0.0.0', mask: '255.255.255.0' } }), instructions: [writeActions(output(2))] }),
      flowMod({ priority: 11, match: match({ eth_type: 0x0800, ipv4_dst: '10.0.0.5' }), instructions: out(3) }),
      flowMod({ priority: 13, match: match({ eth_type: 0x0800, ipv4_dst: { value: '10.0.1.0', mask: '255.255.255.0' } }), instructions: out(2) }),
    );

    it('non-strict selects entries at least as specific as the request, any priority, with an output to out_port', function () {
      const t = ovs();
      const c = ok(t.apply(flowMod({ command: OFP.OFPFC_DELETE, outPort: 2, match: match({ eth_type: 0x0800, ipv4_dst: { value: '10.0.0.0', mask: '255.255.0.0' } }) })));
      expect(c.map((x) => [x.op, x.entry.priority])).to.deep.equal([['remove', 13], ['remove', 10]]);
      expect(t.entries().map((e) => e.priority)).to.deep.equal([11]);
    });

    it('non-strict does not select an entry less specific than the request', function () {
      const t = ovs();
      expect(ok(t.apply(flowMod({ command: OFP.OFPFC_DELETE, match: match({ eth_type: 0x0800, ipv4_dst: '10.0.0.7' }) })))).to.deep.equal([]);
      expect(ok(t.apply(flowMod({ command: OFP.OFPFC_DELETE, match: match({ in_port: 1 }) })))).to.deep.equal([]);
    });

    it('strict needs the priority and an identical match (a /32 mask is the exact match)', function () {
      const t = ovs();
      expect(ok(t.apply(flowMod({ command: OFP.OFPFC_DELETE_STRICT, priority: 12, match: match({ eth_type: 0x0800, ipv4_dst: '10.0.0.5' }) })))).to.deep.equal([]);
      const c = ok(t.apply(flowMod({ command: OFP.OFPFC_DELETE_STRICT, priority: 11, match: match({ eth_type: 0x0800, ipv4_dst: { value: '10.0.0.5', mask: '255.255.255.255' } }) })));
      expect(c).to.have.length(1);
    });

    it('an empty match deletes everything in the table; OFPTT_ALL in every table', function () {
      const t = table(
        flowMod({ tableId: 0, match: match({ in_port: 1 }) }),
        flowMod({ tableId: 1, match: match({ in_port: 1 }) }),
        flowMod({ tableId: 1, priority: 3 }),
      );
      expect(ok(t.apply(flowMod({ command: OFP.OFPFC_DELETE, tableId: 1 })))).to.have.length(2);
      expect(t.size).to.equal(1);
      t.apply(flowMod({ tableId: 5, match: match({ in_port: 2 }) }));
      expect(ok(t.apply(flowMod({ command: OFP.OFPFC_DELETE, tableId: OFP.OFPTT_ALL })))).to.have.length(2);
      expect(t.size).to.equal(0);
    });

    it('strict with OFPTT_ALL removes the identity from every table', function () {
      const t = table(
        flowMod({ tableId: 0, priority: 4, match: match({ in_port: 1 }) }),
        flowMod({ tableId: 3, priority: 4, match: match({ in_port: 1 }) }),
        flowMod({ tableId: 3, priority: 5, match: match({ in_port: 1 }) }),
      );
      expect(ok(t.apply(flowMod({ command: OFP.OFPFC_DELETE_STRICT, tableId: OFP.OFPTT_ALL, priority: 4, match: match({ in_port: 1 }) })))).to.have.length(2);
      expect(t.entries().map((e) => e.priority)).to.deep.equal([5]);
    });

    it('filters by out_group and by cookie under cookie_mask', function () {
      const t = table(
        flowMod({ cookie: 0xf10e000000000001n, match: match({ in_port: 1 }), instructions: [applyActions({ type: 'GROUP', groupId: 7 })] }),
        flowMod({ cookie: 0xf10e000000000002n, match: match({ in_port: 2 }), instructions: out(7) }),
        flowMod({ cookie: 0x1n, match: match({ in_port: 3 }), instructions: [applyActions({ type: 'GROUP', groupId: 7 })] }),
      );
      expect(ok(t.apply(flowMod({ command: OFP.OFPFC_DELETE, outGroup: 7, cookie: OWNED.value, cookieMask: OWNED.mask }))).map((c) => c.entry.cookie)).to.deep.equal([0xf10e000000000001n]);
      expect(t.size).to.equal(2);
    });
  });

  describe('cookie namespace', function () {
    it('tells owned entries from others by (cookie & mask) == (value & mask)', function () {
      const t = new FlowTable({ ownedCookie: OWNED });
      ok(t.apply(flowMod({ cookie: 0xf10e000000000001n, match: match({ in_port: 1 }) })));
      ok(t.apply(flowMod({ cookie: 0x1n, match: match({ in_port: 2 }) })));
      expect(t.ownedEntries().map((e) => e.cookie)).to.deep.equal([0xf10e000000000001n]);
      expect(cookieInNamespace(0xf10effffffffffffn, OWNED)).to.equal(true);
      expect(cookieInNamespace(0xf10f000000000000n, OWNED)).to.equal(false);
      expect(new FlowTable().isOwned({ cookie: 123n }), 'no namespace: everything is owned').to.equal(true);
    });
  });

  describe('copies, snapshots, edits', function () {
    const sample = () => table(
      flowMod({ tableId: 2, priority: 7, cookie: 0xffffffffffffffffn, match: match({ metadata: { value: 5n, mask: 0xffn }, eth_dst: 'aa:bb:cc:dd:ee:ff' }), instructions: [{ type: 'WRITE_METADATA', metadata: 1n, metadataMask: 0xffn }, gotoTable(3)] }),
      flowMod({ match: [{ field: 'raw', oxmClass: 1, oxmField: 3, hasMask: false, value: Buffer.from('0102', 'hex') }], instructions: [applyActions({ type: 'EXPERIMENTER', experimenter: 0x2320, data: Buffer.from('000e', 'hex') }, { type: 'SET_FIELD', field: { field: 'ipv6_dst', value: 'FE80:0:0::1' } })] }),
    );

    it('clone() is deep and independent; equals() compares content', function () {
      const a = sample();
      const b = a.clone();
      expect(a.equals(b)).to.equal(true);
      ok(b.apply(flowMod({ command: OFP.OFPFC_DELETE, tableId: OFP.OFPTT_ALL })));
      expect(a.size).to.equal(2);
      expect(a.equals(b)).to.equal(false);
      expect(a.diff(b)).to.have.length(2);
    });

    it('toSnapshot() is JSON-safe and fromSnapshot() restores the same table', function () {
      const a = sample();
      const text = JSON.stringify(a.toSnapshot());
      const b = FlowTable.fromSnapshot(JSON.parse(text));
      expect(b.equals(a)).to.equal(true);
      expect(JSON.stringify(b.toSnapshot())).to.equal(text);
    });

    it('fromSnapshot() refuses malformed input with the path of the problem', function () {
      const good = JSON.parse(JSON.stringify(sample().toSnapshot()));
      const cases: [unknown, string][] = [
        [null, 'table'],
        [{ v: 2, entries: [] }, 'table.v'],
        [{ ...good, entries: [{ ...good.entries[0], cookie: 5 }] }, 'table.entries[0].cookie'],
        [{ ...good, entries: [{ ...good.entries[0], tableId: 255 }] }, 'table.entries[0].tableId'],
        [{ ...good, entries: [{ ...good.entries[0], match: [{ field: 'eth_dst', value: 'zz' }] }] }, 'table.entries[0].match[0]'],
        [{ ...good, entries: [good.entries[0], good.entries[0]] }, 'table.entries[1]'],
      ];
      for (const [raw, path] of cases) {
        let caught: unknown;
        try { FlowTable.fromSnapshot(raw); } catch (err) { caught = err; }
        expect(caught, path).to.be.instanceOf(JsonShapeError);
        expect((caught as JsonShapeError).path, JSON.stringify(raw)).to.equal(path);
      }
    });

    it('applyEdits() is idempotent', function () {
      const a = sample();
      const b = new FlowTable();
      const edits = a.entries().map((entry) => ({ op: 'put' as const, entry }));
      expect(b.applyEdits(edits)).to.have.length(2);
      expect(b.applyEdits(edits)).to.have.length(0);
      expect(b.equals(a)).to.equal(true);
    });

    it('addFlowModFor / deleteFlowModFor recreate and remove exactly one entry', function () {
      const a = sample();
      const b = new FlowTable();
      for (const e of a.entries()) ok(b.apply(addFlowModFor(e)));
      expect(b.equals(a)).to.equal(true);
      const e = a.entries()[0]!;
      ok(b.apply(deleteFlowModFor({ ...e, cookie: e.cookie ^ 1n })));
      expect(b.size, 'another cookie is left alone').to.equal(2);
      ok(b.apply(deleteFlowModFor(e)));
      expect(b.has(flowKey(e))).to.equal(false);
    });

    it('entryFromFlowStats() gives the same identity and content as the table', function () {
      const a = sample();
      for (const e of a.entries()) {
        const fs = { ...e, match: [...e.match].reverse(), durationSec: 1, durationNsec: 0, packetCount: 5n, byteCount: 9n };
        const back = entryFromFlowStats(fs);
        expect(flowKey(back)).to.equal(flowKey(e));
        expect(sameFlowContent(back, e)).to.equal(true);
      }
    });

    it('sameFlowContent() ignores max_len except for output to the controller', function () {
      const e = table(flowMod({ instructions: [applyActions(output(2, 0), output(OFP.OFPP_CONTROLLER, 128))] })).entries()[0]!;
      const f = { ...e, instructions: [applyActions(output(2, 0xffff), output(OFP.OFPP_CONTROLLER, 128))] };
      const g = { ...e, instructions: [applyActions(output(2, 0), output(OFP.OFPP_CONTROLLER, 0xffff))] };
      expect(sameFlowContent(e, f)).to.equal(true);
      expect(sameFlowContent(e, g)).to.equal(false);
    });
  });

  describe('properties', function () {
    it('the edits of the changes rebuild the same table; a refused flow-mod changes nothing', function () {
      fc.assert(fc.property(fc.array(smallFlowMod, { minLength: 10, maxLength: 40 }), (mods) => {
        const master = new FlowTable();
        const mirror = new FlowTable();
        for (const m of mods) {
          const before = master.clone();
          const r = master.apply(m);
          if (!r.ok) {
            expect(master.equals(before)).to.equal(true);
            continue;
          }
          mirror.applyEdits(editsOf(r.changes));
          expect(mirror.equals(master), master.diff(mirror).join('\n')).to.equal(true);
        }
        expect(FlowTable.fromSnapshot(JSON.parse(JSON.stringify(master.toSnapshot()))).equals(master)).to.equal(true);
      }), { numRuns: 300 });
    });

    it('every change reports the table truthfully: adds are new, removes are gone, replace/modify keep the identity', function () {
      fc.assert(fc.property(fc.array(smallFlowMod, { minLength: 10, maxLength: 30 }), (mods) => {
        const t = new FlowTable();
        for (const m of mods) {
          const before = t.clone();
          const r = t.apply(m);
          if (!r.ok) continue;
          for (const c of r.changes) {
            const key = flowKey(c.entry);
            if (c.op === 'add') expect(before.has(key)).to.equal(false);
            if (c.op === 'remove') expect(t.has(key)).to.equal(false);
            if (c.op === 'replace' || c.op === 'modify') expect(flowKey(c.before)).to.equal(key);
            if (c.op !== 'remove') expect(t.get(key)).to.equal(c.entry);
          }
          expect(t.size).to.equal(before.size + r.changes.filter((c) => c.op === 'add').length - r.changes.filter((c) => c.op === 'remove').length);
        }
      }), { numRuns: 300 });
    });

    // flowKey takes shortcuts for canonical matches (cached keys, text built from canonical values,
    // normalizeMatch returning its own output as it is): they must never change the key.
    it('flowKey is table/priority/matchKey of the normalized match, for any match, normalized once or twice', function () {
      fc.assert(fc.property(fc.oneof(anyMatch, richMatch), fc.nat(255), fc.nat(65535), (m, tableId, priority) => {
        let canonicalMatch;
        try {
          canonicalMatch = normalizeMatch(m);
        } catch (err) {
          if (err instanceof MatchValueError) return;
          throw err;
        }
        const expected = `${tableId}/${priority}/${matchKey(canonicalMatch)}`;
        expect(flowKey({ tableId, priority, match: m })).to.equal(expected);
        expect(flowKey({ tableId, priority, match: canonicalMatch })).to.equal(expected);
        expect(normalizeMatch(canonicalMatch)).to.equal(canonicalMatch);
        expect(flowKey({ tableId, priority, match: structuredClone(canonicalMatch) })).to.equal(expected);
      }), { numRuns: 2000 });
    });

    // normalizeMatch hands a match that is canonical already back as it is (no copy): only when a
    // copy would be equal, field for field, and with nothing else in it.
    it('normalizeMatch returns a canonical match as it is, and a canonical copy of anything else', function () {
      fc.assert(fc.property(fc.oneof(anyMatch, richMatch), (m) => {
        let reference;
        try {
          reference = matchOfNormalizedFields(m.map(normalizeField));
        } catch (err) {
          if (err instanceof MatchValueError) return;
          throw err;
        }
        const out = normalizeMatch(m);
        expect(out).to.deep.equal(reference);
        if (out === m) expect(m).to.deep.equal(reference);
      }), { numRuns: 2000 });
      const canonical: Match = [{ field: 'in_port', value: 1 }, { field: 'eth_type', value: 0x800 }, { field: 'ipv4_dst', value: '10.0.0.1' }];
      expect(normalizeMatch(canonical)).to.equal(canonical);
      const copies: Match[] = [
        [{ field: 'eth_type', value: 0x800 }, { field: 'in_port', value: 1 }],
        [{ field: 'in_port', value: 1, note: 'x' } as OxmField],
        [{ field: 'in_port', value: 1, mask: undefined } as OxmField],
        [{ field: 'eth_dst', value: '00:00:00:00:00:0A' }],
        [{ field: 'in_port', value: 1 }, { field: 'in_port', value: 2 }],
      ];
      for (const m of copies) {
        const out = normalizeMatch(m);
        expect(out, JSON.stringify(m)).to.not.equal(m);
        expect(out).to.deep.equal(matchOfNormalizedFields(m.map(normalizeField)));
        expect(normalizeMatch(out)).to.equal(out);
      }
      expect(normalizeMatch(copies[1]!)).to.deep.equal([{ field: 'in_port', value: 1 }]);
    });

    // sameInstructions compares field by field (a reconciliation compares every flow): it must say
    // what comparing the JSON texts says, max_len ignored except for output to the controller.
    it('sameInstructions agrees with comparing the canonical lists as JSON text (semantic max_len)', function () {
      const text = (list: typeof anyInstructions extends fc.Arbitrary<infer T> ? T : never) => JSON.stringify(list.map(instructionToJson).map((i) => {
        if (i.type !== 'APPLY_ACTIONS' && i.type !== 'WRITE_ACTIONS') return i;
        return { ...i, actions: i.actions.map((a) => (a.type === 'OUTPUT' && a.port !== OFP.OFPP_CONTROLLER ? { ...a, maxLen: 0 } : a)) };
      }));
      const anyInstructions = fc.array(anyInstruction, { maxLength: 3 });
      const canon = (l: Parameters<typeof canonicalInstructions>[0]) => {
        try {
          return canonicalInstructions(l);
        } catch {
          return undefined;
        }
      };
      const otherMaxLen = (l: Parameters<typeof canonicalInstructions>[0]) => structuredClone(l).map((i) => (i.type === 'APPLY_ACTIONS' || i.type === 'WRITE_ACTIONS'
        ? { ...i, actions: i.actions.map((ac) => (ac.type === 'OUTPUT' ? { ...ac, maxLen: (ac.maxLen + 1) & 0xffff } : ac)) } : i));
      fc.assert(fc.property(anyInstructions, fc.constantFrom('twin', 'other', 'max_len'), anyInstructions, (a, mode, other) => {
        const x = canon(a);
        const y = canon(mode === 'twin' ? structuredClone(a) : mode === 'max_len' ? otherMaxLen(a) : other);
        if (!x || !y) return;
        expect(sameInstructions({ instructions: x }, { instructions: y })).to.equal(text(x) === text(y));
      }), { numRuns: 2000 });
    });

    it('a non-strict DELETE with an empty match and no filters in OFPTT_ALL empties the table', function () {
      fc.assert(fc.property(fc.array(smallFlowMod, { minLength: 10, maxLength: 30 }), (mods) => {
        const t = new FlowTable();
        for (const m of mods) t.apply(m);
        ok(t.apply(flowMod({ command: OFP.OFPFC_DELETE, tableId: OFP.OFPTT_ALL })));
        expect(t.size).to.equal(0);
      }), { numRuns: 100 });
    });
  });
});
