import {expect} from 'chai';
import {once} from 'node:events';
import {waitFor} from '../../../src/lab/exec.js';
import {OFP, flowMod} from '../../../src/openflow/codec.js';
import {OpenFlowError} from '../../../src/openflow/connection.js';
import {NO_GENERATION_ID, NotMasterError, type DemotedEvent} from '../../../src/openflow/roles.js';
import {SwitchRegistry} from '../../../src/openflow/switch-registry.js';
import {FakeSwitch} from '../../unit/openflow/connection-fake-switch.js';

/**
 * The registry's role logic against a scripted switch (real loopback TCP), for the orderings a
 * real switch rarely produces on demand. The same protocol against Open vSwitch: roles.test.ts.
 */
describe('SwitchRegistry against a scripted switch', () => {
  let registry: SwitchRegistry;
  let switches: FakeSwitch[];
  let demoted: DemotedEvent[];

  beforeEach(async () => {
    registry = await SwitchRegistry.listen({host: '127.0.0.1', port: 0, roleRequestTimeoutMs: 2_000});
    switches = [];
    demoted = [];
    registry.on('demoted', (e) => demoted.push(e));
  });

  afterEach(async () => {
    for (const sw of switches) sw.close();
    await registry.close();
  });

  async function connect(datapathId: bigint): Promise<FakeSwitch> {
    const sw = await FakeSwitch.connect(registry.port, {datapathId});
    switches.push(sw);
    await sw.next('FEATURES_REQUEST');
    return sw;
  }

  async function expectRoleRequest(sw: FakeSwitch, role: number, generationId?: bigint) {
    const request = await sw.next('ROLE_REQUEST');
    expect(request.role, 'role requested').to.equal(role);
    if (generationId !== undefined) expect(request.generationId, 'generation id').to.equal(generationId);
    return request;
  }

  it('asserts the desired role on connect before anything else, and refuses modifications until the switch confirms', async () => {
    await registry.setDesiredRole('master', 5n);
    const sw = await connect(1n);
    const request = await expectRoleRequest(sw, OFP.OFPCR_ROLE_MASTER, 5n);
    expect(registry.roleOn(1n)).to.equal('equal');
    const early = await registry.sendFlowMod(1n, flowMod()).then(() => undefined, (e: unknown) => e);
    expect(early).to.be.instanceOf(NotMasterError);

    const connected = once(registry, 'switch-connected');
    sw.send({type: 'ROLE_REPLY', xid: request.xid, role: OFP.OFPCR_ROLE_MASTER, generationId: 5n});
    const [info] = await connected;
    expect(info).to.include({datapathId: 1n, role: 'master'});

    const sent = registry.sendFlowMod(1n, flowMod({priority: 7}));
    expect((await sw.next('FLOW_MOD')).priority).to.equal(7);
    sw.send({type: 'BARRIER_REPLY', xid: (await sw.next('BARRIER_REQUEST')).xid});
    await sent;
  });

  it('never holds MASTER when the controller changed its mind while the request was in flight', async () => {
    const sw = await connect(1n);
    const first = await expectRoleRequest(sw, OFP.OFPCR_ROLE_NOCHANGE); // nothing decided yet: read the switch's id
    sw.send({type: 'ROLE_REPLY', xid: first.xid, role: OFP.OFPCR_ROLE_EQUAL, generationId: NO_GENERATION_ID});
    const slave = await expectRoleRequest(sw, OFP.OFPCR_ROLE_SLAVE, 0n);
    sw.send({type: 'ROLE_REPLY', xid: slave.xid, role: OFP.OFPCR_ROLE_SLAVE, generationId: 0n});
    await waitFor('slave', async () => registry.roleOn(1n) === 'slave');

    const toMaster = registry.setDesiredRole('master', 6n);
    const master = await expectRoleRequest(sw, OFP.OFPCR_ROLE_MASTER, 6n);
    const toSlave = registry.setDesiredRole('slave', 6n);
    sw.send({type: 'ROLE_REPLY', xid: master.xid, role: OFP.OFPCR_ROLE_MASTER, generationId: 6n});
    await toMaster;
    expect(registry.roleOn(1n)).to.not.equal('master');
    const back = await expectRoleRequest(sw, OFP.OFPCR_ROLE_SLAVE, 6n);
    sw.send({type: 'ROLE_REPLY', xid: back.xid, role: OFP.OFPCR_ROLE_SLAVE, generationId: 6n});
    expect((await toSlave).map((r) => r.role)).to.deep.equal(['slave']);
  });

  it('a SLAVE request behind the switch\'s term is repeated with the switch\'s own id, without "demoted"', async () => {
    await registry.setDesiredRole('slave', 3n);
    const sw = await connect(1n);
    const stale = await expectRoleRequest(sw, OFP.OFPCR_ROLE_SLAVE, 3n);
    sw.send({type: 'ERROR', xid: stale.xid, errorType: OFP.OFPET_ROLE_REQUEST_FAILED, code: OFP.OFPRRFC_STALE, data: Buffer.alloc(0)});
    const read = await expectRoleRequest(sw, OFP.OFPCR_ROLE_NOCHANGE);
    sw.send({type: 'ROLE_REPLY', xid: read.xid, role: OFP.OFPCR_ROLE_EQUAL, generationId: 7n});
    const retry = await expectRoleRequest(sw, OFP.OFPCR_ROLE_SLAVE, 7n);
    sw.send({type: 'ROLE_REPLY', xid: retry.xid, role: OFP.OFPCR_ROLE_SLAVE, generationId: 7n});
    await waitFor('slave', async () => registry.roleOn(1n) === 'slave');
    expect(demoted).to.deep.equal([]);
  });

  it('IS_SLAVE on a flow-mod emits demoted, and MASTER is not asserted again until the controller decides', async () => {
    await registry.setDesiredRole('master', 5n);
    const sw = await connect(1n);
    const request = await expectRoleRequest(sw, OFP.OFPCR_ROLE_MASTER, 5n);
    sw.send({type: 'ROLE_REPLY', xid: request.xid, role: OFP.OFPCR_ROLE_MASTER, generationId: 5n});
    await waitFor('master', async () => registry.roleOn(1n) === 'master');

    const sent = registry.sendFlowMod(1n, flowMod());
    const mod = await sw.next('FLOW_MOD');
    sw.send({type: 'ERROR', xid: mod.xid, errorType: OFP.OFPET_BAD_REQUEST, code: OFP.OFPBRC_IS_SLAVE, data: Buffer.alloc(0)});
    sw.send({type: 'BARRIER_REPLY', xid: (await sw.next('BARRIER_REQUEST')).xid});
    const error = await sent.then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(OpenFlowError);
    expect(demoted).to.have.length(1);
    expect(demoted[0]).to.include({datapathId: 1n, reason: 'is-slave'});
    expect(registry.roleOn(1n)).to.equal('slave');

    // A switch connecting now gets SLAVE: we were told someone else is master.
    const other = await connect(2n);
    const second = await expectRoleRequest(other, OFP.OFPCR_ROLE_SLAVE, 5n);
    other.send({type: 'ROLE_REPLY', xid: second.xid, role: OFP.OFPCR_ROLE_SLAVE, generationId: 5n});
    await waitFor('slave on 2', async () => registry.roleOn(2n) === 'slave');
  });

  it('a role status while master demotes at once, and the other switches are handed back (SLAVE)', async () => {
    await registry.setDesiredRole('master', 5n);
    const [one, two] = [await connect(1n), await connect(2n)];
    for (const sw of [one, two]) {
      const request = await expectRoleRequest(sw, OFP.OFPCR_ROLE_MASTER, 5n);
      sw.send({type: 'ROLE_REPLY', xid: request.xid, role: OFP.OFPCR_ROLE_MASTER, generationId: 5n});
    }
    await waitFor('master on both', async () => registry.roleOn(1n) === 'master' && registry.roleOn(2n) === 'master');

    one.send({type: 'ROLE_STATUS', xid: 0, role: OFP.OFPCR_ROLE_SLAVE, reason: OFP.OFPCRR_MASTER_REQUEST, generationId: 6n});
    await waitFor('demoted', async () => demoted.length === 1);
    expect(demoted[0]).to.include({datapathId: 1n, reason: 'role-status', generationId: 6n});
    expect(registry.roleOn(1n)).to.equal('slave');
    expect(registry.roleOn(2n)).to.not.equal('master'); // stops modifying before the switch answers
    const handBack = await expectRoleRequest(two, OFP.OFPCR_ROLE_SLAVE, 5n);
    two.send({type: 'ROLE_REPLY', xid: handBack.xid, role: OFP.OFPCR_ROLE_SLAVE, generationId: 5n});
    await waitFor('slave on 2', async () => registry.roleOn(2n) === 'slave');
    expect(demoted).to.have.length(1);
  });
});
