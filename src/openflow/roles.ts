/**
 * Controller roles as the cluster and the switches see them, and the errors of role-guarded sends.
 *
 * The generation id of every ROLE_REQUEST is the election term: a switch refuses a request whose
 * id is older than the newest it has seen (OFPRRFC_STALE) and answers a slave's modifications
 * with OFPBRC_IS_SLAVE. flowkeeper obeys both and never retries with a higher id on its own.
 */
import {OFP, type OfMessage, type OfMessageType} from './codec.js';
import {formatDpid} from './connection.js';

/** What the cluster asks this instance to be on every switch. 'none': not elected (yet): behave as a slave. */
export type DesiredRole = 'master' | 'slave' | 'none';

/**
 * The role this instance holds on one switch, as the switch last confirmed it. 'unknown' while
 * a change is in flight or after a request failed; 'equal' is OpenFlow's default before any
 * ROLE_REQUEST (OVS puts every new connection there).
 */
export type HeldRole = 'master' | 'slave' | 'equal' | 'unknown';

/** ROLE_REQUEST/REPLY's "no generation id" (a switch that never saw one answers NOCHANGE with it). */
export const NO_GENERATION_ID = 0xffff_ffff_ffff_ffffn;
export const MAX_GENERATION_ID = 0xffff_ffff_ffff_ffffn;

export function heldRoleFromWire(role: number): HeldRole {
  switch (role) {
    case OFP.OFPCR_ROLE_MASTER:
      return 'master';
    case OFP.OFPCR_ROLE_SLAVE:
      return 'slave';
    case OFP.OFPCR_ROLE_EQUAL:
      return 'equal';
    default:
      return 'unknown';
  }
}

/** The generation id a NOCHANGE reply carries, undefined when the switch never saw one. */
export function generationFromReply(generationId: bigint): bigint | undefined {
  return generationId === NO_GENERATION_ID ? undefined : generationId;
}

/** Message types a switch refuses from a slave (they change its state or send packets). */
export const MODIFYING_TYPES: ReadonlySet<OfMessageType> = new Set<OfMessageType>([
  'FLOW_MOD', 'GROUP_MOD', 'PORT_MOD', 'TABLE_MOD', 'METER_MOD', 'PACKET_OUT', 'SET_CONFIG', 'SET_ASYNC',
]);

export function isModifying(message: Pick<OfMessage, 'type'>): boolean {
  return MODIFYING_TYPES.has(message.type);
}

export type DemotionReason =
  /** Our MASTER request was refused: the switch saw a newer generation id (OFPRRFC_STALE). */
  | 'stale-generation'
  /** The switch told us another controller became master (ONF role status). */
  | 'role-status'
  /** The switch refused a modification: we are a slave there (OFPBRC_IS_SLAVE). */
  | 'is-slave';

export interface DemotedEvent {
  datapathId: bigint;
  /** The newer generation id the switch knows, when it said (role status, NOCHANGE after STALE). */
  generationId?: bigint;
  reason: DemotionReason;
  detail: string;
}

/** A modification refused locally: this instance does not hold MASTER on that switch. */
export class NotMasterError extends Error {
  override readonly name = 'NotMasterError';
  /** Not here: the request belongs to the master (forward it, or retry after an election). */
  readonly retriable = true;
  constructor(
    readonly datapathId: bigint,
    readonly heldRole: HeldRole,
  ) {
    super(`not master on switch ${formatDpid(datapathId)} (role held: ${heldRole}): modification refused locally`);
  }
}

/** No connected switch with that datapath id. */
export class SwitchNotConnectedError extends Error {
  override readonly name = 'SwitchNotConnectedError';
  readonly retriable = true;
  constructor(readonly datapathId: bigint) {
    super(`switch ${formatDpid(datapathId)} is not connected`);
  }
}
