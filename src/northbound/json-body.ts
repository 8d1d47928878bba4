// Request bodies of the REST API. Ryu reads them with Python, whose integers are exact at any size:
// a script may send a 64-bit cookie or datapath id as a bare JSON number. JSON.parse would round it
// to a double; here any integer literal beyond 2^53 becomes a bigint, which the ofctl_rest readers
// take as they take a number.

/** A body that is not JSON; `message` says where and why. */
export class JsonBodyError extends Error {
  override readonly name = 'JsonBodyError'
  readonly statusCode = 400
}

const MAX_DEPTH = 64

/**
 * Parses JSON text as JSON.parse does, except that integer literals too large for a double to hold
 * exactly come back as bigint, and nesting deeper than MAX_DEPTH is refused. Empty (or blank) text
 * is undefined. Throws JsonBodyError.
 *
 * JSON.parse itself does all the reading (V8's parser is not recursive, so depth cannot hurt it);
 * one walk of the result then checks the depth and puts the bigints in. A batch of thousands of
 * flow entries is never read character by character in JavaScript.
 */
export function parseJsonBody(text: string): unknown {
  if (!/\S/.test(text)) return undefined // (not trim(): it would copy a large body)
  // Most bodies hold no integer of 16 digits or more: JSON.parse alone reads them exactly.
  if (!/[0-9]{16}/.test(text)) return walked(parseText(text), undefined)
  // Each big integer literal becomes a marker string carrying a per-call nonce (no string of the
  // body can pass for one). The expression that looks at numbers alone is tried first: it cannot
  // tell a digit run inside a string, but replacing one there always breaks the JSON (the marker's
  // quote ends the string, its backslash is then outside one), so a parse error means: do it again
  // skipping strings whole. Either takes integer literals only: not a fraction's or an exponent's
  // digits (the lookarounds), not a leading-zero run (invalid JSON, left to JSON.parse).
  const nonce = Math.random().toString(36).slice(2, 10)
  for (const pattern of [BIG_INTEGER, BIG_INTEGER_OR_STRING]) {
    const big: string[] = []
    const rewritten = text.replace(pattern, (token) => {
      if (token.charCodeAt(0) === 0x22) return token
      const value = BigInt(token)
      if (value <= MAX_SAFE && value >= -MAX_SAFE) return token
      big.push(token)
      return `"\\u0000bigint${nonce}:${big.length - 1}"`
    })
    if (big.length === 0) return walked(parseText(text), undefined)
    let parsed: unknown
    try {
      parsed = JSON.parse(rewritten)
    } catch (error) {
      if (pattern === BIG_INTEGER) continue
      throw bodyError(error)
    }
    const marker = `\u0000bigint${nonce}:` // as the parsed string reads (in the JSON text, NUL is escaped)
    return walked(parsed, (s) => (s.startsWith(marker) ? BigInt(big[Number(s.slice(marker.length))]!) : s))
  }
  throw new Error('unreachable')
}

function parseText(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw bodyError(error)
  }
}

function bodyError(error: unknown): JsonBodyError {
  return new JsonBodyError(`body is not valid JSON: ${(error as Error).message.replace(/"?\\u0000bigint[0-9a-z]*:[0-9]+"?/g, '<number>')}`)
}

/**
 * `v` after checking its depth and, with `restore`, replacing in place every string starting with
 * NUL (only markers do, in practice) by what restore makes of it.
 */
function walked(v: unknown, restore: ((s: string) => unknown) | undefined): unknown {
  if (typeof v === 'string') return restore && v.charCodeAt(0) === 0 ? restore(v) : v
  walk(v, restore, 1)
  return v
}

function walk(v: unknown, restore: ((s: string) => unknown) | undefined, depth: number): void {
  if (typeof v !== 'object' || v === null) return
  if (depth > MAX_DEPTH) throw new JsonBodyError(`body is not valid JSON: nested deeper than ${MAX_DEPTH} levels`)
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i]
      if (typeof x === 'string') {
        if (restore && x.charCodeAt(0) === 0) v[i] = restore(x)
      } else if (typeof x === 'object' && x !== null) {
        walk(x, restore, depth + 1)
      }
    }
    return
  }
  const o = v as Record<string, unknown>
  for (const k in o) {
    const x = o[k]
    if (typeof x === 'string') {
      if (!restore || x.charCodeAt(0) !== 0) continue
      // defineProperty, not assignment: a key named __proto__ must stay a plain property.
      if (k === '__proto__') Object.defineProperty(o, k, {value: restore(x), writable: true, enumerable: true, configurable: true})
      else o[k] = restore(x)
    } else if (typeof x === 'object' && x !== null) {
      walk(x, restore, depth + 1)
    }
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
/** An integer literal of 16 digits or more (inside strings too: see parseJsonBody). */
const BIG_INTEGER = /(?<![\w.+-])-?[1-9][0-9]{15,}(?![\w.])/g
/** A JSON string (skipped), or an integer literal of 16 digits or more outside one. */
const BIG_INTEGER_OR_STRING = /"[^"\\]*(?:\\.[^"\\]*)*"|(?<![\w.+-])-?[1-9][0-9]{15,}(?![\w.])/g
