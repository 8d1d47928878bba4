import {expect} from 'chai'
import {JsonText, backoffDelayMs, decodeBody, encodeBody, redactUrl, topicMatches} from '../../../src/bus/codec.js'

describe('bus codec', () => {
  describe('topicMatches (RabbitMQ topic semantics)', () => {
    const cases: Array<[pattern: string, key: string, matches: boolean]> = [
      ['c.0.discover', 'c.0.discover', true],
      ['c.0.discover', 'c.1.discover', false],
      ['c.0.discover', 'c.0.discover.x', false],
      ['c.*.discover', 'c.7.discover', true],
      ['c.*.discover', 'c.discover', false],
      ['c.*.discover', 'c.1.2.discover', false],
      ['c.#', 'c', true],
      ['c.#', 'c.0.discover', true],
      ['c.#.discover', 'c.discover', true],
      ['c.#.discover', 'c.0.1.discover', true],
      ['c.#.discover', 'c.0.1.backup', false],
      ['#', 'anything.at.all', true],
      ['#.#', 'a', true],
      ['*', 'a.b', false],
      ['#.b.#', 'a.b.c', true],
      ['#.b.#', 'a.c', false],
      ['c.0.*', 'c.0.', true], // an empty word is a word
    ]
    for (const [pattern, key, matches] of cases) {
      it(`${pattern} ${matches ? 'matches' : 'does not match'} ${JSON.stringify(key)}`, () => {
        expect(topicMatches(pattern, key)).to.equal(matches)
      })
    }
  })

  describe('decodeBody', () => {
    it('parses a JSON object', () => {
      expect(decodeBody(Buffer.from('{"a":1}'), 100)).to.deep.equal({ok: true, body: {a: 1}})
    })
    it('refuses oversize bodies before parsing them', () => {
      expect(decodeBody(Buffer.from('{"a":1}'), 6)).to.deep.equal({ok: false, reason: 'oversize'})
    })
    it('refuses non-JSON and JSON that is not an object', () => {
      expect(decodeBody(Buffer.from('{'), 100)).to.deep.equal({ok: false, reason: 'not_json'})
      expect(decodeBody(Buffer.alloc(0), 100)).to.deep.equal({ok: false, reason: 'not_json'})
      for (const text of ['[]', 'null', '"s"', '1', 'true']) {
        expect(decodeBody(Buffer.from(text), 100), text).to.deep.equal({ok: false, reason: 'not_object'})
      }
    })
  })

  describe('encodeBody', () => {
    it('gives JSON bytes within the limit, undefined otherwise, and never throws', () => {
      expect(encodeBody({a: 1}, 100)?.toString()).to.equal('{"a":1}')
      expect(encodeBody({a: 1}, 6)).to.equal(undefined)
      // Text the sender already serialised goes as it is, under the same size limit.
      expect(encodeBody(new JsonText('{"b":[1,2]}'), 100)?.toString()).to.equal('{"b":[1,2]}')
      expect(encodeBody(new JsonText('{"b":[1,2]}'), 10)).to.equal(undefined)
      expect(encodeBody({toJSON: () => { throw new Error('no') }}, 100)).to.equal(undefined)
      expect(encodeBody({toJSON: () => undefined}, 100)).to.equal(undefined)
    })
  })

  describe('backoffDelayMs', () => {
    const opts = {initialMs: 100, maxMs: 2000}
    it('doubles from the initial delay and never exceeds the cap', () => {
      expect(backoffDelayMs(0, {...opts, random: () => 1})).to.equal(100)
      expect(backoffDelayMs(3, {...opts, random: () => 1})).to.equal(800)
      expect(backoffDelayMs(50, {...opts, random: () => 1})).to.equal(2000)
      expect(backoffDelayMs(5000, {...opts, random: () => 0.999})).to.be.at.most(2000)
    })
    it('jitters between half and all of the step', () => {
      expect(backoffDelayMs(3, {...opts, random: () => 0})).to.equal(400)
      expect(backoffDelayMs(50, {...opts, random: () => 0})).to.equal(1000)
    })
  })

  it('redactUrl masks passwords', () => {
    expect(redactUrl('amqp://guest:secret@127.0.0.1:5672')).to.equal('amqp://guest:***@127.0.0.1:5672')
    expect(redactUrl('amqp://127.0.0.1:5672')).to.equal('amqp://127.0.0.1:5672')
  })
})
