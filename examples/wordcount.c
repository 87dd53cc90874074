/*
 * wordcount: the C API without a job file. Counts words in a file of one word
 * per line (`tr -s ' ' '\n' < book.txt > words.txt`), lower-casing them with a
 * custom map and dropping short words with a custom filter.
 *
 *   build/wordcount words.txt CKPT_DIR OUT_DIR
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
    ember_opt parse[] = {{"fields", "word"}};
    ember_opt batch[] = {{"interval", "10ms"}, {"max-records", "5000"}};
    ember_opt cp[] = {{"dir", ckpt}, {"every", "3"}};
    ember_opt sink[] = {{"dir", out}};
    int rc;
    if ((rc = ember_job_batch(job, batch, 2, err)) || (rc = ember_job_checkpoint(job, cp, 2, err)) ||
        (rc = ember_job_source(job, "file", src, 1, err)) ||
        (rc = ember_job_parse(job, "tsv", parse, 1, err)) ||
        (rc = ember_job_filter_fn(job, long_enough, NULL, err)) ||
        (rc = ember_job_map_fn(job, lower, NULL, err)) ||
        (rc = ember_job_key(job, "word", err)) ||
        (rc = ember_job_aggregate(job, "count()", err)) ||
        (rc = ember_job_sink(job, "file", sink, 1, err)))
        return rc;
    return 0;
}

int main(int argc, char **argv)
{
    ember_err err = {0};
    if (argc != 4) {
        fprintf(stderr, "usage: wordcount WORDS_FILE CKPT_DIR OUT_DIR\n");
        return 2;
    }
    ember_job *job = ember_job_new("wordcount");
    if (!job)
        return 1;
    ember_run_opts opts = {.until_idle = 1, .threads = 2};
    int rc = build(job, argv[1], argv[2], argv[3], &err);
    if (!rc)
        rc = ember_job_run(job, &opts, &err);
    if (rc)
        fprintf(stderr, "wordcount: %s\n", err.msg);
    ember_job_free(job);
    return rc ? 1 : 0;
}
