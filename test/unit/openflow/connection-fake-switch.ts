/**
 * A scriptable OpenFlow 1.3 "switch" on a real loopback TCP socket, for connection tests: it
 * answers HELLO, FEATURES_REQUEST and echo requests unless told not to, records everything it
 * receives, and lets a test send any message or raw bytes, in any chunking.
 */
import {once} from 'node:events';
import {connect, type Socket} from 'node:net';
import type {ConnectionOptions, SwitchConnection} from '../../../src/openflow/connection.js';
import {SwitchListener} from '../../../src/openflow/listener.js';
import {OfFramer, decodeMessage, encodeMessage, type OfMessage, type OfMessageOf, type OfMessageType} from '../../../src/openflow/codec.js';

export interface FakeSwitchOptions {
  datapathId?: bigint;
  /** Send our HELLO on connect (default true). */
  hello?: boolean | OfMessageOf<'HELLO'>;
  /** Answer FEATURES_REQUEST (default true). */
  features?: boolean;
  /** Answer ECHO_REQUEST (default true). */
  echo?: boolean;
}

/**
 * Sink mode: frames are counted, not decoded (a test of 200,000 messages would spend its time in
 * the fake switch otherwise). FLOW_MODs' cookies are kept in order; barriers and bundle controls
 * can be answered.
 */
export interface SinkOptions {
  /** Answer BARRIER_REQUEST (default true). */
  barriers?: boolean;
  /** Answer ONF bundle controls with their reply type (default true). */
  bundles?: boolean;
  /** Decode and record (in `received`) messages of these types. */
  keep?: OfMessageType[];
}

export interface SinkStats {
  frames: number;
  bytes: number;
  /** The cookie of every FLOW_MOD, plain or inside a bundle add, in arrival order. */
  cookies: bigint[];
  /** The xid of each of those FLOW_MODs (for bundle adds: the add's). */
  xids: number[];
  /** OFPT_* type byte of each frame. */
  types: number[];
}

export class FakeSwitch {
  readonly received: OfMessage[] = [];
  sink: (SinkOptions & SinkStats) | undefined;
  private readonly framer = new OfFramer();
  private waiters: Array<{type: OfMessageType; resolve(m: OfMessage): void}> = [];
  private closedPromise: Promise<void>;

  private constructor(
    readonly socket: Socket,
    readonly options: FakeSwitchOptions,
  ) {
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.framer.push(chunk)) {
        if (this.sink) this.onSinkFrame(frame);
        else this.onMessage(decodeMessage(frame));
      }
    });
    socket.on('error', () => {});
  }

  static async connect(port: number, options: FakeSwitchOptions = {}): Promise<FakeSwitch> {
    const socket = connect({port, host: '127.0.0.1'});
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const sw = new FakeSwitch(socket, options);
    const hello = options.hello ?? true;
    if (hello === true) sw.send({type: 'HELLO', xid: 1, elements: [{type: 'VERSION_BITMAP', versions: [4]}]});
    else if (hello !== false) sw.send(hello);
    return sw;
  }

  get datapathId(): bigint {
    return this.options.datapathId ?? 0x1234n;
  }

  send(message: OfMessage): void {
    this.socket.write(encodeMessage(message));
  }

  /** Writes bytes as they are, in chunks of the given sizes (the rest in one last chunk). */
  async sendRaw(bytes: Buffer, chunkSizes: number[] = []): Promise<void> {
    let pos = 0;
    for (const size of chunkSizes) {
      this.socket.write(bytes.subarray(pos, pos + size));
      pos += size;
      await new Promise((resolve) => setImmediate(resolve)); // separate reads on the other side
    }
    if (pos < bytes.length) this.socket.write(bytes.subarray(pos));
  }

  /** The first message of that type received from now on (or already received and not yet taken). */
  next<T extends OfMessageType>(type: T, timeoutMs = 2_000): Promise<OfMessageOf<T>> {
    const index = this.received.findIndex((m) => m.type === type);
    if (index >= 0) return Promise.resolve(this.received.splice(index, 1)[0] as OfMessageOf<T>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fake switch: no ${type} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as OfMessageOf<T>);
        },
      });
    });
  }

  /** Switches to sink mode (see SinkOptions) and returns its counters. */
  startSink(options: SinkOptions = {}): SinkStats {
    this.sink = {barriers: true, bundles: true, keep: [], ...options, frames: 0, bytes: 0, cookies: [], xids: [], types: []};
    return this.sink;
  }

  /** Resolves once the sink has seen `frames` frames (polling; the timeout is generous). */
  async waitForFrames(frames: number, timeoutMs = 60_000): Promise<void> {
    const started = Date.now();
    while (this.sink!.frames < frames) {
      if (Date.now() - started > timeoutMs) throw new Error(`fake switch: ${this.sink!.frames} frames, not ${frames}, after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  private onSinkFrame(frame: Buffer): void {
    const sink = this.sink!;
    sink.frames++;
    sink.bytes += frame.length;
    const type = frame[1]!;
    sink.types.push(type);
    if (type === 14) {
      sink.cookies.push(frame.readBigUInt64BE(8));
      sink.xids.push(frame.readUInt32BE(4));
    } else if (type === 4 && frame.length >= 24 + 16 && frame.readUInt32BE(12) === 2301) {
      sink.cookies.push(frame.readBigUInt64BE(24 + 8)); // a FLOW_MOD inside a bundle add
      sink.xids.push(frame.readUInt32BE(4));
    } else if (type === 2 && this.options.echo !== false) {
      this.send({type: 'ECHO_REPLY', xid: frame.readUInt32BE(4), data: frame.subarray(8)});
    } else if (type === 20 && sink.barriers) {
      this.send({type: 'BARRIER_REPLY', xid: frame.readUInt32BE(4)});
    } else if (type === 4 && frame.readUInt32BE(12) === 2300 && sink.bundles) {
      const control = decodeMessage(frame);
      if (control.type === 'BUNDLE_CONTROL') this.send({...control, controlType: control.controlType + 1});
    } else if (sink.keep!.length > 0) {
      const message = decodeMessage(frame);
      if (sink.keep!.includes(message.type)) this.onMessage(message);
    }
  }

  closed(): Promise<void> {
    return this.closedPromise;
  }

  close(): void {
    this.socket.destroy();
  }

  private onMessage(message: OfMessage): void {
    if (message.type === 'FEATURES_REQUEST' && this.options.features !== false) {
      this.send({
        type: 'FEATURES_REPLY', xid: message.xid, datapathId: this.datapathId, nBuffers: 0, nTables: 254,
        auxiliaryId: 0, capabilities: 0x4f,
      });
    }
    if (message.type === 'ECHO_REQUEST' && this.options.echo !== false) {
      this.send({type: 'ECHO_REPLY', xid: message.xid, data: message.data});
    }
    const waiter = this.waiters.findIndex((w) => w.type === message.type);
    if (waiter >= 0) this.waiters.splice(waiter, 1)[0]!.resolve(message);
    else this.received.push(message);
  }
}

/**
 * Fake switches on loopback, per test, for a describe block: the first connect of a test starts a
 * listener with that call's connection options; every switch and the listener are closed after
 * each test, whether it passed or not.
 */
export function fakeSwitchesPerTest() {
  let listener: SwitchListener | undefined;
  let switches: FakeSwitch[] = [];
  let accepted: SwitchConnection[] = [];
  beforeEach(() => {
    switches = [];
    accepted = [];
    listener = undefined;
  });
  afterEach(async () => {
    for (const sw of switches) sw.close();
    await listener?.close();
  });

  /** A fake switch connected, and the controller's side of the connection (maybe mid-handshake). */
  async function connectSwitch(opts: FakeSwitchOptions = {}, connectionOptions: ConnectionOptions = {}) {
    if (!listener) {
      listener = await SwitchListener.listen({host: '127.0.0.1', port: 0, connection: connectionOptions});
      listener.on('connection', (c: SwitchConnection) => accepted.push(c));
    }
    const before = accepted.length;
    const sw = await FakeSwitch.connect(listener.port, opts);
    switches.push(sw);
    while (accepted.length === before) await new Promise((resolve) => setImmediate(resolve));
    return {sw, conn: accepted[accepted.length - 1]!};
  }

  /** connectSwitch, once the handshake is done. */
  async function readySwitch(opts: FakeSwitchOptions = {}, connectionOptions: ConnectionOptions = {}) {
    const {sw, conn} = await connectSwitch(opts, connectionOptions);
    if (conn.state !== 'ready') await once(conn, 'ready');
    return {sw, conn};
  }

  return {connectSwitch, readySwitch};
}
