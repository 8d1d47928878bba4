// What a rate goal leaves a controller to spend, in CPU per flow, on this machine.
//
// At `goalRatio` x the raw rate, everything that runs for a flow (the switch, the broker, the
// client, the controller's instances) may spend together at most `cores` / rate of CPU per flow,
// or the cores cannot keep up. What the parts that are not the controller spend per flow hardly
// depends on the rate (Open vSwitch does the same work per FLOW_MOD at any rate), so the figures
// measured at the rate reached say what the goal leaves to the controller, and how far the
// controller's own cost is from it. It reads the measured figures; it measures nothing.

export interface CpuBudget {
  /** The rate the goal asks for, flows/s. */
  goalFlowsPerSec: number
  /** CPU per flow that `cores` give at that rate, µs. */
  budgetUs: number
  /** Measured CPU per flow of everything that is not the controller, µs. */
  othersUs: number
  /** What the goal leaves the controller's processes, µs per flow (negative: nothing at all). */
  leftUs: number
  /** Measured CPU per flow of the controller's processes, µs. */
  controllerUs: number
}

export function cpuBudget(o: {
  cores: number
  rawFlowsPerSec: number
  goalRatio: number
  /** Measured CPU per acknowledged flow, µs, per process group. */
  perFlowUs: Record<string, number>
  /** Which process groups are the controller (the rest is the switch, broker, client, tap...). */
  isController: (group: string) => boolean
}): CpuBudget {
  if (!(o.cores > 0) || !(o.rawFlowsPerSec > 0) || !(o.goalRatio > 0)) {
    throw new RangeError(`cpuBudget: cores, rawFlowsPerSec and goalRatio must be positive (got ${o.cores}, ${o.rawFlowsPerSec}, ${o.goalRatio})`)
  }
  const goalFlowsPerSec = o.goalRatio * o.rawFlowsPerSec
  const budgetUs = (o.cores * 1e6) / goalFlowsPerSec
  let othersUs = 0
  let controllerUs = 0
  for (const [group, us] of Object.entries(o.perFlowUs)) {
    if (o.isController(group)) controllerUs += us
    else othersUs += us
  }
  return {goalFlowsPerSec, budgetUs, othersUs, leftUs: budgetUs - othersUs, controllerUs}
}

/** One line for a benchmark's report. */
export function formatCpuBudget(b: CpuBudget, cores: number, controller: string): string {
  const left = b.leftUs > 0 ? `${b.leftUs.toFixed(0)} µs left for ${controller}` : `nothing left for ${controller}`
  return `cpu budget at the goal (${Math.round(b.goalFlowsPerSec).toLocaleString('en-US')} flows/s on ${cores} cores): ${b.budgetUs.toFixed(0)} µs/flow in all; ` +
    `the rest spent ${b.othersUs.toFixed(0)}, ${left}; ${controller} spent ${b.controllerUs.toFixed(0)}` +
    (b.leftUs > 0 ? ` (${(b.controllerUs / b.leftUs).toFixed(1)}x that)` : '')
}
