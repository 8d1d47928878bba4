// Shared by the northbound unit tests (not a test file itself).
import {OFP, type FlowModMessage} from '../../../src/openflow/codec.js'

export function sampleFlowMod(overrides: Partial<FlowModMessage> = {}): FlowModMessage {
  return {
    type: 'FLOW_MOD', xid: 0, cookie: 0xf10e000000000001n, cookieMask: 0n, tableId: 0, command: OFP.OFPFC_ADD,
    idleTimeout: 0, hardTimeout: 0, priority: 100, bufferId: OFP.OFP_NO_BUFFER, outPort: OFP.OFPP_ANY, outGroup: OFP.OFPG_ANY,
    flags: 0, match: [{field: 'in_port', value: 1}, {field: 'eth_type', value: 0x0800}, {field: 'ipv4_dst', value: '10.0.0.1'}],
    instructions: [{type: 'APPLY_ACTIONS', actions: [{type: 'OUTPUT', port: 2, maxLen: OFP.OFPCML_MAX}]}],
    ...overrides,
  }
}

/** Resolves when predicate() holds, polling; rejects after timeoutMs naming what was awaited. */
export async function until(predicate: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a rejection')
}
