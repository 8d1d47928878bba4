# Shared by rabbitmq/start and rabbitmq/stop: where a private node keeps its files and how it is named.
# Sourced, not run. Everything about one node lives in .run/rabbitmq/<port>/ (ignored by git).
#
# Settings (environment):
#   FLOWKEEPER_AMQP_PORT       AMQP port of the node, default 5672; also names the node and its folder
#   FLOWKEEPER_AMQP_DIST_PORT  Erlang distribution port, default AMQP port + 20000 (required above 45535)

fk_die() { echo "rabbitmq: $*" >&2; exit 1; }
fk_say() { echo "rabbitmq: $*" >&2; }

fk_is_port() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= 1 && $1 <= 65535 )); }

FK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FK_PORT=${FLOWKEEPER_AMQP_PORT:-5672}
fk_is_port "$FK_PORT" || fk_die "FLOWKEEPER_AMQP_PORT must be a port number (1-65535), got '$FK_PORT'"
if [[ -n ${FLOWKEEPER_AMQP_DIST_PORT:-} ]]; then
  FK_DIST_PORT=$FLOWKEEPER_AMQP_DIST_PORT
elif (( FK_PORT + 20000 <= 65535 )); then
  FK_DIST_PORT=$((FK_PORT + 20000))
else
  fk_die "AMQP port $FK_PORT + 20000 is not a port: set FLOWKEEPER_AMQP_DIST_PORT to a free port"
fi
fk_is_port "$FK_DIST_PORT" || fk_die "FLOWKEEPER_AMQP_DIST_PORT must be a port number (1-65535), got '$FK_DIST_PORT'"
[[ $FK_DIST_PORT != "$FK_PORT" ]] || fk_die "the distribution port must differ from the AMQP port ($FK_PORT)"

FK_NODENAME="flowkeeper-$FK_PORT@localhost"
FK_DIR="$FK_ROOT/.run/rabbitmq/$FK_PORT"
FK_LOG_BASE="$FK_DIR/log"
FK_NODE_LOG="$FK_LOG_BASE/$FK_NODENAME.log"
FK_STARTUP_LOG="$FK_LOG_BASE/startup.log"
FK_PID_FILE="$FK_DIR/node.pid"         # written by start: see fk_node_pid
FK_WATCHER_PID_FILE="$FK_DIR/watcher.pid"
FK_URL="amqp://guest:guest@127.0.0.1:$FK_PORT"
FK_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server

# The pid of our node when it runs: the pid that start recorded, of Debian's rabbitmq-server wrapper (a
# shell that forwards SIGTERM to the Erlang VM and lives as long as it does), provided that process still
# has our node's data folder in its environment (guards against a stale file whose pid was reused).
fk_node_pid() {
  local pid
  [[ -f $FK_PID_FILE ]] || return 1
  pid=$(<"$FK_PID_FILE")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "RABBITMQ_MNESIA_BASE=$FK_DIR/mnesia" || return 1
  echo "$pid"
}

# The Erlang VM of our node (pid written by rabbit itself), checked the same way: its command line names
# our node's HOME. Used to kill the VM if the wrapper is gone or stuck.
fk_vm_pid() {
  local pid
  [[ -f $FK_DIR/rabbit.pid ]] || return 1
  pid=$(<"$FK_DIR/rabbit.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-home $FK_DIR/home " || return 1
  echo "$pid"
}

# Who listens on a TCP port, for error messages: "pid 123 (beam.smp, user rabbitmq)" or the raw ss line.
fk_port_holder() {
  local line pid comm user
  line=$(ss -Hltnp "sport = :$1" 2>/dev/null | head -n1)
  [[ -n $line ]] || return 1
  pid=$(grep -o 'pid=[0-9]*' <<<"$line" | head -n1 | cut -d= -f2)
  if [[ -n $pid ]]; then
    comm=$(cat "/proc/$pid/comm" 2>/dev/null || echo '?')
    user=$(ps -o user= -p "$pid" 2>/dev/null || echo '?')
    echo "pid $pid ($comm, user $user)"
  else
    echo "an unknown process (${line//  / })"
  fi
}

# Stops the owner-pid watcher that start may have left (see FLOWKEEPER_AMQP_STOP_WITH_PID in start).
fk_kill_watcher() {
  local pid
  [[ -f $FK_WATCHER_PID_FILE ]] || return 0
  pid=$(<"$FK_WATCHER_PID_FILE")
  rm -f "$FK_WATCHER_PID_FILE"
  [[ $pid =~ ^[0-9]+$ && $pid != "${FK_SELF_WATCHER:-}" ]] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "flowkeeper-watch-$FK_PORT" || return 0
  # Kill the watcher's whole session (it runs under setsid), not just the shell: its tail child too.
  kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
}
