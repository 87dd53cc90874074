/* metrics: the Prometheus text format (see metrics.h). */
#include "ui/metrics.h"
#include "ui/server.h"

#include <errno.h>
#include <inttypes.h>

static int head(text_buf *o, const char *name, const char *type, const char *help)
{
    return ui_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int counter(text_buf *o, const char *name, const char *help, uint64_t v)
{
    return head(o, name, "counter", help) | ui_printf(o, "%s %" PRIu64 "\n", name, v);
}

static int gauge(text_buf *o, const char *name, const char *help, double v)
{
    return head(o, name, "gauge", help) | ui_printf(o, "%s %.17g\n", name, v);
}

static int histogram(text_buf *o, const char *name, const char *help, const ui_hist *h)
{
    int rc = head(o, name, "histogram", help);
    uint64_t cum = 0;
    for (int i = 0; i < UI_BUCKETS; i++) {
        cum += h->counts[i];
        rc |= ui_printf(o, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, board_bounds_s[i], cum);
    }
    rc |= ui_printf(o, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, h->count);
    rc |= ui_printf(o, "%s_sum %.17g\n%s_count %" PRIu64 "\n", name, h->sum_s, name, h->count);
    return rc;
}

/* A label value: backslash, double quote and newline escaped. */
static int label_value(text_buf *o, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) {
        if (*s == '\\' || *s == '"')
            rc = ui_printf(o, "\\%c", *s);
        else if (*s == '\n')
            rc = ui_printf(o, "\\n");
        else
            rc = ui_printf(o, "%c", *s);
    }
    return rc;
}

static int counters(const ui_latest *l, text_buf *o)
{
    const ui_totals *t = &l->totals;
    return counter(o, "ember_batches_total", "Batches committed by this process.", t->batches) |
           counter(o, "ember_replayed_batches_total", "Batches re-executed from the WAL.",
                   t->replayed) |
           counter(o, "ember_records_in_total", "Input records read.", t->records_in) |
           counter(o, "ember_records_kept_total", "Records past parse and filters.",
                   t->records_kept) |
           counter(o, "ember_bad_records_total", "Records that failed to parse.", t->bad) |
           counter(o, "ember_late_records_total", "Records behind the watermark.", t->late) |
           counter(o, "ember_filtered_records_total", "Records dropped by filters.", t->filtered) |
           counter(o, "ember_duplicate_records_total", "Records dropped by dedupe.",
                   t->duplicates) |
           counter(o, "ember_rows_out_total", "Rows handed to the sink.", t->rows_out) |
           counter(o, "ember_snapshots_total", "Snapshots taken by this process.",
                   l->snapshots_taken);
}

static int histograms(const ui_latest *l, text_buf *o)
{
    const ui_totals *t = &l->totals;
    return histogram(o, "ember_processing_seconds",
                     "Processing time of a batch (read to snapshot).", &t->processing) |
           histogram(o, "ember_scheduling_delay_seconds",
                     "How late a batch started against its due time.", &t->scheduling) |
           histogram(o, "ember_end_to_end_delay_seconds", "Scheduling delay plus processing time.",
                     &t->e2e);
}

static int batch_gauges(const ui_latest *l, text_buf *o)
{
    const ui_batch *b = &l->last;
    return gauge(o, "ember_last_batch", "The newest committed batch.", (double)b->batch) |
           gauge(o, "ember_input_rate", "Records per second planned by the newest batch.",
                 b->input_rate) |
           gauge(o, "ember_commit_seconds", "Commit time of the newest batch.",
                 b->commit_ms / 1e3) |
           gauge(o, "ember_snapshot_seconds", "Duration of the newest snapshot this run took.",
                 l->last_snapshot_ms / 1e3) |
           gauge(o, "ember_last_snapshot_batch", "Batch of the newest snapshot (0: none).",
                 (double)l->last_snapshot) |
           gauge(o, "ember_wal_bytes", "Bytes of the write-ahead log on disk.",
                 (double)b->wal_bytes) |
           gauge(o, "ember_last_recovery_seconds", "Replay time at this run's start.",
                 l->last_recovery_ms / 1e3) |
           gauge(o, "ember_recovery_estimate_seconds",
                 "Batches since the newest snapshot times the replay time of one.",
                 board_recovery_estimate_s(l));
}

static int state_gauges(const ui_latest *l, const char *op, text_buf *o)
{
    int rc = head(o, "ember_state_keys", "gauge", "Keys in the operator's state.");
    rc |= ui_printf(o, "ember_state_keys{operator=\"%s\"} %" PRIu64 "\n", op, l->last.state_keys);
    rc |= head(o, "ember_state_bytes", "gauge", "Bytes of the operator's state on disk.");
    rc |= ui_printf(o, "ember_state_bytes{operator=\"%s\"} %" PRIu64 "\n", op, l->last.state_bytes);
    return rc;
}

static int partition_gauges(const ui_latest *l, text_buf *o)
{
    int rc = head(o, "ember_source_committed_offset", "gauge",
                  "Committed end offset per source partition.");
    for (size_t i = 0; i < l->n_parts; i++)
        rc |= ui_printf(
            o, "ember_source_committed_offset{source=\"%u\",partition=\"%u\"} %" PRIu64 "\n",
            l->parts[i].source, l->parts[i].partition, l->parts[i].committed);
    rc |= head(o, "ember_source_lag_records", "gauge",
               "End of the partition's input minus the committed offset (where known).");
    for (size_t i = 0; i < l->n_parts; i++) {
        const ember_partition_info *p = &l->parts[i];
        if (p->has_end)
            rc |= ui_printf(
                o, "ember_source_lag_records{source=\"%u\",partition=\"%u\"} %" PRIu64 "\n",
                p->source, p->partition, p->end > p->committed ? p->end - p->committed : 0);
    }
    return rc;
}

static int error_info(const ui_latest *l, text_buf *o)
{
    int rc = head(o, "ember_last_error_info", "gauge",
                  "The newest warning or error line logged (1 while there is one).");
    if (!l->last_error[0])
        return rc;
    rc |= ui_printf(o, "ember_last_error_info{message=\"");
    rc |= label_value(o, l->last_error);
    return rc | ui_printf(o, "\"} 1\n");
}

int metrics_format(const ui_latest *l, const char *operator_name, text_buf *out)
{
    int rc =
        counters(l, out) | histograms(l, out) | gauge(out, "ember_up", "1 while the job runs.", 1);
    if (l->have)
        rc |= batch_gauges(l, out) | state_gauges(l, operator_name, out) |
              partition_gauges(l, out) | error_info(l, out);
    return rc ? -ENOMEM : 0;
}
