// `flowkeeper flows add|mod|del|dump|clear` and `flowkeeper switches`: arguments (dpid forms, flows in ovs-ofctl syntax) are
// checked before anything is sent and errors name the argument; the commands talk to a real REST
// server (with a fake flow programmer) the way they talk to an instance.
import {expect} from 'chai'
import sinon from 'sinon'
import FlowsAdd from '../../../src/cli/commands/flows/add.js'
import FlowsClear from '../../../src/cli/commands/flows/clear.js'
import FlowsDel from '../../../src/cli/commands/flows/del.js'
import FlowsDump from '../../../src/cli/commands/flows/dump.js'
import FlowsMod from '../../../src/cli/commands/flows/mod.js'
import Switches from '../../../src/cli/commands/switches.js'
import {clearFlowsFlowMod} from '../../../src/flows/ofctl-rest.js'
import {UnknownSwitchError, type FlowProgrammer, type ProgramOptions, type ProgramResult} from '../../../src/flows/programmer.js'
import {MemoryLogger} from '../../../src/log.js'
import {ApiClient, ApiError, ArgumentError, parseDpidArg} from '../../../src/northbound/api-client.js'
import {RestServer, type RestInstance} from '../../../src/northbound/rest-server.js'
import {OFP, type FlowModMessage, type FlowStats} from '../../../src/openflow/codec.js'

class FakeProgrammer implements FlowProgrammer {
  readonly calls: Array<{dpid: bigint, flowMod: FlowModMessage}> = []
  fail: Error | undefined
  async program(dpid: bigint, flowMod: FlowModMessage, _options?: ProgramOptions): Promise<ProgramResult> {
    this.calls.push({dpid, flowMod})
    if (this.fail) throw this.fail
    return {masterId: 1, term: 65537, version: this.calls.length}
  }
}

const FLOWS: FlowStats[] = [
  {
    tableId: 0, durationSec: 3, durationNsec: 0, priority: 100, idleTimeout: 0, hardTimeout: 0, flags: 0, cookie: 0n,
    packetCount: 5n, byteCount: 300n, match: [{field: 'in_port', value: 1}],
    instructions: [{type: 'APPLY_ACTIONS', actions: [{type: 'OUTPUT', port: 2, maxLen: 0}]}],
  },
  {
    tableId: 1, durationSec: 0, durationNsec: 250_000_000, priority: 32768, idleTimeout: 0, hardTimeout: 0, flags: 0, cookie: 0x10n,
    packetCount: 0n, byteCount: 0n, match: [], instructions: [],
  },
]

describe('flowkeeper flows (CLI)', () => {
  describe('dpid argument', () => {
    it('decimal, 0x hex, or 16 hex digits', () => {
      expect(parseDpidArg('1')).to.equal(1n)
      expect(parseDpidArg(' 42 ')).to.equal(42n)
      expect(parseDpidArg('18446744073709551615')).to.equal(0xffffffffffffffffn)
      expect(parseDpidArg('0x1')).to.equal(1n)
      expect(parseDpidArg('0XFF')).to.equal(255n)
      expect(parseDpidArg('000000000000000a')).to.equal(10n)
      expect(parseDpidArg('0000000000000010')).to.equal(16n) // 16 digits are hex, as OVS prints them
      expect(parseDpidArg('00000000000000FF')).to.equal(255n)
    })

    it('anything else names the argument and why', () => {
      const reason = (text: string) => {
        try {
          parseDpidArg(text)
        } catch (error) {
          expect(error).to.be.instanceOf(ArgumentError)
          return (error as Error).message
        }
        return 'accepted'
      }
      expect(reason('')).to.equal("dpid: '' is not a datapath id: write it in decimal, as 0x-prefixed hex, or as 16 hex digits")
      expect(reason('ab')).to.match(/^dpid: 'ab' is not a datapath id/)
      expect(reason('-1')).to.match(/^dpid: '-1' is not a datapath id/)
      expect(reason('0x')).to.match(/^dpid: '0x' is not a datapath id/)
      expect(reason('0x1ffffffffffffffff')).to.match(/^dpid: '0x1ffffffffffffffff' is not a datapath id/)
      expect(reason('18446744073709551616')).to.equal("dpid: '18446744073709551616' is larger than a datapath id (64 bits)")
      expect(reason('00:00:00:00:00:00:00:01')).to.match(/is not a datapath id/)
    })

    it('--api must be an http(s) URL', () => {
      expect(() => new ApiClient({api: 'localhost:8080'})).to.throw(ArgumentError, /^--api: 'localhost:8080' is not/)
      expect(() => new ApiClient({api: 'nonsense'})).to.throw(ArgumentError, /^--api: 'nonsense' is not a URL/)
    })
  })

  describe('against an instance', () => {
    let server: RestServer
    let programmer: FakeProgrammer
    let out: string[]
    let stdout: sinon.SinonStub

    const instance = (): RestInstance => ({
      domain: 'lab',
      election: {instId: 2, role: 'slave', term: 65537, election: {masterId: 1, peers: () => []}},
      registry: {
        switches: () => [{datapathId: 0xan, role: 'master', address: '127.0.0.1:50001', connectedAtMs: 0}],
        flowStats: async (dpid: bigint) => {
          if (dpid !== 1n) throw new UnknownSwitchError(dpid)
          return FLOWS
        },
      },
    })

    const run = async (command: {run(argv: string[], opts?: unknown): Promise<unknown>}, argv: string[]) => {
      out = []
      stdout = sinon.stub(process.stdout, 'write').callsFake((chunk: string | Uint8Array) => {
        out.push(String(chunk))
        return true
      })
      try {
        await command.run([...argv, '--api', server.url, '--api-token', 'tok'], {root: process.cwd()})
        return undefined
      } catch (error) {
        return error as Error & {oclif?: {exit?: number}}
      } finally {
        stdout.restore()
      }
    }

    beforeEach(async () => {
      programmer = new FakeProgrammer()
      server = await RestServer.start({host: '127.0.0.1', port: 0, token: 'tok', instance: instance(), logger: new MemoryLogger(), flows: programmer})
    })
    afterEach(async () => server.close())

    it('add: sends the flow; --json prints the outcome', async () => {
      expect(await run(FlowsAdd, ['0x1', 'priority=100,in_port=1,ip,nw_dst=10.0.0.1 actions=output:2'])).to.equal(undefined)
      expect(out).to.deep.equal([])
      expect(programmer.calls[0]!.dpid).to.equal(1n)
      expect(programmer.calls[0]!.flowMod).to.deep.include({command: OFP.OFPFC_ADD, priority: 100})
      expect(programmer.calls[0]!.flowMod.match).to.deep.equal([{field: 'in_port', value: 1}, {field: 'eth_type', value: 0x0800}, {field: 'ipv4_dst', value: '10.0.0.1'}])
      expect(await run(FlowsAdd, ['000000000000000a', 'actions=drop', '--json'])).to.equal(undefined)
      expect(programmer.calls[1]!.dpid).to.equal(10n)
      expect(JSON.parse(out.join(''))).to.deep.equal({master: 1, term: 65537, version: 2})
    })

    it('add: a bad dpid or flow is refused before sending, naming the argument (exit 2)', async () => {
      const badDpid = await run(FlowsAdd, ['s1', 'actions=drop'])
      expect(badDpid?.message).to.equal("dpid: 's1' is not a datapath id: write it in decimal, as 0x-prefixed hex, or as 16 hex digits")
      expect(badDpid?.oclif?.exit).to.equal(2)
      const badFlow = await run(FlowsAdd, ['1', 'in_port=1 actions=outptu:2'])
      expect(badFlow?.message).to.equal('flow: outptu:2: unknown action')
      expect(badFlow?.oclif?.exit).to.equal(2)
      const noActions = await run(FlowsAdd, ['1', 'in_port=1'])
      expect(noActions?.message).to.equal('flow: in_port=1: must specify actions (actions=...)')
      expect(programmer.calls).to.have.length(0)
    })

    it("add: the instance's refusal is reported with its status and reason (exit 1)", async () => {
      programmer.fail = new UnknownSwitchError(7n)
      const e = await run(FlowsAdd, ['7', 'actions=drop'])
      expect(e?.message).to.equal('POST /flows/7 answered 404: switch 0000000000000007 is not connected')
      expect(e?.oclif?.exit).to.equal(1)
    })

    it('del: a match, --strict, or everything', async () => {
      expect(await run(FlowsDel, ['1', 'in_port=1'])).to.equal(undefined)
      expect(programmer.calls[0]!.flowMod).to.deep.include({command: OFP.OFPFC_DELETE, tableId: OFP.OFPTT_ALL})
      expect(await run(FlowsDel, ['1', 'priority=5,ip', '--strict'])).to.equal(undefined)
      expect(programmer.calls[1]!.flowMod).to.deep.include({command: OFP.OFPFC_DELETE_STRICT, priority: 5})
      expect(await run(FlowsDel, ['1'])).to.equal(undefined)
      expect(programmer.calls[2]!.flowMod).to.deep.include({command: OFP.OFPFC_DELETE, tableId: OFP.OFPTT_ALL, match: []})
      const withActions = await run(FlowsDel, ['1', 'in_port=1 actions=drop'])
      expect(withActions?.message).to.equal('flow: actions: a delete takes no actions')
      expect(programmer.calls).to.have.length(3)
    })

    it('mod: the matching flows get the new actions; --strict; no actions or a table for all is refused before sending', async () => {
      expect(await run(FlowsMod, ['1', 'in_port=1 actions=output:3'])).to.equal(undefined)
      expect(programmer.calls[0]!.flowMod).to.deep.include({command: OFP.OFPFC_MODIFY, tableId: 0, cookieMask: 0n})
      expect(programmer.calls[0]!.flowMod.match).to.deep.equal([{field: 'in_port', value: 1}])
      expect(programmer.calls[0]!.flowMod.instructions).to.deep.equal([{type: 'APPLY_ACTIONS', actions: [{type: 'OUTPUT', port: 3, maxLen: 0}]}])
      expect(await run(FlowsMod, ['1', 'table=1,priority=5,cookie=0x10/-1,ip actions=drop', '--strict', '--json'])).to.equal(undefined)
      expect(programmer.calls[1]!.flowMod).to.deep.include({command: OFP.OFPFC_MODIFY_STRICT, tableId: 1, priority: 5, cookie: 0x10n, cookieMask: 0xffffffffffffffffn, instructions: []})
      expect(JSON.parse(out.join(''))).to.deep.equal({master: 1, term: 65537, version: 2})
      const noActions = await run(FlowsMod, ['1', 'in_port=1'])
      expect(noActions?.message).to.equal('flow: in_port=1: must specify actions (actions=...)')
      expect(noActions?.oclif?.exit).to.equal(2)
      const allTables = await run(FlowsMod, ['1', 'table=255 actions=drop'])
      expect(allTables?.message).to.equal('flow: table=255: only deletes apply to every table')
      expect(programmer.calls).to.have.length(2)
    })

    it('dump: one line per flow, as ovs-ofctl dump-flows prints them', async () => {
      expect(await run(FlowsDump, ['1'])).to.equal(undefined)
      expect(out.join('')).to.equal([
        ' cookie=0x0, duration=3.000s, table=0, n_packets=5, n_bytes=300, priority=100,in_port=1 actions=output:2',
        ' cookie=0x10, duration=0.250s, table=1, n_packets=0, n_bytes=0, actions=drop',
        '',
      ].join('\n'))
      const e = await run(FlowsDump, ['9'])
      expect(e?.message).to.equal('GET /flows/9 answered 404: switch 0000000000000009 is not connected')
    })

    it('clear: every flow of every table', async () => {
      expect(await run(FlowsClear, ['0x000000000000000a'])).to.equal(undefined)
      expect(programmer.calls[0]).to.deep.equal({dpid: 10n, flowMod: clearFlowsFlowMod()})
    })

    it('switches: a table of dpid, role and address, or JSON; a refusal or an unreachable instance says so (exit 1)', async () => {
      expect(await run(Switches, [])).to.equal(undefined)
      expect(out.join('')).to.equal('DPID              ROLE     ADDRESS\n000000000000000a  master   127.0.0.1:50001\n')
      expect(await run(Switches, ['--json'])).to.equal(undefined)
      expect(JSON.parse(out.join(''))).to.deep.equal([{dpid: '000000000000000a', dpid_int: 10, role: 'master', address: '127.0.0.1:50001', connected_at: 0}])
      out = []
      stdout = sinon.stub(process.stdout, 'write').returns(true)
      try {
        const refused = await Switches.run(['--api', server.url, '--api-token', 'wrong'], {root: process.cwd()}).catch((e: Error & {oclif?: {exit?: number}}) => e)
        expect((refused as Error).message).to.equal('GET /switches answered 401: missing or wrong bearer token (Authorization: Bearer <token>)')
        expect((refused as {oclif?: {exit?: number}}).oclif?.exit).to.equal(1)
      } finally {
        stdout.restore()
      }
    })

    it('a wrong token or an unreachable instance is reported as such', async () => {
      const client = new ApiClient({api: server.url, token: 'nope'})
      try {
        await client.request('GET', '/flows/1')
        expect.fail('should be refused')
      } catch (error) {
        expect(error).to.be.instanceOf(ApiError)
        expect((error as ApiError).status).to.equal(401)
        expect((error as Error).message).to.equal('GET /flows/1 answered 401: missing or wrong bearer token (Authorization: Bearer <token>)')
      }
      const url = server.url
      await server.close()
      const gone = new ApiClient({api: url})
      try {
        await gone.request('GET', '/flows/1')
        expect.fail('should not connect')
      } catch (error) {
        expect((error as ApiError).status).to.equal(0)
        expect((error as Error).message).to.equal(`cannot reach the instance at ${url}: ECONNREFUSED`)
      }
    })
  })
})
