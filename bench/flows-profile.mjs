// Diagnosis only (bench/flows.ts --cpu-prof DIR): preloaded into the instances with
// NODE_OPTIONS=--import (node refuses --cpu-prof there). Starts V8's sampling profiler through the
// inspector at startup; on SIGUSR2 writes DIR/<pid>.cpuprofile (sample stamps on CLOCK_MONOTONIC,
// like process.hrtime) and keeps running.
import {Session} from 'node:inspector'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

const dir = process.env.FLOWKEEPER_BENCH_PROF_DIR
if (dir) {
  const session = new Session()
  session.connect()
  session.post('Profiler.enable', () => {
    session.post('Profiler.setSamplingInterval', {interval: 200}, () => {
      session.post('Profiler.start')
    })
  })
  process.on('SIGUSR2', () => {
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile))
      session.post('Profiler.start')
    })
  })
}
