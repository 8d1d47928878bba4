// Terms: the election's epochs, and the OpenFlow generation_id a master asserts on its switches.
//
// A promotion takes the smallest term greater than every term known (peers' and the switches')
// whose low 16 bits are our inst_id: term = epoch × 65536 + inst_id. It is "highest known + 1" with
// the instance id in the low bits, so two instances that promote concurrently from different views
// can never pick the same term: their generation_ids never tie, and a switch always tells the newer
// master from the older one. (Two instances sharing an inst_id could tie; the id-collision rules
// make them regenerate, and the switches' generation_id, reported through observeExternalTerm,
// puts a newcomer's first term above every term in use.)
import {MAX_INST_ID, MAX_TERM, MIN_INST_ID} from './messages.js'

export const TERM_ID_SPACE = 65536

export function nextTerm(highestKnown: number, instId: number): number {
  if (!Number.isInteger(instId) || instId < MIN_INST_ID || instId > MAX_INST_ID) throw new RangeError(`inst_id (${instId}) must be in ${MIN_INST_ID}..${MAX_INST_ID}`)
  const known = Math.min(Math.max(0, Math.floor(highestKnown)), MAX_TERM)
  const epoch = Math.floor(known / TERM_ID_SPACE)
  const candidate = epoch * TERM_ID_SPACE + instId
  return candidate > known ? candidate : candidate + TERM_ID_SPACE
}

/** The inst_id that promoted itself to `term`. */
export function termInstId(term: number): number {
  return term % TERM_ID_SPACE
}
