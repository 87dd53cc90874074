/* steps: the job language's tables (see steps.h). */
#include "core/job/steps.h"
#include "core/base/names.h"
#include "core/job/job.h"
#include "core/ops/csv.h"
#include "core/ops/json.h"
#include "core/sink/sink.h"
#include "core/source/source.h"

#include <stdio.h>
#include <string.h>

static void join_kinds(char *buf, size_t cap) { snprintf(buf, cap, "table"); }

static int parse_delimited(int delim, const char *line, size_t len, const schema *s,
                           ember_value *out, arena *scratch, ember_err *err)
{
    return csv_parse_line(line, len, delim, s, out, scratch, err);
}

static int parse_json(int delim, const char *line, size_t len, const schema *s,
                      ember_value *out, arena *scratch, ember_err *err)
{
    return json_parse_line(line, len, s, out, scratch, err);
}

const parse_format parse_formats[] = {
    {"csv", ',', "comma-separated fields, \"quoted\" fields may hold commas and quotes",
     parse_delimited},
    {"tsv", '\t', "tab-separated fields", parse_delimited},
    {"json", 0,
     "one JSON object per line; `a.b` is member b of object a; a missing member or null is "
     "NULL; a value of another type than the field's is a bad record",
     parse_json},
    {NULL, 0, NULL, NULL},
};

const parse_format *parse_format_find(const char *name)
{
    for (size_t i = 0; parse_formats[i].name; i++)
        if (strcmp(parse_formats[i].name, name) == 0)
            return &parse_formats[i];
    return NULL;
}

void parse_format_names_text(char *buf, size_t cap)
{
    const char *names[sizeof parse_formats / sizeof *parse_formats];
    size_t n = 0;
    for (; parse_formats[n].name; n++) /* the table ends with a NULL name */
        names[n] = parse_formats[n].name;
    em_names_join(names, n, buf, cap);
}

static void format_kinds(char *buf, size_t cap) { parse_format_names_text(buf, cap); }

const step_def job_steps[] = {
    {"job", FORM_NAME, "NAME", "the job's name (default checkpoint dir `./ckpt/NAME`)"},
    {"batch", FORM_OPTIONS, "OPTION=VALUE ...", "how batches are cut: interval, size, backpressure",
     .opts_fn = ember_job_batch},
    {"checkpoint", FORM_OPTIONS, "OPTION=VALUE ...",
     "where state is saved, how often a snapshot is taken, how many are kept",
     .opts_fn = ember_job_checkpoint},
    {"stream", FORM_TEXT, "NAME [from STREAM[, STREAM ...]]",
     "starts a named stream: read by the `source` after it, or the rows of another stream "
     "(a branch) or of several (a union: same fields)",
     .text_fn = ember_job_stream},
    {"source", FORM_KIND_OPTIONS, "KIND OPTION=VALUE ...", "where records come from",
     .kind_fn = ember_job_source, .kinds = source_kinds_text},
    {"parse", FORM_KIND_OPTIONS,
     "FORMAT fields=a,b:int,c:float [on-error=fail|skip|dead-letter:PATH] [quote=on|off]",
     "splits each record into typed fields", .kind_fn = ember_job_parse, .kinds = format_kinds},
    {"filter", FORM_TEXT, "EXPR", "keeps records where EXPR is true",
     .text_fn = ember_job_filter},
    {"select", FORM_TEXT, "ITEM, ...", "replaces the record: `field`, or `EXPR as name`",
     .text_fn = ember_job_select},
    {"join", FORM_KIND_OPTIONS, "table path=F.csv key=FIELD fields=A,B:int [on-miss=drop|keep]",
     "appends a static table's columns (a stream-static join)", .kind_fn = ember_job_join,
     .kinds = join_kinds},
    {"dedupe", FORM_TEXT, "FIELD[, FIELD...] [keep=first|last] within DURATION",
     "drops a record whose FIELDS were seen within DURATION of batch time (one per node); "
     "keep=last: of each id the batch's last record passes and takes the id's previous row "
     "back downstream",
     .text_fn = ember_job_dedupe},
    {"watermark", FORM_TEXT, "FIELD DELAY [idle=DURATION]",
     "the stream's event time (an int field of epoch ms) and watermark: the largest time seen "
     "minus DELAY; a union's is its inputs' least, an input idle for DURATION of batch time "
     "not counted; a later `window` uses it",
     .text_fn = ember_job_watermark},
    {"key", FORM_TEXT, "FIELD[,FIELD...]", "the state key", .text_fn = ember_job_key},
    {"ttl", FORM_TEXT, "DURATION",
     "a key not updated for DURATION of batch time is deleted (not with `window`)",
     .text_fn = ember_job_ttl},
    {"window", FORM_TEXT,
     "tumbling SIZE | sliding SIZE every SLIDE | session GAP [on FIELD [watermark D]] "
     "[emit=final|update] [late=drop|file:PATH]",
     "groups a key's records by event time (output rows gain window_start, window_end)",
     .text_fn = ember_job_window},
    {"aggregate", FORM_TEXT,
     "FN(...) [filter (where COND)] [as NAME], ...: count() count(f) sum(f) min(f) max(f) "
     "avg(f) wavg(x, w) count_distinct(f [, approx]) topk(f, K)",
     "totals per key (per window with `window`); without `key`, one global group; an "
     "aggregate with `filter (where COND)` folds only the records where COND is true",
     .text_fn = ember_job_aggregate},
    {"having", FORM_TEXT, "EXPR",
     "keeps output rows (key, window, aggregate columns like `count`, `avg_temp`) where EXPR "
     "is true",
     .text_fn = ember_job_having},
    {"top", FORM_TEXT, "K by COLUMN [per FIELD[, FIELD...]]",
     "after a windowed aggregate: of each window's rows in a batch, only the K with the largest "
     "COLUMN (ties: smaller key); without window or aggregate: the K records with the largest "
     "COLUMN of each group (per FIELDS, else the key, else all) kept in state, changes emitted "
     "with a `rank` column",
     .text_fn = ember_job_top},
    {"aggregate_fn", FORM_KIND_OPTIONS, "NAME fields=F,... state=BYTES type=int|float",
     "a C aggregate's place in the state layout (written by ember_job_aggregate_fn; its "
     "callbacks come from the program)",
     .kind_fn = job_aggregate_fn_declare, .arg_what = "the aggregate's name"},
    {"sink", FORM_KIND_OPTIONS, "KIND OPTION=VALUE ...",
     "where results go: the stream as it is here; any number, later steps go on (fan-out)",
     .kind_fn = ember_job_sink, .kinds = sink_kinds_text},
    {NULL, 0, NULL, NULL},
};

const step_def *step_find(const char *name)
{
    for (size_t i = 0; job_steps[i].name; i++)
        if (strcmp(job_steps[i].name, name) == 0)
            return &job_steps[i];
    return NULL;
}

void step_names_text(char *buf, size_t cap)
{
    const char *names[sizeof job_steps / sizeof *job_steps];
    size_t n = 0;
    for (; job_steps[n].name; n++) /* the table ends with a NULL name */
        names[n] = job_steps[n].name;
    em_names_join(names, n, buf, cap);
}
