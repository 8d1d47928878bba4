import {Args, Command, Flags} from '@oclif/core'
import {apiFlags, dpidArg, outcomeJsonFlag, sendOfctlFlow} from '../../../northbound/flow-cli.js'

export default class FlowsMod extends Command {
  static override summary = 'Change the actions of the flows of a switch that match, as ovs-ofctl mod-flows does.'

  static override description = `Replaces the instructions of every flow of the table (table 0 unless table= says otherwise) whose match is at least as specific as the one given, of any priority; with --strict, only of the flow whose match and priority are exactly those given (priority 32768 when none is). Cookies, timeouts and flags stay; nothing is added when no flow matches (OpenFlow 1.3). A cookie=VALUE/MASK restricts the change to the flows with that cookie. Any instance accepts it: a slave forwards it to the master.`

  static override examples = [
    `<%= config.bin %> flows mod 1 'in_port=1 actions=output:3'`,
    `<%= config.bin %> flows mod 1 'priority=100,ip,nw_dst=10.0.0.1 actions=drop' --strict`,
    `<%= config.bin %> flows mod 0x1 'table=1,cookie=0x10/-1 actions=output:2'`,
  ]

  static override args = {
    dpid: dpidArg,
    flow: Args.string({required: true, description: 'Which flows and their new actions, in ovs-ofctl syntax: match fields, then actions=... (quote it).'}),
  }

  static override flags = {
    ...apiFlags,
    strict: Flags.boolean({summary: 'Match and priority must be exactly equal (ovs-ofctl mod-flows --strict).', default: false}),
    json: outcomeJsonFlag,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(FlowsMod)
    await sendOfctlFlow(this, flags, args.dpid, args.flow, flags.strict ? 'modify_strict' : 'modify')
  }
}
