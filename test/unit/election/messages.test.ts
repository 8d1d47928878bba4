import {expect} from 'chai'
import fc from 'fast-check'
import {
  discoverRoutingKey, ELECTION_PROTOCOL_VERSION, MAX_TERM, parseElectionMessage, validateDomain,
} from '../../../src/election/messages.js'
import {SettingsError} from '../../../src/election/errors.js'

const keepAlive = {v: 1, msg: 'keep_alive', domain: 'dc1', inst_id: 7, role: 'slave', qid: 'amq.gen-x', term: 65543}
const reasonFor = (raw: unknown, domain = 'dc1') => {
  const result = parseElectionMessage(raw, domain)
  return result.ok ? 'accepted' : result.reason
}

describe('election messages', () => {
  it('version 1 of the protocol', () => {
    expect(ELECTION_PROTOCOL_VERSION).to.equal(1)
  })

  it('accepts each message kind and returns only its known fields', () => {
    const find = {v: 1, msg: 'find', domain: 'dc1', inst_id: 3, qid: 'q3'}
    const leave = {v: 1, msg: 'leave', domain: 'dc1', inst_id: 3, qid: 'q3', term: 0}
    for (const message of [find, keepAlive, leave, {...keepAlive, seq: 12}]) {
      expect(parseElectionMessage(JSON.parse(JSON.stringify(message)), 'dc1')).to.deep.equal({ok: true, message})
    }
  })

  it('tolerates a few small unknown fields, and drops them', () => {
    const result = parseElectionMessage({...keepAlive, hint: 'x', n: 1, flag: true, none: null}, 'dc1')
    expect(result).to.deep.equal({ok: true, message: keepAlive})
  })

  const refused: Array<[string, unknown, string]> = [
    ['a string', 'keep_alive', 'not_object'],
    ['null', null, 'not_object'],
    ['an array', [1, 2, 3], 'not_object'],
    ['another version', {...keepAlive, v: 2}, 'unsupported_version'],
    ['no version', {...keepAlive, v: undefined}, 'bad_version'],
    ['an unknown msg', {...keepAlive, msg: 'elect_me'}, 'unknown_msg'],
    ['another domain', {...keepAlive, domain: 'dc2'}, 'other_domain'],
    ['a malformed domain', {...keepAlive, domain: 'dc1.#'}, 'bad_domain'],
    ['inst_id 0', {...keepAlive, inst_id: 0}, 'bad_inst_id'],
    ['inst_id 65536', {...keepAlive, inst_id: 65536}, 'bad_inst_id'],
    ['a fractional inst_id', {...keepAlive, inst_id: 1.5}, 'bad_inst_id'],
    ['a string inst_id', {...keepAlive, inst_id: '7'}, 'bad_inst_id'],
    ['an unknown role', {...keepAlive, role: 'emperor'}, 'bad_role'],
    ['a negative term', {...keepAlive, term: -1}, 'bad_term'],
    ['a term past 2^53 - 2^16', {...keepAlive, term: MAX_TERM + 1}, 'bad_term'],
    ['a huge term', {...keepAlive, term: 1e300}, 'bad_term'],
    ['a string term', {...keepAlive, term: 'high'}, 'bad_term'],
    ['a leave without term', {v: 1, msg: 'leave', domain: 'dc1', inst_id: 3, qid: 'q'}, 'bad_term'],
    ['an empty qid', {...keepAlive, qid: ''}, 'bad_qid'],
    ['a numeric qid', {...keepAlive, qid: 7}, 'bad_qid'],
    ['a qid longer than an AMQP short string', {...keepAlive, qid: 'q'.repeat(256)}, 'bad_qid'],
    ['a negative seq', {...keepAlive, seq: -1}, 'bad_seq'],
    ['a huge extra string', {...keepAlive, padding: 'x'.repeat(100_000)}, 'bad_extra_field'],
    ['a nested extra field', {...keepAlive, nested: {a: 1}}, 'bad_extra_field'],
    ['too many fields', Object.fromEntries([...Object.entries(keepAlive), ...Array.from({length: 20}, (_, i) => [`f${i}`, i])]), 'too_many_fields'],
  ]
  for (const [what, raw, reason] of refused) {
    it(`refuses ${what} (${reason})`, () => {
      expect(reasonFor(raw)).to.equal(reason)
    })
  }

  it('never throws, whatever it is given', () => {
    fc.assert(fc.property(fc.anything(), (raw) => {
      const result = parseElectionMessage(raw, 'dc1')
      expect(result.ok).to.be.a('boolean')
    }), {numRuns: 2000})
    fc.assert(fc.property(fc.record({v: fc.anything(), msg: fc.constantFrom('find', 'keep_alive', 'leave', 'x'), domain: fc.constantFrom('dc1', 'x'),
      inst_id: fc.anything(), role: fc.anything(), qid: fc.anything(), term: fc.anything(), seq: fc.anything()}), (raw) => {
      expect(parseElectionMessage(raw, 'dc1').ok).to.be.a('boolean')
    }), {numRuns: 2000})
  })

  it('never throws on objects that throw when read', () => {
    const hostile = {get v(): number { throw new Error('boom') }}
    expect(parseElectionMessage(hostile, 'dc1')).to.deep.equal({ok: false, reason: 'unreadable'})
    const revoked = Proxy.revocable({}, {})
    revoked.revoke()
    expect(parseElectionMessage(revoked.proxy, 'dc1')).to.deep.equal({ok: false, reason: 'unreadable'})
  })

  it('a domain is 1 to 64 letters, digits, _ or -: it goes into the routing key', () => {
    for (const good of ['a', 'dc-1_A', 'x'.repeat(64)]) expect(validateDomain(good), good).to.equal(undefined)
    for (const bad of ['', 'x'.repeat(65), 'a.b', 'a*', 'a#', 'dé', 'a b', 7]) {
      expect(validateDomain(bad), String(bad)).to.be.a('string').and.contain('domain')
    }
    expect(discoverRoutingKey('dc1')).to.equal('c.dc1.discover')
    expect(() => discoverRoutingKey('a.#')).to.throw(SettingsError, "must be 1 to 64 letters, digits, '_' or '-'")
  })
})
