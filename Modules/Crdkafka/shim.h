#ifndef CRDKAFKA_SHIM_H
#define CRDKAFKA_SHIM_H
// The whole C surface the Kafka and KafkaTest modules may touch: librdkafka's
// public API and its (experimental) mock cluster API, both from Debian's
// librdkafka-dev or Homebrew's librdkafka.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif
