/**
 * The flow service's wire: routing keys, snapshots split into parts under a size bound and put
 * back together whatever the order, duplicates and interleaving, and the settings' validation.
 */
import {expect} from 'chai';
import fc from 'fast-check';
import {FlowTable} from '../../../../src/flows/flow-table.js';
import {FlowReplicator, deviceId, mergeDeltas, parseBackupMessage, type FlowDelta} from '../../../../src/flows/mirror.js';
import {encodeEdits} from '../../../../src/flows/edit-binary.js';
import {FlowServiceConfigError} from '../../../../src/flows/service/errors.js';
import {DEFAULT_FLOW_SERVICE_SETTINGS, resolveSettings} from '../../../../src/flows/service/settings.js';
import {
  SNAPSHOT_PART, SnapshotAssembler, backupRoutingKey, deltaRunText, fromMaster, instanceIdOf, instanceRoutingKey, parseSnapshotPart, snapshotMessages,
} from '../../../../src/flows/service/wire.js';
import {topicMatches} from '../../../../src/bus/codec.js';
import {applyActions, flowMod, match, output} from '../../../../src/openflow/codec.js';

const D = deviceId(0xabn);

function table(n: number, width = 1): FlowTable {
  const t = new FlowTable();
  for (let i = 0; i < n; i++) {
    t.apply(flowMod({cookie: BigInt(i), priority: i % 65536, match: match({in_port: 1 + i, eth_type: 0x0800, ipv4_dst: `10.0.${(i >> 8) & 255}.${i & 255}`}),
      instructions: [applyActions(...Array.from({length: width}, (_, k) => output(1 + k)))]}));
  }
  return t;
}

function assemble(messages: Array<Record<string, unknown>>, order: number[]): FlowTable | undefined {
  const asm = new SnapshotAssembler();
  let result: FlowTable | undefined;
  for (const i of order) {
    const m = JSON.parse(JSON.stringify(messages[i])) as Record<string, unknown>;
    if (m.type !== SNAPSHOT_PART) {
      const p = parseBackupMessage(m);
      if (p.ok && p.message.type === 'flow-snapshot') result = p.message.table;
      continue;
    }
    const part = parseSnapshotPart(m);
    if (!part.ok) throw new Error(part.reason);
    const r = asm.add(part.part, 0);
    if (r.status === 'complete') {
      const p = parseBackupMessage(r.message);
      if (!p.ok || p.message.type !== 'flow-snapshot') throw new Error('assembled snapshot unreadable');
      result = p.message.table;
    }
  }
  return result;
}

describe('flow service wire', function () {
  it('a run of deltas written from its edits in binary reads back as the merged delta; so does its JSON form', function () {
    const rep = new FlowReplicator({term: 70000});
    const deltas: FlowDelta[] = [];
    for (let i = 1; i <= 5; i++) {
      const r = rep.apply(deviceId(9n), flowMod({cookie: BigInt(i) << 60n, priority: i, match: match({in_port: i, eth_type: 0x800, ipv4_dst: `10.0.0.${i}`}), instructions: [applyActions(output(i))]}));
      if (r.ok && r.delta) deltas.push(r.delta);
    }
    for (const run of [deltas, deltas.slice(2, 3)]) {
      const merged = mergeDeltas(run);
      // One buffer per delta, as the flow service encodes them.
      const text = deltaRunText({device: merged.device, term: merged.term, from: run[0]!.version, version: merged.version,
        bin: run.map((d) => encodeEdits(d.edits)!)}, 7, [2, 3]);
      const {bin, ...head} = JSON.parse(text) as Record<string, unknown>;
      const {changes, ...jsonHead} = {...fromMaster(merged, 7), slaves: [2, 3]} as Record<string, unknown>;
      expect(head).to.deep.equal(jsonHead);
      expect(bin).to.be.a('string');
      expect(changes).to.have.length(run.length);
      for (const wire of [text, JSON.stringify({...fromMaster(merged, 7), slaves: [2, 3]})]) {
        const parsed = parseBackupMessage(wire);
        expect(parsed.ok && parsed.message).to.deep.equal(merged);
      }
    }
  });

  it('routing keys: backup and per-instance, apart from the election and the forwarder', function () {
    expect(backupRoutingKey('lab')).to.equal('c.lab.flows.backup');
    expect(instanceRoutingKey('lab', 7)).to.equal('c.lab.flows.inst.7');
    for (const key of [backupRoutingKey('lab'), instanceRoutingKey('lab', 7)]) {
      expect(topicMatches('c.lab.discover', key)).to.equal(false);
      expect(topicMatches('c.lab.flows.rpc.#', key)).to.equal(false);
    }
    expect(instanceIdOf('42')).to.equal(42);
    for (const bad of ['0', '65536', '042', 'x', '1.2', '']) expect(instanceIdOf(bad), bad).to.equal(undefined);
  });

  it('a small table goes as one flow-snapshot message', function () {
    const t = table(3);
    const msgs = snapshotMessages({device: D, term: 5, version: 2, entries: t.toSnapshot().entries}, 1, 's1', 32 * 1024);
    expect(msgs).to.have.length(1);
    expect(msgs[0]).to.include({type: 'flow-snapshot', master: 1, term: 5, version: 2});
    expect(assemble(msgs, [0])!.equals(t)).to.equal(true);
  });

  it('10,000 flows: parts under chunkBytes, reassembled equal in any order, with duplicates', function () {
    this.timeout(60_000);
    const t = table(10_000);
    const chunk = 64 * 1024 * 0.5;
    const started = Date.now();
    const msgs = snapshotMessages({device: D, term: 5, version: 9, entries: t.toSnapshot().entries}, 1, 's1', chunk);
    const splitMs = Date.now() - started;
    expect(msgs.length).to.be.greaterThan(20);
    for (const m of msgs) expect(Buffer.byteLength(JSON.stringify(m))).to.be.at.most(chunk);
    const order = [...msgs.keys()].reverse();
    order.splice(3, 0, 5, 5, 0);
    const back = assemble(msgs, order)!;
    expect(back.equals(t)).to.equal(true);
    console.log(`      (10,000 flows: ${msgs.length} parts of at most ${chunk} bytes, split in ${splitMs} ms)`);
  });

  it('property: any table, any chunk size, any delivery order gives the table back', function () {
    fc.assert(fc.property(
      fc.integer({min: 0, max: 300}), fc.integer({min: 1, max: 6}), fc.integer({min: 4096, max: 20_000}), fc.integer(),
      (n, width, chunk, seed) => {
        const t = table(n, width);
        const msgs = snapshotMessages({device: D, term: 1, version: 1, entries: t.toSnapshot().entries}, 2, 'x', chunk);
        for (const m of msgs) expect(Buffer.byteLength(JSON.stringify(m))).to.be.at.most(chunk);
        const order = [...msgs.keys()].sort((a, b) => (((a + 1) * 7919 * (seed | 1)) % 101) - (((b + 1) * 7919 * (seed | 1)) % 101));
        expect(assemble(msgs, order)!.equals(t)).to.equal(true);
      },
    ), {numRuns: 60});
  });

  it('the assembler keeps the newest snapshot per device, drops older and inconsistent parts, expires idle ones', function () {
    const t = table(400);
    const old = snapshotMessages({device: D, term: 1, version: 1, entries: t.toSnapshot().entries}, 1, 'a', 8192);
    const neu = snapshotMessages({device: D, term: 1, version: 2, entries: t.toSnapshot().entries}, 1, 'b', 8192);
    const asm = new SnapshotAssembler();
    const part = (m: Record<string, unknown>) => {
      const p = parseSnapshotPart(m);
      if (!p.ok) throw new Error(p.reason);
      return p.part;
    };
    expect(asm.add(part(old[0]!), 0).status).to.equal('partial');
    expect(asm.add(part(neu[0]!), 0).status).to.equal('partial');
    expect(asm.add(part(old[1]!), 0).status).to.equal('superseded');
    expect(asm.add({...part(neu[1]!), parts: 99}, 0).status).to.equal('inconsistent');
    expect(asm.inProgress).to.equal(1);
    expect(asm.expire(10, 20)).to.equal(0);
    expect(asm.expire(30, 20)).to.equal(1);
    expect(asm.inProgress).to.equal(0);
  });

  it('part envelopes are validated field by field', function () {
    const good = {v: 1, type: SNAPSHOT_PART, device: D, term: 1, version: 1, snap: 'a', part: 0, parts: 2, master: 3, entries: []};
    expect(parseSnapshotPart(good).ok).to.equal(true);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{...good, v: 2}, /^v:/], [{...good, device: 'AB'}, /^device:/], [{...good, term: -1}, /^term:/],
      [{...good, snap: 'a b'}, /^snap:/], [{...good, parts: 0}, /^parts:/], [{...good, part: 2}, /^part:/],
      [{...good, master: 0}, /^master:/], [{...good, entries: {}}, /^entries:/],
    ];
    for (const [m, re] of cases) {
      const p = parseSnapshotPart(m);
      expect(p.ok, JSON.stringify(m)).to.equal(false);
      if (!p.ok) expect(p.reason).to.match(re);
    }
  });

  it('settings: defaults, and errors that name the setting', function () {
    expect(resolveSettings()).to.deep.equal(DEFAULT_FLOW_SERVICE_SETTINGS);
    expect(DEFAULT_FLOW_SERVICE_SETTINGS).to.include({backupEnabled: true, backupPeriodMs: 2000, auditCron: '* * * * *', chunkBytes: 32768});
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{backupPeriodMs: 0}, /backupPeriodMs/], [{chunkBytes: 100}, /chunkBytes/], [{unknownFlowPolicy: 'keep'}, /unknownFlowPolicy/],
      [{auditCron: 'every minute'}, /auditCron/], [{ownedCookie: {value: 3n, mask: 1n}}, /ownedCookie value 0x0000000000000003 has bits outside its mask/],
      [{backupEnabled: 'yes'}, /backupEnabled/],
    ];
    for (const [s, re] of bad) {
      let err: unknown;
      try {
        resolveSettings(s as never);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(s, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))).to.be.instanceOf(FlowServiceConfigError);
      expect((err as Error).message).to.match(re);
    }
    expect(resolveSettings({auditCron: 'off'}).auditCron).to.equal('off');
  });
});
