// Readiness probe for rabbitmq/start: a real AMQP handshake (connection.start/tune/open as guest, then a
// channel), not just an open port. Exit 0 when the broker serves AMQP, 1 otherwise (reason on stderr).
// Usage: node rabbitmq/probe.mjs amqp://guest:guest@127.0.0.1:PORT
import {connect} from 'amqplib';

const url = process.argv[2];
const timer = setTimeout(() => {
  process.stderr.write('probe: no AMQP handshake within 3 s\n');
  process.exit(1);
}, 3000);

try {
  const connection = await connect(url, {timeout: 3000});
  const channel = await connection.createChannel();
  await channel.close();
  await connection.close();
  clearTimeout(timer);
} catch (error) {
  process.stderr.write(`probe: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
