/**
 * The replication protocol: message validation, the mirror's ordering rules, the master's snapshot
 * rule, and the property that matters — a mirror fed a delayed, duplicated, reordered and lossy
 * backup stream, with snapshot requests answered late, ends equal to the master's tables.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { OFP, applyActions, flowMod, match, output } from '../../../src/openflow/codec.js';
import { FlowTable } from '../../../src/flows/flow-table.js';
import {
  FlowReplicator, Mirror, backupMessageToJson, deviceId, dpidOf, encodeBackupMessage, mergeDeltas, parseBackupMessage,
  type BackupMessage, type FlowDelta,
} from '../../../src/flows/mirror.js';
import { BackupSim } from '../../helpers/flows-backup-sim.js';
import { smallFlowMod } from '../../helpers/flows-arbitraries.js';

const D1 = deviceId(1n);
const D2 = deviceId(2n);
const D3 = deviceId(0xfedcba9876543210n);

/** A master with `n` changes on D1 and the deltas they produced. */
function history(n: number, term = 1): { master: FlowReplicator; deltas: FlowDelta[] } {
  const master = new FlowReplicator({ term });
  const deltas: FlowDelta[] = [];
  for (let i = 1; i <= n; i++) {
    const r = master.apply(D1, flowMod({ priority: i, match: match({ in_port: i }), instructions: [applyActions(output(i))] }));
    if (!r.ok || !r.delta) throw new Error('no delta');
    deltas.push(r.delta);
  }
  return { master, deltas };
}

/** Through the wire and back, as on the bus. */
function wire<T extends BackupMessage>(m: T): T {
  const p = parseBackupMessage(encodeBackupMessage(m));
  if (!p.ok) throw new Error(p.reason);
  return p.message as T;
}

describe('flow replication', function () {
  describe('device ids', function () {
    it('are 16 lower-case hex digits, both ways', function () {
      expect(D3).to.equal('fedcba9876543210');
      expect(dpidOf(D3)).to.equal(0xfedcba9876543210n);
      expect(() => dpidOf('FEDCBA9876543210')).to.throw(RangeError);
      expect(() => deviceId(-1n)).to.throw(RangeError);
    });
  });

  describe('parseBackupMessage', function () {
    it('reads back every message type from JSON text, a Buffer or a parsed object', function () {
      const { master, deltas } = history(2);
      master.setSlaves(['s1']);
      const del = master.apply(D1, flowMod({ command: OFP.OFPFC_DELETE, match: match({ in_port: 1 }) }));
      const msgs: BackupMessage[] = [
        deltas[0]!, (del as { delta: FlowDelta }).delta, master.dueSnapshots()[0]!,
        { type: 'flow-rebase', device: D1, term: 2, version: 0, base: { term: 1, version: 3 } },
        { type: 'flow-snapshot-request', device: D1, from: 's1' },
        { type: 'flow-ack', device: D1, term: 1, version: 2, from: 's1' },
      ];
      for (const m of msgs) {
        const text = encodeBackupMessage(m);
        for (const raw of [text, Buffer.from(text), JSON.parse(text)]) {
          const p = parseBackupMessage(raw);
          expect(p.ok, text).to.equal(true);
          if (p.ok) expect(encodeBackupMessage(p.message)).to.equal(text);
        }
      }
    });

    it('refuses malformed messages with a reason naming the field', function () {
      const good = backupMessageToJson(history(1).deltas[0]!);
      const cases: [unknown, RegExp][] = [
        ['{', /not JSON/],
        [[1, 2], /not a JSON object/],
        [{ ...good, v: 2 }, /^v:/],
        [{ ...good, device: '1' }, /^device:/],
        [{ ...good, type: 'flow-nope' }, /^type:/],
        [{ ...good, term: -1 }, /^term:/],
        [{ ...good, version: 1.5 }, /^version:/],
        [{ ...good, version: 0 }, /^version:/],
        [{ ...good, changes: {} }, /^changes:/],
        [{ ...good, changes: [{ op: 'zap' }] }, /^changes\[0\]\.op:/],
        [{ ...good, changes: [{ op: 'put', entry: { ...(good.changes as { entry: object }[])[0]!.entry, priority: 1e6 } }] }, /^changes\[0\]\.entry\.priority:/],
        [{ ...good, changes: [{ op: 'del', id: { tableId: 0, priority: 1, match: [{ field: 'in_port', value: 'x' }] } }] }, /^changes\[0\]\.id\.match\[0\]\.value:/],
        [{ v: 1, type: 'flow-snapshot', device: D1, term: 1, version: 1, table: { v: 1, entries: 5 } }, /^table\.entries:/],
        [{ v: 1, type: 'flow-ack', device: D1, term: 1, version: 1, from: '' }, /^from:/],
        [{ v: 1, type: 'flow-rebase', device: D1, term: 2, version: 0 }, /^base:/],
        [{ v: 1, type: 'flow-rebase', device: D1, term: 2, version: 0, base: { term: 2, version: 1 } }, /^base\.term:/],
        [{ v: 1, type: 'flow-rebase', device: D1, term: 2, version: 0, base: { term: 1, version: -1 } }, /^base\.version:/],
      ];
      for (const [raw, reason] of cases) {
        const p = parseBackupMessage(raw);
        expect(p.ok, JSON.stringify(raw)).to.equal(false);
        if (!p.ok) expect(p.reason).to.match(reason);
      }
    });

    it('never throws, whatever it is given', function () {
      const good = backupMessageToJson(history(2).master.device(D1).snapshot());
      const goodDelta = backupMessageToJson(history(1).deltas[0]!);
      fc.assert(fc.property(fc.oneof(fc.anything(), fc.jsonValue(), fc.string()), (raw) => {
        parseBackupMessage(raw);
      }), { numRuns: 1000 });
      // Valid messages with one value somewhere replaced by anything.
      const mutate = (o: unknown, path: number[], v: unknown): unknown => {
        if (path.length === 0 || o === null || typeof o !== 'object') return v;
        const keys = Object.keys(o);
        if (keys.length === 0) return v;
        const k = keys[path[0]! % keys.length]!;
        const copy: Record<string, unknown> = Array.isArray(o) ? ([...o] as never) : { ...(o as object) };
        copy[k] = mutate((o as Record<string, unknown>)[k], path.slice(1), v);
        return copy;
      };
      const goodRun = backupMessageToJson(mergeDeltas(history(3).deltas));
      const goodRebase = backupMessageToJson({ type: 'flow-rebase', device: D1, term: 2, version: 0, base: { term: 1, version: 3 } });
      fc.assert(fc.property(fc.constantFrom(good, goodDelta, goodRun, goodRebase), fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), fc.anything(), (m, path, v) => {
        parseBackupMessage(mutate(m, path, v));
      }), { numRuns: 2000 });
    });
  });

  describe('Mirror', function () {
    it('applies deltas in order and ignores duplicates and older versions', function () {
      const { master, deltas } = history(3);
      const m = new Mirror();
      m.receive(wire({ type: 'flow-snapshot', device: D1, term: 1, version: 0, table: new FlowTable() }));
      expect(m.receive(deltas[0]!).status).to.equal('applied');
      expect(m.receive(deltas[0]!).status).to.equal('duplicate');
      expect(m.receive(deltas[1]!).status).to.equal('applied');
      expect(m.receive(deltas[0]!).status).to.equal('duplicate');
      expect(m.receive(deltas[2]!).position).to.deep.equal({ term: 1, version: 3 });
      expect(m.table(D1)!.equals(master.device(D1).table)).to.equal(true);
    });

    it('buffers past a gap, asks for a snapshot once, and resumes when the gap is filled', function () {
      const { master, deltas } = history(4);
      const m = new Mirror();
      m.receive({ type: 'flow-snapshot', device: D1, term: 1, version: 0, table: new FlowTable() });
      m.receive(deltas[0]!);
      const o3 = m.receive(deltas[2]!);
      expect([o3.status, o3.needSnapshot]).to.deep.equal(['buffered', true]);
      const o4 = m.receive(deltas[3]!);
      expect([o4.status, o4.needSnapshot], 'asked already').to.deep.equal(['buffered', false]);
      expect(m.awaitingSnapshot()).to.deep.equal([D1]);
      const o2 = m.receive(deltas[1]!);
      expect([o2.status, o2.applied]).to.deep.equal(['applied', 3]);
      expect(m.awaitingSnapshot()).to.deep.equal([]);
      expect(m.table(D1)!.equals(master.device(D1).table)).to.equal(true);
    });

    it('a snapshot replaces the table, then the buffered deltas newer than it apply', function () {
      const { master, deltas } = history(6);
      const m = new Mirror();
      for (const i of [5, 3, 4]) m.receive(deltas[i]!);
      const snapAt3 = history(3).master.device(D1).snapshot();
      const o = m.receive(wire(snapAt3));
      expect([o.status, o.applied, o.position]).to.deep.equal(['snapshot', 3, { term: 1, version: 6 }]);
      expect(m.bufferedDeltas(D1)).to.equal(0);
      expect(m.table(D1)!.equals(master.device(D1).table)).to.equal(true);
      expect(m.receive(snapAt3).status, 'an older snapshot').to.equal('duplicate');
    });

    it('keeps at most maxBufferedDeltas, the newest', function () {
      const { deltas } = history(10);
      const m = new Mirror({ maxBufferedDeltas: 3 });
      for (const d of deltas.slice(1)) m.receive(d);
      expect(m.bufferedDeltas(D1)).to.equal(3);
      expect(m.receive(history(6).master.device(D1).snapshot()).position, 'v7 was dropped: still a gap').to.deep.equal({ term: 1, version: 6 });
      const o = m.receive(history(7).master.device(D1).snapshot());
      expect(o.position).to.deep.equal({ term: 1, version: 10 });
    });

    it('waits for a snapshot before applying anything of a term it has no table of; ignores older terms', function () {
      const m = new Mirror();
      const first = history(2, 7);
      const o = m.receive(first.deltas[0]!);
      expect([o.status, o.needSnapshot, o.position]).to.deep.equal(['buffered', true, undefined]);
      m.receive(first.master.device(D1).snapshot());
      expect(m.position(D1)).to.deep.equal({ term: 7, version: 2 });
      const old = history(5, 6);
      expect(m.receive(old.deltas[2]!).status).to.equal('stale');
      expect(m.receive(old.master.device(D1).snapshot()).status).to.equal('stale');
      const next = new FlowReplicator({ term: 9 });
      const r = next.apply(D1, flowMod({ priority: 99 }));
      const o9 = m.receive((r as { delta: FlowDelta }).delta);
      expect([o9.status, o9.needSnapshot]).to.deep.equal(['buffered', true]);
    });
  });

  describe('deltas of several versions (a batch)', function () {
    it('apply as one step from the version before the first, read back from the wire; duplicates and gaps as for one version', function () {
      const { master, deltas } = history(6);
      const m = new Mirror();
      m.receive(new FlowReplicator({ term: 1 }).device(D1).snapshot());
      const first = wire(mergeDeltas(deltas.slice(0, 2)));
      expect([first.from, first.version]).to.deep.equal([1, 2]);
      const later = wire(mergeDeltas(deltas.slice(3, 6)));
      const o = m.receive(later);
      expect([o.status, o.needSnapshot]).to.deep.equal(['buffered', true]);
      expect(m.receive(first).status).to.equal('applied');
      expect(m.receive(first).status).to.equal('duplicate');
      const gap = m.receive(wire(deltas[2]!));
      expect([gap.status, gap.applied, gap.position]).to.deep.equal(['applied', 2, { term: 1, version: 6 }]);
      expect(m.table(D1)!.equals(master.device(D1).table)).to.equal(true);
      expect(() => mergeDeltas([deltas[0]!, deltas[2]!])).to.throw(RangeError);
    });

    it('refuses a first version of 0 or above the last', function () {
      const good = backupMessageToJson(mergeDeltas(history(3).deltas));
      expect(good).to.include({ from: 1, version: 3 });
      for (const from of [0, 4, -1, 'x']) {
        const p = parseBackupMessage({ ...good, from });
        expect(p.ok, String(from)).to.equal(false);
        if (!p.ok) expect(p.reason).to.match(/^from:/);
      }
    });
  });

  describe('rebase (a new master continues from its mirror)', function () {
    /** Two mirrors of term 1: `at` at version a, `other` at version b; the first is promoted to term 2. */
    function promoted(a: number, b: number) {
      const { master, deltas } = history(Math.max(a, b, 1));
      const snap0 = new FlowReplicator({ term: 1 }).device(D1).snapshot();
      const at = new Mirror();
      const other = new Mirror();
      at.receive(snap0);
      other.receive(snap0);
      for (const d of deltas.slice(0, a)) at.receive(wire(d));
      for (const d of deltas.slice(0, b)) other.receive(wire(d));
      const next = FlowReplicator.fromMirror(at, { term: 2 });
      next.setSlaves(['other']);
      return { old: master, next, other, rebase: wire(next.rebase(D1)!) };
    }

    it('a mirror at exactly the base moves to the new term with its table untouched, then follows the deltas', function () {
      const { next, other, rebase } = promoted(3, 3);
      expect(rebase).to.deep.equal({ type: 'flow-rebase', device: D1, term: 2, version: 0, base: { term: 1, version: 3 } });
      const before = other.table(D1)!.clone();
      const o = other.receive(rebase);
      expect([o.status, o.needSnapshot, o.changes, o.position]).to.deep.equal(['rebased', false, [], { term: 2, version: 0 }]);
      expect(other.table(D1)!.equals(before)).to.equal(true);
      expect(other.receive(rebase).status, 'again').to.equal('duplicate');
      const r = next.apply(D1, flowMod({ priority: 77, match: match({ in_port: 77 }) }));
      expect(other.receive(wire((r as { delta: FlowDelta }).delta)).status).to.equal('applied');
      expect(other.table(D1)!.equals(next.device(D1).table)).to.equal(true);
    });

    it('a mirror behind the base asks for a snapshot, buffers the new term meanwhile, and ends equal to the new master', function () {
      const { next, other, rebase } = promoted(3, 2);
      const o = other.receive(rebase);
      expect([o.status, o.needSnapshot]).to.deep.equal(['unbased', true]);
      expect(other.awaitingSnapshot()).to.deep.equal([D1]);
      const r = next.apply(D1, flowMod({ priority: 77, match: match({ in_port: 77 }) }));
      const d = other.receive(wire((r as { delta: FlowDelta }).delta));
      expect([d.status, d.needSnapshot], 'a new-term delta waits; the snapshot is already asked for').to.deep.equal(['buffered', false]);
      const s = other.receive(wire(next.answer({ type: 'flow-snapshot-request', device: D1, from: 'other' })!));
      expect(s.status).to.equal('snapshot');
      expect(other.awaitingSnapshot()).to.deep.equal([]);
      expect(other.table(D1)!.equals(next.device(D1).table)).to.equal(true);
    });

    it('a mirror ahead of the base, or with no table, asks for a snapshot and keeps waiting for it; a rebase of an older term is stale', function () {
      const ahead = promoted(2, 3);
      expect(ahead.other.receive(ahead.rebase).status).to.equal('unbased');
      const late = history(3).deltas[2]!; // an old-term duplicate changes nothing about the wait
      expect(ahead.other.receive(late).status).to.equal('duplicate');
      expect(ahead.other.awaitingSnapshot()).to.deep.equal([D1]);
      const empty = new Mirror();
      const o = empty.receive(ahead.rebase);
      expect([o.status, o.needSnapshot, o.position]).to.deep.equal(['unbased', true, undefined]);
      const moved = promoted(3, 3);
      moved.other.receive(moved.rebase);
      expect(moved.other.receive({ ...moved.rebase, term: 1, base: { term: 0, version: 0 } }).status, 'an older term').to.equal('stale');
    });
  });

  describe('FlowReplicator', function () {
    it('sends whole every device a current slave has not confirmed at its version (the ONOS rule)', function () {
      const r = new FlowReplicator({ term: 3 });
      r.apply(D1, flowMod({ match: match({ in_port: 1 }) }));
      r.apply(D2, flowMod({ match: match({ in_port: 1 }) }));
      expect(r.dueSnapshots(), 'no slaves').to.deep.equal([]);
      r.setSlaves(['s1']);
      expect(r.dueSnapshots().map((s) => s.device)).to.deep.equal([D1, D2]);
      r.recordAck({ from: 's1', device: D1, term: 3, version: 1 });
      r.recordAck({ from: 's1', device: D2, term: 2, version: 1 });
      expect(r.dueSnapshots().map((s) => s.device), 'ack of another term ignored').to.deep.equal([D2]);
      r.recordAck({ from: 's1', device: D2, term: 3, version: 1 });
      expect(r.dueSnapshots()).to.deep.equal([]);
      r.apply(D2, flowMod({ match: match({ in_port: 2 }) }));
      expect(r.dueSnapshots().map((s) => s.device), 'changed since confirmed').to.deep.equal([D2]);
      expect(r.pendingAcks(D2, 2)).to.deep.equal(['s1']);
      r.recordAck({ from: 's1', device: D2, term: 3, version: 2 });
      r.setSlaves(['s1', 's2']);
      expect(r.dueSnapshots().map((s) => s.device), 'a new slave').to.deep.equal([D1, D2]);
      expect(r.pendingAcks(D2, 2)).to.deep.equal(['s2']);
      expect(r.confirmedByAll(D2), 's2 confirmed nothing').to.equal(-1);
      r.recordAck({ from: 's2', device: D2, term: 3, version: 1 });
      expect(r.confirmedByAll(D2)).to.equal(1);
      r.setSlaves([]);
      expect(r.confirmedByAll(D2), 'no slave to wait for').to.equal(Infinity);
    });

    it('uses no version for a flow-mod that changes nothing, and none for a refused one', function () {
      const r = new FlowReplicator({ term: 1 });
      expect(r.apply(D1, flowMod({ command: OFP.OFPFC_DELETE })).ok).to.equal(true);
      expect(r.apply(D1, flowMod({ tableId: OFP.OFPTT_ALL })).ok).to.equal(false);
      expect(r.device(D1).version).to.equal(0);
    });

    it('a promoted master starts from its mirror at version 0 of a higher term', function () {
      const m = new Mirror();
      const { master } = history(3, 4);
      m.receive(master.device(D1).snapshot());
      expect(() => FlowReplicator.fromMirror(m, { term: 4 })).to.throw(RangeError);
      const next = FlowReplicator.fromMirror(m, { term: 5 });
      expect(next.device(D1).version).to.equal(0);
      expect(next.device(D1).table.equals(master.device(D1).table)).to.equal(true);
    });
  });

  describe('convergence (simulated network)', function () {
    const devices = [D1, D2, D3];
    type Step =
      | { kind: 'mod'; device: string; fm: ReturnType<typeof flowMod> }
      | { kind: 'batch'; device: string; fms: ReturnType<typeof flowMod>[] }
      | { kind: 'deliver'; pick: number; fate: 'deliver' | 'drop' | 'duplicate' }
      | { kind: 'period' }
      | { kind: 'rerequest' };
    const step: fc.Arbitrary<Step> = fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('mod' as const), device: fc.constantFrom(...devices), fm: smallFlowMod }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('batch' as const), device: fc.constantFrom(...devices), fms: fc.array(smallFlowMod, { minLength: 1, maxLength: 8 }) }) },
      { weight: 6, arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat(), fate: fc.constantFrom('deliver', 'deliver', 'deliver', 'deliver', 'deliver', 'drop', 'drop', 'duplicate') as fc.Arbitrary<'deliver' | 'drop' | 'duplicate'> }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'period' as const }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'rerequest' as const }) },
    );
    const run = (sim: BackupSim, steps: Step[]) => {
      for (const s of steps) {
        if (s.kind === 'mod') sim.flowMod(s.device, s.fm);
        else if (s.kind === 'batch') sim.flowMods(s.device, s.fms);
        else if (s.kind === 'deliver') sim.deliver(s.pick, s.fate);
        else if (s.kind === 'period') sim.period();
        else sim.rerequest();
      }
    };

    it('mirrors fed a delayed, duplicated, reordered, lossy stream end equal to the master', function () {
      fc.assert(fc.property(fc.array(step, { minLength: 20, maxLength: 200 }), fc.integer({ min: 1, max: 8 }), (steps, buffer) => {
        const sim = new BackupSim(['s1', 's2'], 1, { maxBufferedDeltas: buffer });
        run(sim, steps);
        const rounds = sim.quiesce();
        expect(rounds, sim.divergences().join('\n')).to.be.within(0, 1);
      }), { numRuns: 300 });
    });

    it('a mirror that missed deltas catches up from a snapshot it asks for', function () {
      fc.assert(fc.property(fc.array(fc.record({ device: fc.constantFrom(...devices), fm: smallFlowMod }), { minLength: 5, maxLength: 40 }), (mods) => {
        const sim = new BackupSim(['s1']);
        sim.flowMod(D1, flowMod({ priority: 1, match: match({ in_port: 9 }) }));
        sim.flush();
        for (const { device, fm } of mods) sim.flowMod(device, fm);
        // Lose all but the last delta of each device.
        const lastOf = new Map(sim.inFlight.map((p, i) => [JSON.parse(p.text).device as string, i]));
        sim.inFlight = sim.inFlight.filter((_, i) => [...lastOf.values()].includes(i));
        sim.flush();
        expect(sim.divergences(), 'caught up without a backup period').to.deep.equal([]);
      }), { numRuns: 200 });
    });

    it('after a failover the remaining slave follows the new master; the old master is ignored', function () {
      fc.assert(fc.property(
        fc.array(step, { minLength: 10, maxLength: 120 }),
        fc.array(step, { minLength: 10, maxLength: 120 }),
        (before, after) => {
          const sim = new BackupSim(['s1', 's2'], 1);
          run(sim, before);
          const stale = [...sim.inFlight];
          sim.promote('s1', 2);
          // The deposed master's messages may still arrive late.
          sim.inFlight.push(...stale.filter((p) => p.to === 's2'));
          run(sim, after);
          expect(sim.quiesce(), sim.divergences().join('\n')).to.be.within(0, 1);
        },
      ), { numRuns: 200 });
    });
  });
});
