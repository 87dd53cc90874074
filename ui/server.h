/*
 * server: the status page's HTTP server over libmicrohttpd, on MHD's own
 * polling threads (a pool of UI_THREADS), so nothing it does runs on the
 * batch cycle's thread and one slow answer (a snapshot verify, a diff)
 * holds up only its own thread's connections.
 * GET only (else 405); the path is only ever compared with the route
 * table's names, never used to open anything; queries are handed to the
 * route as at most UI_MAX_ARGS decoded key=value pairs (more: 400).
 * Connection, per-IP and memory limits and a timeout keep a slow or
 * hostile client from holding more than its own connection.
 */
#ifndef EMBER_UI_SERVER_H
#define EMBER_UI_SERVER_H

#include "core/ops/text.h"
#include "ember.h"
#include <stdint.h>

#define UI_MAX_ARGS 8
#define UI_THREADS  4

typedef struct ui_query {
    const char *key[UI_MAX_ARGS];
    const char *value[UI_MAX_ARGS]; /* "" for a key without '=' */
    int n;
} ui_query;

/* printf into a text buffer; -ENOMEM when it cannot grow. */
EMBER_MUST_CHECK int ui_printf(text_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The value of key, NULL when absent. */
const char *ui_query_get(const ui_query *q, const char *key);
/* The query again as `k=v&k=v`, %-escaped (for ui_dir_api); -ENOMEM. */
EMBER_MUST_CHECK int ui_query_encode(const ui_query *q, text_buf *out);
/* 0 when every key of q is one of allowed (NULL-terminated), else -1. */
int ui_query_only(const ui_query *q, const char *const *allowed);

/* Answers one GET: fills out and *content_type (a static string), returns
 * the HTTP status. Called on the server's threads, several at a time:
 * routes must be thread-safe. */
typedef int (*ui_route_fn)(void *ctx, const char *path, const ui_query *q, text_buf *out,
                           const char **content_type);

typedef struct ui_server ui_server;

/* Parses "[ADDR:]PORT" (IPv4 dotted quad; default 127.0.0.1; port 0 picks
 * a free one). -EMBER_EUSAGE naming the problem. */
EMBER_MUST_CHECK int ui_parse_listen(const char *spec, uint32_t *addr_be, uint16_t *port,
                                     ember_err *err);
/* Starts serving; logs "ui: http://ADDR:PORT/" with the real port. */
EMBER_MUST_CHECK int ui_server_start(const char *listen, ui_route_fn route, void *ctx,
                                     ui_server **out, ember_err *err);
uint16_t ui_server_port(const ui_server *s);
/* Stops the thread, closes every connection, frees s (NULL: nothing). */
void ui_server_stop(ui_server *s);

#endif
