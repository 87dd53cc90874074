/*
 * source_generator: `source generator kind=K seed=S rate=R count=N`.
 * Deterministic and replayable: record `seq` is gen_line(kind, seed, seq),
 * so a planned range [from, to) of partition 0 is regenerated exactly on
 * replay. `rate` paces how fast sequence numbers become available (wall
 * clock, only at plan time); `count` bounds the stream.
 */
#include "core/base/clock.h"
#include "core/ops/gen.h"
#include "core/source/source.h"

#include <errno.h>
#include <stdlib.h>

static const opt_def generator_options[] = {
    {"kind", OPT_ENUM, NULL, "sensors|ads|transactions|posts|clicks|trades|nexmark",
     "which records to generate"},
    {"seed", OPT_INT, "1", NULL, "same seed, same records"},
    {"rate", OPT_INT, "0", NULL, "records per second (0 = as fast as batches take them)",
     OPT_RESTARTABLE},
    {"count", OPT_INT, "0", NULL, "total records (0 = endless)"},
    {"event-rate", OPT_INT, "1000", NULL,
     "records per second of event time (1000: event time advances 1 ms per record)"},
    {0},
};

typedef struct gen_source {
    gen_kind kind;
    uint64_t seed, rate, count, events_per_s;
    uint64_t next;        /* first sequence number not yet planned */
    uint64_t anchor_seq;  /* rate pacing: seq available at anchor_ms */
    uint64_t anchor_ms;
    src_range range;
} gen_source;

static int gen_open(source *src, const opt_set *opts, const source_env *env, ember_err *err)
{
    gen_source *g = calloc(1, sizeof *g);
    if (!g)
        return ember_err_set(err, -ENOMEM, "out of memory");
    g->kind = (gen_kind)gen_kind_parse(opts_str(opts, "kind"));
    g->seed = (uint64_t)opts_int(opts, "seed");
    g->rate = (uint64_t)opts_int(opts, "rate");
    g->count = (uint64_t)opts_int(opts, "count");
    g->events_per_s = (uint64_t)opts_int(opts, "event-rate");
    if (g->events_per_s == 0) {
        free(g);
        return ember_err_set(err, -EMBER_EUSAGE, "source generator: event-rate must be positive");
    }
    g->anchor_ms = (uint64_t)em_mono_ms();
    src->impl = g;
    return 0;
}

static int gen_restore(source *src, const src_range *ends, size_t n, ember_err *err)
{
    gen_source *g = src->impl;
    for (size_t i = 0; i < n; i++)
        if (ends[i].partition == 0)
            g->next = ends[i].to;
    g->anchor_seq = g->next;
    g->anchor_ms = (uint64_t)em_mono_ms();
    return 0;
}

/* Highest sequence number the rate allows right now (exclusive). */
static uint64_t gen_available(const gen_source *g)
{
    uint64_t limit = g->count ? g->count : UINT64_MAX;
    if (g->rate) {
        uint64_t paced = g->anchor_seq + ((uint64_t)em_mono_ms() - g->anchor_ms) * g->rate / 1000;
        if (paced < limit)
            limit = paced;
    }
    return limit;
}

static int gen_plan(source *src, uint64_t budget, src_range **ranges, size_t *n,
                    src_pulled *pulled, ember_err *err)
{
    gen_source *g = src->impl;
    uint64_t limit = gen_available(g);
    uint64_t to = g->next;
    if (limit > g->next)
        to = limit - g->next > budget ? g->next + budget : limit;
    g->range = (src_range){0, g->next, to};
    g->next = to;
    *ranges = &g->range;
    *n = 1;
    return 0;
}

static int gen_read(source *src, const src_range *r, src_line_fn fn, void *ctx, ember_err *err)
{
    gen_source *g = src->impl;
    char line[GEN_LINE_MAX];
    for (uint64_t seq = r->from; seq < r->to; seq++) {
        size_t len = gen_line_at(g->kind, g->seed, seq, g->events_per_s, line);
        int rc = fn(line, len, ctx);
        if (rc)
            return rc;
    }
    return 0;
}

static int gen_available_check(source *src, const src_range *r, ember_err *err)
{
    gen_source *g = src->impl;
    if (g->count && r->to > g->count)
        return ember_err_set(err, -EMBER_EDATALOSS,
                             "generator partition 0: range [%llu, %llu) is past count=%llu",
                             (unsigned long long)r->from, (unsigned long long)r->to,
                             (unsigned long long)g->count);
    return 0;
}

static void gen_close(source *src)
{
    free(src->impl);
    src->impl = NULL;
}

/* Lag: only a bounded generator (count=N) has an end. */
static int gen_end_offset(source *src, uint32_t partition, uint64_t *end)
{
    const gen_source *g = src->impl;
    if (partition != 0 || !g->count)
        return -1;
    *end = g->count;
    return 0;
}

const source_ops source_generator_ops = {
    .kind = "generator",
    .doc = "deterministic synthetic records of seven kinds (kind=, as `ember gen`); replayable",
    .options = generator_options,
    .replayable = 1,
    .open = gen_open,
    .restore = gen_restore,
    .plan = gen_plan,
    .read = gen_read,
    .available = gen_available_check,
    .end_offset = gen_end_offset,
    .close = gen_close,
};
