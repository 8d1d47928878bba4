// Ties the election to the switches. Every role change is asserted on every switch with the term
// as OpenFlow generation_id; every generation id a switch reveals is fed back to the election, so
// a promotion always takes a term above anything a switch has seen (OVS keeps a bridge's last
// generation_id across controller restarts); and a switch that demotes us is obeyed: the election
// learns the newer term and steps down, never retrying on its own.
import type {Logger} from '../log.js'
import {formatDpid} from '../openflow/connection.js'
import type {DemotedEvent} from '../openflow/roles.js'
import type {SwitchRegistry} from '../openflow/switch-registry.js'
import type {ElectionDriver, RoleChangeEvent} from './election-driver.js'

const DESIRED = {master: 'master', slave: 'slave', unknown: 'none'} as const

export class RoleFence {
  constructor(private readonly election: ElectionDriver, private readonly registry: SwitchRegistry, private readonly log: Logger) {}

  attach(): void {
    this.election.on('role_change', (change: RoleChangeEvent) => void this.assert(change))
    this.registry.on('switch-connected', (info) => {
      this.log.info('switch connected', {event: 'switch_connected', dpid: formatDpid(info.datapathId), address: info.address})
      void this.learnGenerationIds()
    })
    this.registry.on('switch-disconnected', ({datapathId, reason}) => {
      this.log.info('switch disconnected', {event: 'switch_disconnected', dpid: formatDpid(datapathId), reason})
    })
    this.registry.on('role-changed', ({datapathId, role, previous}) => {
      this.log.info(`switch role ${previous ?? 'none'} -> ${role}`, {event: 'switch_role', dpid: formatDpid(datapathId), role, previous})
    })
    this.registry.on('demoted', (event) => void this.onDemoted(event))
  }

  private async assert(change: RoleChangeEvent): Promise<void> {
    const results = await this.registry.setDesiredRole(DESIRED[change.to], BigInt(change.term))
    for (const result of results) {
      if (result.error) {
        this.log.warn('role assertion failed', {event: 'switch_role_failed', dpid: formatDpid(result.datapathId), role: change.to, term: change.term, error: String(result.error)})
      }
    }
  }

  private async onDemoted(event: DemotedEvent): Promise<void> {
    this.log.warn('a switch demoted this instance', {
      event: 'switch_demoted', dpid: formatDpid(event.datapathId), reason: event.reason,
      generation_id: event.generationId?.toString(), detail: event.detail,
    })
    if (event.generationId !== undefined) this.election.observeExternalTerm(Number(event.generationId))
    else await this.learnGenerationIds()
  }

  /** Reads every switch's generation id (ROLE_REQUEST NOCHANGE) and tells the election the highest. */
  private async learnGenerationIds(): Promise<void> {
    try {
      const ids = await this.registry.readGenerationIds()
      let highest: bigint | undefined
      for (const id of ids.values()) if (id !== undefined && (highest === undefined || id > highest)) highest = id
      if (highest !== undefined && highest < BigInt(Number.MAX_SAFE_INTEGER)) this.election.observeExternalTerm(Number(highest))
    } catch (error) {
      this.log.warn('could not read generation ids', {event: 'generation_read_failed', error: String(error)})
    }
  }
}
