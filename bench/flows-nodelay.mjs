// Diagnosis only (bench/flows.ts --nodelay): preloaded into the instances with NODE_OPTIONS=--import,
// it makes every TCP socket of the process disable Nagle's algorithm, whatever the code asks for.
// amqplib calls socket.setNoDelay(false) unless connect() is given {noDelay: true}, which
// src/bus/amqp-bus.ts does not do: this shows what setting it would change.
import net from 'node:net'

const original = net.Socket.prototype.setNoDelay
net.Socket.prototype.setNoDelay = function setNoDelay() {
  return original.call(this, true)
}
