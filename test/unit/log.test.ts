// The log lines users read and tools parse: pretty on a terminal, JSON for tools and files.
import {expect} from 'chai'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {PassThrough} from 'node:stream'
import {createLogger, formatPretty} from '../../src/log.js'

/** A logger writing to a stream, and the lines written so far. */
function capture(options: Parameters<typeof createLogger>[0] = {}) {
  const stream = new PassThrough()
  let text = ''
  stream.on('data', (d: Buffer) => { text += d.toString() })
  const logger = createLogger({...options, stream})
  return {logger, lines: () => text.split('\n').filter(Boolean)}
}

const settle = () => new Promise((resolve) => setImmediate(resolve))

describe('logs', () => {
  it('pretty: time, level, who, message, then the fields (quoted when they hold spaces)', async () => {
    const {logger, lines} = capture({base: {inst_id: 2, domain: 'lab'}})
    logger.info('role slave -> master', {event: 'role_change', term: 65538, reason: 'master_crashed', why: 'two words'})
    await settle()
    expect(lines()).to.have.length(1)
    expect(lines()[0]).to.match(/^\d{2}:\d{2}:\d{2}\.\d{3} INFO {2}\[inst 2 dom lab\] role slave -> master {2}term=65538 reason=master_crashed why="two words"$/)
  })

  it('json: one object per line with ts, level, msg, the base fields and the event; bigints as decimal text', async () => {
    const {logger, lines} = capture({format: 'json', base: {inst_id: 2, domain: 'lab'}})
    logger.warn('late ack', {event: 'flow_ack_late', dpid: 0xfedcba9876543210n, version: 7})
    await settle()
    const line = JSON.parse(lines()[0]!) as Record<string, unknown>
    expect(line).to.deep.include({level: 'warn', msg: 'late ack', inst_id: 2, domain: 'lab', event: 'flow_ack_late', dpid: '18364758544493064720', version: 7})
    expect(line.ts).to.be.a('number')
    expect(Math.abs((line.ts as number) - Date.now())).to.be.below(60_000)
  })

  it('drops lines below the level; child loggers add their fields', async () => {
    const {logger, lines} = capture({format: 'json', level: 'warn'})
    logger.info('not shown')
    logger.debug('not shown either')
    logger.child({component: 'flows'}).error('shown', {event: 'x'})
    await settle()
    expect(lines().map((l) => JSON.parse(l) as Record<string, unknown>).map((l) => [l.level, l.msg, l.component])).to.deep.equal([['error', 'shown', 'flows']])
  })

  it('--log-file: the same events as JSON lines in the file, whatever the terminal format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fk-log-'))
    try {
      const file = join(dir, 'instance.log')
      const {logger} = capture({format: 'pretty', file, base: {inst_id: 1}})
      logger.info('joined the election', {event: 'joined', queue: 'q1'})
      let text = ''
      for (let i = 0; i < 100 && !text.includes('\n'); i++) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        try { text = readFileSync(file, 'utf8') } catch { /* not created yet */ }
      }
      expect(JSON.parse(text.split('\n')[0]!)).to.deep.include({level: 'info', msg: 'joined the election', inst_id: 1, event: 'joined', queue: 'q1'})
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })

  it('formatPretty reads a JSON line back (the lab prints the instances\' lines with it)', () => {
    expect(formatPretty({ts: Date.UTC(2026, 0, 2, 3, 4, 5, 678), level: 'info', msg: 'stopped', inst_id: 3, event: 'stopped'}))
      .to.equal('03:04:05.678 INFO  [inst 3] stopped')
  })
})
