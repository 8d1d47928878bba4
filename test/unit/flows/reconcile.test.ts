/**
 * Reconciliation: the plan for each kind of drift, then a property with a fake switch (a FlowTable
 * with the switch's semantics): after the plan is applied, the switch's owned flows are the
 * table's, foreign flows are untouched, and reconciling again finds nothing to do.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { OFP, applyActions, flowMod, match, output, type FlowModMessage, type FlowStats } from '../../../src/openflow/codec.js';
import { FlowTable, flowKey, sameFlowContent, type FlowEntry } from '../../../src/flows/flow-table.js';
import { planIsEmpty, reconcile } from '../../../src/flows/reconcile.js';
import { OWNED, smallFlowMod } from '../../helpers/flows-arbitraries.js';

const C1 = 0xf10e000000000001n;
const C2 = 0xf10e000000000002n;
const FOREIGN = 0x1234n;

function add(t: FlowTable, opts: Parameters<typeof flowMod>[0]): void {
  const r = t.apply(flowMod(opts));
  if (!r.ok) throw new Error(r.error.reason);
}

/** Flow stats as a switch reports them: fields in another order, counters. */
function stats(t: FlowTable): FlowStats[] {
  return t.entries().map((e) => ({ ...e, match: [...e.match].reverse(), durationSec: 3, durationNsec: 0, packetCount: 1n, byteCount: 64n }));
}

function applyAll(t: FlowTable, mods: FlowModMessage[]): void {
  for (const m of mods) {
    const r = t.apply(m);
    if (!r.ok) throw new Error(`refused: ${r.error.reason}`);
  }
}

describe('reconcile', function () {
  let table: FlowTable;
  let sw: FlowTable;

  beforeEach(function () {
    table = new FlowTable({ ownedCookie: OWNED });
    sw = new FlowTable();
    for (const t of [table, sw]) {
      add(t, { cookie: C1, priority: 10, match: match({ in_port: 1 }), instructions: [applyActions(output(2))] });
      add(t, { cookie: C2, priority: 10, match: match({ in_port: 2 }), instructions: [applyActions(output(1))] });
    }
  });

  it('in sync: nothing to do, whatever the field order and max_len the switch reports', function () {
    const reported = stats(sw).map((f) => ({ ...f, instructions: f.instructions.map((i) => (i.type === 'APPLY_ACTIONS' ? { ...i, actions: i.actions.map((a) => (a.type === 'OUTPUT' ? { ...a, maxLen: 0 } : a)) } : i)) }));
    expect(planIsEmpty(reconcile(table, reported, { unknown: 'remove' }))).to.equal(true);
  });

  it('a flow deleted by hand comes back', function () {
    add(sw, { command: OFP.OFPFC_DELETE_STRICT, priority: 10, match: match({ in_port: 1 }) });
    const plan = reconcile(table, stats(sw), { unknown: 'remove' });
    expect(plan.missing.map((e) => e.cookie)).to.deep.equal([C1]);
    expect(plan.switchFlowMods.map((m) => [m.command, m.cookie])).to.deep.equal([[OFP.OFPFC_ADD, C1]]);
    applyAll(sw, plan.switchFlowMods);
    expect(planIsEmpty(reconcile(table, stats(sw), { unknown: 'remove' }))).to.equal(true);
  });

  it("truth 'switch': the table takes the switch's owned flows (missing dropped, differing updated, unknown adopted), nothing sent", function () {
    add(sw, { command: OFP.OFPFC_DELETE_STRICT, priority: 10, match: match({ in_port: 1 }) });
    add(sw, { command: OFP.OFPFC_MODIFY_STRICT, priority: 10, match: match({ in_port: 2 }), instructions: [applyActions(output(9))] });
    add(sw, { cookie: C1, priority: 20, match: match({ in_port: 3 }), instructions: [applyActions(output(1))] });
    add(sw, { cookie: FOREIGN, priority: 30, match: match({ in_port: 4 }), instructions: [] });
    const deleted = [{ tableId: 0, priority: 20, match: match({ in_port: 3 }) }];
    const plan = reconcile(table, stats(sw), { unknown: 'remove', truth: 'switch', deleted: [] });
    expect(plan.switchFlowMods).to.deep.equal([]);
    expect([plan.dropped.length, plan.differing.length, plan.unknown.length, plan.missing.length]).to.deep.equal([1, 1, 1, 0]);
    applyAll(table, plan.tableFlowMods);
    const owned = new FlowTable();
    for (const e of sw.entries().filter((x) => x.cookie !== FOREIGN)) owned.applyEdits([{ op: 'put', entry: e }]);
    expect(table.equals(owned)).to.equal(true);
    expect(planIsEmpty(reconcile(table, stats(sw), { unknown: 'remove' }))).to.equal(true);
    // Tombstones still apply when given (the caller gives only trusted ones).
    expect(reconcile(new FlowTable({ ownedCookie: OWNED }), stats(sw), { unknown: 'adopt', truth: 'switch', deleted }).deleted).to.have.length(1);
  });

  it('a flow whose actions were changed by hand gets them back with MODIFY_STRICT (its counters survive)', function () {
    add(sw, { command: OFP.OFPFC_MODIFY_STRICT, priority: 10, match: match({ in_port: 2 }), instructions: [applyActions(output(9))] });
    const plan = reconcile(table, stats(sw), { unknown: 'remove' });
    expect(plan.differing).to.have.length(1);
    expect(plan.switchFlowMods.map((m) => [m.command, m.cookie, m.cookieMask])).to.deep.equal([[OFP.OFPFC_MODIFY_STRICT, C2, 0xffffffffffffffffn]]);
    applyAll(sw, plan.switchFlowMods);
    expect(sw.get(flowKey(plan.differing[0]!.expected))!.instructions).to.deep.equal([applyActions(output(1))]);
  });

  it('a flow re-added by hand with another owned cookie or timeout is re-installed with ADD', function () {
    add(sw, { cookie: C1 + 7n, idleTimeout: 9, priority: 10, match: match({ in_port: 2 }), instructions: [applyActions(output(1))] });
    const plan = reconcile(table, stats(sw), { unknown: 'remove' });
    expect(plan.switchFlowMods.map((m) => [m.command, m.cookie, m.idleTimeout])).to.deep.equal([[OFP.OFPFC_ADD, C2, 0]]);
    applyAll(sw, plan.switchFlowMods);
    expect(planIsEmpty(reconcile(table, stats(sw), { unknown: 'remove' }))).to.equal(true);
  });

  it('restores a CHECK_OVERLAP flow even when an overlapping flow appeared since', function () {
    add(table, { cookie: C1, tableId: 4, priority: 9, flags: OFP.OFPFF_CHECK_OVERLAP, match: match({ in_port: 1 }) });
    add(sw, { cookie: FOREIGN, tableId: 4, priority: 9 });
    const plan = reconcile(table, stats(sw), { unknown: 'remove' });
    expect(plan.missing).to.have.length(1);
    applyAll(sw, plan.switchFlowMods);
    expect(planIsEmpty(reconcile(table, stats(sw), { unknown: 'remove' }))).to.equal(true);
  });

  it('a stray owned flow goes (policy remove), exactly that flow', function () {
    add(sw, { cookie: C2, priority: 5, match: match({ in_port: 3 }) });
    const plan = reconcile(table, stats(sw), { unknown: 'remove' });
    expect(plan.unknown).to.have.length(1);
    expect(plan.switchFlowMods).to.have.length(1);
    const del = plan.switchFlowMods[0]!;
    expect([del.command, del.priority, del.cookie, del.cookieMask]).to.deep.equal([OFP.OFPFC_DELETE_STRICT, 5, C2, 0xffffffffffffffffn]);
    applyAll(sw, plan.switchFlowMods);
    expect(sw.size).to.equal(2);
  });

  it('a stray owned flow is adopted (policy adopt): nothing sent, an ADD for the table', function () {
    add(sw, { cookie: C2, priority: 5, match: match({ in_port: 3 }), instructions: [applyActions(output(4))] });
    const plan = reconcile(table, stats(sw), { unknown: 'adopt' });
    expect(plan.switchFlowMods).to.deep.equal([]);
    expect(plan.tableFlowMods.map((m) => m.command)).to.deep.equal([OFP.OFPFC_ADD]);
    applyAll(table, plan.tableFlowMods);
    expect(planIsEmpty(reconcile(table, stats(sw), { unknown: 'adopt' }))).to.equal(true);
  });

  it('a flow the cluster deleted goes whatever the policy', function () {
    const id = { tableId: 0, priority: 10, match: match({ in_port: 2 }) };
    add(table, { command: OFP.OFPFC_DELETE_STRICT, ...id });
    const plan = reconcile(table, stats(sw), { unknown: 'adopt', deleted: [id] });
    expect(plan.deleted).to.have.length(1);
    expect(plan.switchFlowMods.map((m) => m.command)).to.deep.equal([OFP.OFPFC_DELETE_STRICT]);
    expect(plan.tableFlowMods).to.deep.equal([]);
  });

  it('never touches flows outside the namespace', function () {
    add(sw, { cookie: FOREIGN, priority: 1, match: match({ in_port: 7 }) });
    add(sw, { cookie: FOREIGN, priority: 1 });
    const plan = reconcile(table, stats(sw), { unknown: 'remove' });
    expect(planIsEmpty(plan)).to.equal(true);
    expect(plan.foreignOnSwitch).to.equal(2);
  });

  it('reports, and leaves alone, a foreign flow that took an owned identity', function () {
    add(sw, { cookie: FOREIGN, priority: 10, match: match({ in_port: 1 }), instructions: [] });
    const plan = reconcile(table, stats(sw), { unknown: 'remove' });
    expect(plan.conflicts.map((c) => c.actual.cookie)).to.deep.equal([FOREIGN]);
    expect(plan.switchFlowMods).to.deep.equal([]);
  });

  it('a timed flow the switch no longer has expired: dropped from the table, not re-installed', function () {
    add(table, { cookie: C1, priority: 3, hardTimeout: 30, match: match({ in_port: 5 }) });
    const plan = reconcile(table, stats(sw), { unknown: 'remove' });
    expect(plan.expired).to.have.length(1);
    expect(plan.switchFlowMods).to.deep.equal([]);
    applyAll(table, plan.tableFlowMods);
    expect(table.size).to.equal(2);
    const reinstall = reconcile(table.clone(), stats(sw), { unknown: 'remove', expireTimedOut: false });
    expect(reinstall.missing).to.have.length(0);
  });

  it('converges: after the plan, owned flows match the table, foreign ones are unchanged, and the next plan is empty', function () {
    const ownedOnly = (t: FlowTable) => t.entries().filter((e) => (e.cookie & OWNED.mask) === OWNED.value);
    const foreignOnly = (t: FlowTable) => t.entries().filter((e) => (e.cookie & OWNED.mask) !== OWNED.value);
    fc.assert(fc.property(
      fc.array(smallFlowMod, { minLength: 5, maxLength: 30 }),
      fc.array(smallFlowMod, { maxLength: 15 }),
      fc.constantFrom<'adopt' | 'remove'>('adopt', 'remove'),
      (history, drift, policy) => {
        const master = new FlowTable({ ownedCookie: OWNED });
        const swt = new FlowTable();
        for (const m of history) {
          const r = master.apply(m);
          if (r.ok) swt.apply(m);
        }
        // Drift: by-hand changes on the switch only (some owned, some foreign).
        for (const m of drift) swt.apply(m);
        const foreignBefore = foreignOnly(swt);
        const plan = reconcile(master, stats(swt), { unknown: policy });
        applyAll(swt, plan.switchFlowMods);
        applyAll(master, plan.tableFlowMods);
        const again = reconcile(master, stats(swt), { unknown: policy });
        const conflicted = new Set(plan.conflicts.map((c) => flowKey(c.expected)));
        const expected = ownedOnly(master).filter((e) => !conflicted.has(flowKey(e)));
        const actual = ownedOnly(swt);
        expect(actual.map(flowKey)).to.deep.equal(expected.map(flowKey));
        actual.forEach((e, i) => expect(sameFlowContent(e, expected[i] as FlowEntry)).to.equal(true));
        expect(foreignOnly(swt).map(flowKey)).to.deep.equal(foreignBefore.map(flowKey));
        expect(planIsEmpty(again), JSON.stringify(again, (_, v) => (typeof v === 'bigint' ? `${v}` : v))).to.equal(true);
      },
    ), { numRuns: 500 });
  });
});
