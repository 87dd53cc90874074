/*
 * source_kafka: `source kafka brokers=B topic=T [group=G] [max-per-partition=N]
 * [start=earliest|latest] [timeout=D]`, the direct approach (Spark's
 * createDirectStream): the job, not a consumer group, owns the offsets.
 *
 *   plan     asks the cluster for each partition's end offset (the last
 *            stable offset: the consumer reads read_committed) and plans
 *            [next, min(end, next + share)) per partition, the shares filling
 *            the batch budget fairly and capped by max-per-partition;
 *   read     delivers exactly the messages of one planned range, one record
 *            per message value; a new batch and a replayed one read alike;
 *   restore  sets the positions to the committed end offsets; partitions
 *            without one start at the group's committed offset (group=G,
 *            fresh job), else at `start`; partitions added to the topic
 *            later start at their earliest offset;
 *   available  a replayed range must still be in the log (retention).
 *
 * One consumer stays assigned to every partition at the position the next
 * batch will read from, so librdkafka prefetches the next batch while the
 * current one is processed; each partition's messages are consumed from its
 * own queue, and messages fetched past a range's end wait in `held` for the
 * next range. Only an out-of-order range (a replay, a restore) re-assigns.
 *
 * With group=G the committed end offsets also go to Kafka's group G after
 * each batch (asynchronously; lag tools read them), never read back except
 * for a fresh start. The consumer never joins G, so the commit is Kafka's
 * generation-less one ("simple consumer"), which a broker takes while G has
 * no members; while another consumer is a member of G it is refused
 * (Unknown member) and every refusal is reported. librdkafka's mock cluster
 * (`ember broker`, brokers=embedded) keeps a group after its last member
 * left and refuses generation-less commits from then on: there ember
 * commits through a second consumer that joins G subscribed to a topic of
 * its own (GROUP_MEMBER_TOPIC, never read, so the partitions of the topics
 * other members consume stay theirs) and commits with its member id (the
 * mock answers a join only after the session timeout of a member that
 * left, e.g. 45 s after a kcat -G with librdkafka's defaults). Results are
 * awaited at close (up to timeout=), and what did not reach G by then is
 * reported.
 *
 * When the cluster is unreachable, plan() plans nothing
 * and retries with backoff (one stderr line each time), and read() waits;
 * nothing is skipped, and the job goes on when the cluster is back.
 */
#include "core/source/kafka_source.h"

static const opt_def kafka_options[] = {
    {"brokers", OPT_STR, NULL, NULL,
     "bootstrap servers HOST:PORT[,HOST:PORT...], or `embedded` (an in-process broker)",
     OPT_RESTARTABLE},
    {"topic", OPT_STR, NULL, NULL, "topic to read; one record per message value"},
    {"group", OPT_STR, "", NULL,
     "consumer group: committed offsets go to it after each batch (lag tools); a fresh job "
     "starts from them",
     OPT_RESTARTABLE},
    {"partitions", OPT_STR, "", NULL, "read only these partitions, e.g. 0,2 (default: all)",
     OPT_RESTARTABLE},
    {"keyed-by", OPT_STR, "", NULL,
     "the fields the topic is partitioned by (its message key), or `none`; with `ember run "
     "--instance`, a job whose `key` is another goes through a repartition topic (default: "
     "the job's key)",
     OPT_RESTARTABLE},
    {"upstream", OPT_STR, "", NULL,
     "a repartition topic's writer job, whose task markers say which records count",
     OPT_RESTARTABLE},
    {"max-per-partition", OPT_INT, "0", NULL,
     "most records a batch takes from one partition (0 = no cap)",
     OPT_RESTARTABLE},
    {"start", OPT_ENUM, "earliest", "earliest|latest",
     "where a fresh job starts when the group has no committed offsets",
     OPT_RESTARTABLE},
    {"on-data-loss", OPT_ENUM, "fail", "fail|skip",
     "records retention deleted before a batch planned them: stop, or log and skip them "
     "(planned ranges follow `checkpoint on-data-loss=`)",
     OPT_RESTARTABLE},
    {"timeout", OPT_DURATION, "30s", NULL,
     "how long to wait for the cluster at start before giving up (0 = forever)",
     OPT_RESTARTABLE},
    KAFKA_PROPS_OPTION,
    {0},
};

/* What ember sets itself on the source's consumers (see make_consumer). */
static const kafka_protected kafka_source_protected[] = {
    {"metadata.broker.list", "use brokers="},
    {"group.id", "use group="},
    {"enable.auto.commit", "the job owns the offsets (group= gets them after each batch)"},
    {"enable.auto.offset.store", "the job owns the offsets"},
    {"auto.offset.reset", "use start= and on-data-loss="},
    {"isolation.level", "the source reads only committed records (read_committed)"},
    {"enable.partition.eof", "a read needs to see where a range ends"},
    {0},
};

static int kafka_check(const opt_set *opts, ember_err *err)
{
    return kafka_props_check(opts, "source kafka", KAFKA_ROLE_CONSUMER, kafka_source_protected,
                             err);
}


/* ------------------------------------------------------------ partitions */

static kpart *part_find(kafka_source *s, int32_t id)
{
    for (size_t i = 0; i < s->n_parts; i++)
        if (s->parts[i]->id == id)
            return s->parts[i];
    return NULL;
}

static void held_drop(kpart *p)
{
    for (size_t i = p->held_at; i < p->n_held; i++)
        rd_kafka_message_destroy(p->held[i]);
    p->held_at = p->n_held = 0;
}

static kpart *part_add(kafka_source *s, int32_t id, ember_err *err)
{
    kpart *p = part_find(s, id);
    if (p)
        return p;
    kpart **grown = realloc(s->parts, (s->n_parts + 1) * sizeof *grown);
    if (!grown || !(p = calloc(1, sizeof *p))) {
        if (grown)
            s->parts = grown;
        ember_err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    s->parts = grown;
    p->id = id;
    p->next = p->read_next = -1;
    /* Its own queue, not forwarded to the consumer's: read() takes one
     * partition at a time while the others keep prefetching. */
    p->q = rd_kafka_queue_get_partition(s->rk, s->topic, id);
    rd_kafka_queue_forward(p->q, NULL);
    s->parts[s->n_parts++] = p;
    return p;
}

/* read() continues at `offset` for this partition. */
static void part_seek(kafka_source *s, kpart *p, int64_t offset)
{
    if (p->read_next == offset)
        return;
    held_drop(p);
    p->read_next = offset;
    s->reassign = 1;
}

/* Every positioned partition fetches from its read position. */
static int apply_assignment(kafka_source *s, ember_err *err)
{
    if (!s->reassign)
        return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)s->n_parts);
    for (size_t i = 0; i < s->n_parts; i++)
        if (s->parts[i]->read_next >= 0)
            rd_kafka_topic_partition_list_add(l, s->topic, s->parts[i]->id)->offset =
                s->parts[i]->read_next;
    rd_kafka_resp_err_t e = rd_kafka_assign(s->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        return ember_err_set(err, -EIO, "%s: assign: %s", s->what, rd_kafka_err2str(e));
    s->reassign = 0;
    return 0;
}

/* partitions=: a comma list; "" takes every partition. */
static int part_wanted(const kafka_source *s, int32_t id)
{
    if (!*s->only)
        return 1;
    for (const char *p = s->only; *p; p += strcspn(p, ","), p += *p == ',')
        if (strtol(p, NULL, 10) == id)
            return 1;
    return 0;
}

static int check_partitions(const char *list, ember_err *err)
{
    for (const char *p = list; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || (*end && *end != ','))
            return ember_err_set(err, -EMBER_EUSAGE, "source kafka: partitions=%s: expected "
                                 "partition numbers separated by commas", list);
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* Picks up partitions added to the topic (at most every few seconds). */
static int refresh_partitions(kafka_source *s, int timeout_ms, ember_err *err)
{
    int32_t *ids = NULL;
    size_t n = 0;
    size_t known = s->n_parts;
    int rc = kafka_partitions(s->rk, &s->ep, s->topic, timeout_ms, &ids, &n, err);
    for (size_t i = 0; !rc && i < n; i++) {
        if (!part_wanted(s, ids[i]))
            continue;
        if (!part_find(s, ids[i]) && known)
            em_log(EMBER_LOG_INFO, "%s: new partition %d", s->what, (int)ids[i]);
        if (!part_add(s, ids[i], err))
            rc = err->code;
    }
    free(ids);
    if (!rc)
        s->next_metadata_ms = em_mono_ms() + METADATA_EVERY_MS;
    return rc;
}

/* ------------------------------------------------------------ open */

static const char *setting_group(kafka_source *s, const source_env *env, char *buf, size_t cap)
{
    /* librdkafka needs a group.id to assign partitions; without group=G it
     * names the job and nothing is ever committed under it. */
    if (*s->group)
        return s->group;
    snprintf(buf, cap, "ember.%s", env->job_name);
    return buf;
}


static int make_consumer(kafka_source *s, const source_env *env, ember_err *err)
{
    char group[300], errstr[512];
    const char *settings[] = {
        "group.id", setting_group(s, env, group, sizeof group),
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "auto.offset.reset", "error",  /* a range gone from the log is data loss */
        "enable.partition.eof", "true", /* tells read() a range ended in a gap */
        "isolation.level", "read_committed",
        "fetch.wait.max.ms", "20",
        /* allow.auto.create.topics stays unset: false is the consumer's
         * default, and setting it makes librdkafka warn on brokers older
         * than 0.11 (the mock cluster among them) */
        NULL,
    };
    rd_kafka_conf_t *conf =
        kafka_conf_new(&s->ep, settings, s->props, KAFKA_ROLE_CONSUMER, err);
    if (!conf)
        return err->code;
    rd_kafka_conf_set_offset_commit_cb(conf, kg_on_group_commit);
    s->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!s->rk) {
        rd_kafka_conf_destroy(conf);
        return ember_err_set(err, -EINVAL, "%s: %s", s->what, errstr);
    }
    return 0;
}

/* The topic's partitions, waiting up to `timeout` for the cluster. */
static int wait_for_topic(kafka_source *s, ember_err *err)
{
    double give_up = em_mono_ms() + (double)s->timeout_ms;
    for (;;) {
        int wait_ms = s->timeout_ms && s->timeout_ms < REQUEST_TIMEOUT_MS ? (int)s->timeout_ms
                                                                          : REQUEST_TIMEOUT_MS;
        int rc = refresh_partitions(s, wait_ms, err);
        if (rc == -ENOENT)
            return ember_err_set(err, -ENOENT, "%s: topic '%s' does not exist at %s (create "
                                 "it first, e.g. `ember broker --topic %s:4`)",
                                 s->what, s->topic, s->ep.shown, s->topic);
        if (rc != -ETIMEDOUT && rc != -EAGAIN)
            return rc ? ember_err_prefix(err, "%s", s->what) : 0;
        if (s->timeout_ms && em_mono_ms() >= give_up) {
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err->msg);
            return ember_err_set(err, -EHOSTUNREACH, "%s: gave up after %lld ms: %s", s->what,
                                 (long long)s->timeout_ms, why);
        }
        if ((rc = kafka_backoff_wait(&s->backoff, &s->ep, s->what, err->msg, err)))
            return rc;
    }
}

static int kafka_open(source *src, const opt_set *opts, const source_env *env, ember_err *err)
{
    kafka_source *s = calloc(1, sizeof *s);
    if (!s)
        return ember_err_set(err, -ENOMEM, "out of memory");
    src->impl = s;
    s->props = opts;
    s->topic = strdup(opts_str(opts, "topic"));
    s->group = strdup(opts_str(opts, "group"));
    s->only = strdup(opts_str(opts, "partitions"));
    if (!s->topic || !s->group || !s->only)
        return ember_err_set(err, -ENOMEM, "out of memory");
    snprintf(s->what, sizeof s->what, "source kafka topic %s", s->topic);
    s->start_latest = strcmp(opts_str(opts, "start"), "latest") == 0;
    s->max_per_part = opts_int(opts, "max-per-partition");
    s->timeout_ms = opts_int(opts, "timeout");
    s->on_data_loss_skip = strcmp(opts_str(opts, "on-data-loss"), "skip") == 0;
    snprintf(s->ckpt_dir, sizeof s->ckpt_dir, "%s", env->checkpoint_dir ? env->checkpoint_dir
                                                                          : "");
    int rc = check_partitions(s->only, err);
    if (!rc)
        rc = kafka_endpoint_open(&s->ep, opts_str(opts, "brokers"), s->what, env->stop, err);
    if (!rc && s->ep.embedded)
        rc = kafka_mock_embedded_topic(s->topic, EMBEDDED_PARTITIONS, err);
    if (!rc)
        rc = make_consumer(s, env, err);
    if (!rc && *opts_str(opts, "upstream"))
        rc = ku_open(s, opts_str(opts, "upstream"), err);
    if (!rc)
        rc = wait_for_topic(s, err);
    if (!rc && *s->group) {
        char *id = rd_kafka_clusterid(s->rk, REQUEST_TIMEOUT_MS);
        s->mock = id && !strncmp(id, "mockCluster", 11); /* librdkafka's mock names itself so */
        if (id)
            rd_kafka_mem_free(s->rk, id);
    }
    return rc;
}

/* Positions from the group's committed offsets (fresh job with group=G). */
static int from_group(kafka_source *s, ember_err *err)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)s->n_parts);
    for (size_t i = 0; i < s->n_parts; i++)
        if (s->parts[i]->next < 0)
            rd_kafka_topic_partition_list_add(l, s->topic, s->parts[i]->id);
    double give_up = em_mono_ms() + REQUEST_TIMEOUT_MS;
    rd_kafka_resp_err_t e = 0;
    while (l->cnt && (e = rd_kafka_committed(s->rk, l, kafka_slice_ms(give_up))) ==
                         RD_KAFKA_RESP_ERR__TIMED_OUT &&
           !kafka_stopping(&s->ep) && em_mono_ms() < give_up)
        ;
    if (e && kafka_stopping(&s->ep)) {
        rd_kafka_topic_partition_list_destroy(l);
        return kafka_stopped(&s->ep, s->what, "reading the group's offsets", err);
    }
    for (int i = 0; !e && i < l->cnt; i++) {
        kpart *p = part_find(s, l->elems[i].partition);
        if (!l->elems[i].err && l->elems[i].offset >= 0) {
            p->next = l->elems[i].offset;
            em_log(EMBER_LOG_INFO, "%s: partition %d starts at offset %" PRId64 " (committed "
                   "by group %s)", s->what, (int)p->id, p->next, s->group);
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
    return e ? ember_err_set(err, -ETIMEDOUT, "cannot read group %s's offsets from %s: %s",
                             s->group, s->ep.shown, rd_kafka_err2str(e))
             : 0;
}

/* Partitions without a position start at the earliest offset, or at
 * `start` when the job has never had a position (fresh job). */
static int resolve_positions(kafka_source *s, ember_err *err)
{
    int32_t *ids = malloc((s->n_parts + 1) * sizeof *ids);
    int64_t *offs = malloc((s->n_parts + 1) * sizeof *offs);
    size_t n = 0;
    int rc = ids && offs ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    if (!rc && !s->positioned_once && *s->group)
        rc = from_group(s, err);
    int latest = !s->positioned_once && s->start_latest;
    for (size_t i = 0; !rc && i < s->n_parts; i++)
        if (s->parts[i]->next < 0)
            ids[n++] = s->parts[i]->id;
    if (!rc && n)
        rc = kafka_offsets(s->rk, &s->ep, s->topic, ids, n,
                           latest ? KAFKA_LATEST : KAFKA_EARLIEST, offs, REQUEST_TIMEOUT_MS, err);
    for (size_t i = 0; !rc && i < n; i++)
        if (offs[i] >= 0)
            part_find(s, ids[i])->next = offs[i];
    for (size_t i = 0; !rc && i < s->n_parts; i++)
        if (s->parts[i]->next >= 0 && s->parts[i]->read_next < 0)
            part_seek(s, s->parts[i], s->parts[i]->next);
    if (!rc)
        s->positioned_once = 1;
    free(ids);
    free(offs);
    return rc;
}

static int kafka_restore(source *src, const src_range *ends, size_t n, ember_err *err)
{
    kafka_source *s = src->impl;
    for (size_t i = 0; i < n; i++) {
        kpart *p = part_add(s, (int32_t)ends[i].partition, err);
        if (!p)
            return err->code;
        p->next = (int64_t)ends[i].to;
        part_seek(s, p, p->next);
    }
    if (n) {
        s->positioned_once = 1;
        kg_group_commit(s, ends, n); /* recovered progress, visible to lag tools */
    }
    return apply_assignment(s, err);
}

/* ------------------------------------------------------------ plan */

/* Splits `budget` over the partitions' available counts: equal shares,
 * what a partition cannot use goes to the others. Deterministic. */
static void share_budget(const uint64_t *avail, size_t n, uint64_t budget, uint64_t *take)
{
    size_t open = 0;
    for (size_t i = 0; i < n; i++) {
        take[i] = 0;
        open += avail[i] > 0;
    }
    while (budget && open) {
        uint64_t share = budget / open ? budget / open : 1;
        open = 0;
        for (size_t i = 0; i < n && budget; i++) {
            uint64_t want = avail[i] - take[i], t = want < share ? want : share;
            t = t < budget ? t : budget;
            take[i] += t;
            budget -= t;
            open += take[i] < avail[i];
        }
    }
}

/* brokers=embedded lives in the process: a restarted job finds it empty. */
static int embedded_forgot(kafka_source *s, int partition, uint64_t position, int64_t end,
                           ember_err *err)
{
    return ember_err_set(err, -EMBER_EDATALOSS,
                         "%s partition %d: the checkpoint is at offset %" PRIu64 " but the log "
                         "ends at %" PRId64 ": brokers=embedded keeps its topics in memory and "
                         "forgot them when the previous run exited. Start afresh (remove %s), "
                         "or keep topics across runs in a broker of their own: `ember broker "
                         "--port 9092` in another terminal and brokers=127.0.0.1:9092",
                         s->what, partition, position, end, *s->ckpt_dir ? s->ckpt_dir
                                                                         : "the checkpoint "
                                                                           "directory");
}

/* Input that retention deleted before it was planned (the log now starts
 * after the position), or a log that ends before it (topic recreated). */
static int check_log(kafka_source *s, kpart *p, int64_t end, ember_err *err)
{
    int64_t lo = -1, hi = -1;
    rd_kafka_get_watermark_offsets(s->rk, s->topic, p->id, &lo, &hi); /* cached, no request */
    if (lo < 0) {
        /* Nothing fetched yet (a fresh start): ask, or the plan would name
         * offsets that are already gone. */
        ember_err ignored = {0};
        if (kafka_offsets(s->rk, &s->ep, s->topic, &p->id, 1, KAFKA_EARLIEST, &lo,
                          REQUEST_TIMEOUT_MS, &ignored))
            lo = -1;
    }
    int behind = lo >= 0 && p->next < lo, ahead = end >= 0 && p->next > end;
    if (!behind && !ahead)
        return 0;
    char what[400];
    if (behind)
        snprintf(what, sizeof what, "%s partition %d: offsets [%" PRId64 ", %" PRId64 ") were "
                 "deleted by retention before the job read them (the log now starts at %" PRId64
                 ")", s->what, (int)p->id, p->next, lo, lo);
    else
        snprintf(what, sizeof what, "%s partition %d: the job's position %" PRId64 " is past "
                 "the end of the log (%" PRId64 "): was the topic deleted and recreated?",
                 s->what, (int)p->id, p->next, end);
    if (ahead && s->ep.embedded && !s->on_data_loss_skip)
        return embedded_forgot(s, (int)p->id, (uint64_t)p->next, end, err);
    if (!s->on_data_loss_skip)
        return ember_err_set(err, -EMBER_EDATALOSS, "%s (`source kafka ... on-data-loss=skip` "
                             "goes on without them)", what);
    em_log(EMBER_LOG_WARN, "%s; skipped (on-data-loss=skip)", what);
    p->next = behind ? lo : 0;
    if (ahead && lo > 0)
        p->next = lo;
    part_seek(s, p, p->next);
    return 0;
}

static int plan_ranges(kafka_source *s, uint64_t budget, ember_err *err)
{
    size_t n = 0;
    int32_t *ids = malloc((s->n_parts + 1) * sizeof *ids);
    int64_t *end = malloc((s->n_parts + 1) * sizeof *end);
    uint64_t *avail = malloc((s->n_parts + 1) * sizeof *avail);
    uint64_t *take = malloc((s->n_parts + 1) * sizeof *take);
    src_range *r = realloc(s->ranges, (s->n_parts + 1) * sizeof *r);
    int rc = ids && end && avail && take && r ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    if (r)
        s->ranges = r;
    kpart **pp = calloc(s->n_parts + 1, sizeof *pp);
    for (size_t i = 0; !rc && pp && i < s->n_parts; i++)
        if (s->parts[i]->next >= 0) {
            pp[n] = s->parts[i];
            ids[n++] = s->parts[i]->id;
        }
    if (!rc && !pp)
        rc = ember_err_set(err, -ENOMEM, "out of memory");
    if (!rc)
        rc = kafka_offsets(s->rk, &s->ep, s->topic, ids, n, KAFKA_LATEST, end,
                           REQUEST_TIMEOUT_MS, err);
    for (size_t i = 0; !rc && s->up && i < n; i++)
        rc = ku_decided_end(s, ids[i], pp[i]->next, &end[i], budget, err);
    for (size_t i = 0; !rc && i < n; i++) {
        rc = check_log(s, pp[i], end[i], err);
        uint64_t have = end[i] > pp[i]->next ? (uint64_t)(end[i] - pp[i]->next) : 0;
        avail[i] = s->max_per_part && have > (uint64_t)s->max_per_part
                       ? (uint64_t)s->max_per_part
                       : have;
    }
    if (!rc) {
        share_budget(avail, n, budget, take);
        for (size_t i = 0; i < n; i++) {
            s->ranges[i] = (src_range){(uint32_t)pp[i]->id, (uint64_t)pp[i]->next,
                                       (uint64_t)pp[i]->next + take[i]};
            pp[i]->next += (int64_t)take[i];
        }
        s->n_ranges = n;
    }
    free(pp);
    free(ids);
    free(end);
    free(avail);
    free(take);
    return rc;
}

static int kafka_plan(source *src, uint64_t budget, src_range **ranges, size_t *n,
                      src_pulled *pulled, ember_err *err)
{
    kafka_source *s = src->impl;
    int rc = 0;
    *ranges = s->ranges;
    *n = 0;
    rd_kafka_poll(s->rk, 0); /* serves group commit results */
    kg_member_poll(s, 0);
    /* Batch b+1 is planned only after batch b committed (engine invariant
     * I3), so b's ends can go to the group now if the engine does not call
     * committed() itself. */
    if (s->commit_pending && !s->engine_commits)
        kg_group_commit(s, s->ranges, s->n_ranges);
    s->commit_pending = 0;
    if (!kafka_backoff_due(&s->backoff))
        return 0;
    if (em_mono_ms() >= s->next_metadata_ms)
        rc = refresh_partitions(s, REQUEST_TIMEOUT_MS, err);
    if (!rc)
        rc = resolve_positions(s, err);
    if (!rc)
        rc = plan_ranges(s, budget, err);
    if (rc == -ETIMEDOUT || rc == -EAGAIN) {
        /* Plan nothing and try again later: the job waits, nothing is lost. */
        s->reachable = 0;
        kafka_backoff_fail(&s->backoff, s->what, err->msg);
        *err = (ember_err){0};
        return 0;
    }
    if (rc)
        return rc;
    kafka_backoff_ok(&s->backoff, s->what);
    s->reachable = 1;
    *ranges = s->ranges;
    *n = s->n_ranges;
    for (size_t i = 0; i < s->n_ranges; i++)
        s->commit_pending |= s->ranges[i].to > s->ranges[i].from;
    return 0;
}

/* ------------------------------------------------------------ read */

/* Held messages first; then whatever the queue has, without waiting for a
 * full array (consume_batch waits until full or timeout); then one message
 * with a wait. */
static rd_kafka_message_t *next_message(kpart *p, int timeout_ms)
{
    if (p->held_at < p->n_held)
        return p->held[p->held_at++];
    p->held_at = p->n_held = 0;
    ssize_t got = rd_kafka_consume_batch_queue(p->q, 0, p->held, HELD_MAX);
    if (got > 0) {
        p->n_held = (size_t)got;
        return p->held[p->held_at++];
    }
    return rd_kafka_consume_queue(p->q, timeout_ms);
}

static void unread(kpart *p, rd_kafka_message_t *m)
{
    if (p->held_at > 0) {
        p->held[--p->held_at] = m; /* it came from there */
        return;
    }
    p->held[0] = m;
    p->n_held = 1;
}

static int lost_range(kafka_source *s, int32_t id, int64_t from, int64_t to, ember_err *err)
{
    int64_t lo = -1;
    if (kafka_offsets(s->rk, &s->ep, s->topic, &id, 1, KAFKA_EARLIEST, &lo, REQUEST_TIMEOUT_MS,
                      err))
        lo = -1;
    return ember_err_set(err, -EMBER_EDATALOSS, "%s partition %d: planned offsets [%" PRId64
                         ", %" PRId64 ") are gone from the log (it now starts at %" PRId64 ")",
                         s->what, (int)id, from, lo > to || lo < 0 ? to : lo, lo);
}

/* Handles one message of a range: 1 when the range is complete. */
static int take_message(kafka_source *s, kpart *p, const src_range *r, rd_kafka_message_t *m,
                        src_line_fn fn, void *ctx, ember_err *err)
{
    int64_t to = (int64_t)r->to;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (m->offset >= to) /* the rest of the range was transaction markers */
            p->read_next = to;
        return m->offset >= to;
    }
    int out_of_range = m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
                       m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE;
    if (out_of_range && m->offset >= 0 && m->offset < p->read_next)
        return 0; /* about a fetch from before a seek (on-data-loss=skip moved past it) */
    if (out_of_range)
        return lost_range(s, p->id, p->read_next, to, err);
    if (m->err) { /* transient (librdkafka retries): say so, keep waiting */
        em_log(EMBER_LOG_WARN, "%s partition %d: %s; waiting", s->what, (int)p->id,
               rd_kafka_message_errstr(m));
        return 0;
    }
    if (m->offset < p->read_next)
        return 0; /* fetched before a seek */
    if (m->offset >= to) {
        p->read_next = to;
        return 1;
    }
    p->read_next = m->offset + 1;
    int counts = s->up ? ku_counts(s, m, err) : 1;
    if (counts <= 0) /* an error, or an attempt that did not count */
        return counts < 0 ? counts : p->read_next >= to;
    size_t len = m->len;
    const char *line = m->payload ? m->payload : "";
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    int rc = fn(line, len, ctx);
    if (rc)
        return rc < 0 ? ember_err_set(err, rc, "%s: %s", s->what, strerror(-rc)) : rc;
    return p->read_next >= to;
}

static int kafka_read(source *src, const src_range *r, src_line_fn fn, void *ctx, ember_err *err)
{
    kafka_source *s = src->impl;
    kpart *p = part_add(s, (int32_t)r->partition, err);
    if (!p)
        return err->code;
    part_seek(s, p, (int64_t)r->from);
    int rc = apply_assignment(s, err);
    double quiet_since = em_mono_ms();
    while (!rc && p->read_next < (int64_t)r->to) {
        rd_kafka_message_t *m = next_message(p, 100);
        if (!m && kafka_stopping(&s->ep))
            return kafka_stopped(&s->ep, s->what, "reading a planned range", err);
        if (!m) {
            if (em_mono_ms() - quiet_since > 5000) {
                em_log(EMBER_LOG_WARN, "%s partition %d: waiting for offsets [%" PRId64 ", %"
                       PRIu64 ") from %s", s->what, (int)p->id, p->read_next, r->to,
                       s->ep.shown);
                quiet_since = em_mono_ms();
            }
            continue;
        }
        rc = take_message(s, p, r, m, fn, ctx, err);
        if (rc == 1 && !m->err && m->offset >= (int64_t)r->to)
            unread(p, m); /* the next range's first message */
        else
            rd_kafka_message_destroy(m);
        quiet_since = em_mono_ms();
        rc = rc == 1 ? 0 : rc;
    }
    return rc;
}

/* ------------------------------------------------------------ recovery */

static int kafka_available(source *src, const src_range *r, ember_err *err)
{
    kafka_source *s = src->impl;
    int32_t id = (int32_t)r->partition;
    int64_t lo = -1, hi = -1;
    kafka_backoff b = {0};
    int rc;
    for (;;) {
        rc = kafka_offsets(s->rk, &s->ep, s->topic, &id, 1, KAFKA_EARLIEST, &lo,
                           REQUEST_TIMEOUT_MS, err);
        if (!rc)
            rc = kafka_offsets(s->rk, &s->ep, s->topic, &id, 1, KAFKA_LATEST, &hi,
                               REQUEST_TIMEOUT_MS, err);
        if (rc != -ETIMEDOUT)
            break;
        if ((rc = kafka_backoff_wait(&b, &s->ep, s->what, err->msg, err)))
            return rc;
    }
    if (rc)
        return rc;
    if (s->ep.embedded && hi >= 0 && hi < (int64_t)r->to)
        return embedded_forgot(s, (int)id, r->to, hi, err);
    if (lo > (int64_t)r->from)
        return ember_err_set(err, -EMBER_EDATALOSS, "%s partition %d: planned offsets [%" PRIu64
                             ", %" PRId64 ") of [%" PRIu64 ", %" PRIu64 ") were deleted by "
                             "retention (the log now starts at %" PRId64 ")", s->what, (int)id,
                             r->from, lo < (int64_t)r->to ? lo : (int64_t)r->to, r->from, r->to,
                             lo);
    if (hi >= 0 && hi < (int64_t)r->to)
        return ember_err_set(err, -EMBER_EDATALOSS, "%s partition %d: planned offsets [%" PRIu64
                             ", %" PRIu64 ") are past the end of the log (%" PRId64 "): was the "
                             "topic deleted and recreated?", s->what, (int)id, r->from, r->to,
                             hi);
    return lo < 0 || hi < 0 ? ember_err_set(err, -EIO, "%s partition %d: %s", s->what, (int)id,
                                            "no such partition")
                            : 0;
}

/* --until-idle stops only when the cluster answered and had nothing new. */
static int kafka_exhausted(source *src)
{
    kafka_source *s = src->impl;
    return s->reachable;
}

static void kafka_close(source *src)
{
    kafka_source *s = src->impl;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_parts; i++) {
        held_drop(s->parts[i]);
        rd_kafka_queue_destroy(s->parts[i]->q);
        free(s->parts[i]);
    }
    ku_close(s);
    if (s->rk)
        kg_group_drain(s);
    if (s->member) {
        rd_kafka_consumer_close(s->member); /* leaves the group */
        rd_kafka_destroy(s->member);
    }
    if (s->pending)
        rd_kafka_topic_partition_list_destroy(s->pending);
    if (s->rk) {
        rd_kafka_consumer_close(s->rk);
        rd_kafka_destroy(s->rk);
    }
    kafka_endpoint_close(&s->ep);
    free(s->parts);
    free(s->ranges);
    free(s->topic);
    free(s->group);
    free(s->only);
    free(s);
    src->impl = NULL;
}

/* For messages: a record by its place in its planned range (offsets inside a
 * range can skip, e.g. over transaction markers, so the range is named). */
static int kafka_locate(source *src, const src_range *r, uint64_t index, char *buf, size_t cap)
{
    kafka_source *s = src->impl;
    snprintf(buf, cap, "topic %s partition %u, record %llu of offsets [%llu, %llu)", s->topic,
             r->partition, (unsigned long long)index + 1, (unsigned long long)r->from,
             (unsigned long long)r->to);
    return 0;
}

/* Lag: the high watermark librdkafka last saw (fetches and offset requests
 * update it), never a request of its own. */
static int kafka_end_offset(source *src, uint32_t partition, uint64_t *end)
{
    kafka_source *s = src->impl;
    int64_t lo = -1, hi = -1;
    if (!part_find(s, (int32_t)partition))
        return -1;
    rd_kafka_get_watermark_offsets(s->rk, s->topic, (int32_t)partition, &lo, &hi);
    if (hi < 0)
        return -1;
    *end = (uint64_t)hi;
    return 0;
}

const source_ops source_kafka_ops = {
    .kind = "kafka",
    .doc = "a Kafka topic, offsets owned by the job (direct approach); replayable",
    .options = kafka_options,
    .replayable = 1,
    .check = kafka_check,
    .open = kafka_open,
    .restore = kafka_restore,
    .plan = kafka_plan,
    .read = kafka_read,
    .available = kafka_available,
    .exhausted = kafka_exhausted,
    .committed = kg_kafka_committed,
    .locate = kafka_locate,
    .end_offset = kafka_end_offset,
    .close = kafka_close,
};
