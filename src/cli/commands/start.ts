import {Command, Flags} from '@oclif/core'
import {Instance} from '../../controller/instance.js'
import {PROFILES, DEFAULT_PROFILE, resolveTiming, SettingsError, type ElectionTiming} from '../../election/timing.js'
import {validateDomain} from '../../election/messages.js'
import {createLogger, type LogFormat, type LogLevel} from '../../log.js'
import {resolveSettings, type FlowServiceSettings} from '../../flows/service/settings.js'
import {FlowServiceConfigError} from '../../flows/service/errors.js'
import {amqpFlag, domainFlag, envName, logFlags} from '../flags.js'

const timingFlag = (summary: string, env: string) => Flags.integer({summary, env: envName(env), helpGroup: 'TIMING'})

/** A profile's values as the help states them, in the flags' words: read from the profile itself. */
function profileText(name: keyof typeof PROFILES): string {
  const t: ElectionTiming = PROFILES[name]
  return `keep-alive every ${t.keepAliveIntervalMs} ms, checked ${t.timeoutCheckDelayMs} ms later, ${t.missTolerance} missed tolerated, init ${t.initMs} ms, self-fence ${t.selfFenceMs} ms`
}

export default class Start extends Command {
  static override summary = 'Start one flowkeeper instance: join the election of its domain and hold the role it is given.'

  static override description = `Instances of the same domain elect one master over RabbitMQ with keep-alive messages.
Every role change is logged as one line (with --log-format json: event "role_change").
SIGINT or SIGTERM stop the instance gracefully: it tells its peers it leaves, so a successor
takes over at once.`

  static override examples = [
    '<%= config.bin %> start --id 1',
    '<%= config.bin %> start --id 2 --domain lab --amqp amqp://guest:guest@127.0.0.1:5672 --log-format json',
    'FLOWKEEPER_ID=3 FLOWKEEPER_PROFILE=reference <%= config.bin %> start',
  ]

  static override flags = {
    id: Flags.integer({
      char: 'i',
      summary: 'Instance id (1-65535); the lowest live id becomes master. Default: random 1-10000.',
      min: 1,
      max: 65535,
      env: envName('id'),
    }),
    domain: domainFlag,
    amqp: amqpFlag,
    profile: Flags.string({
      summary: 'Named timing profile; single settings below override it.',
      description: `fast: sub-second failover that rides out 250 ms event-loop stalls (${profileText('fast')}). reference: the timing of the reference algorithm (${profileText('reference')}).`,
      options: Object.keys(PROFILES),
      default: DEFAULT_PROFILE,
      env: envName('profile'),
      helpGroup: 'TIMING',
    }),
    'keep-alive-interval-ms': timingFlag('Time between two keep-alives of this instance.', 'keep-alive-interval-ms'),
    'timeout-check-delay-ms': timingFlag('Delay after each keep-alive before peers\' tokens are checked.', 'timeout-check-delay-ms'),
    'miss-tolerance': timingFlag('Checks a peer may miss before it is declared dead.', 'miss-tolerance'),
    'init-ms': timingFlag('How long a new instance listens before choosing its role.', 'init-ms'),
    'self-fence-ms': timingFlag('Step down when our own keep-alive has not come back from the broker for this long.', 'self-fence-ms'),
    'of-host': Flags.string({summary: 'Address to accept OpenFlow switch connections on.', default: '0.0.0.0', env: envName('of-host'), helpGroup: 'SWITCHES'}),
    'of-port': Flags.integer({summary: 'OpenFlow port (0: any free port, logged).', default: 6653, min: 0, max: 65535, env: envName('of-port'), helpGroup: 'SWITCHES'}),
    'api-host': Flags.string({summary: 'Address of the REST API (only this host unless you say otherwise).', default: '127.0.0.1', env: envName('api-host'), helpGroup: 'API'}),
    'api-port': Flags.integer({summary: 'REST API port (0: any free port, logged).', default: 8080, min: 0, max: 65535, env: envName('api-port'), helpGroup: 'API'}),
    'api-token': Flags.string({summary: 'Require "Authorization: Bearer <token>" on every API request.', env: envName('api-token'), helpGroup: 'API'}),
    'backup-period-ms': Flags.integer({summary: 'How often each changed flow table is sent whole to the slaves (the mirrors also get every change at once).', env: envName('backup-period-ms'), helpGroup: 'FLOWS'}),
    'backup-enabled': Flags.boolean({summary: 'Periodic whole-table backups (--no-backup-enabled turns them off; changes still replicate).', allowNo: true, env: envName('backup-enabled'), helpGroup: 'FLOWS'}),
    'audit-cron': Flags.string({summary: 'When the master compares each switch with its table and repairs drift (node-cron syntax; "off" disables).', env: envName('audit-cron'), helpGroup: 'FLOWS'}),
    'owned-cookie': Flags.string({
      summary: 'Cookies the cluster owns, VALUE/MASK in hex (e.g. 0xf100000000000000/0xff00000000000000). Default: every cookie.',
      description: 'Flows outside this range are never programmed, reconciled or removed by flowkeeper: set it when other controllers or operators share the switches.',
      env: envName('owned-cookie'),
      helpGroup: 'FLOWS',
    }),
    ...logFlags,
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Start)
    const domainProblem = validateDomain(flags.domain)
    if (domainProblem) this.error(`${flagLabel('domain', this.argv, 'd')}: ${domainProblem}`, {exit: 2})

    let timing: ElectionTiming
    try {
      timing = resolveTiming(flags.profile, {
        keepAliveIntervalMs: flags['keep-alive-interval-ms'],
        timeoutCheckDelayMs: flags['timeout-check-delay-ms'],
        missTolerance: flags['miss-tolerance'],
        initMs: flags['init-ms'],
        selfFenceMs: flags['self-fence-ms'],
      })
    } catch (error) {
      if (error instanceof SettingsError) this.error(withFlagNames(error.message, this.argv), {exit: 2})
      throw error
    }

    let flowSettings: Partial<FlowServiceSettings>
    try {
      flowSettings = {
        backupPeriodMs: flags['backup-period-ms'],
        backupEnabled: flags['backup-enabled'],
        auditCron: flags['audit-cron'],
        ownedCookie: flags['owned-cookie'] === undefined ? undefined : parseCookieRange(flags['owned-cookie']),
      }
      resolveSettings(flowSettings)
    } catch (error) {
      if (error instanceof FlowServiceConfigError || error instanceof RangeError) this.error(withFlagNames(error.message, this.argv), {exit: 2})
      throw error
    }

    const instId = flags.id ?? 1 + Math.floor(Math.random() * 10000)
    const logger = createLogger({
      format: flags['log-format'] as LogFormat,
      level: flags['log-level'] as LogLevel,
      file: flags['log-file'],
      base: {inst_id: instId, domain: flags.domain},
    })
    const instance = new Instance({
      instId, domain: flags.domain, amqpUrl: flags.amqp, timing, logger,
      openflow: {host: flags['of-host'], port: flags['of-port']},
      api: {host: flags['api-host'], port: flags['api-port'], token: flags['api-token']},
      flows: flowSettings,
    })

    let stopping = false
    const stop = async (signal: string) => {
      if (stopping) return
      stopping = true
      logger.info(`stopping on ${signal}`, {event: 'stopping', signal})
      await instance.stop()
      logger.info('stopped', {event: 'stopped'})
      process.exit(0)
    }
    process.on('SIGINT', () => void stop('SIGINT'))
    process.on('SIGTERM', () => void stop('SIGTERM'))

    logger.info('starting', {event: 'starting', amqp: redactUrl(flags.amqp), profile: flags.profile, ...timing})
    try {
      await instance.start()
    } catch (error) {
      logger.error(`cannot start: ${(error as Error).message}`, {event: 'start_failed'})
      await instance.stop().catch(() => {})
      this.exit(1)
    }
  }
}

/** Settings errors name settings as the code does (keepAliveIntervalMs); say them as flags here. */
/** A settings error in the words of the command line: each setting named as its flag (see flagLabel). */
function withFlagNames(message: string, argv: readonly string[]): string {
  return message.replace(/\b(keepAliveIntervalMs|timeoutCheckDelayMs|missTolerance|initMs|selfFenceMs|backupPeriodMs|backupEnabled|auditCron|ownedCookie)\b/g,
    (name) => flagLabel(name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), argv))
}

/**
 * `--flag`, and where its value came from when that was the environment (FLOWKEEPER_<FLAG>) rather
 * than the command line: a service's unit file is not where a user looks first.
 */
function flagLabel(flag: string, argv: readonly string[], char?: string): string {
  const onCommandLine = argv.some((a) => a === `--${flag}` || a.startsWith(`--${flag}=`) || a.startsWith(`--no-${flag}`) || (char !== undefined && a.startsWith(`-${char}`)))
  const env = envName(flag)
  return !onCommandLine && process.env[env] !== undefined ? `--${flag} (from ${env})` : `--${flag}`
}

/** "0xVALUE/0xMASK" (hex, 64 bits each) into a cookie namespace. */
export function parseCookieRange(text: string): {value: bigint, mask: bigint} {
  const match = /^(0x[0-9a-f]{1,16})\/(0x[0-9a-f]{1,16})$/i.exec(text.trim())
  if (!match) throw new RangeError(`ownedCookie (${JSON.stringify(text)}) must be VALUE/MASK in hex, e.g. 0xf100000000000000/0xff00000000000000`)
  const value = BigInt(match[1])
  const mask = BigInt(match[2])
  if ((value & ~mask) !== 0n) throw new RangeError(`ownedCookie: value ${match[1]} has bits outside mask ${match[2]}`)
  return {value, mask}
}

/** Passwords do not belong in logs. */
function redactUrl(urls: string): string {
  return urls.split(',').map((url) => url.replace(/\/\/([^:@/]+):([^@/]*)@/, '//$1:***@')).join(',')
}
