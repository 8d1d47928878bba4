// amqplib straight on the flow exchange, for tests that play a misbehaving or curious client of
// the broker: publish anything on any routing key, listen on any pattern, and tell whether
// another connection's queue still exists.
import {connect, type Channel, type ChannelModel} from 'amqplib'
import {DEFAULT_EXCHANGE} from '../../src/bus/types.js'

export interface Heard {
  key: string
  /** The JSON body; undefined when it was not JSON. */
  body: Record<string, unknown> | undefined
}

/** A plain amqplib connection on the instances' exchange. */
export class RawBus {
  private constructor(private readonly model: ChannelModel, private readonly channel: Channel) {}

  static async open(url: string): Promise<RawBus> {
    const model = await connect(url)
    const channel = await model.createChannel()
    return new RawBus(model, channel)
  }

  publish(routingKey: string, body: unknown): void {
    const content = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body))
    this.channel.publish(DEFAULT_EXCHANGE, routingKey, content)
  }

  async listen(pattern: string): Promise<{messages: Heard[]}> {
    const out = {messages: [] as Heard[]}
    const {queue} = await this.channel.assertQueue('', {exclusive: true, autoDelete: true})
    await this.channel.bindQueue(queue, DEFAULT_EXCHANGE, pattern)
    await this.channel.consume(queue, (m) => {
      if (!m) return
      let body: Record<string, unknown> | undefined
      try {
        body = JSON.parse(m.content.toString('utf8')) as Record<string, unknown>
      } catch {
        body = undefined
      }
      out.messages.push({key: m.fields.routingKey, body})
    }, {noAck: true})
    return out
  }

  /**
   * Whether a queue is gone (passive declare answers NOT_FOUND). An exclusive queue of another
   * connection that still exists answers RESOURCE_LOCKED. A throwaway channel: the broker closes
   * a channel on either answer.
   */
  async queueGone(name: string): Promise<boolean> {
    const channel = await this.model.createChannel()
    channel.on('error', () => {})
    try {
      await channel.checkQueue(name)
      await channel.close().catch(() => {})
      return false
    } catch (error) {
      return /NOT_FOUND|404/.test(String(error))
    }
  }

  async close(): Promise<void> {
    await this.model.close().catch(() => {})
  }
}
