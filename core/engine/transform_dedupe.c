/*
 * transform_dedupe: the dedupe step of a batch's transform. Before the main
 * pass, every worker collects the id of each record that reaches the step
 * (phase 1, in parallel); the driver hands all ids in input order to the
 * dedupe state (state/dedupe.c), which decides which records pass. In the
 * main pass the step drops the others and, with keep=last, first sends the
 * row a passing record replaces through the rest of the steps with sign -1,
 * so a downstream aggregate (in this node or the next) takes it back before
 * the new row is added, as Flink's retract streams do.
 */
#include "core/base/array.h"
#include "core/engine/transform_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The id of a record into buf: its fields' key bytes joined by KEY_SEP
 * (one field: the bytes of earlier releases), and its length; -1 when a
 * field is NULL (no id: never a duplicate) or the id is longer than KEY_MAX. */
static int record_id(const job_step *st, const ember_record *rec, char *buf)
{
    int used = 0;
    for (int i = 0; i < st->n_dedupe_fields && used >= 0; i++) {
        const ember_value *v = &rec->values[st->dedupe_fields[i]];
        if (v->type == EMBER_NULL || (i && used + 1 > KEY_MAX))
            return -1;
        if (i)
            buf[used++] = KEY_SEP;
        used = tf_key_append_value(buf, (size_t)used, v);
    }
    return used;
}

/* keep=last: the record at the step, kept for the batch (its strings live
 * in the batch's input or the worker's arena already). */
static int keep_row(worker *w, const ember_record *rec, ember_record *out)
{
    ember_value *copy = arena_alloc(&w->scratch, (rec->n ? rec->n : 1) * sizeof *copy);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, rec->values, rec->n * sizeof *copy);
    *out = (ember_record){rec->n, copy};
    return 0;
}

/* Phase 1: the id of every record that reaches the dedupe step. Bad
 * records are left for the main pass to report. */
static int collect_id(worker *w, size_t index)
{
    const job_step *st = &w->t->job->steps[w->t->job->dedupe_step];
    ember_record rec, row = {0, NULL};
    char buf[KEY_MAX + 1];
    w->line = index;
    if (tf_parse_record(w, index, &rec) || tf_run_steps(w, &rec, 0, w->t->job->dedupe_step)) {
        w->err = (ember_err){0}; /* the main pass reports a bad record */
        return 0;
    }
    int len = record_id(st, &rec, buf);
    if (len < 0)
        return 0;
    char *copy = arena_strndup(&w->scratch, buf, (size_t)len);
    if (!copy || (st->dedupe_keep_last && keep_row(w, &rec, &row)) ||
        em_array_reserve(&w->ids.v, &w->ids.cap, w->ids.n + 1, sizeof *w->ids.v))
        return ember_err_set(&w->err, -ENOMEM, "out of memory");
    w->ids.v[w->ids.n++] =
        (dedupe_id){index, preagg_hash(copy, (uint32_t)len), copy, (uint32_t)len, row, {0, NULL}};
    return 0;
}

static void *collect_ids_main(void *arg)
{
    worker *w = arg;
    w->tapping = 0;
    w->ids.n = 0;
    for (size_t i = w->first; i < w->last && !w->rc; i++)
        w->rc = collect_id(w, i);
    return NULL;
}

/* Every worker's ids in input order, decided by the state; drop_line and
 * (keep=last) prev_line per line of the batch. */
static int gather_ids(transform *t, size_t n_in, size_t *n, ember_err *err)
{
    size_t k = 0;
    *n = 0;
    for (int i = 0; i < t->n_workers; i++) {
        if (t->w[i].rc) {
            *err = t->w[i].err;
            return t->w[i].rc;
        }
        *n += t->w[i].ids.n;
    }
    if (em_array_reserve(&t->drop_line, &t->drop_cap, n_in, 1) ||
        em_array_reserve(&t->prev_line, &t->prev_cap, n_in + 1, sizeof *t->prev_line) ||
        em_array_reserve(&t->ids, &t->ids_cap, *n, sizeof *t->ids))
        return ember_err_set(err, -ENOMEM, "out of memory");
    if (n_in) { /* a node may get no rows from its inputs */
        memset(t->drop_line, 0, n_in);
        memset(t->prev_line, 0, n_in * sizeof *t->prev_line);
    }
    for (int i = 0; i < t->n_workers; i++) {
        if (t->w[i].ids.n)
            memcpy(t->ids + k, t->w[i].ids.v, t->w[i].ids.n * sizeof *t->ids);
        k += t->w[i].ids.n;
    }
    return 0;
}

int tf_decide_duplicates(transform *t, size_t n_in, ember_err *err)
{
    size_t n;
    tf_run_parallel(t, collect_ids_main);
    int rc = gather_ids(t, n_in, &n, err);
    if (rc)
        return rc;
    dedupe_id *all = t->ids; /* the decider may keep pointers until the next batch */
    uint8_t *drop = calloc(n ? n : 1, 1);
    rc = drop ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    if (!rc && n)
        rc = t->dedupe(t->dedupe_ctx, all, n, drop, err);
    for (size_t i = 0; !rc && i < n; i++) {
        t->drop_line[all[i].line] = drop[i];
        if (!drop[i] && all[i].prev.n)
            t->prev_line[all[i].line] = &all[i].prev;
    }
    free(drop);
    return rc;
}

/* The row a keep=last record replaces, through the steps after the dedupe
 * with sign -1 (taps skip it, an aggregate takes it back). A row the later
 * steps drop was never handed on, so there is nothing to take back. */
static int retract_prev(worker *w, int step, const ember_record *prev)
{
    const ember_job *job = w->t->job;
    ember_record rec = {
        prev->n, arena_alloc(&w->scratch, ((size_t)job->max_width + 1) * sizeof *rec.values)};
    if (!rec.values)
        return ember_err_set(&w->err, -ENOMEM, "out of memory");
    memcpy(rec.values, prev->values, prev->n * sizeof *rec.values);
    int sign = w->sign;
    w->sign = -1;
    int rc = tf_run_steps(w, &rec, step + 1, job->n_steps);
    if (!rc)
        rc = tf_finish_record(w, &rec, w->line, -1);
    w->sign = sign;
    return rc > 0 ? 0 : rc;
}

int tf_dedupe_step(worker *w, int step)
{
    const transform *t = w->t;
    if (t->drop_line && t->drop_line[w->line]) {
        w->stats.duplicates++;
        return 1;
    }
    if (w->tapping && t->prev_line && t->prev_line[w->line])
        return retract_prev(w, step, t->prev_line[w->line]);
    return 0;
}
