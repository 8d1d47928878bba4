import type {LogFields, Logger} from '../log.js'

/**
 * Logs a warning at most once per interval per key: garbage flooding a routing key must stay
 * visible in the logs without drowning them. The line carries how many were suppressed.
 */
export class RateLimitedWarning {
  private readonly lastAt = new Map<string, number>()
  private readonly suppressed = new Map<string, number>()

  constructor(private readonly log: Logger, private readonly intervalMs: number, private readonly nowMs = () => performance.now()) {}

  warn(key: string, message: string, fields: LogFields): void {
    const now = this.nowMs()
    const last = this.lastAt.get(key)
    if (last !== undefined && now - last < this.intervalMs) {
      this.suppressed.set(key, (this.suppressed.get(key) ?? 0) + 1)
      return
    }
    const suppressed = this.suppressed.get(key) ?? 0
    this.lastAt.set(key, now)
    this.suppressed.set(key, 0)
    this.log.warn(message, suppressed > 0 ? {...fields, suppressed} : fields)
  }
}
