/**
 * A private Open vSwitch in user space (dummy datapath, no kernel module): its own ovsdb-server and
 * ovs-vswitchd in a temporary folder, so several labs run side by side and nothing of the host's
 * Open vSwitch is touched. Recipe and OVS 3.1 behaviour: shared/DESIGN.md, "The lab".
 */
import {existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync} from 'node:fs';
import {readdir, readFile, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {commandExists, run, waitFor} from './exec.js';

export interface ControllerTarget {
  /** Default 127.0.0.1. */
  host?: string;
  port: number;
}

export interface ControllerOptions {
  /**
   * Longest wait between OVS's reconnection attempts. OVS's own default is 8 s, far too slow for
   * tests; it counts in whole seconds, so 1000 is the floor.
   */
  maxBackoffMs?: number;
  /**
   * Idle time before OVS sends an echo request (and as long again before it drops a silent
   * controller). OVS clamps anything below 5000 to 5000; 0 disables probing.
   */
  inactivityProbeMs?: number;
}

export interface BridgeOptions extends ControllerOptions {
  datapathId: bigint;
  controllers?: ControllerTarget[];
}

/** One line of `ovs-ofctl dump-flows`, parsed. */
export interface DumpedFlow {
  cookie: bigint;
  table: number;
  priority: number;
  /** The match in ovs-ofctl syntax without the priority, '' for match-all. */
  match: string;
  actions: string;
  raw: string;
  idleTimeout?: number;
  hardTimeout?: number;
  packets?: bigint;
  bytes?: bigint;
  /** send_flow_rem, check_overlap, reset_counts, no_packet_counts, no_byte_counts. */
  flags: string[];
}

/** OVS's own view of one controller connection of a bridge. */
export interface ControllerStatus {
  target: string;
  /** Unset until OVS has talked to the controller. */
  role: 'master' | 'slave' | 'other' | undefined;
  isConnected: boolean;
  /** The Controller row's status map: state (ACTIVE, BACKOFF, ...), last_error, sec_since_connect... */
  status: Record<string, string>;
}

export interface OvsLabOptions {
  /** Parent folder for the lab's temporary folder (default: the OS temp folder). Unix socket paths must stay short. */
  dir?: string;
  /** Keep the folder (logs, database) after stop(), for post-mortems. */
  keepFiles?: boolean;
  /** Longest wait for each daemon to come up. */
  startTimeoutMs?: number;
}

const DEFAULT_MAX_BACKOFF_MS = 1000;
const DEFAULT_INACTIVITY_PROBE_MS = 5000;
/** How often the lab looks for controller connections that OVS has not applied our settings to yet. */
const SETTLE_POLL_MS = 1000;
/** The other_config key the lab writes to make OVS reconfigure (its value counts the writes). */
export const SETTINGS_APPLIED_KEY = 'flowkeeper-settings-applied';
const SCHEMA_CANDIDATES = [
  process.env.OVS_PKGDATADIR && join(process.env.OVS_PKGDATADIR, 'vswitch.ovsschema'),
  '/usr/share/openvswitch/vswitch.ovsschema',
  '/usr/local/share/openvswitch/vswitch.ovsschema',
].filter((p): p is string => Boolean(p));
const DAEMONS = ['ovs-vswitchd', 'ovsdb-server'] as const; // stop order: the switch before its database
type Daemon = (typeof DAEMONS)[number];
const REQUIRED_PROGRAMS = ['ovsdb-tool', 'ovsdb-server', 'ovs-vswitchd', 'ovs-vsctl', 'ovs-ofctl', 'ovs-appctl'];

let installing: Promise<void> | undefined;

/** Installs Debian's openvswitch-switch when any of its programs is missing (needs root). */
export function ensureOpenvswitch(): Promise<void> {
  installing ??= (async () => {
    const present = await Promise.all(REQUIRED_PROGRAMS.map(commandExists));
    if (present.every(Boolean)) return;
    if (process.getuid?.() !== 0) {
      throw new Error('Open vSwitch is not installed and this process is not root: run `apt-get install -y openvswitch-switch`');
    }
    const env = {...process.env, DEBIAN_FRONTEND: 'noninteractive'};
    const lock = ['-o', 'DPkg::Lock::Timeout=300'];
    await run('apt-get', [...lock, 'update'], {env, timeoutMs: 600_000});
    await run('apt-get', [...lock, 'install', '-y', '--no-install-recommends', 'openvswitch-switch'], {env, timeoutMs: 900_000});
  })();
  // A failed attempt may be retried later (say, after the network came back).
  installing.catch(() => (installing = undefined));
  return installing;
}

export class OvsLab {
  /** The lab's folder: OVS_RUNDIR, OVS_LOGDIR and OVS_DBDIR all point here. */
  readonly dir: string;
  readonly dbSocket: string;
  /** Wall-clock time start() took, daemons up and ready. */
  startMs = 0;
  private readonly env: NodeJS.ProcessEnv;
  private readonly keepFiles: boolean;
  private stopping?: Promise<void>;
  /** Controller rows (uuids) that OVS reconfigured while their connection was up: see settleControllers. */
  private readonly settled = new Set<string>();
  private settleTimer?: NodeJS.Timeout;
  private settling?: Promise<boolean>;
  private settleWrites = 0;

  private constructor(dir: string, keepFiles: boolean) {
    this.dir = dir;
    this.keepFiles = keepFiles;
    this.dbSocket = join(dir, 'db.sock');
    this.env = {...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir};
  }

  static async start(options: OvsLabOptions = {}): Promise<OvsLab> {
    const started = Date.now();
    await ensureOpenvswitch();
    const schema = SCHEMA_CANDIDATES.find((p) => existsSync(p));
    if (!schema) throw new Error(`vswitch.ovsschema not found (looked in ${SCHEMA_CANDIDATES.join(', ')})`);
    const parent = options.dir ?? tmpdir();
    mkdirSync(parent, {recursive: true});
    const lab = new OvsLab(mkdtempSync(join(parent, 'fk-ovs-')), options.keepFiles ?? false);
    live.add(lab);
    installExitHook();
    const timeoutMs = options.startTimeoutMs ?? 15_000;
    try {
      const db = join(lab.dir, 'conf.db');
      await lab.exec('ovsdb-tool', ['create', db, schema]);
      // --detach returns once the daemon is initialised; the polls below make readiness explicit anyway.
      await lab.exec('ovsdb-server', [
        '--detach', '--no-chdir', '--pidfile', '--log-file', '-vconsole:off',
        `--remote=punix:${lab.dbSocket}`, db,
      ]);
      await waitFor('ovsdb-server', () => lab.vsctl('--no-wait', 'show').then(() => true), {timeoutMs});
      await lab.vsctl('--no-wait', 'init');
      await lab.exec('ovs-vswitchd', [
        '--detach', '--no-chdir', '--pidfile', '--log-file', '-vconsole:off',
        '--enable-dummy=override', `unix:${lab.dbSocket}`,
      ]);
      await waitFor('ovs-vswitchd', () => lab.appctl('version').then(() => true), {timeoutMs});
    } catch (error) {
      const logs = await lab.logTail().catch(() => '');
      await lab.stop();
      throw new Error(`Open vSwitch lab did not start: ${(error as Error).message}${logs && `\n${logs}`}`, {cause: error});
    }
    lab.startMs = Date.now() - started;
    return lab;
  }

  get stopped(): boolean {
    return this.stopping !== undefined;
  }

  /** Unix socket of a bridge's OpenFlow management endpoint (what ovs-ofctl talks to). */
  mgmtSocket(bridge: string): string {
    return join(this.dir, `${bridge}.mgmt`);
  }

  /** Adds a dummy-datapath OpenFlow 1.3 bridge in secure fail mode, with the given controllers. */
  async addBridge(name: string, options: BridgeOptions): Promise<void> {
    const dpid = options.datapathId.toString(16).padStart(16, '0');
    if (dpid.length > 16 || options.datapathId < 0n) throw new RangeError(`datapathId out of range: ${options.datapathId}`);
    await this.vsctl(
      'add-br', name,
      '--', 'set', 'bridge', name, 'datapath_type=dummy', 'protocols=OpenFlow13', 'fail_mode=secure',
      `other-config:datapath-id=${dpid}`, 'other-config:disable-in-band=true',
      ...controllerArgs(name, options.controllers ?? [], options),
    );
    if ((options.controllers ?? []).length > 0) this.watchControllers();
  }

  /** Replaces a bridge's controllers (an empty list disconnects it from every controller). */
  async setControllers(bridge: string, controllers: ControllerTarget[], options: ControllerOptions = {}): Promise<void> {
    await this.vsctl(...controllerArgs(bridge, controllers, options));
    if (controllers.length > 0) this.watchControllers();
  }

  /**
   * Makes OVS apply each controller's max_backoff and inactivity_probe to its connection. OVS 3.1
   * creates a controller's connection with its own defaults (backoff doubling up to 8 s, probe 5 s)
   * and applies the row's settings only when it reconfigures while that connection is up: a
   * connection first made after the last change to the database keeps the defaults, even across
   * its later reconnections (seen: after a restart of an instance, the last bridge added waited
   * 2, 4, 8 s between attempts, the others 1 s). So once a controller is connected, the lab writes
   * a harmless key into its row's other_config, and OVS reconfigures.
   *
   * One pass; returns whether every controller is settled. addBridge and setControllers start a
   * poll every SETTLE_POLL_MS that runs this until every controller is (it stops by itself).
   */
  settleControllers(): Promise<boolean> {
    this.settling ??= (async () => {
      try {
        if (this.stopping) return false;
        const rows = parseControllerConnections(await this.vsctl('--format=json', '--columns=_uuid,is_connected', 'list', 'controller'));
        for (const uuid of this.settled) if (!rows.some((r) => r.uuid === uuid)) this.settled.delete(uuid);
        const fresh = rows.filter((r) => r.isConnected && !this.settled.has(r.uuid));
        if (fresh.length > 0 && !this.stopping) {
          const value = String(++this.settleWrites);
          await this.vsctl(...fresh.flatMap((r) => ['--', 'set', 'controller', r.uuid, `other_config:${SETTINGS_APPLIED_KEY}=${value}`]));
          for (const r of fresh) this.settled.add(r.uuid);
        }
        return rows.every((r) => this.settled.has(r.uuid));
      } finally {
        this.settling = undefined;
      }
    })();
    return this.settling;
  }

  private watchControllers(): void {
    if (this.settleTimer || this.stopping) return;
    this.settleTimer = setInterval(() => {
      this.settleControllers().then((all) => {
        if (all) this.stopWatchingControllers();
      }, () => {
        // ovs-vsctl failed (the lab stopping, a slow database): the next poll tries again.
      });
    }, SETTLE_POLL_MS);
    this.settleTimer.unref();
  }

  private stopWatchingControllers(): void {
    if (this.settleTimer) clearInterval(this.settleTimer);
    this.settleTimer = undefined;
  }

  /**
   * Makes the bridge drop its controller connections and dial again (`bridge/reconnect`), as after
   * a network blip; flows stay. Without a bridge: every bridge.
   */
  async reconnectControllers(bridge?: string): Promise<void> {
    await this.appctl('bridge/reconnect', ...(bridge ? [bridge] : []));
  }

  async deleteBridge(name: string): Promise<void> {
    await this.vsctl('--if-exists', 'del-br', name);
  }

  /** Adds a dummy port (packets can be injected with `appctl('netdev-dummy/receive', name, ...)`). */
  async addPort(bridge: string, name: string, {ofport}: {ofport?: number} = {}): Promise<void> {
    const iface = ['set', 'interface', name, 'type=dummy', ...(ofport === undefined ? [] : [`ofport_request=${ofport}`])];
    await this.vsctl('add-port', bridge, name, '--', ...iface);
  }

  async dumpFlows(bridge: string, filter?: string): Promise<DumpedFlow[]> {
    const out = await this.ofctl('dump-flows', bridge, ...(filter ? [filter] : []));
    return parseDumpFlows(out);
  }

  /** Installs flows written in ovs-ofctl syntax, one per line (the benchmark's reference path). */
  async addFlows(bridge: string, lines: readonly string[]): Promise<void> {
    await this.ofctl('add-flows', bridge, '-', {input: lines.join('\n') + '\n'});
  }

  /**
   * How OVS sees each controller of the bridge: role and connection state. OVS refreshes these
   * columns lazily: a role change showed up about 5 s after the switch confirmed it (OVS 3.1).
   */
  async controllerStatus(bridge: string): Promise<ControllerStatus[]> {
    const row = JSON.parse(await this.vsctl('--format=json', '--columns=controller', 'list', 'bridge', bridge)) as {data: unknown[][]};
    const uuids = parseOvsJsonValue(row.data[0]?.[0]);
    const ids = (Array.isArray(uuids) ? uuids : [uuids]).filter((u): u is string => typeof u === 'string');
    if (ids.length === 0) return [];
    const out = await this.vsctl('--format=json', '--columns=target,role,is_connected,status', 'list', 'controller', ...ids);
    return parseControllerList(out);
  }

  /** ovs-vsctl against this lab's database (waits for ovs-vswitchd to apply changes unless --no-wait). */
  vsctl(...args: string[]): Promise<string> {
    return this.exec('ovs-vsctl', [`--db=unix:${this.dbSocket}`, '--timeout=10', ...args]);
  }

  /** ovs-ofctl in OpenFlow 1.3 on a bridge's management socket. */
  ofctl(command: string, bridge: string, ...rest: Array<string | {input: string}>): Promise<string> {
    const args = rest.filter((a): a is string => typeof a === 'string');
    const input = rest.find((a): a is {input: string} => typeof a !== 'string')?.input;
    return this.exec('ovs-ofctl', ['-O', 'OpenFlow13', '--no-names', command, `unix:${this.mgmtSocket(bridge)}`, ...args], {input});
  }

  /** ovs-appctl to this lab's ovs-vswitchd (found through the pidfile in OVS_RUNDIR). */
  appctl(...args: string[]): Promise<string> {
    return this.exec('ovs-appctl', ['--timeout=10', '-t', 'ovs-vswitchd', ...args]);
  }

  /** Process ids of the lab's daemons, from their pidfiles (undefined when absent). */
  pids(): Record<Daemon, number | undefined> {
    return {'ovs-vswitchd': this.readPid('ovs-vswitchd'), 'ovsdb-server': this.readPid('ovsdb-server')};
  }

  /** Stops both daemons (SIGTERM, then SIGKILL if they linger) and removes the folder. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.stopWatchingControllers();
      await this.settling?.catch(() => undefined);
      for (const daemon of DAEMONS) {
        const pid = this.ownedPid(daemon);
        if (pid === undefined) continue;
        signal(pid, 'SIGTERM');
        const gone = await waitFor(`${daemon} to exit`, async () => !alive(pid), {timeoutMs: 5_000}).catch(() => false);
        if (!gone) {
          signal(pid, 'SIGKILL');
          await waitFor(`${daemon} to die`, async () => !alive(pid), {timeoutMs: 5_000});
        }
      }
      live.delete(this);
      if (!this.keepFiles) await rm(this.dir, {recursive: true, force: true});
    })();
    return this.stopping;
  }

  /** Synchronous last resort for process exit: SIGKILL, no waiting. */
  killSync(): void {
    this.stopWatchingControllers();
    for (const daemon of DAEMONS) {
      const pid = this.ownedPid(daemon);
      if (pid !== undefined) signal(pid, 'SIGKILL');
    }
    live.delete(this);
    if (!this.keepFiles) rmSync(this.dir, {recursive: true, force: true});
  }

  /** The last lines of both daemons' logs (for error messages). */
  async logTail(lines = 20): Promise<string> {
    const parts: string[] = [];
    for (const file of (await readdir(this.dir)).filter((f) => f.endsWith('.log'))) {
      const text = await readFile(join(this.dir, file), 'utf8');
      parts.push(`--- ${file}\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`);
    }
    return parts.join('\n');
  }

  private exec(file: string, args: string[], options: {input?: string} = {}): Promise<string> {
    return run(file, args, {env: this.env, input: options.input, timeoutMs: 20_000});
  }

  private readPid(daemon: Daemon): number | undefined {
    try {
      const pid = Number.parseInt(readFileSync(join(this.dir, `${daemon}.pid`), 'utf8').trim(), 10);
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** The daemon's pid, only if that process is alive and really ours (its command line names our folder). */
  private ownedPid(daemon: Daemon): number | undefined {
    const pid = this.readPid(daemon);
    if (pid === undefined || !alive(pid)) return undefined;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      return cmdline.includes(daemon) && cmdline.includes(this.dir) ? pid : undefined;
    } catch {
      return undefined;
    }
  }
}

function controllerArgs(bridge: string, controllers: ControllerTarget[], options: ControllerOptions): string[] {
  if (controllers.length === 0) return ['--', 'clear', 'bridge', bridge, 'controller'];
  const maxBackoffMs = Math.max(1000, options.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS);
  const probeMs = options.inactivityProbeMs ?? DEFAULT_INACTIVITY_PROBE_MS;
  const ids = controllers.map((_, i) => `@c${i}`);
  const args = ['--', 'set', 'bridge', bridge, `controller=${ids.join(',')}`];
  controllers.forEach((c, i) => {
    const target = `tcp:${c.host ?? '127.0.0.1'}:${c.port}`;
    args.push(
      '--', `--id=${ids[i]}`, 'create', 'controller', `target="${target}"`, `max_backoff=${maxBackoffMs}`,
      `inactivity_probe=${probeMs}`, 'connection_mode=out-of-band',
    );
  });
  return args;
}

const FLOW_FLAGS = new Set(['send_flow_rem', 'check_overlap', 'reset_counts', 'no_packet_counts', 'no_byte_counts']);

/** Parses `ovs-ofctl dump-flows` output; header lines (OFPST_FLOW reply ...) are skipped. */
export function parseDumpFlows(text: string): DumpedFlow[] {
  const flows: DumpedFlow[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(' ')) continue; // flow lines are indented, reply headers are not
    const raw = line.trim();
    if (!raw) continue;
    const at = raw.startsWith('actions=') ? 0 : raw.indexOf(' actions=');
    if (at < 0) continue;
    const actions = raw.slice(at === 0 ? 'actions='.length : at + ' actions='.length);
    let rest = raw.slice(0, at).trim();
    const flow: DumpedFlow = {cookie: 0n, table: 0, priority: 32768, match: '', actions, raw, flags: []};
    // Leading "key=value, " statistics, and flags each followed by a space, come before the match.
    for (;;) {
      const stat = /^([a-z_]+)=([^,\s]*),\s*/.exec(rest);
      if (stat && STAT_KEYS.has(stat[1]!)) {
        applyStat(flow, stat[1]!, stat[2]!);
        rest = rest.slice(stat[0].length);
        continue;
      }
      const flag = /^([a-z_]+)(\s+|$)/.exec(rest);
      if (flag && FLOW_FLAGS.has(flag[1]!)) {
        flow.flags.push(flag[1]!);
        rest = rest.slice(flag[0].length);
        continue;
      }
      break;
    }
    const priority = /^priority=(\d+)(,|$)/.exec(rest);
    if (priority) {
      flow.priority = Number(priority[1]);
      rest = rest.slice(priority[0].length);
    }
    flow.match = rest.trim();
    flows.push(flow);
  }
  return flows;
}

const STAT_KEYS = new Set([
  'cookie', 'duration', 'table', 'n_packets', 'n_bytes', 'idle_timeout', 'hard_timeout', 'importance', 'idle_age', 'hard_age',
]);

function applyStat(flow: DumpedFlow, key: string, value: string): void {
  switch (key) {
    case 'cookie':
      flow.cookie = BigInt(value);
      break;
    case 'table':
      flow.table = Number(value);
      break;
    case 'n_packets':
      flow.packets = BigInt(value);
      break;
    case 'n_bytes':
      flow.bytes = BigInt(value);
      break;
    case 'idle_timeout':
      flow.idleTimeout = Number(value);
      break;
    case 'hard_timeout':
      flow.hardTimeout = Number(value);
      break;
    default: // duration, ages, importance: not needed by anyone yet
  }
}

/** ovsdb's JSON encoding: ["set", [...]], ["map", [[k, v]...]], ["uuid", "..."], or a bare atom. */
function parseOvsJsonValue(value: unknown): unknown {
  if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string') {
    const [tag, body] = value as [string, unknown];
    if (tag === 'uuid' || tag === 'named-uuid') return body;
    if (tag === 'set') {
      const items = (body as unknown[]).map(parseOvsJsonValue);
      return items.length === 1 ? items[0] : items.length === 0 ? undefined : items;
    }
    if (tag === 'map') return Object.fromEntries((body as Array<[unknown, unknown]>).map(([k, v]) => [String(parseOvsJsonValue(k)), String(parseOvsJsonValue(v))]));
  }
  return value;
}

export function parseControllerList(json: string): ControllerStatus[] {
  const table = JSON.parse(json) as {headings: string[]; data: unknown[][]};
  return table.data.map((row) => {
    const cell = (name: string): unknown => parseOvsJsonValue(row[table.headings.indexOf(name)]);
    const role = cell('role');
    return {
      target: String(cell('target')),
      role: role === 'master' || role === 'slave' || role === 'other' ? role : undefined,
      isConnected: cell('is_connected') === true,
      status: (cell('status') as Record<string, string> | undefined) ?? {},
    };
  });
}

/** `ovs-vsctl --format=json --columns=_uuid,is_connected list controller`, parsed. */
export function parseControllerConnections(json: string): Array<{uuid: string; isConnected: boolean}> {
  const table = JSON.parse(json) as {headings: string[]; data: unknown[][]};
  return table.data.map((row) => {
    const cell = (name: string): unknown => parseOvsJsonValue(row[table.headings.indexOf(name)]);
    return {uuid: String(cell('_uuid')), isConnected: cell('is_connected') === true};
  });
}

/** Running (a zombie has exited: detached daemons are reaped by init, which may take its time). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return /^State:\s+[^ZX]/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

// Labs still running when the process ends (a failing test, Ctrl-C) are killed so nothing is left behind.
const live = new Set<OvsLab>();
let hooked = false;

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  const killAll = (): void => {
    for (const lab of [...live]) lab.killSync();
  };
  process.on('exit', killAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAll();
      // Alone on this signal, we would have swallowed Node's default (exit): restore it and re-raise.
      if (process.listenerCount(sig) === 1) {
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}
