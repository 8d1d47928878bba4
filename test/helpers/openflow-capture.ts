/**
 * Records an OpenFlow conversation between a client (ovs-ofctl) and a bridge of an OvsLab: a
 * loopback TCP proxy to the bridge's management socket, framing both directions.
 */
import {spawn} from 'node:child_process';
import {connect, createServer, type AddressInfo} from 'node:net';
import {pathWithSbin} from '../../src/lab/exec.js';
import type {OvsLab} from '../../src/lab/ovs.js';
import {OfFramer} from '../../src/openflow/codec.js';

export interface Conversation {
  /** Each message the client sent, as bytes, in order. */
  fromClient: Buffer[];
  /** Each message the switch sent back. */
  fromSwitch: Buffer[];
  /** The client's stdout and stderr. */
  output: string;
  exitCode: number | null;
}

/**
 * Runs `ovs-ofctl <args...> tcp:127.0.0.1:<proxy> <rest...>` against `bridge` and returns what
 * went over the wire. `args` come before the target, `rest` after it; `input` is its stdin.
 */
export async function captureOfctl(lab: OvsLab, bridge: string, args: string[], rest: string[], input = ''): Promise<Conversation> {
  const fromClient: Buffer[] = [];
  const fromSwitch: Buffer[] = [];
  const server = createServer((client) => {
    const upstream = connect(lab.mgmtSocket(bridge));
    const up = new OfFramer();
    const down = new OfFramer();
    client.on('data', (chunk: Buffer) => {
      for (const frame of up.push(chunk)) fromClient.push(Buffer.from(frame));
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      for (const frame of down.push(chunk)) fromSwitch.push(Buffer.from(frame));
      client.write(chunk);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  try {
    const {output, exitCode} = await new Promise<{output: string; exitCode: number | null}>((resolve, reject) => {
      const child = spawn('ovs-ofctl', [...args, `tcp:127.0.0.1:${port}`, ...rest], {env: {...process.env, PATH: pathWithSbin()}, stdio: ['pipe', 'pipe', 'pipe']});
      const out: Buffer[] = [];
      child.stdout.on('data', (b: Buffer) => out.push(b));
      child.stderr.on('data', (b: Buffer) => out.push(b));
      child.on('error', reject);
      child.on('close', (code) => resolve({output: Buffer.concat(out).toString('utf8'), exitCode: code}));
      child.stdin.end(input);
    });
    return {fromClient, fromSwitch, output, exitCode};
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
