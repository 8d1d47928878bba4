import {expect} from 'chai';
import {once} from 'node:events';
import {
  ConnectionClosedError,
  OpenFlowError,
  SwitchConnection,
  SwitchTimeoutError,
  connectionSettings,
  joinMultipartBodies,
} from '../../../src/openflow/connection.js';
import {OFP, encodeMessage, flowMod, type FlowStats, type OfMessage} from '../../../src/openflow/codec.js';
import {fakeSwitchesPerTest, type FakeSwitchOptions} from './connection-fake-switch.js';

function flowStats(priority: number): FlowStats {
  return {
    tableId: 0, durationSec: 1, durationNsec: 0, priority, idleTimeout: 0, hardTimeout: 0, flags: 0, cookie: BigInt(priority),
    packetCount: 0n, byteCount: 0n, match: [], instructions: [],
  };
}

describe('SwitchConnection (against a fake switch on loopback TCP)', function () {
  const {connectSwitch, readySwitch} = fakeSwitchesPerTest();

  describe('handshake', () => {
    it('sends HELLO with a version bitmap of 1.3 only, then FEATURES_REQUEST, and reports the datapath id', async () => {
      const {sw, conn} = await connectSwitch({datapathId: 0xabcdef0123456789n});
      const [info] = await once(conn, 'ready');
      expect(info.datapathId).to.equal(0xabcdef0123456789n);
      expect(conn.datapathId).to.equal(0xabcdef0123456789n);
      expect(conn.features?.nTables).to.equal(254);
      const hello = await sw.next('HELLO');
      expect(hello.elements).to.deep.equal([{type: 'VERSION_BITMAP', versions: [4]}]);
      await sw.next('FEATURES_REQUEST');
    });

    it('copes with the switch\'s bytes arriving split at every possible place', async () => {
      const {sw, conn} = await connectSwitch({hello: false, features: false, datapathId: 7n});
      const hello = encodeMessage({type: 'HELLO', xid: 1, elements: [{type: 'VERSION_BITMAP', versions: [1, 4]}]});
      await sw.sendRaw(hello, [1, 2, 3, 4]); // header cut in pieces, then the element
      const request = await sw.next('FEATURES_REQUEST');
      const reply = encodeMessage({
        type: 'FEATURES_REPLY', xid: request.xid, datapathId: 7n, nBuffers: 0, nTables: 1, auxiliaryId: 0, capabilities: 0,
      });
      const echo = encodeMessage({type: 'ECHO_REQUEST', xid: 99, data: Buffer.from('ping')});
      // Reply and an echo request in one stream, cut across the message boundary.
      await sw.sendRaw(Buffer.concat([reply, echo]), [5, reply.length - 5 + 3, 1]);
      const [info] = await once(conn, 'ready');
      expect(info.datapathId).to.equal(7n);
      const echoReply = await sw.next('ECHO_REPLY');
      expect(echoReply).to.deep.include({xid: 99});
      expect(echoReply.data.toString()).to.equal('ping');
    });

    it('accepts a switch announcing a newer version whose bitmap includes 1.3', async () => {
      const {conn} = await connectSwitch({hello: {type: 'HELLO', xid: 1, version: 6, elements: [{type: 'VERSION_BITMAP', versions: [4, 5, 6]}]}});
      await once(conn, 'ready');
    });

    for (const [what, hello] of [
      ['an OpenFlow 1.0 switch (no bitmap)', {type: 'HELLO', xid: 5, version: 1, elements: []}],
      ['a switch whose bitmap lacks 1.3', {type: 'HELLO', xid: 5, version: 6, elements: [{type: 'VERSION_BITMAP', versions: [5, 6]}]}],
    ] as const) {
      it(`refuses ${what} with HELLO_FAILED/INCOMPATIBLE and closes`, async () => {
        const {sw, conn} = await connectSwitch({hello: hello as unknown as FakeSwitchOptions['hello']});
        const [reason] = await once(conn, 'closed');
        expect(reason).to.match(/no common OpenFlow version/);
        const error = await sw.next('ERROR');
        expect(error).to.include({errorType: OFP.OFPET_HELLO_FAILED, code: OFP.OFPHFC_INCOMPATIBLE});
        if (hello.version < 4) expect(error.version).to.equal(hello.version);
        await sw.closed();
      });
    }

    it('closes a peer that never says HELLO after handshakeTimeoutMs', async () => {
      const {conn} = await connectSwitch({hello: false}, {handshakeTimeoutMs: 100});
      const [reason] = await once(conn, 'closed');
      expect(reason).to.match(/handshake not done within 100 ms/);
    });

    it('closes a peer whose first message is not HELLO', async () => {
      const {sw, conn} = await connectSwitch({hello: false});
      sw.send({type: 'ECHO_REQUEST', xid: 3, data: Buffer.alloc(0)});
      const [reason] = await once(conn, 'closed');
      expect(reason).to.match(/not an OpenFlow peer: stream starts with 0x0402/);
    });

    it('drops a peer that is not speaking OpenFlow at once (an HTTP probe announces a 21 kB message)', async () => {
      const {sw, conn} = await connectSwitch({hello: false});
      await sw.sendRaw(Buffer.from('GET / HTTP/1.1\r\n\r\n'), [1]); // even with the first byte alone
      expect(await conn.closed()).to.match(/not an OpenFlow peer: stream starts with 0x4745/);
    });
  });

  describe('echo and inactivity', () => {
    it('answers the switch\'s echo requests with the same xid and data', async () => {
      const {sw} = await readySwitch();
      sw.send({type: 'ECHO_REQUEST', xid: 4242, data: Buffer.from([1, 2, 3])});
      const reply = await sw.next('ECHO_REPLY');
      expect(reply.xid).to.equal(4242);
      expect([...reply.data]).to.deep.equal([1, 2, 3]);
    });

    it('sends echo requests when the switch is quiet and stays up while they are answered', async () => {
      const {sw, conn} = await readySwitch({}, {echoIntervalMs: 50, inactivityTimeoutMs: 150});
      await sw.next('ECHO_REQUEST', 1_000);
      await sw.next('ECHO_REQUEST', 1_000);
      await new Promise((resolve) => setTimeout(resolve, 300)); // twice the inactivity timeout
      expect(conn.state).to.equal('ready');
      expect(await conn.echo()).to.be.a('number');
    });

    it('closes a switch that stops answering after inactivityTimeoutMs', async () => {
      const {conn} = await readySwitch({echo: false}, {echoIntervalMs: 50, inactivityTimeoutMs: 150});
      const started = Date.now();
      const [reason] = await once(conn, 'closed');
      expect(reason).to.match(/no message from the switch for \d+ ms \(inactivityTimeoutMs 150\)/);
      expect(Date.now() - started).to.be.within(100, 1_000);
    });

    it('checks its settings and names both fields when they conflict', () => {
      expect(() => connectionSettings({echoIntervalMs: 5_000, inactivityTimeoutMs: 5_000})).to.throw(
        RangeError,
        /inactivityTimeoutMs \(5000\) must be greater than echoIntervalMs \(5000\)/,
      );
      expect(() => connectionSettings({requestTimeoutMs: 0})).to.throw(RangeError, /requestTimeoutMs/);
    });
  });

  describe('requests', () => {
    it('matches replies by xid, whatever their order', async () => {
      const {sw, conn} = await readySwitch();
      const first = conn.request({type: 'ROLE_REQUEST', role: OFP.OFPCR_ROLE_NOCHANGE, generationId: 0n});
      const second = conn.request({type: 'ROLE_REQUEST', role: OFP.OFPCR_ROLE_NOCHANGE, generationId: 0n});
      const a = await sw.next('ROLE_REQUEST');
      const b = await sw.next('ROLE_REQUEST');
      expect(a.xid).to.not.equal(b.xid);
      sw.send({type: 'ROLE_REPLY', xid: b.xid, role: OFP.OFPCR_ROLE_SLAVE, generationId: 2n});
      sw.send({type: 'ROLE_REPLY', xid: a.xid, role: OFP.OFPCR_ROLE_MASTER, generationId: 1n});
      expect(await first).to.include({role: OFP.OFPCR_ROLE_MASTER, generationId: 1n});
      expect(await second).to.include({role: OFP.OFPCR_ROLE_SLAVE, generationId: 2n});
    });

    it('rejects with a typed OpenFlowError when the switch answers with an error', async () => {
      const {sw, conn} = await readySwitch();
      const reply = conn.request({type: 'ROLE_REQUEST', role: OFP.OFPCR_ROLE_MASTER, generationId: 9n});
      const request = await sw.next('ROLE_REQUEST');
      sw.send({type: 'ERROR', xid: request.xid, errorType: OFP.OFPET_ROLE_REQUEST_FAILED, code: OFP.OFPRRFC_STALE, data: Buffer.alloc(0)});
      const error = await reply.then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(OpenFlowError);
      expect(error).to.include({errorType: 11, code: 0, codeName: 'OFPET_ROLE_REQUEST_FAILED/OFPRRFC_STALE', retriable: false});
      expect((error as OpenFlowError).is(OFP.OFPET_ROLE_REQUEST_FAILED, OFP.OFPRRFC_STALE)).to.equal(true);
      expect(conn.state).to.equal('ready');
    });

    it('rejects with SwitchTimeoutError when no reply comes in time, and ignores the late reply', async () => {
      const {sw, conn} = await readySwitch();
      const reply = conn.request({type: 'BARRIER_REQUEST'}, {timeoutMs: 50});
      const request = await sw.next('BARRIER_REQUEST');
      const error = await reply.then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(SwitchTimeoutError);
      expect(error).to.include({requestType: 'BARRIER_REQUEST', timeoutMs: 50, retriable: true});
      sw.send({type: 'BARRIER_REPLY', xid: request.xid});
      const next = conn.barrier(); // still fine
      sw.send({type: 'BARRIER_REPLY', xid: (await sw.next('BARRIER_REQUEST')).xid});
      await next;
      expect(conn.state).to.equal('ready');
    });

    it('joins a multipart reply sent in parts (REPLY_MORE), even with another reply in between', async () => {
      const {sw, conn} = await readySwitch();
      const stats = conn.request({
        type: 'MULTIPART_REQUEST', flags: 0,
        body: {kind: 'FLOW', tableId: OFP.OFPTT_ALL, outPort: OFP.OFPP_ANY, outGroup: OFP.OFPG_ANY, cookie: 0n, cookieMask: 0n, match: []},
      });
      const barrier = conn.barrier();
      const request = await sw.next('MULTIPART_REQUEST');
      const barrierRequest = await sw.next('BARRIER_REQUEST');
      const part = (flags: number, ...priorities: number[]): OfMessage => ({
        type: 'MULTIPART_REPLY', xid: request.xid, flags, body: {kind: 'FLOW', flows: priorities.map(flowStats)},
      });
      sw.send(part(OFP.OFPMPF_REPLY_MORE, 1, 2));
      sw.send({type: 'BARRIER_REPLY', xid: barrierRequest.xid});
      sw.send(part(OFP.OFPMPF_REPLY_MORE, 3));
      sw.send(part(0, 4, 5));
      await barrier;
      const reply = await stats;
      expect(reply.flags).to.equal(0);
      expect(reply.body.kind).to.equal('FLOW');
      expect(reply.body.kind === 'FLOW' && reply.body.flows.map((f) => f.priority)).to.deep.equal([1, 2, 3, 4, 5]);
    });

    it('rejects a request that cannot be encoded, leaving nothing pending', async () => {
      const {conn} = await readySwitch();
      const error = await conn.request({type: 'ROLE_REQUEST', role: 2 ** 40, generationId: 0n}).then(() => undefined, (e: unknown) => e);
      expect(error).to.have.property('name', 'EncodeError');
      expect(await conn.echo()).to.be.a('number');
    });

    it('joinMultipartBodies refuses parts of different kinds', () => {
      expect(() => joinMultipartBodies([{kind: 'FLOW', flows: []}, {kind: 'PORT_DESC', ports: []}])).to.throw(/different kinds/);
    });

    it('confirms a batch with one barrier: each message gets its own error or success', async () => {
      const {sw, conn} = await readySwitch();
      const result = conn.sendConfirmedBatch([flowMod({priority: 1}), flowMod({priority: 2}), flowMod({priority: 3})]);
      const mods = [await sw.next('FLOW_MOD'), await sw.next('FLOW_MOD'), await sw.next('FLOW_MOD')];
      const barrier = await sw.next('BARRIER_REQUEST');
      sw.send({type: 'ERROR', xid: mods[1]!.xid, errorType: OFP.OFPET_BAD_REQUEST, code: OFP.OFPBRC_IS_SLAVE, data: Buffer.alloc(0)});
      sw.send({type: 'BARRIER_REPLY', xid: barrier.xid});
      const [ok1, failed, ok3] = await result;
      expect(ok1).to.equal(undefined);
      expect(ok3).to.equal(undefined);
      expect(failed).to.be.instanceOf(OpenFlowError);
      expect(failed?.codeName).to.equal('OFPET_BAD_REQUEST/OFPBRC_IS_SLAVE');
    });

    it('reports asynchronous messages and errors answering nothing as "message"', async () => {
      const {sw, conn} = await readySwitch();
      const seen: OfMessage[] = [];
      conn.on('message', (m) => seen.push(m));
      sw.send({type: 'ERROR', xid: 31337, errorType: OFP.OFPET_BAD_REQUEST, code: OFP.OFPBRC_IS_SLAVE, data: Buffer.alloc(0)});
      sw.send({type: 'ROLE_STATUS', xid: 0, role: OFP.OFPCR_ROLE_SLAVE, reason: OFP.OFPCRR_MASTER_REQUEST, generationId: 11n});
      while (seen.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(seen.map((m) => m.type)).to.deep.equal(['ERROR', 'ROLE_STATUS']);
    });
  });

  describe('closing', () => {
    it('rejects everything pending with ConnectionClosedError, emits closed once, and close() is idempotent', async () => {
      const {conn} = await readySwitch();
      const pending = [conn.barrier(), conn.request({type: 'ECHO_REQUEST', data: Buffer.alloc(0)})];
      let closedEvents = 0;
      conn.on('closed', () => closedEvents++);
      await Promise.all([conn.close('test over'), conn.close('again')]);
      await conn.close();
      for (const p of pending) {
        const error = await p.then(() => undefined, (e: unknown) => e);
        expect(error).to.be.instanceOf(ConnectionClosedError);
        expect((error as ConnectionClosedError).reason).to.equal('test over');
      }
      expect(closedEvents).to.equal(1);
      expect(await conn.closed()).to.equal('test over');
      expect(() => conn.send(flowMod())).to.throw(ConnectionClosedError);
    });

    it('reports the switch hanging up', async () => {
      const {sw, conn} = await readySwitch();
      const pending = conn.barrier();
      sw.socket.end();
      const error = await pending.then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(ConnectionClosedError);
      expect(await conn.closed()).to.match(/closed by the switch/);
    });

    it('closes a connection that sends garbage and leaves the others alone', async () => {
      const good = await readySwitch({datapathId: 1n});
      const bad = await readySwitch({datapathId: 2n});
      // A header claiming a 2-byte message: the stream has lost its framing.
      await bad.sw.sendRaw(Buffer.from('0400000200000000deadbeef', 'hex'));
      const reason = await bad.conn.closed();
      expect(reason).to.match(/unframeable bytes/);
      await bad.sw.closed();
      expect(good.conn.state).to.equal('ready');
      expect(await good.conn.echo()).to.be.a('number');
    });

    it('closes a connection that switches to another OpenFlow version mid-stream', async () => {
      const {sw, conn} = await readySwitch();
      await sw.sendRaw(Buffer.from('0102000800000001', 'hex')); // an OpenFlow 1.0 ECHO_REQUEST
      expect(await conn.closed()).to.match(/undecodable message.*version 1/);
    });

    it('drops one undecodable but well-framed message, failing only the request it answers', async () => {
      const {sw, conn} = await readySwitch();
      const reply = conn.request({type: 'ROLE_REQUEST', role: OFP.OFPCR_ROLE_NOCHANGE, generationId: 0n});
      const request = await sw.next('ROLE_REQUEST');
      const bogus = Buffer.alloc(12); // a ROLE_REPLY of 12 bytes instead of 24
      bogus.writeUInt8(4, 0);
      bogus.writeUInt8(OFP.OFPT_ROLE_REPLY, 1);
      bogus.writeUInt16BE(12, 2);
      bogus.writeUInt32BE(request.xid, 4);
      await sw.sendRaw(bogus);
      const error = await reply.then(() => undefined, (e: unknown) => e);
      expect(error).to.have.property('name', 'DecodeError');
      expect(await conn.echo()).to.be.a('number');
    });
  });

  describe('backpressure', () => {
    it('queues while the socket is full, then delivers everything in order, and flush() waits for it', async () => {
      const {sw, conn} = await readySwitch();
      sw.socket.pause(); // the switch stops reading
      let sent = 0;
      while (conn.writable && sent < 200_000) {
        conn.send(flowMod({priority: sent % 0xffff, cookie: BigInt(sent)}));
        sent++;
      }
      expect(conn.writable, 'socket never pushed back').to.equal(false);
      for (let i = 0; i < 100; i++, sent++) conn.send(flowMod({priority: sent % 0xffff, cookie: BigInt(sent)}));
      expect(conn.queuedBytes).to.be.above(0);
      let flushed = false;
      const flush = conn.flush().then(() => (flushed = true));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(flushed).to.equal(false);

      let count = 0;
      let inOrder = true;
      const done = new Promise<void>((resolve) => {
        const poll = (): void => {
          for (const m of sw.received.splice(0)) {
            if (m.type !== 'FLOW_MOD') continue;
            if (m.cookie !== BigInt(count)) inOrder = false;
            count++;
          }
          if (count >= sent) resolve();
          else setTimeout(poll, 10);
        };
        poll();
      });
      sw.socket.resume();
      await flush;
      await done;
      expect(count).to.equal(sent);
      expect(inOrder).to.equal(true);
      expect(conn.queuedBytes).to.equal(0);
      expect(conn.writable).to.equal(true);
    });

    it('closes a switch that stops reading for good once maxQueuedBytes is exceeded', async () => {
      const {sw, conn} = await readySwitch({}, {maxQueuedBytes: 64 * 1024});
      sw.socket.pause();
      for (let i = 0; i < 200_000 && conn.state !== 'closed'; i++) {
        try {
          conn.send(flowMod({priority: 1}));
        } catch (error) {
          expect(error).to.be.instanceOf(ConnectionClosedError);
          break;
        }
      }
      expect(await conn.closed()).to.match(/switch not reading/);
    });
  });
});
