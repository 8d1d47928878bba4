import { expect } from 'chai';
import { FlowTable, flowKey, type FlowChange } from '../../../../src/flows/flow-table.js';
import { OFP, applyActions, flowMod, match, output } from '../../../../src/openflow/codec.js';
import { Tombstones } from '../../../../src/flows/service/tombstones.js';

const add = (port: number) => flowMod({ priority: 10, match: match({ in_port: port }), instructions: [applyActions(output(1))] });
const del = (port: number) => flowMod({ command: OFP.OFPFC_DELETE_STRICT, priority: 10, match: match({ in_port: port }) });
const key = (port: number) => flowKey({ tableId: 0, priority: 10, match: match({ in_port: port }) });

/** Applies the flow-mods to `table` and returns the changes they made (what the service records). */
function changes(table: FlowTable, ...mods: ReturnType<typeof flowMod>[]): FlowChange[] {
  return mods.flatMap((m) => {
    const r = table.apply(m);
    if (!r.ok) throw new Error(r.error.reason);
    return r.changes;
  });
}

describe('Tombstones (identities the cluster deleted)', function () {
  it('remembers removals per device, oldest first, and forgets an identity added again', function () {
    const t = new Tombstones(() => 100);
    const table = new FlowTable();
    t.record('d1', changes(table, add(1), add(2), add(3)));
    expect([...t.of('d1')], 'adds alone leave nothing').to.deep.equal([]);
    t.record('d1', changes(table, del(2), del(1)));
    expect([...t.of('d1')]).to.deep.equal([key(2), key(1)]);
    expect([...t.of('d2')], 'per device').to.deep.equal([]);
    t.record('d1', changes(table, add(2)));
    expect([...t.of('d1')], 'added again: no longer deleted').to.deep.equal([key(1)]);
    t.record('d1', changes(table, add(1), del(2), del(1)));
    expect([...t.of('d1')], 'deleted again: the newest, in the order deleted').to.deep.equal([key(2), key(1)]);
  });

  it('keeps at most max per device, dropping the oldest; max 0 keeps none; the bound is read at every call', function () {
    let max = 2;
    const t = new Tombstones(() => max);
    const table = new FlowTable();
    t.record('d1', changes(table, add(1), add(2), add(3), del(1), del(2), del(3)));
    expect([...t.of('d1')]).to.deep.equal([key(2), key(3)]);
    max = 0;
    t.record('d1', changes(table, add(4), del(4)));
    expect([...t.of('d1')], 'nothing recorded while max is 0').to.deep.equal([key(2), key(3)]);
    max = 3;
    t.record('d1', changes(table, add(5), del(5)));
    expect([...t.of('d1')]).to.deep.equal([key(2), key(3), key(5)]);
  });
});
