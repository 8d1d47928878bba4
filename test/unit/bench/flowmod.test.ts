import {EventEmitter} from 'node:events';
import {expect} from 'chai';
import {decodeMessage, encodeMessage, type OfMessage} from '../../../src/openflow/codec.js';
import type {Outgoing} from '../../../src/openflow/connection.js';
import {parseDumpFlows} from '../../../src/lab/ovs.js';
import {
  BENCH_COOKIE_BASE, checkTable, makeFlows, ofctlActions, ofctlMatch, parseAggregateFlowCount, sampleIndexes,
  toFlowMod, toOfctlLine, type FlowSpec,
} from '../../../bench/flowmod-flows.js';
import {
  BUNDLE_ATOMIC, BUNDLE_ORDERED, BundleCtrl, BundleError, ONF_EXPERIMENTER_ID, ONFT_BUNDLE_ADD_MESSAGE, bundleAdd,
  bundleControl, parseBundleControl, sendBundle, type BundleChannel,
} from '../../../bench/flowmod-bundle.js';
import {parseBashTimes, parseStatCpuTicks} from '../../../bench/flowmod-proc.js';

/** What `ovs-ofctl dump-flows` prints for a flow installed as sent. */
function dumpLine(flow: FlowSpec, extra = ''): string {
  return ` cookie=0x${flow.cookie.toString(16)}, duration=1.5s, table=0, n_packets=0, n_bytes=0, ${extra}priority=${flow.priority},${ofctlMatch(flow)} actions=${ofctlActions(flow)}`;
}

function dumpOf(flows: FlowSpec[]): ReturnType<typeof parseDumpFlows> {
  return parseDumpFlows(['OFPST_FLOW reply (OF1.3) (xid=0x2):', ...flows.map((f) => dumpLine(f))].join('\n'));
}

describe('bench/flowmod helpers', function () {
  describe('the flow set', function () {
    it('makes distinct flows, the same ones every time', function () {
      const flows = makeFlows(5000);
      expect(flows).to.have.length(5000);
      expect(new Set(flows.map((f) => `${f.priority}|${ofctlMatch(f)}`)).size).to.equal(5000);
      expect(new Set(flows.map((f) => f.cookie)).size).to.equal(5000);
      expect(makeFlows(5000)).to.deep.equal(flows);
    });

    it('varies the match shape and the actions, and never outputs to the in_port', function () {
      const flows = makeFlows(8);
      expect(flows.filter((f) => f.tcpDst !== undefined)).to.have.length(2);
      expect(flows.filter((f) => f.outPorts.length === 2)).to.have.length(2);
      for (const f of makeFlows(1000)) expect(f.outPorts).not.to.include(f.inPort);
    });

    it('refuses counts it cannot make distinct', function () {
      expect(() => makeFlows(0)).to.throw(RangeError);
      expect(() => makeFlows(2 ** 24 + 1)).to.throw(RangeError);
      expect(() => makeFlows(1.5)).to.throw(RangeError);
    });

    it('writes ovs-ofctl lines', function () {
      const [, , two, three] = makeFlows(4);
      expect(toOfctlLine(two!)).to.equal(`cookie=0x${(BENCH_COOKIE_BASE | 2n).toString(16)},table=0,priority=1002,ip,in_port=3,nw_dst=10.0.0.2,actions=output:4,output:5`);
      expect(toOfctlLine(three!)).to.equal(`cookie=0x${(BENCH_COOKIE_BASE | 3n).toString(16)},table=0,priority=1003,tcp,in_port=4,nw_dst=10.0.0.3,tp_dst=4,actions=output:5`);
    });

    it('makes FLOW_MOD ADDs that say the same as the ovs-ofctl line', function () {
      const flow = makeFlows(4)[3]!;
      const decoded = decodeMessage(encodeMessage({...toFlowMod(flow), xid: 7} as OfMessage));
      expect(decoded).to.include({type: 'FLOW_MOD', xid: 7, cookie: flow.cookie, priority: 1003, command: 0, tableId: 0, flags: 0});
      if (decoded.type !== 'FLOW_MOD') throw new Error('not a FLOW_MOD');
      expect(decoded.match).to.deep.equal([
        {field: 'in_port', value: 4},
        {field: 'eth_type', value: 0x0800},
        {field: 'ip_proto', value: 6},
        {field: 'ipv4_dst', value: '10.0.0.3'},
        {field: 'tcp_dst', value: 4},
      ]);
      expect(decoded.instructions).to.deep.equal([{type: 'APPLY_ACTIONS', actions: [{type: 'OUTPUT', port: 5, maxLen: 0xffff}]}]);
    });
  });

  describe('checkTable', function () {
    const flows = makeFlows(40);

    it('accepts a dump with exactly the flows sent, in any order', function () {
      const check = checkTable(flows, dumpOf([...flows].reverse()));
      expect(check).to.include({ok: true, dumped: 40, missing: 0, unexpected: 0, different: 0});
    });

    it('reports missing, unexpected and different flows', function () {
      const dumped = dumpOf(flows.slice(1));
      const other: FlowSpec = {...flows[5]!, ipv4Dst: '192.168.0.1'};
      dumped.push(...parseDumpFlows(dumpLine(other)));
      dumped[0] = parseDumpFlows(dumpLine({...flows[1]!, outPorts: [9]}))[0]!;
      const check = checkTable(flows, dumped);
      expect(check).to.include({ok: false, missing: 1, unexpected: 1, different: 1});
      expect(check.examples.join('\n')).to.match(/missing: .*nw_dst=10\.0\.0\.0/).and.match(/different \(actions output:9\)/).and.match(/unexpected: .*192\.168\.0\.1/);
    });

    it('notices flags and a flow dumped twice', function () {
      const dumped = dumpOf(flows);
      dumped[3] = parseDumpFlows(dumpLine(flows[3]!, 'reset_counts '))[0]!;
      dumped.push(dumped[7]!);
      const check = checkTable(flows, dumped);
      expect(check).to.include({ok: false, different: 1, unexpected: 1});
    });

    it('checks only a sample when asked, and the count always', function () {
      const sample = [0, 10, 39];
      expect(checkTable(flows, dumpOf(flows), sample).ok).to.equal(true);
      expect(checkTable(flows, dumpOf(flows.filter((_, i) => i !== 10)), sample)).to.include({ok: false, missing: 1});
      expect(checkTable(flows, dumpOf(flows.filter((_, i) => i !== 11)), sample).ok).to.equal(false); // 39 dumped, not 40
    });
  });

  it('samples distinct indexes, first and last included', function () {
    const s = sampleIndexes(100_000, 500);
    expect(s).to.have.length(500);
    expect(new Set(s).size).to.equal(500);
    expect(s[0]).to.equal(0);
    expect(s.at(-1)).to.equal(99_999);
    expect(s).to.deep.equal([...s].sort((a, b) => a - b));
    expect(sampleIndexes(5, 10)).to.deep.equal([0, 1, 2, 3, 4]);
    expect(sampleIndexes(1024, 64)).to.have.length(64); // even n: the stride is made coprime
  });

  it('reads flow_count from dump-aggregate', function () {
    expect(parseAggregateFlowCount('OFPST_AGGREGATE reply (OF1.3) (xid=0x2): packet_count=0 byte_count=0 flow_count=100000\n')).to.equal(100000);
    expect(() => parseAggregateFlowCount('ovs-ofctl: br0 is not a bridge')).to.throw(/flow_count/);
  });

  describe('ONF bundle messages (EXT-230)', function () {
    it('encodes a bundle control as OVS expects it', function () {
      const bytes = encodeMessage({...bundleControl(7, BundleCtrl.COMMIT_REQUEST, BUNDLE_ATOMIC | BUNDLE_ORDERED), xid: 0x11} as OfMessage);
      expect(bytes.toString('hex')).to.equal('04040018' + '00000011' + '4f4e4600' + '000008fc' + '00000007' + '0004' + '0003');
    });

    it('wraps an encoded message in a bundle add, which reads back', function () {
      const inner = encodeMessage({type: 'BARRIER_REQUEST', xid: 0x22});
      const bytes = encodeMessage({...bundleAdd(7, BUNDLE_ORDERED, inner), xid: 0x22} as OfMessage);
      expect(bytes.length).to.equal(16 + 8 + 8);
      expect(bytes.subarray(0, 24).toString('hex')).to.equal('04040020' + '00000022' + ONF_EXPERIMENTER_ID.toString(16) + ONFT_BUNDLE_ADD_MESSAGE.toString(16).padStart(8, '0') + '00000007' + '0000' + '0002');
      expect(bytes.subarray(24).equals(inner)).to.equal(true);
      expect(decodeMessage(bytes)).to.deep.equal({type: 'BUNDLE_ADD_MESSAGE', xid: 0x22, bundleId: 7, flags: BUNDLE_ORDERED, message: {type: 'BARRIER_REQUEST', xid: 0x22}});
    });

    it('parses bundle control replies and nothing else', function () {
      const reply = decodeMessage(encodeMessage({...bundleControl(3, BundleCtrl.OPEN_REPLY, 0), xid: 1} as OfMessage));
      expect(parseBundleControl(reply)).to.deep.equal({bundleId: 3, type: BundleCtrl.OPEN_REPLY, flags: 0});
      expect(parseBundleControl({type: 'BARRIER_REPLY', xid: 1})).to.equal(undefined);
      expect(parseBundleControl({type: 'EXPERIMENTER', xid: 1, experimenter: ONF_EXPERIMENTER_ID, expType: 2300, data: Buffer.alloc(4)})).to.equal(undefined);
    });
  });

  describe('sendBundle', function () {
    /** A switch that answers bundle controls and barriers; xids count up like SwitchConnection's. */
    class FakeChannel extends EventEmitter implements BundleChannel {
      readonly sent: Array<{xid: number; message: Outgoing}> = [];
      writable = true;
      flushes = 0;
      nextXid = 40;
      refuse?: {xid?: number; control?: number};
      extraSendAt?: number;

      send(message: Outgoing): number {
        const xid = this.nextXid++;
        this.sent.push({xid, message});
        if (this.sent.length === this.extraSendAt) this.nextXid++; // something else slipped in
        if (this.sent.length % 3 === 0) this.writable = false;
        const data = message.type === 'EXPERIMENTER' && message.expType === 2300 ? message.data : undefined;
        const control = data?.readUInt16BE(4);
        setImmediate(() => {
          if (this.refuse && (this.refuse.xid === xid || (control !== undefined && this.refuse.control === control))) {
            this.emit('message', {type: 'ERROR', xid, errorType: 17, code: 5, data: Buffer.alloc(0)});
          } else if (data && control !== undefined) {
            this.emit('message', decodeMessage(encodeMessage({...bundleControl(data.readUInt32BE(0), control + 1, data.readUInt16BE(6)), xid} as OfMessage)));
          }
        });
        return xid;
      }

      flush(): Promise<void> {
        this.flushes++;
        this.writable = true;
        return new Promise((resolve) => setImmediate(resolve));
      }

      barrier(): Promise<void> {
        this.sent.push({xid: this.nextXid++, message: {type: 'BARRIER_REQUEST'}});
        return new Promise((resolve) => setImmediate(resolve));
      }

      controls(): number[] {
        return this.sent.flatMap(({message}) => (message.type === 'EXPERIMENTER' && message.expType === 2300 ? [message.data.readUInt16BE(4)] : []));
      }
    }

    const encodeBarrier = (_: number, xid: number) => encodeMessage({type: 'BARRIER_REQUEST', xid});

    for (const pace of [false, true]) {
      it(`opens, adds with the outer xid inside, syncs with a barrier, commits${pace ? ' (paced)' : ''}`, async function () {
        const channel = new FakeChannel();
        const result = await sendBundle(channel, 5, encodeBarrier, {bundleId: 9, pace});
        expect(result).to.deep.equal({errors: [], committed: true});
        expect(channel.controls()).to.deep.equal([BundleCtrl.OPEN_REQUEST, BundleCtrl.COMMIT_REQUEST]);
        const adds = channel.sent.filter(({message}) => message.type === 'EXPERIMENTER' && message.expType === ONFT_BUNDLE_ADD_MESSAGE);
        expect(adds).to.have.length(5);
        for (const {xid, message} of adds) {
          if (message.type !== 'EXPERIMENTER') throw new Error('not an experimenter message');
          expect(message.data.readUInt32BE(0)).to.equal(9);
          expect(message.data.readUInt16BE(6)).to.equal(BUNDLE_ATOMIC | BUNDLE_ORDERED);
          expect(message.data.readUInt32BE(8 + 4), 'inner xid').to.equal(xid);
        }
        expect(channel.sent.map(({message}) => message.type === 'BARRIER_REQUEST')).to.deep.equal([false, false, false, false, false, false, true, false]);
        expect(channel.flushes > 0).to.equal(pace);
      });
    }

    it('discards, and commits nothing, when the switch refused an add', async function () {
      const channel = new FakeChannel();
      channel.refuse = {xid: 42};
      const result = await sendBundle(channel, 4, encodeBarrier);
      expect(result.committed).to.equal(false);
      expect(result.errors.map((e) => e.xid)).to.deep.equal([42]);
      expect(channel.controls()).to.deep.equal([BundleCtrl.OPEN_REQUEST, BundleCtrl.DISCARD_REQUEST]);
    });

    it('fails with BundleError when the switch refuses to open', async function () {
      const channel = new FakeChannel();
      channel.refuse = {control: BundleCtrl.OPEN_REQUEST};
      const error = await sendBundle(channel, 2, encodeBarrier).then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(BundleError);
      expect(channel.listenerCount('message')).to.equal(0);
    });

    it('fails loudly when another message took the xid an inner message was given', async function () {
      const channel = new FakeChannel();
      channel.extraSendAt = 2;
      const error = await sendBundle(channel, 4, encodeBarrier).then(() => undefined, (e: unknown) => e);
      expect(String(error)).to.match(/went out with xid 43, its inner message has 42/);
    });
  });

  describe('process measurements', function () {
    it('reads utime + stime from /proc/PID/stat, whatever the command name holds', function () {
      const stat = '4242 (ovs-vswitchd) x) S 1 4242 4242 0 -1 4194560 5000 0 0 0 1234 567 0 0 20 0 5 0 100 0 0';
      expect(parseStatCpuTicks(stat)).to.equal(1234 + 567);
    });

    it("reads the children's times from bash's times", function () {
      expect(parseBashTimes('0m0.001s 0m0.002s\n0m1.250s 0m0.125s\n')).to.deep.equal({userMs: 1250, systemMs: 125});
      expect(parseBashTimes('ovs-ofctl: warning\n0m0.000s 0m0.000s\n1m2.500s 0m0.000s')).to.deep.equal({userMs: 62500, systemMs: 0});
      expect(() => parseBashTimes('nothing')).to.throw(/times/);
    });
  });
});
