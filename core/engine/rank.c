/*
 * rank: `top K by COL`, the K best output rows (after having) of each window
 * in a batch; and `top K by F [per G]` over records, the K best records of
 * each group kept in state/topn.c, whose changes become the node's rows.
 * Both orders are total and depend only on the rows (and, per group, on the
 * committed state), so a replay writes the same rows in the same order.
 */
#include "core/engine/engine.h"
#include "core/ops/text.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ranked {
    size_t row;
    int64_t start, end;
    double value;
} ranked;

/* Same window together (earlier first), then the larger value, then the
 * row order (which is key order). */
static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->value != y->value)
        return x->value > y->value ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

static double row_number(const ember_value *v)
{
    if (v->type == EMBER_INT)
        return (double)v->u.i;
    return v->type == EMBER_FLOAT ? v->u.f : -INFINITY; /* NULL ranks last */
}

/* The rows that pass `having`, with their window and ranking value. */
static size_t collect(node_rt *n, ranked *r)
{
    const ember_job *job = n->job;
    size_t m = 0;
    arena scratch; /* strings computed by `having` (functions), row by row */
    arena_init(&scratch, 4096);
    for (size_t i = 0; i < state_update_rows(n->upd); i++) {
        ember_record row;
        state_update_row(n->upd, i, &row);
        arena_reset(&scratch);
        if (job->having && !expr_is_true(job->having, &row, &scratch))
            continue;
        r[m++] = (ranked){i, row.values[job->n_keys].u.i, row.values[job->n_keys + 1].u.i,
                          row_number(&row.values[job->top_col])};
    }
    arena_free(&scratch);
    return m;
}

int rank_top(node_rt *n, ember_err *err)
{
    size_t rows = state_update_rows(n->upd);
    ranked *r = malloc((rows ? rows : 1) * sizeof *r);
    if (!r)
        return ember_err_set(err, -ENOMEM, "out of memory");
    size_t m = collect(n, r);
    if (m > 1)
        qsort(r, m, sizeof *r, cmp_ranked);
    int rc = 0, rank = 0;
    for (size_t i = 0; i < m && !rc; i++) {
        rank = i && r[i].start == r[i - 1].start && r[i].end == r[i - 1].end ? rank + 1 : 0;
        if (rank >= n->job->top_k)
            continue;
        ember_record row;
        state_update_row(n->upd, r[i].row, &row);
        if (node_emit(n, &row, 1, 1))
            rc = ember_err_set(err, -ENOMEM, "out of memory");
    }
    free(r);
    return rc;
}

/* ------------------------------------------------- top K per group of records */

/* The group key of a row: its `per` fields' key bytes joined by KEY_SEP (a
 * string's bytes, else its text; NULL is the empty text), into mem. */
static char *group_key(const ember_job *job, const ember_record *row, arena *mem, uint32_t *len)
{
    size_t cap = 1, used = 0;
    for (int i = 0; i < job->n_top_per; i++) {
        const ember_value *v = &row->values[job->top_per[i]];
        cap += 1 + (v->type == EMBER_STRING ? v->u.s.len : 64);
    }
    char *key = arena_alloc(mem, cap);
    for (int i = 0; key && i < job->n_top_per; i++) {
        const ember_value *v = &row->values[job->top_per[i]];
        if (i)
            key[used++] = KEY_SEP;
        if (v->type == EMBER_STRING) {
            memcpy(key + used, v->u.s.ptr, v->u.s.len);
            used += v->u.s.len;
        } else if (v->type != EMBER_NULL) {
            used += value_format(v, key + used, cap - used);
        }
    }
    *len = (uint32_t)used;
    return key;
}

typedef struct rank_emit {
    node_rt *n;
    ember_value *row; /* width + 1 values: the row, then its rank */
} rank_emit;

static int emit_ranked(void *ctx, const ember_record *row, int64_t rank, int sign)
{
    rank_emit *re = ctx;
    memcpy(re->row, row->values, row->n * sizeof *re->row);
    re->row[row->n] = (ember_value){.type = EMBER_INT, .u.i = rank};
    ember_record r = {row->n + 1, re->row};
    return node_emit(re->n, &r, sign, 1);
}

int rank_records(node_rt *n, const batch_ctx *b, ember_err *err)
{
    size_t rows = n->out.n;
    ember_record *in = malloc((rows ? rows : 1) * sizeof *in);
    topn_row *tr = malloc((rows ? rows : 1) * sizeof *tr);
    rank_emit re = {n, malloc(((size_t)n->job->current.n + 1) * sizeof *re.row)};
    arena keys;
    arena_init(&keys, 64 * 1024);
    int rc = in && tr && re.row ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    if (!rc)
        memcpy(in, n->out.rows, rows * sizeof *in); /* values stay in the workers' arenas */
    for (size_t i = 0; !rc && i < rows; i++) {
        tr[i].rec = &in[i];
        tr[i].key = group_key(n->job, &in[i], &keys, &tr[i].klen);
        if (!tr[i].key)
            rc = ember_err_set(err, -ENOMEM, "out of memory");
        else
            tr[i].hash = preagg_hash(tr[i].key, tr[i].klen);
    }
    rows_clear(&n->out);
    if (!rc)
        rc = topn_batch(n->tk, tr, rows, b->batch, b->wb, emit_ranked, &re, err);
    arena_free(&keys);
    free(re.row);
    free(tr);
    free(in);
    return rc;
}
