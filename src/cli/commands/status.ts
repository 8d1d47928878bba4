import {Command, Flags} from '@oclif/core'
import {AmqpBus} from '../../bus/amqp-bus.js'
import {DomainObserver, type DomainView} from '../../controller/domain-observer.js'
import {validateDomain} from '../../election/messages.js'
import {ApiClient} from '../../northbound/api-client.js'
import {amqpFlag, domainFlag, envName} from '../flags.js'

export default class Status extends Command {
  static override summary = 'Show the members of a domain, their roles and terms, and who is master.'

  static override description = `Listens to the domain's keep-alives on the bus for a moment without taking part in
the election, then prints what it saw. Instances that sent nothing while it listened are not shown.`

  static override examples = ['<%= config.bin %> status', '<%= config.bin %> status --domain lab --json']

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
      summary: 'How long to listen. Must cover at least one keep-alive interval of the cluster (1000 ms with the reference profile).',
      default: 2500,
      min: 100,
      env: envName('listen-ms'),
    }),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Status)
    const domainProblem = validateDomain(flags.domain)
    if (domainProblem) this.error(`--domain: ${domainProblem}`, {exit: 2})

    const bus = new AmqpBus({url: flags.amqp, mode: 'observe', connectionName: 'flowkeeper status'})
    const observer = new DomainObserver(bus, flags.domain)
    observer.attach()
    try {
      await bus.start()
    } catch (error) {
      await bus.close()
      this.error(`cannot reach RabbitMQ at ${flags.amqp}: ${(error as Error).message}`, {exit: 1})
    }
    await new Promise((resolve) => setTimeout(resolve, flags['listen-ms']))
    await bus.close()

    const view = observer.view()
    const switches = await Promise.all((flags.api ?? []).map(async (api) => ({api, ...(await fetchSwitches(api, flags['api-token']))})))
    if (flags.json) return this.log(JSON.stringify({...view, switches}, null, 2))
    this.log(renderView(view))
    for (const s of switches) {
      if (s.error) this.log(`switches of ${s.api}: ${s.error}`)
      else this.log(`switches of ${s.api}: ${s.rows!.map((r) => `${r.dpid}=${r.role}`).join('  ') || 'none connected'}`)
    }
  }
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
