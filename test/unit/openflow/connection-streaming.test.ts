import {expect} from 'chai';
import {monitorEventLoopDelay} from 'node:perf_hooks';
import type {Socket} from 'node:net';
import {
  BatchEncodeError,
  BundleError,
  CHUNK_BYTES,
  ConnectionClosedError,
  OpenFlowError,
  SwitchConnection,
  SwitchTimeoutError,
  indexOfXid,
  type ConnectionOptions,
} from '../../../src/openflow/connection.js';
import {EncodeError, OFP, applyActions, flowMod, match, output, type OfMessage} from '../../../src/openflow/codec.js';
import {fakeSwitchesPerTest, type FakeSwitchOptions} from './connection-fake-switch.js';

/** A FLOW_MOD whose cookie says its index (how the fake switch's sink checks the order). */
function mod(i: number) {
  return flowMod({cookie: BigInt(i), priority: 1 + (i % 1000), match: match({in_port: 1 + (i % 24), eth_type: 0x0800, ipv4_dst: `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`}), instructions: [applyActions(output(2))]});
}

function mods(n: number, from = 0) {
  return Array.from({length: n}, (_, i) => mod(from + i));
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** The longest the event loop was blocked (ms) while `run` ran, sampled by a 10 ms histogram. */
async function maxEventLoopBlockMs(run: () => Promise<void>): Promise<number> {
  const h = monitorEventLoopDelay({resolution: 10});
  h.enable();
  try {
    await run();
  } finally {
    h.disable();
  }
  return h.max / 1e6;
}

describe('SwitchConnection output: coalesced writes, bounded queues, streamed batches and bundles', function () {
  this.timeout(120_000);
  const switches = fakeSwitchesPerTest();

  /** A switch past the handshake whose FEATURES_REQUEST was read (so its `next` sees what follows). */
  async function readySwitch(opts: FakeSwitchOptions = {}, connectionOptions: ConnectionOptions = {}) {
    const {sw, conn} = await switches.readySwitch(opts, connectionOptions);
    await sw.next('FEATURES_REQUEST');
    return {sw, conn};
  }

  const socketOf = (conn: SwitchConnection) => (conn as unknown as {socket: Socket}).socket;

  describe('writes', function () {
    it('gathers the messages of one tick into few socket writes of at most 64 KiB', async function () {
      const {sw, conn} = await readySwitch();
      const sink = sw.startSink();
      const socket = socketOf(conn);
      const sizes: number[] = [];
      const write = socket.write.bind(socket) as (chunk: Buffer, cb?: () => void) => boolean;
      (socket as unknown as {write: typeof write}).write = (chunk: Buffer, cb?: () => void) => {
        sizes.push(chunk.length);
        return write(chunk, cb);
      };
      try {
        for (const m of mods(2000)) conn.send(m);
        expect(sizes.length, 'written before the tick ended (only full chunks)').to.be.at.most(3);
        await conn.flush();
        await sw.waitForFrames(2000);
      } finally {
        delete (socket as unknown as {write?: unknown}).write;
      }
      const total = sizes.reduce((a, b) => a + b, 0);
      expect(total).to.equal(sink.bytes);
      expect(Math.max(...sizes)).to.be.at.most(CHUNK_BYTES);
      expect(sizes.filter((n) => n > 0).length).to.be.at.most(Math.ceil(total / CHUNK_BYTES) + 1);
      expect(sink.cookies).to.deep.equal(mods(2000).map((m) => m.cookie));
    });

    it('send() takes the xid it is given', async function () {
      const {sw, conn} = await readySwitch();
      expect(conn.send({type: 'ECHO_REPLY', data: Buffer.from('x')}, {xid: 4242})).to.equal(4242);
      expect((await sw.next('ECHO_REPLY')).xid).to.equal(4242);
      expect(() => conn.send({type: 'ECHO_REPLY', data: Buffer.alloc(0)}, {xid: -1})).to.throw(EncodeError);
      expect(conn.queuedBytes).to.equal(0);
    });
  });

  describe('backpressure', function () {
    it('drains 200,000 queued messages without blocking the event loop (the former drain took seconds in one call)', async function () {
      const {sw, conn} = await readySwitch();
      const sink = sw.startSink();
      sw.socket.pause();
      const n = 200_000;
      for (let i = 0; i < n; i++) conn.send(mod(i));
      expect(conn.writable, 'the socket pushed back').to.equal(false);
      expect(conn.queuedBytes).to.be.above(10 * 1024 * 1024);
      const blockedMs = await maxEventLoopBlockMs(async () => {
        sw.socket.resume();
        await conn.flush();
        await sw.waitForFrames(n);
      });
      // A behaviour bound, not a stopwatch goal: one drain step writes about a chunk, so the loop
      // is never held for long. Generous for a loaded machine (the quadratic drain took 9-11 s).
      expect(blockedMs, `event loop blocked for ${blockedMs.toFixed(0)} ms in one go`).to.be.below(250);
      expect(conn.queuedBytes).to.equal(0);
      expect(conn.writable).to.equal(true);
      expect(sink.cookies.length).to.equal(n);
      expect(sink.cookies.every((c, i) => c === BigInt(i)), 'in order').to.equal(true);
      expect(conn.state).to.equal('ready');
    });
  });

  describe('sendConfirmedBatch streams', function () {
    it('a 100,000-message batch does not trip a small maxQueuedBytes: the connection stays up and the switch gets them all, in order', async function () {
      const {sw, conn} = await readySwitch({}, {maxQueuedBytes: 64 * 1024});
      const sink = sw.startSink();
      const n = 100_000;
      let maxQueued = 0;
      const probe = setInterval(() => (maxQueued = Math.max(maxQueued, conn.queuedBytes)), 1);
      const blockedMs = await maxEventLoopBlockMs(async () => {
        const results = await conn.sendConfirmedBatch(mods(n));
        expect(results).to.have.length(n);
        expect(results.every((r) => r === undefined)).to.equal(true);
      });
      clearInterval(probe);
      expect(conn.state).to.equal('ready');
      expect(sink.cookies.length).to.equal(n);
      expect(sink.cookies.every((c, i) => c === BigInt(i)), 'in order').to.equal(true);
      expect(sink.types.at(-1), 'then one barrier').to.equal(OFP.OFPT_BARRIER_REQUEST);
      expect(maxQueued, 'held locally at any time').to.be.at.most(CHUNK_BYTES);
      expect(blockedMs, `event loop blocked for ${blockedMs.toFixed(0)} ms in one go`).to.be.below(250);
    });

    it('yields to the event loop every few chunks even when the socket takes everything', async function () {
      const {sw, conn} = await readySwitch();
      sw.startSink();
      const socket = socketOf(conn);
      let writes = 0;
      const write = socket.write.bind(socket) as (chunk: Buffer, cb?: () => void) => boolean;
      (socket as unknown as {write: typeof write}).write = (chunk: Buffer, cb?: () => void) => {
        writes++;
        return write(chunk, cb);
      };
      try {
        const batch = conn.sendConfirmedBatch(mods(100_000));
        expect(writes, 'chunks written before the call returned').to.be.at.most(4);
        let turns = 0;
        const counting = setInterval(() => turns++, 0);
        await batch;
        clearInterval(counting);
        expect(turns, 'timers ran while the batch streamed').to.be.above(3);
      } finally {
        delete (socket as unknown as {write?: unknown}).write;
      }
    });

    it('starts writing before the whole batch is encoded, and waits while the switch does not read', async function () {
      const {sw, conn} = await readySwitch({}, {maxQueuedBytes: 64 * 1024});
      const sink = sw.startSink();
      sw.socket.pause();
      const batch = conn.sendConfirmedBatch(mods(100_000));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(conn.state).to.equal('ready');
      expect(conn.queuedBytes).to.be.at.most(CHUNK_BYTES);
      sw.socket.resume();
      await batch;
      expect(sink.cookies.length).to.equal(100_000);
    });

    it('gives up with SwitchTimeoutError when the switch reads nothing for timeoutMs, without closing', async function () {
      const {sw, conn} = await readySwitch({}, {maxQueuedBytes: 64 * 1024});
      sw.startSink();
      sw.socket.pause();
      const error = await conn.sendConfirmedBatch(mods(100_000), {timeoutMs: 300}).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(SwitchTimeoutError);
      expect((error as Error).message).to.match(/read nothing more/);
      expect(conn.state).to.equal('ready');
    });

    it('keeps batches whole and in call order; what is sent meanwhile follows the running batch', async function () {
      const {sw, conn} = await readySwitch();
      const sink = sw.startSink({keep: ['ECHO_REQUEST']});
      sw.socket.pause();
      const first = conn.sendConfirmedBatch(mods(20_000));
      await tick();
      conn.send(mod(1_000_000)); // asked for after the first batch began
      const second = conn.sendConfirmedBatch(mods(20_000, 20_000));
      conn.send(mod(2_000_000)); // and after the second
      expect(conn.writable).to.equal(false);
      sw.socket.resume();
      await Promise.all([first, second]);
      await conn.flush();
      await sw.waitForFrames(40_000 + 2 + 2);
      const want = [...mods(20_000).map((m) => m.cookie), 1_000_000n, ...mods(20_000, 20_000).map((m) => m.cookie), 2_000_000n];
      expect(sink.cookies.length).to.equal(want.length);
      expect(sink.cookies.every((c, i) => c === want[i]), 'call order').to.equal(true);
    });

    it('echoes do not wait for a running batch (they keep the connection alive)', async function () {
      const {sw, conn} = await readySwitch();
      const sink = sw.startSink();
      sw.socket.pause();
      const order: string[] = [];
      const batch = conn.sendConfirmedBatch(mods(100_000)).then(() => order.push('batch'));
      await tick();
      const echo = conn.echo().then(() => order.push('echo'));
      sw.socket.resume();
      await Promise.all([batch, echo]);
      expect(order).to.deep.equal(['echo', 'batch']);
      const echoAt = sink.types.indexOf(OFP.OFPT_ECHO_REQUEST);
      expect(echoAt).to.be.above(0).and.below(sink.types.length - 1000);
    });

    it('an error for a message of a long batch finds it by xid', async function () {
      const {sw, conn} = await readySwitch();
      const sink = sw.startSink({barriers: false, keep: ['BARRIER_REQUEST']});
      const batch = conn.sendConfirmedBatch(mods(30_000));
      const barrier = await sw.next('BARRIER_REQUEST', 60_000);
      sw.send({type: 'ERROR', xid: sink.xids[12_345]!, errorType: OFP.OFPET_FLOW_MOD_FAILED, code: OFP.OFPFMFC_OVERLAP, data: Buffer.alloc(0)});
      sw.send({type: 'BARRIER_REPLY', xid: barrier.xid});
      const results = await batch;
      expect(results.findIndex((r) => r !== undefined)).to.equal(12_345);
      expect(results[12_345]?.codeName).to.equal('OFPET_FLOW_MOD_FAILED/OFPFMFC_OVERLAP');
      expect(results.filter(Boolean)).to.have.length(1);
    });

    it('an unencodable message in the first 64 KiB sends nothing of the batch', async function () {
      const {sw, conn} = await readySwitch();
      const sink = sw.startSink();
      const batch = mods(100);
      batch[60] = flowMod({priority: 70_000});
      const error = await conn.sendConfirmedBatch(batch).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(EncodeError).and.not.to.be.instanceOf(BatchEncodeError);
      expect((error as EncodeError).field).to.equal('FLOW_MOD.priority');
      await conn.echo();
      expect(sink.types.filter((t) => t !== OFP.OFPT_ECHO_REQUEST)).to.deep.equal([]);
    });

    it('an unencodable message later in a batch: the messages before it are sent and confirmed, BatchEncodeError says which', async function () {
      const {sw, conn} = await readySwitch();
      const sink = sw.startSink();
      const batch = mods(5_000);
      batch[4_000] = flowMod({match: [{field: 'ipv4_dst', value: 'nope'}]});
      const error = await conn.sendConfirmedBatch(batch).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(BatchEncodeError);
      expect(error).to.include({index: 4_000, field: 'FLOW_MOD.match[0].value'});
      expect((error as BatchEncodeError).results).to.have.length(4_000);
      expect(sink.cookies.length).to.equal(4_000);
      expect(sink.types.at(-1)).to.equal(OFP.OFPT_BARRIER_REQUEST);
    });

    it('rejects with ConnectionClosedError when the connection closes mid-batch', async function () {
      const {sw, conn} = await readySwitch();
      sw.startSink();
      sw.socket.pause();
      const batch = conn.sendConfirmedBatch(mods(100_000));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await conn.close('test over');
      const error = await batch.then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(ConnectionClosedError);
    });
  });

  describe('bundles (ONF EXT-230)', function () {
    it('OPEN, every message added with its add\'s xid inside, a barrier, COMMIT', async function () {
      const {sw, conn} = await readySwitch();
      const sent = conn.sendBundle(mods(3), {bundleId: 9});
      const open = await sw.next('BUNDLE_CONTROL');
      expect(open).to.include({bundleId: 9, controlType: OFP.OFPBCT_OPEN_REQUEST, flags: OFP.OFPBF_ATOMIC | OFP.OFPBF_ORDERED});
      const adds = [await sw.next('BUNDLE_ADD_MESSAGE'), await sw.next('BUNDLE_ADD_MESSAGE'), await sw.next('BUNDLE_ADD_MESSAGE')];
      for (const [i, add] of adds.entries()) {
        expect(add).to.include({bundleId: 9, flags: 3});
        expect(add.message).to.deep.include({type: 'FLOW_MOD', xid: add.xid, cookie: BigInt(i)});
      }
      sw.send({...open, controlType: OFP.OFPBCT_OPEN_REPLY});
      sw.send({type: 'BARRIER_REPLY', xid: (await sw.next('BARRIER_REQUEST')).xid});
      const commit = await sw.next('BUNDLE_CONTROL');
      expect(commit).to.include({bundleId: 9, controlType: OFP.OFPBCT_COMMIT_REQUEST});
      sw.send({...commit, controlType: OFP.OFPBCT_COMMIT_REPLY});
      await sent;
    });

    it('a message refused as it was added: DISCARD, and BundleError names it', async function () {
      const {sw, conn} = await readySwitch();
      const sent = conn.sendBundle(mods(5)).then(() => undefined, (e: unknown) => e);
      const open = await sw.next('BUNDLE_CONTROL');
      sw.send({...open, controlType: OFP.OFPBCT_OPEN_REPLY});
      const adds = [];
      for (let i = 0; i < 5; i++) adds.push(await sw.next('BUNDLE_ADD_MESSAGE'));
      sw.send({type: 'ERROR', xid: adds[3]!.xid, errorType: OFP.OFPET_BAD_ACTION, code: OFP.OFPBAC_BAD_OUT_PORT, data: Buffer.alloc(0)});
      sw.send({type: 'BARRIER_REPLY', xid: (await sw.next('BARRIER_REQUEST')).xid});
      const discard = await sw.next('BUNDLE_CONTROL');
      expect(discard.controlType).to.equal(OFP.OFPBCT_DISCARD_REQUEST);
      sw.send({...discard, controlType: OFP.OFPBCT_DISCARD_REPLY});
      const error = await sent;
      expect(error).to.be.instanceOf(BundleError);
      expect(error).to.include({stage: 'add', bundleId: open.bundleId});
      expect((error as BundleError).failures.map((f) => [f.index, f.error.codeName])).to.deep.equal([[3, 'OFPET_BAD_ACTION/OFPBAC_BAD_OUT_PORT']]);
    });

    it('a failed commit: BundleError with the message that failed and the switch\'s OFPBFC_MSG_FAILED', async function () {
      const {sw, conn} = await readySwitch();
      const sent = conn.sendBundle(mods(4)).then(() => undefined, (e: unknown) => e);
      const open = await sw.next('BUNDLE_CONTROL');
      sw.send({...open, controlType: OFP.OFPBCT_OPEN_REPLY});
      const adds = [];
      for (let i = 0; i < 4; i++) adds.push(await sw.next('BUNDLE_ADD_MESSAGE'));
      sw.send({type: 'BARRIER_REPLY', xid: (await sw.next('BARRIER_REQUEST')).xid});
      const commit = await sw.next('BUNDLE_CONTROL');
      // As Open vSwitch does it: the failing message's error (with its add's xid), then the commit's.
      sw.send({type: 'ERROR', xid: adds[2]!.xid, errorType: OFP.OFPET_FLOW_MOD_FAILED, code: OFP.OFPFMFC_OVERLAP, data: Buffer.alloc(0)});
      sw.send({type: 'ERROR', xid: commit.xid, errorType: OFP.OFPET_EXPERIMENTER, code: OFP.OFPBFC_MSG_FAILED, experimenter: OFP.ONF_EXPERIMENTER_ID, data: Buffer.alloc(0)});
      const error = await sent;
      expect(error).to.be.instanceOf(BundleError);
      const e = error as BundleError;
      expect(e.stage).to.equal('commit');
      expect(e.failures.map((f) => f.index)).to.deep.equal([2]);
      expect(e.controlError?.codeName).to.equal('OFPET_EXPERIMENTER/OFPBFC_MSG_FAILED');
      expect(e.message).to.match(/message 2: .*OFPFMFC_OVERLAP/);
    });

    it('a refused OPEN: BundleError stage open, and no DISCARD (the id may be someone else\'s)', async function () {
      const {sw, conn} = await readySwitch();
      const sent = conn.sendBundle(mods(2)).then(() => undefined, (e: unknown) => e);
      const open = await sw.next('BUNDLE_CONTROL');
      sw.send({type: 'ERROR', xid: open.xid, errorType: OFP.OFPET_EXPERIMENTER, code: OFP.OFPBFC_BUNDLE_EXIST, experimenter: OFP.ONF_EXPERIMENTER_ID, data: Buffer.alloc(0)});
      const adds = [await sw.next('BUNDLE_ADD_MESSAGE'), await sw.next('BUNDLE_ADD_MESSAGE')];
      for (const add of adds) sw.send({type: 'ERROR', xid: add.xid, errorType: OFP.OFPET_EXPERIMENTER, code: OFP.OFPBFC_BAD_ID, experimenter: OFP.ONF_EXPERIMENTER_ID, data: Buffer.alloc(0)});
      sw.send({type: 'BARRIER_REPLY', xid: (await sw.next('BARRIER_REQUEST')).xid});
      const error = await sent;
      expect(error).to.be.instanceOf(BundleError);
      expect(error).to.include({stage: 'open'});
      expect((error as BundleError).controlError?.codeName).to.equal('OFPET_EXPERIMENTER/OFPBFC_BUNDLE_EXIST');
      await conn.echo();
      expect(sw.received.filter((m) => m.type === 'BUNDLE_CONTROL')).to.deep.equal([]);
    });

    it('streams a 100,000-message bundle under a small maxQueuedBytes', async function () {
      const {sw, conn} = await readySwitch({}, {maxQueuedBytes: 64 * 1024});
      const sink = sw.startSink();
      await conn.sendBundle(mods(100_000));
      expect(conn.state).to.equal('ready');
      expect(sink.cookies.length).to.equal(100_000);
      expect(sink.cookies.every((c, i) => c === BigInt(i)), 'in order').to.equal(true);
    });

    it('openBundle: several adds, then commit; ids count up per connection', async function () {
      const {sw, conn} = await readySwitch();
      const sink = sw.startSink();
      const a = conn.openBundle();
      await a.add(mods(10));
      await a.add(mods(5, 10));
      expect(a.added).to.equal(15);
      await a.commit();
      const b = conn.openBundle({flags: OFP.OFPBF_ORDERED});
      expect(b.bundleId).to.equal(a.bundleId + 1);
      await b.add(mods(1));
      await b.discard();
      await expectReject(b.commit(), /already discarded/);
      expect(sink.cookies.length).to.equal(16);
    });

    it('the added message\'s own xid is ignored (the connection assigns it)', async function () {
      const {sw, conn} = await readySwitch();
      const sent = conn.sendBundle([{...mod(1), xid: 999} as OfMessage]);
      const open = await sw.next('BUNDLE_CONTROL');
      const add = await sw.next('BUNDLE_ADD_MESSAGE');
      expect(add.message.xid).to.equal(add.xid);
      sw.send({...open, controlType: OFP.OFPBCT_OPEN_REPLY});
      sw.send({type: 'BARRIER_REPLY', xid: (await sw.next('BARRIER_REQUEST')).xid});
      const commit = await sw.next('BUNDLE_CONTROL');
      sw.send({...commit, controlType: OFP.OFPBCT_COMMIT_REPLY});
      await sent;
    });
  });

  it('indexOfXid finds xids across the wrap at 2^32', function () {
    const xids = [0xfffffffe, 0xffffffff, 1, 2, 5];
    expect(xids.map((x) => indexOfXid(xids, x))).to.deep.equal([0, 1, 2, 3, 4]);
    expect(indexOfXid(xids, 3)).to.equal(-1);
    expect(indexOfXid(xids, 6)).to.equal(-1);
    expect(indexOfXid(xids, 0xfffffffd)).to.equal(-1);
    expect(indexOfXid([], 1)).to.equal(-1);
  });
});

async function expectReject(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await p.then(() => undefined, (e: unknown) => e);
  expect(error).to.be.instanceOf(Error);
  expect((error as Error).message).to.match(pattern);
}
