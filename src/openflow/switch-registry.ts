/**
 * The connected switches by datapath id, and the role this instance holds on each.
 *
 * The controller says what it wants to be (`setDesiredRole`); the registry asserts it on every
 * switch now and on every switch that connects later, before anything else is sent to it. Only a
 * role the switch confirmed counts: a modification goes out only where the switch said MASTER.
 * When a switch says otherwise (a refused generation id, a role status, an IS_SLAVE error) the
 * registry obeys: it reports 'demoted', stops asserting MASTER on its own, and leaves the
 * decision to the election. It never retries as master with a higher id.
 */
import {EventEmitter} from 'node:events';
import {OFP, type FlowModMessage, type FlowStats, type FlowStatsFilter, type OfMessage, type RoleReplyMessage} from './codec.js';
import {
  BundleError,
  ConnectionClosedError,
  OpenFlowError,
  SwitchConnection,
  formatDpid,
  noopLogger,
  type BundleOptions,
  type OfLogger,
  type Outgoing,
  type ReadyInfo,
  type RequestOptions,
} from './connection.js';
import {SwitchListener, type ListenerOptions} from './listener.js';
import {
  MAX_GENERATION_ID,
  NotMasterError,
  SwitchNotConnectedError,
  generationFromReply,
  heldRoleFromWire,
  type DemotedEvent,
  type DemotionReason,
  type DesiredRole,
  type HeldRole,
} from './roles.js';

export interface SwitchInfo {
  datapathId: bigint;
  role: HeldRole;
  /** 'host:port' of the switch's end of the connection. */
  address: string;
  connectedAtMs: number;
}

export interface RoleResult {
  datapathId: bigint;
  /** The role held once the assertion settled. */
  role: HeldRole;
  /** Why the switch did not end up in the desired role (refusal, timeout, disconnect). */
  error?: Error;
}

export interface RegistryEvents {
  /** A switch is connected and its first role assertion settled (whatever its outcome). */
  'switch-connected': [info: SwitchInfo];
  'switch-disconnected': [info: {datapathId: bigint; reason: string}];
  /** The role held on a switch changed (as the switch confirmed or reported it). */
  'role-changed': [info: {datapathId: bigint; role: HeldRole; previous: HeldRole}];
  /** A switch demoted us: the election should step down. */
  demoted: [event: DemotedEvent];
  /** Asynchronous messages from a switch: PACKET_IN, PORT_STATUS, FLOW_REMOVED, ROLE_STATUS, unmatched errors. */
  message: [datapathId: bigint, message: OfMessage];
}

export interface RegistryOptions {
  logger?: OfLogger;
  /** Timeout of each ROLE_REQUEST. Default 5 s. */
  roleRequestTimeoutMs?: number;
}

interface Entry {
  connection: SwitchConnection;
  datapathId: bigint;
  role: HeldRole;
  /** Role assertions on one switch run one after the other, in the order they were asked. */
  chain: Promise<unknown>;
  /** The last assertion this switch confirmed: skip asserting the same again. */
  asserted?: {role: 'master' | 'slave'; generationId: bigint};
  lastError?: Error;
  /** Set while a re-assertion after a failed one is pending. */
  retryTimer?: NodeJS.Timeout;
}

/** How often a refused SLAVE request is retried with a freshly read generation id. */
const SLAVE_STALE_RETRIES = 3;
/** Pause before asserting again when the retries did not settle the role. */
const REASSERT_DELAY_MS = 250;

function isStale(error: unknown): boolean {
  return error instanceof OpenFlowError && error.is(OFP.OFPET_ROLE_REQUEST_FAILED, OFP.OFPRRFC_STALE);
}

export class SwitchRegistry extends EventEmitter<RegistryEvents> {
  private readonly entries = new Map<bigint, Entry>();
  private readonly logger: OfLogger;
  private readonly roleRequestTimeoutMs: number;
  private desired: {role: DesiredRole; generationId: bigint | undefined} = {role: 'none', generationId: undefined};
  /**
   * Set when a switch demoted us while we wanted MASTER: from then on MASTER is not asserted
   * (not on new connections either) until the controller calls setDesiredRole again.
   */
  private fenced = false;
  private ownListener: SwitchListener | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: RegistryOptions = {}) {
    super();
    this.logger = options.logger ?? noopLogger;
    this.roleRequestTimeoutMs = options.roleRequestTimeoutMs ?? 5_000;
  }

  /** A registry with its own listener (closed with it). */
  static async listen(options: RegistryOptions & ListenerOptions = {}): Promise<SwitchRegistry> {
    const registry = new SwitchRegistry(options);
    const listener = await SwitchListener.listen({...options, logger: options.logger ?? noopLogger});
    registry.ownListener = listener;
    registry.attach(listener);
    return registry;
  }

  /** The port of the registry's own listener (see listen()). */
  get port(): number {
    if (!this.ownListener) throw new Error('this registry has no listener of its own');
    return this.ownListener.port;
  }

  /** Takes every connection the listener accepts. */
  attach(listener: SwitchListener): void {
    listener.on('connection', (connection) => this.adopt(connection));
  }

  /** Takes one connection (from attach(), or made elsewhere); it joins once identified. */
  adopt(connection: SwitchConnection): void {
    if (this.closing) {
      void connection.close('registry closed');
      return;
    }
    if (connection.state === 'ready') this.onReady(connection, {datapathId: connection.datapathId!, features: connection.features!});
    else connection.once('ready', (info) => this.onReady(connection, info));
  }

  get desiredRole(): {role: DesiredRole; generationId: bigint | undefined} {
    return {...this.desired};
  }

  /**
   * What this instance wants to be on every switch, with the election term as generation id.
   * Asserted now on every connected switch and on every switch that connects later; resolves
   * when every switch connected now has answered. 'none' and 'slave' both assert SLAVE.
   */
  async setDesiredRole(role: DesiredRole, generationId: bigint): Promise<RoleResult[]> {
    if (generationId < 0n || generationId > MAX_GENERATION_ID) throw new RangeError(`generationId ${generationId} is not a u64`);
    const previous = this.desired;
    this.desired = {role, generationId};
    this.fenced = false;
    this.logger.info('desired switch role', {role, generationId, previous: previous.role, switches: this.entries.size});
    if (role !== 'master') {
      // Stop modifying at once, before any switch has answered.
      for (const entry of this.entries.values()) if (entry.role === 'master') this.setHeld(entry, 'unknown');
    }
    return Promise.all([...this.entries.values()].map((entry) => this.enqueueAssertion(entry)));
  }

  /**
   * Each connected switch's generation id, read with ROLE_REQUEST NOCHANGE (undefined: the
   * switch never saw one). A new master takes max() + 1 before promoting. Switches that do not
   * answer are left out (and logged).
   */
  async readGenerationIds(options: RequestOptions = {}): Promise<Map<bigint, bigint | undefined>> {
    const out = new Map<bigint, bigint | undefined>();
    await Promise.all(
      [...this.entries.values()].map(async (entry) => {
        try {
          const reply = await this.readRole(entry, options);
          out.set(entry.datapathId, generationFromReply(reply.generationId));
        } catch (error) {
          this.logger.warn('could not read a switch generation id', {datapathId: formatDpid(entry.datapathId), error: (error as Error).message});
        }
      }),
    );
    return out;
  }

  switches(): SwitchInfo[] {
    return [...this.entries.values()].map((e) => this.info(e));
  }

  /** The role held on one switch (undefined: not connected). */
  roleOn(datapathId: bigint): HeldRole | undefined {
    return this.entries.get(datapathId)?.role;
  }

  /**
   * The raw connection to a switch, for reads (stats, barriers). Modifications go through
   * sendFlowMod/sendModifications, which check the role.
   */
  connection(datapathId: bigint): SwitchConnection | undefined {
    return this.entries.get(datapathId)?.connection;
  }

  /**
   * Sends one FLOW_MOD and a barrier; resolves once the switch accepted it. Refuses locally with
   * NotMasterError unless the switch confirmed MASTER; rejects with the switch's OpenFlowError
   * (an IS_SLAVE one also emits 'demoted'), SwitchTimeoutError or ConnectionClosedError.
   */
  async sendFlowMod(datapathId: bigint, message: Outgoing<FlowModMessage>, options: RequestOptions = {}): Promise<void> {
    const [error] = await this.sendModifications(datapathId, [message], options);
    if (error) throw error;
  }

  /**
   * Modifying messages (FLOW_MOD, GROUP_MOD, PACKET_OUT...) then one barrier: one result per
   * message, the switch's OpenFlowError or undefined. Refused locally as a whole with
   * NotMasterError unless this instance holds MASTER there. Any number of messages: they are
   * streamed (see SwitchConnection.sendConfirmedBatch), never queued whole in the connection.
   */
  async sendModifications(datapathId: bigint, messages: readonly Outgoing[], options: RequestOptions = {}): Promise<Array<OpenFlowError | undefined>> {
    const entry = this.entries.get(datapathId);
    if (!entry) throw new SwitchNotConnectedError(datapathId);
    if (entry.role !== 'master') throw new NotMasterError(datapathId, entry.role);
    const results = await entry.connection.sendConfirmedBatch(messages, options);
    const isSlave = results.find((e) => e?.is(OFP.OFPET_BAD_REQUEST, OFP.OFPBRC_IS_SLAVE));
    if (isSlave) this.demote(entry, 'is-slave', undefined, isSlave.message);
    return results;
  }

  /**
   * Modifying messages as one ONF bundle, atomic and ordered unless `flags` says otherwise (see
   * SwitchConnection.sendBundle): resolves once the switch committed them all; rejects with
   * BundleError naming the refused messages (nothing was applied), and refuses locally with
   * NotMasterError unless this instance holds MASTER there. An IS_SLAVE refusal emits 'demoted'.
   */
  async sendBundle(datapathId: bigint, messages: readonly Outgoing[], options: BundleOptions = {}): Promise<void> {
    const entry = this.entries.get(datapathId);
    if (!entry) throw new SwitchNotConnectedError(datapathId);
    if (entry.role !== 'master') throw new NotMasterError(datapathId, entry.role);
    try {
      await entry.connection.sendBundle(messages, options);
    } catch (error) {
      if (error instanceof BundleError) {
        const refusals = [error.controlError, ...error.failures.map((f) => f.error)];
        const isSlave = refusals.find((e) => e?.is(OFP.OFPET_BAD_REQUEST, OFP.OFPBRC_IS_SLAVE));
        if (isSlave) this.demote(entry, 'is-slave', undefined, isSlave.message);
      }
      throw error;
    }
  }

  /** Every flow of a switch (multipart flow stats, joined). A read: allowed in any role. */
  async flowStats(datapathId: bigint, filter: Partial<FlowStatsFilter> = {}, options: RequestOptions = {}): Promise<FlowStats[]> {
    const entry = this.entries.get(datapathId);
    if (!entry) throw new SwitchNotConnectedError(datapathId);
    const reply = await entry.connection.request(
      {
        type: 'MULTIPART_REQUEST',
        flags: 0,
        body: {
          kind: 'FLOW',
          tableId: filter.tableId ?? OFP.OFPTT_ALL,
          outPort: filter.outPort ?? OFP.OFPP_ANY,
          outGroup: filter.outGroup ?? OFP.OFPG_ANY,
          cookie: filter.cookie ?? 0n,
          cookieMask: filter.cookieMask ?? 0n,
          match: filter.match ?? [],
        },
      },
      options,
    );
    if (reply.body.kind !== 'FLOW') throw new Error(`flow stats answered with ${reply.body.kind}`);
    return reply.body.flows;
  }

  /** Closes every switch connection (and the registry's own listener). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.ownListener?.close();
      await Promise.all([...this.entries.values()].map((e) => e.connection.close('registry closed')));
    })();
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------

  private info(entry: Entry): SwitchInfo {
    return {
      datapathId: entry.datapathId,
      role: entry.role,
      address: entry.connection.address,
      connectedAtMs: entry.connection.connectedAtMs,
    };
  }

  private onReady(connection: SwitchConnection, {datapathId}: ReadyInfo): void {
    if (this.closing) {
      void connection.close('registry closed');
      return;
    }
    const old = this.entries.get(datapathId);
    if (old) {
      this.logger.info('switch reconnected: replacing its old connection', {
        datapathId: formatDpid(datapathId), old: old.connection.address, new: connection.address,
      });
      this.entries.delete(datapathId);
      void old.connection.close('replaced by a new connection from the same switch');
    }
    const entry: Entry = {connection, datapathId, role: 'equal', chain: Promise.resolve()};
    this.entries.set(datapathId, entry);
    connection.on('message', (message) => this.onMessage(entry, message));
    connection.once('closed', (reason) => {
      clearTimeout(entry.retryTimer);
      if (this.entries.get(datapathId) !== entry) return; // already replaced
      this.entries.delete(datapathId);
      this.emit('switch-disconnected', {datapathId, reason});
    });
    // The role first: nothing else is sent to a switch before it knows who we are.
    void this.enqueueAssertion(entry).then(() => {
      if (this.entries.get(datapathId) === entry) this.emit('switch-connected', this.info(entry));
    });
  }

  private onMessage(entry: Entry, message: OfMessage): void {
    if (message.type === 'ROLE_STATUS') {
      const role = heldRoleFromWire(message.role);
      const wasMaster = entry.role === 'master' || this.wantsMaster();
      this.setHeld(entry, role);
      if (role !== 'master' && wasMaster) {
        this.demote(entry, 'role-status', message.generationId, `switch reports role ${role} (reason ${message.reason})`);
      }
    } else if (message.type === 'ERROR' && message.errorType === OFP.OFPET_BAD_REQUEST && message.code === OFP.OFPBRC_IS_SLAVE) {
      if (entry.role === 'master' || this.wantsMaster()) this.demote(entry, 'is-slave', undefined, 'a modification was refused with IS_SLAVE');
    }
    this.emit('message', entry.datapathId, message);
  }

  private wantsMaster(): boolean {
    return this.desired.role === 'master' && !this.fenced;
  }

  /** A switch demoted us: obey locally, stop asserting MASTER anywhere, tell the election. */
  private demote(entry: Entry, reason: DemotionReason, generationId: bigint | undefined, detail: string): void {
    if (entry.role === 'master') this.setHeld(entry, 'slave');
    entry.asserted = undefined;
    const wasFenced = this.fenced;
    this.fenced = true;
    const event: DemotedEvent = {datapathId: entry.datapathId, reason, detail, ...(generationId === undefined ? {} : {generationId})};
    this.logger.warn('demoted by a switch', {...event, datapathId: formatDpid(entry.datapathId), desiredGenerationId: this.desired.generationId});
    this.emit('demoted', event);
    if (!wasFenced) {
      // Give up MASTER on the other switches too: whoever demoted us is the master now.
      for (const other of this.entries.values()) {
        if (other !== entry && other.role === 'master') {
          this.setHeld(other, 'unknown');
          void this.enqueueAssertion(other);
        }
      }
    }
  }

  private setHeld(entry: Entry, role: HeldRole): void {
    const previous = entry.role;
    if (previous === role) return;
    entry.role = role;
    this.logger.debug('switch role changed', {datapathId: formatDpid(entry.datapathId), role, previous});
    this.emit('role-changed', {datapathId: entry.datapathId, role, previous});
  }

  private enqueueAssertion(entry: Entry): Promise<RoleResult> {
    const run = entry.chain.then(() => this.assertRole(entry));
    entry.chain = run.catch(() => {});
    return run.then(
      () => ({datapathId: entry.datapathId, role: entry.role, ...(entry.lastError ? {error: entry.lastError} : {})}),
      (error: Error) => ({datapathId: entry.datapathId, role: entry.role, error}),
    );
  }

  /** Brings one switch to the desired role as it is when this runs (later calls coalesce). */
  private async assertRole(entry: Entry): Promise<void> {
    if (entry.connection.state === 'closed') throw new ConnectionClosedError('closed', entry.datapathId);
    const wire: 'master' | 'slave' = this.wantsMaster() ? 'master' : 'slave';
    let generationId = this.desired.generationId;
    if (entry.asserted && entry.asserted.role === wire && entry.asserted.generationId === generationId && entry.role === wire) return;
    entry.lastError = undefined;
    if (generationId === undefined) {
      // Nothing decided yet: SLAVE with the switch's own id changes nothing for anyone.
      generationId = generationFromReply((await this.readRole(entry)).generationId) ?? 0n;
    }
    try {
      const reply = await this.requestRole(entry, wire, generationId);
      this.confirmed(entry, wire, generationId, reply);
    } catch (error) {
      if (!(error instanceof OpenFlowError) || !error.is(OFP.OFPET_ROLE_REQUEST_FAILED, OFP.OFPRRFC_STALE)) {
        entry.lastError = error as Error;
        if (entry.role === 'master' && wire !== 'master') this.setHeld(entry, 'unknown');
        this.logger.warn('role request failed', {datapathId: formatDpid(entry.datapathId), role: wire, generationId, error: (error as Error).message});
        throw error;
      }
      const current = await this.readRole(entry).catch(() => undefined);
      const switchGeneration = current && generationFromReply(current.generationId);
      if (wire === 'master') {
        // Someone newer is master there. Obey; the election decides what happens next.
        entry.lastError = error;
        if (current) this.setHeld(entry, lowerOnly(entry.role, heldRoleFromWire(current.role)));
        this.demote(entry, 'stale-generation', switchGeneration, `MASTER with generation id ${generationId} refused as stale`);
        return;
      }
      // A SLAVE request behind the switch's term (we have not heard of the newest term yet):
      // SLAVE with the switch's own id demotes nobody, so take that. A new master may raise the
      // switch's id between our read and our request, so read again and retry, a few times.
      let failure: unknown = error;
      let latest = switchGeneration;
      for (let attempt = 1; latest !== undefined && latest !== generationId && attempt <= SLAVE_STALE_RETRIES; attempt++) {
        try {
          const reply = await this.requestRole(entry, 'slave', latest);
          this.confirmed(entry, 'slave', latest, reply);
          return;
        } catch (retryError) {
          failure = retryError;
          if (!isStale(retryError)) break;
          latest = await this.readRole(entry).then((r) => generationFromReply(r.generationId), () => undefined);
        }
      }
      // Never leave a connection in EQUAL (full access, as far as the switch is concerned):
      // say so, and assert again shortly.
      entry.lastError = failure as Error;
      this.logger.warn('SLAVE role refused as stale even with the switch\'s own generation id; retrying shortly', {
        datapathId: formatDpid(entry.datapathId), generationId, switchGeneration: latest, error: (failure as Error).message,
      });
      this.scheduleReassertion(entry);
      throw failure;
    }
  }

  /** Asserts the desired role again after a pause, unless the switch holds it by then or is gone. */
  private scheduleReassertion(entry: Entry): void {
    if (entry.retryTimer) return;
    entry.retryTimer = setTimeout(() => {
      entry.retryTimer = undefined;
      if (this.closing || this.entries.get(entry.datapathId) !== entry || entry.connection.state === 'closed') return;
      void this.enqueueAssertion(entry);
    }, REASSERT_DELAY_MS);
    entry.retryTimer.unref();
  }

  private confirmed(entry: Entry, wire: 'master' | 'slave', generationId: bigint, reply: RoleReplyMessage): void {
    let role = heldRoleFromWire(reply.role);
    // The controller may have changed its mind while the request was in flight.
    if (role === 'master' && !this.wantsMaster()) role = 'unknown';
    entry.asserted = role === wire ? {role: wire, generationId} : undefined;
    this.setHeld(entry, role);
  }

  private requestRole(entry: Entry, role: 'master' | 'slave', generationId: bigint): Promise<RoleReplyMessage> {
    return entry.connection.request(
      {type: 'ROLE_REQUEST', role: role === 'master' ? OFP.OFPCR_ROLE_MASTER : OFP.OFPCR_ROLE_SLAVE, generationId},
      {timeoutMs: this.roleRequestTimeoutMs},
    );
  }

  /** ROLE_REQUEST NOCHANGE. A reply never raises the held role (it may predate a change of ours). */
  private async readRole(entry: Entry, options: RequestOptions = {}): Promise<RoleReplyMessage> {
    const reply = await entry.connection.request(
      {type: 'ROLE_REQUEST', role: OFP.OFPCR_ROLE_NOCHANGE, generationId: 0n},
      {timeoutMs: options.timeoutMs ?? this.roleRequestTimeoutMs},
    );
    const role = heldRoleFromWire(reply.role);
    if (entry.role === 'master' && role !== 'master' && this.entries.get(entry.datapathId) === entry) {
      this.demote(entry, 'role-status', generationFromReply(reply.generationId), `switch answers NOCHANGE with role ${role}`);
    }
    return reply;
  }
}

function lowerOnly(held: HeldRole, reported: HeldRole): HeldRole {
  return reported === 'master' ? held : reported;
}
