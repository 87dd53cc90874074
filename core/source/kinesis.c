/*
 * source_kinesis: `source kinesis stream=S [endpoint=URL] [region=R]
 * [on-data-loss=fail|skip] [timeout=D]`, an Amazon Kinesis data stream read
 * through its HTTP API (libcurl, JSON through jansson, AWS Signature
 * Version 4, retries: core/base/aws; credentials from AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, region from region= or
 * AWS_REGION, default us-east-1).
 *
 * Partitions are shards: shardId-000000000007 is partition 7 (its index in
 * the sorted list of every shard the stream ever had: it never changes).
 * Sequence numbers are big decimal strings, not u64, so offsets are record
 * counts: offset n of a shard is the n-th record the job read from it,
 * counted from the shard's trim horizon when the job first read it.
 *
 *   plan     GetRecords from each readable shard's iterator (a share of the
 *            batch budget each); the records stay in memory for read(), and
 *            the sequence number of each range's last record is kept (in
 *            memory) as an anchor for its end offset;
 *   read     delivers the planned records; a range planned by an earlier run
 *            (a replay) is re-read with GetShardIterator AFTER_SEQUENCE_NUMBER
 *            of the nearest anchor, or from TRIM_HORIZON skipping `from`
 *            records when this process has no anchor (after a restart);
 *   restore  sets the positions; the next plan finds the iterator the same way.
 *
 * The cost of that choice: the first plan or replay after a restart re-reads
 * each shard from its trim horizon up to the committed position (10,000
 * records a request), and records that expired past the trim horizon are
 * detected only when the shard then holds fewer records than the position;
 * that loss is handled like Kafka's retention loss (on-data-loss=fail stops
 * the job; skip logs it and reads what the shard holds from its trim horizon
 * as offsets 0.., as Kafka's source does with a recreated topic: expired
 * records are lost, and records between the trim horizon and the old
 * position, if any, are read twice).
 *
 * Resharding: a child shard (ListShards ParentShardId, AdjacentParentShardId)
 * is read once every parent still listed was read to its end (GetRecords
 * gave no NextShardIterator). Failures worth retrying (unreachable,
 * throttled, 5xx) back off with one log line per change, polling the stop
 * flag every <= 250 ms, for up to timeout= (0: forever).
 */
#include "core/base/aws.h"
#include "core/base/clock.h"
#include "core/base/log.h"
#include "core/source/source.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GET_LIMIT     10000  /* most records one GetRecords returns */
#define LIST_EVERY_MS 5000.0 /* shard list refresh */
#define ANCHORS       32     /* remembered (offset, sequence number) pairs per shard */
/* After an empty answer a shard is asked again this much later at the
 * earliest: Kinesis allows 5 GetRecords a second per shard. */
#define EMPTY_GAP_MS 200.0

static const opt_def kinesis_options[] = {
    {"stream", OPT_STR, NULL, NULL, "Kinesis stream to read; one record per record's data"},
    {"endpoint", OPT_STR, "", NULL,
     "service URL (default https://kinesis.REGION.amazonaws.com), e.g. http://127.0.0.1:4567",
     OPT_RESTARTABLE},
    {"region", OPT_STR, "", NULL, "AWS region (default $AWS_REGION, else us-east-1)",
     OPT_RESTARTABLE},
    {"on-data-loss", OPT_ENUM, "fail", "fail|skip",
     "records that expired past the trim horizon before a batch planned them: stop, or log "
     "and go on",
     OPT_RESTARTABLE},
    {"timeout", OPT_DURATION, "30s", NULL,
     "how long to retry an unreachable or failing service before giving up (0 = forever)",
     OPT_RESTARTABLE},
    {0},
};

typedef struct anchor {
    uint64_t offset; /* the record before this offset ... */
    char seq[128];   /* ... has this sequence number */
} anchor;

typedef struct record {
    char *data;
    size_t len;
} record;

typedef struct kshard {
    uint32_t part;
    char id[32], parent[32], adjacent[32];
    int listed;    /* in the last ListShards answer */
    uint64_t next; /* next offset to plan */
    char *iter;    /* iterator at offset iter_at; NULL: none */
    uint64_t iter_at;
    int ended;             /* read to its end (closed shard) */
    double quiet_until_ms; /* found no new records: not asked again before this */
    int in_plan;           /* readable when the plan started */
    anchor anchors[ANCHORS];
    size_t n_anchors, anchor_at;
    record *recs; /* the last plan's records of this shard */
    size_t n_recs, cap_recs;
    uint64_t recs_from;
} kshard;

typedef struct kinesis_source {
    aws_client aws;
    char *stream;
    char what[300];
    int on_data_loss_skip, reachable;
    /* A parent ended in the last plan (its children are read from the
     * next one): not idle yet. */
    int deferred;
    kshard **shards;
    size_t n_shards;
    double next_list_ms;
    src_range *ranges;
    size_t n_ranges;
} kinesis_source;

/* ------------------------------------------------------------ shards */

static kshard *shard_find(kinesis_source *s, uint32_t part)
{
    for (size_t i = 0; i < s->n_shards; i++)
        if (s->shards[i]->part == part)
            return s->shards[i];
    return NULL;
}

static kshard *shard_get(kinesis_source *s, uint32_t part, ember_err *err)
{
    kshard *k = shard_find(s, part), **grown;
    if (k)
        return k;
    grown = realloc(s->shards, (s->n_shards + 1) * sizeof *grown);
    k = grown ? calloc(1, sizeof *k) : NULL;
    if (grown)
        s->shards = grown;
    if (!k) {
        ember_err_set(err, -ENOMEM, "out of memory");
        return NULL;
    }
    k->part = part;
    snprintf(k->id, sizeof k->id, "shardId-%012" PRIu32, part);
    /* Kept sorted by partition: plans list shards in a stable order. */
    size_t at = s->n_shards;
    while (at > 0 && s->shards[at - 1]->part > part) {
        s->shards[at] = s->shards[at - 1];
        at--;
    }
    s->shards[at] = k;
    s->n_shards++;
    return k;
}

static int shard_number(const char *id, uint32_t *part)
{
    const char *dash = id ? strrchr(id, '-') : NULL;
    char *end;
    unsigned long n = dash ? strtoul(dash + 1, &end, 10) : 0;
    if (!dash || *end || n > UINT32_MAX)
        return -1;
    *part = (uint32_t)n;
    return 0;
}

static int take_shard(kinesis_source *s, json_t *sh, ember_err *err)
{
    uint32_t part;
    const char *id = json_string_value(json_object_get(sh, "ShardId"));
    const char *parent = json_string_value(json_object_get(sh, "ParentShardId"));
    const char *adj = json_string_value(json_object_get(sh, "AdjacentParentShardId"));
    if (shard_number(id, &part))
        return ember_err_set(err, -EIO, "%s: unexpected shard id '%s'", s->what,
                             id ? id : "(none)");
    kshard *k = shard_get(s, part, err);
    if (!k)
        return err->code;
    if (!k->listed && s->next_list_ms > 0 && k->next == 0 && !k->iter)
        em_log(EMBER_LOG_INFO, "%s: new shard %s", s->what, id);
    k->listed = 1;
    snprintf(k->parent, sizeof k->parent, "%s", parent ? parent : "");
    snprintf(k->adjacent, sizeof k->adjacent, "%s", adj ? adj : "");
    return 0;
}

static int list_shards(kinesis_source *s, ember_err *err)
{
    char next_token[4096] = "";
    for (size_t i = 0; i < s->n_shards; i++)
        s->shards[i]->listed = 0;
    int rc = 0;
    do {
        json_t *out = NULL;
        json_t *req = *next_token ? json_pack("{ss}", "NextToken", next_token)
                                  : json_pack("{ss}", "StreamName", s->stream);
        if ((rc = aws_call(&s->aws, "ListShards", req, &out, err)))
            break;
        json_t *arr = json_object_get(out, "Shards"), *sh;
        size_t i;
        json_array_foreach(arr, i, sh) if (!rc) rc = take_shard(s, sh, err);
        const char *tok = json_string_value(json_object_get(out, "NextToken"));
        snprintf(next_token, sizeof next_token, "%s", tok ? tok : "");
        json_decref(out);
    } while (!rc && *next_token);
    if (!rc)
        s->next_list_ms = em_mono_ms() + LIST_EVERY_MS;
    return rc;
}

static kshard *shard_named(kinesis_source *s, const char *id)
{
    uint32_t part;
    kshard *k = *id && !shard_number(id, &part) ? shard_find(s, part) : NULL;
    return k && k->listed ? k : NULL;
}

/* A child waits until its parents still in the stream were read to the end. */
static int readable(kinesis_source *s, const kshard *k)
{
    const kshard *p = shard_named(s, k->parent), *a = shard_named(s, k->adjacent);
    return k->listed && !k->ended && (!p || p->ended) && (!a || a->ended);
}

static void anchor_add(kshard *k, uint64_t offset, const char *seq)
{
    anchor *a = &k->anchors[k->anchor_at];
    a->offset = offset;
    snprintf(a->seq, sizeof a->seq, "%s", seq);
    k->anchor_at = (k->anchor_at + 1) % ANCHORS;
    if (k->n_anchors < ANCHORS)
        k->n_anchors++;
}

/* The nearest remembered position at or before `offset`; NULL: none. */
static const anchor *anchor_find(const kshard *k, uint64_t offset)
{
    const anchor *best = NULL;
    for (size_t i = 0; i < k->n_anchors; i++)
        if (k->anchors[i].offset <= offset && (!best || k->anchors[i].offset > best->offset))
            best = &k->anchors[i];
    return best;
}

static void set_iter(kshard *k, const char *iter, uint64_t at)
{
    free(k->iter);
    k->iter = iter ? strdup(iter) : NULL;
    k->iter_at = at;
}

/* ------------------------------------------------------------ records */

static void recs_clear(kshard *k)
{
    for (size_t i = 0; i < k->n_recs; i++)
        free(k->recs[i].data);
    k->n_recs = 0;
}

static int recs_push(kshard *k, const char *b64, ember_err *err)
{
    if (k->n_recs == k->cap_recs) {
        size_t cap = k->cap_recs ? k->cap_recs * 2 : 256;
        record *grown = realloc(k->recs, cap * sizeof *grown);
        if (!grown)
            return ember_err_set(err, -ENOMEM, "out of memory");
        k->recs = grown;
        k->cap_recs = cap;
    }
    size_t n = strlen(b64);
    char *d = malloc(n / 4 * 3 + 4);
    int len = d ? EVP_DecodeBlock((unsigned char *)d, (const unsigned char *)b64, (int)n) : -1;
    if (len < 0) {
        free(d);
        return ember_err_set(err, d ? -EIO : -ENOMEM, "%s shard %s: record data is not base64",
                             "source kinesis", k->id);
    }
    /* EVP_DecodeBlock counts the padding as data bytes. */
    for (size_t i = n; i > 0 && b64[i - 1] == '='; i--)
        len--;
    while (len > 0 && (d[len - 1] == '\n' || d[len - 1] == '\r'))
        len--;
    k->recs[k->n_recs++] = (record){d, (size_t)len};
    return 0;
}

/* One GetRecords at the shard's iterator: up to `limit` records, appended
 * to k->recs when keep, else dropped (a skip). Advances iter/iter_at; sets
 * ended when the shard is closed and read to its end. *got = records. */
static int seek(kinesis_source *s, kshard *k, uint64_t offset, ember_err *err);

static int request_records(kinesis_source *s, kshard *k, uint64_t limit, json_t **out,
                           ember_err *err)
{
    return aws_call(&s->aws, "GetRecords",
                    json_pack("{ss,sI}", "ShardIterator", k->iter, "Limit",
                              (json_int_t)(limit < GET_LIMIT ? limit : GET_LIMIT)),
                    out, err);
}

static int get_records(kinesis_source *s, kshard *k, uint64_t limit, int keep, size_t *got,
                       ember_err *err)
{
    json_t *out = NULL, *rec;
    size_t i;
    int rc = request_records(s, k, limit, &out, err);
    if (rc == -ESTALE) {
        /* Iterators expire 5 minutes after they were made (an idle job):
         * a new one at the same place, found the way a restart finds it. */
        em_log(EMBER_LOG_INFO, "%s shard %s: iterator expired, opening a new one", s->what, k->id);
        *err = (ember_err){0};
        uint64_t at = k->iter_at;
        set_iter(k, NULL, at);
        rc = seek(s, k, at, err);
        if (!rc)
            rc = request_records(s, k, limit, &out, err);
    }
    if (rc)
        return rc;
    json_t *recs = json_object_get(out, "Records");
    const char *last_seq = NULL;
    *got = 0;
    json_array_foreach(recs, i, rec)
    {
        const char *data = json_string_value(json_object_get(rec, "Data"));
        last_seq = json_string_value(json_object_get(rec, "SequenceNumber"));
        if (!rc && keep)
            rc = recs_push(k, data ? data : "", err);
        (*got)++;
    }
    const char *next = json_string_value(json_object_get(out, "NextShardIterator"));
    json_int_t behind = json_integer_value(json_object_get(out, "MillisBehindLatest"));
    if (!rc) {
        set_iter(k, next, k->iter_at + *got);
        if (last_seq)
            anchor_add(k, k->iter_at, last_seq);
        k->ended = !next;
        if (!*got && !behind && next)
            rc = 1; /* at the tip for now */
    }
    json_decref(out);
    return rc;
}

static int open_iter(kinesis_source *s, kshard *k, const anchor *a, ember_err *err)
{
    json_t *out = NULL;
    json_t *req = a ? json_pack("{ss,ss,ss,ss}", "StreamName", s->stream, "ShardId", k->id,
                                "ShardIteratorType", "AFTER_SEQUENCE_NUMBER",
                                "StartingSequenceNumber", a->seq)
                    : json_pack("{ss,ss,ss}", "StreamName", s->stream, "ShardId", k->id,
                                "ShardIteratorType", "TRIM_HORIZON");
    int rc = aws_call(&s->aws, "GetShardIterator", req, &out, err);
    if (rc)
        return rc;
    set_iter(k, json_string_value(json_object_get(out, "ShardIterator")), a ? a->offset : 0);
    json_decref(out);
    return k->iter ? 0 : ember_err_set(err, -EIO, "%s shard %s: no iterator", s->what, k->id);
}

/* Positions the shard's iterator at `offset`: from the nearest anchor, else
 * from the trim horizon, skipping records. 1: the shard holds fewer records. */
static int seek(kinesis_source *s, kshard *k, uint64_t offset, ember_err *err)
{
    if (k->iter && k->iter_at == offset)
        return 0;
    k->ended = 0;
    int rc = open_iter(s, k, anchor_find(k, offset), err);
    while (!rc && k->iter_at < offset) {
        size_t got;
        rc = get_records(s, k, offset - k->iter_at, 0, &got, err);
        if (!rc && k->ended && k->iter_at < offset)
            rc = 1;
    }
    return rc;
}

/* Records the job's position counts but the shard no longer holds. */
static int lost(kinesis_source *s, kshard *k, uint64_t offset, int skip, ember_err *err)
{
    char what[400];
    snprintf(what, sizeof what,
             "%s shard %s: the job is at record %" PRIu64 " but the shard "
             "holds only %" PRIu64 " (records expired past the trim horizon, or the stream was "
             "recreated)",
             s->what, k->id, offset, k->iter_at);
    if (!skip)
        return ember_err_set(err, -EMBER_EDATALOSS, "%s", what);
    em_log(EMBER_LOG_WARN,
           "%s; reading the shard again from its trim horizon as offset 0 "
           "(on-data-loss=skip)",
           what);
    /* As Kafka's source does with a recreated topic: the records the shard
     * holds are read, counted from the trim horizon again, so a restart
     * before the next commit renumbers them the same way. */
    k->next = 0;
    k->n_anchors = k->anchor_at = 0;
    set_iter(k, NULL, 0);
    return seek(s, k, 0, err);
}

/* ------------------------------------------------------------ plan */

/* The shard's next records, up to `limit`, into k->recs. */
static int fetch(kinesis_source *s, kshard *k, uint64_t limit, ember_err *err)
{
    recs_clear(k);
    int rc = seek(s, k, k->next, err);
    if (rc == 1)
        rc = lost(s, k, k->next, s->on_data_loss_skip, err);
    k->recs_from = k->next;
    size_t got = 0;
    if (!rc && k->iter)
        rc = get_records(s, k, limit, 1, &got, err);
    if (rc == 1)
        rc = 0;
    if (!rc && !got)
        k->quiet_until_ms = em_mono_ms() + EMPTY_GAP_MS;
    if (!rc && k->ended)
        em_log(EMBER_LOG_INFO, "%s: shard %s read to its end (%" PRIu64 " records)", s->what, k->id,
               k->next + k->n_recs);
    return rc;
}

static int plan_shards(kinesis_source *s, uint64_t budget, ember_err *err)
{
    size_t open = 0, n = 0;
    /* Decided before any fetch: a parent that reaches its end in this plan
     * lets its children in from the next batch on, never in the same one. */
    for (size_t i = 0; i < s->n_shards; i++)
        open += s->shards[i]->in_plan = readable(s, s->shards[i]);
    src_range *r = realloc(s->ranges, (s->n_shards + 1) * sizeof *r);
    if (!r)
        return ember_err_set(err, -ENOMEM, "out of memory");
    s->ranges = r;
    uint64_t share = open ? budget / open : 0;
    share = share ? share : 1;
    int rc = 0;
    for (size_t i = 0; !rc && i < s->n_shards; i++) {
        kshard *k = s->shards[i];
        if (!k->in_plan)
            continue;
        if (em_mono_ms() < k->quiet_until_ms) {
            r[n++] = (src_range){k->part, k->next, k->next}; /* found empty just now */
            continue;
        }
        if (!(rc = fetch(s, k, share, err))) {
            s->deferred |= k->ended;
            r[n++] = (src_range){k->part, k->next, k->next + k->n_recs};
            k->next += k->n_recs;
        }
    }
    s->n_ranges = n;
    return rc;
}

static int kinesis_plan(source *src, uint64_t budget, src_range **ranges, size_t *n,
                        src_pulled *pulled, ember_err *err)
{
    kinesis_source *s = src->impl;
    int rc = 0;
    *ranges = s->ranges;
    *n = 0;
    for (size_t i = 0; i < s->n_shards; i++)
        recs_clear(s->shards[i]);
    if (em_mono_ms() >= s->next_list_ms)
        rc = list_shards(s, err);
    s->deferred = 0;
    if (!rc)
        rc = plan_shards(s, budget, err);
    s->reachable = !rc;
    if (rc)
        return rc;
    *ranges = s->ranges;
    *n = s->n_ranges;
    return 0;
}

/* ------------------------------------------------------------ read */

static int deliver(const kshard *k, size_t from, size_t to, src_line_fn fn, void *ctx)
{
    int rc = 0;
    for (size_t i = from; !rc && i < to; i++)
        rc = fn(k->recs[i].data, k->recs[i].len, ctx);
    return rc;
}

static int gone(kinesis_source *s, const kshard *k, const src_range *r, uint64_t held,
                ember_err *err)
{
    return ember_err_set(err, -EMBER_EDATALOSS,
                         "%s shard %s: planned records [%" PRIu64 ", %" PRIu64
                         ") are gone (the shard holds %" PRIu64 ")",
                         s->what, k->id, r->from, r->to, held);
}

/* A range this process did not just plan: read it again from Kinesis. */
static int reread(kinesis_source *s, kshard *k, const src_range *r, src_line_fn fn, void *ctx,
                  ember_err *err)
{
    recs_clear(k);
    k->recs_from = r->from;
    int rc = seek(s, k, r->from, err);
    while (!rc && k->recs_from + k->n_recs < r->to) {
        size_t got;
        rc = get_records(s, k, r->to - k->recs_from - k->n_recs, 1, &got, err);
        if (rc == 1 || (!rc && k->ended && k->recs_from + k->n_recs < r->to))
            rc = 1;
    }
    if (rc == 1)
        return gone(s, k, r, k->recs_from + k->n_recs, err);
    rc = rc ? rc : deliver(k, 0, k->n_recs, fn, ctx);
    recs_clear(k);
    return rc;
}

static int kinesis_read(source *src, const src_range *r, src_line_fn fn, void *ctx, ember_err *err)
{
    kinesis_source *s = src->impl;
    kshard *k = shard_get(s, r->partition, err);
    if (!k)
        return err->code;
    int rc;
    if (r->from >= k->recs_from && r->to <= k->recs_from + k->n_recs)
        rc = deliver(k, (size_t)(r->from - k->recs_from), (size_t)(r->to - k->recs_from), fn, ctx);
    else
        rc = reread(s, k, r, fn, ctx, err);
    if (rc > 0)
        return rc;
    return rc < 0 && !err->code ? ember_err_set(err, rc, "%s: %s", s->what, strerror(-rc)) : rc;
}

/* ------------------------------------------------------------ recovery */

static int kinesis_restore(source *src, const src_range *ends, size_t n, ember_err *err)
{
    kinesis_source *s = src->impl;
    for (size_t i = 0; i < n; i++) {
        kshard *k = shard_get(s, ends[i].partition, err);
        if (!k)
            return err->code;
        k->next = ends[i].to;
        recs_clear(k);
        k->recs_from = k->next;
    }
    return 0;
}

/* A replayed range's records must still be in its shard (found by reading
 * up to its end). */
static int kinesis_available(source *src, const src_range *r, ember_err *err)
{
    kinesis_source *s = src->impl;
    kshard *k = shard_get(s, r->partition, err);
    /* Through `from` first: that leaves an anchor there for the read. */
    int rc = k ? seek(s, k, r->from, err) : err->code;
    if (!rc)
        rc = seek(s, k, r->to, err);
    if (rc == 1)
        rc = gone(s, k, r, k->iter_at, err);
    return rc == -ENOENT ? ember_err_set(err, -EMBER_EDATALOSS,
                                         "%s: shard %s is no longer in "
                                         "the stream (planned records [%" PRIu64 ", %" PRIu64
                                         ") expired with it)",
                                         s->what, k->id, r->from, r->to)
                         : rc;
}

static int kinesis_exhausted(source *src)
{
    kinesis_source *s = src->impl;
    return s->reachable && !s->deferred;
}

static int kinesis_locate(source *src, const src_range *r, uint64_t index, char *buf, size_t cap)
{
    kinesis_source *s = src->impl;
    snprintf(buf, cap, "stream %s shard shardId-%012" PRIu32 " record %" PRIu64, s->stream,
             r->partition, r->from + index);
    return 0;
}

/* ------------------------------------------------------------ open, close */

static int kinesis_open(source *src, const opt_set *opts, const source_env *env, ember_err *err)
{
    kinesis_source *s = calloc(1, sizeof *s);
    if (!s)
        return ember_err_set(err, -ENOMEM, "out of memory");
    src->impl = s;
    s->stream = strdup(opts_str(opts, "stream"));
    if (!s->stream)
        return ember_err_set(err, -ENOMEM, "out of memory");
    snprintf(s->what, sizeof s->what, "source kinesis stream %s", s->stream);
    s->on_data_loss_skip = strcmp(opts_str(opts, "on-data-loss"), "skip") == 0;
    int rc = aws_open(&s->aws, "kinesis", "Kinesis_20131202", opts_str(opts, "endpoint"),
                      opts_str(opts, "region"), s->what, env->stop, opts_int(opts, "timeout"), err);
    if (!rc)
        rc = list_shards(s, err);
    if (rc == -ENOENT)
        rc = ember_err_set(err, -ENOENT,
                           "%s: stream '%s' does not exist at %s (create it "
                           "first, e.g. `aws kinesis create-stream --stream-name %s "
                           "--shard-count 2`)",
                           s->what, s->stream, s->aws.url, s->stream);
    return rc;
}

static void kinesis_close(source *src)
{
    kinesis_source *s = src->impl;
    if (!s)
        return;
    for (size_t i = 0; i < s->n_shards; i++) {
        recs_clear(s->shards[i]);
        free(s->shards[i]->recs);
        free(s->shards[i]->iter);
        free(s->shards[i]);
    }
    aws_close(&s->aws);
    free(s->shards);
    free(s->ranges);
    free(s->stream);
    free(s);
    src->impl = NULL;
}

const source_ops source_kinesis_ops = {
    .kind = "kinesis",
    .doc = "an Amazon Kinesis stream (shards as partitions, record counts as offsets); "
           "replayable",
    .options = kinesis_options,
    .replayable = 1,
    .open = kinesis_open,
    .restore = kinesis_restore,
    .plan = kinesis_plan,
    .read = kinesis_read,
    .available = kinesis_available,
    .exhausted = kinesis_exhausted,
    .locate = kinesis_locate,
    .close = kinesis_close,
};
