/* api: /api/v1/... as JSON (see api.h). */
#include "ui/api.h"
#include "checkpoint/snapshot.h"
#include "checkpoint/wal.h"
#include "core/base/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define J_U64(v) json_integer((json_int_t)(v))

int api_dump(json_t *j, text_buf *out)
{
    if (!j)
        return -ENOMEM;
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!s)
        return -ENOMEM;
    size_t n = strlen(s);
    int rc = text_append(out, s, n);
    free(s);
    return rc;
}

/* A JSON string of text that may not be UTF-8 (a row cut at its slot's
 * size, a log line quoting input): bytes past ASCII become '?' then. */
static json_t *jstr(const char *s)
{
    json_t *j = json_string(s);
    if (j)
        return j;
    char *copy = strdup(s);
    for (char *p = copy; p && *p; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = copy ? json_string(copy) : NULL;
    free(copy);
    return j;
}

static json_t *steps_json(const ui_batch *b)
{
    return json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "plan", b->plan_ms, "wal", b->wal_ms,
                     "read", b->read_ms, "transform", b->transform_ms, "state", b->state_ms, "sink",
                     b->sink_ms, "commit", b->commit_ms, "snapshot", b->snapshot_ms, "total",
                     b->total_ms);
}

static json_t *ranges_json(const ui_batch *b)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < b->n_ranges; i++)
        json_array_append_new(
            a, json_pack("{s:I,s:I,s:I,s:I}", "source", (json_int_t)b->ranges[i].source,
                         "partition", (json_int_t)b->ranges[i].partition, "from",
                         (json_int_t)b->ranges[i].from, "to", (json_int_t)b->ranges[i].to));
    return a;
}

static json_t *batch_json(const ui_batch *b)
{
    json_t *j =
        json_pack("{s:I,s:I,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:f,s:I,s:I,s:I}", "batch",
                  (json_int_t)b->batch, "batch_time_ms", (json_int_t)b->time_ms, "replay",
                  b->replay, "records_in", (json_int_t)b->records_in, "records_kept",
                  (json_int_t)b->records_kept, "bad_records", (json_int_t)b->bad, "late_records",
                  (json_int_t)b->late, "filtered_out", (json_int_t)b->filtered, "duplicates",
                  (json_int_t)b->duplicates, "rows", (json_int_t)b->rows_out, "processing_ms",
                  b->total_ms, "scheduling_delay_ms", b->sched_ms, "total_delay_ms", b->e2e_ms,
                  "input_rate", b->input_rate, "state_keys", (json_int_t)b->state_keys,
                  "state_bytes", (json_int_t)b->state_bytes, "wal_bytes", (json_int_t)b->wal_bytes);
    if (j) {
        json_object_set_new(j, "steps_ms", steps_json(b));
        json_object_set_new(j, "plan", ranges_json(b));
        json_object_set_new(j, "plan_ranges", J_U64(b->ranges_total));
    }
    return j;
}

static json_t *totals_json(const ui_totals *t)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "batches", (json_int_t)t->batches,
                     "replayed", (json_int_t)t->replayed, "records_in", (json_int_t)t->records_in,
                     "records_kept", (json_int_t)t->records_kept, "bad_records", (json_int_t)t->bad,
                     "late_records", (json_int_t)t->late, "filtered_out", (json_int_t)t->filtered,
                     "duplicates", (json_int_t)t->duplicates, "rows", (json_int_t)t->rows_out);
}

static json_t *status_json(const ui_latest *l, const char *op, const char *text, const char *dir)
{
    double uptime_s = ((double)em_wall_ms() - l->started_ms) / 1e3;
    json_t *j = json_pack(
        "{s:o,s:o,s:s,s:s,s:s,s:o,s:b,s:f,s:I,s:I,s:I,s:I,s:I,s:f,s:f,s:f,s:o,"
        "s:f}",
        "job", jstr(l->job_name), "dir", jstr(dir), "source", l->source_kind, "sink", l->sink_kind,
        "operator", op, "job_text", jstr(text), "running", 1, "started_ms", l->started_ms,
        "interval_ms", (json_int_t)l->interval_ms, "snapshot_every", (json_int_t)l->snapshot_every,
        "last_snapshot_batch", (json_int_t)l->last_snapshot, "snapshots_taken",
        (json_int_t)l->snapshots_taken, "records_committed", (json_int_t)l->records_total,
        "last_recovery_ms", l->last_recovery_ms, "last_snapshot_ms", l->last_snapshot_ms,
        "recovery_estimate_s", board_recovery_estimate_s(l), "last_error", jstr(l->last_error),
        "uptime_s", uptime_s);
    if (!j)
        return NULL;
    json_object_set_new(j, "replayed_at_start", J_U64(l->replayed_at_start));
    json_object_set_new(j, "totals", totals_json(&l->totals));
    json_object_set_new(j, "last_batch", l->have ? batch_json(&l->last) : json_null());
    return j;
}

int api_status(ui_board *b, const char *op, text_buf *out)
{
    ui_latest *l = malloc(sizeof *l);
    char *text = malloc(UI_TEXT_BYTES), dir[4096];
    int rc = -ENOMEM;
    if (l && text) {
        board_read_latest(b, l);
        board_read_job(b, text, UI_TEXT_BYTES, dir, sizeof dir);
        rc = api_dump(status_json(l, op, text, dir), out);
    }
    free(l);
    free(text);
    return rc;
}

int api_batches(ui_board *b, size_t n, text_buf *out)
{
    ui_batch *rows = malloc(n * sizeof *rows);
    if (!rows)
        return -ENOMEM;
    size_t got = board_read_batches(b, rows, n);
    json_t *a = json_array();
    for (size_t i = 0; a && i < got; i++)
        json_array_append_new(a, batch_json(&rows[i]));
    free(rows);
    return api_dump(a ? json_pack("{s:o}", "batches", a) : NULL, out);
}

static json_t *partition_json(const ember_partition_info *p)
{
    json_t *j = json_pack("{s:I,s:I,s:I}", "source", (json_int_t)p->source, "partition",
                          (json_int_t)p->partition, "committed", (json_int_t)p->committed);
    if (j && p->has_end) {
        json_object_set_new(j, "end", J_U64(p->end));
        json_object_set_new(j, "lag", J_U64(p->end > p->committed ? p->end - p->committed : 0));
    } else if (j) {
        json_object_set_new(j, "end", json_null());
        json_object_set_new(j, "lag", json_null());
    }
    return j;
}

/* One source with its partitions (a graph's sources each their own). */
static json_t *source_json(const ui_latest *l, const ui_source *src)
{
    json_t *parts = json_array();
    for (size_t i = 0; parts && i < l->n_parts; i++)
        if (l->parts[i].source == src->source)
            json_array_append_new(parts, partition_json(&l->parts[i]));
    return parts ? json_pack("{s:s,s:s,s:I,s:I,s:o}", "stream", src->stream, "kind", src->kind,
                             "source", (json_int_t)src->source, "records_in",
                             (json_int_t)src->records_in, "partitions", parts)
                 : NULL;
}

int api_sources(ui_board *b, text_buf *out)
{
    ui_latest *l = malloc(sizeof *l);
    if (!l)
        return -ENOMEM;
    board_read_latest(b, l);
    json_t *all = json_array();
    for (size_t i = 0; all && i < l->n_sources; i++)
        json_array_append_new(all, source_json(l, &l->sources[i]));
    free(l);
    return api_dump(all ? json_pack("{s:o}", "sources", all) : NULL, out);
}

/* Every operator family of the graph with its size and the node's rows. */
int api_operators(ui_board *b, const char *op, text_buf *out)
{
    ui_latest *l = malloc(sizeof *l);
    (void)op;
    if (!l)
        return -ENOMEM;
    board_read_latest(b, l);
    json_t *all = json_array();
    for (size_t i = 0; all && i < l->n_ops; i++) {
        const ui_operator *o = &l->ops[i];
        json_array_append_new(all, json_pack("{s:s,s:s,s:I,s:I,s:I,s:I}", "name", o->family,
                                             "stream", o->stream, "state_keys",
                                             (json_int_t)o->keys, "state_bytes",
                                             (json_int_t)o->bytes, "records_in",
                                             (json_int_t)o->records_in, "records_out",
                                             (json_int_t)o->records_out));
    }
    free(l);
    return api_dump(all ? json_pack("{s:o}", "operators", all) : NULL, out);
}

static json_t *snapshot_list(const char *dir)
{
    uint64_t *batches = NULL;
    size_t n = 0;
    ember_err ignored = {0};
    json_t *a = json_array();
    if (!a || snap_list(dir, &batches, &n, &ignored))
        return a;
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:I}", "batch", (json_int_t)batches[i]));
    free(batches);
    return a;
}

static json_t *wal_list(const char *dir)
{
    char wdir[4200], path[4400];
    char **names = NULL;
    size_t n = 0;
    ember_err ignored = {0};
    json_t *a = json_array();
    snprintf(wdir, sizeof wdir, "%s/wal", dir);
    if (!a || wal_list_segments(wdir, &names, &n, &ignored))
        return a;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", wdir, names[i]);
        json_int_t bytes = stat(path, &st) == 0 ? (json_int_t)st.st_size : 0;
        json_array_append_new(a, json_pack("{s:o,s:I}", "name", jstr(names[i]), "bytes", bytes));
    }
    wal_free_list(names, n);
    return a;
}

int api_snapshots(ui_board *b, text_buf *out)
{
    ui_latest *l = malloc(sizeof *l);
    char dir[4096], text[1];
    if (!l)
        return -ENOMEM;
    board_read_latest(b, l);
    board_read_job(b, text, sizeof text, dir, sizeof dir);
    json_t *j = json_pack("{s:I,s:I,s:I,s:f}", "every", (json_int_t)l->snapshot_every,
                          "last_snapshot_batch", (json_int_t)l->last_snapshot, "snapshots_taken",
                          (json_int_t)l->snapshots_taken, "last_snapshot_ms", l->last_snapshot_ms);
    free(l);
    if (j && dir[0]) {
        json_object_set_new(j, "snapshots", snapshot_list(dir));
        json_object_set_new(j, "wal_segments", wal_list(dir));
    } else if (j) {
        json_object_set_new(j, "snapshots", json_array());
        json_object_set_new(j, "wal_segments", json_array());
    }
    return api_dump(j, out);
}

static json_t *sink_json(const ui_sink *s, size_t index, uint64_t batch)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < s->n_rows; i++)
        json_array_append_new(a, jstr(s->rows[i]));
    return a ? json_pack("{s:I,s:s,s:o,s:I,s:o}", "index", (json_int_t)index, "sink", s->kind,
                         "stream", jstr(s->stream), "batch", (json_int_t)batch, "rows", a)
             : NULL;
}

int api_output(ui_board *b, text_buf *out)
{
    ui_sink *sinks = malloc(UI_SINKS * sizeof *sinks);
    if (!sinks)
        return -ENOMEM;
    uint64_t batch = 0;
    size_t n = board_read_sinks(b, sinks, &batch);
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, sink_json(&sinks[i], i, batch));
    free(sinks);
    return api_dump(a ? json_pack("{s:o}", "sinks", a) : NULL, out);
}
