#!/usr/bin/env bash
# Ten (or $RUNS) fresh clones of one commit (of $REPO, default this repository), each: make
# example, make test, then make test-tls as CI runs them, with the second core kept busy by a busy
# loop for the whole series. Results, one line per run with its failures, in /tmp/ten/summary.txt.
# Usage: [RUNS=N] scripts/loaded-fresh-clones.sh COMMIT
set -u
commit=$1
mkdir -p /tmp/ten
: > /tmp/ten/summary.txt
( while :; do :; done ) &
busy=$!
trap 'kill $busy 2>/dev/null' EXIT
for i in $(seq 1 "${RUNS:-10}"); do
  dir=/tmp/ten/clone-$i
  rm -rf "$dir"
  git clone -q "${REPO:-$(git rev-parse --show-toplevel)}" "$dir" && git -C "$dir" checkout -q "$commit"
  start=$(date +%s)
  ( cd "$dir" && make example > /tmp/ten/example-$i.log 2>&1 ); ex=$?
  ( cd "$dir" && make test > /tmp/ten/test-$i.log 2>&1 ); te=$?
  ( cd "$dir" && make test-tls > /tmp/ten/tls-$i.log 2>&1 ); tls=$?
  end=$(date +%s)
  sum=$(grep -E "Test run with" /tmp/ten/test-$i.log | tail -1)
  echo "run $i: example=$ex test=$te tls=$tls $((end-start)) s :: $sum" >> /tmp/ten/summary.txt
  grep -E "✘" /tmp/ten/test-$i.log | head -5 >> /tmp/ten/summary.txt
  rm -rf "$dir/.build"
done
