// `flowkeeper lab` without a terminal, as CI or a pipe runs it (and as `npm start` does there): the
// scripted scenario on a private RabbitMQ and Open vSwitch, judged by what it prints and by what it
// leaves behind.
import {expect} from 'chai';
import {freePort} from '../../../src/lab/free-port.js';
import {LabProcess, expectNothingLeft} from '../../helpers/lab-process.js';

describe('flowkeeper lab (scripted)', function () {
  this.timeout(240_000);
  let lab: LabProcess | undefined;
  afterEach(async () => lab?.stop((child) => child.kill('SIGTERM')));

  it('installs flows through a slave, kills the master, finds every flow after the takeover, and tears everything down', async () => {
    // Above 45535 on purpose: RabbitMQ's default distribution port (AMQP + 20000) does not exist
    // there, and the lab must pick another (it once failed to start on such a port).
    let amqpPort = await freePort();
    while (amqpPort <= 45535) amqpPort = await freePort();
    lab = LabProcess.start(['--scripted', '--bridges', '2', '--amqp-port', String(amqpPort)]);
    const code = await lab.exited;
    const story = lab.story();
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
    await expectNothingLeft(amqpPort, lab.ovsDir());
  });

  it('with one instance: the flows go in through the master, and no failover is attempted', async () => {
    const amqpPort = await freePort();
    lab = LabProcess.start(['--scripted', '--instances', '1', '--bridges', '1', '--amqp-port', String(amqpPort)]);
    const code = await lab.exited;
    const story = lab.story();
    expect(code, `exit code; the lab said:\n${story}`).to.equal(0);
    expect(story).to.include("through instance 1's REST API (the master: there is no slave)");
    expect(story).to.include('3 acknowledged by master 1; on the switches: br1: 3');
    expect(story).to.include('with one instance there is no failover to show');
    expect(story).to.not.include('SIGKILL');
    await expectNothingLeft(amqpPort, lab.ovsDir());
  });
});
