/*
 * dir_wal: GET wal?from=B&limit=N, the WAL's records from batch B on (as
 * `ember wal --format json`): segment, offset, type, batch, payload bytes,
 * and for a PLAN its batch time and input ranges; then the first torn or
 * corrupt record, if any (the log is not read past it).
 */
#include "checkpoint/wal.h"
#include "core/source/source.h"
#include "ui/dir_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct wal_list {
    json_t *records;
    uint64_t limit;
    int more;
} wal_list;

static const char *type_name(uint8_t t)
{
    return t == WAL_PLAN ? "PLAN" : t == WAL_DATA ? "DATA" : t == WAL_DRAIN ? "DRAIN" : "?";
}

/* A PLAN's batch time and ranges into o; ranges null when it does not decode. */
static void add_plan(json_t *o, const wal_record *rec)
{
    src_range *ranges = NULL;
    size_t n = 0;
    uint64_t time_ms = 0;
    ember_err err = {0};
    if (plan_decode(rec->payload, rec->len, &time_ms, &ranges, &n, &err)) {
        json_object_set_new(o, "ranges", json_null());
        json_object_set_new(o, "error", dir_jstr(err.msg, strlen(err.msg)));
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, json_pack("{s:I,s:I,s:I}", "partition",
                                              (json_int_t)ranges[i].partition, "from",
                                              (json_int_t)ranges[i].from, "to",
                                              (json_int_t)ranges[i].to));
    free(ranges);
    json_object_set_new(o, "time_ms", json_integer((json_int_t)time_ms));
    json_object_set_new(o, "ranges", list);
}

static int visit(const wal_record *rec, void *ctx)
{
    wal_list *w = ctx;
    if (json_array_size(w->records) == w->limit) {
        w->more = 1;
        return 1; /* stops the scan */
    }
    json_t *o = json_pack("{s:s,s:I,s:s,s:I,s:I}", "segment", rec->segment, "offset",
                          (json_int_t)rec->offset, "type", type_name(rec->type), "batch",
                          (json_int_t)rec->batch, "bytes", (json_int_t)rec->len);
    if (!o)
        return -ENOMEM;
    if (rec->type == WAL_PLAN)
        add_plan(o, rec);
    return json_array_append_new(w->records, o) ? -ENOMEM : 0;
}

int dir_route_wal(dir_req *r)
{
    char wal_dir[4200];
    uint64_t from;
    wal_list w = {0};
    wal_damage dmg = {0};
    ember_err err = {0};
    int rc = dir_param_u64(r, "from", 0, 0, UINT64_MAX, &from);
    if (!rc)
        rc = dir_param_u64(r, "limit", 100, 1, DIR_MAX_ROWS, &w.limit);
    if (rc)
        return rc;
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", r->dir);
    w.records = json_array();
    if (access(wal_dir, F_OK) == 0)
        rc = wal_scan(wal_dir, from, visit, &w, &dmg, &err);
    if (rc < 0) {
        json_decref(w.records);
        return rc == -ENOMEM && !err.msg[0] ? dir_fail(r, 500, "wal: out of memory")
                                            : dir_fail(r, 500, "%s", err.msg);
    }
    json_t *damage = w.more ? json_null() : dir_jdamage(&dmg);
    return dir_send(r, json_pack("{s:o,s:b,s:o}", "records", w.records, "more", w.more, "damage",
                                 damage));
}
