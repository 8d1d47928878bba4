// `flowkeeper lab` on a terminal, as `npm start` runs for a user: the keys. The terminal is a
// pseudo-terminal from util-linux's `script` (Debian's essential bsdutils), whose stdin we type into.
import {expect} from 'chai';
import {spawn, type ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {RUN_JS} from '../../../src/lab/instance-process.js';
import {freePort} from '../../../src/lab/free-port.js';
import {portAnswers} from '../../../src/lab/private-broker.js';
import {processesMentioning} from '../../helpers/ovs.js';

/** The text without terminal colours, and with the pseudo-terminal's CRLF as LF. */
const plain = (s: string) => s.replace(/\u001B\[[0-9;]*m/g, '').replace(/\r\n/g, '\n');

describe('flowkeeper lab (interactive, on a terminal)', function () {
  this.timeout(240_000);
  let child: ChildProcess | undefined;
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child!.once('exit', resolve));
      child.stdin?.write('q');
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 60_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('m kills the master and the next one takes over with every flow; f shows it; 1 restarts it as a slave; p hangs and resumes the master; g stops it; q tears down', async () => {
    const amqpPort = await freePort();
    const command = [process.execPath, RUN_JS, 'lab', '--bridges', '2', '--amqp-port', String(amqpPort)].join(' ');
    child = spawn('script', ['-qfec', command, '/dev/null'], {stdio: ['pipe', 'pipe', 'pipe']});
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += plain(d.toString()); });
    child.stderr!.on('data', (d: Buffer) => { out += plain(d.toString()); });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (c) => resolve(c)));

    /** Waits for `pattern` in what the lab printed after `from`; returns the text from there on. */
    const waitFor = async (pattern: RegExp, from: number, timeoutMs = 60_000): Promise<string> => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(out.slice(from))) {
        if (Date.now() > deadline || child!.exitCode !== null) throw new Error(`no ${pattern} within ${timeoutMs} ms; the lab printed:\n${out}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return out.slice(from);
    };
    const press = async (key: string, pattern: RegExp, timeoutMs?: number) => {
      const from = out.length;
      child!.stdin!.write(key);
      return waitFor(pattern, from, timeoutMs);
    };

    await waitFor(/keys: 1-3 kill/, 0, 120_000);
    await waitFor(/6 acknowledged by master 1; on the switches: br1: 3, br2: 3/, 0);

    expect(await press('s', /running: .*\n/)).to.match(/running: 1:master@\d+ {2}2:slave {2}3:slave/);

    const afterKill = await press('m', /\[2\] .*role slave -> master/);
    expect(afterKill).to.include('SIGKILL the master, instance 1');

    // Mirrors are shown once the new master answers; its takeover may still be running at first.
    let flows = '';
    for (let i = 0; i < 50 && !/instance 2 \(master\): 1: v\d+, 3 flows; 2: v\d+, 3 flows/.test(flows); i++) {
      flows = await press('f', /instance 3 .*\n/);
    }
    expect(flows).to.include('flows on the switches: br1: 3, br2: 3');
    expect(flows).to.match(/instance 2 \(master\): 1: v\d+, 3 flows; 2: v\d+, 3 flows/);
    expect(flows).to.match(/instance 3 \(slave\): 1: v\d+, 3 flows; 2: v\d+, 3 flows/);

    await press('1', /\[1\] .*role unknown -> slave/);
    expect(await press('s', /running: .*\n/)).to.match(/running: 1:slave {2}2:master@\d+ {2}3:slave/);

    // p: the master hangs (SIGSTOP); the lowest live id takes over. p again: it resumes and steps down.
    expect(await press('p', /\[1\] .*role slave -> master/)).to.include('SIGSTOP the master, instance 2');
    const resumed = await press('p', /\[2\] .*role master -> /);
    expect(resumed).to.include('SIGCONT instance 2');
    await waitFor(/\[2\] .*role \w+ -> slave/, out.length - resumed.length); // directly, or through unknown (a self-fence)
    expect(await press('s', /running: .*\n/)).to.match(/running: 1:master@\d+ {2}2:slave {2}3:slave/);

    // g: the master leaves (SIGTERM); its successor takes over at once.
    const afterLeave = await press('g', /\[2\] .*role slave -> master.*reason=master_left/);
    expect(afterLeave).to.include('SIGTERM the master, instance 1');
    await waitFor(/instance 1 exited \(code 0\)/, out.length - afterLeave.length);

    const dir = /dump-flows unix:(\S+)\/br1\.mgmt/.exec(out)![1]!;
    child.stdin!.write('q');
    expect(await exited, out).to.equal(0);
    expect(out).to.include('stopping the private RabbitMQ');
    expect(await portAnswers(amqpPort), 'the private RabbitMQ still answers').to.equal(false);
    expect(existsSync(join(dirname(RUN_JS), '..', '.run', 'rabbitmq', String(amqpPort))), "the broker's folder").to.equal(false);
    expect(existsSync(dir), 'the Open vSwitch folder').to.equal(false);
    expect(processesMentioning(dir), 'Open vSwitch daemons left running').to.deep.equal([]);
  });
});
