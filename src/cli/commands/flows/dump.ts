import {Command, Flags} from '@oclif/core'
import {parseDpidArg} from '../../../northbound/api-client.js'
import {apiFlags, dpidArg, runFlowCommand} from '../../../northbound/flow-cli.js'

export default class FlowsDump extends Command {
  static override summary = 'Print the flows of a switch as ovs-ofctl dump-flows does.'

  static override description = `Reads the switch's flow table through the instance (GET /flows/<dpid>): any instance can, since slaves are connected to every switch too. One flow per line, each of which reads back with 'flows add'.`

  static override examples = ['<%= config.bin %> flows dump 1', '<%= config.bin %> flows dump 000000000000000a --api http://127.0.0.1:8082']

  static override args = {dpid: dpidArg}

  static override flags = {
    ...apiFlags,
    json: Flags.boolean({summary: 'Print JSON: {dpid, flows: [line, ...]}.', default: false}),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(FlowsDump)
    await runFlowCommand(this, flags, async (client) => {
      const dpid = parseDpidArg(args.dpid)
      const answer = await client.request('GET', `/flows/${dpid}`) as {dpid: string, flows: string[]}
      if (flags.json) return this.log(JSON.stringify(answer, null, 2))
      for (const line of answer.flows) this.log(` ${line}`)
    })
  }
}
