// The election for real: a private RabbitMQ, instances started with the CLI as separate
// processes, faults made with real signals. What is asserted is what the instances log.
import {expect} from 'chai'
import amqp from 'amqplib'
import {LocalCluster} from '../../../src/lab/local-cluster.js'
import {RUN_JS, type InstanceProcess} from '../../../src/lab/instance-process.js'
import {execFile} from 'node:child_process'
import {promisify} from 'node:util'
import {sharedBroker, startBroker} from '../../helpers/broker.js'
import {freePort} from '../../../src/lab/free-port.js'

const ROLE_TIMEOUT_MS = 15_000
let domainCounter = 0
const freshDomain = () => `it${process.pid}x${++domainCounter}`

describe('election cluster (real RabbitMQ, CLI processes)', function () {
  this.timeout(60_000)
  let url: string
  const clusters: LocalCluster[] = []

  before(async function () {
    this.timeout(180_000)
    url = (await sharedBroker()).url
  })

  afterEach(async () => {
    await Promise.all(clusters.splice(0).map((c) => c.killAll()))
  })

  // Instances are separate processes, and on a loaded machine one may start a second after
  // another. The init period is the knob for that: long enough here that all three listen before
  // any of them chooses, so "the lowest id wins" does not depend on process start-up times.
  function newCluster(amqpUrl = url, domain = freshDomain()): LocalCluster {
    const cluster = new LocalCluster(amqpUrl, domain, ['--init-ms', '3000'])
    clusters.push(cluster)
    return cluster
  }

  async function threeInstances(cluster: LocalCluster): Promise<InstanceProcess> {
    // Started highest id first: the lowest must still win, whatever the order of arrival.
    for (const id of [3, 2, 1]) cluster.spawn({id})
    return cluster.waitForSingleMaster(ROLE_TIMEOUT_MS)
  }

  // "Since" is a position in each member's log, not a time: the instances' clocks and ours may
  // differ by a few milliseconds, which is enough to misplace a line logged just before.
  type Marks = Map<InstanceProcess, number>
  const mark = (cluster: LocalCluster): Marks => new Map([...cluster.members.values()].map((m) => [m, m.roleChanges.length]))
  const changesSince = (member: InstanceProcess, marks: Marks) => member.roleChanges.slice(marks.get(member) ?? 0)
  const expectRole = (member: InstanceProcess, role: string) =>
    expect(member.role, `role of instance ${member.id}; its last lines:\n${member.tail()}`).to.equal(role)

  it('three instances elect the lowest id', async () => {
    const cluster = newCluster()
    const master = await threeInstances(cluster)
    expect(master.id).to.equal(1)
    expectRole(cluster.members.get(2)!, 'slave')
    expectRole(cluster.members.get(3)!, 'slave')
  })

  it('flowkeeper status shows the members, their roles and the master, from the bus and without joining', async () => {
    const cluster = newCluster()
    const master = await threeInstances(cluster)
    const linesBefore = new Map([...cluster.members.values()].map((m) => [m, m.lines.length]))
    const status = (domain: string, ...args: string[]) => promisify(execFile)(process.execPath, [RUN_JS, 'status', '--amqp', url, '--domain', domain, '--listen-ms', '1500', ...args])

    const json = JSON.parse((await status(cluster.domain, '--json')).stdout) as {members: Array<{instId: number, role: string, term: number}>, master: {instId: number, term: number}}
    expect(json.members.map((m) => [m.instId, m.role])).to.deep.equal([[1, 'master'], [2, 'slave'], [3, 'slave']])
    expect(json.master).to.deep.include({instId: 1, term: master.term})
    const api = String(cluster.members.get(2)!.lines.find((l) => l.msg === 'REST API listening')!.url)
    const text = (await status(cluster.domain, '--api', api, '--api', 'http://127.0.0.1:1')).stdout
    expect(text).to.include(`domain ${cluster.domain}: 3 member(s), master 1 (term ${master.term})`)
    expect(text).to.match(/ {2}2 +slave +\d+/)
    expect(text).to.include(`switches of ${api}: none connected`)
    expect(text).to.include('switches of http://127.0.0.1:1: cannot reach the instance at http://127.0.0.1:1')

    // It listened only: no instance heard of anyone new or changed role.
    for (const [m, from] of linesBefore) {
      expect(m.lines.slice(from).filter((l) => l.event === 'peer_discovered' || l.event === 'role_change'), `instance ${m.id}`).to.deep.equal([])
    }
    // A bad domain is refused before anything is tried, naming the flag.
    const bad = await status('no spaces').catch((error: {code: number, stderr: string}) => error)
    expect(bad).to.have.property('code', 2)
    expect((bad as {stderr: string}).stderr).to.match(/--domain: /)
  })

  it('flowkeeper status without a reachable RabbitMQ shows what --api reports, and says so', async () => {
    const cluster = newCluster()
    const master = await threeInstances(cluster)
    const api = String(cluster.members.get(3)!.lines.find((l) => l.msg === 'REST API listening')!.url)
    const noBroker = `amqp://127.0.0.1:${await freePort()}`
    const status = (...args: string[]) => promisify(execFile)(process.execPath, [RUN_JS, 'status', '--amqp', noBroker, '--domain', cluster.domain, ...args])

    const text = await status('--api', 'http://127.0.0.1:1', '--api', api)
    expect(text.stdout).to.include(`domain ${cluster.domain}: 3 member(s), master 1 (term ${master.term})`)
    expect(text.stdout).to.match(/ {2}3 +slave +\d+/)
    expect(text.stdout).to.include(`(as the REST API of ${api} reports it: RabbitMQ could not be reached)`)
    expect(text.stderr).to.include(`cannot connect to RabbitMQ: ${noBroker}`)
    const json = JSON.parse((await status('--api', api, '--json')).stdout) as {source: string, reportedBy: string[], members: Array<{instId: number, role: string}>}
    expect(json).to.deep.include({source: 'api', reportedBy: [api]})
    expect(json.members.map((m) => [m.instId, m.role])).to.deep.equal([[1, 'master'], [2, 'slave'], [3, 'slave']])

    // Nothing to fall back on: exit 1, naming the broker and what would help (oclif wraps the
    // message in lines that start with '›').
    const failure = (args: string[]) => status(...args).then(() => ({code: 0, stderr: ''}), (error: {code: number, stderr: string}) =>
      ({code: error.code, stderr: error.stderr.replace(/\s*›\s*/g, ' ')}))
    const withoutApi = await failure([])
    expect(withoutApi.code).to.equal(1)
    expect(withoutApi.stderr).to.include(`cannot connect to RabbitMQ: ${noBroker}`).and.to.include('with --api URL, status asks')
    const noAnswer = await failure(['--api', 'http://127.0.0.1:1'])
    expect(noAnswer.code).to.equal(1)
    expect(noAnswer.stderr).to.include('no --api answered: http://127.0.0.1:1: cannot reach the instance')
  })

  it('SIGKILL the master: the lowest live id takes over with a higher term', async () => {
    const cluster = newCluster()
    const first = await threeInstances(cluster)
    const firstTerm = first.term!
    await first.kill()
    const next = await cluster.waitForSingleMaster(ROLE_TIMEOUT_MS)
    expect(next.id).to.equal(2)
    expect(next.term).to.be.greaterThan(firstTerm)
    expectRole(cluster.members.get(3)!, 'slave')
  })

  it('SIGTERM the master: it leaves and the successor takes over because of the leave', async () => {
    const cluster = newCluster()
    const first = await threeInstances(cluster)
    first.signal('SIGTERM')
    const exit = await first.exited
    expect(exit.code).to.equal(0)
    const next = await cluster.waitForSingleMaster(ROLE_TIMEOUT_MS)
    expect(next.id).to.equal(2)
    expect(next.roleChanges.at(-1)!.reason).to.equal('master_left')
  })

  it('SIGSTOP the master: it is replaced; SIGCONT: it steps down without a fight', async () => {
    const cluster = newCluster()
    const first = await threeInstances(cluster)
    first.signal('SIGSTOP')
    const next = await cluster.members.get(2)!.waitForRole('master', ROLE_TIMEOUT_MS)
    expect(next.term).to.be.greaterThan(first.term!)
    const resumedAt = mark(cluster)
    first.signal('SIGCONT')
    await first.waitForRole('slave', ROLE_TIMEOUT_MS)
    await new Promise((resolve) => setTimeout(resolve, 1500))
    // The new master never lost its role to the resumed one, and nobody flapped afterwards.
    const second = cluster.members.get(2)!
    expectRole(second, 'master')
    expect(changesSince(second, resumedAt)).to.deep.equal([])
    expect(changesSince(cluster.members.get(3)!, resumedAt)).to.deep.equal([])
    expectRole(first, 'slave')
  })

  it('a broker restart ends with exactly one master', async function () {
    this.timeout(180_000)
    const broker = await startBroker()
    try {
      const cluster = newCluster(broker.url)
      await threeInstances(cluster)
      await broker.restart()
      // Everyone must notice the loss and hold no role ...
      await Promise.all(cluster.running().map((m) => m.waitForLine((l) => l.event === 'broker_lost', 60_000, 'broker_lost')))
      // ... then come back to exactly one master.
      const master = await cluster.waitForSingleMaster(60_000)
      await new Promise((resolve) => setTimeout(resolve, 1000))
      expect(cluster.masters()).to.deep.equal([master])
    } finally {
      await broker.stop()
    }
  })

  it('a second domain on the same broker elects its own master, unaffected by the first', async () => {
    const a = newCluster()
    const b = newCluster()
    const masterA = await threeInstances(a)
    for (const id of [5, 4]) b.spawn({id})
    const masterB = await b.waitForSingleMaster(ROLE_TIMEOUT_MS)
    expect(masterA.id).to.equal(1)
    expect(masterB.id).to.equal(4)
    const killedAt = mark(b)
    await masterA.kill()
    await a.waitForSingleMaster(ROLE_TIMEOUT_MS)
    expect(changesSince(masterB, killedAt)).to.deep.equal([])
    expect(changesSince(b.members.get(5)!, killedAt)).to.deep.equal([])
  })

  it('garbage on the routing key changes nothing and is counted as dropped', async () => {
    const domain = freshDomain()
    const cluster = newCluster(url, domain)
    const master = await threeInstances(cluster)
    const before = mark(cluster)
    const droppedBefore = master.lines.length

    const connection = await amqp.connect(url)
    try {
      const channel = await connection.createChannel()
      const key = `c.${domain}.discover`
      const garbage: Buffer[] = [
        Buffer.from('not json at all'),
        Buffer.from('{"v":1,"msg":"keep_alive"'),
        Buffer.from(JSON.stringify({v: 1, msg: 'keep_alive', domain, inst_id: 'one', role: 'master', qid: 'x', term: 'high'})),
        Buffer.from(JSON.stringify({v: 1, msg: 'keep_alive', domain, inst_id: -4, role: 'emperor', qid: 7, term: 1e300})),
        Buffer.from(JSON.stringify({v: 99, msg: 'keep_alive', domain, inst_id: 0, role: 'master', qid: 'q', term: 2 ** 60})),
        Buffer.from(JSON.stringify({v: 1, msg: 'keep_alive', domain: 'elsewhere', inst_id: 0, role: 'master', qid: 'q', term: 9})),
        Buffer.from(JSON.stringify({v: 1, msg: 'leave', domain, inst_id: 'all'})),
        Buffer.from(JSON.stringify([1, 2, 3])),
        Buffer.from('null'),
        Buffer.alloc(256 * 1024, 0x7b), // 256 KiB of '{': over the bus's 64 KiB limit
      ]
      for (let round = 0; round < 20; round++) {
        for (const body of garbage) channel.publish('SDN_Bridge', key, body)
      }
      await channel.close()
    } finally {
      await connection.close()
    }

    await master.waitForLine((l) => l.event === 'message_dropped' && master.lines.indexOf(l) >= droppedBefore, 5000, 'a message_dropped warning')
    await new Promise((resolve) => setTimeout(resolve, 1500))
    for (const member of cluster.running()) {
      expect(member.running, `instance ${member.id} still runs`).to.equal(true)
      expect(changesSince(member, before), `role changes of ${member.id}`).to.deep.equal([])
    }
    expect(cluster.masters().map((m) => m.id)).to.deep.equal([1])
  })
})
