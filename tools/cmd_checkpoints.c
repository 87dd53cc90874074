/*
 * cmd_checkpoints: `ember checkpoints DIR [--format table|json]`: the live
 * commit and every snapshot with its batch, time, offsets, size on disk and
 * whether its files match its MANIFEST. Read-only.
 */
#include "checkpoint/snapshot.h"
#include "tools/ckread.h"
#include "tools/commands.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    printf("usage: ember checkpoints DIR [--format table|json]\n"
           "Lists the live commit and every snapshot: batch, time (epoch ms), source\n"
           "offsets, size on disk and whether the snapshot's files verify against its\n"
           "MANIFEST. Read-only; works while the job runs. Exit 1 if a snapshot is damaged.\n");
}

typedef struct ck_row {
    const char *what;
    uint64_t batch, time_ms, bytes;
    const src_range *ends;
    size_t n_ends;
    const char *verified; /* "yes", "no", or "-" for the live state */
    const char *problem;
} ck_row;

static void print_row(const ck_row *r, int json, int first)
{
    if (json) {
        printf("%s\n  {\"kind\": \"%s\", \"batch\": %" PRIu64 ", \"time_ms\": %" PRIu64
               ", \"bytes\": %" PRIu64 ", \"offsets\": ",
               first ? "" : ",", r->what, r->batch, r->time_ms, r->bytes);
        ck_json_offsets(stdout, r->ends, r->n_ends);
        printf(", \"verified\": %s, \"problem\": ",
               !strcmp(r->verified, "-") ? "null" : !strcmp(r->verified, "yes") ? "true" : "false");
        if (r->problem)
            json_string(stdout, r->problem, strlen(r->problem));
        else
            printf("null");
        printf("}");
        return;
    }
    printf("%-9s %10" PRIu64 " %14" PRIu64 " %12" PRIu64 "  %-8s ", r->what, r->batch, r->time_ms,
           r->bytes, r->verified);
    ck_text_offsets(stdout, r->ends, r->n_ends);
    if (r->problem)
        printf("  (%s)", r->problem);
    printf("\n");
}

int cmd_checkpoints(int argc, char **argv)
{
    ck_args a;
    int rc = ck_parse("checkpoints", argc, argv, NULL, 0, usage, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    ember_job *job = statefmt_load_job("checkpoints", a.dir);
    if (!job)
        return 1;
    ember_job_free(job);
    commit_record c;
    char path[4200];
    int have = ck_read_commit("checkpoints", a.dir, &c);
    if (have < 0)
        return 1;
    if (a.json)
        printf("[");
    else
        printf("%-9s %10s %14s %12s  %-8s %s\n", "kind", "batch", "time_ms", "bytes", "verified",
               "offsets");
    snprintf(path, sizeof path, "%s/db", a.dir);
    ck_row live = {"live", have ? 0 : c.batch, have ? 0 : c.batch_time_ms, ck_du(path),
                   c.ends, c.n_ends, "-", have ? "nothing committed yet" : NULL};
    print_row(&live, a.json, 1);
    uint64_t *batches = NULL;
    size_t n = 0;
    ember_err err = {0};
    int bad = 0;
    if (snap_list(a.dir, &batches, &n, &err)) {
        fprintf(stderr, "ember checkpoints: %s\n", err.msg);
        bad = 1;
    }
    for (size_t i = 0; i < n; i++) {
        manifest m = {0};
        ember_err verr = {0};
        int vrc = snap_verify(a.dir, batches[i], &m, &verr);
        manifest_free(&m);
        snap_path(path, sizeof path, a.dir, batches[i]);
        if (vrc && access(path, F_OK) != 0)
            continue; /* pruned by the running job meanwhile */
        manifest claimed = {0};
        ember_err ignored = {0};
        int readable = manifest_read(path, &claimed, &ignored) == 0;
        src_range *ends = calloc(claimed.n_offsets + 1, sizeof *ends);
        for (size_t j = 0; ends && j < claimed.n_offsets; j++)
            ends[j] = (src_range){claimed.offsets[j].partition, claimed.offsets[j].offset_end,
                                  claimed.offsets[j].offset_end};
        ck_row r = {"snapshot", batches[i], readable ? claimed.created_ms : 0, ck_du(path),
                    ends, ends ? claimed.n_offsets : 0, vrc ? "no" : "yes",
                    vrc ? verr.msg : NULL};
        print_row(&r, a.json, 0);
        bad |= vrc != 0;
        free(ends);
        manifest_free(&claimed);
    }
    if (a.json)
        printf("\n]\n");
    free(batches);
    commit_free(&c);
    return bad;
}
