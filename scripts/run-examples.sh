#!/usr/bin/env bash
# `make example`: serve an embedded cluster, write 20 messages with the
# producer example, read them back with the consumer example (committing to a
# group), check that the consumer read exactly what the producer wrote, then
# ask the admin example how far behind that group is.
set -euo pipefail
bin="$1"
for program in kafka-serve kafka-produce kafka-consume kafka-admin; do
  [ -x "$bin/$program" ] || { echo "$bin/$program is missing: build it with swift build --product $program" >&2; exit 1; }
done
workdir=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$workdir"' EXIT
"$bin/kafka-serve" --topic example:4 --address-file "$workdir/address" --seconds 120 &
server=$!
for _ in $(seq 1 100); do [ -s "$workdir/address" ] && break; sleep 0.1; done
[ -s "$workdir/address" ] || { echo "kafka-serve did not start" >&2; exit 1; }
brokers=$(cat "$workdir/address")
echo "== kafka-produce --brokers $brokers --topic example --partition 0 --count 20"
"$bin/kafka-produce" --brokers "$brokers" --topic example --partition 0 --count 20
echo "== kafka-consume --brokers $brokers --topic example --partition 0 --retry-limit 5 --group example"
"$bin/kafka-consume" --brokers "$brokers" --topic example --partition 0 --retry-limit 5 --group example | tee "$workdir/consumed"
expected=$(for i in $(seq 0 19); do echo "message $i"; done)
if [ "$(cat "$workdir/consumed")" = "$expected" ]; then
  echo "== the consumer read exactly the 20 messages the producer wrote"
else
  echo "== MISMATCH between produced and consumed messages" >&2
  exit 1
fi
echo "== kafka-admin groups lag --brokers $brokers --group example --topic example"
"$bin/kafka-admin" groups lag --brokers "$brokers" --group example --topic example | tee "$workdir/lag"
if grep -q "^example/0 committed 20 end 20 lag 0$" "$workdir/lag"; then
  echo "== the group committed all 20 messages: lag 0"
else
  echo "== the group's lag is not what the consumer committed" >&2
  exit 1
fi
