/**
 * One switch's OpenFlow 1.3 channel over TCP: HELLO negotiation, FEATURES (the datapath id),
 * echo both ways with an inactivity timeout, requests matched to replies by xid with a timeout
 * each, multipart replies joined, barrier-confirmed sends, and write backpressure.
 *
 * The connection never decides anything about roles: it reports what the switch said (replies,
 * errors, asynchronous messages) and the registry decides.
 */
import {EventEmitter} from 'node:events';
import type {Socket} from 'node:net';
import {
  DecodeError,
  OFP,
  OfFramer,
  decodeMessage,
  encodeMessage,
  errorName,
  describeError,
  type ErrorMessage,
  type FeaturesReplyMessage,
  type MultipartReplyBody,
  type MultipartReplyMessage,
  type OfMessage,
  type OfMessageOf,
} from './codec.js';

/** The logging surface this module needs (src/log.ts's Logger satisfies it). */
export interface OfLogger {
  debug(message: string, fields?: object): void;
  info(message: string, fields?: object): void;
  warn(message: string, fields?: object): void;
  error(message: string, fields?: object): void;
}

export const noopLogger: OfLogger = {debug() {}, info() {}, warn() {}, error() {}};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** The switch answered a request with OFPT_ERROR. */
export class OpenFlowError extends Error {
  override readonly name = 'OpenFlowError';
  /** OFPET_*. */
  readonly errorType: number;
  /** The code within the type (OFPBRC_*, ...). */
  readonly code: number;
  /** 'OFPET_BAD_REQUEST/OFPBRC_IS_SLAVE'. */
  readonly codeName: string;
  readonly xid: number;
  /** The start of the offending message, as the switch echoed it. */
  readonly data: Buffer;
  readonly datapathId: bigint | undefined;
  /** A switch's refusal does not change by sending the same thing again. */
  readonly retriable = false;

  constructor(error: ErrorMessage, datapathId?: bigint) {
    super(`switch ${formatDpid(datapathId)} refused xid ${error.xid}: ${describeError(error)}`);
    this.errorType = error.errorType;
    this.code = error.code;
    this.codeName = errorName(error.errorType, error.code, error.experimenter);
    this.xid = error.xid;
    this.data = error.data;
    this.datapathId = datapathId;
  }

  is(errorType: number, code: number): boolean {
    return this.errorType === errorType && this.code === code;
  }
}

/** No reply within the request's timeout. */
export class SwitchTimeoutError extends Error {
  override readonly name = 'SwitchTimeoutError';
  readonly retriable = true;
  constructor(
    readonly requestType: string,
    readonly xid: number,
    readonly timeoutMs: number,
    readonly datapathId?: bigint,
  ) {
    super(`switch ${formatDpid(datapathId)} did not answer ${requestType} (xid ${xid}) within ${timeoutMs} ms`);
  }
}

/** The connection closed before the request was answered (or the request came after). */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
  /** The switch will reconnect; what was lost can be sent again on the new connection. */
  readonly retriable = true;
  constructor(
    readonly reason: string,
    readonly datapathId?: bigint,
  ) {
    super(`connection to switch ${formatDpid(datapathId)} closed: ${reason}`);
  }
}

export function formatDpid(datapathId: bigint | undefined): string {
  return datapathId === undefined ? '(unidentified)' : datapathId.toString(16).padStart(16, '0');
}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

export interface ConnectionOptions {
  logger?: OfLogger;
  /** HELLO and FEATURES must be done within this; else the connection closes. Default 10 s. */
  handshakeTimeoutMs?: number;
  /**
   * Time without hearing from the switch before we send an ECHO_REQUEST. Default 5 s. Lower
   * notices a dead switch sooner at the cost of more echo traffic on quiet connections.
   */
  echoIntervalMs?: number;
  /**
   * Time without hearing anything from the switch (echo replies included) after which the
   * connection is closed as dead. Default 15 s; must exceed echoIntervalMs so an echo can be answered.
   */
  inactivityTimeoutMs?: number;
  /** Default timeout of request(), barrier() and confirmed sends. Default 10 s. */
  requestTimeoutMs?: number;
  /**
   * Bytes queued locally (the socket refused more) after which the switch counts as stuck and
   * the connection is closed. Default 64 MiB.
   */
  maxQueuedBytes?: number;
  /** How long close() waits for the socket to finish sending before destroying it. Default 1 s. */
  closeTimeoutMs?: number;
}

type Settings = Required<Omit<ConnectionOptions, 'logger'>>;

export const DEFAULT_CONNECTION_SETTINGS: Readonly<Settings> = {
  handshakeTimeoutMs: 10_000,
  echoIntervalMs: 5_000,
  inactivityTimeoutMs: 15_000,
  requestTimeoutMs: 10_000,
  maxQueuedBytes: 64 * 1024 * 1024,
  closeTimeoutMs: 1_000,
};

/** Fills defaults and checks the settings; errors say which field to change. */
export function connectionSettings(options: ConnectionOptions = {}): Settings {
  const s: Settings = {...DEFAULT_CONNECTION_SETTINGS};
  for (const key of Object.keys(DEFAULT_CONNECTION_SETTINGS) as Array<keyof Settings>) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${key} (${value}) must be a positive number`);
    s[key] = value;
  }
  if (s.inactivityTimeoutMs <= s.echoIntervalMs) {
    throw new RangeError(
      `inactivityTimeoutMs (${s.inactivityTimeoutMs}) must be greater than echoIntervalMs (${s.echoIntervalMs}), or no echo could be answered in time`,
    );
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// Requests and replies
// ---------------------------------------------------------------------------------------------

/** Each request type and the reply type that answers it. */
const REPLY_OF = {
  ECHO_REQUEST: 'ECHO_REPLY',
  FEATURES_REQUEST: 'FEATURES_REPLY',
  GET_CONFIG_REQUEST: 'GET_CONFIG_REPLY',
  MULTIPART_REQUEST: 'MULTIPART_REPLY',
  BARRIER_REQUEST: 'BARRIER_REPLY',
  QUEUE_GET_CONFIG_REQUEST: 'QUEUE_GET_CONFIG_REPLY',
  ROLE_REQUEST: 'ROLE_REPLY',
  GET_ASYNC_REQUEST: 'GET_ASYNC_REPLY',
} as const;

export type RequestType = keyof typeof REPLY_OF;
export type RequestMessage = OfMessageOf<RequestType>;
export type ReplyTo<T extends RequestType> = OfMessageOf<(typeof REPLY_OF)[T]>;
const REPLY_TYPES = new Set<string>(Object.values(REPLY_OF));

/** A message without its xid: the connection assigns a fresh one to everything it sends. */
export type Outgoing<M extends OfMessage = OfMessage> = M extends OfMessage ? Omit<M, 'xid'> & {xid?: number} : never;
/** A request of type T without its xid (the type literal lets `request` infer its reply type). */
export type OutgoingRequest<T extends RequestType> = {type: T} & Omit<OfMessageOf<T>, 'type' | 'xid'> & {xid?: number};

export interface RequestOptions {
  timeoutMs?: number;
}

interface Pending {
  expect: string;
  requestType: string;
  timeoutMs: number;
  timer: NodeJS.Timeout;
  resolve(reply: OfMessage): void;
  reject(error: Error): void;
  /** Multipart parts received so far (REPLY_MORE). */
  parts?: MultipartReplyMessage[];
}

/** Joins the parts of a multipart reply (REPLY_MORE) into one body of the same kind. */
export function joinMultipartBodies(parts: MultipartReplyBody[]): MultipartReplyBody {
  const [first, ...rest] = parts;
  if (!first) throw new Error('no multipart reply parts to join');
  if (rest.length === 0) return first;
  const kind = first.kind;
  if (rest.some((p) => p.kind !== kind)) throw new Error(`multipart reply parts of different kinds: ${parts.map((p) => p.kind).join(', ')}`);
  const list = ARRAY_FIELD_OF[kind];
  if (list) {
    const joined = parts.flatMap((p) => (p as unknown as Record<string, unknown[]>)[list]!);
    return {...first, [list]: joined} as unknown as MultipartReplyBody;
  }
  if (first.kind === 'EXPERIMENTER') {
    return {...first, data: Buffer.concat(parts.map((p) => (p as typeof first).data))};
  }
  // DESC, AGGREGATE, GROUP_FEATURES, METER_FEATURES: single-object replies never continue.
  throw new Error(`a ${kind} multipart reply cannot come in parts`);
}

const ARRAY_FIELD_OF: Partial<Record<MultipartReplyBody['kind'], string>> = {
  FLOW: 'flows',
  TABLE: 'tables',
  PORT_STATS: 'ports',
  QUEUE: 'queues',
  GROUP: 'groups',
  GROUP_DESC: 'groups',
  METER: 'meters',
  METER_CONFIG: 'meters',
  TABLE_FEATURES: 'tables',
  PORT_DESC: 'ports',
};

// ---------------------------------------------------------------------------------------------
// The connection
// ---------------------------------------------------------------------------------------------

export interface ReadyInfo {
  datapathId: bigint;
  features: FeaturesReplyMessage;
}

export interface ConnectionEvents {
  /** HELLO and FEATURES done: the switch is identified. */
  ready: [info: ReadyInfo];
  /**
   * Asynchronous messages: PACKET_IN, PORT_STATUS, FLOW_REMOVED, ROLE_STATUS, EXPERIMENTER, and
   * ERRORs that answer no pending request.
   */
  message: [message: OfMessage];
  /** Once, with the reason, whoever closed. */
  closed: [reason: string];
}

export type ConnectionState = 'handshake' | 'ready' | 'closed';

export class SwitchConnection extends EventEmitter<ConnectionEvents> {
  readonly settings: Readonly<Settings>;
  /** 'host:port' of the switch's end. */
  readonly address: string;
  readonly connectedAtMs = Date.now();
  datapathId: bigint | undefined;
  features: FeaturesReplyMessage | undefined;
  private stateValue: ConnectionState = 'handshake';
  private readonly logger: OfLogger;
  private readonly framer = new OfFramer();
  private readonly pending = new Map<number, Pending>();
  /** Confirmed sends awaiting their barrier: an ERROR with this xid is theirs. */
  private readonly watched = new Map<number, (error: OpenFlowError) => void>();
  private nextXid = 1;
  private gotHello = false;
  /** The first two bytes of the stream (version and type of the first header). */
  private streamHead = Buffer.alloc(0);
  private started = false;
  private lastHeardMs = Date.now();
  private echoOutstanding = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  // Backpressure: once socket.write says "enough", messages wait here until 'drain'.
  private readonly queue: Buffer[] = [];
  private queuedBytesValue = 0;
  private blocked = false;
  private flushWaiters: Array<() => void> = [];
  private closeReason: string | undefined;
  private closing: Promise<void> | undefined;
  private readonly closedPromise: Promise<string>;
  private resolveClosed!: (reason: string) => void;

  constructor(
    private readonly socket: Socket,
    options: ConnectionOptions = {},
  ) {
    super();
    this.settings = connectionSettings(options);
    this.logger = options.logger ?? noopLogger;
    this.address = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Bytes waiting in our queue because the socket asked us to wait (0 when not blocked). */
  get queuedBytes(): number {
    return this.queuedBytesValue;
  }

  /** False while the socket applies backpressure (sends are queued locally). */
  get writable(): boolean {
    return !this.blocked && this.stateValue !== 'closed';
  }

  /** Resolves with the close reason once the connection is closed. */
  closed(): Promise<string> {
    return this.closedPromise;
  }

  /** Starts the handshake: sends HELLO, then FEATURES_REQUEST once the switch's HELLO is in. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('drain', () => this.onDrain());
    this.socket.on('error', (error) => {
      this.closeReason ??= `socket error: ${error.message}`;
    });
    this.socket.on('close', () => this.finish(this.closeReason ?? 'connection closed by the switch'));
    if (this.socket.destroyed) {
      this.finish('socket closed before the handshake');
      return;
    }
    this.handshakeTimer = setTimeout(
      () => void this.close(`handshake not done within ${this.settings.handshakeTimeoutMs} ms`),
      this.settings.handshakeTimeoutMs,
    );
    this.writeMessage({type: 'HELLO', xid: this.allocXid(), elements: [{type: 'VERSION_BITMAP', versions: [OFP.OFP_VERSION]}]});
    this.armIdleTimer(this.settings.echoIntervalMs);
  }

  /** Sends one message with a fresh xid (returned). Never blocks: see `writable` and `flush()`. */
  send(message: Outgoing): number {
    this.assertOpen();
    const xid = this.allocXid();
    this.writeMessage({...message, xid} as OfMessage);
    return xid;
  }

  /**
   * Sends a request and resolves with its reply (a multipart reply joined into one message).
   * Rejects with OpenFlowError if the switch answers with an error, SwitchTimeoutError after
   * `timeoutMs` without a reply (for multipart: without the next part), ConnectionClosedError.
   */
  request<T extends RequestType>(message: OutgoingRequest<T>, options: RequestOptions = {}): Promise<ReplyTo<T>> {
    const type: RequestType = message.type;
    const expect = REPLY_OF[type];
    if (!expect) return Promise.reject(new TypeError(`${String(message.type)} is not a request that gets a reply`));
    try {
      this.assertOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    const xid = this.allocXid();
    let bytes: Buffer;
    try {
      bytes = encodeMessage({...message, xid} as OfMessage); // before anything waits for a reply
    } catch (error) {
      return Promise.reject(error);
    }
    const timeoutMs = options.timeoutMs ?? this.settings.requestTimeoutMs;
    const promise = new Promise<OfMessage>((resolve, reject) => {
      const entry: Pending = {
        expect,
        requestType: type,
        timeoutMs,
        timer: this.requestTimer(xid, type, timeoutMs),
        resolve,
        reject,
      };
      this.pending.set(xid, entry);
    });
    this.writeBytes(bytes);
    return promise as Promise<ReplyTo<T>>;
  }

  /** BARRIER_REQUEST: resolves when the switch has processed everything sent before it. */
  async barrier(options: RequestOptions = {}): Promise<void> {
    await this.request({type: 'BARRIER_REQUEST'}, options);
  }

  /** Round trip of an ECHO_REQUEST in milliseconds. */
  async echo(options: RequestOptions = {}): Promise<number> {
    const started = performance.now();
    await this.request({type: 'ECHO_REQUEST', data: Buffer.alloc(0)}, options);
    return performance.now() - started;
  }

  /**
   * Sends messages that get no reply when they succeed (FLOW_MOD, GROUP_MOD, PACKET_OUT...), then
   * one barrier. Resolves, once the barrier is answered, with one entry per message: the
   * OpenFlowError the switch sent for it, or undefined for success.
   */
  async sendConfirmedBatch(messages: readonly Outgoing[], options: RequestOptions = {}): Promise<Array<OpenFlowError | undefined>> {
    this.assertOpen();
    const results: Array<OpenFlowError | undefined> = messages.map(() => undefined);
    // All encoded first: a message that cannot be encoded fails the batch before any is sent.
    const xids = messages.map(() => this.allocXid());
    const encoded = messages.map((message, i) => encodeMessage({...message, xid: xids[i]!} as OfMessage));
    try {
      encoded.forEach((bytes, i) => {
        this.watched.set(xids[i]!, (error) => (results[i] = error));
        this.writeBytes(bytes);
      });
      await this.barrier(options);
    } finally {
      for (const xid of xids) this.watched.delete(xid);
    }
    return results;
  }

  /** One message, then a barrier: resolves if the switch accepted it, rejects with its OpenFlowError. */
  async sendConfirmed(message: Outgoing, options: RequestOptions = {}): Promise<void> {
    const [error] = await this.sendConfirmedBatch([message], options);
    if (error) throw error;
  }

  /** Resolves once everything sent so far has been handed to the operating system. */
  flush(): Promise<void> {
    if (this.stateValue === 'closed') return Promise.resolve();
    return new Promise((resolve) => {
      if (!this.blocked) {
        // The write callback of an empty chunk runs once every earlier chunk was written out.
        this.socket.write(Buffer.alloc(0), () => resolve());
      } else {
        this.flushWaiters.push(resolve);
      }
    });
  }

  /**
   * Closes the connection (what is queued is still sent). Everything pending rejects with
   * ConnectionClosedError. Idempotent; resolves when the socket is gone.
   */
  close(reason = 'closed by the controller'): Promise<void> {
    this.closing ??= (async () => {
      this.closeReason ??= reason;
      if (!this.socket.destroyed) {
        // Hand over whatever backpressure held back, then a graceful FIN.
        for (const chunk of this.queue.splice(0)) this.socket.write(chunk);
        this.queuedBytesValue = 0;
        const gone = new Promise<void>((resolve) => this.socket.once('close', () => resolve()));
        this.socket.end();
        const timer = setTimeout(() => this.socket.destroy(), this.settings.closeTimeoutMs);
        await gone;
        clearTimeout(timer);
      }
      this.finish(this.closeReason);
    })();
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------

  /** Closed or closing: nothing more is read or sent. */
  private get shut(): boolean {
    return this.stateValue === 'closed' || this.closing !== undefined;
  }

  private assertOpen(): void {
    if (this.stateValue === 'closed' || this.closing) {
      throw new ConnectionClosedError(this.closeReason ?? 'closed', this.datapathId);
    }
  }

  private allocXid(): number {
    const xid = this.nextXid;
    // 0 is left out: switches use it for asynchronous messages.
    this.nextXid = this.nextXid >= 0xffffffff ? 1 : this.nextXid + 1;
    return xid;
  }

  private requestTimer(xid: number, type: string, timeoutMs: number): NodeJS.Timeout {
    return setTimeout(() => {
      const entry = this.pending.get(xid);
      if (!entry) return;
      this.pending.delete(xid);
      entry.reject(new SwitchTimeoutError(type, xid, timeoutMs, this.datapathId));
    }, timeoutMs);
  }

  private writeMessage(message: OfMessage): void {
    this.writeBytes(encodeMessage(message));
  }

  private writeBytes(bytes: Buffer): void {
    if (this.blocked) {
      this.queue.push(bytes);
      this.queuedBytesValue += bytes.length;
      if (this.queuedBytesValue > this.settings.maxQueuedBytes) {
        void this.close(`switch not reading: ${this.queuedBytesValue} bytes queued (maxQueuedBytes ${this.settings.maxQueuedBytes})`);
      }
      return;
    }
    if (!this.socket.write(bytes)) this.blocked = true;
  }

  private onDrain(): void {
    this.blocked = false;
    while (this.queue.length > 0 && !this.blocked) {
      const chunk = this.queue.shift()!;
      this.queuedBytesValue -= chunk.length;
      if (!this.socket.write(chunk)) this.blocked = true;
    }
    if (!this.blocked) {
      const waiters = this.flushWaiters.splice(0);
      if (waiters.length > 0) this.socket.write(Buffer.alloc(0), () => waiters.forEach((w) => w()));
    }
  }

  private onData(chunk: Buffer): void {
    if (this.stateValue === 'closed' || this.closing) return;
    this.lastHeardMs = Date.now();
    this.echoOutstanding = false;
    if (this.streamHead.length < 2 && !this.checkStreamHead(chunk)) return;
    let frames: Buffer[];
    try {
      frames = this.framer.push(chunk);
    } catch (error) {
      this.protocolFailure('unframeable bytes from the switch', error);
      return;
    }
    for (const frame of frames) {
      if (this.shut) return;
      let message: OfMessage;
      try {
        message = decodeMessage(frame);
      } catch (error) {
        this.undecodable(frame, error);
        continue;
      }
      try {
        this.dispatch(message);
      } catch (error) {
        // A listener threw: that is a bug of ours, not the switch's; keep the connection.
        this.logger.error('error while handling a switch message', {
          datapathId: formatDpid(this.datapathId), type: message.type, error: (error as Error).message,
        });
      }
    }
  }

  /**
   * The stream must open with a HELLO header. Checked on its first two bytes, so that a peer
   * speaking something else (an HTTP probe, a port scanner) is dropped at once instead of
   * leaving the framer waiting for the 20 kB its first bytes happen to announce.
   */
  private checkStreamHead(chunk: Buffer): boolean {
    this.streamHead = Buffer.concat([this.streamHead, chunk.subarray(0, 2 - this.streamHead.length)]);
    if (this.streamHead.length < 2) return true;
    const [version, type] = [this.streamHead[0]!, this.streamHead[1]!];
    if (type === OFP.OFPT_HELLO && version >= 1 && version <= 0x7f) return true;
    this.protocolFailure('not an OpenFlow peer', new Error(`stream starts with 0x${this.streamHead.toString('hex')}, not a HELLO header`));
    return false;
  }

  /**
   * A well-framed message that does not decode. A bad version means the peer does not speak
   * OpenFlow 1.3: close. Otherwise the stream is still in sync (the framer found the next
   * header), so one odd message does not cost the whole switch: the request it answers fails,
   * or the message is reported and dropped.
   */
  private undecodable(frame: Buffer, error: unknown): void {
    const decodeError = error instanceof DecodeError ? error : undefined;
    if (!decodeError || decodeError.reason === 'BAD_VERSION' || !this.gotHello) {
      this.protocolFailure('undecodable message from the switch', error);
      return;
    }
    const xid = frame.readUInt32BE(4);
    const entry = this.pending.get(xid);
    this.logger.warn('dropped an undecodable message from the switch', {
      datapathId: formatDpid(this.datapathId), address: this.address, error: decodeError.message,
      answersRequest: entry?.requestType,
    });
    if (entry) {
      this.pending.delete(xid);
      clearTimeout(entry.timer);
      entry.reject(decodeError);
    }
  }

  private protocolFailure(what: string, error: unknown): void {
    const detail = error instanceof Error ? error.message : String(error);
    this.logger.warn(`closing switch connection: ${what}`, {
      datapathId: formatDpid(this.datapathId), address: this.address, error: detail,
    });
    void this.close(`${what}: ${detail}`);
  }

  private dispatch(message: OfMessage): void {
    if (!this.gotHello) {
      if (message.type !== 'HELLO') {
        this.protocolFailure('protocol error', new Error(`expected HELLO first, got ${message.type}`));
        return;
      }
      this.onHello(message);
      return;
    }
    switch (message.type) {
      case 'HELLO':
        this.logger.debug('ignored a second HELLO', {datapathId: formatDpid(this.datapathId)});
        return;
      case 'ECHO_REQUEST':
        this.writeMessage({type: 'ECHO_REPLY', xid: message.xid, data: message.data});
        return;
      case 'ERROR':
        this.onError(message);
        return;
      default:
        if (REPLY_TYPES.has(message.type) && this.pending.has(message.xid)) {
          this.onReply(message);
          return;
        }
        if (REPLY_TYPES.has(message.type)) {
          this.logger.debug('dropped a reply nobody waits for (late, after its timeout?)', {
            datapathId: formatDpid(this.datapathId), type: message.type, xid: message.xid,
          });
          return;
        }
        this.emit('message', message);
    }
  }

  private onHello(message: OfMessageOf<'HELLO'>): void {
    const bitmap = message.elements.find((e) => e.type === 'VERSION_BITMAP');
    const peerVersion = message.version ?? OFP.OFP_VERSION;
    // With a bitmap both sides know each other's versions exactly; without one, the common
    // version is the lower of the two headers' (OpenFlow 1.3.5, 6.3.1).
    const compatible = bitmap ? bitmap.versions.includes(OFP.OFP_VERSION) : peerVersion >= OFP.OFP_VERSION;
    if (!compatible) {
      const offered = bitmap ? `versions ${bitmap.versions.join(',')}` : `version ${peerVersion}`;
      const text = `flowkeeper speaks OpenFlow 1.3 (version 4) only; the switch offered ${offered}`;
      this.writeMessage({
        type: 'ERROR',
        xid: message.xid,
        // In the peer's own version so that it can read the refusal.
        ...(peerVersion < OFP.OFP_VERSION ? {version: peerVersion} : {}),
        errorType: OFP.OFPET_HELLO_FAILED,
        code: OFP.OFPHFC_INCOMPATIBLE,
        data: Buffer.from(text, 'ascii'),
      });
      this.logger.warn('closing switch connection: no common OpenFlow version', {address: this.address, offered});
      void this.close(`no common OpenFlow version (${offered})`);
      return;
    }
    this.gotHello = true;
    this.request({type: 'FEATURES_REQUEST'}, {timeoutMs: this.settings.handshakeTimeoutMs}).then(
      (features) => this.onFeatures(features),
      (error: Error) => {
        if (!(error instanceof ConnectionClosedError)) void this.close(`FEATURES_REQUEST failed: ${error.message}`);
      },
    );
  }

  private onFeatures(features: FeaturesReplyMessage): void {
    if (this.stateValue !== 'handshake') return;
    clearTimeout(this.handshakeTimer);
    this.datapathId = features.datapathId;
    this.features = features;
    this.stateValue = 'ready';
    this.logger.info('switch connected', {
      datapathId: formatDpid(features.datapathId), address: this.address, tables: features.nTables,
    });
    this.emit('ready', {datapathId: features.datapathId, features});
  }

  private onError(message: ErrorMessage): void {
    const error = new OpenFlowError(message, this.datapathId);
    if (message.type === 'ERROR' && message.errorType === OFP.OFPET_HELLO_FAILED && this.stateValue === 'handshake') {
      this.protocolFailure('the switch refused the HELLO', error);
      return;
    }
    const entry = this.pending.get(message.xid);
    if (entry) {
      this.pending.delete(message.xid);
      clearTimeout(entry.timer);
      entry.reject(error);
      return;
    }
    const watcher = this.watched.get(message.xid);
    if (watcher) {
      this.watched.delete(message.xid);
      watcher(error);
      return;
    }
    this.emit('message', message);
  }

  private onReply(message: OfMessage): void {
    const entry = this.pending.get(message.xid)!;
    if (message.type !== entry.expect) {
      this.pending.delete(message.xid);
      clearTimeout(entry.timer);
      entry.reject(new Error(`switch answered ${entry.requestType} (xid ${message.xid}) with ${message.type}, expected ${entry.expect}`));
      return;
    }
    if (message.type === 'MULTIPART_REPLY') {
      const parts = (entry.parts ??= []);
      parts.push(message);
      if (message.flags & OFP.OFPMPF_REPLY_MORE) {
        // The timeout is for silence: a long table dump that keeps coming is alive.
        entry.timer.refresh();
        return;
      }
      this.pending.delete(message.xid);
      clearTimeout(entry.timer);
      try {
        entry.resolve({...message, flags: 0, body: joinMultipartBodies(parts.map((p) => p.body))});
      } catch (error) {
        entry.reject(error as Error);
      }
      return;
    }
    this.pending.delete(message.xid);
    clearTimeout(entry.timer);
    entry.resolve(message);
  }

  /** One timer, re-armed lazily: traffic does not touch it, it checks the idle time when it fires. */
  private armIdleTimer(delayMs: number): void {
    this.idleTimer = setTimeout(() => this.checkIdle(), Math.max(1, delayMs));
  }

  private checkIdle(): void {
    if (this.stateValue === 'closed' || this.closing) return;
    const idleMs = Date.now() - this.lastHeardMs;
    const {echoIntervalMs, inactivityTimeoutMs} = this.settings;
    if (idleMs >= inactivityTimeoutMs) {
      this.logger.warn('closing switch connection: silent switch', {datapathId: formatDpid(this.datapathId), idleMs});
      void this.close(`no message from the switch for ${idleMs} ms (inactivityTimeoutMs ${inactivityTimeoutMs})`);
      return;
    }
    if (idleMs >= echoIntervalMs) {
      if (!this.echoOutstanding && this.gotHello) {
        this.echoOutstanding = true;
        // Its reply (any traffic, really) moves lastHeardMs; failure is handled by the idle check.
        this.echo({timeoutMs: inactivityTimeoutMs}).catch(() => {});
      }
      this.armIdleTimer(inactivityTimeoutMs - idleMs);
    } else {
      this.armIdleTimer(echoIntervalMs - idleMs);
    }
  }

  /** Final state, once: timers off, pending requests rejected, 'closed' emitted. */
  private finish(reason: string): void {
    if (this.stateValue === 'closed') return;
    this.stateValue = 'closed';
    this.closeReason ??= reason;
    clearTimeout(this.idleTimer);
    clearTimeout(this.handshakeTimer);
    if (!this.socket.destroyed) this.socket.destroy();
    const closed = new ConnectionClosedError(reason, this.datapathId);
    for (const [xid, entry] of this.pending) {
      clearTimeout(entry.timer);
      this.pending.delete(xid);
      entry.reject(closed);
    }
    this.watched.clear();
    this.queue.length = 0;
    this.queuedBytesValue = 0;
    for (const waiter of this.flushWaiters.splice(0)) waiter();
    this.logger.info('switch disconnected', {datapathId: formatDpid(this.datapathId), address: this.address, reason});
    this.resolveClosed(reason);
    this.emit('closed', reason);
  }
}
