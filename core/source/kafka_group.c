/*
 * kafka_group: the kafka source's consumer-group commits. The checkpoint owns
 * the offsets; after each committed batch they also go to the job's group
 * (for lag tools) with a generation-less commit, and on librdkafka's mock
 * cluster, which refuses those once any client joined the group, through a
 * member that joins it. Every refusal is reported in one line; at exit the
 * job waits for the answers.
 */
#include "core/source/kafka_source.h"

/* ------------------------------------------------------------ group offsets */

static kafka_source *source_of(void *opaque)
{
    /* Every client's opaque is its endpoint, the source's first member. */
    return (kafka_source *)((char *)opaque - offsetof(kafka_source, ep));
}

static void offsets_text(const rd_kafka_topic_partition_list_t *l, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; l && i < l->cnt && n + 32 < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%sp%d=%" PRId64, i ? " " : "",
                              (int)l->elems[i].partition, l->elems[i].offset);
}

/* The commit's error: the request's, else the first partition's. */
static rd_kafka_resp_err_t commit_error(rd_kafka_resp_err_t e,
                                        const rd_kafka_topic_partition_list_t *l)
{
    for (int i = 0; !e && l && i < l->cnt; i++)
        e = l->elems[i].err;
    return e == RD_KAFKA_RESP_ERR__NO_OFFSET ? RD_KAFKA_RESP_ERR_NO_ERROR : e;
}

/* One line per failure; the same failure again within GROUP_REPORT_MS is
 * counted and reported with the next line (or at close). */
static void group_failed(kafka_source *s, rd_kafka_resp_err_t e,
                         const rd_kafka_topic_partition_list_t *l)
{
    char offs[300];
    const char *why = rd_kafka_err2str(e);
    s->group_failures++;
    if (!strcmp(why, s->group_error) && em_mono_ms() - s->reported_ms < GROUP_REPORT_MS) {
        s->unreported++;
        return;
    }
    char more[96] = "";
    offsets_text(l, offs, sizeof offs);
    if (s->unreported)
        snprintf(more, sizeof more, "; %" PRIu64 " more commits failed since the last report",
                 s->unreported);
    em_log(EMBER_LOG_WARN, "%s: group %s refused offsets %s: %s%s%s; the checkpoint holds them, "
           "the group lags behind", s->what, s->group, offs, why,
           e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID || e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION
               ? " (another consumer is a member of the group; a broker takes offsets from "
                 "outside a group only while it has no members)"
               : "",
           more);
    snprintf(s->group_error, sizeof s->group_error, "%s", why);
    s->reported_ms = em_mono_ms();
    s->unreported = 0;
}

static void group_ok(kafka_source *s)
{
    if (s->group_error[0])
        em_log(EMBER_LOG_INFO, "%s: group %s takes offsets again (%" PRIu64 " commits had "
               "failed)", s->what, s->group, s->group_failures);
    s->group_error[0] = '\0';
    s->group_failures = s->unreported = 0;
}

/* Adds l to the member's next commit, per partition the newest offset
 * (results come back in any order relative to newer batches' ends). */
static void keep_pending(kafka_source *s, const rd_kafka_topic_partition_list_t *l)
{
    if (!s->pending) {
        s->pending = rd_kafka_topic_partition_list_copy(l);
        return;
    }
    for (int i = 0; i < l->cnt; i++) {
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(s->pending, l->elems[i].topic,
                                               l->elems[i].partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(s->pending, l->elems[i].topic,
                                                  l->elems[i].partition);
        else if (p->offset >= l->elems[i].offset)
            continue;
        p->offset = l->elems[i].offset;
    }
}

static int refused_as_outsider(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID || e == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION;
}

static int start_member(kafka_source *s, ember_err *err);

void kg_on_group_commit(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                            rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    kafka_source *s = source_of(opaque);
    e = commit_error(e, offsets);
    if (rk == s->member) {
        s->member_in_flight = 0;
        if (e && refused_as_outsider(e) ? (s->joined = 0, 1) : 0)
            keep_pending(s, offsets); /* a rebalance took the generation: again when back */
        else if (e)
            group_failed(s, e, offsets);
        else
            group_ok(s);
        return;
    }
    if (s->in_flight > 0)
        s->in_flight--;
    if (e && refused_as_outsider(e) && s->mock && !s->member) {
        ember_err ignored = {0};
        em_log(EMBER_LOG_INFO, "%s: group %s refuses offsets from outside it (librdkafka's "
               "mock cluster keeps a group after its members left): committing as a member of "
               "the group from now on (subscribed to topic %s only)",
               s->what, s->group, GROUP_MEMBER_TOPIC);
        if (start_member(s, &ignored) == 0) {
            keep_pending(s, offsets);
            return;
        }
        snprintf(s->group_error, sizeof s->group_error, "%s", ignored.msg);
    }
    if (s->member && e && refused_as_outsider(e))
        keep_pending(s, offsets);
    else if (e)
        group_failed(s, e, offsets);
    else
        group_ok(s);
}

static void on_member_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t e,
                                rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    kafka_source *s = source_of(opaque);
    /* Never fetches: what it is given (GROUP_MEMBER_TOPIC's partitions) is
     * not consumed. */
    s->joined = e == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (rd_kafka_assign(rk, NULL)) {
        /* nothing was assigned to take back */
    }
}

/* The member consumer (mock clusters only, see the top). */
static int start_member(kafka_source *s, ember_err *err)
{
    char errstr[512], nothing[64];
    const char *settings[] = {
        "group.id", s->group,
        "enable.auto.commit", "false",
        "allow.auto.create.topics", "true", /* the mock creates GROUP_MEMBER_TOPIC */
        "max.poll.interval.ms", "86400000", /* polled from plan(); a long batch is fine */
        /* The mock holds a group in rebalance for the session timeout of a
         * member that left: keep ours short for whoever joins next. */
        "session.timeout.ms", "6000",
        "heartbeat.interval.ms", "2000",
        NULL,
    };
    rd_kafka_conf_t *conf =
        kafka_conf_new(&s->ep, settings, s->props, KAFKA_ROLE_CONSUMER, err);
    if (!conf)
        return err->code;
    rd_kafka_conf_set_offset_commit_cb(conf, kg_on_group_commit);
    rd_kafka_conf_set_rebalance_cb(conf, on_member_rebalance);
    if (!(s->member = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
        rd_kafka_conf_destroy(conf);
        return ember_err_set(err, -EINVAL, "%s: %s", s->what, errstr);
    }
    rd_kafka_poll_set_consumer(s->member);
    snprintf(nothing, sizeof nothing, "%s", GROUP_MEMBER_TOPIC);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, nothing, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(s->member, l);
    rd_kafka_topic_partition_list_destroy(l);
    return e ? ember_err_set(err, -EIO, "%s: subscribe: %s", s->what, rd_kafka_err2str(e)) : 0;
}

/* Serves the member's events and sends its pending commit once joined. */
void kg_member_poll(kafka_source *s, int timeout_ms)
{
    if (!s->member)
        return;
    rd_kafka_message_t *m = rd_kafka_consumer_poll(s->member, timeout_ms);
    if (m)
        rd_kafka_message_destroy(m); /* an error event; it never fetches */
    if (s->joined && s->pending && !s->member_in_flight) {
        rd_kafka_resp_err_t e = rd_kafka_commit(s->member, s->pending, 1);
        if (e) {
            group_failed(s, e, s->pending);
        } else {
            s->member_in_flight = 1;
        }
        rd_kafka_topic_partition_list_destroy(s->pending);
        s->pending = NULL;
    }
}

/* Asynchronous: results come through kg_on_group_commit (served by plan()
 * and, at the end, by kg_group_drain()). */
void kg_group_commit(kafka_source *s, const src_range *ends, size_t n)
{
    if (!*s->group || n == 0)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(l, s->topic, (int32_t)ends[i].partition)->offset =
            (int64_t)ends[i].to;
    if (s->member) {
        keep_pending(s, l);
        kg_member_poll(s, 0);
    } else {
        rd_kafka_resp_err_t e = rd_kafka_commit(s->rk, l, 1 /* async: kg_on_group_commit */);
        if (e)
            group_failed(s, e, l);
        else
            s->in_flight++;
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* At close: waits for every commit's result (a member has to join first)
 * and reports what did not reach the group. */
void kg_group_drain(kafka_source *s)
{
    if (!*s->group)
        return;
    double wait_ms = s->timeout_ms ? (double)s->timeout_ms : GROUP_DRAIN_MS;
    double give_up = em_mono_ms() + wait_ms;
    while ((s->in_flight || s->member_in_flight || s->pending) && em_mono_ms() < give_up) {
        rd_kafka_poll(s->rk, s->member ? 10 : 50);
        kg_member_poll(s, s->member ? 40 : 0);
    }
    if (s->in_flight || s->member_in_flight || s->pending) {
        char offs[300];
        offsets_text(s->pending, offs, sizeof offs);
        em_log(EMBER_LOG_WARN, "%s: group %s: %s%s not committed within %.0f s (%s)%s", s->what,
               s->group, s->pending ? "offsets " : "the newest offsets", offs, wait_ms / 1000,
               s->pending && !s->joined ? "the commit waits for joining the group"
                                        : "no answer from the group's coordinator",
               "; the checkpoint holds them, the group lags behind");
    } else if (s->unreported) {
        em_log(EMBER_LOG_WARN, "%s: group %s: %" PRIu64 " more commits failed (%s)", s->what,
               s->group, s->unreported, s->group_error);
    }
    s->unreported = 0;
}

void kg_kafka_committed(source *src, const src_range *ends, size_t n)
{
    kafka_source *s = src->impl;
    s->engine_commits = 1;
    s->commit_pending = 0;
    kg_group_commit(s, ends, n);
}

