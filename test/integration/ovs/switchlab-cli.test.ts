// `flowkeeper switchlab` as a user runs it: it stays up with its bridges until SIGTERM (or Ctrl-C),
// then removes everything.
import {expect} from 'chai';
import {spawn, type ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import {execFile} from 'node:child_process';
import {promisify} from 'node:util';
import {RUN_JS} from '../../../src/lab/instance-process.js';
import {freePort} from '../../../src/lab/free-port.js';
import {processesMentioning} from '../../helpers/ovs.js';

const run = promisify(execFile);

describe('flowkeeper switchlab', function () {
  this.timeout(120_000);
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  it('keeps its bridges up until SIGTERM, then stops Open vSwitch and removes its folder', async () => {
    const port = await freePort();
    child = spawn(process.execPath, [RUN_JS, 'switchlab', '--bridges', '2', '--controllers', String(port)], {stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 90_000;
    while (!out.includes('Ctrl-C removes everything.') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(out, out).to.include('Ctrl-C removes everything.');
    const dir = /Open vSwitch up in (\S+) /.exec(out)![1]!;

    await new Promise((r) => setTimeout(r, 1500));
    expect(child.exitCode, `switchlab exited on its own:\n${out}`).to.equal(null);
    const {stdout} = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'show', `unix:${dir}/br2.mgmt`], {env: {...process.env, PATH: `${process.env.PATH}:/usr/sbin:/sbin`}});
    expect(stdout).to.match(/dpid:0000000000000002/);

    child.kill('SIGTERM');
    expect(await exited).to.equal(0);
    expect(existsSync(dir), 'the lab folder').to.equal(false);
    expect(processesMentioning(dir), 'daemons left running').to.deep.equal([]);
  });
});
