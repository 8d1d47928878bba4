// The private RabbitMQ node of rabbitmq/start and rabbitmq/stop, driven from TypeScript (the lab
// command, tests, benchmarks). The scripts hold the how; this only calls them.
import {execFile} from 'node:child_process'
import {connect} from 'node:net'
import {fileURLToPath} from 'node:url'
import {freePort} from './free-port.js'

const RABBITMQ_DIR = fileURLToPath(new URL('../../rabbitmq/', import.meta.url))

export interface PrivateBroker {
  url: string
  port: number
  /** True when this process started the node (and so should stop it). */
  startedHere: boolean
  stop(): Promise<void>
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(`${RABBITMQ_DIR}${script}`, args, {env: {...process.env, ...env}, timeout: timeoutMs}, (error, stdout, stderr) => {
      if (error) reject(new Error(`rabbitmq/${script} failed: ${stderr.trim() || error.message}`))
      else resolve(stdout.trim())
    })
  })
}

export function portAnswers(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({port, host})
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

export interface PrivateBrokerOptions {
  /** Erlang distribution port; by default the AMQP port + 20000 (rabbitmq/start's), or a free one when that is above 65535. */
  distPort?: number
  /**
   * Stop the node when this process exits, however it exits (rabbitmq/start leaves a watcher), and
   * purge its folder: a node tied to one process's life (a benchmark's) has no data worth keeping,
   * so stop() purges it as well.
   */
  stopWithThisProcess?: boolean
}

/**
 * Starts the private node on `port` unless one already answers there (then it is used as is
 * and left running on stop()).
 */
export async function startPrivateBroker(port: number, options: PrivateBrokerOptions = {}): Promise<PrivateBroker> {
  const env: NodeJS.ProcessEnv = {FLOWKEEPER_AMQP_PORT: String(port)}
  // rabbitmq/start's default distribution port, the AMQP port + 20000, does not exist above 45535:
  // any free port then.
  const distPort = options.distPort ?? (port + 20000 > 65535 ? await freePort() : undefined)
  if (distPort !== undefined) env.FLOWKEEPER_AMQP_DIST_PORT = String(distPort)
  const wasRunning = await portAnswers(port)
  // Never tie a node someone else runs to this process: it is used as is and left running.
  if (options.stopWithThisProcess && !wasRunning) env.FLOWKEEPER_AMQP_STOP_WITH_PID = String(process.pid)
  const url = await run('start', [], env, 180_000)
  let stopped = false
  return {
    url,
    port,
    startedHere: !wasRunning,
    async stop() {
      if (stopped || wasRunning) return
      stopped = true
      await run('stop', options.stopWithThisProcess ? ['--purge'] : [], env, 60_000)
    },
  }
}
