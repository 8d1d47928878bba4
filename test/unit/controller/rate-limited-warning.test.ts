import {expect} from 'chai'
import {RateLimitedWarning} from '../../../src/controller/rate-limited-warning.js'
import {MemoryLogger} from '../../../src/log.js'

describe('RateLimitedWarning (garbage on the bus stays visible without drowning the log)', () => {
  it('one warning per key and interval; the next one says how many were held back', () => {
    let now = 0
    const log = new MemoryLogger()
    const w = new RateLimitedWarning(log, 1000, () => now)
    w.warn('bad_json', 'dropped a message', {reason: 'bad_json'})
    now = 10
    w.warn('bad_json', 'dropped a message', {reason: 'bad_json'})
    w.warn('bad_json', 'dropped a message', {reason: 'bad_json'})
    w.warn('oversize', 'dropped a message', {reason: 'oversize'}) // another key: its own interval
    now = 999
    w.warn('bad_json', 'dropped a message', {reason: 'bad_json'})
    expect(log.lines.map((l) => [l.level, l.reason, l.suppressed])).to.deep.equal([
      ['warn', 'bad_json', undefined], ['warn', 'oversize', undefined],
    ])
    now = 1000
    w.warn('bad_json', 'dropped a message', {reason: 'bad_json'})
    expect(log.lines.at(-1)).to.deep.include({level: 'warn', reason: 'bad_json', suppressed: 3})
    now = 2500
    w.warn('bad_json', 'dropped a message', {reason: 'bad_json'})
    expect(log.lines.at(-1), 'the count starts again').to.not.have.property('suppressed')
  })
})
