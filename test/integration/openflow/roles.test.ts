import {expect} from 'chai';
import {connect} from 'node:net';
import {waitFor} from '../../../src/lab/exec.js';
import {OFP, applyActions, flowMod, match, output} from '../../../src/openflow/codec.js';
import {OpenFlowError} from '../../../src/openflow/connection.js';
import {NotMasterError, type DemotedEvent, type HeldRole} from '../../../src/openflow/roles.js';
import {SwitchRegistry} from '../../../src/openflow/switch-registry.js';
import {useOvsLab, waitForControllerRole} from '../../helpers/ovs.js';

const BRIDGES = ['br1', 'br2', 'br3', 'br4'];
const DPIDS = [1n, 2n, 3n, 4n];

function rolesOf(registry: SwitchRegistry): Map<bigint, HeldRole> {
  return new Map(registry.switches().map((s) => [s.datapathId, s.role]));
}

async function waitForRoles(registry: SwitchRegistry, role: HeldRole, dpids = DPIDS): Promise<void> {
  await waitFor(`registry roles ${role}`, async () => dpids.every((d) => rolesOf(registry).get(d) === role), {timeoutMs: 10_000});
}

function flow(priority: number, inPort: number, outPort: number) {
  return flowMod({priority, cookie: 0xf10n, match: match({in_port: inPort}), instructions: [applyActions(output(outPort))]});
}

/**
 * Two controller instances (two registries on two free ports) and four Open vSwitch bridges
 * connected to both: the role protocol as the real switch plays it. Steps build on each other.
 */
describe('SwitchRegistry roles against Open vSwitch', function () {
  this.timeout(60_000);
  const lab = useOvsLab();
  let a: SwitchRegistry; // starts as master, generation 10
  let b: SwitchRegistry; // starts as slave, then takes over with 11
  const demotedA: DemotedEvent[] = [];
  const demotedB: DemotedEvent[] = [];

  before(async () => {
    a = await SwitchRegistry.listen({host: '127.0.0.1', port: 0});
    b = await SwitchRegistry.listen({host: '127.0.0.1', port: 0});
    a.on('demoted', (e) => demotedA.push(e));
    b.on('demoted', (e) => demotedB.push(e));
    // Desired roles first: each switch gets its role asserted the moment it connects.
    await a.setDesiredRole('master', 10n);
    await b.setDesiredRole('slave', 10n);
    const started = Date.now();
    for (const [i, name] of BRIDGES.entries()) {
      await lab().addBridge(name, {datapathId: DPIDS[i]!, controllers: [{port: a.port}, {port: b.port}]});
    }
    await waitForRoles(a, 'master');
    await waitForRoles(b, 'slave');
    console.log(`      (4 bridges connected to both controllers, roles confirmed, in ${Date.now() - started} ms)`);
  });

  after(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('asserts the desired role on connect: OVS reports A master and B slave on every bridge', async () => {
    for (const name of BRIDGES) {
      await waitForControllerRole(lab(), name, a.port, 'master');
      await waitForControllerRole(lab(), name, b.port, 'slave');
    }
    expect(a.switches().map((s) => s.datapathId).sort()).to.deep.equal(DPIDS);
    expect(demotedA).to.deep.equal([]);
  });

  it('a flow-mod from the master reaches the switch', async () => {
    await a.sendFlowMod(1n, flow(100, 1, 2));
    const flows = await lab().dumpFlows('br1');
    expect(flows.map(({cookie, priority, match, actions}) => ({cookie, priority, match, actions}))).to.deep.equal([
      {cookie: 0xf10n, priority: 100, match: 'in_port=1', actions: 'output:2'},
    ]);
  });

  it('the slave refuses a flow-mod locally, and OVS refuses one forced past the guard with IS_SLAVE (1/10)', async () => {
    const local = await b.sendFlowMod(1n, flow(200, 2, 1)).then(() => undefined, (e: unknown) => e);
    expect(local).to.be.instanceOf(NotMasterError);

    const forced = await b.connection(1n)!.sendConfirmed(flow(200, 2, 1)).then(() => undefined, (e: unknown) => e);
    expect(forced).to.be.instanceOf(OpenFlowError);
    expect(forced).to.include({errorType: OFP.OFPET_BAD_REQUEST, code: OFP.OFPBRC_IS_SLAVE});
    expect((await lab().dumpFlows('br1')).map((f) => f.priority)).to.deep.equal([100]);
  });

  it('B asserts MASTER with generation 11: OVS makes A a slave, A gets a role status and emits demoted', async () => {
    const started = performance.now();
    const results = await b.setDesiredRole('master', 11n);
    const confirmedMs = performance.now() - started;
    expect(results.map((r) => r.role)).to.deep.equal(['master', 'master', 'master', 'master']);
    await waitFor('A demoted', async () => demotedA.length >= 1, {timeoutMs: 5_000});
    const demotedMs = performance.now() - started;
    // One demotion is enough: A gives up MASTER on every other switch by itself (SLAVE), so
    // OVS sends role status only where B's MASTER request got there first.
    await waitForRoles(a, 'slave');
    for (const name of BRIDGES) {
      await waitForControllerRole(lab(), name, b.port, 'master');
      await waitForControllerRole(lab(), name, a.port, 'slave');
    }
    const ovsMs = performance.now() - started;
    console.log(
      `      (B master on 4 switches confirmed in ${confirmedMs.toFixed(1)} ms; A demoted after ${demotedMs.toFixed(1)} ms; ` +
        `OVS's database shows it after ${ovsMs.toFixed(0)} ms)`,
    );
    for (const event of demotedA) expect(event).to.include({reason: 'role-status', generationId: 11n});
    const refused = await a.sendFlowMod(2n, flow(300, 3, 4)).then(() => undefined, (e: unknown) => e);
    expect(refused).to.be.instanceOf(NotMasterError);
    await b.sendFlowMod(2n, flow(300, 3, 4));
    expect((await lab().dumpFlows('br2')).map((f) => f.priority)).to.deep.equal([300]);
    expect(demotedB).to.deep.equal([]);
  });

  it('a stale generation id (9) is refused by OVS with ROLE_REQUEST_FAILED/STALE (11/0), and A emits demoted', async () => {
    demotedA.length = 0;
    const results = await a.setDesiredRole('master', 9n);
    for (const result of results) {
      expect(result.role).to.equal('slave');
      expect(result.error).to.be.instanceOf(OpenFlowError);
      expect(result.error).to.include({errorType: OFP.OFPET_ROLE_REQUEST_FAILED, code: OFP.OFPRRFC_STALE});
    }
    expect(demotedA.map((e) => e.datapathId).sort()).to.deep.equal(DPIDS);
    for (const event of demotedA) expect(event).to.include({reason: 'stale-generation', generationId: 11n});
    for (const name of BRIDGES) await waitForControllerRole(lab(), name, b.port, 'master');
  });

  it('NOCHANGE reads back the generation id every switch holds', async () => {
    const fromA = await a.readGenerationIds();
    const fromB = await b.readGenerationIds();
    expect([...fromA.entries()].sort()).to.deep.equal(DPIDS.map((d) => [d, 11n]));
    expect([...fromB.entries()].sort()).to.deep.equal(DPIDS.map((d) => [d, 11n]));
  });

  // Only one controller connection at a time: a bridge left with no controller at all flushes
  // its flow table (OVS does that whenever it goes from having controllers to having none).
  for (const [who, master] of [['B (master)', true], ['A (slave)', false]] as const) {
    it(`a bridge whose connection to ${who} drops and comes back returns in the right role`, async () => {
      const [dropped, kept] = master ? [b, a] : [a, b];
      const gone = new Promise<void>((resolve) => dropped.on('switch-disconnected', (s) => s.datapathId === 2n && resolve()));
      await lab().setControllers('br2', [{port: kept.port}]);
      await gone;
      expect(dropped.roleOn(2n)).to.equal(undefined);

      const started = Date.now();
      await lab().setControllers('br2', [{port: a.port}, {port: b.port}]);
      await waitFor('the registry sees br2 again', async () => dropped.roleOn(2n) === (master ? 'master' : 'slave'));
      const registryMs = Date.now() - started;
      await waitForControllerRole(lab(), 'br2', b.port, 'master');
      await waitForControllerRole(lab(), 'br2', a.port, 'slave');
      console.log(`      (br2 back: role confirmed by the switch after ${registryMs} ms, OVS's database shows it after ${Date.now() - started} ms)`);
      expect(kept.roleOn(2n)).to.equal(master ? 'slave' : 'master');
      const priority = master ? 400 : 401;
      await b.sendFlowMod(2n, flow(priority, 4, 1));
      expect((await lab().dumpFlows('br2')).map((f) => f.priority)).to.include.members([300, priority]);
    });
  }

  it('a bridge dropping both controller connections at once (bridge/reconnect) comes back in the same roles, flows kept', async () => {
    const before = (await lab().dumpFlows('br2')).length;
    const goneA = new Promise<void>((resolve) => a.on('switch-disconnected', (s) => s.datapathId === 2n && resolve()));
    const goneB = new Promise<void>((resolve) => b.on('switch-disconnected', (s) => s.datapathId === 2n && resolve()));
    await lab().reconnectControllers('br2');
    await Promise.all([goneA, goneB]);
    await waitFor('br2 back in its roles', async () => b.roleOn(2n) === 'master' && a.roleOn(2n) === 'slave');
    await waitForControllerRole(lab(), 'br2', b.port, 'master');
    await waitForControllerRole(lab(), 'br2', a.port, 'slave');
    expect(await lab().dumpFlows('br2')).to.have.length(before);
  });

  it('a reconnecting switch replaces its old connection in the registry', async () => {
    const before = b.switches().find((s) => s.datapathId === 3n)!;
    // The switch side drops and redials: what OVS does after a network blip.
    await b.connection(3n)!.close('simulated network blip');
    await waitFor('br3 back on B', async () => {
      const now = b.switches().find((s) => s.datapathId === 3n);
      return now !== undefined && now.connectedAtMs >= before.connectedAtMs && now.address !== before.address && now.role === 'master';
    });
    expect(b.switches()).to.have.length(4);
  });

  it('a connection sending garbage is closed while the switches go on', async () => {
    const socket = connect({port: b.port, host: '127.0.0.1'});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.on('error', () => {});
    socket.resume(); // read, or the end of the stream is never seen
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: flowkeeper\r\n\r\n'));
    await closed;
    await b.sendFlowMod(3n, flow(500, 1, 3));
    expect((await lab().dumpFlows('br3')).map((f) => f.priority)).to.deep.equal([500]);
    expect(b.switches()).to.have.length(4);
    expect(a.switches()).to.have.length(4);
  });
});
