// The contract between the northbound (REST, CLI, the slave-to-master forwarder) and whatever
// programs flows: the master's FlowService, or on a slave the forwarder that sends the request to
// the master over the bus and returns its answer as its own. Errors are typed so that each
// northbound can map them (REST: 400 / 404 / 503 / 504) and so a caller knows whether to retry.
import type {FlowModMessage} from '../openflow/codec.js'

export interface ProgramOptions {
  /** How long the caller waits for the acknowledgement (switch barrier and mirrors' acks). */
  timeoutMs?: number
}

export interface ProgramResult {
  /** The instance that programmed the switch (the master). */
  masterId: number
  /** The election term it did it in. */
  term: number
  /** The device table's version after the change (mirrors report theirs in /cluster). */
  version: number
}

export interface FlowProgrammer {
  /**
   * Applies one flow-mod to switch `dpid`. Resolves only when the switch confirmed it (barrier
   * reply) and every live slave's mirror acknowledged the change; rejects with one of the errors
   * below. While a new master is taking over, requests wait (bounded) instead of failing.
   */
  program(dpid: bigint, flowMod: FlowModMessage, options?: ProgramOptions): Promise<ProgramResult>
  /**
   * Optional: applies several flow-mods (switches may be mixed) as one submission, in order, and
   * resolves once every one is settled, with one outcome per item in the same order: its
   * ProgramResult, or the typed error program() would have rejected with. Never rejects. Where it
   * is missing, programEach() calls program() for every item in one loop instead.
   */
  programBatch?(items: readonly ProgramItem[], options?: ProgramOptions): Promise<ProgramOutcome[]>
}

/** One flow-mod of a batch and the switch it is for. */
export interface ProgramItem {
  dpid: bigint
  flowMod: FlowModMessage
}

/** What became of one item of a batch: its result, or the error it failed with. */
export type ProgramOutcome = ProgramResult | Error

/**
 * Calls program() for every item synchronously, in order, in one loop: the flow service joins the
 * requests made in one turn of the event loop into one switch batch with one barrier per switch.
 * Resolves with one outcome per item once all are settled; never rejects.
 */
export function programAll(programmer: FlowProgrammer, items: readonly ProgramItem[], options?: ProgramOptions): Promise<ProgramOutcome[]> {
  const pending: Array<Promise<ProgramResult>> = []
  for (const item of items) {
    try {
      pending.push(programmer.program(item.dpid, item.flowMod, options))
    } catch (error) {
      // A programmer that throws instead of rejecting: the other items still go.
      pending.push(Promise.reject(error))
    }
  }
  return Promise.allSettled(pending).then((settled) => settled.map(asOutcome))
}

/** programmer.programBatch() where it has one; programAll() otherwise. */
export function programEach(programmer: FlowProgrammer, items: readonly ProgramItem[], options?: ProgramOptions): Promise<ProgramOutcome[]> {
  return programmer.programBatch ? programmer.programBatch(items, options) : programAll(programmer, items, options)
}

function asOutcome(s: PromiseSettledResult<ProgramResult>): ProgramOutcome {
  if (s.status === 'fulfilled') return s.value
  return s.reason instanceof Error ? s.reason : new Error(String(s.reason))
}

abstract class FlowError extends Error {
  abstract readonly status: number
  abstract readonly retriable: boolean
}

/** No master in the domain right now (election in progress, or none reachable). REST: 503. */
export class NoMasterError extends FlowError {
  override readonly name: string = 'NoMasterError'
  readonly status: number = 503
  readonly retriable: boolean = true
}

/** The datapath is not connected to the master. REST: 404. */
export class UnknownSwitchError extends FlowError {
  override readonly name: string = 'UnknownSwitchError'
  readonly status: number = 404
  readonly retriable: boolean = false
  constructor(readonly dpid: bigint, message = `switch ${dpid.toString(16).padStart(16, '0')} is not connected`) {
    super(message)
  }
}

/** The switch refused the flow-mod; `message` says why in words, `code` names the OpenFlow error. REST: 400. */
export class SwitchRefusedError extends FlowError {
  override readonly name: string = 'SwitchRefusedError'
  readonly status: number = 400
  readonly retriable: boolean = false
  constructor(message: string, readonly code: string) {
    super(message)
  }
}

/** No acknowledgement in time (switch or mirrors silent); the change may or may not be applied. REST: 504. */
export class ProgramTimeoutError extends FlowError {
  override readonly name: string = 'ProgramTimeoutError'
  readonly status: number = 504
  readonly retriable: boolean = true
}

export {FlowError}
