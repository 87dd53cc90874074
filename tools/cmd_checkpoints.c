/*
 * cmd_checkpoints: `ember checkpoints DIR [--format table|json]`: the live
 * commit and every snapshot with its batch, time, offsets, size on disk and
 * whether its files match its MANIFEST. Read-only; a snapshot the running
 * job prunes while we look is left out, not reported as damage.
 */
#include "checkpoint/snapshot.h"
#include "tools/ckread.h"
#include "tools/commands.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(void)
{
    printf("usage: ember checkpoints DIR [--format table|json]\n"
           "Lists the live commit and every snapshot: batch, time (epoch ms), source\n"
           "offsets, size on disk and whether the snapshot's files verify against its\n"
           "MANIFEST. Read-only; works while the job runs. Exit 1 if a snapshot is\n"
           "damaged or the live state cannot be read.\n");
}

typedef struct ck_row {
    const char *kind; /* "live" or "snapshot" */
    uint64_t batch, time_ms, bytes;
    const src_range *ends;
    size_t n_ends;
    int verified; /* 1, 0, or -1 for the live state (not checked here) */
    const char *problem;
} ck_row;

static void print_row(const ck_row *r, int json, int first)
{
    static const char *const verified_json[] = {"null", "false", "true"};
    static const char *const verified_text[] = {"-", "no", "yes"};
    if (json) {
        printf("%s\n  {\"kind\": \"%s\", \"batch\": %" PRIu64 ", \"time_ms\": %" PRIu64
               ", \"bytes\": %" PRIu64 ", \"offsets\": ",
               first ? "" : ",", r->kind, r->batch, r->time_ms, r->bytes);
        ck_json_offsets(stdout, r->ends, r->n_ends);
        printf(", \"verified\": %s, \"problem\": ", verified_json[r->verified + 1]);
        ck_json_str(stdout, r->problem);
        printf("}");
        return;
    }
    printf("%-9s %10" PRIu64 " %14" PRIu64 " %12" PRIu64 "  %-8s ", r->kind, r->batch, r->time_ms,
           r->bytes, verified_text[r->verified + 1]);
    ck_text_offsets(stdout, r->ends, r->n_ends);
    if (r->problem)
        printf("  (%s)", r->problem);
    printf("\n");
}

/* The live row; returns 1 when the live state cannot be read. */
static int live_row(const char *dir, int json)
{
    commit_record c;
    ember_err err = {0};
    char db[4200];
    snprintf(db, sizeof db, "%s/db", dir);
    int rc = ck_read_commit(dir, 0, &c, &err);
    ck_row r = {"live", c.batch, c.batch_time_ms, ck_du(db), c.ends, c.n_ends, -1, NULL};
    if (rc == -ENOENT)
        r.problem = "nothing committed yet";
    else if (rc)
        r.problem = err.msg;
    print_row(&r, json, 1);
    commit_free(&c);
    return rc && rc != -ENOENT;
}

/* One snapshot's row; returns 1 when it fails verification. */
static int snapshot_row(const char *dir, uint64_t batch, int json)
{
    char path[4200];
    manifest claimed = {0};
    ember_err verr = {0}, ignored = {0};
    int bad = snap_verify(dir, batch, NULL, &verr) != 0;
    snap_path(path, sizeof path, dir, batch);
    if (bad && access(path, F_OK) != 0)
        return 0; /* pruned by the running job meanwhile */
    /* a damaged snapshot still shows what its MANIFEST claims, if readable */
    int readable = manifest_read(path, &claimed, &ignored) == 0;
    src_range *ends = calloc(claimed.n_offsets + 1, sizeof *ends);
    for (size_t j = 0; ends && j < claimed.n_offsets; j++)
        ends[j] = (src_range){claimed.offsets[j].partition, claimed.offsets[j].offset_end,
                              claimed.offsets[j].offset_end};
    ck_row r = {"snapshot",
                batch,
                readable ? claimed.created_ms : 0,
                ck_du(path),
                ends,
                ends ? claimed.n_offsets : 0,
                !bad,
                bad ? verr.msg : NULL};
    print_row(&r, json, 0);
    free(ends);
    manifest_free(&claimed);
    return bad;
}

int cmd_checkpoints(int argc, char **argv)
{
    ck_args a;
    ember_job *job;
    int rc = ck_begin("checkpoints", argc, argv, NULL, 0, usage, &a, &job);
    if (rc)
        return ck_exit_code(rc);
    uint64_t *batches = NULL;
    size_t n = 0;
    ember_err err = {0};
    if (a.json)
        printf("[");
    else
        printf("%-9s %10s %14s %12s  %-8s %s\n", "kind", "batch", "time_ms", "bytes", "verified",
               "offsets");
    int bad = live_row(a.dir, a.json);
    if (snap_list(a.dir, &batches, &n, &err)) {
        fprintf(stderr, "ember checkpoints: %s\n", err.msg);
        bad = 1;
    }
    for (size_t i = 0; i < n; i++)
        bad |= snapshot_row(a.dir, batches[i], a.json);
    if (a.json)
        printf("\n]\n");
    free(batches);
    ember_job_free(job);
    return bad;
}
