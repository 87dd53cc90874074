/*
 * fuzz_jobfile: libFuzzer harness of the job-file loader and its canonical
 * text (what DIR/JOB keeps). For every input that loads, the canonical text
 * must be a fixed point of the loader: load(canon(job)) loads, gives the same
 * canonical text and the same state layout (so the same layout hash). Any
 * other outcome, a crash, a leak or undefined behaviour is a finding.
 *
 *   make fuzz                 FUZZ_TIME=600 seconds (make test runs 60)
 *   build/fuzz/fuzz_jobfile CRASH_FILE    replays one input
 *   FUZZ_JOBFILE_VERBOSE=1 ...            says why an input does not load
 *
 * The C API's side of the same property: every line of the input is also
 * tried as an option value and as a job name of a job built through the API;
 * when the API takes it, the canonical text must load back to the same
 * value (the writer's quoting against the loader's reading, over any bytes).
 *
 * Seed corpus: the examples/ jobs and tests/fuzz/seeds/; tests/fuzz/jobfile.dict
 * holds the language's words.
 */
#include "core/job/job.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

static void fail(const char *what, const ember_job *a, const char *detail)
{
    fprintf(stderr, "fuzz_jobfile: %s\n--- canonical text of the input:\n%s--- %s\n", what,
            or_empty(a->text), detail);
    abort();
}

static void fail_value(const char *what, const char *value, const ember_job *a, const char *detail)
{
    fprintf(stderr, "fuzz_jobfile: %s (value '%s')\n--- canonical text:\n%s--- %s\n", what, value,
            or_empty(a->text), detail);
    abort();
}

/* value as `path=` of a file source, `dir=` of a file sink and as the job's
 * name, through the API; what the API takes must come back unchanged. */
static void check_value(const char *value)
{
    ember_err err = {0};
    ember_job *a = ember_job_new(value), *b = NULL;
    if (!a)
        return;
    ember_opt src[] = {{"path", value}}, snk[] = {{"dir", value}, {"ext", value}};
    if (ember_job_source(a, "file", src, 1, &err) || ember_job_sink(a, "file", snk, 2, &err) ||
        job_finish(a, &err)) {
        ember_job_free(a);
        return;
    }
    const char *canon = or_empty(a->text);
    if (job_load_text("canon", canon, strlen(canon), &b, &err))
        fail_value("the canonical text of an API job does not load", value, a, err.msg);
    if (strcmp(opts_str(&b->source_opts, "path"), value) != 0 ||
        strcmp(opts_str(&b->sinks[0].opts, "dir"), value) != 0 ||
        strcmp(opts_str(&b->sinks[0].opts, "ext"), value) != 0)
        fail_value("an option value changes through the canonical text", value, a, b->text);
    if (strcmp(a->name, b->name) != 0 || strcmp(or_empty(a->text), or_empty(b->text)) != 0)
        fail_value("the canonical text of an API job changes when loaded", value, a, b->text);
    ember_job_free(b);
    ember_job_free(a);
}

static void check_lines_as_values(const uint8_t *data, size_t size)
{
    char value[4096];
    size_t start = 0;
    for (int lines = 0; start < size && lines < 64; lines++) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl ? (size_t)(nl - data) : size, n = end - start;
        if (n < sizeof value && !memchr(data + start, '\0', n)) {
            memcpy(value, data + start, n);
            value[n] = '\0';
            check_value(value);
        }
        start = end + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_lines_as_values(data, size);
    ember_job *a = NULL, *b = NULL;
    ember_err err = {0};
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("FUZZ_JOBFILE_VERBOSE") != NULL;
    if (job_load_text("input", (const char *)data, size, &a, &err)) {
        if (verbose) /* FUZZ_JOBFILE_VERBOSE=1: why an input does not load */
            fprintf(stderr, "fuzz_jobfile: %s\n", err.msg);
        return 0; /* not a job: only crashes and leaks count */
    }
    const char *canon = or_empty(a->text);
    if (job_load_text("canon", canon, strlen(canon), &b, &err))
        fail("the canonical text does not load", a, err.msg);
    if (strcmp(or_empty(a->text), or_empty(b->text)) != 0)
        fail("the canonical text changes when loaded again", a, or_empty(b->text));
    if (strcmp(or_empty(a->layout), or_empty(b->layout)) != 0 ||
        job_layout_hash(a) != job_layout_hash(b))
        fail("the state layout changes when the canonical text is loaded", a, or_empty(b->layout));
    ember_job_free(b);
    ember_job_free(a);
    return 0;
}
