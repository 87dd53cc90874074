/*
 * repartition: the cut of a job at its `key` step into two stages (see
 * repartition.h), made from the job's canonical text (one line per step).
 */
#include "core/engine/repartition.h"
#include "core/base/log.h"
#include "core/job/job.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void repartition_stage_path(const char *dir, int stage, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/stage-%d.job", dir, stage);
}

/* The first word of a line and the rest after the spaces. */
static size_t word(const char *line, const char **rest)
{
    size_t n = strcspn(line, " \n");
    *rest = line + n + strspn(line + n, " ");
    return n;
}

static const ember_job *kafka_node(const ember_job *job)
{
    for (int i = 0; i < job_node_count(job); i++) {
        const ember_job *n = job_node_at(job, i);
        if (n->source && !strcmp(n->source->kind, "kafka"))
            return n;
    }
    return NULL;
}

/* "k,v:int": the fields of the rows stage 0 writes (parse's, as only
 * filters may come between parse and key). */
static int fields_text(const ember_job *job, char *buf, size_t cap, ember_err *err)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < job->input.n; i++) {
        ember_type t = job->input.f[i].type;
        if (t != EMBER_INT && t != EMBER_FLOAT && t != EMBER_STRING)
            return ember_err_set(err, -EMBER_EUSAGE, "repartitioning: field %s: only int, float "
                                 "and string fields go through the repartition topic",
                                 job->input.f[i].name);
        n += (size_t)snprintf(buf + n, cap > n ? cap - n : 0, "%s%s%s", i ? "," : "",
                              job->input.f[i].name, t == EMBER_INT     ? ":int"
                                                    : t == EMBER_FLOAT ? ":float"
                                                                       : "");
    }
    return n < cap ? 0 : ember_err_set(err, -ERANGE, "repartitioning: too many fields");
}

typedef struct cut {
    FILE *s0, *s1;
    const char *name, *brokers, *keys, *fields;
    int after_key;
} cut;

static int cut_line(cut *c, const char *line, size_t len, ember_err *err)
{
    const char *rest;
    size_t w = word(line, &rest);
    int rest_len = (int)(len - (size_t)(rest - line));
    if (w == 3 && !strncmp(line, "job", 3)) {
        fprintf(c->s0, "job %s.0\n", c->name);
        fprintf(c->s1, "%.*s\n", (int)len, line);
    } else if ((w == 5 && !strncmp(line, "batch", 5)) ||
               (w == 10 && !strncmp(line, "checkpoint", 10))) {
        fprintf(c->s0, "%.*s\n", (int)len, line);
        fprintf(c->s1, "%.*s\n", (int)len, line);
    } else if (c->after_key || (w == 3 && !strncmp(line, "key", 3))) {
        if (!c->after_key)
            fprintf(c->s1, "source kafka brokers=%s topic=%s-repartition-0 upstream=%s.0\n"
                    "parse csv fields=%s\n", c->brokers, c->name, c->name, c->fields);
        c->after_key = 1;
        fprintf(c->s1, "%.*s\n", (int)len, line);
    } else if ((w == 6 && !strncmp(line, "source", 6)) || (w == 5 && !strncmp(line, "parse", 5)) ||
               (w == 6 && !strncmp(line, "filter", 6))) {
        fprintf(c->s0, "%.*s\n", (int)len, line);
    } else if (w && line[0] != '#') {
        return ember_err_set(err, -EMBER_EUSAGE, "repartitioning: `%.*s` before `key`: only "
                             "source, parse and filter steps can come before it (%.*s)",
                             (int)w, line, rest_len > 60 ? 60 : rest_len, rest);
    }
    return 0;
}

static int write_stages(const ember_job *job, const char *dir, const char *keys,
                        ember_err *err)
{
    char p0[4200], p1[4200], fields[4096];
    const ember_job *src = kafka_node(job);
    int rc = fields_text(job, fields, sizeof fields, err);
    if (rc)
        return rc;
    repartition_stage_path(dir, 0, p0, sizeof p0);
    repartition_stage_path(dir, 1, p1, sizeof p1);
    cut c = {fopen(p0, "w"), fopen(p1, "w"), job->name, opts_str(&src->source_opts, "brokers"),
             keys, fields, 0};
    if (!c.s0 || !c.s1)
        rc = ember_err_set(err, -errno, "%s: %s", dir, strerror(errno));
    for (const char *l = job->text; !rc && l && *l;) {
        size_t len = strcspn(l, "\n");
        rc = cut_line(&c, l, len, err);
        l += len + (l[len] == '\n');
    }
    if (!rc)
        fprintf(c.s0, "sink kafka brokers=%s topic=%s-repartition-0 format=csv "
                "partition-by=%s\n", c.brokers, job->name, keys);
    int bad0 = c.s0 && fclose(c.s0) != 0; /* both files are closed, whatever happens */
    int bad1 = c.s1 && fclose(c.s1) != 0;
    if (bad0 || bad1)
        rc = rc ? rc : ember_err_set(err, -EIO, "%s: cannot write the stage jobs", dir);
    return rc;
}

/* "k1,k2": the job's key line. */
static void key_text(const ember_job *job, char *buf, size_t cap)
{
    buf[0] = '\0';
    for (const char *l = job->text; l && *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] != 0)) {
        const char *rest;
        if (word(l, &rest) == 3 && !strncmp(l, "key", 3)) {
            size_t n = strcspn(rest, "\n");
            snprintf(buf, cap, "%.*s", (int)n, rest);
            for (char *p = buf; (p = strstr(p, ", ")) != NULL;)
                memmove(p + 1, p + 2, strlen(p + 2) + 1);
            return;
        }
    }
}

int repartition_split(const char *job_path, const char *dir, int *stages, ember_err *err)
{
    ember_job *job = NULL;
    char keys[512];
    *stages = 0;
    int rc = ember_job_load_file(job_path, &job, err);
    if (rc)
        return rc;
    const ember_job *src = kafka_node(job);
    const char *keyed_by = src ? opts_str(&src->source_opts, "keyed-by") : "";
    key_text(job, keys, sizeof keys);
    if (src && keys[0] && *keyed_by && strcmp(keyed_by, keys)) {
        if (job_is_graph(job))
            rc = ember_err_set(err, -EMBER_EUSAGE, "%s: repartitioning (keyed-by=%s, key %s) "
                               "supports a linear job, not a graph", job_path, keyed_by, keys);
        if (!rc)
            rc = write_stages(job, dir, keys, err);
        if (!rc)
            *stages = 2;
        if (!rc)
            em_log(EMBER_LOG_INFO, "repartitioning: input keyed by %s, state by %s: %s/stage-0.job "
                   "writes %s-repartition-0, %s/stage-1.job reads it", keyed_by, keys, dir,
                   job->name, dir);
    }
    ember_job_free(job);
    return rc;
}
