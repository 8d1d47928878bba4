import {Command, Flags} from '@oclif/core'
import {OvsLab} from '../../lab/ovs.js'

export default class Switchlab extends Command {
  static override summary = 'Run Open vSwitch in user space with N bridges connected to your instances, until Ctrl-C.'

  static override description = `Starts ovsdb-server and ovs-vswitchd with the dummy datapath in a temporary folder
(installing openvswitch-switch when missing), creates bridges br1..brN with datapath ids 1..N
(or from --first-dpid), OpenFlow 1.3 only, fail_mode=secure and a short reconnect backoff, each
connected to every controller given, and removes all of it on Ctrl-C. For instances started by
hand; 'flowkeeper lab' does all of this for you.`

  static override examples = [
    '<%= config.bin %> switchlab --controllers 6653,6654,6655',
    '<%= config.bin %> switchlab --bridges 10 --controllers 127.0.0.1:6653,127.0.0.1:6654',
  ]

  static override flags = {
    bridges: Flags.integer({summary: 'How many bridges.', default: 4, min: 1, max: 1000}),
    'first-dpid': Flags.integer({summary: 'Datapath id of br1; the others follow.', default: 1, min: 0}),
    controllers: Flags.string({summary: 'Comma-separated controller ports or host:port pairs (every bridge connects to each).', required: true}),
    'max-backoff-ms': Flags.integer({summary: 'Longest pause between reconnection attempts (Open vSwitch counts whole seconds, 1 s at least).', default: 1000, min: 1000}),
  }

  async run(): Promise<void> {
    const {flags} = await this.parse(Switchlab)
    const controllers = flags.controllers.split(',').map((text, index) => {
      const match = /^(?:([^:]+):)?(\d{1,5})$/.exec(text.trim())
      const port = Number(match?.[2])
      if (!match || port < 1 || port > 65535) this.error(`--controllers[${index}]: "${text}" is not a port or host:port`, {exit: 2})
      return {host: match[1] ?? '127.0.0.1', port}
    })

    const lab = await OvsLab.start()
    const stop = async () => {
      this.log('removing the bridges and stopping Open vSwitch')
      await lab.stop()
      process.exit(0)
    }
    process.on('SIGINT', () => void stop())
    process.on('SIGTERM', () => void stop())

    for (let n = 1; n <= flags.bridges; n++) {
      const datapathId = BigInt(flags['first-dpid'] + n - 1)
      await lab.addBridge(`br${n}`, {datapathId, controllers, maxBackoffMs: flags['max-backoff-ms']})
    }
    this.log(`Open vSwitch up in ${lab.dir} with br1..br${flags.bridges}, each connected to ${controllers.map((c) => `${c.host}:${c.port}`).join(', ')}`)
    this.log(`flows:       ovs-ofctl -O OpenFlow13 dump-flows unix:${lab.dir}/br1.mgmt`)
    this.log(`controllers: ovs-vsctl --db=unix:${lab.dbSocket} list controller`)
    this.log('Ctrl-C removes everything.')
    // Until Ctrl-C or SIGTERM (stop() exits). A promise that never settles does not keep Node
    // running (it exits at once, code 13, and the bridges go with it); a timer does.
    setInterval(() => {}, 2 ** 30)
    await new Promise(() => {})
  }
}
