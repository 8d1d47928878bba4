// The REST API as the CLI calls it: a thin fetch wrapper that turns every failure into one sentence
// naming what went wrong, and the readers of command-line arguments the flow commands share.

/** An argument the user typed that cannot be used; `argument` names it. */
export class ArgumentError extends Error {
  override readonly name = 'ArgumentError'
  constructor(readonly argument: string, readonly reason: string) {
    super(`${argument}: ${reason}`)
  }
}

const U64_MAX = 0xffffffffffffffffn

/**
 * A datapath id as typed: decimal (`1`, `18446744073709551615`), `0x`-prefixed hex (`0x1`), or
 * exactly 16 hex digits as Open vSwitch and `flowkeeper switches` print it (`000000000000000a`;
 * 16 digits are always read as hex, even when they are all decimal digits).
 */
export function parseDpidArg(text: string, argument = 'dpid'): bigint {
  const t = text.trim()
  let n: bigint
  if (/^0[xX][0-9a-fA-F]{1,16}$/.test(t)) n = BigInt(t.toLowerCase())
  else if (/^[0-9a-fA-F]{16}$/.test(t)) n = BigInt(`0x${t}`)
  else if (/^[0-9]+$/.test(t)) n = BigInt(t)
  else {
    throw new ArgumentError(argument, `'${text}' is not a datapath id: write it in decimal, as 0x-prefixed hex, or as 16 hex digits`)
  }
  if (n > U64_MAX) throw new ArgumentError(argument, `'${text}' is larger than a datapath id (64 bits)`)
  return n
}

/** The API answered with an error status, or could not be reached (status 0). */
export class ApiError extends Error {
  override readonly name = 'ApiError'
  constructor(message: string, readonly status: number, readonly body?: unknown) {
    super(message)
  }
}

export interface ApiClientOptions {
  /** Base URL, e.g. http://127.0.0.1:8080. */
  api: string
  token?: string | undefined
  /** Per request. Default 30 s (a flow change waits for the switch and the mirrors). */
  timeoutMs?: number
}

export class ApiClient {
  private readonly base: URL

  constructor(private readonly options: ApiClientOptions) {
    try {
      this.base = new URL(options.api)
    } catch {
      throw new ArgumentError('--api', `'${options.api}' is not a URL (e.g. http://127.0.0.1:8080)`)
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new ArgumentError('--api', `'${options.api}' is not an http:// or https:// URL`)
    }
  }

  /** Sends a request; resolves with the parsed JSON body (undefined when empty) of a 2xx answer, throws ApiError otherwise. */
  async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(path, this.base)
    const headers: Record<string, string> = {}
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let response: Response
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? {body: JSON.stringify(body)} : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      })
    } catch (error) {
      const cause = (error as {cause?: {code?: string, message?: string}}).cause
      const why = (error as Error).name === 'TimeoutError' ? 'no answer in time' : cause?.code ?? cause?.message ?? (error as Error).message
      throw new ApiError(`cannot reach the instance at ${this.options.api}: ${why}`, 0)
    }
    const text = await response.text()
    let parsed: unknown
    try {
      parsed = text === '' ? undefined : JSON.parse(text)
    } catch {
      parsed = text
    }
    if (!response.ok) {
      const detail = typeof parsed === 'object' && parsed !== null && typeof (parsed as {error?: unknown}).error === 'string'
        ? (parsed as {error: string}).error
        : text || response.statusText
      throw new ApiError(`${method} ${url.pathname} answered ${response.status}: ${detail}`, response.status, parsed)
    }
    return parsed
  }
}
