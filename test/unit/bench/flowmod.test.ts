import {expect} from 'chai';
import {decodeMessage, encodeMessage, type OfMessage} from '../../../src/openflow/codec.js';
import {parseDumpFlows} from '../../../src/lab/ovs.js';
import {
  BENCH_COOKIE_BASE, checkTable, makeFlows, ofctlActions, ofctlMatch, parseAggregateFlowCount, sampleIndexes,
  toFlowMod, toOfctlLine, type FlowSpec,
} from '../../../bench/flowmod-flows.js';
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
