/*
 * source_http: `source http listen=[HOST:]PORT [path=/ingest] [max-body=1MB]
 * [max-pending=64MB]`, an acknowledging receiver. Clients POST
 * newline-delimited records; the answer is 200 only once the records are
 * durable in the WAL (the batch that took them wrote them as DATA and
 * fsynced, see the `durable` hook), so an acknowledged record is never lost.
 * A client that gets no answer (ember died) or 503 sends again; records it
 * sent twice are the job's to dedupe (an id per record and `dedupe`).
 *
 * Answers: 200 "accepted N records" when durable; 413 for a body over
 * max-body; 503 with Retry-After: 1 while more than max-pending bytes wait
 * for a batch (backpressure) or while the job stops; 404 for another path;
 * 405 for another method. Loopback (127.0.0.1) unless listen names a host.
 * Through libmicrohttpd (Debian's libmicrohttpd), a thread per connection:
 * the handler waits on a condition variable for its records' durability.
 *
 * Offsets: partition 0, record sequence numbers, like the socket source;
 * not replayable: replays read the WAL's DATA.
 */
#include "core/base/log.h"
#include "core/ops/text.h"
#include "core/source/source.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const opt_def http_options[] = {
    {"listen", OPT_STR, NULL, NULL, "[HOST:]PORT to listen on (HOST defaults to 127.0.0.1)",
     OPT_RESTARTABLE},
    {"path", OPT_STR, "/ingest", NULL, "the URL path clients POST to", OPT_RESTARTABLE},
    {"max-body", OPT_SIZE, "1MB", NULL, "largest request body (larger: 413)", OPT_RESTARTABLE},
    {"max-pending", OPT_SIZE, "64MB", NULL,
     "bytes received but not yet in a batch before new posts get 503 (backpressure)",
     OPT_RESTARTABLE},
    {0},
};

typedef struct http_source {
    struct MHD_Daemon *daemon;
    char path[256], what[300];
    int64_t max_body, max_pending;
    pthread_mutex_t lock;
    pthread_cond_t durable_cv;
    text_buf queue;          /* received, not yet planned: whole lines */
    uint64_t queue_records;
    uint64_t received_bytes; /* every byte queued since start (a position) */
    uint64_t planned_bytes;  /* bytes handed to batches so far */
    uint64_t durable_bytes;  /* bytes whose batch's WAL DATA is fsynced */
    uint64_t handed_bytes;   /* planned by the last plan, durable at its hook */
    uint64_t next_seq;
    src_range range;
    text_buf planned; /* the last plan's records (owned until the next plan) */
    int closing;
} http_source;

/* One request's body as it arrives. */
typedef struct http_request {
    text_buf body;
    int too_large;
} http_request;

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *text,
                              int retry_after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (retry_after)
        MHD_add_response_header(r, "Retry-After", "1");
    MHD_add_response_header(r, "Content-Type", "text/plain");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t lines = 0;
    for (const char *end = p + n; (p = memchr(p, '\n', (size_t)(end - p))); p++)
        lines++;
    return lines;
}

/* Queues the body and waits until a batch made it durable: 0, or 503 when
 * the queue is full or the job stops first. */
static unsigned enqueue_and_wait(http_source *h, http_request *q, uint64_t *records)
{
    if (q->body.len && q->body.data[q->body.len - 1] != '\n' && text_append(&q->body, "\n", 1))
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    *records = count_lines(q->body.data, q->body.len);
    pthread_mutex_lock(&h->lock);
    if (h->closing || h->queue.len + q->body.len > (uint64_t)h->max_pending ||
        text_append(&h->queue, q->body.data, q->body.len)) {
        pthread_mutex_unlock(&h->lock);
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    }
    h->queue_records += *records;
    h->received_bytes += q->body.len;
    uint64_t mine = h->received_bytes;
    while (!h->closing && h->durable_bytes < mine)
        pthread_cond_wait(&h->durable_cv, &h->lock);
    int ok = h->durable_bytes >= mine;
    pthread_mutex_unlock(&h->lock);
    return ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **state)
{
    http_source *h = cls;
    http_request *q = *state;
    if (strcmp(url, h->path) != 0)
        return answer(c, MHD_HTTP_NOT_FOUND, "no such path\n", 0);
    if (strcmp(method, "POST") != 0)
        return answer(c, MHD_HTTP_METHOD_NOT_ALLOWED, "POST records here\n", 0);
    if (!q) { /* first call: headers only */
        if (!(q = calloc(1, sizeof *q)))
            return MHD_NO;
        *state = q;
        return MHD_YES;
    }
    if (*upload_size) {
        if (q->body.len + *upload_size > (uint64_t)h->max_body)
            q->too_large = 1;
        else if (text_append(&q->body, upload, *upload_size))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->too_large)
        return answer(c, MHD_HTTP_CONTENT_TOO_LARGE, "body over max-body\n", 0);
    uint64_t records = 0;
    unsigned status = enqueue_and_wait(h, q, &records);
    char text[64];
    snprintf(text, sizeof text, "accepted %llu records\n", (unsigned long long)records);
    return status == MHD_HTTP_OK ? answer(c, status, text, 0)
                                 : answer(c, status, "not accepted, send again\n", 1);
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
                    enum MHD_RequestTerminationCode why)
{
    http_request *q = *state;
    if (q) {
        text_free(&q->body);
        free(q);
        *state = NULL;
    }
}

/* "8080" or "127.0.0.1:8080" or "0.0.0.0:8080" into addr. */
static int parse_listen(const char *text, struct sockaddr_in *addr, ember_err *err)
{
    char host[64] = "127.0.0.1";
    const char *colon = strrchr(text, ':'), *port = colon ? colon + 1 : text;
    if (colon && (size_t)(colon - text) < sizeof host)
        snprintf(host, sizeof host, "%.*s", (int)(colon - text), text);
    char *end;
    long p = strtol(port, &end, 10);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)p);
    if (*end || p < 1 || p > 65535 || inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return ember_err_set(err, -EMBER_EUSAGE, "source http listen=%s: expected [IPv4:]PORT",
                             text);
    return 0;
}

static int http_open(source *src, const opt_set *opts, const source_env *env, ember_err *err)
{
    struct sockaddr_in addr;
    http_source *h = calloc(1, sizeof *h);
    if (!h)
        return ember_err_set(err, -ENOMEM, "out of memory");
    src->impl = h;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->durable_cv, NULL);
    snprintf(h->path, sizeof h->path, "%s", opts_str(opts, "path"));
    snprintf(h->what, sizeof h->what, "%s", opts_str(opts, "listen"));
    h->max_body = opts_int(opts, "max-body");
    h->max_pending = opts_int(opts, "max-pending");
    int rc = parse_listen(opts_str(opts, "listen"), &addr, err);
    if (rc)
        return rc;
    h->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                                     MHD_USE_ERROR_LOG,
                                 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, on_done,
                                 h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_END);
    if (!h->daemon)
        return ember_err_set(err, -EADDRINUSE, "source http: cannot listen on %s (in use, or "
                             "not an address of this machine)", h->what);
    em_log(EMBER_LOG_INFO, "source http: listening on %s, POST records to %s", h->what, h->path);
    return 0;
}

static int http_restore(source *src, const src_range *ends, size_t n, ember_err *err)
{
    http_source *h = src->impl;
    for (size_t i = 0; i < n; i++)
        if (ends[i].partition == 0)
            h->next_seq = ends[i].to;
    return 0;
}

/* Byte length of the first `budget` lines of the queue. */
static size_t lines_prefix(const text_buf *q, uint64_t budget, uint64_t *lines)
{
    size_t off = 0;
    *lines = 0;
    while (*lines < budget && off < q->len) {
        const char *nl = memchr(q->data + off, '\n', q->len - off);
        off = (size_t)(nl - q->data) + 1;
        ++*lines;
    }
    return off;
}

static int http_plan(source *src, uint64_t budget, src_range **ranges, size_t *n,
                     src_pulled *pulled, ember_err *err)
{
    http_source *h = src->impl;
    uint64_t lines = 0;
    pthread_mutex_lock(&h->lock);
    size_t bytes = lines_prefix(&h->queue, budget, &lines);
    h->planned.len = 0;
    int rc = text_append(&h->planned, h->queue.data, bytes);
    if (!rc && bytes) {
        memmove(h->queue.data, h->queue.data + bytes, h->queue.len - bytes);
        h->queue.len -= bytes;
        h->queue_records -= lines;
        h->planned_bytes += bytes;
        h->handed_bytes = h->planned_bytes;
    }
    pthread_mutex_unlock(&h->lock);
    if (rc)
        return ember_err_set(err, -ENOMEM, "out of memory");
    h->range = (src_range){0, h->next_seq, h->next_seq + lines};
    h->next_seq += lines;
    *ranges = &h->range;
    *n = 1;
    *pulled = (src_pulled){bytes ? h->planned.data : NULL, bytes, lines};
    return 0;
}

/* The batch that took the last plan's records has them in the WAL, fsynced:
 * their posts may now be answered 200. */
static void http_durable(source *src)
{
    http_source *h = src->impl;
    pthread_mutex_lock(&h->lock);
    h->durable_bytes = h->handed_bytes;
    pthread_cond_broadcast(&h->durable_cv);
    pthread_mutex_unlock(&h->lock);
}

static int http_available(source *src, const src_range *r, ember_err *err) { return 0; }

static void http_close(source *src)
{
    http_source *h = src->impl;
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->closing = 1; /* waiting posts get 503: their records may not be durable */
    pthread_cond_broadcast(&h->durable_cv);
    pthread_mutex_unlock(&h->lock);
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    text_free(&h->queue);
    text_free(&h->planned);
    pthread_cond_destroy(&h->durable_cv);
    pthread_mutex_destroy(&h->lock);
    free(h);
    src->impl = NULL;
}

const source_ops source_http_ops = {
    .kind = "http",
    .doc = "records POSTed over HTTP, answered 200 once durable in the WAL; replayed from the "
           "WAL",
    .options = http_options,
    .replayable = 0,
    .open = http_open,
    .restore = http_restore,
    .plan = http_plan,
    .read = NULL,
    .available = http_available,
    .durable = http_durable,
    .close = http_close,
};
