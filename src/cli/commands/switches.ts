import {Command, Flags} from '@oclif/core'
import {envName} from '../flags.js'

interface SwitchRow {
  dpid: string
  role: string
  address: string
  connected_at: number
}

export default class Switches extends Command {
  static override summary = 'List the switches connected to an instance and the role it holds on each.'

  static override description = 'Asks the instance\'s REST API (GET /switches). The role is the one the switch confirmed.'

  static override examples = ['<%= config.bin %> switches', '<%= config.bin %> switches --api http://127.0.0.1:8081 --json']

  static override flags = {
    api: Flags.string({summary: 'Base URL of the instance\'s REST API.', default: 'http://127.0.0.1:8080', env: envName('api')}),
    'api-token': Flags.string({summary: 'Bearer token, if the instance requires one.', env: envName('api-token')}),
    json: Flags.boolean({summary: 'Print JSON.', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Switches)
    const headers: Record<string, string> = flags['api-token'] ? {authorization: `Bearer ${flags['api-token']}`} : {}
    let rows: SwitchRow[]
    try {
      const response = await fetch(new URL('/switches', flags.api), {headers})
      if (!response.ok) this.error(`${flags.api} answered ${response.status}: ${await response.text()}`, {exit: 1})
      rows = (await response.json()) as SwitchRow[]
    } catch (error) {
      this.error(`cannot reach the instance at ${flags.api}: ${(error as Error).message}`, {exit: 1})
    }
    if (flags.json) return this.log(JSON.stringify(rows, null, 2))
    if (rows.length === 0) return this.log('no switch connected')
    this.log('DPID              ROLE     ADDRESS')
    for (const row of rows) this.log(`${row.dpid.padEnd(17)} ${row.role.padEnd(8)} ${row.address}`)
  }
}
