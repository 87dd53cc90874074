/*
 * dir_private: what the route handlers of dir_api share: the parsed
 * request, its parameters, and replies (a JSON body or an error).
 */
#ifndef EMBER_UI_DIR_PRIVATE_H
#define EMBER_UI_DIR_PRIVATE_H

#include "checkpoint/wal.h"
#include "core/job/job.h"
#include "core/ops/text.h"
#include "state/store.h"

#include <jansson.h>
#include <stdint.h>

#define DIR_MAX_PARAMS 8
#define DIR_MAX_ROWS 10000 /* the largest n / limit a request may ask for */

typedef struct dir_req {
    const char *dir;
    const char *route;
    int n;
    char *names[DIR_MAX_PARAMS], *values[DIR_MAX_PARAMS]; /* into buf */
    char *buf; /* the decoded query */
    text_buf *out;
    size_t out_start; /* out's length before the call: an error cuts back to it */
} dir_req;

/* The value of parameter name, or NULL when absent. */
const char *dir_param(const dir_req *r, const char *name);
/* A number parameter in [lo, hi], def when absent. 0, or the status of the
 * error reply (400) already written. */
int dir_param_u64(dir_req *r, const char *name, uint64_t def, uint64_t lo, uint64_t hi,
                  uint64_t *v);
/* A required text parameter: 0, or 400 written. */
int dir_param_need(dir_req *r, const char *name, const char **v);

/* Writes {"error": msg} and returns status. */
int dir_fail(dir_req *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 404 for -ENOENT, else 500, with err's message. */
int dir_fail_err(dir_req *r, const ember_err *err);
/* Writes body (consumed) and returns 200 (500 when it cannot be written). */
int dir_send(dir_req *r, json_t *body);

/* DIR/JOB, the job that made the state: 0 or the status written. */
int dir_load_job(dir_req *r, ember_job **job);
/* ck_open: 0 or the status written (404 for a missing snapshot). */
int dir_open(dir_req *r, uint64_t snapshot, store **st);
/* A JSON string from bytes that may not be UTF-8 (escaped as \xNN then). */
json_t *dir_jstr(const char *s, size_t n);
/* One decoded value. */
json_t *dir_jvalue(const ember_value *v);
/* A decoded aggregate row as an object, fields by the job's output names. */
json_t *dir_jrow(const ember_job *job, const ember_record *row);
/* obj["<partition>"] = end: offsets as progress.jsonl and `ember inspect`
 * show them. */
void dir_joffset(json_t *obj, uint32_t partition, uint64_t end);

/* The first torn or corrupt WAL record, or null. */
json_t *dir_jdamage(const wal_damage *d);

/* The routes (dir_history.c, dir_state.c, dir_ckpt.c, dir_wal.c). */
int dir_route_history(dir_req *r);
int dir_route_status(dir_req *r);
int dir_route_instance(dir_req *r);
int dir_route_operators(dir_req *r);
int dir_route_get(dir_req *r);
int dir_route_scan(dir_req *r);
int dir_route_snapshots(dir_req *r);
int dir_route_wal(dir_req *r);
int dir_route_diff(dir_req *r);

#endif
