/* Self-check for scripts/build-tsan-librdkafka.sh: built with the Swift
 * toolchain's clang -fsanitize=thread and run against the TSan librdkafka.
 * A producer on librdkafka's built-in mock cluster (no broker needed)
 * produces one message, waits for its delivery report, flushes, destroys.
 * Exits 0 when the message was delivered (TSan makes it exit non-zero on a
 * report when run with TSAN_OPTIONS=halt_on_error=1 or exitcode=...). */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <string.h>

static int delivered = 0;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    if (m->err)
        fprintf(stderr, "tsan-smoke: delivery failed: %s\n", rd_kafka_err2str(m->err));
    else
        delivered++;
}

int main(void) {
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "message.timeout.ms", "10000", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "tsan-smoke: conf: %s\n", errstr);
        return 1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "tsan-smoke: rd_kafka_new: %s\n", errstr);
        return 1;
    }
    const char *payload = "hello from tsan-smoke";
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC("tsan-smoke"), RD_KAFKA_V_VALUE((void *)payload, strlen(payload)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err) {
        fprintf(stderr, "tsan-smoke: produce: %s\n", rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return 1;
    }
    err = rd_kafka_flush(rk, 15000);
    if (err)
        fprintf(stderr, "tsan-smoke: flush: %s\n", rd_kafka_err2str(err));
    rd_kafka_destroy(rk);
    if (delivered != 1) {
        fprintf(stderr, "tsan-smoke: %d message(s) delivered, expected 1\n", delivered);
        return 1;
    }
    printf("tsan-smoke: librdkafka %s, 1 message delivered to the mock cluster\n", rd_kafka_version_str());
    return 0;
}
