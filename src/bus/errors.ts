// One error class per condition the caller may want to tell apart, each with a stable `name`.

export class BusError extends Error {
  override name = 'BusError'
  constructor(message: string, options?: {cause?: unknown}) {
    super(message, options)
  }
}

/** Invalid options or arguments: a programming or configuration mistake, retrying cannot help. */
export class BusConfigError extends BusError {
  override name = 'BusConfigError'
}

/** start() could not reach any broker; `attempts` says what happened with each URL (passwords masked). */
export class BusStartError extends BusError {
  override name = 'BusStartError'
  constructor(readonly attempts: ReadonlyArray<{url: string, error: string}>, options?: {cause?: unknown}) {
    super(`cannot connect to RabbitMQ: ${attempts.map((a) => `${a.url}: ${a.error}`).join('; ')}`, options)
  }
}

/** The bus was closed before the operation could complete. */
export class BusClosedError extends BusError {
  override name = 'BusClosedError'
}
