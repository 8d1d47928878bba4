// `flowkeeper start` with bad settings, as a user types them (or a service manager sets them in the
// environment): refused before anything starts, exit 2, with a message that names the flag (and the
// environment variable it came from) and says why.
import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {RUN_JS} from '../../../src/lab/instance-process.js'

/** Runs `flowkeeper start ARGS` against a broker that cannot exist (port 1): settings come first. */
function start(args: string[], env: Record<string, string> = {}): Promise<{code: number | null, stderr: string, stdout: string}> {
  return new Promise((resolve) => {
    execFile(process.execPath, [RUN_JS, 'start', '--amqp', 'amqp://127.0.0.1:1', '--of-port', '0', '--api-port', '0', ...args],
      {env: {...process.env, ...env}, timeout: 30_000},
      (error, stdout, stderr) => resolve({code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr: stderr.replace(/\s*›\s*/g, ' ')}))
  })
}

describe('flowkeeper start: bad settings', function () {
  this.timeout(120_000)

  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['an interval out of range', ['--keep-alive-interval-ms', '0'], {}, /--keep-alive-interval-ms \(0\) must be between 10 and 60000/],
    ['timings that contradict each other', ['--keep-alive-interval-ms', '500', '--timeout-check-delay-ms', '600'], {},
      /--timeout-check-delay-ms \(600\) must be less than --keep-alive-interval-ms \(500\)/],
    ['a domain that cannot be a routing key', ['--domain', 'a.b'], {}, /--domain: domain "a\.b" must be 1 to 64 letters, digits/],
    ['a cookie range that is not one', ['--owned-cookie', 'bad'], {}, /--owned-cookie \("bad"\) must be VALUE\/MASK in hex/],
    ['a backup period out of range', ['--backup-period-ms', '10'], {}, /--backup-period-ms \(10\) must be an integer from 50 to 3600000/],
    ['an audit schedule that is no cron expression', ['--audit-cron', 'nonsense'], {}, /--audit-cron \("nonsense"\) is not a cron expression/],
    ['an id out of range', ['--id', '70000'], {}, /--id.*less than or equal to 65535/],
    ['a value from the environment, named with its variable', [], {FLOWKEEPER_MISS_TOLERANCE: '0'}, /--miss-tolerance \(from FLOWKEEPER_MISS_TOLERANCE\) \(0\) must be/],
    ['a domain from the environment', [], {FLOWKEEPER_DOMAIN: 'x y'}, /--domain \(from FLOWKEEPER_DOMAIN\): domain "x y"/],
  ]
  for (const [what, args, env, message] of cases) {
    it(`refuses ${what} (exit 2, naming it)`, async () => {
      const r = await start(args, env)
      expect(r.stderr).to.match(message)
      expect(r.code, r.stderr).to.equal(2)
    })
  }

  it('good settings get as far as the broker: exit 1 naming it, not a settings error', async () => {
    const r = await start(['--id', '7', '--keep-alive-interval-ms', '500', '--timeout-check-delay-ms', '250', '--owned-cookie', '0xf100000000000000/0xff00000000000000'])
    expect(r.code, r.stderr).to.equal(1)
    expect(r.stdout + r.stderr).to.match(/cannot start: cannot connect to RabbitMQ: amqp:\/\/127\.0\.0\.1:1/)
  })
})
