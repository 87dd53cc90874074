/*
 * source_socket: `source socket host=H port=P`. Connects to a TCP server (like
 * Spark's socketTextStream) and reads newline-delimited records. Not
 * replayable: each batch's records go lz4-compressed into the WAL before they
 * are processed, and a replay reads them from there. Connecting is retried
 * with backoff (up to `retries` times; a stop ends the wait); the server
 * closing the connection ends the stream (--until-idle then stops the job).
 * Records the server sent but no batch took yet are lost with the process,
 * as with any receiver without acknowledgements. `ember gen --to
 * tcp-listen://HOST:PORT` is a server for it.
 */
#include "core/base/log.h"
#include "core/source/linepull.h"
#include "core/base/log.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const opt_def socket_options[] = {
    {"host", OPT_STR, "127.0.0.1", NULL, "server to connect to"},
    {"port", OPT_INT, NULL, NULL, "TCP port"},
    {"retries", OPT_INT, "20", NULL, "connection attempts (backoff 100 ms doubling to 2 s)"},
    {0},
};

typedef struct sock_source {
    linepull pull;
    char host[256], port[16], what[300];
    int64_t retries;
    const volatile sig_atomic_t *stop; /* the job's stop flag, may be NULL */
} sock_source;

static int connect_once(sock_source *s)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(s->host, s->port, &hints, &ai) != 0)
        return -EHOSTUNREACH;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        int e = errno;
        close(fd);
        fd = -e;
    }
    freeaddrinfo(ai);
    return fd;
}

/* Sleeps delay_ms in 50 ms steps; 1 when a stop came first. */
static int sleep_unless_stopped(const sock_source *s, long delay_ms)
{
    for (long left = delay_ms; left > 0; left -= 50) {
        if (s->stop && *s->stop)
            return 1;
        struct timespec ts = {0, (left < 50 ? left : 50) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return s->stop && *s->stop;
}

static int connect_with_backoff(sock_source *s, ember_err *err)
{
    long delay_ms = 100;
    int fd = -ECONNREFUSED;
    for (int64_t i = 0; i <= s->retries; i++) {
        if ((fd = connect_once(s)) >= 0) {
            s->pull.fd = fd;
            s->pull.eof = 0;
            return 0;
        }
        if (i == s->retries)
            break;
        em_log(EMBER_LOG_WARN, "source socket %s: %s; retrying in %ld ms", s->what,
               strerror(-fd), delay_ms);
        if (sleep_unless_stopped(s, delay_ms))
            return ember_err_set(err, -ECANCELED, "source socket %s: stopped while connecting",
                                 s->what);
        delay_ms = delay_ms * 2 > 2000 ? 2000 : delay_ms * 2;
    }
    return ember_err_set(err, fd, "source socket %s: %s (gave up after %lld attempts)", s->what,
                         strerror(-fd), (long long)s->retries + 1);
}

static int sock_open(source *src, const opt_set *opts, const source_env *env, ember_err *err)
{
    sock_source *s = calloc(1, sizeof *s);
    if (!s)
        return ember_err_set(err, -ENOMEM, "out of memory");
    linepull_init(&s->pull, -1);
    snprintf(s->host, sizeof s->host, "%s", opts_str(opts, "host"));
    snprintf(s->port, sizeof s->port, "%s", opts_str(opts, "port"));
    snprintf(s->what, sizeof s->what, "%s:%s", s->host, s->port);
    s->retries = opts_int(opts, "retries");
    s->stop = env->stop;
    src->impl = s;
    return connect_with_backoff(s, err);
}

static int sock_restore(source *src, const src_range *ends, size_t n, ember_err *err)
{
    sock_source *s = src->impl;
    for (size_t i = 0; i < n; i++)
        if (ends[i].partition == 0)
            s->pull.next_seq = ends[i].to;
    return 0;
}

static int sock_plan(source *src, uint64_t budget, src_range **ranges, size_t *n,
                     src_pulled *pulled, ember_err *err)
{
    sock_source *s = src->impl;
    int rc = linepull_fill(&s->pull, 20, s->what, err);
    if (rc)
        return rc;
    linepull_take(&s->pull, budget, ranges, n, pulled);
    return 0;
}

static int sock_available(source *src, const src_range *r, ember_err *err) { return 0; }

static int sock_exhausted(source *src)
{
    sock_source *s = src->impl;
    return linepull_exhausted(&s->pull);
}

static void sock_close(source *src)
{
    sock_source *s = src->impl;
    if (!s)
        return;
    if (s->pull.fd >= 0)
        close(s->pull.fd);
    linepull_free(&s->pull);
    free(s);
    src->impl = NULL;
}

const source_ops source_socket_ops = {
    .kind = "socket",
    .doc = "newline-delimited records from a TCP server; replayed from the WAL",
    .options = socket_options,
    .replayable = 0,
    .open = sock_open,
    .restore = sock_restore,
    .plan = sock_plan,
    .read = NULL,
    .available = sock_available,
    .exhausted = sock_exhausted,
    .close = sock_close,
};
