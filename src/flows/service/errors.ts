// Errors of the flow service beyond the FlowProgrammer contract's own. Each extends one of the
// contract's classes, so every northbound that maps those (REST status, the slave-to-master
// forwarder's wire kinds) maps these without knowing them.
import {NoMasterError, SwitchRefusedError} from '../programmer.js';
import type {CookieNamespace} from '../flow-table.js';

/**
 * program() on an instance that is not the master (a slave uses the forwarder instead), or whose
 * mastership ended before the request was sent. Nothing was sent to the switch: retry on the master.
 */
export class InstanceNotMasterError extends NoMasterError {
  override readonly name: string = 'InstanceNotMasterError';
  constructor(readonly instId: number, readonly role: string, detail?: string) {
    super(`instance ${instId} is not the master (role ${role})${detail ? `: ${detail}` : ''}; flow requests go to the master`);
  }
}

/**
 * The switch refused a flow-mod with OFPET_BAD_REQUEST/OFPBRC_IS_SLAVE: another instance took it
 * over (a higher generation id) between the election's verdict and the flow-mod. Nothing was
 * applied and the request is fine: retry, it reaches the new master. REST: 503.
 */
export class SwitchDemotedError extends InstanceNotMasterError {
  override readonly name = 'SwitchDemotedError';
  constructor(instId: number, readonly dpid: string) {
    super(instId, 'slave on the switch', `switch ${dpid} answered that this instance is no longer its master; nothing was applied; retry: a new master is taking over`);
  }
}

export function hex64(v: bigint): string {
  return `0x${v.toString(16).padStart(16, '0')}`;
}

/**
 * A flow-mod the cluster will not send because of its cookie: an ADD whose cookie lies outside
 * the owned namespace, or a MODIFY/DELETE whose cookie and cookie_mask can only select flows
 * outside it. The cluster programs, mirrors and reconciles only its own flows. REST: 400.
 */
export class ForeignCookieError extends SwitchRefusedError {
  override readonly name = 'ForeignCookieError';
  constructor(readonly cookie: bigint, readonly namespace: CookieNamespace, what: string) {
    super(
      `${what} cookie ${hex64(cookie)} is outside the cluster's cookie namespace (value ${hex64(namespace.value)}, ` +
        `mask ${hex64(namespace.mask)}): this cluster only programs flows whose cookie equals the value on the mask's bits`,
      'FLOWKEEPER_FOREIGN_COOKIE',
    );
  }
}

/** A setting of the flow service that cannot work; `setting` names it, the message says how to fix it. */
export class FlowServiceConfigError extends Error {
  override readonly name = 'FlowServiceConfigError';
  constructor(readonly setting: string, message: string) {
    super(message);
  }
}
