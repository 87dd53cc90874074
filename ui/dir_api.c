/*
 * dir_api: the dispatcher of the checkpoint API (see dir_api.h): decodes
 * the query, checks its parameters against the route's list, calls the
 * route, and the replies and JSON helpers the routes share.
 */
#include "ui/dir_api.h"
#include "checkpoint/ckdir.h"
#include "checkpoint/ckopen.h"
#include "ui/dir_private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct dir_route {
    const char *name;
    const char *params[6]; /* what it takes; NULL-terminated */
    int (*fn)(dir_req *r);
} dir_route;

static const dir_route routes[] = {
    {"history", {"n", NULL}, dir_route_history},
    {"status", {NULL}, dir_route_status},
    {"instance", {NULL}, dir_route_instance},
    {"state/operators", {"snapshot", NULL}, dir_route_operators},
    {"state/get", {"op", "key", "snapshot", NULL}, dir_route_get},
    {"state/scan", {"op", "prefix", "limit", "snapshot", NULL}, dir_route_scan},
    {"snapshots", {NULL}, dir_route_snapshots},
    {"wal", {"from", "limit", NULL}, dir_route_wal},
    {"diff", {"a", "b", "op", "limit", NULL}, dir_route_diff},
};

int dir_fail(dir_req *r, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->out->len = r->out_start; /* an error replaces whatever was begun */
    json_t *body = json_pack("{s:o}", "error", dir_jstr(msg, strlen(msg)));
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (!text || text_append(r->out, text, strlen(text)))
        r->out->len = r->out_start; /* out of memory: the status alone says it */
    free(text);
    json_decref(body);
    return status;
}

int dir_fail_err(dir_req *r, const ember_err *err)
{
    return dir_fail(r, err->code == -ENOENT ? 404 : 500, "%s", err->msg);
}

int dir_send(dir_req *r, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    int rc = text && !text_append(r->out, text, strlen(text)) ? 200 : -1;
    free(text);
    json_decref(body);
    return rc == 200 ? rc : dir_fail(r, 500, "%s: out of memory building the reply", r->route);
}

static int hex(int c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* %XX and '+' decoded in place; -1 on a bad escape or a NUL byte. */
static int unescape(char *s)
{
    char *o = s;
    for (const char *p = s; *p; p++) {
        if (*p == '+') {
            *o++ = ' ';
        } else if (*p == '%') {
            int hi = hex(p[1]), lo = hi < 0 ? -1 : hex(p[2]);
            if (lo < 0 || (hi == 0 && lo == 0))
                return -1;
            *o++ = (char)(hi << 4 | lo);
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return 0;
}

/* One "name=value" (value may be empty; a name alone is "name="). */
static int add_param(dir_req *r, char *pair)
{
    char *eq = strchr(pair, '=');
    if (eq)
        *eq = '\0';
    char *value = eq ? eq + 1 : pair + strlen(pair);
    if (unescape(pair) || unescape(value))
        return dir_fail(r, 400, "%s: a bad %%-escape in the query", r->route);
    if (!*pair)
        return dir_fail(r, 400, "%s: a query parameter without a name", r->route);
    if (dir_param(r, pair))
        return dir_fail(r, 400, "%s: parameter %s given twice", r->route, pair);
    if (r->n == DIR_MAX_PARAMS)
        return dir_fail(r, 400, "%s: more than %d query parameters", r->route, DIR_MAX_PARAMS);
    r->names[r->n] = pair;
    r->values[r->n++] = value;
    return 0;
}

static int parse_query(dir_req *r, const char *query)
{
    if (!query || !*query)
        return 0;
    if (!(r->buf = strdup(query)))
        return dir_fail(r, 500, "%s: out of memory", r->route);
    char *save = NULL;
    for (char *pair = strtok_r(r->buf, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        int rc = add_param(r, pair);
        if (rc)
            return rc;
    }
    return 0;
}

/* The directory must be there (a missing one is not "no batches yet"). */
static int check_dir(dir_req *r)
{
    struct stat sb;
    if (stat(r->dir, &sb) != 0)
        return dir_fail(r, 500, "%s: %s", r->dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return dir_fail(r, 500, "%s: not a directory (an ember checkpoint directory was expected)",
                        r->dir);
    return 0;
}

/* 400 for a parameter the route does not take, naming those it does. */
static int check_params(dir_req *r, const dir_route *rt)
{
    for (int i = 0; i < r->n; i++) {
        int known = 0;
        for (int j = 0; rt->params[j] && !known; j++)
            known = !strcmp(r->names[i], rt->params[j]);
        if (known)
            continue;
        char list[128] = "";
        for (int j = 0; rt->params[j]; j++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "",
                     rt->params[j]);
        return dir_fail(r, 400, "%s: unknown parameter '%.64s' (%s%s)", r->route, r->names[i],
                        *list ? "it takes " : "it takes none", list);
    }
    return 0;
}

int ui_dir_api(const char *dir, const char *route, const char *query, text_buf *out)
{
    dir_req r = {.dir = dir, .route = route ? route : "", .out = out, .out_start = out->len};
    const dir_route *rt = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && !rt; i++)
        if (!strcmp(r.route, routes[i].name))
            rt = &routes[i];
    int rc = rt ? 0 : dir_fail(&r, 404, "no route '%.100s' (history, status, instance, state/operators, "
                                        "state/get, state/scan, snapshots, wal, diff)",
                               r.route);
    if (!rc)
        rc = parse_query(&r, query);
    if (!rc)
        rc = check_params(&r, rt);
    if (!rc)
        rc = check_dir(&r);
    if (!rc)
        rc = rt->fn(&r);
    free(r.buf);
    return rc;
}

/* ------------------------------------------------------------ parameters */

const char *dir_param(const dir_req *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->names[i], name))
            return r->values[i];
    return NULL;
}

int dir_param_u64(dir_req *r, const char *name, uint64_t def, uint64_t lo, uint64_t hi,
                  uint64_t *v)
{
    const char *s = dir_param(r, name);
    char *end = NULL;
    *v = def;
    if (!s)
        return 0;
    errno = 0;
    unsigned long long x = *s >= '0' && *s <= '9' ? strtoull(s, &end, 10) : 0;
    if (!end || *end || errno || x < lo || x > hi)
        return dir_fail(r, 400, "%s: parameter %s: '%.64s' is not a number from %" PRIu64
                        " to %" PRIu64, r->route, name, s, lo, hi);
    *v = x;
    return 0;
}

int dir_param_need(dir_req *r, const char *name, const char **v)
{
    if ((*v = dir_param(r, name)))
        return 0;
    return dir_fail(r, 400, "%s: parameter %s is missing", r->route, name);
}

/* ------------------------------------------------------------ the checkpoint */

int dir_load_job(dir_req *r, ember_job **job)
{
    ember_err err = {0};
    *job = NULL;
    if (ckdir_load_job(r->dir, job, &err) == 0)
        return 0;
    return dir_fail(r, 500, "%s", err.msg);
}

int dir_open(dir_req *r, uint64_t snapshot, store **st)
{
    ember_err err = {0};
    *st = NULL;
    return ck_open(r->dir, snapshot, st, &err) ? dir_fail_err(r, &err) : 0;
}

/* ------------------------------------------------------------ JSON values */

json_t *dir_jstr(const char *s, size_t n)
{
    json_t *j = json_stringn(s, n);
    if (j)
        return j;
    char *buf = malloc(4 * n + 1); /* not UTF-8: bytes as \xNN */
    if (!buf)
        return NULL;
    size_t len = store_key_text(s, n, buf, 4 * n + 1);
    j = json_stringn(buf, len);
    free(buf);
    return j;
}

json_t *dir_jvalue(const ember_value *v)
{
    switch (v->type) {
    case EMBER_INT:
        return json_integer(v->u.i);
    case EMBER_FLOAT: { /* NaN and infinities have no JSON form */
        json_t *j = json_real(v->u.f);
        return j ? j : json_null();
    }
    case EMBER_STRING:
        return dir_jstr(v->u.s.ptr, v->u.s.len);
    case EMBER_BOOL:
        return json_boolean(v->u.i);
    default:
        return json_null();
    }
}

json_t *dir_jrow(const ember_job *job, const ember_record *row)
{
    json_t *o = json_object();
    for (uint32_t i = 0; o && i < row->n && (int)i < job->output.n; i++)
        json_object_set_new(o, job->output.f[i].name, dir_jvalue(&row->values[i]));
    return o;
}

void dir_joffset(json_t *obj, uint32_t partition, uint64_t end)
{
    char p[16];
    snprintf(p, sizeof p, "%u", partition);
    json_object_set_new(obj, p, json_integer((json_int_t)end));
}

json_t *dir_jdamage(const wal_damage *d)
{
    if (!d->corrupt && !d->torn_tail)
        return json_null();
    return json_pack("{s:s,s:o,s:I,s:o}", "kind", d->corrupt ? "corrupt" : "torn", "segment",
                     dir_jstr(d->segment, strlen(d->segment)), "offset", (json_int_t)d->offset,
                     "reason", dir_jstr(d->reason, strlen(d->reason)));
}
