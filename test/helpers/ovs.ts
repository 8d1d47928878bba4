import {readdirSync, readFileSync} from 'node:fs';
import {waitFor} from '../../src/lab/exec.js';
import {OvsLab, type ControllerStatus, type OvsLabOptions} from '../../src/lab/ovs.js';

/**
 * Starts a lab before the suite and stops it after; `lab()` returns it inside tests.
 * Call at the top of a describe().
 */
export function useOvsLab(options: OvsLabOptions = {}): () => OvsLab {
  let lab: OvsLab | undefined;
  before(async function () {
    this.timeout(120_000); // a first run may have to apt-get install openvswitch-switch
    lab = await OvsLab.start(options);
  });
  after(async () => {
    await lab?.stop();
  });
  return () => {
    if (!lab) throw new Error('the OVS lab is not started (useOvsLab() must be called inside describe)');
    return lab;
  };
}

/** Pids of live processes whose command line mentions `needle` (a lab's folder). */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1];
      if (cmdline.includes(needle) && state !== 'Z') pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * Polls OVS until the bridge's controller with the given port reports the wanted role (and is connected).
 * OVS refreshes the Controller table asynchronously, so a test must wait rather than read once.
 */
export async function waitForControllerRole(
  lab: OvsLab,
  bridge: string,
  port: number,
  role: ControllerStatus['role'],
  timeoutMs = 10_000,
): Promise<ControllerStatus> {
  return waitFor(
    `${bridge}: controller :${port} to be ${role}`,
    async () => {
      const all = await lab.controllerStatus(bridge);
      const mine = all.find((c) => c.target.endsWith(`:${port}`));
      return mine && mine.isConnected && mine.role === role ? mine : undefined;
    },
    {timeoutMs, intervalMs: 50},
  );
}
