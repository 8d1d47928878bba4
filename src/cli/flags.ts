// Flags shared by several commands. Every flag can also come from the environment as
// FLOWKEEPER_<FLAG> (FLOWKEEPER_DOMAIN, FLOWKEEPER_AMQP, ...), so one instance per host can be
// configured by a service manager without a command line.
import {Flags} from '@oclif/core'
import {LOG_FORMATS, LOG_LEVELS} from '../log.js'

export function envName(flag: string): string {
  return `FLOWKEEPER_${flag.toUpperCase().replace(/-/g, '_')}`
}

export const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672'

export const domainFlag = Flags.string({
  char: 'd',
  summary: 'Election domain: instances with the same domain elect one master among them.',
  description: 'Letters, digits, "_" and "-" (it becomes part of the routing key c.<domain>.discover).',
  default: '0',
  env: envName('domain'),
})

export const amqpFlag = Flags.string({
  summary: 'RabbitMQ URL; several comma-separated URLs (a cluster) are tried in turn.',
  default: DEFAULT_AMQP_URL,
  env: envName('amqp'),
})

export const logFlags = {
  'log-format': Flags.string({
    summary: 'pretty: one readable line per event; json: one JSON object per line.',
    options: [...LOG_FORMATS],
    default: 'pretty',
    env: envName('log-format'),
  }),
  'log-file': Flags.string({
    summary: 'Also append JSON log lines to this file.',
    env: envName('log-file'),
  }),
  'log-level': Flags.string({
    summary: 'Least severe level shown.',
    options: [...LOG_LEVELS],
    default: 'info',
    env: envName('log-level'),
  }),
}
