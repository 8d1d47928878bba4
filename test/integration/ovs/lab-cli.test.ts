// `flowkeeper lab` without a terminal, as CI or a pipe runs it (and as `npm start` does there): the
// scripted scenario on a private RabbitMQ and Open vSwitch, judged by what it prints and by what it
// leaves behind.
import {expect} from 'chai';
import {spawn, type ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {RUN_JS} from '../../../src/lab/instance-process.js';
import {freePort} from '../../../src/lab/free-port.js';
import {portAnswers} from '../../../src/lab/private-broker.js';
import {processesMentioning} from '../../helpers/ovs.js';

describe('flowkeeper lab (scripted)', function () {
  this.timeout(240_000);
  let child: ChildProcess | undefined;
  afterEach(async () => {
    // A failed test must not leave the lab running: SIGTERM tears it down (broker included).
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 60_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('installs flows through a slave, kills the master, finds every flow after the takeover, and tears everything down', async () => {
    const amqpPort = await freePort();
    child = spawn(process.execPath, [RUN_JS, 'lab', '--scripted', '--bridges', '2', '--amqp-port', String(amqpPort)], {stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)));
    const said = out.split('\n').filter((l) => l.startsWith('lab  ')).map((l) => l.slice(5));
    const story = said.join('\n');
    expect(code, `exit code; the lab said:\n${story}`).to.equal(0);

    expect(story).to.include('6 acknowledged by master 1; on the switches: br1: 3, br2: 3');
    expect(story).to.match(/instance 2 took over \(term \d+, reason master_crashed\) \d+ ms after the kill/);
    expect(story).to.include('flows on the switches after the takeover: br1: 3, br2: 3 (all 6 acknowledged flows are still there)');
    // The new master and the other slave agree; the old master came back as a slave with the same tables.
    expect(story).to.match(/ {2}instance 2 \(master\): 1: v\d+, 3 flows; 2: v\d+, 3 flows/);
    expect(story).to.match(/ {2}instance 3 \(slave\): 1: v\d+, 3 flows; 2: v\d+, 3 flows/);
    expect(story).to.include('instance 1 is a slave again and mirrors every table of master 2:');
    expect(story).to.match(/ {2}instance 1 \(slave\): 1: v\d+, 3 flows; 2: v\d+, 3 flows/);
    expect(story).to.include('scenario done; tearing down');

    // Nothing left: not the broker, not Open vSwitch, not its folder.
    expect(await portAnswers(amqpPort), 'the private RabbitMQ still answers').to.equal(false);
    expect(existsSync(join(dirname(RUN_JS), '..', '.run', 'rabbitmq', String(amqpPort))), "the broker's folder").to.equal(false);
    const dir = /dump-flows unix:(\S+)\/br1\.mgmt/.exec(story)![1]!;
    expect(existsSync(dir), 'the Open vSwitch folder').to.equal(false);
    expect(processesMentioning(dir), 'Open vSwitch daemons left running').to.deep.equal([]);
  });
});
