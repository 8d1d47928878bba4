// What the `flowkeeper flows ...` commands share: the flags that say which instance to talk to, the
// dpid argument, and one way of reporting failures (exit 2: a bad argument, named; exit 1: the
// instance refused or could not be reached, with its reason).
import {Args, Flags, type Command} from '@oclif/core'
import {FlowSyntaxError, parseOfctlFlow, type OfctlCommand} from '../flows/ofctl-syntax.js'
import {ApiClient, ApiError, ArgumentError, parseDpidArg} from './api-client.js'

function envName(flag: string): string {
  return `FLOWKEEPER_${flag.toUpperCase().replace(/-/g, '_')}`
}

export const apiFlags = {
  api: Flags.string({summary: 'Base URL of the instance\'s REST API (any instance: slaves forward changes to the master).', default: 'http://127.0.0.1:8080', env: envName('api')}),
  'api-token': Flags.string({summary: 'Bearer token, if the instance requires one.', env: envName('api-token')}),
}

/** --json of the commands that change flows. */
export const outcomeJsonFlag = Flags.boolean({summary: 'Print the outcome as JSON: {master, term, version}.', default: false})

export const dpidArg = Args.string({
  name: 'dpid',
  required: true,
  description: 'Datapath id: decimal, 0x-prefixed hex, or 16 hex digits as `flowkeeper switches` prints it.',
})

/** Runs a command's body; turns argument, syntax and API errors into oclif errors with the right exit code. */
export async function runFlowCommand(
  command: Command,
  flags: {api: string, 'api-token'?: string | undefined},
  body: (client: ApiClient) => Promise<void>,
): Promise<void> {
  let failure: {message: string, exit: number} | undefined
  try {
    await body(new ApiClient({api: flags.api, token: flags['api-token']}))
  } catch (error) {
    if (error instanceof ArgumentError) failure = {message: error.message, exit: 2}
    else if (error instanceof FlowSyntaxError) failure = {message: `flow: ${error.message}`, exit: 2}
    else if (error instanceof ApiError) failure = {message: error.message, exit: 1}
    else throw error
  }
  if (failure) command.error(failure.message, {exit: failure.exit})
}

/**
 * One change in ovs-ofctl syntax: `flow` is checked here first (a typo is reported before anything
 * is sent), then POSTed to /flows/<dpid> of the instance; with --json the outcome is printed.
 */
export function sendOfctlFlow(
  command: Command,
  flags: {api: string, 'api-token'?: string | undefined, json: boolean},
  dpidText: string,
  flow: string,
  change: OfctlCommand,
): Promise<void> {
  return runFlowCommand(command, flags, async (client) => {
    const dpid = parseDpidArg(dpidText)
    parseOfctlFlow(flow, change)
    const result = await client.request('POST', `/flows/${dpid}`, {command: change, flow})
    if (flags.json) command.log(JSON.stringify(result))
  })
}
