// Private RabbitMQ nodes for tests, run by rabbitmq/start and rabbitmq/stop on free ports.
//
// Cleanup never depends on the test passing: every node started here is stopped (and its folder purged)
// by a process 'exit' hook, and, should the test process die without running it (SIGKILL, a crash),
// by a watcher that rabbitmq/start leaves behind (FLOWKEEPER_AMQP_STOP_WITH_PID), within a second.
import {execFile, spawnSync} from 'node:child_process'
import {freePort} from '../../src/lab/free-port.js'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const START = path.join(root, 'rabbitmq', 'start')
const STOP = path.join(root, 'rabbitmq', 'stop')

export interface TestBroker {
  /** amqp://guest:guest@127.0.0.1:PORT */
  readonly url: string
  readonly port: number
  readonly distPort: number
  /** Stops the node and removes its data. Idempotent. */
  stop(): Promise<void>
  /** Stops the node (clients see the connection close) and starts it again on the same port. */
  restart(): Promise<void>
}

export interface StartBrokerOptions {
  /** AMQP port; a free one when omitted. */
  port?: number
  /** Erlang distribution port; a free one when omitted. */
  distPort?: number
}

/** Ports of nodes that are (or may be) running, with their distribution ports: what the exit hook stops. */
const live = new Map<number, number>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    if (live.size === 0) return
    // Synchronous (nothing asynchronous runs in an 'exit' handler); the nodes stop in parallel.
    const script = [...live].map(([port, dist]) =>
      `FLOWKEEPER_AMQP_PORT=${port} FLOWKEEPER_AMQP_DIST_PORT=${dist} ${shellQuote(STOP)} --purge &`).join('\n') + '\nwait\n'
    spawnSync('bash', ['-c', script], {stdio: 'ignore', timeout: 60_000})
    live.clear()
  })
}

export {freePort}

interface ScriptResult {
  code: number
  stdout: string
  stderr: string
}

function runScript(script: string, args: string[], port: number, distPort: number): Promise<ScriptResult> {
  const env = {
    ...process.env,
    FLOWKEEPER_AMQP_PORT: String(port),
    FLOWKEEPER_AMQP_DIST_PORT: String(distPort),
    FLOWKEEPER_AMQP_STOP_WITH_PID: String(process.pid),
  }
  return new Promise((resolve) => {
    execFile(script, args, {env, timeout: 120_000}, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0
      resolve({code, stdout: String(stdout), stderr: String(stderr)})
    })
  })
}

async function startNode(port: number, distPort: number): Promise<string> {
  installExitHook()
  live.set(port, distPort) // before starting: a start that fails half-way still gets cleaned up
  const result = await runScript(START, [], port, distPort)
  const url = result.stdout.trim()
  if (result.code !== 0 || !url.startsWith('amqp://')) {
    // Stop what may be running but keep the folder: its logs say why the start failed.
    await runScript(STOP, [], port, distPort)
    live.delete(port)
    throw new Error(`rabbitmq/start on port ${port} failed (exit ${result.code}):\n${result.stderr.trim()}`)
  }
  return url
}

/** Starts a private node (about 5 s). Retries on other ports when free ones were picked and got taken. */
export async function startBroker(options: StartBrokerOptions = {}): Promise<TestBroker> {
  const attempts = options.port === undefined ? 3 : 1
  let lastError: unknown
  for (let i = 0; i < attempts; i++) {
    const port = options.port ?? await freePort()
    let distPort = options.distPort ?? await freePort()
    while (distPort === port) distPort = await freePort()
    try {
      const url = await startNode(port, distPort)
      return brokerHandle(url, port, distPort)
    } catch (error) {
      lastError = error
      if (!/already in use/.test(String(error))) break
    }
  }
  throw lastError
}

function brokerHandle(url: string, port: number, distPort: number): TestBroker {
  let stopped = false
  return {
    url,
    port,
    distPort,
    async stop() {
      if (stopped) return
      stopped = true
      const result = await runScript(STOP, ['--purge'], port, distPort)
      live.delete(port)
      if (result.code !== 0) throw new Error(`rabbitmq/stop on port ${port} failed (exit ${result.code}):\n${result.stderr.trim()}`)
    },
    async restart() {
      if (stopped) throw new Error(`broker on port ${port} was stopped; start a new one`)
      const result = await runScript(STOP, [], port, distPort)
      if (result.code !== 0) throw new Error(`rabbitmq/stop on port ${port} failed (exit ${result.code}):\n${result.stderr.trim()}`)
      await startNode(port, distPort)
    },
  }
}

let shared: Promise<{url: string}> | undefined

/**
 * One node for the whole test run, started by the first caller (tests that only need some broker use
 * this and share the ~5 s start) and stopped when the process exits. FLOWKEEPER_TEST_AMQP_URL points
 * the tests at a broker of your own instead. Tests must not stop or restart it: use startBroker().
 */
export function sharedBroker(): Promise<{url: string}> {
  const external = process.env.FLOWKEEPER_TEST_AMQP_URL
  if (external) return Promise.resolve({url: external})
  shared ??= startBroker().then((broker) => ({url: broker.url}))
  return shared
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`
}
