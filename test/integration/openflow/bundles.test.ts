import {expect} from 'chai';
import {once} from 'node:events';
import {
  OFP, applyActions, decodeMessage, encodeMessage, flowMod, gotoTable, output, type FlowModMessage, type Match, type OfMessage,
} from '../../../src/openflow/codec.js';
import {BundleError, type Outgoing} from '../../../src/openflow/connection.js';
import {SwitchRegistry} from '../../../src/openflow/switch-registry.js';
import {captureOfctl} from '../../helpers/openflow-capture.js';
import {useOvsLab} from '../../helpers/ovs.js';

/** Flow i: distinct by priority and in_port/nw_dst, output to a port that is never its in_port. */
function flow(i: number, extra: Partial<FlowModMessage> = {}): Outgoing<FlowModMessage> {
  const inPort = 1 + (i % 24);
  const match: Match = [
    {field: 'in_port', value: inPort},
    {field: 'eth_type', value: 0x0800},
    {field: 'ipv4_dst', value: `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`},
  ];
  return flowMod({cookie: 0xb0dn << 32n | BigInt(i), priority: 1000 + (i % 50), match, instructions: [applyActions(output(1 + (inPort % 24)))], ...extra});
}

function flows(n: number): Array<Outgoing<FlowModMessage>> {
  return Array.from({length: n}, (_, i) => flow(i));
}

async function flowCount(lab: ReturnType<ReturnType<typeof useOvsLab>>, bridge: string): Promise<number> {
  const m = /flow_count=(\d+)/.exec(await lab.ofctl('dump-aggregate', bridge));
  if (!m) throw new Error('no flow_count in dump-aggregate');
  return Number(m[1]);
}

/**
 * ONF bundles (EXT-230) in OpenFlow 1.3 against Open vSwitch: the bytes ovs-ofctl --bundle sends,
 * atomicity (a refused flow-mod, at add time or at commit time, leaves the table as it was), and
 * large batches and bundles streamed under a small maxQueuedBytes.
 */
describe('ONF bundles and streamed batches against Open vSwitch', function () {
  this.timeout(120_000);
  const lab = useOvsLab();
  let registry: SwitchRegistry;
  let bridges = 0;

  before(async () => {
    // A small limit: a batch or bundle queued whole in the connection would trip it.
    registry = await SwitchRegistry.listen({host: '127.0.0.1', port: 0, connection: {maxQueuedBytes: 128 * 1024, requestTimeoutMs: 60_000}});
    await registry.setDesiredRole('master', 1n);
  });

  after(async () => {
    await registry?.close();
  });

  /** A fresh bridge connected to the registry, with MASTER confirmed. */
  async function bridge(): Promise<{name: string; dpid: bigint}> {
    const name = `bb${++bridges}`;
    const dpid = 0xb0d0n + BigInt(bridges);
    const connected = new Promise<void>((resolve) => {
      const onConnected = (info: {datapathId: bigint; role: string}) => {
        if (info.datapathId !== dpid) return;
        registry.off('switch-connected', onConnected);
        resolve();
      };
      registry.on('switch-connected', onConnected);
    });
    await lab().addBridge(name, {datapathId: dpid, controllers: [{port: registry.port}]});
    await connected;
    expect(registry.roleOn(dpid)).to.equal('master');
    return {name, dpid};
  }

  it('encodes bundles as ovs-ofctl --bundle does, byte for byte, and sends the same sequence', async () => {
    const {name} = await bridge();
    const lines = [
      'priority=10,in_port=1,actions=output:2',
      'cookie=0x5,table=0,priority=1003,tcp,in_port=4,nw_dst=10.0.0.3,tp_dst=4,actions=output:5',
    ];
    // The same two flows built with our builders (fields in the order ovs-ofctl writes them).
    const ours: Array<Outgoing<FlowModMessage>> = [
      flowMod({priority: 10, match: [{field: 'in_port', value: 1}], instructions: [applyActions(output(2, 0))]}),
      flowMod({
        cookie: 5n, priority: 1003, instructions: [applyActions(output(5, 0))],
        match: [{field: 'in_port', value: 4}, {field: 'eth_type', value: 0x0800}, {field: 'ipv4_dst', value: '10.0.0.3'}, {field: 'ip_proto', value: 6}, {field: 'tcp_dst', value: 4}],
      }),
    ];
    const c = await captureOfctl(lab(), name, ['-O', 'OpenFlow13', '--bundle', 'add-flows'], ['-'], lines.join('\n') + '\n');
    expect(c.exitCode, c.output).to.equal(0);
    const sent = c.fromClient.map((bytes) => ({bytes, message: decodeMessage(bytes)}));
    // Every message ovs-ofctl sent decodes and re-encodes to its very bytes.
    for (const {bytes, message} of sent) expect(encodeMessage(message).equals(bytes), message.type).to.equal(true);
    const bundle = sent.filter(({message}) => message.type === 'BUNDLE_CONTROL' || message.type === 'BUNDLE_ADD_MESSAGE' || message.type === 'BARRIER_REQUEST');
    // The sequence SwitchConnection.sendBundle sends too (connection-streaming.test.ts).
    expect(bundle.map(({message}) => (message.type === 'BUNDLE_CONTROL' ? `CONTROL ${message.controlType}` : message.type))).to.deep.equal([
      `CONTROL ${OFP.OFPBCT_OPEN_REQUEST}`, 'BUNDLE_ADD_MESSAGE', 'BUNDLE_ADD_MESSAGE', 'BARRIER_REQUEST', `CONTROL ${OFP.OFPBCT_COMMIT_REQUEST}`,
    ]);
    const adds = bundle.filter(({message}) => message.type === 'BUNDLE_ADD_MESSAGE');
    for (const [i, {bytes, message}] of adds.entries()) {
      if (message.type !== 'BUNDLE_ADD_MESSAGE') throw new Error('not an add');
      expect(message.message.xid, 'the added message carries the add\'s xid').to.equal(message.xid);
      const mine = encodeMessage({type: 'BUNDLE_ADD_MESSAGE', xid: message.xid, bundleId: message.bundleId, flags: OFP.OFPBF_ATOMIC | OFP.OFPBF_ORDERED, message: ours[i]!});
      expect(mine.toString('hex'), `bundle add ${i}`).to.equal(bytes.toString('hex'));
    }
    for (const {bytes, message} of bundle) {
      if (message.type !== 'BUNDLE_CONTROL') continue;
      const mine = encodeMessage({type: 'BUNDLE_CONTROL', xid: message.xid, bundleId: message.bundleId, controlType: message.controlType, flags: OFP.OFPBF_ATOMIC | OFP.OFPBF_ORDERED});
      expect(mine.toString('hex')).to.equal(bytes.toString('hex'));
    }
    // And the switch's replies decode as bundle controls of the reply types.
    const replies = c.fromSwitch.map((b) => decodeMessage(b)).filter((m): m is Extract<OfMessage, {type: 'BUNDLE_CONTROL'}> => m.type === 'BUNDLE_CONTROL');
    expect(replies.map((r) => r.controlType)).to.deep.equal([OFP.OFPBCT_OPEN_REPLY, OFP.OFPBCT_COMMIT_REPLY]);
    expect(await flowCount(lab(), name)).to.equal(2);
  });

  it('a bundle of 2,000 flows lands whole', async () => {
    const {name, dpid} = await bridge();
    await registry.sendBundle(dpid, flows(2_000));
    expect(await flowCount(lab(), name)).to.equal(2_000);
    const dumped = await lab().dumpFlows(name);
    expect(dumped.find((f) => f.cookie === (0xb0dn << 32n | 1234n))?.match).to.equal('ip,in_port=11,nw_dst=10.0.4.210');
  });

  it('a bundle with one flow-mod refused as it is added installs nothing: BundleError names it, the bundle is discarded', async () => {
    const {name, dpid} = await bridge();
    await registry.sendFlowMod(dpid, flow(100_000));
    const batch = flows(500);
    batch[250] = flow(250, {instructions: [gotoTable(0)]}); // goto_table must go forward: OVS refuses it
    const error = await registry.sendBundle(dpid, batch).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(BundleError);
    const e = error as BundleError;
    expect(e.stage).to.equal('add');
    expect(e.failures.map((f) => [f.index, f.error.codeName])).to.deep.equal([[250, 'OFPET_BAD_INSTRUCTION/OFPBIC_BAD_TABLE_ID']]);
    expect(await flowCount(lab(), name), 'only the flow installed before').to.equal(1);
    // The connection goes on, and the next bundle may use the same flows.
    await registry.sendBundle(dpid, flows(500));
    expect(await flowCount(lab(), name)).to.equal(501);
  });

  it('a bundle whose commit fails on one flow-mod installs nothing: BundleError names the flow-mod and OFPBFC_MSG_FAILED', async () => {
    const {name, dpid} = await bridge();
    await registry.sendFlowMod(dpid, flow(300));
    const batch = flows(500);
    // A wider match at the same priority, asking OVS to refuse an overlap: known only when the
    // bundle is applied.
    batch[300] = flowMod({priority: flow(300).priority, match: [flow(300).match[0]!], flags: OFP.OFPFF_CHECK_OVERLAP, instructions: [applyActions(output(1))]});
    const error = await registry.sendBundle(dpid, batch).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(BundleError);
    const e = error as BundleError;
    expect(e.stage).to.equal('commit');
    expect(e.controlError?.codeName).to.equal('OFPET_EXPERIMENTER/OFPBFC_MSG_FAILED');
    expect(e.failures.map((f) => [f.index, f.error.codeName])).to.deep.equal([[300, 'OFPET_FLOW_MOD_FAILED/OFPFMFC_OVERLAP']]);
    expect(await flowCount(lab(), name), 'only the flow installed before').to.equal(1);
  });

  it('Open vSwitch refuses an added message whose xid is not the add\'s (why the codec refuses to encode one)', async () => {
    const {dpid} = await bridge();
    const connection = registry.connection(dpid)!;
    const bundle = connection.openBundle();
    const inner = encodeMessage({...flow(1), xid: 0x7777});
    const data = Buffer.alloc(8 + inner.length);
    data.writeUInt32BE(bundle.bundleId, 0);
    data.writeUInt16BE(bundle.flags, 6);
    inner.copy(data, 8);
    const refused = once(connection, 'message');
    const xid = connection.send({type: 'EXPERIMENTER', experimenter: OFP.ONF_EXPERIMENTER_ID, expType: OFP.ONFT_BUNDLE_ADD_MESSAGE, data});
    const [error] = (await refused) as [OfMessage];
    expect(error).to.include({type: 'ERROR', xid, errorType: OFP.OFPET_EXPERIMENTER, code: OFP.OFPBFC_MSG_BAD_XID, experimenter: OFP.ONF_EXPERIMENTER_ID});
    await bundle.discard();
  });

  it('streams 50,000 flow-mods through sendModifications, and 50,000 as one bundle, under a 128 KiB maxQueuedBytes', async () => {
    const a = await bridge();
    const results = await registry.sendModifications(a.dpid, flows(50_000), {timeoutMs: 60_000});
    expect(results.filter(Boolean)).to.deep.equal([]);
    expect(await flowCount(lab(), a.name)).to.equal(50_000);
    const b = await bridge();
    await registry.sendBundle(b.dpid, flows(50_000), {timeoutMs: 60_000});
    expect(await flowCount(lab(), b.name)).to.equal(50_000);
    expect(registry.connection(a.dpid)!.state).to.equal('ready');
    expect(registry.connection(b.dpid)!.state).to.equal('ready');
  });
});
