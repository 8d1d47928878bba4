import {Command, Flags} from '@oclif/core'
import {apiFlags, runFlowCommand} from '../../northbound/flow-cli.js'

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
    ...apiFlags,
    json: Flags.boolean({summary: 'Print JSON.', default: false}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Switches)
    // The same client and the same failures as the flows commands (exit 1: refused or unreachable, with why).
    await runFlowCommand(this, flags, async (client) => {
      const rows = (await client.request('GET', '/switches')) as SwitchRow[]
      if (flags.json) return this.log(JSON.stringify(rows, null, 2))
      if (rows.length === 0) return this.log('no switch connected')
      this.log('DPID              ROLE     ADDRESS')
      for (const row of rows) this.log(`${row.dpid.padEnd(17)} ${row.role.padEnd(8)} ${row.address}`)
    })
  }
}
