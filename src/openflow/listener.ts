/**
 * The TCP endpoint switches connect to. Each accepted socket becomes a SwitchConnection, handed
 * out through the 'connection' event (the registry subscribes); the listener keeps track of
 * them only to close them with itself.
 */
import {EventEmitter} from 'node:events';
import {createServer, type Server, type Socket} from 'node:net';
import {OFP_TCP_PORT} from './constants.js';
import {SwitchConnection, noopLogger, type ConnectionOptions, type OfLogger} from './connection.js';

export interface ListenerOptions {
  /** Default '0.0.0.0' (every interface); tests use '127.0.0.1'. */
  host?: string;
  /** Default 6653 (IANA OpenFlow); 0 picks a free port, see `port`. */
  port?: number;
  logger?: OfLogger;
  /** Passed to every SwitchConnection. */
  connection?: Omit<ConnectionOptions, 'logger'>;
}

export interface ListenerEvents {
  connection: [connection: SwitchConnection];
}

export class SwitchListener extends EventEmitter<ListenerEvents> {
  readonly host: string;
  /** The bound port (the one the OS picked when asked for 0). */
  readonly port: number;
  private readonly connections = new Set<SwitchConnection>();
  private closing?: Promise<void>;

  private constructor(
    private readonly server: Server,
    private readonly options: ListenerOptions,
    private readonly logger: OfLogger,
  ) {
    super();
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('listener has no TCP address');
    this.host = address.address;
    this.port = address.port;
    server.on('connection', (socket) => this.accept(socket));
    // After listen() succeeded, server errors are per-connection accept failures (EMFILE, ...):
    // log them, keep serving.
    server.on('error', (error) => this.logger.error('openflow listener error', {error: error.message}));
  }

  /** Binds and resolves once listening; rejects with the bind error (EADDRINUSE, ...). */
  static async listen(options: ListenerOptions = {}): Promise<SwitchListener> {
    const server = createServer({noDelay: true});
    const host = options.host ?? '0.0.0.0';
    const port = options.port ?? OFP_TCP_PORT;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const logger = options.logger ?? noopLogger;
    const listener = new SwitchListener(server, options, logger);
    logger.info('openflow listener up', {host: listener.host, port: listener.port});
    return listener;
  }

  /** Connections accepted and not yet closed. */
  get openConnections(): number {
    return this.connections.size;
  }

  /** Stops accepting, closes every open connection, resolves once all are gone. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
      await Promise.all([...this.connections].map((c) => c.close('listener closed')));
      await stopped;
      this.logger.info('openflow listener closed', {port: this.port});
    })();
    return this.closing;
  }

  private accept(socket: Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const connection = new SwitchConnection(socket, {...this.options.connection, logger: this.logger});
    this.connections.add(connection);
    connection.once('closed', () => this.connections.delete(connection));
    this.emit('connection', connection);
    connection.start();
  }
}
