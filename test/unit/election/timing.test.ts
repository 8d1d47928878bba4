import {expect} from 'chai'
import {
  DEFAULT_PROFILE, PROFILES, SettingsError, maxDetectionMs, minDetectionMs, resolveTiming, validateTiming, type ElectionTiming,
} from '../../../src/election/timing.js'

const problemOf = (t: Partial<ElectionTiming>, profile = 'fast'): SettingsError => {
  try {
    resolveTiming(profile, t)
  } catch (error) {
    expect(error).to.be.instanceOf(SettingsError)
    return error as SettingsError
  }
  return expect.fail('resolveTiming accepted it')
}

describe('election timing', () => {
  it('both named profiles are valid, and fast is the default', () => {
    for (const timing of Object.values(PROFILES)) expect(validateTiming({...timing})).to.deep.equal(timing)
    expect(DEFAULT_PROFILE).to.equal('fast')
    expect(resolveTiming()).to.deep.equal(PROFILES.fast)
  })

  it('the reference profile is the reference algorithm: 1 s / 0.5 s / 1 miss, init = the check delay', () => {
    expect(PROFILES.reference).to.include({keepAliveIntervalMs: 1000, timeoutCheckDelayMs: 500, missTolerance: 1, initMs: 500})
  })

  it('fast profile: a hung master is declared dead within 600 ms, a 250 ms stall is ridden out', () => {
    const t = PROFILES.fast
    // Worst case without find-aligned phases: the (M+1)-th check after its last keep-alive, which left at most I before the hang.
    expect((t.missTolerance + 1) * t.keepAliveIntervalMs).to.be.at.most(600)
    expect(maxDetectionMs(t, {findsInBetween: false})).to.be.at.most(600)
    // A stalled instance is silent for I + 250 ms at most: peers wait for longer, with room for jitter.
    expect(minDetectionMs(t) - (t.keepAliveIntervalMs + 250)).to.be.at.least(50)
    // Self-fencing happens before peers could expire us.
    expect(t.selfFenceMs + t.keepAliveIntervalMs).to.be.below(minDetectionMs(t))
  })

  it('single settings override a profile', () => {
    expect(resolveTiming('reference', {missTolerance: 2, initMs: undefined})).to.deep.equal({...PROFILES.reference, missTolerance: 2})
  })

  it('an unknown profile is refused with the names of the known ones', () => {
    expect(() => resolveTiming('turbo')).to.throw(SettingsError, 'profile ("turbo") is not a timing profile: use one of reference, fast')
  })

  it('a setting that is not a whole number is refused by name and value', () => {
    const error = problemOf({keepAliveIntervalMs: 80.5})
    expect(error.message).to.equal('keepAliveIntervalMs (80.5) must be a whole number of milliseconds')
    expect(error.settings).to.deep.equal(['keepAliveIntervalMs'])
    expect(problemOf({missTolerance: Number.NaN}).message).to.equal('missTolerance (NaN) must be a whole number')
  })

  it('a setting out of range says the range and why', () => {
    expect(problemOf({keepAliveIntervalMs: 5}).message).to.match(/^keepAliveIntervalMs \(5\) must be between 10 and 60000: /)
    expect(problemOf({missTolerance: 0}).message).to.match(/^missTolerance \(0\) must be between 1 and 1000/)
  })

  it('every problem is reported at once', () => {
    const error = problemOf({initMs: 0, selfFenceMs: -1})
    expect(error.settings).to.deep.equal(['initMs', 'selfFenceMs'])
    expect(error.message).to.contain('initMs (0)').and.contain('; selfFenceMs (-1)')
  })

  it('the check must run before the next keep-alive', () => {
    expect(problemOf({timeoutCheckDelayMs: 80}).message).to.equal(
      'timeoutCheckDelayMs (80) must be less than keepAliveIntervalMs (80): the check runs between two own keep-alives; ' +
      'lower timeoutCheckDelayMs (half the interval is usual) or raise keepAliveIntervalMs')
  })

  it('self-fencing must come before the peers could elect a successor, and the message says how to fix it', () => {
    const error = problemOf({selfFenceMs: 340})
    expect(error.settings).to.deep.equal(['selfFenceMs'])
    expect(error.message).to.equal(
      "selfFenceMs (340) + keepAliveIntervalMs (80) must be less than the peers' detection time " +
      'missTolerance × keepAliveIntervalMs + timeoutCheckDelayMs / 2 (5 × 80 + 40 / 2 = 420): ' +
      'a master cut from the broker would still hold its role when its peers elect a successor; ' +
      'lower selfFenceMs (below 340) or raise missTolerance')
    expect(() => resolveTiming('fast', {selfFenceMs: 339})).not.to.throw()
    expect(() => resolveTiming('fast', {selfFenceMs: 340, missTolerance: 6})).not.to.throw()
  })

  it('the detection floor is missTolerance intervals plus half the check delay', () => {
    expect(minDetectionMs(PROFILES.reference)).to.equal(1250)
    expect(minDetectionMs(PROFILES.fast)).to.equal(420)
  })
})
