/**
 * A standby's rehearsal of a takeover: what a new master does with each switch's flows (the flow
 * stats replies decoded, the flows put in canonical form and keyed, reconciled with its table),
 * run a few times on copies of a slave's own mirrored entries, long before it is needed.
 *
 * Why: a slave never runs that code, so at its first takeover V8 runs it unoptimised, with its
 * type feedback still empty: measured, the first switch's flow stats take ~50 ms to decode
 * instead of ~7, and reconciling them ~30 ms instead of ~15, at the moment the cluster waits for
 * this instance. A few rounds on the mirror's real flows (the shapes the switches will send)
 * once in a slave's life take a few milliseconds each, in turns of the event loop of their own.
 *
 * Pure: it reads the entries it is given and touches nothing else.
 */
import {OFP, decodeMessage, encodeMessage, type FlowStats, type OfMessage} from '../../openflow/codec.js';
import {FlowTable, entryFromFlowStats, flowKey, type CookieNamespace, type FlowEntry} from '../flow-table.js';
import {reconcile} from '../reconcile.js';

/** Flows a round takes from the mirror: enough for the optimiser, little enough for one short turn. */
export const REHEARSAL_FLOWS = 400;
/** A mirror with fewer flows than this makes for a quick takeover anyway: no rehearsal. */
export const REHEARSAL_MIN_FLOWS = 50;
export const REHEARSAL_ROUNDS = 6;
/** Flows per flow-stats reply message, as a switch splits a large table (each under 64 KiB). */
const FLOWS_PER_REPLY = 100;

/** One round over `entries`; returns the number of flows the plan found in line (all, unless a bug). */
export function rehearseTakeover(entries: readonly FlowEntry[], ownedCookie: CookieNamespace): number {
  const replies: Buffer[] = [];
  for (let i = 0; i < entries.length; i += FLOWS_PER_REPLY) {
    const flows: FlowStats[] = entries.slice(i, i + FLOWS_PER_REPLY).map((e) => ({
      ...e, durationSec: 1, durationNsec: 0, packetCount: 0n, byteCount: 0n,
    }));
    const more = i + FLOWS_PER_REPLY < entries.length ? OFP.OFPMPF_REPLY_MORE : 0;
    replies.push(encodeMessage({type: 'MULTIPART_REPLY', xid: 0, flags: more, body: {kind: 'FLOW', flows}}));
  }
  const switchFlows: FlowEntry[] = [];
  for (const bytes of replies) {
    const reply: OfMessage = decodeMessage(bytes);
    if (reply.type !== 'MULTIPART_REPLY' || reply.body.kind !== 'FLOW') continue;
    for (const f of reply.body.flows) {
      const e = entryFromFlowStats(f);
      flowKey(e);
      switchFlows.push(e);
    }
  }
  const table = FlowTable.of(entries, {ownedCookie});
  const plan = reconcile(table, switchFlows, {unknown: 'adopt', ownedCookie, truth: 'table', deleted: []});
  return switchFlows.length - plan.switchFlowMods.length;
}
