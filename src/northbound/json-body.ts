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
  checkDepth(text)
  // Most bodies hold no integer of 16 digits or more: JSON.parse alone reads them exactly.
  if (!/[0-9]{16}/.test(text)) return parseText(text)
  // Each big integer literal outside strings becomes a marker string (with a per-call nonce, so no
  // string in the body can pass for one); JSON.parse's reviver puts the bigints back. The regular
  // expression skips strings whole and takes only integer literals: not a fraction's or an
  // exponent's digits (the lookarounds), not a leading-zero run (invalid JSON, left to JSON.parse).
  const big: string[] = []
  const nonce = Math.random().toString(36).slice(2, 10)
  const marker = `\u0000bigint${nonce}:` // as the reviver sees it; in the JSON text, NUL is escaped
  const rewritten = text.replace(BIG_INTEGER_OR_STRING, (token) => {
    if (token.charCodeAt(0) === 0x22) return token
    const value = BigInt(token)
    if (value <= MAX_SAFE && value >= -MAX_SAFE) return token
    big.push(token)
    return `"\\u0000bigint${nonce}:${big.length - 1}"`
  })
  if (big.length === 0) return parseText(text)
  try {
    return JSON.parse(rewritten, (_key, v: unknown) =>
      typeof v === 'string' && v.startsWith(marker) ? BigInt(big[Number(v.slice(marker.length))]!) : v)
  } catch (error) {
    throw new JsonBodyError(`body is not valid JSON: ${(error as Error).message.replace(/"?\\u0000bigint[0-9a-z]*:[0-9]+"?/g, '<number>')}`)
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
/** A JSON string (skipped), or an integer literal of 16 digits or more outside one. */
const BIG_INTEGER_OR_STRING = /"(?:[^"\\]|\\.)*"|(?<![\w.+-])-?[1-9][0-9]{15,}(?![\w.])/g

function parseText(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new JsonBodyError(`body is not valid JSON: ${(error as Error).message.replace(/\u0000bigint:\d+/g, '<number>')}`)
  }
}

/** Refuses nesting deeper than MAX_DEPTH, as the slow path does, without copying the text. */
function checkDepth(text: string): void {
  let depth = 0
  const n = text.length
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) { // a string: skip to its end
      i++
      while (i < n && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_DEPTH) throw new JsonBodyError(`body is not valid JSON: nested deeper than ${MAX_DEPTH} levels`)
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
}
