import {Args, Command, Flags} from '@oclif/core'
import {apiFlags, dpidArg, outcomeJsonFlag, sendOfctlFlow} from '../../../northbound/flow-cli.js'

export default class FlowsDel extends Command {
  static override summary = 'Delete the flows of a switch that match, as ovs-ofctl del-flows does.'

  static override description = `Without a match, deletes every flow of every table (as 'flows clear'). With --strict, deletes only the flow whose match and priority are exactly those given (priority 32768 when none is). Any instance accepts it: a slave forwards it to the master.`

  static override examples = [
    `<%= config.bin %> flows del 1 'in_port=1'`,
    `<%= config.bin %> flows del 1 'priority=100,ip,nw_dst=10.0.0.1' --strict`,
    `<%= config.bin %> flows del 0x1 'table=1'`,
  ]

  static override args = {
    dpid: dpidArg,
    match: Args.string({required: false, description: 'Which flows, in ovs-ofctl syntax (no actions); all when omitted.'}),
  }

  static override flags = {
    ...apiFlags,
    strict: Flags.boolean({summary: 'Match and priority must be exactly equal (ovs-ofctl del-flows --strict).', default: false}),
    json: outcomeJsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(FlowsDel)
    await sendOfctlFlow(this, flags, args.dpid, args.match ?? '', flags.strict ? 'delete_strict' : 'delete')
  }
}
