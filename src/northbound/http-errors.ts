// Errors to HTTP: one place that says which status each failure gets, so that a request served
// locally and one forwarded to the master answer alike. Bodies are JSON {error, ...}: `error` is the
// sentence for a human, the other fields are for scripts.
import {FlowRequestError} from '../flows/ofctl-rest.js'
import {FlowSyntaxError} from '../flows/ofctl-syntax.js'
import {FlowError, SwitchRefusedError, UnknownSwitchError} from '../flows/programmer.js'
import {ConnectionClosedError, OpenFlowError, SwitchTimeoutError} from '../openflow/connection.js'
import {SwitchNotConnectedError} from '../openflow/roles.js'
import {JsonBodyError} from './json-body.js'

export interface HttpError {
  status: number
  body: Record<string, unknown>
  headers: Record<string, string>
}

/** How the REST API answers a thrown value; undefined for an unexpected one (a 500, logged). */
export function httpError(error: unknown): HttpError | undefined {
  if (error instanceof FlowRequestError) {
    return {status: 400, body: {error: error.message, field: error.field, reason: error.reason}, headers: {}}
  }
  if (error instanceof FlowSyntaxError) {
    return {status: 400, body: {error: `flow: ${error.message}`, field: 'flow', token: error.token, reason: error.reason}, headers: {}}
  }
  if (error instanceof JsonBodyError) return {status: 400, body: {error: error.message, field: 'body'}, headers: {}}
  if (error instanceof FlowError) {
    const body: Record<string, unknown> = {error: error.message, kind: error.name, retriable: error.retriable}
    if (error instanceof SwitchRefusedError) body.code = error.code
    if (error instanceof UnknownSwitchError) body.dpid = error.dpid.toString(16).padStart(16, '0')
    return {status: error.status, body, headers: error.status === 503 ? {'retry-after': '1'} : {}}
  }
  // Reads of the local switch registry (flow stats).
  if (error instanceof SwitchNotConnectedError) {
    return {status: 404, body: {error: error.message, kind: 'UnknownSwitchError', retriable: false, dpid: error.datapathId.toString(16).padStart(16, '0')}, headers: {}}
  }
  if (error instanceof OpenFlowError) return {status: 400, body: {error: error.message, kind: 'SwitchRefusedError', retriable: false, code: error.codeName}, headers: {}}
  if (error instanceof SwitchTimeoutError) return {status: 504, body: {error: error.message, kind: 'SwitchTimeoutError', retriable: true}, headers: {}}
  if (error instanceof ConnectionClosedError) {
    return {status: 503, body: {error: error.message, kind: 'ConnectionClosedError', retriable: true}, headers: {'retry-after': '1'}}
  }
  return undefined
}
