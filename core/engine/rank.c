/*
 * rank: `top K by COL`, the K best output rows (after having) of each window
 * in a batch. The order is total and depends only on the rows, so a replay
 * writes the same rows in the same order.
 */
#include "core/engine/engine.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

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
