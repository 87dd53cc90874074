/*
 * sink_blackhole: `sink blackhole`. Discards every row and counts them, so a
 * benchmark measures the pipeline without the cost of an output (Nexmark's
 * blackhole sink). At close it logs the rows and batches it saw; a batch
 * replayed after a crash is counted again.
 */
#include "core/base/log.h"
#include "core/sink/sink.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

static const opt_def blackhole_options[] = {{0}};

typedef struct blackhole_sink {
    uint64_t rows, batches;
} blackhole_sink;

static int bh_open(sink *s, const opt_set *opts, const sink_env *env, ember_err *err)
{
    if (!(s->impl = calloc(1, sizeof(blackhole_sink))))
        return ember_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

static int bh_recover(sink *s, uint64_t committed_batch, ember_err *err) { return 0; }

static int bh_begin(sink *s, uint64_t batch, uint64_t batch_time_ms, ember_err *err)
{
    return 0;
}

static int bh_write(sink *s, const ember_record *row, ember_err *err)
{
    ((blackhole_sink *)s->impl)->rows++;
    return 0;
}

static int bh_commit(sink *s, uint64_t batch, ember_err *err)
{
    ((blackhole_sink *)s->impl)->batches++;
    return 0;
}

static void bh_close(sink *s)
{
    blackhole_sink *b = s->impl;
    if (!b)
        return;
    em_log(EMBER_LOG_INFO, "sink blackhole: %" PRIu64 " rows discarded in %" PRIu64 " batches",
           b->rows, b->batches);
    free(b);
    s->impl = NULL;
}

const sink_ops sink_blackhole_ops = {
    .kind = "blackhole",
    .doc = "discards every row and counts them (for benchmarks); logs the count at exit",
    .options = blackhole_options,
    .exactly_once = 0,
    .open = bh_open,
    .recover = bh_recover,
    .begin = bh_begin,
    .write = bh_write,
    .commit = bh_commit,
    .close = bh_close,
};
