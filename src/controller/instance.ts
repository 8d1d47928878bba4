// One flowkeeper instance: the parts wired together. It owns their lifecycle (start in order,
// stop in reverse) and nothing else; each part does its own job.
import {AmqpBus} from '../bus/amqp-bus.js'
import type {Bus} from '../bus/types.js'
import type {ElectionTiming} from '../election/timing.js'
import type {Logger} from '../log.js'
import {SwitchRegistry} from '../openflow/switch-registry.js'
import {RestServer} from '../northbound/rest-server.js'
import {FlowService} from '../flows/service/flow-service.js'
import {FlowGateway, roleFromElection} from '../northbound/flow-gateway.js'
import type {FlowServiceSettings} from '../flows/service/settings.js'
import {ElectionDriver, type RoleChangeEvent} from './election-driver.js'
import {RoleFence} from './role-fence.js'

export interface InstanceOptions {
  instId: number
  domain: string
  amqpUrl: string
  timing: ElectionTiming
  logger: Logger
  /** OpenFlow listener; port 0 picks a free one. Omitted: no switches (election only). */
  openflow?: {host: string, port: number}
  /** REST API; port 0 picks a free one. Omitted: no API. */
  api?: {host: string, port: number, token?: string}
  /** Flow service settings (backups, audit, owned cookies); used when switches are enabled. */
  flows?: Partial<FlowServiceSettings>
  /** For tests: buses other than RabbitMQ (election, flow data). */
  bus?: Bus
  dataBus?: Bus
}

/**
 * Flow data (deltas, acks, snapshots in parts of up to a megabyte) rides its own connection and
 * queue: a large snapshot must never queue in front of a keep-alive.
 */
const DATA_BUS_MAX_MESSAGE_BYTES = 4 * 1024 * 1024
const SNAPSHOT_CHUNK_BYTES = 1024 * 1024

export class Instance {
  readonly bus: Bus
  readonly election: ElectionDriver
  readonly dataBus: Bus
  registry: SwitchRegistry | undefined
  /** The master's flow store and the slaves' mirrors (with switches only). */
  flowService: FlowService | undefined
  /** Where flow requests go, on any instance: the local flow service on the master, else the master over the bus. */
  readonly flows: FlowGateway
  rest: RestServer | undefined
  private stopping: Promise<void> | undefined

  constructor(private readonly options: InstanceOptions) {
    this.bus = options.bus ?? new AmqpBus({url: options.amqpUrl, connectionName: `flowkeeper ${options.domain}/${options.instId}`})
    this.dataBus = options.dataBus ?? new AmqpBus({
      url: options.amqpUrl,
      connectionName: `flowkeeper ${options.domain}/${options.instId} flows`,
      maxMessageBytes: DATA_BUS_MAX_MESSAGE_BYTES,
      queueEvents: false,
      // A master's deltas come back to its own queue (it is bound to the backup key as any
      // instance): up to 1 MiB each, dropped unread rather than parsed to be ignored.
      ownMessages: 'skip',
    })
    this.election = new ElectionDriver({
      instId: options.instId,
      domain: options.domain,
      timing: options.timing,
      bus: this.bus,
      logger: options.logger,
    })
    // Requests ride the data bus too: a stream of forwarded flow-mods must not slow keep-alives.
    this.flows = new FlowGateway({
      bus: this.dataBus,
      domain: options.domain,
      logger: options.logger,
      instId: () => this.election.instId,
      getRole: () => roleFromElection(this.election.election),
    })
  }


  get domain(): string { return this.options.domain }

  async start(): Promise<void> {
    const log = this.options.logger
    if (this.options.openflow) {
      // Switches are accepted before the election starts: their generation ids reach the
      // election before it could promote, and they are held as SLAVE until it decides.
      this.registry = await SwitchRegistry.listen({...this.options.openflow, logger: log})
      new RoleFence(this.election, this.registry, log).attach()
      this.flowService = new FlowService({
        instId: this.options.instId,
        domain: this.options.domain,
        bus: this.dataBus,
        switches: this.registry,
        logger: log,
        settings: {chunkBytes: SNAPSHOT_CHUNK_BYTES, ...this.options.flows},
      })
      const liveSlaves = () => this.election.election.peers().filter((p) => p.role === 'slave').map((p) => p.instId)
      this.election.on('role_change', (change: RoleChangeEvent) => this.flowService?.setRole(change.to, change.term, liveSlaves()))
      this.election.on('peers', () => this.flowService?.setLiveSlaves(liveSlaves()))
      this.flows.setLocal(this.flowService)
    }
    this.election.on('role_change', () => this.flows.checkMaster())
    this.flows.start()
    await this.dataBus.start()
    if (this.options.api) {
      const flowService = this.flowService
      this.rest = await RestServer.start({
        ...this.options.api, instance: this, logger: log,
        ...(flowService ? {flowStatus: () => flowService.stats(), flowSettings: flowService} : {}),
      })
      log.info('REST API listening', {event: 'api_listening', url: this.rest.url})
    }
    await this.election.start()
  }

  /** Graceful stop; safe to call more than once (every call waits for the same stop). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.flows.stop()
      await this.election.stop()
      await this.flowService?.close()
      await this.dataBus.close()
      await this.rest?.close()
      await this.registry?.close()
    })()
    return this.stopping
  }
}
