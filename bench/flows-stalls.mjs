// Diagnosis only (bench/flows.ts --stalls, bench/failover-writes.ts --stalls): preloaded into the
// instances with NODE_OPTIONS=--import. Prints JSON log lines like the instances' own:
// - every event-loop block of 50 ms or more, noticed by a 10 ms timer:
//     {"ts": <epoch ms when the loop got free>, "event": "bench_stall", "stall_ms": <blocked ms>}
//   (the block began at ts - stall_ms);
// - every 250 ms, the event loop's utilization over those 250 ms (perf_hooks ELU: the share of
//   wall time the loop was not waiting for I/O, which counts time the OS gave to other processes
//   while we had work):
//     {"ts": ..., "event": "bench_elu", "elu": 0.42}
// Nothing else changes.
import {performance} from 'node:perf_hooks'

const STEP_MS = 10
const REPORT_MS = 50
const ELU_MS = 250
const line = (o) => process.stdout.write(`${JSON.stringify({ts: performance.timeOrigin + performance.now(), level: 'debug', ...o})}\n`)
let last = performance.now()
setInterval(() => {
  const now = performance.now()
  const blocked = now - last - STEP_MS
  last = now
  if (blocked >= REPORT_MS) line({msg: 'event loop blocked', event: 'bench_stall', stall_ms: Math.round(blocked)})
}, STEP_MS).unref()
let elu = performance.eventLoopUtilization()
setInterval(() => {
  const next = performance.eventLoopUtilization()
  line({msg: 'event loop utilization', event: 'bench_elu', elu: Math.round(performance.eventLoopUtilization(next, elu).utilization * 1000) / 1000})
  elu = next
}, ELU_MS).unref()
