/*
 * wordcount: the C API without a job file. Counts words, one per line,
 * lower-casing them with a custom map and dropping short words with a custom
 * filter. Words are TSV fields, so quotes, commas and apostrophes in real
 * text are ordinary bytes (TSV has no quoting unless `quote=on`).
 *
 *   tr -s ' ' '\n' < README.md | build/wordcount     (stdin; ./ckpt/wordcount, ./out/wordcount)
 *   build/wordcount words.txt [CKPT_DIR OUT_DIR]      (a file; "-" is stdin)
 *
 * Each run adds its input to the counts kept in CKPT_DIR; OUT_DIR gets one
 * TSV file per batch with the words whose counts changed (word, count).
 */
#include "ember.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Keeps words of 3 letters or more. Called from worker threads. */
static int long_enough(const ember_record *rec, void *user)
{
    (void)user;
    return rec->values[0].type == EMBER_STRING && rec->values[0].u.s.len >= 3;
}

/* Lower-cases in place: the line buffer belongs to the batch, so writing
 * into it is allowed, and it is deterministic, so replays match. */
static void lower(ember_record *rec, void *user)
{
    (void)user;
    char *p = (char *)rec->values[0].u.s.ptr;
    for (uint32_t i = 0; i < rec->values[0].u.s.len; i++)
        p[i] = (char)tolower((unsigned char)p[i]);
}

static int build(ember_job *job, const char *in, const char *ckpt, const char *out,
                 ember_err *err)
{
    ember_opt src[] = {{"path", in}};
    int from_stdin = strcmp(in, "-") == 0;
    ember_opt parse[] = {{"fields", "word"}};
    ember_opt batch[] = {{"interval", "10ms"}, {"max-records", "5000"}};
    ember_opt cp[] = {{"dir", ckpt}, {"every", "3"}};
    ember_opt sink[] = {{"dir", out}};
    int rc;
    if ((rc = ember_job_batch(job, batch, 2, err)) ||
        (rc = ember_job_checkpoint(job, cp, 2, err)) ||
        (rc = from_stdin ? ember_job_source(job, "stdin", NULL, 0, err)
                         : ember_job_source(job, "file", src, 1, err)) ||
        (rc = ember_job_parse(job, "tsv", parse, 1, err)) ||
        (rc = ember_job_filter_fn(job, long_enough, NULL, err)) ||
        (rc = ember_job_map_fn(job, lower, NULL, err)) || (rc = ember_job_key(job, "word", err)) ||
        (rc = ember_job_aggregate(job, "count()", err)) ||
        (rc = ember_job_sink(job, "file", sink, 1, err)))
        return rc;
    return 0;
}

int main(int argc, char **argv)
{
    ember_err err = {0};
    if (argc != 1 && argc != 2 && argc != 4) {
        fprintf(stderr, "usage: wordcount [WORDS_FILE|- [CKPT_DIR OUT_DIR]] (default: stdin, "
                        "./ckpt/wordcount, ./out/wordcount)\n");
        return 2;
    }
    const char *in = argc > 1 ? argv[1] : "-";
    const char *ckpt = argc == 4 ? argv[2] : "./ckpt/wordcount";
    const char *out = argc == 4 ? argv[3] : "./out/wordcount";
    ember_job *job = ember_job_new("wordcount");
    if (!job)
        return 1;
    ember_run_opts opts = {.until_idle = 1, .threads = 2};
    int rc = build(job, in, ckpt, out, &err);
    if (!rc)
        rc = ember_job_run(job, &opts, &err);
    if (rc)
        fprintf(stderr, "wordcount: %s\n", err.msg);
    else
        fprintf(stderr, "wordcount: counts in %s, one file per batch in %s\n", ckpt, out);
    ember_job_free(job);
    return rc ? 1 : 0;
}
