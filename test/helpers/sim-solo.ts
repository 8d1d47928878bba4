// One Election driven by hand, on a fake clock: what a unit test needs to state a rule. The broker
// echoes our own keep-alives back at once (unless `echoes` is off: we are cut off); everything the
// peers say is handed in with hear().
import {Election, type ElectionEvent, type ElectionOutput, type RoleChange} from '../../src/election/election.js'
import type {ElectionMessage, KeepAliveMessage, LeaveMessage, FindMessage, Role} from '../../src/election/messages.js'
import {PROFILES, type ElectionTiming} from '../../src/election/timing.js'

export const DOMAIN = 'lab'

/** A keep-alive from peer `instId` (queue q{instId} unless given). */
export function keepAlive(instId: number, role: Role, term: number, qid = `q${instId}`): KeepAliveMessage {
  return {v: 1, msg: 'keep_alive', domain: DOMAIN, inst_id: instId, role, qid, term}
}

export function find(instId: number, qid = `q${instId}`): FindMessage {
  return {v: 1, msg: 'find', domain: DOMAIN, inst_id: instId, qid}
}

export function leave(instId: number, term: number, qid = `q${instId}`): LeaveMessage {
  return {v: 1, msg: 'leave', domain: DOMAIN, inst_id: instId, qid, term}
}

export class Solo {
  nowMs = 0
  readonly election: Election
  readonly sent: Array<{atMs: number, message: ElectionMessage}> = []
  readonly changes: Array<RoleChange & {atMs: number}> = []
  readonly events: Array<ElectionEvent & {atMs: number}> = []
  /** Whether the broker carries our messages back to us. */
  echoes = true
  qid = 'q-self'
  private readonly echoQueue: KeepAliveMessage[] = []
  private draining = false

  constructor(instId: number, timing: ElectionTiming = PROFILES.reference, ids: number[] = [4242, 4343, 4444]) {
    const fresh = [...ids]
    this.election = new Election({instId, domain: DOMAIN, timing, randomId: () => fresh.shift() ?? 4545})
  }

  start(qid = this.qid): this {
    this.qid = qid
    this.apply(this.election.start(this.nowMs, qid))
    return this
  }

  hear(...messages: ElectionMessage[]): this {
    for (const message of messages) this.apply(this.election.receive(message, this.nowMs))
    return this
  }

  /** Runs every deadline up to `atMs`, each on time. */
  advanceTo(atMs: number): this {
    for (;;) {
      const deadline = this.election.nextDeadlineMs()
      if (deadline === undefined || deadline > atMs) break
      this.nowMs = Math.max(this.nowMs, deadline)
      this.apply(this.election.tick(this.nowMs))
    }
    this.nowMs = atMs
    return this
  }

  apply(out: ElectionOutput): ElectionOutput {
    for (const message of out.send) {
      this.sent.push({atMs: this.nowMs, message})
      if (message.msg === 'keep_alive' && message.qid === this.qid && this.echoes) this.echoQueue.push(message)
    }
    for (const change of out.roleChanges) this.changes.push({...change, atMs: this.nowMs})
    for (const event of out.events) this.events.push({...event, atMs: this.nowMs})
    if (!this.draining) {
      this.draining = true
      while (this.echoQueue.length > 0) this.apply(this.election.receive(this.echoQueue.shift()!, this.nowMs))
      this.draining = false
    }
    return out
  }

  get role(): Role {
    return this.election.role
  }

  lastChange(): (RoleChange & {atMs: number}) | undefined {
    return this.changes.at(-1)
  }

  sentSince(atMs: number): ElectionMessage[] {
    return this.sent.filter((s) => s.atMs >= atMs).map((s) => s.message)
  }

  eventsOf<T extends ElectionEvent['type']>(type: T): Array<Extract<ElectionEvent, {type: T}> & {atMs: number}> {
    return this.events.filter((e) => e.type === type) as Array<Extract<ElectionEvent, {type: T}> & {atMs: number}>
  }
}
