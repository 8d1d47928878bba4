// Request bodies: JSON as Python reads it for Ryu, integers beyond 2^53 kept exact.
import {expect} from 'chai'
import fc from 'fast-check'
import {JsonBodyError, parseJsonBody} from '../../../src/northbound/json-body.js'

describe('parseJsonBody', () => {
  it('big integers become bigints; everything else is JSON.parse', () => {
    expect(parseJsonBody('{"dpid": 18446744073709551615, "n": 9007199254740991, "neg": -9007199254740993, "f": 1.5e300, "s": "18446744073709551615"}'))
      .to.deep.equal({dpid: 18446744073709551615n, n: 9007199254740991, neg: -9007199254740993n, f: 1.5e300, s: '18446744073709551615'})
    expect(parseJsonBody('[12345678901234567890, {"a": [99999999999999999999]}]')).to.deep.equal([12345678901234567890n, {a: [99999999999999999999n]}])
    expect(parseJsonBody('"a \\" 12345678901234567890 \\\\"')).to.equal('a " 12345678901234567890 \\')
    // Only integer literals: not a fraction's or an exponent's digits; a string that looks like our marker stays a string.
    expect(parseJsonBody('[0.12345678901234567890, 1e12345678901234567, -12345678901234567890, 12345678901234567890.5]'))
      .to.deep.equal([0.12345678901234567890, Infinity, -12345678901234567890n, 12345678901234567890.5])
    expect(parseJsonBody('{"s": "\\u0000bigint:0", "n": 12345678901234567890}')).to.deep.equal({s: '\u0000bigint:0', n: 12345678901234567890n})
    // Strings holding long digit runs next to big numbers (the path that skips strings whole).
    expect(parseJsonBody('{"s": "x 12345678901234567890 \\" 98765432109876543210", "n": [12345678901234567890, "12345678901234567891"]}'))
      .to.deep.equal({s: 'x 12345678901234567890 " 98765432109876543210', n: [12345678901234567890n, '12345678901234567891']})
  })

  it('empty is undefined; invalid JSON is a 400 with the reason', () => {
    expect(parseJsonBody('')).to.equal(undefined)
    expect(parseJsonBody(' \n')).to.equal(undefined)
    for (const text of ['{', '{"a": 1,}', "{'dpid': 1}", '[1] x', '01', '{"a": 18446744073709551615', '[018446744073709551615]', '{"a": 18446744073709551615 x}']) {
      expect(() => parseJsonBody(text), text).to.throw(JsonBodyError, /^body is not valid JSON: /)
    }
    expect(new JsonBodyError('x').statusCode).to.equal(400)
  })

  it('refuses absurd nesting; a __proto__ key stays a plain property', () => {
    expect(() => parseJsonBody('['.repeat(100) + ']'.repeat(100))).to.throw(JsonBodyError, /nested deeper than 64/)
    // The same with a big integer inside (the path that rewrites the text) and with brackets in strings (ignored).
    expect(() => parseJsonBody('['.repeat(100) + '18446744073709551615' + ']'.repeat(100))).to.throw(JsonBodyError, /nested deeper than 64/)
    expect(parseJsonBody(`[${JSON.stringify('['.repeat(100))}]`)).to.deep.equal(['['.repeat(100)])
    const o = parseJsonBody('{"__proto__": {"polluted": 18446744073709551615}}') as Record<string, unknown>
    expect(Object.getPrototypeOf(o)).to.equal(Object.prototype)
    expect(Object.prototype.hasOwnProperty.call(o, '__proto__')).to.equal(true)
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined)
  })

  it('agrees with JSON.parse on any JSON without big integers (fuzzed)', () => {
    const unsafe = (v: unknown): boolean => typeof v === 'number' ? Number.isInteger(v) && !Number.isSafeInteger(v)
      : Array.isArray(v) ? v.some(unsafe) : v !== null && typeof v === 'object' ? Object.values(v).some(unsafe) : false
    fc.assert(fc.property(fc.jsonValue({maxDepth: 5}).filter((v) => !unsafe(v)), (v) => {
      const text = JSON.stringify(v)
      expect(parseJsonBody(text)).to.deep.equal(JSON.parse(text))
    }), {numRuns: 500})
  })
})
