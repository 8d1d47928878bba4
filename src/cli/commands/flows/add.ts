import {Args, Command} from '@oclif/core'
import {apiFlags, dpidArg, outcomeJsonFlag, sendOfctlFlow} from '../../../northbound/flow-cli.js'

export default class FlowsAdd extends Command {
  static override summary = 'Add a flow to a switch, written as for ovs-ofctl add-flow.'

  static override description = `Sends the flow to the instance's REST API (POST /flows/<dpid>). Any instance accepts it: a slave forwards it to the master. It returns once the switch confirmed the flow and every live slave mirrored it. The flow is checked here first, so a typo is reported before anything is sent. Without a priority a flow gets 32768, as with ovs-ofctl.`

  static override examples = [
    `<%= config.bin %> flows add 1 'priority=100,in_port=1,ip,nw_dst=10.0.0.1 actions=output:2'`,
    `<%= config.bin %> flows add 000000000000000a 'table=1,tcp,tp_dst=80 actions=drop' --api http://127.0.0.1:8081`,
  ]

  static override args = {
    dpid: dpidArg,
    flow: Args.string({required: true, description: 'The flow in ovs-ofctl syntax: match fields, then actions=... (quote it).'}),
  }

  static override flags = {
    ...apiFlags,
    json: outcomeJsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(FlowsAdd)
    await sendOfctlFlow(this, flags, args.dpid, args.flow, 'add')
  }
}
