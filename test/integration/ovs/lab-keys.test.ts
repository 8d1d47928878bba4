// `flowkeeper lab` on a terminal, as `npm start` runs for a user: the keys. The terminal is a
// pseudo-terminal from util-linux's `script` (Debian's essential bsdutils), whose stdin we type into.
import {expect} from 'chai';
import {freePort} from '../../../src/lab/free-port.js';
import {LabProcess, expectNothingLeft} from '../../helpers/lab-process.js';

describe('flowkeeper lab (interactive, on a terminal)', function () {
  this.timeout(240_000);
  let lab: LabProcess | undefined;
  afterEach(async () => lab?.stop((child) => child.stdin?.write('q')));

  it('m kills the master and the next one takes over with every flow; f shows it; 1 restarts it as a slave; p hangs and resumes the master; g stops it; q tears down', async () => {
    const amqpPort = await freePort();
    lab = LabProcess.start(['--bridges', '2', '--amqp-port', String(amqpPort)], {terminal: true});
    const session = lab;

    /** Waits for `pattern` in what the lab printed after `from`; returns the text from there on. */
    const waitFor = async (pattern: RegExp, from: number, timeoutMs = 60_000): Promise<string> => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(session.out.slice(from))) {
        if (Date.now() > deadline || !session.running) throw new Error(`no ${pattern} within ${timeoutMs} ms; the lab printed:\n${session.out}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return session.out.slice(from);
    };
    const press = async (key: string, pattern: RegExp, timeoutMs?: number) => {
      const from = session.out.length;
      session.child.stdin!.write(key);
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
    // f while it hangs: the listing says so rather than waiting for it.
    expect(await press('f', /instance 3 .*\n/, 10_000)).to.include('instance 2: not answering');
    const resumed = await press('p', /\[2\] .*role master -> /);
    expect(resumed).to.include('SIGCONT instance 2');
    await waitFor(/\[2\] .*role \w+ -> slave/, session.out.length - resumed.length); // directly, or through unknown (a self-fence)
    expect(await press('s', /running: .*\n/)).to.match(/running: 1:master@\d+ {2}2:slave {2}3:slave/);

    // g: the master leaves (SIGTERM); its successor takes over at once.
    const afterLeave = await press('g', /\[2\] .*role slave -> master.*reason=master_left/);
    expect(afterLeave).to.include('SIGTERM the master, instance 1');
    await waitFor(/instance 1 exited \(code 0\)/, session.out.length - afterLeave.length);

    session.child.stdin!.write('q');
    expect(await session.exited, session.out).to.equal(0);
    expect(session.out).to.include('stopping the private RabbitMQ');
    await expectNothingLeft(amqpPort, session.ovsDir());
  });
});
