/**
 * One switch's OpenFlow 1.3 channel over TCP: HELLO negotiation, FEATURES (the datapath id),
 * echo both ways with an inactivity timeout, requests matched to replies by xid with a timeout
 * each, multipart replies joined, barrier-confirmed batches, ONF bundles (EXT-230), and write
 * backpressure.
 *
 * Output: messages are encoded straight into 64 KiB chunks, one socket write per chunk (a
 * partial chunk at the end of the tick); under backpressure whole chunks wait in a queue. Batches
 * and bundles of any size are streamed, a few chunks at a time as the switch reads, so that
 * memory stays bounded and the event loop is never held for long.
 *
 * The connection never decides anything about roles: it reports what the switch said (replies,
 * errors, asynchronous messages) and the registry decides.
 */
import {EventEmitter} from 'node:events';
import type {Socket} from 'node:net';
import {
  DecodeError,
  EncodeError,
  OFP,
  OfFramer,
  decodeMessage,
  encodeMessageInto,
  errorName,
  describeError,
  type BundleControlMessage,
  type ErrorMessage,
  type FeaturesReplyMessage,
  type MultipartReplyBody,
  type MultipartReplyMessage,
  type OfMessage,
  type OfMessageOf,
} from './codec.js';
import {Writer} from './codec-io.js';

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

/** The switch refused an index of a batch or a bundle: which message, and why. */
export interface MessageFailure {
  /** Index into the messages given. */
  index: number;
  error: OpenFlowError;
}

/**
 * A bundle was not committed: the switch refused to open it, refused messages as they were
 * added, or refused the commit (for an ATOMIC bundle: nothing of it took effect). `failures`
 * names the messages the switch refused, by index; `controlError` is the refusal of the OPEN or
 * COMMIT request itself (OFPBFC_MSG_FAILED when a message failed at commit time).
 */
export class BundleError extends Error {
  override readonly name = 'BundleError';
  readonly retriable = false;
  constructor(
    message: string,
    readonly bundleId: number,
    readonly stage: 'open' | 'add' | 'commit',
    readonly failures: readonly MessageFailure[],
    readonly controlError?: OpenFlowError,
  ) {
    super(message);
  }
}

/**
 * A message of a batch could not be encoded after earlier ones had already gone out (a batch is
 * streamed: an EncodeError within its first 64 KiB sends nothing). Those earlier messages were
 * confirmed with a barrier: `results` has their outcomes (undefined: accepted), nothing from
 * `index` on was sent.
 */
export class BatchEncodeError extends EncodeError {
  constructor(
    cause: EncodeError,
    /** The message that could not be encoded (nothing from it on was sent). */
    readonly index: number,
    readonly results: ReadonlyArray<OpenFlowError | undefined>,
  ) {
    super(cause.field, `${cause.message.replace(/^cannot encode [^:]*: /, '')} (message ${index} of the batch; the ${index} before it were sent and confirmed)`);
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
  /** ONF bundles: the reply to a control request is a control message of type request + 1. */
  BUNDLE_CONTROL: 'BUNDLE_CONTROL',
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
// Output, batches and bundles
// ---------------------------------------------------------------------------------------------

/** Messages go to the socket in chunks of this many bytes (fewer at the end of a tick). */
export const CHUNK_BYTES = 64 * 1024;
const EMPTY = Buffer.alloc(0);
/** A stream yields to the event loop after this many chunks even if the socket takes more. */
const CHUNKS_PER_RUN = 4;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A batch or bundle waiting for errors about its messages. */
interface Watch {
  /** The xids of its messages, by index, in the order they were sent. */
  xids: number[];
  /** An ERROR about message `index`; false to leave it to the 'message' event. */
  onError(index: number, error: OpenFlowError): boolean;
}

/** A stream waiting for the output. */
interface StreamTurn {
  start(): void;
  fail(error: Error): void;
}

/**
 * The index of `xid` in `xids` (allocated one after the other, so increasing from the first
 * modulo 2^32), or -1.
 */
export function indexOfXid(xids: readonly number[], xid: number): number {
  const n = xids.length;
  if (n === 0) return -1;
  const base = xids[0]!;
  const target = (xid - base) >>> 0;
  if (target > (xids[n - 1]! - base) >>> 0) return -1;
  let lo = 0;
  let hi = n - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = (xids[mid]! - base) >>> 0;
    if (at === target) return mid;
    if (at < target) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

export interface BundleOptions extends RequestOptions {
  /** OFPBF_ATOMIC | OFPBF_ORDERED by default (as `ovs-ofctl --bundle`). */
  flags?: number;
  /** Default: the connection's next id (1, 2, ...). */
  bundleId?: number;
}

/** A bundle opened on a switch (see SwitchConnection.openBundle). */
export interface OpenBundle {
  readonly bundleId: number;
  readonly flags: number;
  /** Messages added so far. */
  readonly added: number;
  /**
   * Adds messages (streamed like a batch); resolves once they are written. Refusals are known at
   * commit(). Throws EncodeError for a message that cannot be encoded (those before it are added).
   */
  add(messages: readonly Outgoing[], options?: RequestOptions): Promise<void>;
  /**
   * A barrier (every add processed), then COMMIT unless the switch refused to open the bundle or
   * refused an added message; resolves on the commit reply. Rejects with BundleError (stage
   * 'open', 'add' or 'commit', the refused messages by index); after 'open' or 'add', discard().
   */
  commit(options?: RequestOptions): Promise<void>;
  /** DISCARD (nothing is applied). Not sent for a bundle the switch refused to open. */
  discard(options?: RequestOptions): Promise<void>;
}

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
  /** Batches and bundles awaiting their outcome: an ERROR with one of their xids is theirs. */
  private readonly watches = new Set<Watch>();
  private nextXid = 1;
  private gotHello = false;
  /** The first two bytes of the stream (version and type of the first header). */
  private streamHead = Buffer.alloc(0);
  private started = false;
  private lastHeardMs = Date.now();
  private echoOutstanding = false;
  private idleTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  // Output. Messages are encoded straight into `out`, the chunk being filled; a chunk goes to
  // the socket once it holds CHUNK_BYTES, or at the end of the tick (one socket.write per chunk,
  // not per message). Once socket.write says "enough", chunks wait in `queue` (consumed from
  // `queueHead`: no shift()) until 'drain', and `out` keeps what comes meanwhile.
  private readonly out = new Writer(2 * CHUNK_BYTES);
  /** Counts the chunks taken from `out`: unchanged means nothing appended since left it. */
  private outEpoch = 0;
  private flushScheduled = false;
  private readonly queue: Array<Buffer | undefined> = [];
  private queueHead = 0;
  private queuedBytesValue = 0;
  private blocked = false;
  private flushWaiters: Array<() => void> = [];
  /** Streams waiting for 'drain' (or the close) to go on. */
  private writableWaiters: Array<() => void> = [];
  /**
   * A stream (a batch or bundle written over several ticks, see stream()) owns the output while
   * it runs; what is sent meanwhile waits in `behind`, in call order, with the streams that
   * were asked for after it.
   */
  private streaming = false;
  private readonly behind: Array<Writer | StreamTurn> = [];
  private deferredBytes = 0;
  private nextBundleId = 1;
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

  /**
   * Bytes accepted and not yet handed to the socket because it asked us to wait, or because a
   * batch or bundle is being streamed ahead of them (0 when neither).
   */
  get queuedBytes(): number {
    return this.queuedBytesValue + (this.blocked ? this.out.pos : 0) + this.deferredBytes;
  }

  /**
   * False while the socket applies backpressure, or a batch or bundle is being streamed: sends
   * are then held locally (see `flush()`).
   */
  get writable(): boolean {
    return !this.blocked && !this.streaming && this.stateValue !== 'closed';
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
    this.emitMessage({type: 'HELLO', elements: [{type: 'VERSION_BITMAP', versions: [OFP.OFP_VERSION]}]}, this.allocXid());
    this.armIdleTimer(this.settings.echoIntervalMs);
  }

  /**
   * Sends one message with a fresh xid, or the one given (for a reply to the switch), and returns
   * it. Never blocks: see `writable` and `flush()`. Messages sent in the same tick go out
   * together, in one socket write.
   */
  send(message: Outgoing, options: {xid?: number} = {}): number {
    this.assertOpen();
    const xid = options.xid ?? this.allocXid();
    this.emitMessage(message, xid);
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
    return this.requestOn(message as Outgoing, expect, type, options, false) as Promise<ReplyTo<T>>;
  }

  /** request(), for a request that belongs to the running stream (`inStream`) or not. */
  private requestOn(message: Outgoing, expect: string, type: string, options: RequestOptions, inStream: boolean): Promise<OfMessage> {
    const xid = this.allocXid();
    try {
      // Encoded before anything waits for a reply (a reply cannot come before this returns).
      if (inStream) this.appendOut(message, xid);
      else this.emitMessage(message, xid);
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
    return promise;
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
   *
   * The batch is streamed: encoded and written 64 KiB at a time, waiting for the socket to drain
   * in between, so that memory stays bounded and the switch starts at once whatever the batch's
   * size. It still goes out contiguously: what is sent meanwhile follows it, and a batch asked
   * for later waits its turn. `timeoutMs` bounds the wait for the barrier and each wait for the
   * switch to read more (SwitchTimeoutError). A message that cannot be encoded fails the batch:
   * with its EncodeError when it is within the first 64 KiB (nothing was sent), otherwise with a
   * BatchEncodeError once the messages before it are confirmed.
   */
  async sendConfirmedBatch(messages: readonly Outgoing[], options: RequestOptions = {}): Promise<Array<OpenFlowError | undefined>> {
    this.assertOpen();
    const results: Array<OpenFlowError | undefined> = new Array<OpenFlowError | undefined>(messages.length).fill(undefined);
    const watch: Watch = {
      xids: [],
      onError: (index, error) => {
        if (results[index]) return false; // a second error for one message: reported as a message
        results[index] = error;
        return true;
      },
    };
    this.watches.add(watch);
    try {
      let barrier: Promise<OfMessage> | undefined;
      const {written, failure} = await this.stream(messages, watch, options, 'batch', () => {
        barrier = this.requestOn({type: 'BARRIER_REQUEST'}, 'BARRIER_REPLY', 'BARRIER_REQUEST', options, true);
      });
      if (failure && written === 0) throw failure; // nothing of the batch went out
      await barrier;
      if (failure) throw new BatchEncodeError(failure, written, results.slice(0, written));
    } finally {
      this.watches.delete(watch);
    }
    return results;
  }

  /** One message, then a barrier: resolves if the switch accepted it, rejects with its OpenFlowError. */
  async sendConfirmed(message: Outgoing, options: RequestOptions = {}): Promise<void> {
    const [error] = await this.sendConfirmedBatch([message], options);
    if (error) throw error;
  }

  /**
   * Opens an ONF bundle (EXT-230: OpenFlow 1.4 bundles in OpenFlow 1.3, as Open vSwitch has
   * them) and returns it at once; the OPEN request is pipelined with what is added next. Add
   * messages with `add()` (streamed like a batch), then `commit()`: the switch applies them
   * all, or (ATOMIC, the default with ORDERED) none. sendBundle() does the three at once.
   */
  openBundle(options: BundleOptions = {}): OpenBundle {
    this.assertOpen();
    const bundleId = options.bundleId ?? this.allocBundleId();
    const flags = options.flags ?? OFP.OFPBF_ATOMIC | OFP.OFPBF_ORDERED;
    const failures: MessageFailure[] = [];
    let added = 0;
    let settled: 'committed' | 'discarded' | undefined;
    const watch: Watch = {
      xids: [],
      onError: (index, error) => {
        failures.push({index, error});
        return true;
      },
    };
    this.watches.add(watch);
    const control = (controlType: number, requestOptions: RequestOptions): Promise<BundleControlMessage> =>
      this.requestOn({type: 'BUNDLE_CONTROL', bundleId, controlType, flags}, 'BUNDLE_CONTROL', 'BUNDLE_CONTROL', requestOptions, false).then((reply) => {
        const r = reply as BundleControlMessage;
        if (r.bundleId !== bundleId || r.controlType !== controlType + 1) {
          throw new Error(`switch ${formatDpid(this.datapathId)} answered bundle ${bundleId} control ${controlType} with bundle ${r.bundleId} control ${r.controlType}`);
        }
        return r;
      });
    const opened = control(OFP.OFPBCT_OPEN_REQUEST, options);
    opened.catch(() => {}); // awaited by commit()
    const finish = (state: 'committed' | 'discarded'): void => {
      settled = state;
      this.watches.delete(watch);
    };
    const byIndex = (): MessageFailure[] => [...failures].sort((a, b) => a.index - b.index);
    const openFailure = async (): Promise<BundleError | undefined> => {
      try {
        await opened;
        return undefined;
      } catch (error) {
        if (!(error instanceof OpenFlowError)) throw error;
        return new BundleError(`switch ${formatDpid(this.datapathId)} refused to open bundle ${bundleId}: ${describeError(error)}`, bundleId, 'open', [], error);
      }
    };

    const bundle: OpenBundle = {
      bundleId,
      flags,
      get added() {
        return added;
      },
      add: async (messages, addOptions = {}) => {
        if (settled) throw new Error(`bundle ${bundleId} is already ${settled}`);
        const wrapped = {
          length: messages.length,
          at: (i: number): Outgoing => {
            const m = messages[i]!;
            // The connection assigns xids: whatever the message says is ignored, as by send().
            return {type: 'BUNDLE_ADD_MESSAGE', bundleId, flags, message: m.xid ? {...m, xid: undefined} as Outgoing : m};
          },
        };
        const {written, failure} = await this.stream(wrapped, watch, {...options, ...addOptions}, `bundle ${bundleId}`);
        added += written;
        if (failure) throw failure;
      },
      commit: async (commitOptions = {}) => {
        if (settled) throw new Error(`bundle ${bundleId} is already ${settled}`);
        const o = {...options, ...commitOptions};
        try {
          // Every add processed (refusals known) before deciding to commit, as ovs-ofctl does.
          await this.barrier(o);
          const refusedOpen = await openFailure();
          if (refusedOpen) throw refusedOpen;
          if (failures.length > 0) {
            const first = byIndex()[0]!;
            throw new BundleError(
              `switch ${formatDpid(this.datapathId)} refused ${failures.length} message(s) added to bundle ${bundleId}, first message ${first.index}: ${describeError(first.error)}`,
              bundleId, 'add', byIndex(),
            );
          }
          try {
            await control(OFP.OFPBCT_COMMIT_REQUEST, o);
          } catch (error) {
            if (!(error instanceof OpenFlowError)) throw error;
            const failed = byIndex();
            const which = failed.length > 0 ? `, message ${failed[0]!.index}: ${describeError(failed[0]!.error)}` : '';
            throw new BundleError(
              `switch ${formatDpid(this.datapathId)} refused to commit bundle ${bundleId} (${describeError(error)})${which}`, bundleId, 'commit', failed, error,
            );
          }
          finish('committed');
        } finally {
          // Refusals of added messages all come before the barrier's reply, refusals at commit
          // time before the commit's: nothing more is this bundle's.
          this.watches.delete(watch);
        }
      },
      discard: async (discardOptions = {}) => {
        if (settled) return;
        finish('discarded');
        if (await openFailure().catch(() => undefined)) return; // never opened: nothing to discard (and the id may be someone else's)
        await control(OFP.OFPBCT_DISCARD_REQUEST, {...options, ...discardOptions});
      },
    };
    return bundle;
  }

  /**
   * Sends `messages` as one ONF bundle (see openBundle): OPEN, every message added (streamed),
   * a barrier, then COMMIT, or DISCARD if the switch refused a message as it was added. Resolves
   * once the switch confirmed the commit. Rejects with BundleError naming the messages the switch
   * refused (by index), SwitchTimeoutError, ConnectionClosedError or EncodeError.
   */
  async sendBundle(messages: readonly Outgoing[], options: BundleOptions = {}): Promise<void> {
    const bundle = this.openBundle(options);
    try {
      await bundle.add(messages);
      await bundle.commit();
    } catch (error) {
      if (!(error instanceof BundleError && error.stage === 'commit') && this.stateValue !== 'closed') {
        await bundle.discard().catch(() => {}); // best effort: the error says what went wrong
      }
      throw error;
    }
  }

  /**
   * Resolves once everything sent so far has been handed to the operating system (after any
   * batch or bundle being streamed).
   */
  flush(): Promise<void> {
    if (this.stateValue === 'closed') return Promise.resolve();
    return new Promise((resolve) => {
      this.flushWaiters.push(resolve);
      this.settleFlushes();
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
        // Hand over whatever backpressure or a stream held back, then a graceful FIN.
        for (let i = this.queueHead; i < this.queue.length; i++) this.socket.write(this.queue[i]!);
        this.queue.length = 0;
        this.queueHead = 0;
        this.queuedBytesValue = 0;
        if (this.out.pos > 0) this.socket.write(this.takeChunk(this.out.pos));
        for (const item of this.behind) if (item instanceof Writer && item.pos > 0) this.socket.write(item.finish());
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

  private allocBundleId(): number {
    const id = this.nextBundleId;
    this.nextBundleId = this.nextBundleId >= 0xffffffff ? 1 : this.nextBundleId + 1;
    return id;
  }

  /**
   * Sends one message: into the output, or, while a stream runs, behind it (in call order; echo
   * requests and replies excepted). Throws EncodeError, having sent nothing.
   */
  private emitMessage(message: Outgoing | OfMessage, xid: number): void {
    // Echoes keep the connection alive and mean nothing for ordering: they may go between two
    // messages of a stream rather than wait for its end (the output always ends on a message).
    if ((!this.streaming && this.behind.length === 0) || message.type === 'ECHO_REQUEST' || message.type === 'ECHO_REPLY') {
      this.appendOut(message, xid);
      return;
    }
    let w = this.behind.at(-1);
    if (!(w instanceof Writer)) {
      w = new Writer(256);
      this.behind.push(w);
    }
    const length = encodeMessageInto(w, message as OfMessage, xid);
    this.deferredBytes += length;
    this.checkQueueLimit();
  }

  /** Encodes one message into the output chunk; a full chunk goes out (or waits) at once. */
  private appendOut(message: Outgoing | OfMessage, xid: number): void {
    encodeMessageInto(this.out, message as OfMessage, xid);
    this.afterAppend();
  }

  private afterAppend(): void {
    if (this.out.pos >= CHUNK_BYTES) {
      this.writeChunk(this.takeChunk(CHUNK_BYTES));
      // What ran past the chunk is at the start of `out` now (less than a chunk).
    }
    if (this.out.pos > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(this.flushOut);
    }
  }

  /** End of the tick: the partial chunk goes out (unless the socket asked us to wait). */
  private readonly flushOut = (): void => {
    this.flushScheduled = false;
    if (this.blocked || this.out.pos === 0 || this.stateValue === 'closed' || this.closing) return;
    this.writeChunk(this.takeChunk(this.out.pos));
  };

  /** The first `end` bytes of `out`, copied out; the rest moves to the start of `out`. */
  private takeChunk(end: number): Buffer {
    const w = this.out;
    const chunk = Buffer.allocUnsafe(end);
    w.buf.copy(chunk, 0, 0, end);
    if (w.pos > end) w.buf.copy(w.buf, 0, end, w.pos);
    w.pos -= end;
    this.outEpoch++;
    return chunk;
  }

  private writeChunk(chunk: Buffer): void {
    if (this.blocked) {
      this.queue.push(chunk);
      this.queuedBytesValue += chunk.length;
      this.checkQueueLimit();
      return;
    }
    if (!this.socket.write(chunk)) this.blocked = true;
  }

  private checkQueueLimit(): void {
    const queued = this.queuedBytes;
    if (queued > this.settings.maxQueuedBytes && !this.closing) {
      void this.close(`switch not reading: ${queued} bytes queued (maxQueuedBytes ${this.settings.maxQueuedBytes})`);
    }
  }

  private onDrain(): void {
    this.blocked = false;
    const queue = this.queue;
    while (this.queueHead < queue.length && !this.blocked) {
      const chunk = queue[this.queueHead]!;
      queue[this.queueHead++] = undefined;
      this.queuedBytesValue -= chunk.length;
      if (!this.socket.write(chunk)) this.blocked = true;
    }
    if (this.queueHead === queue.length) {
      queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead >= 1024 && this.queueHead * 2 >= queue.length) {
      queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    if (this.blocked) return;
    // What came while we waited (less than a chunk): it is older than anything sent from now on.
    if (this.out.pos > 0 && !this.closing) this.writeChunk(this.takeChunk(this.out.pos));
    if (this.blocked) return;
    for (const waiter of this.writableWaiters.splice(0)) waiter();
    this.settleFlushes();
  }

  /** Resolves flush() waiters once nothing is held back any more. */
  private settleFlushes(): void {
    // Closing: close() hands everything over, and finish() resolves the waiters.
    if (this.flushWaiters.length === 0 || this.blocked || this.streaming || this.behind.length > 0 || this.closing) return;
    if (this.stateValue === 'closed') {
      for (const waiter of this.flushWaiters.splice(0)) waiter();
      return;
    }
    if (this.out.pos > 0) {
      this.writeChunk(this.takeChunk(this.out.pos));
      if (this.blocked) return;
    }
    const waiters = this.flushWaiters.splice(0);
    // The write callback of an empty chunk runs once every earlier chunk was written out.
    this.socket.write(EMPTY, () => waiters.forEach((w) => w()));
  }

  /**
   * Writes `source.length` messages as this connection's stream: the output is theirs until done,
   * and they go out while the socket takes more, pausing for 'drain' in between (no more than
   * about a chunk is ever held here), and yielding to the event loop every CHUNKS_PER_RUN chunks. `then` appends what must follow them directly (a barrier).
   * Message i gets the next xid, appended to `watch.xids`. Resolves with the
   * number written and, if message `written` could not be encoded, its EncodeError (what was
   * still in `out` of this stream is then taken back, when nothing of it went out yet).
   * Rejects with ConnectionClosedError, or SwitchTimeoutError when the switch does not read for
   * `timeoutMs`.
   */
  private async stream(
    source: readonly Outgoing[] | {length: number; at(i: number): Outgoing},
    watch: Watch,
    options: RequestOptions,
    what: string,
    then?: () => void,
  ): Promise<{written: number; failure?: EncodeError}> {
    const turn = this.takeStreamTurn();
    if (turn) await turn;
    const timeoutMs = options.timeoutMs ?? this.settings.requestTimeoutMs;
    const at = Array.isArray(source) ? (i: number) => (source as readonly Outgoing[])[i]! : (source as {at(i: number): Outgoing}).at;
    const count = source.length;
    let i = 0;
    let firstPos = -1;
    let firstEpoch = -1;
    let failure: EncodeError | undefined;
    try {
      while (i < count) {
        if (this.shut) throw new ConnectionClosedError(this.closeReason ?? 'closed', this.datapathId);
        if (this.blocked) {
          await this.waitWritable(timeoutMs, what, watch.xids.at(-1) ?? 0);
          continue;
        }
        // One synchronous run while the socket takes more, and no more than a few chunks: the
        // kernel may take megabytes at once, and other switches' traffic should not wait.
        const runEpoch = this.outEpoch;
        while (i < count && !this.blocked && this.outEpoch - runEpoch < CHUNKS_PER_RUN) {
          const xid = this.allocXid();
          if (i === 0) {
            firstPos = this.out.pos;
            firstEpoch = this.outEpoch;
          }
          try {
            encodeMessageInto(this.out, at(i) as OfMessage, xid);
          } catch (error) {
            if (!(error instanceof EncodeError)) throw error;
            failure = error;
            if (i > 0 && this.outEpoch === firstEpoch) {
              // Nothing of this stream left `out` yet: take it all back.
              this.out.pos = firstPos;
              watch.xids.length -= i;
              i = 0;
            }
            break;
          }
          watch.xids.push(xid);
          i++;
          this.afterAppend();
        }
        if (failure) break;
        if (i < count && !this.blocked) await yieldToEventLoop();
      }
      if (i > 0 || !failure) then?.();
    } finally {
      this.releaseStreamTurn();
    }
    return {written: i, failure};
  }

  /** The output for a stream: at once (undefined) if free, else a promise of its turn. */
  private takeStreamTurn(): Promise<void> | undefined {
    if (!this.streaming && this.behind.length === 0) {
      this.streaming = true;
      return undefined;
    }
    return new Promise((resolve, reject) => {
      this.behind.push({
        start: () => {
          this.streaming = true;
          resolve();
        },
        fail: reject,
      });
    });
  }

  /** The stream is done: what waited behind it goes out, up to the next stream. */
  private releaseStreamTurn(): void {
    this.streaming = false;
    while (this.behind.length > 0 && !this.streaming && !this.shut) {
      const item = this.behind.shift()!;
      if (item instanceof Writer) {
        this.deferredBytes -= item.pos;
        this.appendBytes(item.buf, item.pos);
      } else {
        item.start();
      }
    }
    this.settleFlushes();
  }

  /** Copies already encoded bytes into the output, chunk by chunk. */
  private appendBytes(bytes: Buffer, length: number): void {
    let pos = 0;
    while (pos < length) {
      const n = Math.min(length - pos, CHUNK_BYTES - this.out.pos);
      this.out.ensure(n);
      bytes.copy(this.out.buf, this.out.pos, pos, pos + n);
      this.out.pos += n;
      pos += n;
      this.afterAppend();
    }
  }

  private waitWritable(timeoutMs: number, what: string, lastXid: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.writableWaiters = this.writableWaiters.filter((w) => w !== waiter);
        reject(new SwitchTimeoutError(`${what} (the switch read nothing more)`, lastXid, timeoutMs, this.datapathId));
      }, timeoutMs);
      this.writableWaiters.push(waiter);
    });
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
        this.emitMessage({type: 'ECHO_REPLY', data: message.data}, message.xid);
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
      this.emitMessage({
        type: 'ERROR',
        xid: message.xid,
        // In the peer's own version so that it can read the refusal.
        ...(peerVersion < OFP.OFP_VERSION ? {version: peerVersion} : {}),
        errorType: OFP.OFPET_HELLO_FAILED,
        code: OFP.OFPHFC_INCOMPATIBLE,
        data: Buffer.from(text, 'ascii'),
      }, message.xid);
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
    // Debug: the registry logs the switch at info once its role is asserted (one line per event).
    this.logger.debug('switch connected', {
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
    for (const watch of this.watches) {
      const index = indexOfXid(watch.xids, message.xid);
      if (index >= 0 && watch.onError(index, error)) return;
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
    this.watches.clear();
    this.queue.length = 0;
    this.queueHead = 0;
    this.queuedBytesValue = 0;
    this.out.reset();
    this.deferredBytes = 0;
    for (const item of this.behind.splice(0)) if (!(item instanceof Writer)) item.fail(closed);
    for (const waiter of this.writableWaiters.splice(0)) waiter(); // each stream then sees the close
    for (const waiter of this.flushWaiters.splice(0)) waiter();
    // A switch the handshake identified is logged at info by the registry; a connection that
    // never got that far (a port scan, garbage, a wrong protocol) only here.
    const level = this.datapathId === undefined ? 'info' : 'debug';
    this.logger[level]('switch disconnected', {datapathId: formatDpid(this.datapathId), address: this.address, reason});
    this.resolveClosed(reason);
    this.emit('closed', reason);
  }
}
