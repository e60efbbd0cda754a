# Commands of the swift-kafka-go package. `make setup` is a prerequisite of
# every target, so a fresh Debian machine needs nothing but `make example`
# and `make test`.
SWIFT ?= swift
APT_PACKAGES := librdkafka-dev pkg-config
# For make test-tls: TLS listeners, throwaway certificates, network namespaces.
TLS_PACKAGES := socat openssl iproute2
PEER_PACKAGES := kcat python3-kafka

.PHONY: setup example test test-tls test-tansu bench soak sanitize sanitize-thread clean fuzz docs

# Installs the system packages the build needs, only when one is missing.
setup:
	@missing=""; for p in $(APT_PACKAGES) $(PEER_PACKAGES) $(TLS_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Serves an embedded cluster with kafka-serve, produces to it, consumes back into a group and
# asks kafka-admin for the group's lag, end to end. Builds the four programs it runs, so it
# works as the first command on a fresh clone.
EXAMPLE_PRODUCTS := kafka-serve kafka-produce kafka-consume kafka-admin
example: setup
	for product in $(EXAMPLE_PRODUCTS); do $(SWIFT) build --product $$product || exit 1; done
	./scripts/run-examples.sh "$$($(SWIFT) build --show-bin-path)"

# Builds everything and runs every test suite against the embedded cluster
# (set KAFKA_BROKERS=host:port,... to use a real one).
# At most 12 tests at once: with every suite's tests started together, sixty-odd embedded
# clusters and their threads competed for two cores, and timing bounds failed on starvation alone.
test: setup
	$(SWIFT) build --build-tests
	SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=12 $(SWIFT) test --skip-build

# The TLSEndToEnd suite (mutual TLS: round trip, wrong CA, no client certificate) against
# kafka-serve's brokers behind socat TLS listeners, the test binary running in a network namespace
# where only TLS answers (scripts/tls-e2e.sh). Needs root; skips with exit 0 without it. Gating in CI.
test-tls: setup
	$(SWIFT) build --build-tests
	for product in kafka-serve kafka-produce kafka-consume; do $(SWIFT) build --product $$product || exit 1; done
	./scripts/tls-e2e.sh "$$($(SWIFT) build --show-bin-path)"

# The integration suite against tansu (a Kafka-compatible broker in Rust) with
# librdkafka 2.16 loaded at run time; tansu's own limits are known issues.
test-tansu: setup
	./scripts/test-tansu.sh

# Release build of the benchmark harness, run side by side with raw librdkafka. Every row prints
# msgs/s and process CPU (user + sys, all threads) per message, each with its Swift / raw C ratio,
# medians of 5 interleaved rounds; the same fields go to bench-results.json. BENCH_ARGS passes flags
# (--rounds N, --only TEXT, ...); BENCH_SCRATCH builds elsewhere than .build. For instruction counts:
#   valgrind --tool=callgrind -- <bin>/kafka-bench --no-alloc-count --rounds 1 --only "consume()" ...
# By default the broker (librdkafka's mock) is embedded in the bench process, so the CPU column
# counts client and broker together. `make bench BENCH_ARGS="--broker-process"` runs it in its own
# process instead (kafka-serve, built here too, started by the bench and stopped at its end), so the
# CPU column counts the client alone. swift build builds only its last --product, hence the loop.
BENCH_SCRATCH ?= .build
BENCH_PRODUCTS := kafka-bench $(if $(findstring --broker-process,$(BENCH_ARGS)),kafka-serve)
bench: setup
	for product in $(BENCH_PRODUCTS); do $(SWIFT) build -c release --scratch-path $(BENCH_SCRATCH) --product $$product || exit 1; done
	"$$($(SWIFT) build -c release --scratch-path $(BENCH_SCRATCH) --show-bin-path)/kafka-bench" $(BENCH_ARGS)

# 1,000,000 messages produced and consumed concurrently, then 10,000 produce/consume/close
# cycles, printing RSS; fails if memory keeps growing or handles leak.
soak: setup
	$(SWIFT) build -c release --product kafka-soak
	"$$($(SWIFT) build -c release --show-bin-path)/kafka-soak"

# The concurrency, close, producer, sender, consumer, processing, peer, example-program and fault
# tests under AddressSanitizer and LeakSanitizer (XCTest's one-off allocations are suppressed in
# .ci/lsan.supp).
SANITIZE_FILTER ?= Concurrency|Consumer|Producer|Mx|FaultTests|ContractTests|MockBrokerTests|BadInput|Peer|Waiters|Sender|DeliveryReceipt|Processing|Example
sanitize: setup
	LSAN_OPTIONS=suppressions=$(CURDIR)/.ci/lsan.supp $(SWIFT) test --sanitize=address --scratch-path .build-asan --filter '$(SANITIZE_FILTER)'

# The same tests under ThreadSanitizer; any report fails the run. Not part of CI.
# - librdkafka: Debian's is not instrumented (TSan crashes on its threads), so
#   scripts/build-tsan-librdkafka.sh builds 2.0.2 with TSan into
#   .build-tsan-librdkafka/prefix/lib (once; later runs only self-check) and prints that
#   directory last. It goes in the test binary's RUNPATH, not LD_LIBRARY_PATH, so
#   kcat and other peers the tests start still load Debian's.
# - Synchronization.Mutex: its futex slow paths are invisible to TSan, so accesses
#   under withLock were reported as races. scripts/tsan-mutex-hb.c, linked into the
#   test binary, adds the missing happens-before edges (__tsan_acquire/__tsan_release);
#   nothing is suppressed for it. The few reasoned suppressions are in .ci/tsan.supp.
# Measured on 2 cores, librdkafka already built: 126 s (build 66 s, 83 tests 57 s, no
# report); a build from an empty .build-tsan measured 77 s on its own.
sanitize-thread: setup
	@out=$$(./scripts/build-tsan-librdkafka.sh) || exit 1; lib=$$(printf '%s\n' "$$out" | tail -n 1); \
	cc=$$(dirname "$$(readlink -f "$$(command -v $(SWIFT))")")/clang; hb=$(CURDIR)/.build-tsan-librdkafka/tsan-mutex-hb.o; \
	"$$cc" -c -O1 -g -fPIC -Wall -Werror scripts/tsan-mutex-hb.c -o "$$hb" || exit 1; \
	echo "TSAN_OPTIONS=suppressions=$(CURDIR)/.ci/tsan.supp $(SWIFT) test --sanitize=thread --scratch-path .build-tsan -Xlinker -rpath -Xlinker $$lib -Xlinker $$hb --filter '$(SANITIZE_FILTER)'"; \
	TSAN_OPTIONS="suppressions=$(CURDIR)/.ci/tsan.supp $${TSAN_OPTIONS:-}" $(SWIFT) test --sanitize=thread --scratch-path .build-tsan \
	  -Xlinker -rpath -Xlinker "$$lib" -Xlinker "$$hb" --filter '$(SANITIZE_FILTER)'

clean:
	rm -rf .build

# libFuzzer (with AddressSanitizer) over the byte parser of the consumer's header-count fast path
# (Sources/Kafka/Native/RecordBytes.swift), for FUZZ_TIME seconds; output in .build-fuzz/fuzz/.
FUZZ_TIME ?= 60
fuzz:
	./Fuzz/run.sh $(FUZZ_TIME)

# DocC archives of every library target, through swift-docc-plugin (a plugin dependency only:
# no target links it). Output: .build/plugins/Swift-DocC/outputs/<Target>.doccarchive. The Swift
# blocks of the articles are checked by the test suite (Tests/KafkaTestTests/DocSnippetTests.swift).
DOC_TARGETS := KafkaProto Kafka KafkaEmbedded KafkaTest KafkaMetrics KafkaTracing KafkaServiceLifecycle
docs: setup
	$(SWIFT) package generate-documentation $(foreach target,$(DOC_TARGETS),--target $(target))
