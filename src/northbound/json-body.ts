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
  // Most bodies hold no integer of 16 digits or more: JSON.parse alone reads them exactly, and a
  // batch of thousands of flow entries need not be copied character by character.
  if (!/[0-9]{16}/.test(text)) {
    checkDepth(text)
    return parseText(text)
  }
  const big: string[] = []
  // Replace each big integer literal outside strings by a marker string, parse, then put bigints back.
  let out = ''
  let i = 0
  let depth = 0
  const n = text.length
  while (i < n) {
    const c = text[i]!
    if (c === '"') {
      let j = i + 1
      while (j < n && text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      out += text.slice(i, j + 1)
      i = j + 1
      continue
    }
    if (c === '[' || c === '{') {
      if (++depth > MAX_DEPTH) throw new JsonBodyError(`body is not valid JSON: nested deeper than ${MAX_DEPTH} levels`)
    } else if (c === ']' || c === '}') {
      depth--
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400))
      if (m && m[2] === undefined && m[3] === undefined && m[0].replace('-', '').length > 15) {
        const value = BigInt(m[0])
        if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER)) {
          out += JSON.stringify(`\u0000bigint:${big.length}`)
          big.push(m[0])
          i += m[0].length
          continue
        }
      }
      if (m) {
        out += m[0]
        i += m[0].length
        continue
      }
    }
    out += c
    i++
  }
  const parsed = parseText(out)
  return big.length === 0 ? parsed : restore(parsed, big)
}

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

function restore(v: unknown, big: string[]): unknown {
  if (typeof v === 'string') {
    const m = /^\u0000bigint:(\d+)$/.exec(v)
    const literal = m ? big[Number(m[1])] : undefined
    return literal !== undefined ? BigInt(literal) : v
  }
  if (Array.isArray(v)) return v.map((x) => restore(x, big))
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>
    // defineProperty, not assignment: a key named __proto__ must stay a plain property.
    for (const k of Object.keys(o)) Object.defineProperty(o, k, {value: restore(o[k], big), writable: true, enumerable: true, configurable: true})
    return o
  }
  return v
}
