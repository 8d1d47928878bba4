// The lab's flow demonstration: a few flows installed through a slave's REST API (so they are
// forwarded to the master), then each instance's mirror version, and what the switches hold.
import type {OvsLab} from './ovs.js'

/** Three flows per bridge, in Ryu ofctl_rest's JSON, the way a script written for Ryu would send them. */
export function demoFlows(bridges: number): Array<Record<string, unknown>> {
  const flows: Array<Record<string, unknown>> = []
  for (let dpid = 1; dpid <= bridges; dpid++) {
    for (let n = 1; n <= 3; n++) {
      flows.push({dpid, priority: 100 + n, match: {in_port: n, eth_type: 0x0800, ipv4_dst: `10.0.${dpid}.${n}`}, actions: [{type: 'OUTPUT', port: n + 1}]})
    }
  }
  return flows
}

export interface InstalledFlows {
  acknowledged: number
  /** The flows the cluster acknowledged, as sent. */
  acknowledgedFlows: Array<Record<string, unknown>>
  failed: string[]
  masterId: string | undefined
}

export async function installFlows(apiUrl: string, flows: Array<Record<string, unknown>>): Promise<InstalledFlows> {
  const result: InstalledFlows = {acknowledged: 0, acknowledgedFlows: [], failed: [], masterId: undefined}
  for (const flow of flows) {
    const response = await fetch(`${apiUrl}/stats/flowentry/add`, {method: 'POST', body: JSON.stringify(flow)})
    if (response.ok) {
      result.acknowledged++
      result.acknowledgedFlows.push(flow)
      result.masterId = response.headers.get('x-flowkeeper-master') ?? result.masterId
    } else {
      result.failed.push(`${response.status} ${await response.text()}`)
    }
  }
  return result
}

/** How long the lab waits for an instance's GET /cluster. */
const ANSWER_TIMEOUT_MS = 2000

interface ClusterView {
  role: string
  flows?: {devices?: Array<{dpid: string, version: number, flows: number}>} | null
}

/** "inst 2 (slave): 0000000000000001 v3/3 flows, ..." for each instance's API. */
export async function describeMirrors(apis: Map<number, string>): Promise<string[]> {
  const lines: string[] = []
  for (const [id, api] of apis) {
    try {
      // Bounded: a paused instance (the lab's p key) must not hold the listing up until it resumes.
      const view = (await (await fetch(`${api}/cluster`, {signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS)})).json()) as ClusterView
      const devices = (view.flows?.devices ?? []).map((d) => `${d.dpid.replace(/^0+/, '')}: v${d.version}, ${d.flows} flows`).join('; ')
      lines.push(`instance ${id} (${view.role}): ${devices || 'no tables yet'}`)
    } catch {
      lines.push(`instance ${id}: not answering`)
    }
  }
  return lines
}

/** Each table's "dpid@version:flows" as the instance at `api` reports it, or undefined if it does not answer. */
async function tablePositions(api: string): Promise<string | undefined> {
  try {
    const view = (await (await fetch(`${api}/cluster`, {signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS)})).json()) as ClusterView
    return (view.flows?.devices ?? []).map((d) => `${d.dpid}@${d.version}:${d.flows}`).sort().join(' ')
  } catch {
    return undefined
  }
}

/**
 * Waits until the instance at `api` holds every table the master at `masterApi` holds, at the same
 * version and with as many flows: what a slave (re)joining the cluster gets from the master's
 * backups. False when that did not happen within `timeoutMs`.
 */
export async function waitForMirror(api: string, masterApi: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const [mine, master] = await Promise.all([tablePositions(api), tablePositions(masterApi)])
    if (mine !== undefined && mine === master && mine !== '') return true
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/** How many flows each bridge holds, as Open vSwitch itself reports (ovs-ofctl dump-flows). */
export async function switchFlowCounts(ovs: OvsLab, bridges: number): Promise<string> {
  const counts: string[] = []
  for (let n = 1; n <= bridges; n++) counts.push(`br${n}: ${(await ovs.dumpFlows(`br${n}`)).length}`)
  return counts.join(', ')
}

/**
 * The demo flows (see demoFlows) that are not on their bridge: br<dpid> must show a flow of that
 * priority, which is unique among the demo flows of a bridge. Each is named "br1 priority 101".
 */
export async function missingDemoFlows(ovs: OvsLab, flows: Array<Record<string, unknown>>): Promise<string[]> {
  const onBridge = new Map<string, Set<number>>()
  const missing: string[] = []
  for (const flow of flows) {
    const bridge = `br${String(flow.dpid)}`
    let priorities = onBridge.get(bridge)
    if (!priorities) onBridge.set(bridge, (priorities = new Set((await ovs.dumpFlows(bridge)).map((f) => f.priority))))
    if (!priorities.has(Number(flow.priority))) missing.push(`${bridge} priority ${String(flow.priority)}`)
  }
  return missing
}
