/*
 * sink_postgres: `sink postgres conninfo="..." table=T [mode=auto|upsert|append]
 * [create=yes] [retry-for=D]`, through libpq. Exactly once: each batch is one
 * transaction holding its rows and the sink's marker row in
 * ember_sink_batches(job, sink, batch); on start (and after a lost
 * connection) the marker says which batches the database already has.
 *
 * Per batch: BEGIN; COPY the rows into a temporary staging table (the fast
 * path: one round trip for the rows); INSERT INTO T SELECT ... FROM the stage,
 * upserting by the key and window columns (ON CONFLICT DO UPDATE) or
 * appending; the marker; COMMIT. The rows stay in memory until the commit,
 * so a connection lost on the way is reconnected (backoff 100 ms doubling to
 * 5 s, one line per change, for at most retry-for) and the batch sent again;
 * a COMMIT whose answer was lost is resolved by reading the marker back. A
 * row the server rejects stops the job with the server's message, the batch
 * and the row; nothing of that batch stays. A stop request (SIGINT/SIGTERM)
 * ends every wait within 100 ms.
 */
#include "core/base/log.h"
#include "core/ops/rowfmt.h"
#include "core/ops/text.h"
#include "core/sink/sink.h"
#include "core/sink/sql.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const opt_def postgres_options[] = {
    {"conninfo", OPT_STR, NULL, NULL,
     "libpq connection string, e.g. \"host=/run/postgresql dbname=app user=ember\""},
    {"table", OPT_STR, NULL, NULL, "table the rows go to"},
    {"mode", OPT_ENUM, "auto", "auto|upsert|append",
     "upsert by the key (and window) columns, or append; auto: upsert when rows have a key"},
    {"create", OPT_BOOL, "no", NULL, "create the table when it does not exist"},
    {"retry-for", OPT_DURATION, "60s", NULL,
     "how long to keep reconnecting to a server that is down before giving up (0 = forever)",
     OPT_RESTARTABLE},
    {0},
};

static const sql_dialect pg_sql = {1, "bigint", "double precision", "text"};

typedef struct pg_sink {
    PGconn *conn;
    char *conninfo, *table, *sink_id, *insert_sql;
    const char *job;
    const schema *rows;
    const volatile sig_atomic_t *stop;
    int n_pk, create;
    int64_t retry_ms;
    uint64_t delivered, batch, n_rows;
    text_buf copy; /* the batch's rows in COPY text format */
    int connected_once;
} pg_sink;

/* The server's message on one line (libpq ends it with a newline). */
static const char *one_line(const char *msg, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", msg ? msg : "");
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = p[1] ? ' ' : '\0';
    return buf;
}

static int pg_fail(pg_sink *p, const char *what, const char *msg, ember_err *err)
{
    char line[400];
    return ember_err_set(err, -EIO, "sink postgres table %s: %s: %s", p->table, what,
                         one_line(msg, line, sizeof line));
}

static int is_connection_error(const pg_sink *p, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return PQstatus(p->conn) == CONNECTION_BAD || !state || !strncmp(state, "08", 2) ||
           !strncmp(state, "57P", 3); /* connection exceptions, admin shutdown */
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ connection */

static int stopped(const pg_sink *p) { return p->stop && *p->stop; }

/* Connects, retrying with backoff while the server is down. */
static int connect_db(pg_sink *p, ember_err *err)
{
    long backoff = 100, waited = 0;
    int said = 0;
    for (;;) {
        if (p->conn)
            PQfinish(p->conn);
        p->conn = PQconnectdb(p->conninfo);
        if (PQstatus(p->conn) == CONNECTION_OK)
            break;
        char msg[400];
        one_line(PQerrorMessage(p->conn), msg, sizeof msg);
        if (!said++)
            em_log(EMBER_LOG_WARN, "sink postgres: cannot connect (%s); retrying", msg);
        if (stopped(p))
            return ember_err_set(err, -ECANCELED, "sink postgres: stopped while connecting");
        if (p->retry_ms && waited >= p->retry_ms)
            return ember_err_set(err, -EIO, "sink postgres: cannot connect: %s (gave up after "
                                 "retry-for=%" PRId64 "ms)", msg, p->retry_ms);
        for (long t = 0; t < backoff && !stopped(p); t += 100)
            sleep_ms(100);
        waited += backoff;
        backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
    }
    if (said || p->connected_once)
        em_log(EMBER_LOG_INFO, "sink postgres: connected to %s", PQdb(p->conn));
    p->connected_once = 1;
    return 0;
}

/* Runs one statement; *conn_lost = 1 when it failed for the connection. */
static int run_sql(pg_sink *p, const char *sql, int n, const char *const *args, const char *what,
                   int *conn_lost, ember_err *err)
{
    PGresult *r = n ? PQexecParams(p->conn, sql, n, NULL, args, NULL, NULL, 0)
                    : PQexec(p->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        *conn_lost = is_connection_error(p, r);
        rc = pg_fail(p, what, r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn), err);
    }
    PQclear(r);
    return rc;
}

/* ------------------------------------------------------------ schema, marker */

static int create_table(pg_sink *p, int *lost, ember_err *err)
{
    char sql[16384];
    if (sql_create_table(&pg_sql, p->table, p->rows, p->n_pk, sql, sizeof sql))
        return ember_err_set(err, -ENAMETOOLONG, "sink postgres table %s: too many columns",
                             p->table);
    return run_sql(p, sql, 0, NULL, "create table", lost, err);
}

static int check_columns(pg_sink *p, ember_err *err)
{
    const char *args[] = {p->table};
    PGresult *r = PQexecParams(p->conn, "SELECT column_name FROM information_schema.columns "
                               "WHERE table_name = $1 AND table_schema = current_schema()",
                               1, NULL, args, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int rc = pg_fail(p, "read the table's columns", PQresultErrorMessage(r), err);
        PQclear(r);
        return rc;
    }
    int rc = PQntuples(r) ? 0 : ember_err_set(err, -EMBER_EUSAGE, "sink postgres: no table %s "
                                              "(create=yes makes it)", p->table);
    for (int i = 0; !rc && i < p->rows->n; i++) {
        int have = 0;
        for (int t = 0; t < PQntuples(r); t++)
            have |= strcmp(PQgetvalue(r, t, 0), p->rows->f[i].name) == 0;
        if (!have)
            rc = ember_err_set(err, -EMBER_EUSAGE, "sink postgres table %s has no column '%s' "
                               "(%s), which the job writes", p->table, p->rows->f[i].name,
                               sql_type(&pg_sql, p->rows->f[i].type));
    }
    PQclear(r);
    return rc;
}

static int read_marker(pg_sink *p, ember_err *err)
{
    const char *args[] = {p->job, p->sink_id};
    PGresult *r = PQexecParams(p->conn, "SELECT batch FROM ember_sink_batches WHERE job = $1 "
                               "AND sink = $2", 2, NULL, args, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = pg_fail(p, "read the marker", PQresultErrorMessage(r), err);
    else
        p->delivered = PQntuples(r) ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    PQclear(r);
    return rc;
}

/* Connects and checks the table and the marker table. */
static int setup(pg_sink *p, ember_err *err)
{
    int lost = 0;
    int rc = connect_db(p, err);
    if (!rc && p->create)
        rc = create_table(p, &lost, err);
    if (!rc)
        rc = check_columns(p, err);
    if (!rc)
        rc = run_sql(p, "CREATE TABLE IF NOT EXISTS ember_sink_batches (job text NOT NULL, "
                        "sink text NOT NULL, batch bigint NOT NULL, PRIMARY KEY (job, sink))",
                     0, NULL, "create ember_sink_batches", &lost, err);
    return rc ? rc : read_marker(p, err);
}

/* ------------------------------------------------------------ a batch */

static int send_rows(pg_sink *p, int *lost, ember_err *err)
{
    char sql[16384] = "COPY ember_stage (";
    size_t n = strlen(sql);
    for (int i = 0; i < p->rows->n && n < sizeof sql - 200; i++)
        n += (size_t)snprintf(sql + n, sizeof sql - n, "%s\"%s\"", i ? ", " : "",
                              p->rows->f[i].name);
    snprintf(sql + n, sizeof sql - n, ") FROM STDIN");
    PGresult *r = PQexec(p->conn, sql);
    int ok = PQresultStatus(r) == PGRES_COPY_IN;
    if (!ok)
        *lost = is_connection_error(p, r);
    PQclear(r);
    if (!ok)
        return pg_fail(p, "start COPY", PQerrorMessage(p->conn), err);
    for (size_t off = 0; ok && off < p->copy.len; off += 1 << 20) {
        size_t len = p->copy.len - off < (1u << 20) ? p->copy.len - off : 1u << 20;
        ok = PQputCopyData(p->conn, p->copy.data + off, (int)len) == 1;
    }
    if (ok)
        ok = PQputCopyEnd(p->conn, NULL) == 1;
    r = PQgetResult(p->conn);
    int rc = 0;
    if (!ok || PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *ctx = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
        const char *line = ctx ? strstr(ctx, "line ") : NULL;
        char what[96];
        snprintf(what, sizeof what, "batch %" PRIu64 " row %ld rejected", p->batch,
                 line ? strtol(line + 5, NULL, 10) : 0L);
        *lost = is_connection_error(p, r);
        rc = pg_fail(p, line ? what : "COPY", r ? PQresultErrorMessage(r) : PQerrorMessage(p->conn),
                     err);
    }
    PQclear(r);
    while ((r = PQgetResult(p->conn)))
        PQclear(r);
    return rc;
}

/* The whole batch as one transaction: stage, COPY, insert, marker, commit. */
static int send_batch(pg_sink *p, int *lost, ember_err *err)
{
    char stage[8400], num[32];
    const char *marker_args[] = {p->job, p->sink_id, num};
    snprintf(num, sizeof num, "%" PRIu64, p->batch);
    snprintf(stage, sizeof stage, "CREATE TEMP TABLE IF NOT EXISTS ember_stage (LIKE \"%s\" "
             "INCLUDING DEFAULTS INCLUDING CONSTRAINTS) ON COMMIT DELETE ROWS", p->table);
    int rc = run_sql(p, "BEGIN", 0, NULL, "begin", lost, err);
    if (!rc)
        rc = run_sql(p, stage, 0, NULL, "create the staging table", lost, err);
    if (!rc)
        rc = send_rows(p, lost, err);
    if (!rc)
        rc = run_sql(p, p->insert_sql, 0, NULL, "insert the batch", lost, err);
    if (!rc)
        rc = run_sql(p, "INSERT INTO ember_sink_batches (job, sink, batch) VALUES ($1, $2, $3) "
                        "ON CONFLICT (job, sink) DO UPDATE SET batch = excluded.batch",
                     3, marker_args, "write the marker", lost, err);
    if (!rc)
        rc = run_sql(p, "COMMIT", 0, NULL, "commit", lost, err);
    if (rc && !*lost)
        PQclear(PQexec(p->conn, "ROLLBACK"));
    return rc;
}

/* Sends the batch; across a lost connection, reconnects and sends it again
 * unless the marker shows its COMMIT went through. */
static int deliver(pg_sink *p, ember_err *err)
{
    for (;;) {
        int lost = 0;
        int rc = send_batch(p, &lost, err);
        if (!rc || !lost)
            return rc;
        em_log(EMBER_LOG_WARN, "sink postgres: connection lost in batch %" PRIu64 " (%s); "
               "reconnecting", p->batch, err->msg);
        *err = (ember_err){0};
        if ((rc = connect_db(p, err)) || (rc = read_marker(p, err)))
            return rc;
        if (p->delivered >= p->batch)
            return 0; /* the COMMIT went through before the connection went */
    }
}

/* ------------------------------------------------------------ the plugin */

static int pg_open(sink *s, const opt_set *opts, const sink_env *env, ember_err *err)
{
    char sql[16384];
    pg_sink *p = calloc(1, sizeof *p);
    if (!p)
        return ember_err_set(err, -ENOMEM, "out of memory");
    s->impl = p;
    p->conninfo = strdup(opts_str(opts, "conninfo"));
    p->table = strdup(opts_str(opts, "table"));
    p->job = env->job_name;
    p->rows = env->rows;
    p->stop = env->stop;
    p->create = (int)opts_int(opts, "create");
    p->retry_ms = opts_int(opts, "retry-for");
    const char *mode = opts_str(opts, "mode");
    if (p->table && sql_check_name(p->table))
        return ember_err_set(err, -EMBER_EUSAGE, "sink postgres table=%s: expected a name of "
                             "letters, digits and _", p->table);
    int pk = sql_key_columns(env->rows, env->n_key_fields);
    if (!strcmp(mode, "upsert") && pk == 0)
        return ember_err_set(err, -EMBER_EUSAGE, "sink postgres mode=upsert needs rows with a "
                             "key or a window (an aggregate); use mode=append");
    p->n_pk = !strcmp(mode, "append") ? 0 : pk;
    if (!p->conninfo || !p->table || asprintf(&p->sink_id, "postgres:%s", p->table) < 0)
        return ember_err_set(err, -ENOMEM, "out of memory");
    if (sql_insert(&pg_sql, p->table, "ember_stage", p->rows, p->n_pk, sql, sizeof sql) ||
        !(p->insert_sql = strdup(sql)))
        return ember_err_set(err, -ENOMEM, "sink postgres table %s: too many columns", p->table);
    return setup(p, err);
}

static int pg_recover(sink *s, uint64_t committed_batch, ember_err *err)
{
    pg_sink *p = s->impl;
    if (p->delivered > committed_batch)
        em_log(EMBER_LOG_INFO, "sink postgres: table %s holds batches up to %" PRIu64
               " (state committed %" PRIu64 "): those are not written again", p->table,
               p->delivered, committed_batch);
    return 0;
}

static int pg_begin(sink *s, uint64_t batch, uint64_t batch_time_ms, ember_err *err)
{
    pg_sink *p = s->impl;
    if (batch <= p->delivered)
        return 1; /* in the database with its marker already */
    p->batch = batch;
    p->n_rows = 0;
    p->copy.len = 0;
    return 0;
}

static int pg_write(sink *s, const ember_record *row, ember_err *err)
{
    pg_sink *p = s->impl;
    /* COPY's text format is the tsv row format */
    uint32_t n = row->n < (uint32_t)p->rows->n ? row->n : (uint32_t)p->rows->n;
    int rc = rowfmt_append_fields(&p->copy, ROWFMT_TSV, p->rows, row, n);
    if (rc || text_append(&p->copy, "\n", 1))
        return ember_err_set(err, -ENOMEM, "out of memory");
    p->n_rows++;
    return 0;
}

static int pg_commit(sink *s, uint64_t batch, ember_err *err)
{
    pg_sink *p = s->impl;
    int rc = deliver(p, err);
    if (!rc)
        p->delivered = batch;
    return rc;
}

static void pg_close(sink *s)
{
    pg_sink *p = s->impl;
    if (!p)
        return;
    if (p->conn)
        PQfinish(p->conn);
    text_free(&p->copy);
    free(p->conninfo);
    free(p->table);
    free(p->sink_id);
    free(p->insert_sql);
    free(p);
    s->impl = NULL;
}

const sink_ops sink_postgres_ops = {
    .kind = "postgres",
    .doc = "rows into a PostgreSQL table (libpq, COPY), one transaction per batch with its "
           "marker; exactly-once",
    .options = postgres_options,
    .exactly_once = 1,
    .open = pg_open,
    .recover = pg_recover,
    .begin = pg_begin,
    .write = pg_write,
    .commit = pg_commit,
    .close = pg_close,
};
