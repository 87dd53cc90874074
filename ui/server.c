/* server: the status page's HTTP server (see server.h). */
#include "ui/server.h"
#include "core/base/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits: a client gets at most PER_IP connections of CONN_LIMIT, each
 * idle at most TIMEOUT_S, and a request (line and headers) fits in
 * MEMORY_BYTES (MHD answers 414/431 past it). */
#define CONN_LIMIT   64
#define PER_IP       32
#define TIMEOUT_S    10
#define MEMORY_BYTES (32 * 1024)

struct ui_server {
    struct MHD_Daemon *d;
    ui_route_fn route;
    void *ctx;
    uint16_t port;
};

int ui_printf(text_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || text_reserve(b, (size_t)n + 1))
        return -ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

const char *ui_query_get(const ui_query *q, const char *key)
{
    for (int i = 0; i < q->n; i++)
        if (!strcmp(q->key[i], key))
            return q->value[i];
    return NULL;
}

static int escape(text_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (; *s && !rc; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            rc = text_append(out, (const char *)&c, 1);
        else
            rc = text_append(out, (const char[]){'%', hex[c >> 4], hex[c & 15]}, 3);
    }
    return rc;
}

int ui_query_encode(const ui_query *q, text_buf *out)
{
    int rc = 0;
    for (int i = 0; i < q->n && !rc; i++) {
        if (i)
            rc = text_append(out, "&", 1);
        rc = rc ? rc : escape(out, q->key[i]);
        rc = rc ? rc : text_append(out, "=", 1);
        rc = rc ? rc : escape(out, q->value[i]);
    }
    if (!rc && !(rc = text_reserve(out, 1)))
        out->data[out->len] = '\0'; /* a C string for ui_dir_api; len leaves it out */
    return rc;
}

int ui_query_only(const ui_query *q, const char *const *allowed)
{
    for (int i = 0; i < q->n; i++) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, q->key[i]))
            a++;
        if (!*a)
            return -1;
    }
    return 0;
}

int ui_parse_listen(const char *spec, uint32_t *addr_be, uint16_t *port, ember_err *err)
{
    const char *colon = strrchr(spec, ':'), *p = colon ? colon + 1 : spec;
    char host[64] = "127.0.0.1", *end;
    struct in_addr a;
    if (colon) {
        size_t n = (size_t)(colon - spec);
        if (n == 0 || n >= sizeof host)
            return ember_err_set(err, -EMBER_EUSAGE, "listen address '%s': expected [ADDR:]PORT",
                                 spec);
        memcpy(host, spec, n);
        host[n] = '\0';
    }
    errno = 0;
    unsigned long v = strtoul(p, &end, 10);
    if (!*p || *end || errno || v > 65535 || *p == '-' || *p == '+')
        return ember_err_set(err, -EMBER_EUSAGE,
                             "listen address '%s': the port must be a number from 0 to 65535",
                             spec);
    if (inet_pton(AF_INET, host, &a) != 1)
        return ember_err_set(err, -EMBER_EUSAGE, "listen address '%s': '%s' is not an IPv4 address",
                             spec, host);
    *addr_be = a.s_addr;
    *port = (uint16_t)v;
    return 0;
}

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    ui_query *q = cls;
    if (q->n == UI_MAX_ARGS) {
        q->n = UI_MAX_ARGS + 1; /* too many: the request gets 400 */
        return MHD_NO;
    }
    q->key[q->n] = key;
    q->value[q->n] = value ? value : "";
    q->n++;
    return MHD_YES;
}

static enum MHD_Result reply(struct MHD_Connection *c, int status, const char *type,
                             const char *body, size_t len)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (status == 405)
        MHD_add_response_header(r, "Allow", "GET");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, int status, const char *msg)
{
    return reply(c, status, "text/plain; charset=utf-8", msg, strlen(msg));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_bytes, void **con_cls)
{
    ui_server *s = cls;
    ui_query q = {.n = 0};
    /* Answered at the first call, before any body is read: MHD discards
     * what a client still sends and closes the connection after. */
    if (strcmp(method, "GET"))
        return reply_text(c, 405, "only GET is served here\n");
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &q);
    if (q.n > UI_MAX_ARGS)
        return reply_text(c, 400, "too many query arguments\n");
    text_buf out = {0};
    const char *type = "text/plain; charset=utf-8";
    int status = s->route(s->ctx, url, &q, &out, &type);
    enum MHD_Result ok = reply(c, status, type, out.data ? out.data : "", out.len);
    text_free(&out);
    return ok;
}

static int start_daemon(ui_server *s, uint32_t addr_be, uint16_t port, ember_err *err)
{
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = addr_be};
    s->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, port, NULL, NULL, on_request, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)CONN_LIMIT, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)PER_IP,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)TIMEOUT_S, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)MEMORY_BYTES, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)UI_THREADS, MHD_OPTION_END);
    if (!s->d) {
        char a[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &addr_be, a, sizeof a);
        return ember_err_set(err, -EADDRINUSE,
                             "ui: cannot listen on %s:%u (in use, or not an address of this "
                             "machine)",
                             a, (unsigned)port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info && info->port ? info->port : port;
    return 0;
}

int ui_server_start(const char *listen, ui_route_fn route, void *ctx, ui_server **out,
                    ember_err *err)
{
    uint32_t addr_be;
    uint16_t port;
    int rc = ui_parse_listen(listen, &addr_be, &port, err);
    if (rc)
        return rc;
    ui_server *s = calloc(1, sizeof *s);
    if (!s)
        return ember_err_set(err, -ENOMEM, "ui: out of memory");
    s->route = route;
    s->ctx = ctx;
    if ((rc = start_daemon(s, addr_be, port, err))) {
        free(s);
        return rc;
    }
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &addr_be, a, sizeof a);
    em_log(EMBER_LOG_INFO, "ui: http://%s:%u/", a, (unsigned)s->port);
    *out = s;
    return 0;
}

uint16_t ui_server_port(const ui_server *s)
{
    return s->port;
}

void ui_server_stop(ui_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    free(s);
}
