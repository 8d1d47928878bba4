import { expect } from 'chai';
import { VersionWaiters } from '../../../../src/flows/service/version-waiters.js';

interface Item { version: number; name: string; waiting: boolean }
const item = (version: number, name = `v${version}`): Item => ({ version, name, waiting: true });
const waiting = (i: Item) => i.waiting;
const names = (items: Item[]) => items.map((i) => i.name);

describe('VersionWaiters (requests waiting for the slaves to confirm their version)', function () {
  it('a confirmation releases the prefix up to its version, per device, in order', function () {
    const w = new VersionWaiters<Item>();
    for (const v of [1, 2, 3, 5]) w.add('d1', item(v));
    w.add('d2', item(1, 'd2v1'));
    expect(names(w.release('d1', 0, waiting))).to.deep.equal([]);
    expect(names(w.release('d1', 2, waiting))).to.deep.equal(['v1', 'v2']);
    expect(names(w.release('d1', 4, waiting))).to.deep.equal(['v3']);
    expect(w.devices()).to.have.members(['d1', 'd2']);
    expect(names(w.release('d1', 9, waiting))).to.deep.equal(['v5']);
    expect(w.devices(), 'an empty device is forgotten').to.deep.equal(['d2']);
    expect(names(w.release('d3', 9, waiting)), 'nothing waits there').to.deep.equal([]);
  });

  it('keeps version order when an item comes out of order', function () {
    const w = new VersionWaiters<Item>();
    for (const v of [1, 4, 2, 4]) w.add('d1', item(v, `v${v}-${Math.random().toString(36).slice(2, 5)}`));
    expect(w.release('d1', 9, waiting).map((i) => i.version)).to.deep.equal([1, 2, 4, 4]);
  });

  it('an item answered meanwhile is dropped when it reaches the front, never returned; one behind an unconfirmed item waits', function () {
    const w = new VersionWaiters<Item>();
    const [a, b, c, d] = [item(1), item(2), item(3), item(4)];
    for (const i of [a, b, c, d]) w.add('d1', i);
    a.waiting = false; // timed out
    c.waiting = false;
    expect(names(w.release('d1', 0, waiting)), 'a leaves, b is not confirmed').to.deep.equal([]);
    expect(names(w.release('d1', 2, waiting)), 'b released, c dropped on the way').to.deep.equal(['v2']);
    expect(names(w.release('d1', 3, waiting))).to.deep.equal([]);
    expect(names(w.release('d1', 4, waiting))).to.deep.equal(['v4']);
    w.add('d1', item(5));
    w.clear();
    expect(w.devices()).to.deep.equal([]);
  });
});
