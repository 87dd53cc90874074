/*
 * kafka_markers: the kafka sink's batch markers (see kafka.c's header for the
 * protocol): reading back the newest committed marker at start, judging
 * markers of other checkpoints (refuse, adopt legacy ones, or start our own
 * sequence with --reset-output), counting records an interrupted attempt
 * left, and finding a rival copy of the job before each commit.
 */
#include "core/sink/kafka_sink.h"

/* ------------------------------------------------------------ recovery */

static int key_is(const rd_kafka_message_t *m, const char *key)
{
    return m->key && m->key_len == strlen(key) && memcmp(m->key, key, m->key_len) == 0;
}

/* One marker of this job, parsed. */
typedef struct marker {
    uint64_t batch;
    char id[CKPT_ID_LEN + 1];   /* "" on a marker written before checkpoint ids */
    char over[CKPT_ID_LEN + 1]; /* the sequence it took over, or "" */
    int start;                  /* opens its id's sequence */
    int32_t partition;
    int64_t offset;
    char ends[2048];
} marker;

/* Marker value: "batch=B [ckpt=ID] [start] [over=ID] ends=P:O,P:O,..." (text,
 * so kcat shows it; markers before checkpoint ids have no ckpt=). 1 when m
 * is a marker of this job. */
static int parse_marker(const kafka_sink *s, const rd_kafka_message_t *m, marker *out)
{
    char v[2200];
    unsigned long long b = 0;
    if (!key_is(m, s->job) || !m->payload || m->len >= sizeof v)
        return 0;
    memcpy(v, m->payload, m->len);
    v[m->len] = '\0';
    char *ends = strstr(v, " ends=");
    if (ends)
        *ends = '\0';
    if (sscanf(v, "batch=%llu", &b) != 1)
        return 0;
    *out = (marker){.batch = b, .partition = m->partition, .offset = m->offset};
    snprintf(out->ends, sizeof out->ends, "%s", ends ? ends + 6 : "");
    for (char *tok = strtok(v, " "); tok; tok = strtok(NULL, " ")) {
        if (!strncmp(tok, "ckpt=", 5))
            snprintf(out->id, sizeof out->id, "%s", tok + 5);
        else if (!strncmp(tok, "over=", 5))
            snprintf(out->over, sizeof out->over, "%s", tok + 5);
        else if (!strcmp(tok, "start"))
            out->start = 1;
    }
    return 1;
}

/* A marker of another checkpoint that our sequence does not account for:
 * anything but the continuation markers of the sequence we took over (a
 * copy that had not stopped yet) is another writer. */
static int is_rival(const kafka_sink *s, const char *over, const marker *mk)
{
    if (!strcmp(mk->id, s->id))
        return 0;
    return !(over[0] && !strcmp(mk->id, over) && !mk->start);
}

typedef struct marker_scan {
    const kafka_sink *s;
    int own_found;
    marker own;               /* our newest marker (max batch) */
    marker part_own;          /* ... in the partition being scanned */
    int part_own_found;
    marker others[MAX_RIVALS]; /* newest marker of each other (id, start) after part_own */
    size_t n_others;
    int more_others;
} marker_scan;

static void note_other(marker_scan *ms, const marker *mk)
{
    for (size_t i = 0; i < ms->n_others; i++)
        if (!strcmp(ms->others[i].id, mk->id) && ms->others[i].start == mk->start &&
            ms->others[i].partition == mk->partition) {
            if (mk->offset > ms->others[i].offset)
                ms->others[i] = *mk;
            return;
        }
    if (ms->n_others < MAX_RIVALS)
        ms->others[ms->n_others++] = *mk;
    else
        ms->more_others = 1;
}

static int on_marker(const rd_kafka_message_t *m, void *ctx)
{
    marker_scan *ms = ctx;
    marker mk;
    if (!parse_marker(ms->s, m, &mk))
        return 0;
    if (strcmp(mk.id, ms->s->id)) {
        note_other(ms, &mk);
        return 0;
    }
    if (!ms->part_own_found || mk.offset > ms->part_own.offset) {
        ms->part_own = mk;
        ms->part_own_found = 1;
    }
    return 0;
}

/* The markers of this job in one partition of the control topic, from its
 * tail back until our newest one turns up (or the log starts): ours, and
 * the others' after it. *hi = the partition's end. */
static int scan_marker_partition(kafka_sink *s, int32_t p, marker_scan *ms, int64_t *hi,
                                 ember_err *err)
{
    int64_t lo = -1, window = 256;
    size_t others_before = ms->n_others;
    *hi = -1;
    ms->part_own_found = 0;
    int rc = kafka_offsets(s->reader, &s->ep, s->markers, &p, 1, KAFKA_EARLIEST, &lo,
                           REQUEST_TIMEOUT_MS, err);
    if (!rc)
        rc = kafka_offsets(s->reader, &s->ep, s->markers, &p, 1, KAFKA_LATEST, hi,
                           REQUEST_TIMEOUT_MS, err);
    for (int64_t to = *hi; !rc && lo >= 0 && to > lo && !ms->part_own_found; window *= 8) {
        int64_t from = to - window > lo ? to - window : lo;
        rc = kafka_scan(s->reader, &s->ep, s->markers, p, from, to, on_marker, ms, err);
        to = from;
    }
    if (rc || !ms->part_own_found)
        return rc;
    /* Others of this partition before our newest marker do not count. */
    size_t keep = others_before;
    for (size_t i = others_before; i < ms->n_others; i++)
        if (ms->others[i].offset > ms->part_own.offset)
            ms->others[keep++] = ms->others[i];
    ms->n_others = keep;
    if (!ms->own_found || ms->part_own.batch >= ms->own.batch)
        ms->own = ms->part_own;
    ms->own_found = 1;
    return 0;
}

static void parse_ends(kafka_sink *s, const char *text)
{
    for (const char *p = text; *p;) {
        long long part, off;
        int used = 0;
        if (sscanf(p, "%lld:%lld%n", &part, &off, &used) != 2)
            break;
        if (part >= 0 && part < s->n_parts)
            s->ends[part] = off;
        p += used + (p[used] == ',');
    }
}


static int mpart_index(const kafka_sink *s, int32_t p)
{
    for (size_t i = 0; i < s->n_mparts; i++)
        if (s->mparts[i] == p)
            return (int)i;
    return -1;
}

void ks_short_id(const char *id, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.8s", id[0] ? id : "none");
}

/* --reset-output: a `start` marker at the output topic's current end, in a
 * transaction of its own, opens this checkpoint's marker sequence; later
 * batches are counted (ks_count_present) from there. */
static int reset_sequence(kafka_sink *s, uint64_t batch, const char *over, ember_err *err)
{
    int32_t *ids = malloc((size_t)s->n_parts * sizeof *ids);
    char b[24];
    int rc = ids ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    for (int32_t p = 0; p < s->n_parts && ids; p++)
        ids[p] = p;
    if (!rc)
        rc = kafka_offsets(s->reader, &s->ep, s->topic, ids, (size_t)s->n_parts, KAFKA_LATEST,
                           s->dr_ends, REQUEST_TIMEOUT_MS, err);
    free(ids);
    if (rc)
        return rc;
    snprintf(b, sizeof b, "%" PRIu64, batch);
    snprintf(s->over, sizeof s->over, "%s", over);
    s->starts = 1;
    rd_kafka_error_t *e = rd_kafka_begin_transaction(s->rk);
    if (e)
        return ks_txn_error(s, "begin_transaction", e, err) < 0 ? err->code
               : ember_err_set(err, -ETIMEDOUT, "%s", err->msg);
    s->in_txn = 1;
    s->dr_failed = 0;
    s->marker_part = -1;
    rc = ks_produce_marker(s, b, err);
    if (!rc)
        rc = ks_await_deliveries(s, b, err);
    if (!rc && s->dr_failed)
        rc = (snprintf(err->msg, sizeof err->msg, "delivery failed: %s", s->dr_error), 1);
    if (!rc)
        rc = ks_commit_txn(s, err);
    if (rc > 0) { /* abortable: recover() tries again (and then finds this marker or not) */
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        if ((rc = ks_abort_txn(s, err)))
            return rc;
        return ember_err_set(err, -ETIMEDOUT, "%s: --reset-output: %s", s->what, why);
    }
    if (rc)
        return rc;
    ks_note_own_marker(s);
    s->delivered = batch;
    memcpy(s->ends, s->dr_ends, (size_t)s->n_parts * sizeof *s->ends);
    char ours[16];
    ks_short_id(s->id, ours, sizeof ours);
    em_log(EMBER_LOG_INFO, "recovery: sink kafka: --reset-output: a new marker sequence of job "
           "%s owned by checkpoint %s starts in %s at batch %" PRIu64 " (the older records "
           "stay in topic %s)", s->job, ours, s->markers, batch + 1, s->topic);
    return 0;
}

/* Refuses output of another checkpoint, or (--reset-output) starts ours:
 * 1 when it did (delivered and ends are set). */
static int judge_markers(kafka_sink *s, marker_scan *ms, uint64_t committed, ember_err *err)
{
    const char *over = ms->own_found ? ms->own.over : "";
    const marker *rival = NULL;
    int all_legacy = ms->n_others > 0 && !ms->more_others;
    for (size_t i = 0; i < ms->n_others; i++) {
        const marker *mk = &ms->others[i];
        all_legacy &= mk->id[0] == '\0';
        if (is_rival(s, over, mk) && (!rival || mk->batch > rival->batch))
            rival = mk;
    }
    if (!ms->own_found && all_legacy && committed) {
        /* Written by this job before checkpoint ids: take them as ours. */
        const marker *newest = &ms->others[0];
        for (size_t i = 1; i < ms->n_others; i++)
            if (ms->others[i].batch > newest->batch)
                newest = &ms->others[i];
        ms->own = *newest;
        ms->own_found = 1;
        s->adopt_legacy = 1;
        em_log(EMBER_LOG_INFO, "recovery: sink kafka: the markers of job %s in %s name no "
               "checkpoint (written before checkpoint ids) and this checkpoint has committed "
               "batch %" PRIu64 ": they are taken as its own", s->job, s->markers, committed);
        return 0;
    }
    if (!rival)
        return 0;
    char ours[16], theirs[16];
    ks_short_id(s->id, ours, sizeof ours);
    ks_short_id(rival->id, theirs, sizeof theirs);
    if (!s->reset)
        return ember_err_set(err, -EMBER_EINCOMPAT, "%s: the newest marker of job %s in %s is "
                             "another checkpoint's (id %s, batch %" PRIu64 "%s); this checkpoint "
                             "(%s, id %s) would take that checkpoint's batches for its own and "
                             "not write them: if that checkpoint is gone (its --dir deleted or "
                             "changed), run with --reset-output to start this checkpoint's own "
                             "marker sequence; if it still runs, stop one of the two",
                             s->what, s->job, s->markers, theirs, rival->batch,
                             rival->id[0] ? "" : ", written before checkpoint ids", s->ckpt_dir,
                             ours);
    uint64_t from = ms->own_found && ms->own.batch > committed ? ms->own.batch : committed;
    int rc = reset_sequence(s, from, rival->id, err);
    return rc ? rc : 1;
}

int ks_read_newest_marker(kafka_sink *s, uint64_t committed, ember_err *err)
{
    marker_scan ms = {.s = s};
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = kafka_partitions(s->reader, &s->ep, s->markers, REQUEST_TIMEOUT_MS, &ids, &n, err);
    if (rc == -ENOENT) { /* no marker was ever written */
        s->starts = 1;
        return (*err = (ember_err){0}), 0;
    }
    int64_t *hi = rc ? NULL : calloc(n + 1, sizeof *hi), *own = rc ? NULL : malloc((n + 1) * 8);
    if (!rc && (!hi || !own))
        rc = ember_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
        own[i] = -1;
        rc = scan_marker_partition(s, ids[i], &ms, &hi[i], err);
        if (!rc && ms.part_own_found)
            own[i] = ms.part_own.offset;
    }
    if (!rc) {
        free(s->mparts);
        free(s->mscanned);
        free(s->mown);
        s->mparts = ids;
        s->mscanned = hi;
        s->mown = own;
        s->n_mparts = n;
        ids = NULL;
        hi = own = NULL;
        rc = judge_markers(s, &ms, committed, err);
    }
    free(ids);
    free(hi);
    free(own);
    if (rc)
        return rc < 0 ? rc : 0;
    s->delivered = ms.own_found ? ms.own.batch : 0;
    s->starts = !ms.own_found;
    snprintf(s->over, sizeof s->over, "%s", ms.own_found ? ms.own.over : "");
    if (ms.own_found)
        parse_ends(s, ms.own.ends);
    return 0;
}

typedef struct present_scan {
    kafka_sink *s;
    char batch[24];
    uint64_t count;
} present_scan;

static int on_present(const rd_kafka_message_t *m, void *ctx)
{
    present_scan *ps = ctx;
    char job[256], batch[24], ckpt[CKPT_ID_LEN + 8];
    kafka_header(m, "ember.job", job, sizeof job);
    if (strcmp(job, ps->s->job) != 0)
        return 0;
    kafka_header(m, "ember.checkpoint", ckpt, sizeof ckpt);
    if (strcmp(ckpt, ps->s->id) != 0 && !(ps->s->adopt_legacy && !ckpt[0]))
        return 0; /* another checkpoint's row (before our marker sequence) */
    kafka_header(m, "ember.batch", batch, sizeof batch);
    ps->count += strcmp(batch, ps->batch) == 0;
    return 0;
}

/* Rows of `batch` already in the output topic, per partition, counted after
 * the newest marker's end offsets (read_committed). */
int ks_count_present(kafka_sink *s, uint64_t batch, ember_err *err)
{
    int32_t *ids = malloc((size_t)s->n_parts * sizeof *ids);
    int64_t *lo = malloc((size_t)s->n_parts * sizeof *lo), *hi = malloc((size_t)s->n_parts * 8);
    int rc = ids && lo && hi ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    for (int32_t p = 0; p < s->n_parts && ids; p++)
        ids[p] = p;
    if (!rc)
        rc = kafka_offsets(s->reader, &s->ep, s->topic, ids, (size_t)s->n_parts, KAFKA_EARLIEST,
                           lo, REQUEST_TIMEOUT_MS, err);
    if (!rc)
        rc = kafka_offsets(s->reader, &s->ep, s->topic, ids, (size_t)s->n_parts, KAFKA_LATEST,
                           hi, REQUEST_TIMEOUT_MS, err);
    for (int32_t p = 0; !rc && p < s->n_parts; p++) {
        present_scan ps = {.s = s};
        snprintf(ps.batch, sizeof ps.batch, "%" PRIu64, batch);
        int64_t from = s->ends[p] > lo[p] ? s->ends[p] : lo[p];
        rc = kafka_scan(s->reader, &s->ep, s->topic, p, from, hi[p], on_present, &ps, err);
        s->present[p] = ps.count;
    }
    s->present_batch = batch;
    free(ids);
    free(lo);
    free(hi);
    return rc;
}

uint64_t ks_present_total(const kafka_sink *s)
{
    uint64_t n = 0;
    for (int32_t p = 0; p < s->n_parts; p++)
        n += s->present[p];
    return n;
}


typedef struct rival_scan {
    kafka_sink *s;
    int found;
    marker first;
} rival_scan;

static int on_rival(const rd_kafka_message_t *m, void *ctx)
{
    rival_scan *rs = ctx;
    marker mk;
    if (!rs->found && parse_marker(rs->s, m, &mk) && is_rival(rs->s, rs->s->over, &mk)) {
        rs->first = mk;
        rs->found = 1;
    }
    return 0;
}

/* The second-writer check (see the top): the marker partition from where it
 * was last checked up to our new marker, within what a read_committed
 * reader can see now. Our marker is acknowledged, its transaction open.
 * -EIO (after aborting) when another checkpoint's marker is there. */
/* The index of marker partition p, adding it when the marker topic gained
 * it after the start (then all of it is new: scanned from its log start). */
static int marker_part_slot(kafka_sink *s, int32_t p, ember_err *err)
{
    int i = mpart_index(s, p);
    if (i >= 0)
        return i;
    int32_t *np = realloc(s->mparts, (s->n_mparts + 1) * sizeof *np);
    int64_t *ns = np ? realloc(s->mscanned, (s->n_mparts + 1) * 8) : NULL;
    int64_t *no = ns ? realloc(s->mown, (s->n_mparts + 1) * 8) : NULL;
    if (np)
        s->mparts = np;
    if (ns)
        s->mscanned = ns;
    if (!no)
        return ember_err_set(err, -ENOMEM, "out of memory");
    s->mown = no;
    i = (int)s->n_mparts++;
    s->mparts[i] = p;
    s->mscanned[i] = -1;
    s->mown[i] = -1;
    return i;
}

/* Stops the copy that found a rival: one line, the transaction aborted. */
static int rival_found(kafka_sink *s, const rival_scan *rs, uint64_t batch, ember_err *err)
{
    char ours[16], theirs[16], keep[sizeof err->msg];
    ks_short_id(s->id, ours, sizeof ours);
    ks_short_id(rs->first.id, theirs, sizeof theirs);
    ember_err_set(err, -EIO, "%s: another copy of job %s writes this topic: checkpoint %s wrote "
                  "%s (batch %" PRIu64 ") to %s after this copy (checkpoint %s, %s) started; the "
                  "broker did not fence it (Kafka fences a second producer with the same "
                  "transactional.id; the embedded broker and `ember broker` do not), so this "
                  "copy stops before committing batch %" PRIu64 ": run one copy of a job",
                  s->what, s->job, theirs, rs->first.start ? "the first marker of its own "
                  "sequence" : "a marker", rs->first.batch, s->markers, ours, s->ckpt_dir, batch);
    snprintf(keep, sizeof keep, "%s", err->msg);
    int rc = ks_abort_txn(s, err);
    return rc ? rc : ember_err_set(err, -EIO, "%s", keep);
}

int ks_check_rivals(kafka_sink *s, uint64_t batch, ember_err *err)
{
    int32_t p = s->marker_part;
    int64_t m = s->marker_off, hi = -1;
    if (p < 0 || m < 0)
        return 0;
    int i = marker_part_slot(s, p, err);
    if (i < 0)
        return i;
    int rc = 0;
    if (s->mscanned[i] < 0)
        rc = kafka_offsets(s->reader, &s->ep, s->markers, &p, 1, KAFKA_EARLIEST,
                           &s->mscanned[i], REQUEST_TIMEOUT_MS, err);
    if (rc)
        return rc == -ETIMEDOUT ? 1 : rc;
    int64_t from = s->mscanned[i], own = s->mown[i];
    /* Only our previous marker in between: nothing to read. */
    if (from >= m || (from == own && m == own + 1)) {
        s->mscanned[i] = m;
        return 0;
    }
    rc = kafka_offsets(s->reader, &s->ep, s->markers, &p, 1, KAFKA_LATEST, &hi,
                       REQUEST_TIMEOUT_MS, err);
    if (rc)
        return rc == -ETIMEDOUT ? 1 : rc;
    /* A broker that isolates transactions ends a read_committed read before
     * our open one (hi <= m): the one record between our previous marker and
     * this one is then its commit marker. */
    int64_t to = hi < m ? hi : m;
    rival_scan rs = {.s = s};
    if (!(hi == m && from == own && m == own + 2) && from < to)
        rc = kafka_scan(s->reader, &s->ep, s->markers, p, from, to, on_rival, &rs, err);
    if (rc)
        return rc;
    s->mscanned[i] = to > from ? to : from;
    return rs.found ? rival_found(s, &rs, batch, err) : 0;
}

/* After a commit: the marker just committed is our newest; later markers
 * of this sequence are continuations. */
void ks_note_own_marker(kafka_sink *s)
{
    int i = s->marker_part >= 0 ? mpart_index(s, s->marker_part) : -1;
    if (i >= 0)
        s->mown[i] = s->marker_off;
    s->starts = 0;
}
