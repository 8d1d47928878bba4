import {expect} from 'chai';
import {existsSync, readFileSync} from 'node:fs';
import {createServer, type Socket} from 'node:net';
import {join} from 'node:path';
import {execFile} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {OvsLab, SETTINGS_APPLIED_KEY, parseDumpFlows} from '../../../src/lab/ovs.js';
import {waitFor} from '../../../src/lab/exec.js';
import {processesMentioning} from '../../helpers/ovs.js';

/** A TCP port that nobody listens on: bound, read, released. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const {port} = server.address() as {port: number};
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `ovs-vsctl get bridge X controller`: "[uuid1, uuid2]" or "uuid". */
function controllerUuids(text: string): string[] {
  return text.trim().replace(/^\[|\]$/g, '').split(/,\s*/).filter(Boolean);
}

describe('OvsLab (Open vSwitch in user space)', function () {
  this.timeout(120_000);

  it('runs two bridges, installs and dumps flows, then stops leaving no process or folder behind', async () => {
    const lab = await OvsLab.start();
    try {
      const pids = lab.pids();
      expect(pids['ovs-vswitchd'], 'vswitchd pid').to.be.a('number');
      expect(pids['ovsdb-server'], 'ovsdb-server pid').to.be.a('number');
      expect(lab.startMs).to.be.below(10_000);

      const port = await deadPort();
      await lab.addBridge('br1', {datapathId: 0x1n, controllers: [{port}]});
      await lab.addBridge('br2', {datapathId: 0xabcdef0123456789n, controllers: [{port}, {host: '127.0.0.1', port: port + 1}]});

      await lab.addFlows('br1', [
        'priority=100,in_port=1,actions=output:2',
        'table=1,cookie=0x10,idle_timeout=30,ip,nw_dst=10.0.0.1,actions=drop',
      ]);
      await lab.addFlows('br2', ['actions=drop']);

      const flows1 = await lab.dumpFlows('br1');
      expect(flows1.map(({cookie, table, priority, match, actions}) => ({cookie, table, priority, match, actions}))).to.deep.equal([
        {cookie: 0n, table: 0, priority: 100, match: 'in_port=1', actions: 'output:2'},
        {cookie: 0x10n, table: 1, priority: 32768, match: 'ip,nw_dst=10.0.0.1', actions: 'drop'},
      ]);
      expect(flows1[1]!.idleTimeout).to.equal(30);
      expect(flows1[0]!.packets).to.equal(0n);
      const flows2 = await lab.dumpFlows('br2');
      expect(flows2).to.have.length(1);
      expect(flows2[0]).to.include({priority: 32768, match: '', actions: 'drop'});

      const status = await lab.controllerStatus('br2');
      expect(status.map((c) => c.target).sort()).to.deep.equal([`tcp:127.0.0.1:${port}`, `tcp:127.0.0.1:${port + 1}`].sort());
      expect(status.every((c) => !c.isConnected)).to.equal(true);

      const features = await lab.ofctl('show', 'br2');
      expect(features).to.match(/dpid:abcdef0123456789/);
      await lab.addPort('br2', 'p5', {ofport: 5});
      expect(await lab.ofctl('show', 'br2')).to.match(/ 5\(p5\): addr:/);

      await lab.deleteBridge('br2');
      expect(await lab.vsctl('list-br')).to.equal('br1\n');
    } finally {
      await lab.stop();
      await lab.stop(); // idempotent
    }
    expect(processesMentioning(lab.dir)).to.deep.equal([]);
    expect(existsSync(lab.dir)).to.equal(false);
  });

  it("applies a controller's max_backoff to its connection: once the controller drops, OVS retries every second instead of backing off to 8 s", async () => {
    // A controller that only says HELLO (OpenFlow 1.3) is connected as far as OVS is concerned.
    const sockets = new Set<Socket>();
    const controller = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
      socket.write(Buffer.from([0x04, 0x00, 0x00, 0x08, 0, 0, 0, 1]));
    });
    await new Promise<void>((resolve) => controller.listen(0, '127.0.0.1', resolve));
    const {port} = controller.address() as {port: number};
    const lab = await OvsLab.start();
    try {
      // The last bridge added is the case OVS gets wrong by itself: no reconfiguration after it connected.
      await lab.addBridge('br1', {datapathId: 1n, controllers: [{port}], maxBackoffMs: 1000});
      await waitFor('the controller connected and settled', () => lab.settleControllers(), {timeoutMs: 20_000, intervalMs: 200});
      const [row] = controllerUuids(await lab.vsctl('get', 'bridge', 'br1', 'controller'));
      expect(await lab.vsctl('get', 'controller', row!, `other_config:${SETTINGS_APPLIED_KEY}`)).to.match(/^"?\d+"?\n$/);

      await new Promise<void>((resolve) => {
        controller.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      // Each failed attempt logs 'connection failed'. OVS's own backoff (1, 2, 4, 8 s: 'waiting 2
      // seconds before reconnect' and so on) makes the fourth failure come ~15 s after the drop;
      // with max_backoff 1 s it comes ~4 s after.
      const log = join(lab.dir, 'ovs-vswitchd.log');
      const lines = () => readFileSync(log, 'utf8').split('\n').filter((l) => l.includes(`br1<->tcp:127.0.0.1:${port}:`));
      await waitFor('four failed reconnection attempts', async () => lines().filter((l) => l.includes('connection failed')).length >= 4, {timeoutMs: 12_000, intervalMs: 200});
      const waits = lines().map((l) => /waiting (\d+) seconds? before reconnect/.exec(l)?.[1]).filter((w) => w !== undefined).map(Number);
      expect(waits.filter((w) => w > 1), `backoffs logged: ${waits.join(', ')}`).to.deep.equal([]);
    } finally {
      controller.close();
      await lab.stop();
    }
  });

  it('runs several labs side by side, each with its own daemons and bridges of the same name', async () => {
    const [a, b] = await Promise.all([OvsLab.start(), OvsLab.start()]);
    try {
      expect(a.dir).to.not.equal(b.dir);
      await Promise.all([a.addBridge('br0', {datapathId: 1n}), b.addBridge('br0', {datapathId: 2n})]);
      await a.addFlows('br0', ['priority=7,actions=drop']);
      expect(await a.dumpFlows('br0')).to.have.length(1);
      expect(await b.dumpFlows('br0')).to.have.length(0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    expect(processesMentioning(a.dir)).to.deep.equal([]);
    expect(processesMentioning(b.dir)).to.deep.equal([]);
  });

  it('kills the daemons and removes the folder when the process dies without stop() (uncaught error)', async () => {
    const ovsModule = fileURLToPath(new URL('../../../src/lab/ovs.ts', import.meta.url));
    const script = `const {OvsLab} = await import(${JSON.stringify(ovsModule)});
      const lab = await OvsLab.start();
      await lab.addBridge('br0', {datapathId: 1n});
      console.log(lab.dir);
      throw new Error('test crashed');`;
    const {stdout, code} = await new Promise<{stdout: string; code: number | null}>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], (error, stdout) =>
        resolve({stdout, code: error ? ((error as {code?: number}).code ?? null) : 0}),
      );
    });
    const dir = stdout.trim();
    expect(code).to.not.equal(0);
    expect(dir).to.match(/fk-ovs-/);
    expect(processesMentioning(dir)).to.deep.equal([]);
    expect(existsSync(dir)).to.equal(false);
  });

  it('parses dump-flows lines with flags, timeouts and no stats', () => {
    const text = [
      'OFPST_FLOW reply (OF1.3) (xid=0x2):',
      ' cookie=0x0, duration=0.008s, table=0, n_packets=3, n_bytes=180, send_flow_rem priority=5 actions=CONTROLLER:65535',
      ' cookie=0x1f, duration=1.5s, table=2, n_packets=0, n_bytes=0, idle_timeout=30, hard_timeout=60, idle_age=1, priority=1,ip,nw_dst=10.0.0.0/24 actions=output:2,output:3',
      ' cookie=0x0, duration=2s, table=0, n_packets=0, n_bytes=0, actions=drop',
      ' table=1, priority=9 actions=drop',
    ].join('\n');
    const flows = parseDumpFlows(text);
    expect(flows).to.have.length(4);
    expect(flows[0]).to.deep.include({cookie: 0n, priority: 5, match: '', actions: 'CONTROLLER:65535', flags: ['send_flow_rem'], packets: 3n, bytes: 180n});
    expect(flows[1]).to.deep.include({cookie: 0x1fn, table: 2, priority: 1, match: 'ip,nw_dst=10.0.0.0/24', actions: 'output:2,output:3', idleTimeout: 30, hardTimeout: 60});
    expect(flows[2]).to.deep.include({priority: 32768, match: '', actions: 'drop'});
    expect(flows[3]).to.deep.include({table: 1, priority: 9, match: '', actions: 'drop'});
  });
});
