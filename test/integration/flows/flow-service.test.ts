/**
 * The flow service end to end at registry level: a real RabbitMQ (two AMQP connections, one per
 * instance's data bus), real Open vSwitch bridges connected to two SwitchRegistry, and two
 * FlowService in this process (instance 1 master, instance 2 slave). Steps build on each other:
 * program 500 flows on 2 bridges, audit drift made with ovs-ofctl, then take over after the
 * master's service vanishes without a word.
 */
import {expect} from 'chai';
import {AmqpBus} from '../../../src/bus/amqp-bus.js';
import {FlowTable, entryFromFlowStats} from '../../../src/flows/flow-table.js';
import {FlowService} from '../../../src/flows/service/flow-service.js';
import {waitFor} from '../../../src/lab/exec.js';
import {MemoryLogger} from '../../../src/log.js';
import {OFP, applyActions, flowMod, match, output, type FlowModMessage} from '../../../src/openflow/codec.js';
import {SwitchRegistry} from '../../../src/openflow/switch-registry.js';
import {sharedBroker} from '../../helpers/broker.js';
import {useOvsLab} from '../../helpers/ovs.js';

const NS = {value: 0xf100_0000_0000_0000n, mask: 0xff00_0000_0000_0000n};
const OWN = 0xf100_0000_0000_0001n;
const TERM1 = 65536 + 1;
const TERM2 = 2 * 65536 + 2;
const BRIDGES = [{name: 'fs1', dpid: 0xf5_01n}, {name: 'fs2', dpid: 0xf5_02n}];
const PER_BRIDGE = 250;

function flow(i: number): FlowModMessage {
  return flowMod({
    cookie: OWN, priority: 1000 + i,
    match: match({in_port: 1 + (i % 40), eth_type: 0x0800, ipv4_dst: `10.1.${i >> 8}.${i & 255}`}),
    instructions: [applyActions(output(2 + (i % 3)))],
  });
}

function ownedOf(flows: Parameters<typeof entryFromFlowStats>[0][]): FlowTable {
  return FlowTable.of(flows.map(entryFromFlowStats).filter((e) => (e.cookie & NS.mask) === NS.value));
}

describe('FlowService against RabbitMQ and Open vSwitch', function () {
  this.timeout(120_000);
  const lab = useOvsLab();
  const domain = `fs${process.pid}`;
  const logA = new MemoryLogger({inst_id: 1});
  const logB = new MemoryLogger({inst_id: 2});
  let regA: SwitchRegistry;
  let regB: SwitchRegistry;
  let busA: AmqpBus;
  let busB: AmqpBus;
  let svcA: FlowService;
  let svcB: FlowService;

  before(async function () {
    const {url} = await sharedBroker();
    regA = await SwitchRegistry.listen({host: '127.0.0.1', port: 0});
    regB = await SwitchRegistry.listen({host: '127.0.0.1', port: 0});
    await regA.setDesiredRole('master', BigInt(TERM1));
    await regB.setDesiredRole('slave', BigInt(TERM1));
    // A data bus per instance, with room for large snapshots (the lead gives it its own connection).
    busA = new AmqpBus({url, connectionName: `${domain} flows 1`, maxMessageBytes: 4 * 1024 * 1024});
    busB = new AmqpBus({url, connectionName: `${domain} flows 2`, maxMessageBytes: 4 * 1024 * 1024});
    const settings = {ownedCookie: NS, auditCron: 'off', chunkBytes: 256 * 1024};
    svcA = new FlowService({instId: 1, domain, bus: busA, switches: regA, logger: logA, settings});
    svcB = new FlowService({instId: 2, domain, bus: busB, switches: regB, logger: logB, settings});
    await Promise.all([busA.start(), busB.start()]);
    svcB.setRole('slave', TERM1, []);
    svcA.setRole('master', TERM1, [2]);
    for (const b of BRIDGES) await lab().addBridge(b.name, {datapathId: b.dpid, controllers: [{port: regA.port}, {port: regB.port}]});
    await waitFor('both bridges: A master, B slave, A took them over', async () =>
      BRIDGES.every((b) => regA.roleOn(b.dpid) === 'master' && regB.roleOn(b.dpid) === 'slave')
        && svcA.stats().devices.filter((d) => d.ready).length === BRIDGES.length, {timeoutMs: 20_000});
  });

  after(async function () {
    await Promise.all([svcA?.close(), svcB?.close()]);
    await Promise.all([busA?.close(), busB?.close()]);
    await Promise.all([regA?.close(), regB?.close()]);
  });

  it('the master programs 500 flows on 2 bridges: on the switches (dump-flows) and in the slave\'s mirror', async function () {
    const started = performance.now();
    const results = await Promise.all(BRIDGES.flatMap((b) => Array.from({length: PER_BRIDGE}, (_, i) => svcA.program(b.dpid, flow(i)))));
    const ms = performance.now() - started;
    expect(results.every((r) => r.masterId === 1 && r.term === TERM1)).to.equal(true);
    const st = svcA.stats();
    console.log(`      (500 flows acknowledged by switch and mirror in ${Math.round(ms)} ms, ${st.counters.batches} batches, ` +
      `${st.counters.deltasSent} deltas, ${st.counters.acksReceived} acks, ${st.counters.acksLate} late)`);
    expect(st.counters.acksLate).to.equal(0);
    for (const b of BRIDGES) {
      const dumped = await lab().dumpFlows(b.name);
      expect(dumped.filter((f) => f.cookie === OWN)).to.have.length(PER_BRIDGE);
      expect(dumped.find((f) => f.priority === 1000 + 77)).to.include({match: 'ip,in_port=38,nw_dst=10.1.0.77', actions: 'output:4'});
      const onSwitch = ownedOf(await regA.flowStats(b.dpid));
      const master = svcA.tableOf(b.dpid)!;
      expect(master.equals(onSwitch), master.diff(onSwitch).slice(0, 5).join('\n')).to.equal(true);
      // Every request waited for the slave's ack: its mirror holds the same, at the same version.
      expect(svcB.tableOf(b.dpid)!.equals(onSwitch)).to.equal(true);
      expect(svcB.positionOf(b.dpid)).to.deep.equal(svcA.positionOf(b.dpid));
    }
  });

  it('the audit restores a flow deleted by hand with ovs-ofctl and removes a stray owned one; foreign flows stay', async function () {
    const [b] = BRIDGES;
    await lab().ofctl('del-flows', b!.name, '--strict', 'priority=1005,ip,in_port=6,nw_dst=10.1.0.5');
    await lab().addFlows(b!.name, [
      'cookie=0xf1000000000000ff,priority=7,in_port=39,actions=drop', // owned, unknown: a stray
      'cookie=0x2,priority=8,in_port=38,actions=drop', // someone else's
    ]);
    const before = await lab().dumpFlows(b!.name);
    expect(before.find((f) => f.priority === 1005)).to.equal(undefined);
    const report = await svcA.auditNow();
    const mine = report.devices.find((d) => d.dpid === b!.dpid.toString(16).padStart(16, '0'))!;
    expect(mine).to.include({restored: 1, removed: 1, adopted: 0, refused: 0});
    const after = await lab().dumpFlows(b!.name);
    expect(after.find((f) => f.priority === 1005)).to.include({cookie: OWN, match: 'ip,in_port=6,nw_dst=10.1.0.5'});
    expect(after.find((f) => f.priority === 7)).to.equal(undefined);
    expect(after.find((f) => f.priority === 8)).to.include({cookie: 0x2n});
    expect(svcA.tableOf(b!.dpid)!.equals(ownedOf(await regA.flowStats(b!.dpid)))).to.equal(true);
    expect(svcA.stats().counters).to.include({audits: 2, auditRepairs: 2});
  });

  it('takeover after the master\'s service vanished: the new master\'s table equals the switch\'s', async function () {
    const [b1, b2] = BRIDGES;
    // Drift the new master will find: a flow the cluster deleted (replicated) that is back on the
    // switch, a flow missing from the switch, an owned flow nobody replicated.
    await svcA.program(b1!.dpid, flowMod({command: OFP.OFPFC_DELETE_STRICT, cookie: OWN, cookieMask: ~0n & 0xffff_ffff_ffff_ffffn, priority: 1010, match: flow(10).match}));
    expect(svcB.tableOf(b1!.dpid)!.size).to.equal(PER_BRIDGE - 1);
    await svcA.close(); // no goodbye: nothing published, nothing handed over
    await lab().addFlows(b1!.name, ['cookie=0xf100000000000001,priority=1010,ip,in_port=11,nw_dst=10.1.0.10,actions=output:3']);
    await lab().ofctl('del-flows', b2!.name, '--strict', 'priority=1003,ip,in_port=4,nw_dst=10.1.0.3');
    await lab().addFlows(b2!.name, ['cookie=0xf100000000000042,priority=9,in_port=20,actions=drop']);

    const started = performance.now();
    await regB.setDesiredRole('master', BigInt(TERM2));
    svcB.setRole('master', TERM2, []);
    await waitFor('B took both bridges over', async () =>
      svcB.stats().devices.filter((d) => d.ready && d.term === TERM2).length === BRIDGES.length, {timeoutMs: 20_000});
    console.log(`      (takeover of 2 bridges, ${2 * PER_BRIDGE} flows, in ${Math.round(performance.now() - started)} ms)`);
    for (const b of BRIDGES) {
      const onSwitch = ownedOf(await regB.flowStats(b.dpid));
      const table = svcB.tableOf(b.dpid)!;
      expect(table.equals(onSwitch), table.diff(onSwitch).join('\n')).to.equal(true);
    }
    const dumped1 = await lab().dumpFlows(b1!.name);
    expect(dumped1.find((f) => f.priority === 1010), 'deleted by the cluster: removed again').to.equal(undefined);
    const dumped2 = await lab().dumpFlows(b2!.name);
    expect(dumped2.find((f) => f.priority === 1003), 'missing: re-installed').to.include({cookie: OWN});
    expect(dumped2.find((f) => f.priority === 9), 'unknown owned: adopted').to.include({cookie: 0xf100000000000042n});
    expect(svcB.tableOf(b2!.dpid)!.size).to.equal(PER_BRIDGE + 1);
    // And it programs on.
    const r = await svcB.program(b2!.dpid, flow(PER_BRIDGE + 1));
    expect(r).to.include({masterId: 2, term: TERM2});
  });
});
