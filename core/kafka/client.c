/*
 * kafka_client: helpers the Kafka source and sink share (see kafka_client.h).
 *
 * librdkafka logs every failed connection attempt itself; those lines are
 * dropped here (log_cb) and the newest error is kept instead (error_cb), so
 * an outage reads as one ember line per retry naming the address and cause.
 * librdkafka's other warnings and errors reach em_log as "kafka: ..." lines.
 */
#include "core/kafka/client.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/kafka/mock.h"
#include "core/kafka/props.h"

#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One "host:port" (or "host", port 9092) must parse and resolve. */
static int check_address(const char *addr, size_t len, const char *what, ember_err *err)
{
    char host[256], port[16] = "9092";
    const char *scheme = strstr(addr, "://");
    if (scheme && (size_t)(scheme - addr) < len) {
        len -= (size_t)(scheme + 3 - addr);
        addr = scheme + 3;
    }
    const char *colon = memrchr(addr, ':', len);
    size_t host_len = colon ? (size_t)(colon - addr) : len;
    if (host_len == 0 || host_len >= sizeof host)
        return ember_err_set(err, -EMBER_EUSAGE, "%s: bad broker address '%.*s' (expected "
                             "HOST:PORT)", what, (int)len, addr);
    snprintf(host, sizeof host, "%.*s", (int)host_len, addr);
    if (colon) {
        size_t pl = len - host_len - 1;
        char *end;
        snprintf(port, sizeof port, "%.*s", (int)(pl < sizeof port ? pl : sizeof port - 1),
                 colon + 1);
        long v = strtol(port, &end, 10);
        if (pl == 0 || pl >= sizeof port || *end || v < 1 || v > 65535)
            return ember_err_set(err, -EMBER_EUSAGE, "%s: bad port in broker address '%.*s'",
                                 what, (int)len, addr);
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc)
        return ember_err_set(err, -EMBER_EUSAGE, "%s: broker address '%.*s' does not resolve "
                             "(%s)", what, (int)len, addr, gai_strerror(rc));
    freeaddrinfo(ai);
    return 0;
}

/* `shown`: the bootstrap list with librdkafka's default port made explicit. */
static void show_brokers(kafka_endpoint *ep, const char *brokers)
{
    size_t n = 0;
    for (const char *p = brokers; *p && n + 1 < sizeof ep->shown;) {
        size_t len = strcspn(p, ","), at = n;
        const char *scheme = strstr(p, "://"), *host = p;
        if (scheme && scheme < p + len)
            host = scheme + 3;
        n += (size_t)snprintf(ep->shown + n, sizeof ep->shown - n, "%s%.*s%s", at ? "," : "",
                              (int)len, p, memchr(host, ':', len - (size_t)(host - p)) ? ""
                                                                                  : ":9092");
        if (n >= sizeof ep->shown)
            n = sizeof ep->shown - 1;
        p += len + (p[len] == ',');
    }
}

int kafka_endpoint_open(kafka_endpoint *ep, const char *brokers, const char *what,
                        const volatile sig_atomic_t *stop, ember_err *err)
{
    memset(ep, 0, sizeof *ep);
    ep->stop = stop;
    if (strcmp(brokers, "embedded") == 0) {
        const char *b = NULL;
        int rc = kafka_mock_embedded_acquire(&b, err);
        if (rc)
            return ember_err_prefix(err, "%s", what);
        ep->embedded = 1;
        snprintf(ep->bootstrap, sizeof ep->bootstrap, "%s", b);
        snprintf(ep->shown, sizeof ep->shown, "embedded broker %s", b);
        return 0;
    }
    if (!*brokers || strlen(brokers) >= sizeof ep->bootstrap)
        return ember_err_set(err, -EMBER_EUSAGE, "%s: brokers= needs HOST:PORT[,HOST:PORT...] "
                             "or embedded", what);
    for (const char *p = brokers; *p;) {
        size_t len = strcspn(p, ",");
        int rc = len ? check_address(p, len, what, err) : 0;
        if (rc)
            return rc;
        p += len + (p[len] == ',');
    }
    snprintf(ep->bootstrap, sizeof ep->bootstrap, "%s", brokers);
    show_brokers(ep, brokers);
    return 0;
}

void kafka_endpoint_close(kafka_endpoint *ep)
{
    if (ep->embedded)
        kafka_mock_embedded_release();
    ep->embedded = 0;
}

void kafka_log_line(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const char *debug = getenv("EMBER_KAFKA_DEBUG");
    if (debug && *debug) {
        em_log(EMBER_LOG_INFO, "kafka %s %s: %s", rk ? rd_kafka_name(rk) : "-", fac, buf);
        return;
    }
    /* FAIL: a connection failed or closed; the error callback has it and
     * ember's own message names it. Below warning: chatter. */
    if (level > 4 || strcmp(fac, "FAIL") == 0)
        return;
    if (buf[0] == '[') { /* "[thrd:...]: " names librdkafka's thread */
        const char *end = strstr(buf, "]: ");
        buf = end ? end + 3 : buf;
    }
    em_log(level <= 3 ? EMBER_LOG_ERROR : EMBER_LOG_WARN, "kafka: %s", buf);
}

/* librdkafka's reason "127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9
 * failed: Connection refused (after 0ms in state CONNECT)" (or with another
 * prefix, e.g. "TxnCoordinator: ...") read as "connect to 127.0.0.1:9:
 * Connection refused"; other reasons lose the "NAME/ID: " and "(after ...)". */
static void simplify_reason(kafka_endpoint *ep, const char *reason)
{
    const char *after = strstr(reason, " (after ");
    const char *end = after ? after : reason + strlen(reason);
    const char *c = strstr(reason, "Connect to "), *at = c ? strchr(c, '#') : NULL;
    const char *failed = c ? strstr(c, " failed: ") : NULL;
    if (at && failed && at < failed && failed < end) {
        snprintf(ep->last_error, sizeof ep->last_error, "connect to %.*s: %.*s",
                 (int)(failed - at - 1), at + 1, (int)(end - failed - 9), failed + 9);
        ep->connect_failed = 1;
        return;
    }
    const char *resolve = strstr(reason, "Failed to resolve ");
    ep->connect_failed = resolve && resolve < end;
    if (resolve && resolve < end) {
        reason = resolve;
    } else {
        const char *sep = strstr(reason, ": "), *slash = strchr(reason, '/');
        if (sep && sep < end && slash && slash < sep &&
            !memchr(reason, ' ', (size_t)(sep - reason)))
            reason = sep + 2; /* "NAME/ID: " */
    }
    snprintf(ep->last_error, sizeof ep->last_error, "%.*s", (int)(end - reason), reason);
}

static void keep_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    kafka_endpoint *ep = opaque;
    /* "1/1 brokers are down" follows the error that says why (connection
     * refused, name not known): keep the why. */
    if (code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && ep->last_error[0])
        return;
    simplify_reason(ep, reason);
}

int kafka_stopping(const kafka_endpoint *ep) { return ep->stop && *ep->stop; }

int kafka_stopped(const kafka_endpoint *ep, const char *what, const char *doing,
                  ember_err *err)
{
    return ember_err_set(err, -ECANCELED, "%s: stopped while %s", what, doing);
}

int kafka_slice_ms(double give_up_ms)
{
    double left = give_up_ms - em_mono_ms();
    return left >= KAFKA_SLICE_MS ? KAFKA_SLICE_MS : left > 1 ? (int)left : 1;
}

rd_kafka_conf_t *kafka_conf_new(kafka_endpoint *ep, const char *const *settings,
                                const opt_set *props, unsigned role, ember_err *err)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Reconnect within a second of the cluster coming back (default: up to 10 s). */
    if (rd_kafka_conf_set(conf, "bootstrap.servers", ep->bootstrap, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "reconnect.backoff.max.ms", "1000", errstr, sizeof errstr))
        goto bad;
    for (size_t i = 0; settings && settings[i]; i += 2)
        if (rd_kafka_conf_set(conf, settings[i], settings[i + 1], errstr, sizeof errstr))
            goto bad;
    if (kafka_props_apply(conf, props, role, "kafka", err)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    /* EMBER_KAFKA_DEBUG=eos,fetch,... turns librdkafka's own log back on
     * with those debug contexts (for diagnosing the cluster, not for users). */
    const char *debug = getenv("EMBER_KAFKA_DEBUG");
    if (debug && *debug && rd_kafka_conf_set(conf, "debug", debug, errstr, sizeof errstr))
        goto bad;
    rd_kafka_conf_set_log_cb(conf, kafka_log_line);
    rd_kafka_conf_set_error_cb(conf, keep_error);
    rd_kafka_conf_set_opaque(conf, ep);
    return conf;
bad:
    rd_kafka_conf_destroy(conf);
    ember_err_set(err, -EINVAL, "kafka client setting: %s", errstr);
    return NULL;
}

/* The cause of a failed request: librdkafka's newest error if it has one
 * (e.g. "Connect to ipv4#127.0.0.1:9 failed: Connection refused"). */
static const char *cause(rd_kafka_t *rk, kafka_endpoint *ep, rd_kafka_resp_err_t e)
{
    rd_kafka_poll(rk, 0); /* serves error_cb */
    return ep->last_error[0] ? ep->last_error : rd_kafka_err2str(e);
}

static int unreachable(rd_kafka_t *rk, kafka_endpoint *ep, rd_kafka_resp_err_t e,
                       ember_err *err)
{
    return ember_err_set(err, -ETIMEDOUT, "cannot reach Kafka at %s: %s", ep->shown,
                         cause(rk, ep, e));
}

/* rd_kafka_metadata in slices of KAFKA_SLICE_MS, polling the stop flag:
 * a request that times out is sent again until timeout_ms has passed. */
int kafka_metadata(rd_kafka_t *rk, kafka_endpoint *ep, rd_kafka_topic_t *only, int timeout_ms,
                   const struct rd_kafka_metadata **md, ember_err *err)
{
    double give_up = em_mono_ms() + timeout_ms;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, !only, only, md, kafka_slice_ms(give_up));
        if (!e) { /* the cause of an outage stays until a request succeeds */
            ep->last_error[0] = '\0';
            return 0;
        }
        if (kafka_stopping(ep))
            return kafka_stopped(ep, "kafka", "waiting for the cluster's metadata", err);
        if (e != RD_KAFKA_RESP_ERR__TIMED_OUT || em_mono_ms() >= give_up)
            return unreachable(rk, ep, e, err);
    }
}

int kafka_partitions(rd_kafka_t *rk, kafka_endpoint *ep, const char *topic, int timeout_ms,
                     int32_t **ids, size_t *n, ember_err *err)
{
    /* Metadata of all topics: naming the topic would let a broker with
     * auto.create.topics.enable (and the mock cluster, always) create it. */
    const struct rd_kafka_metadata *md = NULL;
    int rc = kafka_metadata(rk, ep, NULL, timeout_ms, &md, err);
    if (rc)
        return rc;
    const struct rd_kafka_metadata_topic *t = NULL;
    for (int i = 0; i < md->topic_cnt && !t; i++)
        if (strcmp(md->topics[i].topic, topic) == 0)
            t = &md->topics[i];
    if (!t || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        rc = ember_err_set(err, -ENOENT, "topic '%s' does not exist at %s", topic, ep->shown);
    else if (t->err)
        rc = ember_err_set(err, -EAGAIN, "topic '%s' at %s: %s", topic, ep->shown,
                           rd_kafka_err2str(t->err));
    else if (!(*ids = malloc(((size_t)t->partition_cnt + 1) * sizeof **ids)))
        rc = ember_err_set(err, -ENOMEM, "out of memory");
    for (int i = 0; !rc && i < t->partition_cnt; i++)
        (*ids)[i] = t->partitions[i].id;
    if (!rc)
        *n = (size_t)t->partition_cnt;
    rd_kafka_metadata_destroy(md);
    return rc;
}

int kafka_offsets(rd_kafka_t *rk, kafka_endpoint *ep, const char *topic, const int32_t *ids,
                  size_t n, int64_t which, int64_t *out, int timeout_ms, ember_err *err)
{
    if (n == 0)
        return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, topic, ids[i])->offset = which;
    double give_up = em_mono_ms() + timeout_ms;
    int rc = 0;
    for (;;) {
        /* A timestamp of -1 (-2) asks ListOffsets for the latest (earliest)
         * offset; set again for every attempt, the call writes results there. */
        for (int i = 0; i < l->cnt; i++)
            l->elems[i].offset = which;
        rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(rk, l, kafka_slice_ms(give_up));
        if (!e) {
            ep->last_error[0] = '\0';
            break;
        }
        if (kafka_stopping(ep)) {
            rc = kafka_stopped(ep, "kafka", "waiting for offsets", err);
            break;
        }
        if (e != RD_KAFKA_RESP_ERR__TIMED_OUT || em_mono_ms() >= give_up) {
            rc = unreachable(rk, ep, e, err);
            break;
        }
    }
    for (int i = 0; !rc && i < l->cnt; i++)
        out[i] = l->elems[i].err ? -1 : l->elems[i].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

void kafka_backoff_fail(kafka_backoff *b, const char *what, const char *problem)
{
    if (b->delay_ms < 100)
        b->delay_ms = 100;
    em_log(EMBER_LOG_WARN, "%s: %s; retrying in %d ms", what, problem, b->delay_ms);
    b->retry_at_ms = em_mono_ms() + b->delay_ms;
    b->delay_ms = b->delay_ms * 2 > 5000 ? 5000 : b->delay_ms * 2;
    b->failing++;
}

int kafka_backoff_wait(kafka_backoff *b, const kafka_endpoint *ep, const char *what,
                       const char *problem, ember_err *err)
{
    kafka_backoff_fail(b, what, problem);
    for (;;) {
        if (kafka_stopping(ep))
            return kafka_stopped(ep, what, "waiting for Kafka", err);
        double left = b->retry_at_ms - em_mono_ms();
        if (left <= 0)
            return 0;
        left = left < 50 ? left : 50;
        struct timespec ts = {0, (long)(left * 1e6)};
        nanosleep(&ts, NULL);
    }
}

int kafka_backoff_due(const kafka_backoff *b) { return em_mono_ms() >= b->retry_at_ms; }

void kafka_backoff_ok(kafka_backoff *b, const char *what)
{
    if (b->failing)
        em_log(EMBER_LOG_WARN, "%s: Kafka reachable again after %d retries", what, b->failing);
    b->failing = 0;
    b->delay_ms = 100;
}

void kafka_header(const rd_kafka_message_t *m, const char *name, char *buf, size_t cap)
{
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t len = 0;
    buf[0] = '\0';
    if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(h, name, &v, &len) == RD_KAFKA_RESP_ERR_NO_ERROR && v)
        snprintf(buf, cap, "%.*s", (int)(len < cap ? len : cap - 1), (const char *)v);
}

/* ------------------------------------------------------------ scan */

typedef struct scan_state {
    int64_t from, to, next;
    kafka_msg_fn fn;
    void *ctx;
} scan_state;

/* 1 when the range is done, 0 to go on, <0 error. */
static int scan_one(scan_state *s, const rd_kafka_message_t *m, const char *topic,
                    kafka_backoff *b, kafka_endpoint *ep, ember_err *err)
{
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        return m->offset >= s->to; /* EOF before `to`: more is on its way */
    if (m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
        m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
        return ember_err_set(err, -EMBER_EDATALOSS, "topic %s partition %d: offsets [%lld, "
                             "%lld) are no longer in the log (%s)", topic, (int)m->partition,
                             (long long)s->next, (long long)s->to, rd_kafka_message_errstr(m));
    if (m->err)
        return kafka_backoff_wait(b, ep, topic, rd_kafka_message_errstr(m), err);
    if (m->offset < s->next)
        return 0; /* from before a seek */
    if (m->offset >= s->to)
        return 1;
    s->next = m->offset + 1;
    int rc = s->fn(m, s->ctx);
    return rc ? rc : s->next >= s->to;
}

int kafka_scan(rd_kafka_t *consumer, kafka_endpoint *ep, const char *topic, int32_t p,
               int64_t from, int64_t to, kafka_msg_fn fn, void *ctx, ember_err *err)
{
    scan_state s = {from, to, from, fn, ctx};
    kafka_backoff b = {0};
    if (from >= to)
        return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p)->offset = from;
    rd_kafka_queue_t *q = rd_kafka_queue_get_partition(consumer, topic, p);
    rd_kafka_queue_forward(q, NULL); /* consume this partition's queue directly */
    rd_kafka_resp_err_t e = rd_kafka_assign(consumer, l);
    int rc = e ? ember_err_set(err, -EIO, "assign %s [%d]: %s", topic, (int)p,
                               rd_kafka_err2str(e))
               : 0;
    double last_progress = em_mono_ms();
    while (rc == 0) {
        rd_kafka_message_t *m = rd_kafka_consume_queue(q, 200);
        if (!m && kafka_stopping(ep)) {
            rc = kafka_stopped(ep, topic, "reading from Kafka", err);
            continue;
        }
        if (!m) {
            if (em_mono_ms() - last_progress > 5000) {
                char why[400];
                snprintf(why, sizeof why, "partition %d: waiting for offsets [%lld, %lld) "
                         "from %s (%s)", (int)p, (long long)s.next, (long long)to, ep->shown,
                         cause(consumer, ep, RD_KAFKA_RESP_ERR__TIMED_OUT));
                rc = kafka_backoff_wait(&b, ep, topic, why, err);
                last_progress = em_mono_ms();
            }
            continue;
        }
        rc = scan_one(&s, m, topic, &b, ep, err);
        rd_kafka_message_destroy(m);
        last_progress = em_mono_ms();
    }
    rd_kafka_assign(consumer, NULL);
    rd_kafka_queue_destroy(q);
    rd_kafka_topic_partition_list_destroy(l);
    return rc < 0 ? rc : 0;
}
