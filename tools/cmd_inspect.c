/*
 * cmd_inspect: `ember inspect DIR [--batch B] [--format table|json]`: the job
 * spec and its hash, the committed batch with its offsets and sink marker,
 * the WAL's segments and the PLAN of batch B (default: the newest PLAN).
 */
#include "checkpoint/wal.h"
#include "core/io.h"
#include "tools/ckread.h"
#include "tools/commands.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("usage: ember inspect DIR [--batch B] [--format table|json]\n"
           "Shows the job spec and its hash, the committed batch (time, records, source\n"
           "offsets, sink marker), the WAL segments, and the PLAN of batch B (default:\n"
           "the newest PLAN in the WAL): its batch time and input ranges. Read-only.\n");
}

typedef struct plan_find {
    uint64_t want; /* 0 = newest */
    int found;
    uint64_t batch, time_ms;
    src_range *ranges;
    size_t n;
} plan_find;

static int visit(const wal_record *r, void *ctx)
{
    plan_find *p = ctx;
    ember_err err = {0};
    if (r->type != WAL_PLAN || (p->want && r->batch != p->want))
        return 0;
    src_range *ranges = NULL;
    size_t n = 0;
    uint64_t t = 0;
    if (plan_decode(r->payload, r->len, &t, &ranges, &n, &err))
        return 0;
    free(p->ranges);
    *p = (plan_find){p->want, 1, r->batch, t, ranges, n};
    return 0;
}

static void print_text(const char *spec, uint64_t hash, int have, const commit_record *c,
                       char **segs, size_t n_segs, const char *wal_dir, const plan_find *p)
{
    printf("job spec (hash %016" PRIx64 "):\n%s", hash, spec);
    if (have)
        printf("committed: nothing yet\n");
    else {
        printf("committed: batch %" PRIu64 " at %" PRIu64 " ms, %" PRIu64 " records; offsets ",
               c->batch, c->batch_time_ms, c->records_total);
        ck_text_offsets(stdout, c->ends, c->n_ends);
        printf("\nsink marker: %s delivered batch %" PRIu64 "\n", c->sink_kind, c->sink_batch);
    }
    printf("wal segments:");
    for (size_t i = 0; i < n_segs; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", wal_dir, segs[i]);
        printf(" %s (%" PRIu64 " bytes)", segs[i], ck_du(path));
    }
    printf("%s\n", n_segs ? "" : " none");
    if (!p->found) {
        printf("plan: none in the WAL\n");
        return;
    }
    printf("plan of batch %" PRIu64 " (%s): batch time %" PRIu64 " ms, ranges", p->batch,
           !have && p->batch <= c->batch ? "committed" : "not committed", p->time_ms);
    for (size_t i = 0; i < p->n; i++)
        printf(" p%u=[%" PRIu64 ",%" PRIu64 ")", p->ranges[i].partition, p->ranges[i].from,
               p->ranges[i].to);
    printf("\n");
}

static void print_json(const char *spec, uint64_t hash, int have, const commit_record *c,
                       char **segs, size_t n_segs, const char *wal_dir, const plan_find *p)
{
    printf("{\"job_spec\": ");
    json_string(stdout, spec, strlen(spec));
    printf(", \"spec_hash\": \"%016" PRIx64 "\", \"committed\": ", hash);
    if (have) {
        printf("null");
    } else {
        printf("{\"batch\": %" PRIu64 ", \"time_ms\": %" PRIu64 ", \"records\": %" PRIu64
               ", \"offsets\": ",
               c->batch, c->batch_time_ms, c->records_total);
        ck_json_offsets(stdout, c->ends, c->n_ends);
        printf(", \"sink\": {\"kind\": \"%s\", \"batch\": %" PRIu64 "}}", c->sink_kind,
               c->sink_batch);
    }
    printf(", \"wal_segments\": [");
    for (size_t i = 0; i < n_segs; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", wal_dir, segs[i]);
        printf("%s{\"name\": \"%s\", \"bytes\": %" PRIu64 "}", i ? ", " : "", segs[i],
               ck_du(path));
    }
    printf("], \"plan\": ");
    if (!p->found) {
        printf("null}\n");
        return;
    }
    printf("{\"batch\": %" PRIu64 ", \"time_ms\": %" PRIu64 ", \"committed\": %s, \"ranges\": [",
           p->batch, p->time_ms, !have && p->batch <= c->batch ? "true" : "false");
    for (size_t i = 0; i < p->n; i++)
        printf("%s{\"partition\": %u, \"from\": %" PRIu64 ", \"to\": %" PRIu64 "}",
               i ? ", " : "", p->ranges[i].partition, p->ranges[i].from, p->ranges[i].to);
    printf("]}}\n");
}

int cmd_inspect(int argc, char **argv)
{
    static const char *const flags[] = {"--batch", NULL};
    ck_args a;
    int rc = ck_parse("inspect", argc, argv, flags, 0, usage, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    ember_job *job = statefmt_load_job("inspect", a.dir);
    if (!job)
        return 1;
    char path[4200], wal_dir[4200];
    char *spec = NULL;
    size_t spec_n = 0;
    ember_err err = {0};
    snprintf(path, sizeof path, "%s/JOB", a.dir);
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", a.dir);
    commit_record c;
    int have = ck_read_commit("inspect", a.dir, &c);
    char **segs = NULL;
    size_t n_segs = 0;
    plan_find p = {.want = a.has[0] ? a.num[0] : 0};
    wal_damage dmg = {0};
    if (have < 0 || io_read_file(path, &spec, &spec_n, &err) ||
        wal_list_segments(wal_dir, &segs, &n_segs, &err) ||
        (n_segs && wal_scan(wal_dir, 0, visit, &p, &dmg, &err))) {
        if (err.msg[0])
            fprintf(stderr, "ember inspect: %s\n", err.msg);
        rc = 1;
    } else if (a.has[0] && !p.found) {
        fprintf(stderr, "ember inspect: %s: no PLAN of batch %" PRIu64 " in the WAL (it keeps "
                "the batches after the oldest snapshot)\n", a.dir, a.num[0]);
        rc = 1;
    } else if (a.json) {
        print_json(spec, job_layout_hash(job), have, &c, segs, n_segs, wal_dir, &p);
    } else {
        print_text(spec, job_layout_hash(job), have, &c, segs, n_segs, wal_dir, &p);
    }
    free(p.ranges);
    free(spec);
    wal_free_list(segs, n_segs);
    if (have >= 0)
        commit_free(&c);
    ember_job_free(job);
    return rc;
}
