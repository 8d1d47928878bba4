import {expect} from 'chai'
import {TokenBucket} from '../../../src/election/token-bucket.js'

describe('TokenBucket', () => {
  it('starts full: the peer was just heard from', () => {
    expect(new TokenBucket(3).tokens).to.equal(3)
  })

  it('each check takes a token; the check that finds none reports the miss', () => {
    const bucket = new TokenBucket(2)
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).to.deep.equal([true, true, false, false])
    expect(bucket.tokens).to.equal(0)
  })

  it('a keep-alive refills it to capacity, whatever was left', () => {
    const bucket = new TokenBucket(2)
    bucket.take()
    bucket.take()
    bucket.refill()
    expect(bucket.tokens).to.equal(2)
  })

  it('refuses a capacity that is not a whole number of at least one', () => {
    for (const capacity of [0, 1.5, -1, Number.NaN]) expect(() => new TokenBucket(capacity)).to.throw(RangeError)
  })
})
