// Process measurements for the flow-mod benchmark: CPU time of a running process from /proc, of
// a finished child from bash's `times`, and a wait for a process to go quiet. Parsers are pure
// (unit-tested); the rest reads /proc or spawns.
import {spawn} from 'node:child_process'
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {pathWithSbin} from '../src/lab/exec.js'

let clockTicks: number | undefined

/** Clock ticks per second of /proc's CPU times (100 on Linux, asked once). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100
    } catch {
      clockTicks = 100
    }
  }
  return clockTicks
}

/** utime + stime (all threads) in clock ticks, from the text of /proc/PID/stat. */
export function parseStatCpuTicks(stat: string): number {
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11])
  const stime = Number(rest[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unreadable /proc stat: ${stat.slice(0, 120)}`)
  return utime + stime
}

/** CPU time a live process has used so far, in ms (10 ms resolution). */
export function processCpuMs(pid: number): number {
  return (parseStatCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8')) * 1000) / clockTicksPerSecond()
}

/** This process's CPU time (user + system, every thread) in ms. */
export function ownCpuMs(): {userMs: number; systemMs: number} {
  const {user, system} = process.cpuUsage()
  return {userMs: user / 1000, systemMs: system / 1000}
}

/**
 * Children's user and system seconds from bash's `times` output: two lines of
 * "<user>m<sec>s <sys>m<sec>s", the shell's own first, its children's second.
 */
export function parseBashTimes(text: string): {userMs: number; systemMs: number} {
  const lines = text.trim().split('\n').filter((l) => /\dm[\d.]+s/.test(l))
  const last = lines.at(-1)
  const m = last && /^(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s$/.exec(last.trim())
  if (!m) throw new Error(`unreadable bash times output: ${JSON.stringify(text)}`)
  const toMs = (min: string, sec: string) => (Number(min) * 60 + Number(sec)) * 1000
  return {userMs: toMs(m[1]!, m[2]!), systemMs: toMs(m[3]!, m[4]!)}
}

export interface TimedRun {
  wallMs: number
  /** The program's own CPU time (user + system). */
  cpuMs: number
  stdout: string
}

/**
 * Runs a program under bash (which adds a millisecond or two to the wall time) and reports its
 * wall-clock time and CPU time. Rejects when it exits non-zero, with what it printed.
 */
export function runTimed(file: string, args: readonly string[]): Promise<TimedRun> {
  const quoted = [file, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')
  const script = `${quoted}; rc=$?; times >&2; exit $rc`
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn('bash', ['-c', script], {env: {...process.env, PATH: pathWithSbin()}, stdio: ['ignore', 'pipe', 'pipe']})
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code) => {
      const wallMs = performance.now() - started
      const stderr = Buffer.concat(err).toString('utf8')
      const stdout = Buffer.concat(out).toString('utf8')
      if (code !== 0) {
        reject(new Error(`${file} ${args.join(' ')} exited ${code}: ${stderr.trim().slice(0, 2000)}`))
        return
      }
      try {
        const t = parseBashTimes(stderr)
        resolve({wallMs, cpuMs: t.userMs + t.systemMs, stdout})
      } catch (error) {
        reject(error)
      }
    })
  })
}

/** A program's whole stdout, however large (execFile's maxBuffer would cut a 100,000-flow dump). */
export function runForOutput(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {env: {...process.env, PATH: pathWithSbin()}, stdio: ['ignore', 'pipe', 'pipe']})
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'))
      else reject(new Error(`${file} ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString('utf8').trim().slice(0, 2000)}`))
    })
  })
}

/**
 * Waits until a process has used at most one clock tick of CPU in each of two consecutive
 * `stepMs` windows (OVS frees a deleted bridge's flows in the background, and that should not
 * be billed to the next measurement). Gives up quietly after `maxMs`; returns the time waited.
 */
export async function waitForQuiet(pid: number, {stepMs = 100, maxMs = 5_000} = {}): Promise<number> {
  const started = performance.now()
  const tickMs = 1000 / clockTicksPerSecond()
  let quiet = 0
  let last = processCpuMs(pid)
  while (quiet < 2 && performance.now() - started < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, stepMs))
    const now = processCpuMs(pid)
    quiet = now - last <= tickMs ? quiet + 1 : 0
    last = now
  }
  return performance.now() - started
}
