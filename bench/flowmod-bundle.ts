// OpenFlow bundles in OpenFlow 1.3: the ONF extension EXT-230 (the OpenFlow 1.4 bundle messages
// carried as OFPT_EXPERIMENTER, experimenter ONF), which Open vSwitch implements and
// `ovs-ofctl -O OpenFlow13 --bundle` uses. The codec has no bundle messages yet, so they are built
// here on top of its EXPERIMENTER message.
//
// Wire layout after the 16-byte experimenter header (ofp_header, experimenter, exp_type):
//   BUNDLE_CONTROL (exp_type 2300): bundle_id u32, type u16, flags u16, [properties]
//   BUNDLE_ADD_MESSAGE (2301):      bundle_id u32, pad u16, flags u16, the whole inner message
// The inner message must carry the same xid as the BUNDLE_ADD_MESSAGE around it (OVS answers
// OFPBFC_MSG_BAD_XID otherwise), and the same version.
import type {ErrorMessage, ExperimenterMessage, OfMessage} from '../src/openflow/codec.js'
import type {Outgoing, RequestOptions} from '../src/openflow/connection.js'

export const ONF_EXPERIMENTER_ID = 0x4f4e4600
export const ONFT_BUNDLE_CONTROL = 2300
export const ONFT_BUNDLE_ADD_MESSAGE = 2301

/** ofp14_bundle_ctrl_type. A reply is its request + 1. */
export const BundleCtrl = {
  OPEN_REQUEST: 0,
  OPEN_REPLY: 1,
  CLOSE_REQUEST: 2,
  CLOSE_REPLY: 3,
  COMMIT_REQUEST: 4,
  COMMIT_REPLY: 5,
  DISCARD_REQUEST: 6,
  DISCARD_REPLY: 7,
} as const

/** ofp14_bundle_flags. ovs-ofctl --bundle asks for both. */
export const BUNDLE_ATOMIC = 1 << 0
export const BUNDLE_ORDERED = 1 << 1

export interface BundleControl {
  bundleId: number
  type: number
  flags: number
}

export function bundleControl(bundleId: number, type: number, flags: number): Outgoing<ExperimenterMessage> {
  const data = Buffer.alloc(8)
  data.writeUInt32BE(bundleId, 0)
  data.writeUInt16BE(type, 4)
  data.writeUInt16BE(flags, 6)
  return {type: 'EXPERIMENTER', experimenter: ONF_EXPERIMENTER_ID, expType: ONFT_BUNDLE_CONTROL, data}
}

/**
 * A BUNDLE_ADD_MESSAGE around `inner`, the encoded message (header included). Its xid must be
 * the one the connection gives the wrapper: see sendBundle.
 */
export function bundleAdd(bundleId: number, flags: number, inner: Buffer): Outgoing<ExperimenterMessage> {
  const data = Buffer.allocUnsafe(8 + inner.length)
  data.writeUInt32BE(bundleId, 0)
  data.writeUInt16BE(0, 4)
  data.writeUInt16BE(flags, 6)
  inner.copy(data, 8)
  return {type: 'EXPERIMENTER', experimenter: ONF_EXPERIMENTER_ID, expType: ONFT_BUNDLE_ADD_MESSAGE, data}
}

/** The bundle control carried by a message, or undefined when it is something else. */
export function parseBundleControl(message: OfMessage): BundleControl | undefined {
  // The codec decodes ONF bundle controls itself now.
  if (message.type === 'BUNDLE_CONTROL') return {bundleId: message.bundleId, type: message.controlType, flags: message.flags}
  if (message.type !== 'EXPERIMENTER' || message.experimenter !== ONF_EXPERIMENTER_ID || message.expType !== ONFT_BUNDLE_CONTROL) return undefined
  if (message.data.length < 8) return undefined
  return {bundleId: message.data.readUInt32BE(0), type: message.data.readUInt16BE(4), flags: message.data.readUInt16BE(6)}
}

/** What sendBundle needs of a SwitchConnection (narrow, so that a test can fake it). */
export interface BundleChannel {
  /** False while the socket applies backpressure. */
  readonly writable: boolean
  /** Resolves once everything sent so far is handed to the operating system. */
  flush(): Promise<void>
  send(message: Outgoing): number
  barrier(options?: RequestOptions): Promise<void>
  on(event: 'message', listener: (message: OfMessage) => void): unknown
  off(event: 'message', listener: (message: OfMessage) => void): unknown
}

export interface BundleResult {
  /** Errors the switch sent for the bundle's messages (then nothing was committed). */
  errors: ErrorMessage[]
  committed: boolean
}

/** Thrown when the switch refuses a bundle control request. */
export class BundleError extends Error {
  override readonly name = 'BundleError'
  constructor(
    message: string,
    readonly errors: ErrorMessage[],
  ) {
    super(message)
  }
}

/**
 * Sends `count` messages as one bundle, as ovs-ofctl --bundle does: OPEN, every ADD pipelined, a
 * barrier (so that an ADD the switch refused is known before committing), then COMMIT, or
 * DISCARD if anything was refused. One difference: OPEN is pipelined with the ADDs instead of
 * awaited, which saves one round trip.
 *
 * `encodeInner(i, xid)` returns message i encoded with the given xid. The connection assigns
 * xids itself, one after the other, so message i is expected to get the xid after the previous
 * message's; each returned xid is checked against it. With `pace`, sending pauses whenever the
 * connection stops being writable until it has flushed (rather than leaving the whole bundle in
 * its queue); nothing else of ours is sent on the connection meanwhile, except an echo request
 * after 5 s of silence from the switch, which the check would catch.
 */
export async function sendBundle(
  channel: BundleChannel,
  count: number,
  encodeInner: (index: number, xid: number) => Buffer,
  options: {bundleId?: number; flags?: number; timeoutMs?: number; pace?: boolean} = {},
): Promise<BundleResult> {
  const bundleId = options.bundleId ?? 1
  const flags = options.flags ?? BUNDLE_ATOMIC | BUNDLE_ORDERED
  const timeoutMs = options.timeoutMs ?? 60_000
  const errors: ErrorMessage[] = []
  const replies = new Map<number, {resolve(m: OfMessage): void; timer: NodeJS.Timeout}>()
  let firstXid = 0
  let lastXid = -1
  const onMessage = (message: OfMessage): void => {
    const waiter = replies.get(message.xid)
    if (waiter) {
      replies.delete(message.xid)
      clearTimeout(waiter.timer)
      waiter.resolve(message)
    } else if (message.type === 'ERROR' && message.xid >= firstXid && message.xid <= lastXid) {
      errors.push(message)
    }
  }
  const expectReply = (xid: number): Promise<OfMessage> => {
    const reply = new Promise<OfMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        replies.delete(xid)
        reject(new Error(`no answer to bundle control xid ${xid} within ${timeoutMs} ms`))
      }, timeoutMs)
      replies.set(xid, {resolve, timer})
    })
    reply.catch(() => {}) // awaited later, or abandoned when an earlier step throws
    return reply
  }
  const control = async (type: number): Promise<void> => {
    // send() writes synchronously and replies arrive on a later tick: expectReply is in time.
    const xid = channel.send(bundleControl(bundleId, type, flags))
    checkControlReply(await expectReply(xid), bundleId, type + 1, errors)
  }

  channel.on('message', onMessage)
  try {
    const openXid = channel.send(bundleControl(bundleId, BundleCtrl.OPEN_REQUEST, flags))
    const opened = expectReply(openXid)
    firstXid = openXid + 1
    lastXid = openXid + count
    let xid = openXid
    for (let i = 0; i < count; i++) {
      if (options.pace && !channel.writable) await channel.flush()
      xid++
      const sent = channel.send(bundleAdd(bundleId, flags, encodeInner(i, xid)))
      if (sent !== xid) throw new Error(`bundle add ${i} went out with xid ${sent}, its inner message has ${xid}: something else was sent meanwhile`)
    }
    checkControlReply(await opened, bundleId, BundleCtrl.OPEN_REPLY, errors)
    await channel.barrier({timeoutMs})
    if (errors.length > 0) {
      await control(BundleCtrl.DISCARD_REQUEST).catch(() => {})
      return {errors, committed: false}
    }
    await control(BundleCtrl.COMMIT_REQUEST)
    return {errors, committed: true}
  } finally {
    channel.off('message', onMessage)
    for (const {timer} of replies.values()) clearTimeout(timer)
    replies.clear()
  }
}

function checkControlReply(reply: OfMessage, bundleId: number, expectedType: number, errors: ErrorMessage[]): void {
  if (reply.type === 'ERROR') {
    throw new BundleError(`switch refused bundle ${bundleId} control (want type ${expectedType}): error type ${reply.errorType} code ${reply.code}`, [...errors, reply])
  }
  const control = parseBundleControl(reply)
  if (!control || control.bundleId !== bundleId || control.type !== expectedType) {
    throw new BundleError(`unexpected answer to bundle ${bundleId} control (want type ${expectedType}): ${JSON.stringify(control ?? reply.type)}`, errors)
  }
}
