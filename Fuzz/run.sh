#!/bin/sh
# Builds the libFuzzer harness for the consumer's header-count fast path and runs it.
#
#   Fuzz/run.sh [seconds] [extra libFuzzer flags...]     (default 60 s; `make fuzz FUZZ_TIME=300`)
#
# Compiles Fuzz/HeaderlessRecordFuzz.swift together with the parser's own source file,
# Sources/Kafka/Native/RecordBytes.swift (no copy; it imports nothing), under
# `-sanitize=fuzzer,address`, seeds a corpus with a few hand-built v2 records, and runs
# libFuzzer for the given time. Everything it writes goes to .build-fuzz/fuzz/ (the corpus
# persists between runs; a crash leaves crash-* there and exits non-zero).
set -eu
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-60}
if [ $# -gt 0 ]; then shift; fi
SWIFTC=${SWIFTC:-swiftc}
OUT=.build-fuzz/fuzz
mkdir -p "$OUT/corpus"

"$SWIFTC" -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name HeaderlessRecordFuzz \
    Fuzz/HeaderlessRecordFuzz.swift Sources/Kafka/Native/RecordBytes.swift \
    -o "$OUT/headerless-record-fuzz"

# Seeds: 8 bytes of (valueOffset, valueLength), then records of a v2 batch.
seed() { printf "$2" > "$OUT/corpus/seed-$1"; }
# value "abc", no headers: len=9 attrs ts off key=null(01) vlen=3(06) abc hdrs=0
seed plain  '\003\000\000\000\003\000\000\000\022\000\000\000\001\006abc\000'
# value "hi", one header k="k" v="v"
seed header '\000\000\000\000\000\000\000\000\030\000\000\000\001\004hi\002\002k\002v'
# null value (tombstone) then an empty value, then a 64-byte value (2-byte length varint)
seed nulls  '\000\000\000\000\000\000\000\000\014\000\000\000\001\001\000\014\000\000\000\001\000\000'
big=$(printf 'x%.0s' $(seq 64))
printf '\000\000\000\000\000\000\000\000\216\001\000\000\000\001\200\001%s\000' "$big" > "$OUT/corpus/seed-len64"

echo "fuzzing RecordBytes.isHeaderless for ${SECONDS_TO_RUN}s"
exec "$OUT/headerless-record-fuzz" "$OUT/corpus" \
    -max_total_time="$SECONDS_TO_RUN" -max_len=4096 -use_value_profile=1 -print_final_stats=1 \
    -artifact_prefix="$OUT/" "$@"
