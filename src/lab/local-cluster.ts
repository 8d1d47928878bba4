// A set of instance processes on one host, one domain: what the lab, the integration tests and
// the failover benchmark start, inspect, kill and tear down.
import {InstanceProcess, type InstanceProcessOptions, type RoleChangeLine} from './instance-process.js'

export type ClusterMemberOptions = Omit<InstanceProcessOptions, 'amqp' | 'domain'> & {domain?: string}

export class LocalCluster {
  readonly members = new Map<number, InstanceProcess>()

  constructor(readonly amqp: string, readonly domain = '0', readonly commonArgs: string[] = []) {}

  spawn(options: ClusterMemberOptions): InstanceProcess {
    const previous = this.members.get(options.id)
    if (previous?.running) throw new Error(`instance ${options.id} is already running`)
    const member = new InstanceProcess({
      ...options,
      amqp: this.amqp,
      domain: options.domain ?? this.domain,
      args: [...this.commonArgs, ...(options.args ?? [])],
    })
    this.members.set(options.id, member)
    return member
  }

  running(): InstanceProcess[] {
    return [...this.members.values()].filter((m) => m.running)
  }

  masters(): InstanceProcess[] {
    return this.running().filter((m) => m.role === 'master')
  }

  /**
   * Waits until exactly one running member is master and every other running member is slave,
   * all of them having logged it. Returns the master.
   */
  async waitForSingleMaster(timeoutMs: number): Promise<InstanceProcess> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const running = this.running()
      const masters = running.filter((m) => m.role === 'master')
      if (masters.length === 1 && running.every((m) => m === masters[0] || m.role === 'slave')) return masters[0]
      if (Date.now() > deadline) {
        const roles = running.map((m) => `${m.id}:${m.role}`).join(' ')
        throw new Error(`no single master within ${timeoutMs} ms (roles: ${roles})\n${running.map((m) => m.tail(8)).join('\n')}`)
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  /** Every role change of every member, in time order. */
  roleChanges(): RoleChangeLine[] {
    return [...this.members.values()].flatMap((m) => m.roleChanges).sort((a, b) => a.ts - b.ts)
  }

  /** SIGKILL every member still running; safe to call twice. */
  async killAll(): Promise<void> {
    await Promise.all([...this.members.values()].map((m) => m.kill()))
  }

  /** SIGTERM every member (graceful leave), SIGKILL whoever has not exited after `graceMs`. */
  async stopAll(graceMs = 3000): Promise<void> {
    const members = [...this.members.values()].filter((m) => m.running)
    for (const m of members) {
      m.signal('SIGCONT')
      m.signal('SIGTERM')
    }
    await Promise.all(members.map(async (m) => {
      const timer = setTimeout(() => m.signal('SIGKILL'), graceMs)
      await m.exited
      clearTimeout(timer)
    }))
  }
}
