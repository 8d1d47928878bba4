// Logging: one line per event, readable on a terminal ('pretty') or one JSON object per line
// ('json') for tools. Modules take the small `Logger` interface below, never winston itself,
// so tests can pass a recording logger and nothing under src/ writes to the console directly.
import winston from 'winston'

export type LogFields = Record<string, unknown>
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error']
export type LogFormat = 'pretty' | 'json'
export const LOG_FORMATS: readonly LogFormat[] = ['pretty', 'json']

export interface Logger {
  debug(message: string, fields?: LogFields): void
  info(message: string, fields?: LogFields): void
  warn(message: string, fields?: LogFields): void
  error(message: string, fields?: LogFields): void
  /** A logger that adds `fields` to every line (e.g. inst_id and domain). */
  child(fields: LogFields): Logger
}

/**
 * Wall-clock time in epoch milliseconds with sub-millisecond precision. Failover is measured
 * from these timestamps across processes, so whole milliseconds are too coarse.
 */
export function epochMs(): number {
  return performance.timeOrigin + performance.now()
}

export interface LoggerOptions {
  format?: LogFormat
  level?: LogLevel
  /** Also append JSON lines to this file (always JSON: files are for tools). */
  file?: string
  /** Fields on every line. */
  base?: LogFields
  /** Where terminal output goes; stdout unless told otherwise. */
  stream?: NodeJS.WritableStream
}

// BigInt values (datapath ids, cookies) cannot go through JSON.stringify as they are.
function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value
}

const jsonLine = winston.format.printf((info) => {
  const {level, message, ts, ...rest} = info as winston.Logform.TransformableInfo & {ts: number}
  return JSON.stringify({ts, level, msg: message, ...rest}, jsonSafe)
})

function prettyValue(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value
  if (typeof value === 'bigint') return value.toString()
  return JSON.stringify(value, jsonSafe)
}

/** One readable line for a log record: time, level, who, message, then the other fields. */
export function formatPretty(record: Record<string, unknown>): string {
  const {level, message, msg, ts, event: _event, inst_id, domain, ...rest} = record
  const time = new Date(Number(ts ?? Date.now())).toISOString().slice(11, 23)
  const who = [inst_id !== undefined ? `inst ${inst_id}` : '', domain !== undefined ? `dom ${domain}` : ''].filter(Boolean).join(' ')
  const extra = Object.entries(rest).map(([key, value]) => `${key}=${prettyValue(value)}`).join(' ')
  return `${time} ${String(level ?? 'info').toUpperCase().padEnd(5)} ${who ? `[${who}] ` : ''}${String(message ?? msg ?? '')}${extra ? `  ${extra}` : ''}`
}

const prettyLine = winston.format.printf((info) => formatPretty(info as Record<string, unknown>))

class WinstonLogger implements Logger {
  constructor(private readonly inner: winston.Logger, private readonly fields: LogFields) {}

  private write(level: LogLevel, message: string, fields?: LogFields): void {
    // winston formats a record before its transports drop it by level: on hot paths (a debug
    // line per forwarded flow request) that costs microseconds for nothing, so check first.
    if (!this.inner.isLevelEnabled(level)) return
    this.inner.log({level, message, ts: epochMs(), ...this.fields, ...fields})
  }

  debug(message: string, fields?: LogFields): void { this.write('debug', message, fields) }
  info(message: string, fields?: LogFields): void { this.write('info', message, fields) }
  warn(message: string, fields?: LogFields): void { this.write('warn', message, fields) }
  error(message: string, fields?: LogFields): void { this.write('error', message, fields) }
  child(fields: LogFields): Logger { return new WinstonLogger(this.inner, {...this.fields, ...fields}) }
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const transports: winston.transport[] = [
    new winston.transports.Stream({
      stream: options.stream ?? process.stdout,
      format: options.format === 'json' ? jsonLine : prettyLine,
    }),
  ]
  if (options.file) transports.push(new winston.transports.File({filename: options.file, format: jsonLine}))
  const inner = winston.createLogger({level: options.level ?? 'info', transports})
  return new WinstonLogger(inner, options.base ?? {})
}

/** A logger that keeps lines in memory: for tests that assert what was logged. */
export class MemoryLogger implements Logger {
  readonly lines: Array<{level: LogLevel, message: string} & LogFields>

  constructor(private readonly fields: LogFields = {}, lines?: Array<{level: LogLevel, message: string} & LogFields>) {
    this.lines = lines ?? []
  }

  private write(level: LogLevel, message: string, fields?: LogFields): void {
    this.lines.push({level, message, ...this.fields, ...fields})
  }

  debug(message: string, fields?: LogFields): void { this.write('debug', message, fields) }
  info(message: string, fields?: LogFields): void { this.write('info', message, fields) }
  warn(message: string, fields?: LogFields): void { this.write('warn', message, fields) }
  error(message: string, fields?: LogFields): void { this.write('error', message, fields) }
  child(fields: LogFields): Logger { return new MemoryLogger({...this.fields, ...fields}, this.lines) }
}

/** Discards everything. */
export const silentLogger: Logger = {
  debug() {}, info() {}, warn() {}, error() {},
  child() { return silentLogger },
}
