// A fake switch fabric for the flow service's unit tests: each switch is a FlowTable (every
// cookie), each controller instance sees the fabric through its own FakeSwitches (its own roles,
// its own events), as two SwitchRegistry would.
import {EventEmitter} from 'node:events';
import {FlowTable, type FlowEntry} from '../../../../src/flows/flow-table.js';
import type {FlowSwitches} from '../../../../src/flows/service/flow-service.js';
import type {ErrorMessage, FlowModMessage, FlowStats} from '../../../../src/openflow/codec.js';
import {OpenFlowError, SwitchTimeoutError, type Outgoing} from '../../../../src/openflow/connection.js';
import {NotMasterError, SwitchNotConnectedError, type HeldRole} from '../../../../src/openflow/roles.js';
import type {RegistryEvents} from '../../../../src/openflow/switch-registry.js';

export class FakeNetwork {
  readonly tables = new Map<bigint, FlowTable>();
  /** [errorType, code] to refuse a flow-mod with. */
  refuse: (dpid: bigint, fm: FlowModMessage) => [number, number] | undefined = () => undefined;
  /** Every batch a switch received, with the instance that sent it. */
  readonly batches: Array<{dpid: bigint; from: number; messages: FlowModMessage[]}> = [];
  /** While set, barriers are answered only once it resolves. */
  hold: Promise<void> | undefined;
  /** While set, flow stats are answered only once it resolves. */
  holdStats: Promise<void> | undefined;
  /** The next batch times out (nothing applied). */
  timeoutNext = false;

  addSwitch(dpid: bigint, entries: FlowEntry[] = []): FlowTable {
    const t = FlowTable.of(entries);
    this.tables.set(dpid, t);
    return t;
  }

  table(dpid: bigint): FlowTable {
    const t = this.tables.get(dpid);
    if (!t) throw new Error(`no switch ${dpid}`);
    return t;
  }
}

export class FakeSwitches extends EventEmitter<RegistryEvents> implements FlowSwitches {
  readonly roles = new Map<bigint, HeldRole>();
  statsCalls = 0;

  constructor(readonly net: FakeNetwork, readonly instId: number) {
    super();
  }

  connect(dpid: bigint, role: HeldRole = 'master'): void {
    if (!this.net.tables.has(dpid)) this.net.addSwitch(dpid);
    this.roles.set(dpid, role);
    this.emit('switch-connected', {datapathId: dpid, role, address: 'fake', connectedAtMs: 0});
  }

  disconnect(dpid: bigint): void {
    this.roles.delete(dpid);
    this.emit('switch-disconnected', {datapathId: dpid, reason: 'test'});
  }

  setRole(dpid: bigint, role: HeldRole): void {
    const previous = this.roles.get(dpid) ?? 'unknown';
    this.roles.set(dpid, role);
    this.emit('role-changed', {datapathId: dpid, role, previous});
  }

  switches(): Array<{datapathId: bigint; role: HeldRole}> {
    return [...this.roles].map(([datapathId, role]) => ({datapathId, role}));
  }

  roleOn(dpid: bigint): HeldRole | undefined {
    return this.roles.get(dpid);
  }

  async sendModifications(dpid: bigint, messages: readonly Outgoing[]): Promise<Array<OpenFlowError | undefined>> {
    const role = this.roles.get(dpid);
    if (role === undefined) throw new SwitchNotConnectedError(dpid);
    if (role !== 'master') throw new NotMasterError(dpid, role);
    const fms = messages as FlowModMessage[];
    this.net.batches.push({dpid, from: this.instId, messages: fms});
    await Promise.resolve();
    if (this.net.hold) await this.net.hold;
    if (this.net.timeoutNext) {
      this.net.timeoutNext = false;
      throw new SwitchTimeoutError('BARRIER_REQUEST', 1, 10_000, dpid);
    }
    const table = this.net.table(dpid);
    return fms.map((fm) => {
      const refusal = this.net.refuse(dpid, fm);
      const failed = refusal ? {errorType: refusal[0], code: refusal[1]} : (() => {
        const r = table.apply(fm);
        return r.ok ? undefined : r.error;
      })();
      if (!failed) return undefined;
      const msg: ErrorMessage = {type: 'ERROR', xid: 0, errorType: failed.errorType, code: failed.code, data: Buffer.alloc(0)};
      return new OpenFlowError(msg, dpid);
    });
  }

  async flowStats(dpid: bigint): Promise<FlowStats[]> {
    if (!this.roles.has(dpid)) throw new SwitchNotConnectedError(dpid);
    this.statsCalls++;
    await Promise.resolve();
    if (this.net.holdStats) await this.net.holdStats;
    return this.net.table(dpid).entries().map((e) => ({...e, durationSec: 0, durationNsec: 0, packetCount: 0n, byteCount: 0n}));
  }
}
