import {Command, Flags} from '@oclif/core'
import {AmqpBus} from '../../bus/amqp-bus.js'
import {DomainObserver, viewFromReports, type ClusterReport, type DomainView} from '../../controller/domain-observer.js'
import {validateDomain} from '../../election/messages.js'
import {ApiClient} from '../../northbound/api-client.js'
import {amqpFlag, domainFlag, envName} from '../flags.js'

export default class Status extends Command {
  static override summary = 'Show the members of a domain, their roles and terms, and who is master.'

  static override description = `Listens to the domain's keep-alives on the bus for a moment without taking part in
the election, then prints what it saw. Instances that sent nothing while it listened are not shown.
When RabbitMQ cannot be reached and --api is given, it shows what those instances' REST APIs
report of the domain instead (GET /cluster), and says so.`

  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --domain lab --json', '<%= config.bin %> status --api http://127.0.0.1:8080']

  static override flags = {
    domain: domainFlag,
    amqp: amqpFlag,
    json: Flags.boolean({summary: 'Print the view as JSON.', default: false}),
    api: Flags.string({
      summary: 'Also show the switches of the instance at this REST API URL, with the role it holds on each (repeatable).',
      multiple: true,
    }),
    'api-token': Flags.string({summary: 'Bearer token for --api, if the instances require one.', env: envName('api-token')}),
    'listen-ms': Flags.integer({
      summary: 'How long to listen at most. Must cover at least two keep-alive intervals of the cluster (1000 ms each with the reference profile); status stops earlier once every instance heard has sent two keep-alives and no new one appeared for three of their intervals.',
      default: 2500,
      min: 100,
      env: envName('listen-ms'),
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Status)
    const domainProblem = validateDomain(flags.domain)
    if (domainProblem) this.error(`--domain: ${domainProblem}`, {exit: 2})

    const apis = flags.api ?? []
    const bus = new AmqpBus({url: flags.amqp, mode: 'observe', connectionName: 'flowkeeper status'})
    const observer = new DomainObserver(bus, flags.domain)
    observer.attach()
    let view: DomainView
    let reportedBy: string[] | undefined
    try {
      await bus.start()
      await listenUntilSettled(observer, flags['listen-ms'])
      view = observer.view()
    } catch (error) {
      // Without the bus, what the instances' REST APIs report is the next best view.
      const unreachable = (error as Error).message // "cannot connect to RabbitMQ: <url>: <why>"
      if (apis.length === 0) this.error(`${unreachable} (with --api URL, status asks that instance's REST API instead)`, {exit: 1})
      const answers = await Promise.all(apis.map(async (api) => ({api, ...(await fetchClusterReport(api, flags['api-token']))})))
      const reports = answers.filter((a) => a.report)
      if (reports.length === 0) this.error(`${unreachable}; and no --api answered: ${answers.map((a) => `${a.api}: ${a.error}`).join('; ')}`, {exit: 1})
      reportedBy = reports.map((a) => a.api)
      this.warn(`${unreachable}; showing what the REST API of ${reportedBy.join(', ')} reports instead`)
      const otherDomains = [...new Set(reports.map((a) => a.report!.domain))].filter((d) => d !== flags.domain)
      if (otherDomains.length > 0) this.warn(`--domain is ${flags.domain}, but the instance(s) at --api report domain ${otherDomains.join(', ')}`)
      view = viewFromReports(flags.domain, reports.map((a) => a.report!), Date.now())
    } finally {
      await bus.close()
    }

    const switches = await Promise.all(apis.map(async (api) => ({api, ...(await fetchSwitches(api, flags['api-token']))})))
    const source = reportedBy ? {source: 'api', reportedBy} : {source: 'bus'}
    if (flags.json) return this.log(JSON.stringify({...view, ...source, switches}, null, 2))
    this.log(renderView(view))
    if (reportedBy) this.log(`(as the REST API of ${reportedBy.join(', ')} reports it: RabbitMQ could not be reached)`)
    for (const s of switches) {
      if (s.error) this.log(`switches of ${s.api}: ${s.error}`)
      else this.log(`switches of ${s.api}: ${s.rows!.map((r) => `${r.dpid}=${r.role}`).join('  ') || 'none connected'}`)
    }
  }
}

/** Listens for `maxMs`, or less once the observer has heard every instance it is going to (DomainObserver.settled). */
async function listenUntilSettled(observer: DomainObserver, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs
  while (Date.now() < deadline && !observer.settled()) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(20, Math.max(0, deadline - Date.now()))))
  }
}

/** GET /cluster of one instance, checked for the fields the view needs. */
async function fetchClusterReport(api: string, token: string | undefined): Promise<{report?: ClusterReport, error?: string}> {
  try {
    const body = await new ApiClient({api, token, timeoutMs: 5000}).request('GET', '/cluster')
    return isClusterReport(body) ? {report: body} : {error: 'its answer to GET /cluster is not a cluster report'}
  } catch (error) {
    return {error: (error as Error).message}
  }
}

function isClusterReport(v: unknown): v is ClusterReport {
  const o = v as ClusterReport | null
  return typeof o === 'object' && o !== null && typeof o.domain === 'string' && Array.isArray(o.members) && o.members.every((m) =>
    typeof m === 'object' && m !== null && Number.isInteger(m.inst_id) && typeof m.role === 'string' && Number.isInteger(m.term) && typeof m.self === 'boolean')
}

async function fetchSwitches(api: string, token: string | undefined): Promise<{rows?: Array<{dpid: string, role: string}>, error?: string}> {
  try {
    return {rows: (await new ApiClient({api, token, timeoutMs: 5000}).request('GET', '/switches')) as Array<{dpid: string, role: string}>}
  } catch (error) {
    return {error: (error as Error).message}
  }
}

export function renderView(view: DomainView): string {
  if (view.members.length === 0) return `domain ${view.domain}: no instance heard`
  const master = view.master ? `master ${view.master.instId} (term ${view.master.term})` : 'no master'
  const lines = [`domain ${view.domain}: ${view.members.length} member(s), ${master}`]
  if (view.conflictingMasters) lines.push('warning: more than one instance claims master; the election is resolving it')
  lines.push('  ID     ROLE     TERM')
  for (const m of view.members) lines.push(`  ${String(m.instId).padEnd(6)} ${m.role.padEnd(8)} ${m.term}`)
  return lines.join('\n')
}
