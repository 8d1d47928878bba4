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
 * exactly come back as bigint. Empty (or blank) text is undefined. Throws JsonBodyError.
 */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === '') return undefined
  const {longDigitRunInString} = scanStructure(text)
  // Most bodies hold no integer of 16 digits or more: JSON.parse alone reads them exactly.
  if (!/[0-9]{16}/.test(text)) return parseText(text)
  // Each big integer literal outside strings becomes a marker string (with a per-call nonce, so no
  // string in the body can pass for one), then the parsed tree gets bigints in their place. The
  // regular expressions take only integer literals: not a fraction's or an exponent's digits (the
  // lookarounds), not a leading-zero run (invalid JSON, left to JSON.parse). Strings are skipped
  // whole, unless none holds 16 digits in a row (the usual case): then no number-like run can be
  // inside one, and the cheaper expression that looks at numbers alone is exact.
  const big: string[] = []
  const nonce = Math.random().toString(36).slice(2, 10)
  const marker = `\u0000bigint${nonce}:` // as the parsed string reads; in the JSON text, NUL is escaped
  const pattern = longDigitRunInString ? BIG_INTEGER_OR_STRING : BIG_INTEGER
  const rewritten = text.replace(pattern, (token) => {
    if (token.charCodeAt(0) === 0x22) return token
    const value = BigInt(token)
    if (value <= MAX_SAFE && value >= -MAX_SAFE) return token
    big.push(token)
    return `"\\u0000bigint${nonce}:${big.length - 1}"`
  })
  if (big.length === 0) return parseText(text)
  let parsed: unknown
  try {
    parsed = JSON.parse(rewritten)
  } catch (error) {
    throw new JsonBodyError(`body is not valid JSON: ${(error as Error).message.replace(/"?\\u0000bigint[0-9a-z]*:[0-9]+"?/g, '<number>')}`)
  }
  const restore = (v: string): unknown => (v.startsWith(marker) ? BigInt(big[Number(v.slice(marker.length))]!) : v)
  if (typeof parsed === 'string') return restore(parsed)
  putBigints(parsed, restore)
  return parsed
}

/** Replaces, in place, every string of the tree that `restore` turns into something else. */
function putBigints(v: unknown, restore: (s: string) => unknown): void {
  if (typeof v !== 'object' || v === null) return
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i]
      if (typeof x === 'string') {
        if (x.charCodeAt(0) === 0) v[i] = restore(x)
      } else {
        putBigints(x, restore)
      }
    }
    return
  }
  const o = v as Record<string, unknown>
  for (const k in o) {
    const x = o[k]
    if (typeof x === 'string') {
      if (x.charCodeAt(0) !== 0) continue
      // defineProperty, not assignment: a key named __proto__ must stay a plain property.
      if (k === '__proto__') Object.defineProperty(o, k, {value: restore(x), writable: true, enumerable: true, configurable: true})
      else o[k] = restore(x)
    } else {
      putBigints(x, restore)
    }
  }
}


const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
/** A JSON string, or a bracket outside strings. */
const STRING_OR_BRACKET = /"[^"\\]*(?:\\.[^"\\]*)*"|[[\]{}]/g
/** An integer literal of 16 digits or more (outside strings only if no string holds such a run). */
const BIG_INTEGER = /(?<![\w.+-])-?[1-9][0-9]{15,}(?![\w.])/g
/** A JSON string (skipped), or an integer literal of 16 digits or more outside one. */
const BIG_INTEGER_OR_STRING = /"[^"\\]*(?:\\.[^"\\]*)*"|(?<![\w.+-])-?[1-9][0-9]{15,}(?![\w.])/g

function parseText(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new JsonBodyError(`body is not valid JSON: ${(error as Error).message.replace(/\u0000bigint:\d+/g, '<number>')}`)
  }
}

/** Refuses nesting deeper than MAX_DEPTH, as the slow path does, without copying the text. */
/**
 * One pass over the text's strings and brackets (the regular expression jumps over everything
 * else): refuses nesting deeper than MAX_DEPTH, and tells whether some string holds 16 digits in
 * a row (then the big-integer rewrite must skip strings).
 */
function scanStructure(text: string): {longDigitRunInString: boolean} {
  let depth = 0
  let longDigitRunInString = false
  for (const m of text.matchAll(STRING_OR_BRACKET)) {
    const token = m[0]
    const c = token.charCodeAt(0)
    if (c === 0x22) {
      if (!longDigitRunInString && token.length >= 18 && /[0-9]{16}/.test(token)) longDigitRunInString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_DEPTH) throw new JsonBodyError(`body is not valid JSON: nested deeper than ${MAX_DEPTH} levels`)
    } else {
      depth--
    }
  }
  return {longDigitRunInString}
}
