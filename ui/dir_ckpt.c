/*
 * dir_ckpt: the checkpoint's own routes: status (what `ember inspect`
 * shows: the job, its spec hash, the committed batch with its offsets and
 * sink markers, the exact key count, the drain, the WAL's segments and
 * PLANs) and snapshots (each with its batch, time, size, offsets and
 * whether its files verify against its MANIFEST, as `ember checkpoints`).
 */
#include "checkpoint/ckdir.h"
#include "checkpoint/ckopen.h"
#include "checkpoint/snapshot.h"
#include "checkpoint/wal.h"
#include "core/base/endian.h"
#include "state/layout.h"
#include "ui/dir_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A u64 as JSON, null when absent (found == 0). */
static json_t *maybe_u64(uint64_t v, int found)
{
    return found ? json_integer((json_int_t)v) : json_null();
}

/* committed, state_keys, drained and sink_markers from the live state. */
static int add_live(dir_req *r, json_t *o)
{
    store *st = NULL;
    commit_record c = {0};
    ember_err err = {0};
    uint64_t keys = 0, drained = 0;
    int rc = ck_open(r->dir, 0, &st, &err);
    if (rc == -ENOENT) { /* no run yet */
        json_object_set_new(o, "committed", json_null());
        return 0;
    }
    if (!rc && (rc = commit_read(st, &c, &err)) == -ENOENT) {
        json_object_set_new(o, "committed", json_null());
        rc = 0;
    } else if (!rc) {
        json_t *offsets = json_object(), *markers = json_array();
        for (size_t i = 0; i < c.n_ends; i++)
            dir_joffset(offsets, c.ends[i].partition, c.ends[i].to);
        store_iter *it = store_iter_new(st, STORE_META, META_SINK_PREFIX, strlen(META_SINK_PREFIX));
        for (; it && store_iter_valid(it); store_iter_next(it)) {
            size_t kn, vn;
            const char *k = store_iter_key(it, &kn), *v = store_iter_value(it, &vn);
            size_t skip = strlen(META_SINK_PREFIX);
            json_array_append_new(markers, json_pack("{s:o,s:I}", "kind", dir_jstr(k + skip, kn - skip),
                                                     "batch", (json_int_t)(vn == 8 ? get_u64le((const uint8_t *)v) : 0)));
        }
        rc = store_iter_status(it, &err);
        store_iter_free(it);
        json_object_set_new(o, "committed",
                            json_pack("{s:I,s:I,s:I,s:o,s:o}", "batch", (json_int_t)c.batch,
                                      "time_ms", (json_int_t)c.batch_time_ms, "records",
                                      (json_int_t)c.records_total, "offsets", offsets,
                                      "sink_markers", markers));
    }
    if (!rc) {
        int has_keys = layout_get_u64(st, META_STATE_KEYS, &keys, &err) == 0;
        int has_drain = layout_get_u64(st, META_DRAINED, &drained, &err) == 0 && drained;
        memset(&err, 0, sizeof err); /* absent is an answer, not an error */
        json_object_set_new(o, "state_keys", maybe_u64(keys, has_keys));
        json_object_set_new(o, "drained", maybe_u64(drained, has_drain));
    }
    commit_free(&c);
    if (st)
        store_close(st);
    return rc ? dir_fail(r, 500, "%s", err.msg) : 0;
}

typedef struct plan_span {
    uint64_t first, last, n;
} plan_span;

static int span_visit(const wal_record *rec, void *ctx)
{
    plan_span *s = ctx;
    if (rec->type == WAL_PLAN) {
        s->first = s->n++ ? s->first : rec->batch;
        s->last = rec->batch;
    }
    return 0;
}

/* The WAL's segments with their sizes, the PLANs it holds, its damage. */
static int add_wal(dir_req *r, json_t *o)
{
    char wal_dir[4200], path[4400], **segs = NULL;
    size_t n = 0;
    plan_span span = {0};
    wal_damage dmg = {0};
    ember_err err = {0};
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", r->dir);
    if (access(wal_dir, F_OK) != 0) {
        json_object_set_new(o, "wal", json_null());
        return 0;
    }
    int rc = wal_list_segments(wal_dir, &segs, &n, &err);
    if (!rc)
        rc = wal_scan(wal_dir, 0, span_visit, &span, &dmg, &err);
    json_t *list = json_array();
    for (size_t i = 0; !rc && i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", wal_dir, segs[i]);
        json_array_append_new(list, json_pack("{s:s,s:I}", "name", segs[i], "bytes",
                                              (json_int_t)ck_du(path)));
    }
    wal_free_list(segs, n);
    json_t *damage = dir_jdamage(&dmg);
    json_object_set_new(o, "wal", json_pack("{s:o,s:o,s:o,s:I,s:o}", "segments", list, "first_plan",
                                            maybe_u64(span.first, span.n > 0), "last_plan",
                                            maybe_u64(span.last, span.n > 0), "plans",
                                            (json_int_t)span.n, "damage", damage));
    return rc ? dir_fail(r, 500, "%s", err.msg) : 0;
}

int dir_route_status(dir_req *r)
{
    ember_job *job = NULL;
    char id[CKDIR_ID_LEN + 1] = "", hash[20];
    ember_err err = {0};
    int rc = dir_load_job(r, &job);
    if (rc)
        return rc;
    snprintf(hash, sizeof hash, "%016" PRIx64, job_layout_hash(job));
    int has_id = ckdir_read_id(r->dir, id, &err) == 0;
    const char *sink = job->n_sinks ? job->sinks[0].ops->kind : ""; /* as ember inspect */
    json_t *o = json_pack("{s:o,s:s,s:o,s:o}", "job", dir_jstr(job->name, strlen(job->name)),
                          "spec_hash", hash, "checkpoint_id",
                          has_id ? dir_jstr(id, strlen(id)) : json_null(), "sink",
                          dir_jstr(sink, strlen(sink)));
    rc = o ? 0 : dir_fail(r, 500, "status: out of memory");
    if (!rc)
        rc = add_live(r, o);
    if (!rc)
        rc = add_wal(r, o);
    ember_job_free(job);
    if (rc) {
        json_decref(o);
        return rc;
    }
    return dir_send(r, o);
}

/* One snapshot; NULL when the running job pruned it while we looked. */
static json_t *snapshot_entry(const char *dir, uint64_t batch)
{
    char path[4200];
    manifest claimed = {0};
    ember_err verr = {0}, ignored = {0};
    int bad = snap_verify(dir, batch, NULL, &verr) != 0;
    snap_path(path, sizeof path, dir, batch);
    if (bad && access(path, F_OK) != 0)
        return NULL;
    /* a damaged snapshot still shows what its MANIFEST claims, if readable */
    int readable = manifest_read(path, &claimed, &ignored) == 0;
    json_t *offsets = json_object();
    for (size_t i = 0; readable && i < claimed.n_offsets; i++)
        dir_joffset(offsets, claimed.offsets[i].partition, claimed.offsets[i].offset_end);
    json_t *o = json_pack("{s:I,s:o,s:I,s:o,s:s,s:o}", "batch", (json_int_t)batch, "time_ms",
                          maybe_u64(claimed.created_ms, readable), "bytes",
                          (json_int_t)ck_du(path), "offsets", offsets, "verify",
                          bad ? "damaged" : "ok", "reason",
                          bad ? dir_jstr(verr.msg, strlen(verr.msg)) : json_null());
    manifest_free(&claimed);
    return o;
}

int dir_route_snapshots(dir_req *r)
{
    uint64_t *batches = NULL;
    size_t n = 0;
    ember_err err = {0};
    if (snap_list(r->dir, &batches, &n, &err))
        return dir_fail(r, 500, "%s", err.msg);
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++) {
        json_t *e = snapshot_entry(r->dir, batches[i]);
        if (e)
            json_array_append_new(list, e);
    }
    free(batches);
    return dir_send(r, list);
}

/* DIR/instance.json of `ember run --instance` (core/engine/instance.c):
 * the instance's tasks, their phase, lag and restore progress. */
int dir_route_instance(dir_req *r)
{
    char path[4200];
    json_error_t jerr;
    snprintf(path, sizeof path, "%s/instance.json", r->dir);
    if (access(path, F_OK) != 0)
        return dir_fail(r, 404, "instance: %s is not the directory of an instance (no "
                        "instance.json: ember run JOB --instance ID --dir DIR writes it)", r->dir);
    json_t *o = json_load_file(path, 0, &jerr);
    if (!o)
        return dir_fail(r, 500, "instance: %s:%d: %s", path, jerr.line, jerr.text);
    return dir_send(r, o);
}
