import {expect} from 'chai'
import fc from 'fast-check'
import {MAX_TERM} from '../../../src/election/messages.js'
import {nextTerm, termInstId, TERM_ID_SPACE} from '../../../src/election/term.js'

describe('terms', () => {
  it('a promotion takes the smallest term above every known one whose low 16 bits are the promoter\'s id', () => {
    const cases: Array<[known: number, instId: number, next: number]> = [
      [0, 1, 1],
      [0, 7, 7],
      [5, 7, 7],
      [7, 7, TERM_ID_SPACE + 7],
      [9, 7, TERM_ID_SPACE + 7],
      [TERM_ID_SPACE + 3, 2, 2 * TERM_ID_SPACE + 2],
      [TERM_ID_SPACE + 3, 4, TERM_ID_SPACE + 4],
    ]
    for (const [known, instId, next] of cases) expect(nextTerm(known, instId), `${known}, ${instId}`).to.equal(next)
  })

  it('two instances with different ids never promote to the same term, whatever each knows', () => {
    fc.assert(fc.property(
      fc.integer({min: 0, max: MAX_TERM}), fc.integer({min: 0, max: MAX_TERM}),
      fc.integer({min: 1, max: 65535}), fc.integer({min: 1, max: 65535}),
      (knownA, knownB, a, b) => {
        fc.pre(a !== b)
        expect(nextTerm(knownA, a)).not.to.equal(nextTerm(knownB, b))
      },
    ))
  })

  it('the next term is above the known one, carries the id, and stays a safe integer', () => {
    fc.assert(fc.property(fc.integer({min: 0, max: MAX_TERM}), fc.integer({min: 1, max: 65535}), (known, id) => {
      const next = nextTerm(known, id)
      expect(next).to.be.greaterThan(known)
      expect(next - known).to.be.at.most(TERM_ID_SPACE)
      expect(termInstId(next)).to.equal(id)
      expect(Number.isSafeInteger(next)).to.equal(true)
    }))
  })
})
