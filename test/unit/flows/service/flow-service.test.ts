/**
 * The flow service against an in-memory bus and a fake switch fabric (FlowTables acting as
 * switches), with sinon's fake clock for everything timed: acks gating requests, refusals,
 * late acks, snapshots by the ONOS rule (and in parts), runtime backup settings, malformed backup
 * messages, takeover reconciliation, requests during a takeover, the audit.
 */
import {expect} from 'chai';
import sinon from 'sinon';
import {InMemoryBroker, type InMemoryBus} from '../../../../src/bus/memory-bus.js';
import {MemoryLogger} from '../../../../src/log.js';
import {FlowTable, entryFromFlowStats, entryToJson, type FlowEntry} from '../../../../src/flows/flow-table.js';
import {encodeBackupMessage, deviceId} from '../../../../src/flows/mirror.js';
import {NoMasterError, ProgramTimeoutError, SwitchRefusedError, UnknownSwitchError} from '../../../../src/flows/programmer.js';
import {ForeignCookieError, FlowServiceConfigError, InstanceNotMasterError, SwitchDemotedError} from '../../../../src/flows/service/errors.js';
import {FlowService, type FlowServiceStats} from '../../../../src/flows/service/flow-service.js';
import type {FlowServiceSettings} from '../../../../src/flows/service/settings.js';
import {backupRoutingKey, instanceRoutingKey, SNAPSHOT_PART, snapshotMessages} from '../../../../src/flows/service/wire.js';
import {OFP, applyActions, flowMod, match, output, type FlowModMessage, type FlowRemovedMessage} from '../../../../src/openflow/codec.js';
import {FakeNetwork, FakeSwitches} from './fake-switches.js';

const NS = {value: 0xf100_0000_0000_0000n, mask: 0xff00_0000_0000_0000n};
const OWN = 0xf100_0000_0000_0001n;
const FOREIGN = 0x0200_0000_0000_0001n;
const TERM1 = 65536 + 1;
const TERM2 = 2 * 65536 + 2;
const D1 = 1n;
const D2 = 2n;

function add(priority: number, inPort = priority, out = 2, cookie = OWN): FlowModMessage {
  return flowMod({cookie, priority, match: match({in_port: inPort}), instructions: [applyActions(output(out))]});
}

function delStrict(priority: number, inPort = priority): FlowModMessage {
  return flowMod({command: OFP.OFPFC_DELETE_STRICT, cookie: OWN, cookieMask: 0xffff_ffff_ffff_ffffn, priority, match: match({in_port: inPort})});
}

function entry(priority: number, inPort = priority, out = 2, cookie = OWN): FlowEntry {
  const t = new FlowTable();
  const r = t.apply(add(priority, inPort, out, cookie));
  if (!r.ok) throw new Error(r.error.reason);
  return t.entries()[0]!;
}

/** Owned entries only, as a table (what the cluster should hold of a switch). */
function owned(t: FlowTable): FlowTable {
  return FlowTable.of(t.entries().filter((e) => (e.cookie & NS.mask) === NS.value));
}

function keysOf(t: {entries(): FlowEntry[]}): string[] {
  return t.entries().map((e) => `${e.priority}:${e.cookie.toString(16)}`);
}

interface Node {
  id: number;
  svc: FlowService;
  sw: FakeSwitches;
  bus: InMemoryBus;
  log: MemoryLogger;
}

describe('FlowService', function () {
  let clock: sinon.SinonFakeTimers;
  let broker: InMemoryBroker;
  let net: FakeNetwork;
  let nodes: Node[];

  beforeEach(function () {
    clock = sinon.useFakeTimers({now: 1_700_000_000_000});
    broker = new InMemoryBroker();
    net = new FakeNetwork();
    nodes = [];
  });

  afterEach(async function () {
    for (const n of nodes) await n.svc.close();
    clock.restore();
  });

  /**
   * Lets deliveries (microtasks) and due timers run. A setImmediate made while fake timers fire is
   * due 1 ms later (@sinonjs/fake-timers), so the clock moves by 1 ms a few times to run those
   * (work that yields to the event loop, e.g. reconciliations taking turns).
   */
  async function flush(ms = 0): Promise<void> {
    for (let i = 0; i < 5; i++) await clock.tickAsync(0);
    if (ms > 0) await clock.tickAsync(ms);
    for (let i = 0; i < 5; i++) {
      await clock.tickAsync(0);
      await clock.tickAsync(1);
    }
  }

  async function node(id: number, settings: Partial<FlowServiceSettings> = {}): Promise<Node> {
    const bus = broker.createBus();
    await bus.start();
    const sw = new FakeSwitches(net, id);
    const log = new MemoryLogger();
    const svc = new FlowService({instId: id, domain: 'd', bus, switches: sw, logger: log, settings: {ownedCookie: NS, auditCron: 'off', ...settings}});
    const n = {id, svc, sw, bus, log};
    nodes.push(n);
    return n;
  }

  /** A master (id 1) and slaves, every switch connected to all, roles settled, takeover done. */
  async function cluster(opts: {slaves?: number[]; dpids?: bigint[]; settings?: Partial<FlowServiceSettings>} = {}): Promise<Node[]> {
    const ids = [1, ...(opts.slaves ?? [2])];
    const all: Node[] = [];
    for (const id of ids) all.push(await node(id, opts.settings));
    for (const dpid of opts.dpids ?? [D1]) {
      if (!net.tables.has(dpid)) net.addSwitch(dpid);
      all.forEach((n, i) => n.sw.connect(dpid, i === 0 ? 'master' : 'slave'));
    }
    for (const n of all.slice(1)) n.svc.setRole('slave', TERM1, []);
    all[0]!.svc.setRole('master', TERM1, ids.slice(1));
    await flush();
    return all;
  }

  /** A bus that records what is published on a routing key pattern. */
  async function spy(pattern: string): Promise<Array<Record<string, unknown>>> {
    const bus = broker.createBus();
    await bus.start();
    const seen: Array<Record<string, unknown>> = [];
    bus.subscribe(pattern, (body) => seen.push(body as Record<string, unknown>));
    return seen;
  }

  function counters(n: Node): FlowServiceStats['counters'] {
    return n.svc.stats().counters;
  }

  describe('master: program()', function () {
    it('resolves only once the slave mirrors acknowledged the version; switch, table and mirrors agree', async function () {
      const [a, b, c] = await cluster({slaves: [2, 3]});
      const acksBefore = counters(a!).acksReceived;
      let resolved = false;
      const p = a!.svc.program(D1, add(10)).then((r) => {
        resolved = true;
        // By the time the caller hears, every live slave's mirror has the change.
        expect(b!.svc.positionOf(D1)).to.deep.equal({term: TERM1, version: r.version});
        expect(c!.svc.positionOf(D1)).to.deep.equal({term: TERM1, version: r.version});
        return r;
      });
      await flush();
      const r = await p;
      expect(resolved).to.equal(true);
      expect(r).to.deep.equal({masterId: 1, term: TERM1, version: 1});
      expect(keysOf(net.table(D1))).to.deep.equal(['10:f100000000000001']);
      expect(a!.svc.tableOf(D1)!.equals(net.table(D1))).to.equal(true);
      expect(b!.svc.tableOf(D1)!.equals(net.table(D1))).to.equal(true);
      expect(counters(a!).acksReceived - acksBefore).to.equal(2);
      expect(counters(a!).acksLate).to.equal(0);
    });

    it('waits for a slave that has not acknowledged yet', async function () {
      const [a] = await cluster({slaves: []});
      // A "slave" played by the test: it receives the deltas and acks only when told to.
      const slaveBus = broker.createBus();
      await slaveBus.start();
      const deltas: Array<Record<string, unknown>> = [];
      slaveBus.subscribe(backupRoutingKey('d'), (body) => deltas.push(body as Record<string, unknown>));
      a!.svc.setLiveSlaves([9]);
      await flush();
      let done = false;
      const p = a!.svc.program(D1, add(10)).then(() => (done = true));
      await flush(1000);
      expect(deltas.map((d) => d.version)).to.deep.equal([1]);
      expect(done, 'resolved before the ack').to.equal(false);
      slaveBus.publish(instanceRoutingKey('d', 1), {v: 1, type: 'flow-ack', device: deviceId(D1), term: TERM1, version: 1, from: '9'});
      await flush();
      expect(done).to.equal(true);
      await p;
    });

    it('an ack settles exactly the requests up to its version, in order; a late one resolves at ackTimeoutMs', async function () {
      const [a] = await cluster({slaves: [], settings: {ackTimeoutMs: 3000}});
      const slaveBus = broker.createBus();
      await slaveBus.start();
      a!.svc.setLiveSlaves([9]);
      await flush();
      const done: number[] = [];
      const reqs = Array.from({length: 5}, (_, i) => a!.svc.program(D1, add(200 + i)).then((r) => done.push(r.version)));
      await flush(10);
      const ack = (version: number) => slaveBus.publish(instanceRoutingKey('d', 1), {v: 1, type: 'flow-ack', device: deviceId(D1), term: TERM1, version, from: '9'});
      ack(3);
      await flush();
      expect(done).to.deep.equal([1, 2, 3]);
      ack(2); // an older ack changes nothing
      await flush();
      expect(done).to.deep.equal([1, 2, 3]);
      await flush(3000);
      expect(done, 'answered anyway once ackTimeoutMs passed').to.deep.equal([1, 2, 3, 4, 5]);
      expect(counters(a!).acksLate).to.equal(2);
      await Promise.all(reqs);
    });

    it('batches concurrent requests into one barrier, applied in order', async function () {
      const [a, b] = await cluster();
      const before = net.batches.length;
      const results = await Promise.all([
        ...Array.from({length: 50}, (_, i) => a!.svc.program(D1, add(100 + i))),
        a!.svc.program(D1, delStrict(100)),
        flush(),
      ]);
      expect(net.batches.length - before).to.equal(1);
      expect(net.batches.at(-1)!.messages).to.have.length(51);
      expect(results.slice(0, 51).map((r) => (r as {version: number}).version)).to.deep.equal(Array.from({length: 51}, (_, i) => i + 1));
      expect(net.table(D1).size).to.equal(49);
      expect(a!.svc.tableOf(D1)!.equals(net.table(D1))).to.equal(true);
      expect(b!.svc.tableOf(D1)!.equals(net.table(D1))).to.equal(true);
    });

    it('a batch\'s deltas go as few messages as chunkBytes allows, each a run of versions; the mirror follows', async function () {
      for (const [chunkBytes, messages] of [[32 * 1024, 1], [4096, 'several']] as const) {
        const [a, b] = await cluster({settings: {chunkBytes}});
        const seen = await spy(backupRoutingKey('d'));
        const before = counters(a!);
        await Promise.all([...Array.from({length: 60}, (_, i) => a!.svc.program(D1, add(100 + i))), flush()]);
        const deltas = seen.filter((m) => m.type === 'flow-delta');
        if (messages === 1) expect(deltas.map((d) => [d.from, d.version])).to.deep.equal([[1, 60]]);
        else expect(deltas.length).to.be.within(2, 59);
        // Runs follow each other with no gap or overlap, and none is over the limit.
        deltas.forEach((d, i) => {
          expect(d.from ?? d.version, `message ${i}`).to.equal(i === 0 ? 1 : (deltas[i - 1]!.version as number) + 1);
          expect(Buffer.byteLength(JSON.stringify(d))).to.be.at.most(chunkBytes);
        });
        expect(deltas.at(-1)!.version).to.equal(60);
        const after = counters(a!);
        expect(after.deltasSent - before.deltasSent).to.equal(60);
        expect(after.deltaMessagesSent - before.deltaMessagesSent).to.equal(deltas.length);
        expect(b!.svc.tableOf(D1)!.entries()).to.deep.equal(a!.svc.tableOf(D1)!.entries());
        expect(b!.svc.positionOf(D1)).to.deep.equal(a!.svc.positionOf(D1));
        for (const n of [a!, b!]) await n.svc.close();
        net.tables.get(D1)?.applyEdits(net.tables.get(D1)!.entries().map((id) => ({op: 'del', id})));
      }
    });

    it('deltas travel in binary; an edit binary cannot carry exactly (odd-sized experimenter data) goes as JSON, in order', async function () {
      const [a, b] = await cluster();
      const seen = await spy(backupRoutingKey('d'));
      const odd = flowMod({cookie: OWN, priority: 300, match: match({in_port: 3}), instructions: [applyActions({type: 'EXPERIMENTER', experimenter: 0x2320, data: Buffer.from([1, 2, 3])})]});
      await Promise.all([a!.svc.program(D1, add(100)), a!.svc.program(D1, add(101)), a!.svc.program(D1, odd), a!.svc.program(D1, add(102)), flush()]);
      const deltas = seen.filter((m) => m.type === 'flow-delta');
      expect(deltas.map((d) => [d.from ?? d.version, d.version, typeof d.bin === 'string' ? 'bin' : Array.isArray(d.changes) ? 'json' : '?'])).to.deep.equal([
        [1, 2, 'bin'], [3, 3, 'json'], [4, 4, 'bin'],
      ]);
      expect(b!.svc.tableOf(D1)!.entries()).to.deep.equal(a!.svc.tableOf(D1)!.entries());
      expect(b!.svc.tableOf(D1)!.size).to.equal(4);
      expect(b!.svc.positionOf(D1)).to.deep.equal(a!.svc.positionOf(D1));
    });

    it('a slave whose acks do not say it reads binary (older code) gets JSON deltas until one does', async function () {
      const [a, b] = await cluster();
      const seen = await spy(backupRoutingKey('d'));
      const acks = await spy(instanceRoutingKey('d', 1));
      await Promise.all([a!.svc.program(D1, add(100)), flush()]);
      expect(acks.at(-1)).to.include({type: 'flow-ack', from: '2', bin: true});
      // Slave 2 as older code acks: no bin field.
      const oldSlave = broker.createBus();
      await oldSlave.start();
      oldSlave.publish(instanceRoutingKey('d', 1), {v: 1, type: 'flow-ack', device: deviceId(D1), term: TERM1, version: 1, from: '2'});
      await flush();
      await Promise.all([a!.svc.program(D1, add(101)), a!.svc.program(D1, add(102)), flush()]);
      // Its next ack (it does read binary) brings binary back.
      await Promise.all([a!.svc.program(D1, add(103)), flush()]);
      const deltas = seen.filter((m) => m.type === 'flow-delta');
      expect(deltas.map((d) => [d.from ?? d.version, d.version, typeof d.bin === 'string' ? 'bin' : Array.isArray(d.changes) ? 'json' : '?'])).to.deep.equal([
        [1, 1, 'bin'], [2, 2, 'json'], [3, 3, 'json'], [4, 4, 'bin'],
      ]);
      expect(b!.svc.tableOf(D1)!.entries()).to.deep.equal(a!.svc.tableOf(D1)!.entries());
      expect(b!.svc.positionOf(D1)).to.deep.equal(a!.svc.positionOf(D1));
      await oldSlave.close();
    });

    it('a refused flow-mod rejects in words with its code and leaves every table untouched', async function () {
      const [a, b] = await cluster();
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      net.refuse = (_dpid, fm) => (fm.priority === 666 ? [OFP.OFPET_FLOW_MOD_FAILED, OFP.OFPFMFC_TABLE_FULL] : undefined);
      const [bad, good] = await Promise.allSettled([a!.svc.program(D1, add(666)), a!.svc.program(D1, add(2)), flush()]);
      expect(bad.status).to.equal('rejected');
      const err = (bad as PromiseRejectedResult).reason as SwitchRefusedError;
      expect(err).to.be.instanceOf(SwitchRefusedError);
      expect(err.code).to.equal('OFPET_FLOW_MOD_FAILED/OFPFMFC_TABLE_FULL');
      expect(err.message).to.match(/refused the flow-mod: .*table/i);
      expect(err.status).to.equal(400);
      expect(good.status).to.equal('fulfilled');
      expect((good as PromiseFulfilledResult<{version: number}>).value.version).to.equal(2);
      expect(keysOf(a!.svc.tableOf(D1)!)).to.deep.equal(['2:f100000000000001', '1:f100000000000001']);
      expect(b!.svc.tableOf(D1)!.equals(a!.svc.tableOf(D1) as FlowTable)).to.equal(true);
      expect(counters(a!).refused).to.equal(1);
    });

    it('refuses before sending what the table model refuses, and what cannot be encoded', async function () {
      const [a] = await cluster();
      const err = await a!.svc.program(D1, flowMod({cookie: OWN, tableId: OFP.OFPTT_ALL})).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(SwitchRefusedError);
      expect((err as SwitchRefusedError).code).to.equal('OFPET_FLOW_MOD_FAILED/OFPFMFC_BAD_TABLE_ID');
      expect(net.batches).to.have.length(0);
    });

    it('cookie namespace: an ADD outside it is refused; MODIFY/DELETE are narrowed to it', async function () {
      const [a] = await cluster();
      net.table(D1).apply(add(5, 5, 2, FOREIGN));
      const err = await a!.svc.program(D1, add(1, 1, 2, FOREIGN)).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ForeignCookieError);
      expect(err).to.be.instanceOf(SwitchRefusedError);
      expect((err as Error).message).to.match(/outside the cluster's cookie namespace/);
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      // Delete everything, every cookie: only the owned flow goes.
      await Promise.all([a!.svc.program(D1, flowMod({command: OFP.OFPFC_DELETE, tableId: OFP.OFPTT_ALL})), flush()]);
      expect(keysOf(net.table(D1))).to.deep.equal(['5:200000000000001']);
      expect(a!.svc.tableOf(D1)!.size).to.equal(0);
      // A selection that can only match foreign cookies.
      const sel = await a!.svc.program(D1, flowMod({command: OFP.OFPFC_DELETE, cookie: FOREIGN, cookieMask: 0xffff_ffff_ffff_ffffn})).catch((e: unknown) => e);
      expect(sel).to.be.instanceOf(ForeignCookieError);
    });

    it('typed errors: unknown switch, not master, switch role not confirmed, timeout', async function () {
      const [a, b] = await cluster({settings: {takeoverWaitMs: 100}});
      expect(await a!.svc.program(99n, add(1)).catch((e: unknown) => e)).to.be.instanceOf(UnknownSwitchError);
      const notMaster = await b!.svc.program(D1, add(1)).catch((e: unknown) => e);
      expect(notMaster).to.be.instanceOf(InstanceNotMasterError);
      expect(notMaster).to.be.instanceOf(NoMasterError);
      expect((notMaster as Error).message).to.match(/instance 2 is not the master/);

      a!.sw.setRole(D1, 'slave'); // the switch took MASTER away (another master asserted itself)
      const p = a!.svc.program(D1, add(2)).catch((e: unknown) => e);
      await flush(150);
      expect(await p).to.be.instanceOf(NoMasterError);

      a!.sw.setRole(D1, 'master');
      await flush();
      net.timeoutNext = true;
      const t = a!.svc.program(D1, add(3)).catch((e: unknown) => e);
      await flush();
      const te = await t;
      expect(te).to.be.instanceOf(ProgramTimeoutError);
      expect((te as Error).message).to.match(/may or may not/);
    });
  });

  describe('switch demoted this instance (IS_SLAVE)', function () {
    it('a flow-mod refused with OFPBRC_IS_SLAVE is a retriable NoMasterError (503), not a refusal', async function () {
      const [a] = await cluster({slaves: []});
      net.refuse = () => [OFP.OFPET_BAD_REQUEST, OFP.OFPBRC_IS_SLAVE];
      const e = await Promise.all([a!.svc.program(D1, add(1)).catch((x: unknown) => x), flush()]).then(([x]) => x);
      expect(e).to.be.instanceOf(SwitchDemotedError).and.instanceOf(NoMasterError).and.not.instanceOf(SwitchRefusedError);
      expect(e).to.include({status: 503, retriable: true});
      expect((e as Error).message).to.match(/switch 0000000000000001 answered that this instance is no longer its master.*retry: a new master is taking over/);
      expect(counters(a!).refused).to.equal(0);
      expect(a!.svc.tableOf(D1)!.size).to.equal(0);
    });
  });

  describe('acks', function () {
    it('a silent live slave: the request resolves after ackTimeoutMs, is counted late and logged, and the slave gets a snapshot', async function () {
      const [a] = await cluster({settings: {ackTimeoutMs: 3000, backupPeriodMs: 2000}});
      const toSeven = await spy(instanceRoutingKey('d', 7));
      a!.svc.setLiveSlaves([2, 7]);
      await flush();
      toSeven.length = 0;
      let done = false;
      const p = a!.svc.program(D1, add(1)).then((r) => ((done = true), r));
      await flush(2999 - 10);
      expect(done).to.equal(false);
      await flush(20);
      expect(done).to.equal(true);
      expect((await p).version).to.equal(1);
      expect(counters(a!).acksLate).to.equal(1);
      expect(a!.log.lines.filter((l) => l.event === 'flow_ack_late')).to.have.length(1);
      expect(a!.svc.stats().devices[0]!.mirrors!.find((m) => m.slave === 7)).to.include({late: true});
      await flush(2000);
      const snaps = toSeven.filter((m) => m.type === 'flow-snapshot');
      expect(snaps.length).to.be.greaterThan(0);
      expect(snaps.at(-1)).to.include({version: 1, term: TERM1});
    });

    it('a slave that leaves the slave set is no longer waited for', async function () {
      const [a] = await cluster({slaves: [], settings: {ackTimeoutMs: 60_000}});
      a!.svc.setLiveSlaves([7]);
      let done = false;
      const p = a!.svc.program(D1, add(1)).then(() => (done = true));
      await flush(100);
      expect(done).to.equal(false);
      a!.svc.setLiveSlaves([]);
      await flush();
      expect(done).to.equal(true);
      await p;
    });
  });

  describe('snapshots', function () {
    it('by the ONOS rule: none while slaves confirm, a quiet slave gets the changed device, a new slave every device', async function () {
      const [a] = await cluster({dpids: [D1, D2], settings: {backupPeriodMs: 2000, ackTimeoutMs: 500}});
      const toTwo = await spy(instanceRoutingKey('d', 2));
      const toNine = await spy(instanceRoutingKey('d', 9));
      await Promise.all([a!.svc.program(D1, add(1)), a!.svc.program(D2, add(1)), flush()]);
      await flush(4100); // two periods: slave 2 confirmed everything
      expect(toTwo.filter((m) => m.type === 'flow-snapshot'), JSON.stringify(toTwo)).to.have.length(0);

      // A slave that joins is sent every device at once.
      a!.svc.setLiveSlaves([2, 9]);
      await flush();
      expect(toNine.filter((m) => m.type === 'flow-snapshot').map((m) => m.device).sort()).to.deep.equal([deviceId(D1), deviceId(D2)]);
      toNine.length = 0;
      // Slave 9 goes quiet: D1 changes, the request resolves after the ack timeout, and the next
      // period sends D1 whole to 9, and to 9 only (slave 2 confirmed it).
      await Promise.all([a!.svc.program(D1, add(2)), flush(600)]);
      await flush(2000);
      const sent = toNine.filter((m) => m.type === 'flow-snapshot');
      expect(sent.map((m) => m.device)).to.include(deviceId(D1));
      expect(sent.find((m) => m.device === deviceId(D1))).to.include({version: 2});
      expect(toTwo.filter((m) => m.type === 'flow-snapshot')).to.have.length(0);
      expect(counters(a!).snapshotsSent).to.be.greaterThan(0);
    });

    it('answers snapshot requests; a large table goes in parts under chunkBytes and the mirror reassembles it', async function () {
      const [a, b] = await cluster({settings: {chunkBytes: 8192}});
      const fms = Array.from({length: 600}, (_, i) => add(1000 + i, 1 + (i % 60000)));
      await Promise.all([...fms.map((fm) => a!.svc.program(D1, fm)), flush(100)]);
      expect(b!.svc.tableOf(D1)!.size).to.equal(600);
      // A new slave asks (it knows nothing of the term) and gets the table in parts.
      const c = await node(3, {chunkBytes: 8192});
      c.sw.connect(D1, 'slave');
      c.svc.setRole('slave', TERM1, []);
      const parts = await spy(instanceRoutingKey('d', 3));
      a!.svc.setLiveSlaves([2, 3]);
      await flush(10);
      const sent = parts.filter((m) => m.type === SNAPSHOT_PART);
      expect(sent.length).to.be.greaterThan(5);
      for (const m of sent) expect(Buffer.byteLength(JSON.stringify(m))).to.be.at.most(8192);
      expect(c.svc.tableOf(D1)!.equals(a!.svc.tableOf(D1) as FlowTable)).to.equal(true);
      expect(c.svc.positionOf(D1)).to.deep.equal(a!.svc.positionOf(D1));
      // The mirror that asks gets an answer too.
      c.bus.publish(instanceRoutingKey('d', 1), {v: 1, type: 'flow-snapshot-request', device: deviceId(D1), from: '3'});
      await flush();
      expect(counters(c).snapshotRequestsSent, 'C asked on its own').to.equal(0);
      expect(counters(a!).snapshotRequestsAnswered).to.equal(1);
    });

    it('dedupe: a promotion (rebases, no snapshots), 4 takeovers, a snapshot request, a periodic backup and a peer change send each table to a slave once; a lost one goes again after ackTimeoutMs', async function () {
      const dpids = [D1, D2, 3n, 4n];
      const [a, b, c] = await cluster({slaves: [2, 3], dpids, settings: {backupPeriodMs: 1000, ackTimeoutMs: 5000}});
      await Promise.all([...dpids.map((d) => a!.svc.program(d, add(1))), flush()]);
      // The master dies; slave 3 hears nothing (its acks never come: every snapshot stays in flight).
      await a!.svc.close();
      broker.kill(a!.bus);
      broker.disconnect(c!.bus);
      const toThree = await spy(instanceRoutingKey('d', 3));
      const backups = await spy(backupRoutingKey('d'));
      const perDevice = (): Record<string, number> => {
        const n: Record<string, number> = {};
        for (const m of toThree) if (m.type === 'flow-snapshot') n[m.device as string] = (n[m.device as string] ?? 0) + 1;
        return n;
      };
      const once = Object.fromEntries(dpids.map((d) => [deviceId(d), 1]));
      for (const d of dpids) b!.sw.setRole(d, 'master');
      b!.svc.setRole('master', TERM2, [3]); // #promote announces a rebase per table, then each switch's takeover
      await flush();
      expect(b!.log.lines.filter((l) => l.event === 'flow_switch_takeover')).to.have.length(4);
      expect(backups.filter((m) => m.type === 'flow-rebase').map((m) => m.device).sort()).to.deep.equal(dpids.map(deviceId));
      expect(counters(b!).rebasesSent).to.equal(4);
      expect(perDevice(), 'a slave sent a rebase gets no snapshot at the takeovers').to.deep.equal({});
      // A snapshot request from slave 3 (it could not use a rebase) is answered.
      const other = broker.createBus();
      await other.start();
      other.publish(instanceRoutingKey('d', 2), {v: 1, type: 'flow-snapshot-request', device: deviceId(D1), from: '3'});
      await flush(10);
      expect(perDevice()).to.deep.equal({[deviceId(D1)]: 1});
      b!.svc.setLiveSlaves([3]); // no change
      await flush(990); // a periodic backup (slave 3 has confirmed nothing): the other tables; D1 went since the last period
      expect(perDevice()).to.deep.equal(once);
      expect(counters(b!).snapshotsDeduped).to.be.at.least(1);
      // Lost: the next period sends every table again, once (the ONOS rule: once per period).
      await flush(1000);
      expect(perDevice()).to.deep.equal(Object.fromEntries(dpids.map((d) => [deviceId(d), 2])));
      // A request in between is coalesced with that one.
      other.publish(instanceRoutingKey('d', 2), {v: 1, type: 'flow-snapshot-request', device: deviceId(D1), from: '3'});
      await flush(10);
      expect(perDevice()).to.deep.equal(Object.fromEntries(dpids.map((d) => [deviceId(d), 2])));
      // Slave 3 back: it gets the tables, acknowledges them, and the periodic backup stops.
      broker.reconnect(c!.bus);
      await flush(5100);
      for (const d of dpids) expect(c!.svc.positionOf(d)).to.deep.equal(b!.svc.positionOf(d));
      const settled = toThree.length;
      await flush(3000);
      expect(toThree.length).to.equal(settled);
      await other.close();
    });

    it('promotion: a slave at the new master\'s mirror positions follows the rebases (no snapshot), is trusted, and acknowledges the next change; one that missed a delta gets a snapshot', async function () {
      const dpids = [D1, D2];
      const [a, b, c, d] = await cluster({slaves: [2, 3, 4], dpids});
      await Promise.all([...dpids.map((x) => a!.svc.program(x, add(1))), flush()]);
      // Slave 4 misses the master's last change (its delta is lost on the way).
      broker.disconnect(d!.bus);
      const unacknowledged = a!.svc.program(D2, add(2)).catch(() => undefined); // slave 4's ack never comes
      await flush(100);
      expect(b!.svc.positionOf(D2)).to.deep.equal(a!.svc.positionOf(D2));
      await a!.svc.close();
      await unacknowledged;
      broker.kill(a!.bus);
      broker.reconnect(d!.bus);
      const snapshotsBefore = counters(c!).snapshotsReceived;
      for (const x of dpids) b!.sw.setRole(x, 'master');
      b!.svc.setRole('master', TERM2, [3, 4]);
      await flush(10);
      expect(counters(c!)).to.include({rebasesReceived: 2, rebasesUnusable: 0, snapshotsReceived: snapshotsBefore});
      expect(counters(d!)).to.include({rebasesReceived: 2, rebasesUnusable: 1});
      for (const x of dpids) {
        expect(c!.svc.positionOf(x), deviceId(x)).to.deep.equal(b!.svc.positionOf(x));
        expect(d!.svc.positionOf(x), deviceId(x)).to.deep.equal(b!.svc.positionOf(x));
        expect(d!.svc.tableOf(x)!.entries()).to.deep.equal(b!.svc.tableOf(x)!.entries());
      }
      expect(c!.svc.stats().devices.map((x) => x.trusted)).to.deep.equal([true, true]);
      const r = await Promise.all([b!.svc.program(D1, add(3)), flush()]).then(([x]) => x);
      expect(c!.svc.positionOf(D1)).to.deep.equal({term: TERM2, version: r.version});
      expect(c!.svc.tableOf(D1)!.entries()).to.deep.equal(b!.svc.tableOf(D1)!.entries());
    });

    it('a slave applies a large table in a turn of the event loop of its own, and what follows it for that switch after it', async function () {
      const [a] = await cluster({slaves: []});
      await Promise.all([...Array.from({length: 1200}, (_, i) => a!.svc.program(D1, add(100 + i, 1 + (i % 50)))), flush()]);
      const c = await node(3);
      c.sw.connect(D1, 'slave');
      c.svc.setRole('slave', TERM1, []);
      a!.svc.setLiveSlaves([3]); // a new slave: the master sends it the table whole
      const change = a!.svc.program(D1, add(5000)); // and a change right behind it
      for (let i = 0; i < 50; i++) await Promise.resolve(); // deliveries are microtasks; no timer has run
      expect(counters(c).snapshotsReceived + counters(c).deltasReceived, 'nothing applied in the turn it arrived in').to.equal(0);
      await flush(10);
      const r = await change;
      expect(c.svc.positionOf(D1)).to.deep.equal({term: TERM1, version: r.version});
      expect(c.svc.tableOf(D1)!.entries()).to.deep.equal(a!.svc.tableOf(D1)!.entries());
      expect(c.svc.tableOf(D1)!.size).to.equal(1201);
      expect(counters(c).snapshotRequestsSent, 'the change waited for the table: no gap seen').to.equal(0);
    });

    it('a large table read in slices: one malformed entry drops the whole snapshot (counted), the mirror keeps its table', async function () {
      const [a, b] = await cluster();
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      const before = b!.svc.tableOf(D1)!.entries();
      const dropped = counters(b!).malformedDropped;
      const entries = Array.from({length: 1500}, (_, i) => entryToJson(entry(100 + i, 1 + (i % 50))));
      // As the master sends a large table: in parts, to the slave's own key.
      const send = (list: typeof entries, snap: string) => {
        for (const m of snapshotMessages({device: deviceId(D1), term: TERM1, version: 9, entries: list}, 1, snap, 32 * 1024)) {
          broker.publishRaw(instanceRoutingKey('d', 2), JSON.stringify({...m, slaves: [2]}));
        }
      };
      send(entries.map((e, i) => (i === 1234 ? {...e, priority: -1} : e)), 'bad');
      await flush(10);
      expect(counters(b!).malformedDropped).to.equal(dropped + 1);
      expect(b!.log.lines.some((l) => l.event === 'flow_message_dropped' && String(l.reason).includes('table.entries[1234].priority'))).to.equal(true);
      expect(b!.svc.tableOf(D1)!.entries()).to.deep.equal(before);
      // The same table well formed is taken.
      send(entries, 'good');
      await flush(10);
      expect(b!.svc.positionOf(D1)).to.deep.equal({term: TERM1, version: 9});
      expect(b!.svc.tableOf(D1)!.size).to.equal(1500);
    });

    it('dedupe: a newer version of a device in flight is sent; an acknowledged snapshot does not hold back a later request', async function () {
      const [a, b] = await cluster({settings: {backupPeriodMs: 1000, ackTimeoutMs: 5000}});
      const toTwo = await spy(instanceRoutingKey('d', 2));
      const other = broker.createBus();
      await other.start();
      // Acknowledged at version 0: a request is answered at once.
      other.publish(instanceRoutingKey('d', 1), {v: 1, type: 'flow-snapshot-request', device: deviceId(D1), from: '2'});
      await flush();
      expect(toTwo.filter((m) => m.type === 'flow-snapshot')).to.have.length(1);
      // Answered, acknowledged: asked again, answered again.
      other.publish(instanceRoutingKey('d', 1), {v: 1, type: 'flow-snapshot-request', device: deviceId(D1), from: '2'});
      await flush();
      expect(toTwo.filter((m) => m.type === 'flow-snapshot')).to.have.length(2);
      // Slave 2 silent: a snapshot at version 0 in flight, then the device changes: version 1 goes too.
      broker.disconnect(b!.bus);
      other.publish(instanceRoutingKey('d', 1), {v: 1, type: 'flow-snapshot-request', device: deviceId(D1), from: '2'});
      await flush();
      expect(toTwo.filter((m) => m.type === 'flow-snapshot')).to.have.length(3);
      await Promise.all([a!.svc.program(D1, add(1)), flush(5100)]);
      const snaps = toTwo.filter((m) => m.type === 'flow-snapshot');
      expect(snaps.at(-1)).to.include({version: 1});
      expect(snaps.filter((m) => m.version === 1).length, 'at most once per period while unconfirmed').to.be.within(1, 5);
      await other.close();
    });

    it('a slave that finds a gap asks for a snapshot, and asks again each period while still missing one', async function () {
      const [a, b] = await cluster({settings: {backupPeriodMs: 1000}});
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      const requests = await spy(instanceRoutingKey('d', 1));
      // A delta two versions ahead (its predecessor lost): buffered, and a snapshot asked for.
      const ahead = JSON.parse(encodeBackupMessage({
        type: 'flow-delta', device: deviceId(D1), term: TERM1, version: 3, edits: [{op: 'put', entry: entry(50)}],
      })) as Record<string, unknown>;
      broker.publishRaw(backupRoutingKey('d'), JSON.stringify({...ahead, master: 1}));
      await flush();
      expect(requests.filter((m) => m.type === 'flow-snapshot-request')).to.have.length(1);
      expect(b!.svc.stats().devices[0]).to.include({buffered: 1, awaitingSnapshot: true});
      // The answer (version 1) does not fill the gap before version 3: it keeps asking, once a period.
      await flush(2100);
      expect(requests.filter((m) => m.type === 'flow-snapshot-request').length).to.be.at.least(2);
      expect(b!.svc.positionOf(D1)).to.deep.equal({term: TERM1, version: 1});
    });

    it('a slave that lost a delta catches up from a snapshot at the next one', async function () {
      const [a, b] = await cluster({settings: {ackTimeoutMs: 1000}});
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      broker.disconnect(b!.bus); // version 2 never reaches it
      await Promise.all([a!.svc.program(D1, add(2)), flush(1000)]);
      broker.reconnect(b!.bus);
      await Promise.all([a!.svc.program(D1, add(3)), flush()]);
      expect(counters(b!).snapshotRequestsSent).to.equal(1);
      expect(b!.svc.positionOf(D1)).to.deep.equal({term: TERM1, version: 3});
      expect(b!.svc.tableOf(D1)!.equals(net.table(D1))).to.equal(true);
    });

    it('a delta larger than chunkBytes is replaced by a snapshot', async function () {
      const [a, b] = await cluster({settings: {chunkBytes: 4096}});
      await Promise.all([...Array.from({length: 80}, (_, i) => a!.svc.program(D1, add(100 + i))), flush(10)]);
      await Promise.all([a!.svc.program(D1, flowMod({command: OFP.OFPFC_DELETE, tableId: OFP.OFPTT_ALL})), flush(10)]);
      expect(counters(a!).deltasOversize).to.equal(1);
      expect(b!.svc.tableOf(D1)!.size).to.equal(0);
      expect(b!.svc.positionOf(D1)).to.deep.equal(a!.svc.positionOf(D1));
    });

    it('updateSettings: backups stop and resume with a new period, without a restart', async function () {
      const [a] = await cluster({slaves: [], settings: {backupPeriodMs: 2000}});
      const toNine = await spy(instanceRoutingKey('d', 9));
      a!.svc.setLiveSlaves([9]); // never acks
      await flush();
      toNine.length = 0;
      a!.svc.updateSettings({backupEnabled: false});
      await flush(10_000);
      expect(toNine).to.have.length(0);
      a!.svc.updateSettings({backupEnabled: true, backupPeriodMs: 500});
      await flush(510);
      expect(toNine.filter((m) => m.type === 'flow-snapshot')).to.have.length(1);
      await flush(500);
      expect(toNine.filter((m) => m.type === 'flow-snapshot')).to.have.length(2);
      expect(a!.svc.settings.backupPeriodMs).to.equal(500);
      expect(() => a!.svc.updateSettings({backupPeriodMs: -1})).to.throw(FlowServiceConfigError, /backupPeriodMs/);
    });
  });

  describe('malformed backup messages', function () {
    it('are dropped, counted, warned about at a limited rate, and never applied', async function () {
      const [a, b] = await cluster();
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      const before = b!.svc.tableOf(D1)!.clone();
      const good = JSON.parse(encodeBackupMessage({
        type: 'flow-delta', device: deviceId(D1), term: TERM1, version: 2, edits: [{op: 'put', entry: entry(50)}],
      })) as Record<string, unknown>;
      const bad: unknown[] = [
        {...good, master: 1, changes: [{op: 'put', entry: {tableId: 300}}]}, // bad entry
        {...good, master: 1, v: 9},
        {...good, master: 1, device: 'xyz'},
        {...good, master: 'one'}, // no valid master to ack to
        {...good, master: 1, type: 'flow-nope'},
        {v: 1, type: SNAPSHOT_PART, device: deviceId(D1), term: TERM1, version: 5, snap: 'x', part: 3, parts: 2, master: 1, entries: []},
      ];
      for (let i = 0; i < 20; i++) for (const m of bad) broker.publishRaw(backupRoutingKey('d'), JSON.stringify(m));
      broker.publishRaw(backupRoutingKey('d'), '{not json');
      await flush();
      expect(counters(b!).malformedDropped).to.equal(20 * bad.length);
      expect(counters(b!).busDropped).to.equal(1);
      expect(b!.svc.tableOf(D1)!.equals(before as FlowTable)).to.equal(true);
      expect(b!.svc.positionOf(D1)).to.deep.equal({term: TERM1, version: 1});
      const warnings = b!.log.lines.filter((l) => l.event === 'flow_message_dropped');
      expect(warnings.length).to.be.within(1, 3);
      // Malformed acks and requests to the master too.
      const masterBefore = counters(a!).malformedDropped;
      broker.publishRaw(instanceRoutingKey('d', 1), JSON.stringify({v: 1, type: 'flow-ack', device: deviceId(D1), term: -1, version: 1, from: '2'}));
      broker.publishRaw(instanceRoutingKey('d', 1), JSON.stringify({v: 1, type: 'flow-snapshot-request', device: deviceId(D1), from: 'x.y'}));
      await flush();
      expect(counters(a!).malformedDropped - masterBefore).to.equal(2);
    });
  });

  describe('takeover', function () {
    it('reconciles each switch with the mirror: missing re-installed, deleted removed, unknown adopted, foreign untouched', async function () {
      const [a, b] = await cluster({dpids: [D1, D2]});
      await Promise.all([a!.svc.program(D1, add(1)), a!.svc.program(D1, add(2)), a!.svc.program(D1, add(3)), a!.svc.program(D2, add(1)), flush()]);
      await Promise.all([a!.svc.program(D1, delStrict(3)), flush()]);
      const sw1 = net.table(D1);
      sw1.apply(delStrict(1)); // removed behind the cluster's back (or the switch restarted)
      sw1.apply(add(3)); // the cluster deleted it; it is back on the switch
      sw1.apply(add(4)); // installed by the previous master, never replicated
      sw1.apply(add(5, 5, 2, FOREIGN)); // someone else's
      await a!.svc.close(); // abruptly: nothing said

      for (const d of [D1, D2]) b!.sw.setRole(d, 'master');
      b!.svc.setRole('master', TERM2, []);
      await flush();
      expect(keysOf(sw1).sort()).to.deep.equal(['1:f100000000000001', '2:f100000000000001', '4:f100000000000001', '5:200000000000001']);
      expect(b!.svc.tableOf(D1)!.equals(owned(sw1))).to.equal(true);
      expect(b!.svc.tableOf(D2)!.equals(owned(net.table(D2)))).to.equal(true);
      const st = b!.svc.stats();
      expect(st.role).to.equal('master');
      expect(st.devices.every((d) => d.ready)).to.equal(true);
      expect(st.counters.adopted).to.equal(1);
      expect(st.counters.takeoverRepairs).to.equal(3); // restored 1, removed 3, adopted 4
      expect(b!.log.lines.filter((l) => l.event === 'flow_switch_takeover')).to.have.length(2);
      // The new master programs on from there.
      await Promise.all([b!.svc.program(D1, add(6)), flush()]);
      expect(b!.svc.positionOf(D1)).to.deep.equal({term: TERM2, version: 2}); // adoption was version 1
    });

    it('with unknownFlowPolicy remove, unknown owned flows go', async function () {
      const [a, b] = await cluster({settings: {unknownFlowPolicy: 'remove'}});
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      net.table(D1).apply(add(4));
      await a!.svc.close();
      b!.sw.setRole(D1, 'master');
      b!.svc.setRole('master', TERM2, []);
      await flush();
      expect(keysOf(net.table(D1))).to.deep.equal(['1:f100000000000001']);
    });

    it('requests during a takeover wait for it, then proceed', async function () {
      const [a, b] = await cluster({settings: {takeoverWaitMs: 5000}});
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      net.table(D1).apply(delStrict(1)); // the takeover will have to restore it
      await a!.svc.close();
      let release!: () => void;
      net.holdStats = new Promise((r) => (release = r));
      b!.sw.setRole(D1, 'master');
      b!.svc.setRole('master', TERM2, []);
      let done = false;
      const p = b!.svc.program(D1, add(2)).then((r) => ((done = true), r));
      await flush(1000);
      expect(done).to.equal(false);
      expect(net.batches.filter((x) => x.from === 2)).to.have.length(0);
      release();
      await flush();
      expect(done).to.equal(true);
      const mine = net.batches.filter((x) => x.from === 2);
      expect(mine.map((x) => x.messages.map((m) => m.priority))).to.deep.equal([[1], [2]]); // restore first, then the request
      expect((await p).term).to.equal(TERM2);
    });

    it('switches are reconciled one at a time, a switch with a request waiting before the others', async function () {
      const D3 = 3n;
      const [a, b] = await cluster({dpids: [D1, D2, D3], settings: {takeoverWaitMs: 5000}});
      await flush(); // three takeovers, one after the other
      await Promise.all([a!.svc.program(D1, add(1)), a!.svc.program(D2, add(1)), a!.svc.program(D3, add(1)), flush()]);
      await a!.svc.close();
      let release!: () => void;
      net.holdStats = new Promise((r) => (release = r));
      for (const d of [D1, D2, D3]) b!.sw.setRole(d, 'master');
      b!.svc.setRole('master', TERM2, []);
      const written = b!.svc.program(D3, add(2));
      await flush(100);
      release();
      await flush();
      await Promise.all([written, flush()]);
      const takeovers = b!.log.lines.filter((l) => l.event === 'flow_switch_takeover').map((l) => l.dpid);
      // D1's stats came first and found no one waiting for a turn; then D3, which has a writer, before D2.
      expect(takeovers).to.deep.equal(['0000000000000001', '0000000000000003', '0000000000000002']);
      expect(keysOf(net.table(D3)).sort()).to.deep.equal(['1:f100000000000001', '2:f100000000000001']);
    });

    it('when the switch has not confirmed the new master yet, a request waits at most takeoverWaitMs', async function () {
      const [a, b] = await cluster({settings: {takeoverWaitMs: 2000}});
      await a!.svc.close();
      b!.svc.setRole('master', TERM2, []); // the switch still says slave
      const p = b!.svc.program(D1, add(2)).catch((e: unknown) => e);
      await flush(1000);
      b!.sw.setRole(D1, 'master'); // confirmed: the takeover runs, then the request
      await flush();
      expect(await p).to.deep.include({masterId: 2, version: 1});

      b!.sw.setRole(D1, 'slave');
      const q = b!.svc.program(D1, add(3)).catch((e: unknown) => e);
      let settled = false;
      void q.then(() => (settled = true));
      await flush(1990);
      expect(settled).to.equal(false);
      await flush(20);
      expect(await q).to.be.instanceOf(NoMasterError); // the switch would refuse us: not a takeover failure
    });

    it('a switch that connects while master is reconciled (adopting what it holds)', async function () {
      const [a] = await cluster({dpids: [D1]});
      net.addSwitch(D2, [entry(7)]);
      a!.sw.connect(D2, 'master');
      await flush();
      expect(keysOf(a!.svc.tableOf(D2)!)).to.deep.equal(['7:f100000000000001']);
    });

    it('a master that steps down answers queued requests and keeps its tables as its mirror', async function () {
      const [a] = await cluster({slaves: []});
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      let release!: () => void;
      net.hold = new Promise((r) => (release = r));
      const inFlight = a!.svc.program(D1, add(2)).catch((e: unknown) => e);
      await flush();
      const queued = a!.svc.program(D1, add(3)).catch((e: unknown) => e);
      await flush();
      a!.svc.setRole('slave', TERM2, []);
      net.hold = undefined;
      release();
      await flush();
      expect(await queued).to.be.instanceOf(InstanceNotMasterError);
      expect(await inFlight).to.be.instanceOf(ProgramTimeoutError);
      expect(a!.svc.positionOf(D1)).to.deep.equal({term: TERM1, version: 1});
      expect(keysOf(a!.svc.tableOf(D1)!)).to.deep.equal(['1:f100000000000001']);
    });
  });

  describe('flows the switch reports expired (FLOW_REMOVED)', function () {
    it('a timed-out flow leaves the table and the mirrors; another cookie, a DELETE or an unknown flow change nothing', async function () {
      const [a, b] = await cluster();
      await Promise.all([a!.svc.program(D1, add(1)), a!.svc.program(D1, add(2)), flush()]);
      const e1 = a!.svc.tableOf(D1)!.entries().find((e) => e.priority === 1)!;
      const removed = (over: Partial<FlowRemovedMessage> = {}): FlowRemovedMessage => ({
        type: 'FLOW_REMOVED', xid: 0, cookie: e1.cookie, priority: 1, reason: OFP.OFPRR_HARD_TIMEOUT, tableId: 0, durationSec: 5, durationNsec: 0,
        idleTimeout: 0, hardTimeout: 5, packetCount: 0n, byteCount: 0n, match: e1.match, ...over,
      });
      const before = a!.svc.positionOf(D1)!;
      a!.sw.emit('message', D1, removed({cookie: e1.cookie ^ 1n})); // replaced meanwhile by an ADD with another cookie
      a!.sw.emit('message', D1, removed({reason: OFP.OFPRR_DELETE})); // ours, or someone's by hand: not an expiry
      a!.sw.emit('message', D1, removed({priority: 99})); // not in the table
      await flush();
      expect(a!.svc.positionOf(D1)).to.deep.equal(before);
      expect(counters(a!).expiredBySwitch).to.equal(0);

      a!.sw.emit('message', D1, removed({reason: OFP.OFPRR_IDLE_TIMEOUT}));
      await flush();
      expect(a!.svc.tableOf(D1)!.entries().map((e) => e.priority)).to.deep.equal([2]);
      expect(a!.svc.positionOf(D1)).to.deep.equal({term: TERM1, version: before.version + 1});
      expect(counters(a!).expiredBySwitch).to.equal(1);
      expect(b!.svc.positionOf(D1)).to.deep.equal(a!.svc.positionOf(D1));
      expect(b!.svc.tableOf(D1)!.equals(a!.svc.tableOf(D1)! as FlowTable)).to.equal(true);
      // A slave ignores what a switch tells it: it follows the master.
      b!.sw.emit('message', D1, removed({priority: 2, match: a!.svc.tableOf(D1)!.entries()[0]!.match, cookie: a!.svc.tableOf(D1)!.entries()[0]!.cookie}));
      await flush();
      expect(b!.svc.tableOf(D1)!.size).to.equal(1);
    });
  });

  describe('a slave rehearses a takeover', function () {
    it('once, as soon as its mirror holds enough flows, on copies: no switch asked, no mirror changed, nothing sent', async function () {
      const [a, b] = await cluster({settings: {backupPeriodMs: 1000}});
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      await flush(2_500); // a mirror of one flow: too small to bother
      expect(b!.log.lines.filter((l) => l.event === 'flow_takeover_rehearsed')).to.have.length(0);
      const sent = await spy(instanceRoutingKey('d', 1));
      await Promise.all([...Array.from({length: 60}, (_, i) => a!.svc.program(D1, add(100 + i))), flush()]);
      const position = b!.svc.positionOf(D1);
      await flush();
      const rehearsed = b!.log.lines.filter((l) => l.event === 'flow_takeover_rehearsed');
      expect(rehearsed).to.have.length(1);
      expect(rehearsed[0]).to.include({flows: 61, in_line: 61, rounds: 6});
      expect(b!.sw.statsCalls, 'flow stats asked of a switch').to.equal(0);
      expect(b!.svc.positionOf(D1)).to.deep.equal(position);
      expect(b!.svc.tableOf(D1)!.equals(a!.svc.tableOf(D1)! as FlowTable)).to.equal(true);
      expect(sent.filter((m) => m.from === '2' && m.type !== 'flow-ack'), 'what the slave sent the master besides its acks').to.deep.equal([]);
      await flush(3_000);
      expect(b!.log.lines.filter((l) => l.event === 'flow_takeover_rehearsed'), 'once only').to.have.length(1);
    });
  });

  describe('takeover: mirror trust', function () {
    function modifyOut(priority: number, out: number): FlowModMessage {
      return {...add(priority, priority, out), command: OFP.OFPFC_MODIFY_STRICT, cookieMask: 0xffff_ffff_ffff_ffffn};
    }

    function takeoverLine(n: Node): Record<string, unknown> {
      const lines = n.log.lines.filter((l) => l.event === 'flow_switch_takeover');
      expect(lines).to.have.length(1);
      return lines[0] as Record<string, unknown>;
    }

    it('no live slave: a delete and a modify the master acknowledged alone survive the promotion of a stale slave', async function () {
      const [a, b, c] = await cluster({slaves: [2, 3]});
      await Promise.all([a!.svc.program(D1, add(1)), a!.svc.program(D1, add(2)), a!.svc.program(D1, add(3)), flush()]);
      expect(b!.svc.stats().devices[0]).to.include({trusted: true});
      // Both slaves hang: the broker drops their queues, the election counts them out.
      broker.disconnect(b!.bus);
      broker.disconnect(c!.bus);
      a!.svc.setLiveSlaves([]);
      await flush();
      const del = await Promise.all([a!.svc.program(D1, delStrict(1)), flush()]).then(([r]) => r);
      const mod = await Promise.all([a!.svc.program(D1, modifyOut(2, 9)), flush()]).then(([r]) => r);
      expect([del.version, mod.version]).to.deep.equal([4, 5]); // acknowledged by the master alone
      const acknowledged = owned(net.table(D1));
      expect(keysOf(acknowledged)).to.deep.equal(['3:f100000000000001', '2:f100000000000001']);
      // The master dies; the slaves come back; the stale one (still at version 3) takes over.
      await a!.svc.close();
      broker.kill(a!.bus);
      broker.reconnect(b!.bus);
      broker.reconnect(c!.bus);
      await flush();
      expect(b!.svc.positionOf(D1)).to.deep.equal({term: TERM1, version: 3});
      expect(b!.svc.stats().devices[0]).to.include({trusted: false});
      b!.sw.setRole(D1, 'master');
      b!.svc.setRole('master', TERM2, [3]);
      await flush();
      // Neither resurrected nor reverted: the switch kept what was acknowledged; the table took it.
      expect(net.table(D1).equals(acknowledged)).to.equal(true);
      expect(b!.svc.tableOf(D1)!.equals(acknowledged)).to.equal(true);
      expect(net.batches.filter((x) => x.from === 2)).to.have.length(0); // nothing sent to the switch
      expect(c!.svc.tableOf(D1)!.equals(acknowledged)).to.equal(true); // and the other slave mirrors it
      const line = takeoverLine(b!);
      expect(line).to.include({truth: 'switch', restored: 0, fixed: 0, dropped: 1, updated: 1, level: 'info'});
      expect(String(line.why)).to.match(/not known in sync.*data bus connection was lost/);
      expect(counters(b!).takeoversFromSwitch).to.equal(1);
    });

    it('a slave the master counted out learns it from the deltas (not listed) and is not trusted, even with no bus loss', async function () {
      const [a, b] = await cluster({slaves: [2]});
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      expect(b!.svc.stats().devices[0]).to.include({trusted: true});
      a!.svc.setLiveSlaves([]); // expired by the election, its queue still there
      await Promise.all([a!.svc.program(D1, add(2)), flush()]);
      const st = b!.svc.stats().devices[0]!;
      expect(st).to.include({trusted: false, version: 2});
      expect(st.trust).to.match(/does not list this instance/);
      // Counted in again: the master sends every table, listing it: trusted again.
      a!.svc.setLiveSlaves([2]);
      await flush();
      expect(b!.svc.stats().devices[0]).to.include({trusted: true});
    });

    it('a trusted mirror is the truth: a flow missing from the switch is re-installed, a deleted one removed', async function () {
      const [a, b] = await cluster({slaves: [2]});
      await Promise.all([a!.svc.program(D1, add(1)), a!.svc.program(D1, add(2)), flush()]);
      await Promise.all([a!.svc.program(D1, delStrict(2)), flush()]);
      net.table(D1).apply(delStrict(1)); // lost by the switch
      net.table(D1).apply(add(2)); // deleted by the cluster, back on the switch
      await a!.svc.close();
      b!.sw.setRole(D1, 'master');
      b!.svc.setRole('master', TERM2, []);
      await flush();
      expect(keysOf(net.table(D1))).to.deep.equal(['1:f100000000000001']);
      expect(takeoverLine(b!)).to.include({truth: 'table', restored: 1, removed: 1});
    });

    it('a rejoined slave is not trusted until the master\'s next snapshot, then it is', async function () {
      const [a, b] = await cluster({slaves: [2]});
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      // It lost its role (broker loss, self-fence) and came back as slave.
      a!.svc.setLiveSlaves([]);
      b!.svc.setRole('unknown', TERM1, []);
      b!.svc.setRole('slave', TERM1, []);
      expect(b!.svc.stats().devices[0]).to.include({trusted: false});
      expect(b!.svc.stats().devices[0]!.trust).to.match(/became slave \(was unknown\)/);
      a!.svc.setLiveSlaves([2]); // the election sees it again: every table sent to it
      await flush();
      expect(b!.svc.stats().devices[0]).to.include({trusted: true});
      // Rejoined without the master noticing (it never counted it out): it asks for a snapshot itself.
      b!.svc.setRole('unknown', TERM1, []);
      b!.svc.setRole('slave', TERM1, []);
      expect(b!.svc.stats().devices[0]).to.include({trusted: false});
      await flush(2000);
      expect(b!.svc.stats().devices[0]).to.include({trusted: true});
      // Trusted: at its promotion the mirror is the truth again.
      net.table(D1).apply(delStrict(1));
      await a!.svc.close();
      b!.sw.setRole(D1, 'master');
      b!.svc.setRole('master', TERM2, []);
      await flush();
      expect(keysOf(net.table(D1))).to.deep.equal(['1:f100000000000001']);
      expect(takeoverLine(b!)).to.include({truth: 'table', restored: 1});
    });
  });

  describe('audit', function () {
    it('restores a flow deleted by hand and removes a stray owned flow; foreign flows stay; counted', async function () {
      const [a, b] = await cluster();
      await Promise.all([a!.svc.program(D1, add(1)), a!.svc.program(D1, add(2)), flush()]);
      const sw = net.table(D1);
      sw.apply(delStrict(1));
      sw.apply(add(9));
      sw.apply(add(5, 5, 2, FOREIGN));
      const report = await Promise.all([a!.svc.auditNow(), flush()]).then(([r]) => r);
      expect(report.ran).to.equal(true);
      expect(report.devices).to.have.length(1);
      expect(report.devices[0]).to.include({restored: 1, removed: 1, adopted: 0});
      expect(keysOf(sw).sort()).to.deep.equal(['1:f100000000000001', '2:f100000000000001', '5:200000000000001']);
      expect(a!.svc.tableOf(D1)!.equals(owned(sw))).to.equal(true);
      expect(counters(a!)).to.include({audits: 1, auditRepairs: 2});
      expect(await b!.svc.auditNow()).to.deep.include({ran: false});
    });

    it('runs on its cron schedule (master only), and a bad schedule is refused with a clear error', async function () {
      const [a, b] = await cluster({settings: {auditCron: '*/10 * * * * *'}});
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      net.table(D1).apply(delStrict(1));
      await flush(10_500);
      expect(counters(a!).audits).to.be.at.least(1);
      expect(counters(b!).audits).to.equal(0);
      expect(keysOf(net.table(D1))).to.deep.equal(['1:f100000000000001']);
      a!.svc.updateSettings({auditCron: 'off'});
      const n = counters(a!).audits;
      await flush(30_000);
      expect(counters(a!).audits).to.equal(n);

      const bus = broker.createBus();
      expect(() => new FlowService({
        instId: 5, domain: 'd', bus, switches: new FakeSwitches(net, 5), logger: new MemoryLogger(), settings: {auditCron: '* * *'},
      })).to.throw(FlowServiceConfigError, /auditCron \("\* \* \*"\) is not a cron expression: expected 5 or 6 fields/);
      expect(() => new FlowService({
        instId: 5, domain: 'd', bus, switches: new FakeSwitches(net, 5), logger: new MemoryLogger(), settings: {auditCron: '61 * * * *'},
      })).to.throw(FlowServiceConfigError, /minute/);
    });

    it('stats() and close(): counts, per-device positions, idempotent close that answers what is pending', async function () {
      const [a, b] = await cluster();
      await Promise.all([a!.svc.program(D1, add(1)), flush()]);
      const st = a!.svc.stats();
      expect(st.devices).to.deep.equal([{
        dpid: deviceId(D1), switchRole: 'master', term: TERM1, version: 1, size: 1, ready: true, queued: 0,
        mirrors: [{slave: 2, acked: 1, lag: 0, late: false}],
      }]);
      expect(st.counters).to.include({requests: 1, batches: 1, deltasSent: 1, acksLate: 0});
      expect(b!.svc.stats().devices[0]).to.include({term: TERM1, version: 1, size: 1, buffered: 0, awaitingSnapshot: false});
      net.hold = new Promise(() => {});
      const p = a!.svc.program(D1, add(2)).catch((e: unknown) => e);
      await flush();
      await Promise.all([a!.svc.close(), a!.svc.close()]);
      expect(await p).to.be.instanceOf(ProgramTimeoutError);
      expect(await a!.svc.program(D1, add(3)).catch((e: unknown) => e)).to.be.instanceOf(InstanceNotMasterError);
      expect(entryFromFlowStats).to.be.a('function');
    });
  });
});
