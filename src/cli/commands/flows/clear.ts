import {Command} from '@oclif/core'
import {parseDpidArg} from '../../../northbound/api-client.js'
import {apiFlags, dpidArg, runFlowCommand} from '../../../northbound/flow-cli.js'

export default class FlowsClear extends Command {
  static override summary = 'Delete every flow of every table of a switch.'

  static override description = `Ryu's DELETE /stats/flowentry/clear/<dpid>, through any instance (a slave forwards it to the master). Returns once the switch confirmed it and every live slave mirrored it.`

  static override examples = ['<%= config.bin %> flows clear 1', '<%= config.bin %> flows clear 0x000000000000000a --api-token s3cret']

  static override args = {dpid: dpidArg}

  static override flags = {...apiFlags}

  async run(): Promise<void> {
    const {args, flags} = await this.parse(FlowsClear)
    await runFlowCommand(this, flags, async (client) => {
      const dpid = parseDpidArg(args.dpid)
      await client.request('DELETE', `/stats/flowentry/clear/${dpid}`)
    })
  }
}
