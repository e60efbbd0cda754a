#ifndef CRDKAFKA_SHIM_H
#define CRDKAFKA_SHIM_H
// The whole C surface the package may touch: librdkafka's public API and its
// (experimental) mock cluster API, both from Debian's librdkafka-dev or
// Homebrew's librdkafka. Of the library modules, only Sources/Kafka/Native and
// Sources/KafkaEmbedded/Native import it; besides them, the raw librdkafka
// baselines of Benchmarks/KafkaBench and a few tests in Tests/KafkaTests do.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

// Swift cannot call C variadic functions; this pushes one (error, delay) pair.
static inline rd_kafka_resp_err_t
crdkafka_mock_broker_push_request_error_rtt(rd_kafka_mock_cluster_t *mcluster,
                                            int32_t broker_id,
                                            int16_t api_key,
                                            rd_kafka_resp_err_t err,
                                            int rtt_ms) {
        return rd_kafka_mock_broker_push_request_error_rtts(
            mcluster, broker_id, api_key, 1, err, rtt_ms);
}
#endif
