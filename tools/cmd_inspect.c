/*
 * cmd_inspect: `ember inspect DIR [--batch B] [--format table|json]`: the job
 * spec and its hash, the checkpoint id (DIR/ID), the committed batch with its offsets and sink markers,
 * the WAL's segments and the PLAN of batch B (default: the newest PLAN).
 * What cannot be read (the live state, the WAL) is reported on stderr, the
 * rest is still printed, and the exit code is 1.
 */
#include "checkpoint/ckdir.h"
#include "checkpoint/wal.h"
#include "core/base/endian.h"
#include "core/base/io.h"
#include "tools/ckread.h"
#include "tools/commands.h"

#include <errno.h>
#include <inttypes.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

static void usage(void)
{
    printf("usage: ember inspect DIR [--batch B] [--format table|json]\n"
           "Shows the job spec and its hash, the checkpoint id, the committed batch (time, records, source\n"
           "offsets, sink markers), the WAL segments, and the PLAN of batch B (default:\n"
           "the newest PLAN in the WAL; --batch 0 is the newest too): its batch time\n"
           "and input ranges. Read-only.\n");
}

typedef struct plan_find {
    uint64_t want; /* 0 = newest */
    int found;
    uint64_t batch, time_ms;
    src_range *ranges;
    size_t n;
} plan_find;

#define MAX_MARKERS 8

typedef struct inspection {
    char *spec;
    uint64_t hash;
    char id[CKDIR_ID_LEN + 1]; /* "" when DIR/ID is missing or damaged */
    int id_state;              /* 0 ok, -ENOENT missing, other: damaged or unreadable */
    int committed;         /* c holds a commit record */
    int live_bad;          /* the live state could not be read */
    const char *sink_kind; /* the job's sink: its marker is "sink" */
    struct {
        char kind[32];
        uint64_t batch;
    } markers[MAX_MARKERS]; /* every "sink/<kind>" (a job may have changed sink) */
    size_t n_markers;
    commit_record c;
    char **segs;
    size_t n_segs;
    char wal_dir[4200];
    plan_find plan;
} inspection;

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

static uint64_t seg_bytes(const inspection *in, size_t i)
{
    char path[4500];
    snprintf(path, sizeof path, "%s/%s", in->wal_dir, in->segs[i]);
    return ck_du(path);
}

/* "committed", "not committed" or unknown (the live state unreadable). */
static const char *plan_committed(const inspection *in, int json)
{
    if (in->live_bad)
        return json ? "null" : "commit unknown";
    if (in->committed && in->plan.batch <= in->c.batch)
        return json ? "true" : "committed";
    return json ? "false" : "not committed";
}

static void print_text(const inspection *in)
{
    const commit_record *c = &in->c;
    const plan_find *p = &in->plan;
    printf("job spec (hash %016" PRIx64 "):\n%s", in->hash, in->spec);
    if (in->id_state == 0)
        printf("checkpoint id: %s\n", in->id);
    else if (in->id_state == -ENOENT)
        printf("checkpoint id: none (made before checkpoint ids; the next run makes one)\n");
    else
        printf("checkpoint id: unknown (ID unreadable)\n");
    if (!in->committed) {
        printf("committed: %s\n", in->live_bad ? "unknown (live state unreadable)" : "nothing yet");
    } else {
        printf("committed: batch %" PRIu64 " at %" PRIu64 " ms, %" PRIu64 " records; offsets ",
               c->batch, c->batch_time_ms, c->records_total);
        ck_text_offsets(stdout, c->ends, c->n_ends);
        printf("\nsink markers:");
        for (size_t i = 0; i < in->n_markers; i++)
            printf("%s %s delivered batch %" PRIu64, i ? "," : "", in->markers[i].kind,
                   in->markers[i].batch);
        printf("%s\n", in->n_markers ? "" : " none");
    }
    printf("wal segments:");
    for (size_t i = 0; i < in->n_segs; i++)
        printf(" %s (%" PRIu64 " bytes)", in->segs[i], seg_bytes(in, i));
    printf("%s\n", in->n_segs ? "" : " none");
    if (!p->found) {
        printf("plan: none in the WAL\n");
        return;
    }
    printf("plan of batch %" PRIu64 " (%s): batch time %" PRIu64 " ms, ranges", p->batch,
           plan_committed(in, 0), p->time_ms);
    char part[32];
    for (size_t i = 0; i < p->n; i++)
        printf(" %s=[%" PRIu64 ",%" PRIu64 ")",
               src_partition_text(p->ranges[i].partition, part, sizeof part), p->ranges[i].from,
               p->ranges[i].to);
    printf("\n");
}

/* "sink": the marker of the job's sink (null if it has none yet), then
 * "sink_markers": all of them. */
static void print_json_markers(const inspection *in)
{
    const char *sep = "";
    printf(", \"sink\": ");
    for (size_t i = 0; i <= in->n_markers; i++) {
        if (i == in->n_markers) {
            printf("null");
        } else if (!strcmp(in->markers[i].kind, in->sink_kind)) {
            printf("{\"kind\": ");
            ck_json_str(stdout, in->markers[i].kind);
            printf(", \"batch\": %" PRIu64 "}", in->markers[i].batch);
            break;
        }
    }
    printf(", \"sink_markers\": [");
    for (size_t i = 0; i < in->n_markers; i++, sep = ", ") {
        printf("%s{\"kind\": ", sep);
        ck_json_str(stdout, in->markers[i].kind);
        printf(", \"batch\": %" PRIu64 "}", in->markers[i].batch);
    }
    printf("]");
}

static void print_json(const inspection *in)
{
    const commit_record *c = &in->c;
    const plan_find *p = &in->plan;
    printf("{\"job_spec\": ");
    ck_json_str(stdout, in->spec);
    printf(", \"spec_hash\": \"%016" PRIx64 "\", \"checkpoint_id\": ", in->hash);
    if (in->id_state == 0)
        printf("\"%s\"", in->id);
    else
        printf("null");
    printf(", \"committed\": ");
    if (!in->committed) {
        printf("null");
    } else {
        printf("{\"batch\": %" PRIu64 ", \"time_ms\": %" PRIu64 ", \"records\": %" PRIu64
               ", \"offsets\": ",
               c->batch, c->batch_time_ms, c->records_total);
        ck_json_offsets(stdout, c->ends, c->n_ends);
        print_json_markers(in);
        printf("}");
    }
    printf(", \"wal_segments\": [");
    for (size_t i = 0; i < in->n_segs; i++)
        printf("%s{\"name\": \"%s\", \"bytes\": %" PRIu64 "}", i ? ", " : "", in->segs[i],
               seg_bytes(in, i));
    printf("], \"plan\": ");
    if (!p->found) {
        printf("null}\n");
        return;
    }
    printf("{\"batch\": %" PRIu64 ", \"time_ms\": %" PRIu64 ", \"committed\": %s, \"ranges\": [",
           p->batch, p->time_ms, plan_committed(in, 1));
    for (size_t i = 0; i < p->n; i++)
        printf("%s{\"partition\": %u, \"from\": %" PRIu64 ", \"to\": %" PRIu64 "}", i ? ", " : "",
               p->ranges[i].partition, p->ranges[i].from, p->ranges[i].to);
    printf("]}}\n");
}

/* The commit record and every sink marker; 1 (printed) when unreadable. */
static int read_live(const char *dir, inspection *in)
{
    store *st = NULL;
    ember_err err = {0};
    int rc = ck_open(dir, 0, &st, &err);
    if (!rc && (rc = commit_read(st, &in->c, &err)) == -ENOENT)
        rc = 0; /* nothing committed yet */
    else if (!rc)
        in->committed = 1;
    store_iter *it = in->committed ? store_iter_new(st, STORE_META, "sink/", 5) : NULL;
    for (; it && store_iter_valid(it) && in->n_markers < MAX_MARKERS; store_iter_next(it)) {
        size_t kn, vn;
        const char *k = store_iter_key(it, &kn), *v = store_iter_value(it, &vn);
        uint64_t b = vn == 8 ? get_u64le((const uint8_t *)v) : 0;
        snprintf(in->markers[in->n_markers].kind, sizeof in->markers[0].kind, "%.*s", (int)(kn - 5),
                 k + 5);
        in->markers[in->n_markers++].batch = b;
    }
    if (it && !rc && store_iter_status(it, &err))
        rc = err.code;
    store_iter_free(it);
    if (st)
        store_close(st);
    if (!rc)
        return 0;
    fprintf(stderr, "ember inspect: %s\n", err.msg);
    in->live_bad = 1;
    return 1;
}

/* Reads what can be read; returns 1 (after one stderr line each) when the
 * live state or the WAL cannot be. */
static int gather(const char *dir, inspection *in)
{
    ember_err err = {0};
    wal_damage dmg = {0};
    int bad;
    if (ckdir_read_job_text(dir, &in->spec, &(size_t){0}, &err)) {
        fprintf(stderr, "ember inspect: %s\n", err.msg);
        return 1;
    }
    in->id_state = ckdir_read_id(dir, in->id, &err);
    if (in->id_state && in->id_state != -ENOENT) {
        fprintf(stderr, "ember inspect: %s\n", err.msg);
        in->id[0] = '\0';
    }
    memset(&err, 0, sizeof err);
    bad = read_live(dir, in);
    bad |= in->id_state && in->id_state != -ENOENT;
    snprintf(in->wal_dir, sizeof in->wal_dir, "%s/wal", dir);
    memset(&err, 0, sizeof err);
    if (wal_list_segments(in->wal_dir, &in->segs, &in->n_segs, &err) ||
        (in->n_segs && wal_scan(in->wal_dir, 0, visit, &in->plan, &dmg, &err))) {
        fprintf(stderr, "ember inspect: %s\n", err.msg);
        bad = 1;
    }
    ck_plans plans;
    char gap[600];
    if (!bad && in->committed && !ck_scan_plans(dir, 0, &plans, &dmg, &err) &&
        ck_wal_gap(dir, &plans, in->c.batch, gap, sizeof gap)) {
        fprintf(stderr, "ember inspect: %s/wal: %s\n", dir, gap);
        bad = 1;
    }
    return bad;
}

int cmd_inspect(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        char p[4200], j[4200];
        if (argv[i][0] == '-')
            continue;
        snprintf(p, sizeof p, "%s/instance.json", argv[i]);
        snprintf(j, sizeof j, "%s/JOB", argv[i]);
        int json = 0;
        for (int k = 1; k + 1 < argc; k++)
            json |= !strcmp(argv[k], "--format") && !strcmp(argv[k + 1], "json");
        if (!access(p, F_OK) && access(j, F_OK))
            return inspect_instance(argv[i], json);
        break;
    }
    static const char *const flags[] = {"--batch", NULL};
    ck_args a;
    ember_job *job;
    int rc = ck_begin("inspect", argc, argv, flags, 0, usage, &a, &job);
    if (rc)
        return ck_exit_code(rc);
    inspection in = {.hash = job_layout_hash(job),
                     .sink_kind = job->n_sinks ? job->sinks[0].ops->kind : "",
                     .plan.want = a.has[0] ? a.num[0] : 0};
    rc = gather(a.dir, &in);
    if (!in.spec) {
        /* JOB unreadable: reported by gather */
    } else if (a.has[0] && !in.plan.found && !rc) {
        fprintf(stderr,
                "ember inspect: %s/wal: no PLAN of batch %" PRIu64 " (the WAL keeps "
                "the batches after the oldest snapshot)\n",
                a.dir, a.num[0]);
        rc = 1;
    } else if (a.json) {
        print_json(&in);
    } else {
        print_text(&in);
    }
    free(in.plan.ranges);
    free(in.spec);
    wal_free_list(in.segs, in.n_segs);
    commit_free(&in.c);
    ember_job_free(job);
    return rc;
}
