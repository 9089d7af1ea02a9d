#!/usr/bin/env bash
# Runs a single-node Apache Kafka (KRaft: broker and controller in one JVM) on this machine, without Docker.
#   deploy/local/kafka.sh start  [--port N] [--controller-port N] [--data DIR]
#       fetch the broker once, format the data folder once, start it, return when it answers clients
#   deploy/local/kafka.sh stop   [--port N] [--data DIR]   end the broker started on that data folder (its pid file)
#   deploy/local/kafka.sh status [--port N] [--data DIR]   exit 0 when it runs and answers, 3 when it does not run
#   deploy/local/kafka.sh fetch                            only fetch the broker into the cache
# Settings (a flag wins over its variable):
#   TICKETFLOW_KAFKA_PORT             client port on 127.0.0.1 (9092)
#   TICKETFLOW_KAFKA_CONTROLLER_PORT  KRaft controller port on 127.0.0.1 (client port + 1)
#   TICKETFLOW_KAFKA_DATA             data folder: storage, server.properties, broker.log, pid file
#                                     (${XDG_STATE_HOME:-~/.local/state}/ticketflow/kafka-<port>)
#   TICKETFLOW_KAFKA_CACHE            where the broker's jars are kept (${XDG_CACHE_HOME:-~/.cache}/ticketflow/kafka-<version>)
#   KAFKA_HEAP_OPTS                   JVM heap (-Xms128m -Xmx512m: modest, the machines have 2 cores and run tests beside it)
#   TICKETFLOW_KAFKA_START_TIMEOUT    seconds to wait for the broker to answer (120)
# The jars come from Maven Central through the machine's Maven (org.apache.kafka:kafka_2.13 and its runtime
# dependencies) and need Java 17+.
set -euo pipefail

# Pinned: the log4j binding follows the log4j-core that this Kafka version depends on.
KAFKA_VERSION=4.1.1
LOG4J_VERSION=2.24.3
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

usage() {
  echo "usage: $0 start|stop|status [--port N] [--controller-port N] [--data DIR] | fetch" >&2
  exit 2
}

command=${1:-}
[[ $# -gt 0 ]] && shift
port=${TICKETFLOW_KAFKA_PORT:-9092}
controller_port=${TICKETFLOW_KAFKA_CONTROLLER_PORT:-}
data=${TICKETFLOW_KAFKA_DATA:-}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --port) port=${2:?--port needs a number}; shift 2 ;;
    --controller-port) controller_port=${2:?--controller-port needs a number}; shift 2 ;;
    --data) data=${2:?--data needs a folder}; shift 2 ;;
    *) usage ;;
  esac
done
[[ $port =~ ^[0-9]+$ ]] || { echo "kafka: the port must be a number, not '$port'" >&2; exit 2; }
controller_port=${controller_port:-$((port + 1))}
[[ $controller_port =~ ^[0-9]+$ && $controller_port != "$port" ]] || {
  echo "kafka: the controller port must be a number other than the client port, not '$controller_port'" >&2
  exit 2
}
data=${data:-${XDG_STATE_HOME:-$HOME/.local/state}/ticketflow/kafka-$port}
cache=${TICKETFLOW_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ticketflow/kafka-$KAFKA_VERSION}
start_timeout=${TICKETFLOW_KAFKA_START_TIMEOUT:-120}
pid_file=$data/broker.pid
log_file=$data/broker.log
properties=$data/server.properties

fail() {
  echo "kafka: $*" >&2
  exit 1
}

# Fetches the broker's jars into $cache/lib once. A private Maven repository under the cache keeps the run
# independent of ~/.m2 and is dropped afterwards; a lock keeps two concurrent starts from fetching twice.
fetch() {
  [[ -f $cache/lib/.complete ]] && return 0
  command -v mvn >/dev/null || fail "Maven (mvn) is needed to fetch the broker from Maven Central"
  mkdir -p "$cache"
  exec 9>"$cache/.fetch.lock"
  flock 9
  if [[ ! -f $cache/lib/.complete ]]; then
    echo "kafka: fetching Apache Kafka $KAFKA_VERSION from Maven Central into $cache (once)" >&2
    local work
    work=$(mktemp -d "$cache/.fetch.XXXXXX")
    cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.ticketflow</groupId>
  <artifactId>kafka-broker</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <!-- Kafka logs through slf4j 1.7; its pom leaves the binding to the distribution. -->
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
EOF
    if ! mvn -B -f "$work/pom.xml" -Dmaven.repo.local="$work/repository" \
      "$DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$work/lib" >"$work/mvn.log" 2>&1; then
      tail -n 30 "$work/mvn.log" >&2
      rm -rf "$work"
      fail "could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION with Maven (output above)"
    fi
    touch "$work/lib/.complete"
    rm -rf "${cache:?}/lib"
    mv "$work/lib" "$cache/lib"
    rm -rf "$work"
  fi
  flock -u 9
  exec 9>&- # the broker started next must not inherit it
}

# The pid in the pid file when that process is the broker of this data folder (a reused pid is not).
running_pid() {
  [[ -f $pid_file ]] || return 1
  local pid
  pid=$(<"$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $properties" || return 1
  echo "$pid"
}

# Whether a Kafka broker answers an ApiVersions request (v0) on the port: a listening socket alone is not
# enough, since the broker accepts connections before it serves requests.
answers() {
  local reply
  # shellcheck disable=SC2016 # $1 expands in the inner shell
  reply=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "\000\000\000\016\000\022\000\000\000\000\000\052\000\004tf-p" >&3
    head -c 10 <&3 | od -An -tx1' _ "$1" 2>/dev/null) || return 1
  # length (4 bytes), correlation id 42, error code 0
  [[ $(tr -d ' \n' <<<"$reply") =~ ^[0-9a-f]{8}0000002a0000$ ]]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_config() {
  mkdir -p "$data/storage"
  cat >"$properties" <<EOF
# Written by deploy/local/kafka.sh at each start (edits are lost): one node, broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$data/storage
# A single node: every internal topic has one replica, and one in-sync replica is enough.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
# Small internal topics and no rebalance delay: a local broker serves tests.
offsets.topic.num.partitions=10
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
# Topics are created on purpose (the relay creates its own), never by a stray produce or fetch.
auto.create.topics.enable=false
num.partitions=1
num.network.threads=2
num.io.threads=4
EOF
  cat >"$data/log4j2.properties" <<'EOF'
# Written by deploy/local/kafka.sh: everything to standard output, which the script sends to broker.log.
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
logger.state-change.name = state.change.logger
logger.state-change.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF
}

# shellcheck disable=SC2206 # KAFKA_HEAP_OPTS holds several options
jvm=(java ${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$data/log4j2.properties" -cp "$cache/lib/*")

start() {
  local pid
  if pid=$(running_pid); then
    if answers "$port"; then
      echo "kafka: already running on 127.0.0.1:$port (pid $pid, data $data)" >&2
      return 0
    fi
  else
    rm -f "$pid_file"
    port_open "$port" && fail "127.0.0.1:$port is taken by another process (not a broker started on $data)"
    port_open "$controller_port" && fail "controller port 127.0.0.1:$controller_port is taken by another process (give another with --controller-port)"
    command -v java >/dev/null || fail "Java 17 or newer is needed"
    fetch
    write_config
    if [[ ! -f $data/storage/meta.properties ]]; then
      # Formatted once: a stop and a start keep the topics and their records.
      local cluster_id
      cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
      while [[ $cluster_id == -* ]]; do cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '='); done
      echo "kafka: formatting $data/storage (cluster $cluster_id)" >&2
      # --cluster-id=<id>, not two words: a base64url id may begin with '-', which the tool's
      # argument parser would read as an option.
      "${jvm[@]}" kafka.tools.StorageTool format --cluster-id="$cluster_id" --config "$properties" >"$data/format.log" 2>&1 ||
        { cat "$data/format.log" >&2; fail "formatting $data/storage failed"; }
    fi
    [[ -f $log_file ]] && mv -f "$log_file" "$log_file.1"
    echo "kafka: starting Apache Kafka $KAFKA_VERSION on 127.0.0.1:$port (controller :$controller_port, data $data)" >&2
    # Its own session (setsid execs in place, so $! is the JVM's pid): the broker outlives this script and a
    # Ctrl-C in the terminal that started it.
    (cd "$data" && exec setsid "${jvm[@]}" kafka.Kafka "$properties") </dev/null >"$log_file" 2>&1 &
    pid=$!
    echo "$pid" >"$pid_file"
  fi
  local started=$SECONDS deadline=$((SECONDS + start_timeout))
  until answers "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$log_file" >&2
      rm -f "$pid_file"
      fail "the broker exited before it answered on 127.0.0.1:$port (log above, whole log in $log_file)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$log_file" >&2
      stop_pid "$pid"
      fail "the broker did not answer on 127.0.0.1:$port within ${start_timeout}s; stopped it (log above, whole log in $log_file)"
    fi
    sleep 0.5
  done
  echo "kafka: ready on 127.0.0.1:$port (pid $pid) after $((SECONDS - started)) s" >&2
}

stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "kafka: pid $pid did not stop within 30 s: killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pid_file"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$pid_file"
    echo "kafka: not running (data $data)" >&2
    return 0
  fi
  echo "kafka: stopping pid $pid (127.0.0.1:$port)" >&2
  stop_pid "$pid"
}

status() {
  local pid
  if ! pid=$(running_pid); then
    echo "kafka: not running (data $data)"
    exit 3
  fi
  if answers "$port"; then
    echo "kafka: running on 127.0.0.1:$port (pid $pid, Apache Kafka $KAFKA_VERSION, data $data)"
  else
    echo "kafka: pid $pid runs but does not answer on 127.0.0.1:$port (log: $log_file)"
    exit 1
  fi
}

case "$command" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  fetch) fetch && echo "kafka: Apache Kafka $KAFKA_VERSION in $cache/lib" >&2 ;;
  *) usage ;;
esac
