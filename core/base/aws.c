/*
 * aws: SigV4-signed POSTs of an AWS JSON 1.1 API over libcurl, with retries
 * (see aws.h). Used by source kinesis.
 */
#include "core/base/aws.h"
#include "core/base/clock.h"
#include "core/base/log.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS        250
#define BACKOFF_MAX_MS 5000

typedef struct reply {
    char *data;
    size_t n;
} reply;

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    reply *r = ctx;
    char *grown = realloc(r->data, r->n + size * n + 1);
    if (!grown)
        return 0;
    memcpy(grown + r->n, p, size * n);
    r->n += size * n;
    grown[r->n] = '\0';
    r->data = grown;
    return size * n;
}

static struct curl_slist *headers(const aws_client *c, const char *op, const char *body)
{
    char target[128], amzdate[17], line[2048], auth[1024];
    snprintf(target, sizeof target, "%s.%s", c->api, op);
    sigv4_sign(&c->creds,
               &(sigv4_request){c->host, c->region, c->service, "application/x-amz-json-1.1",
                                target, body, time(NULL)},
               amzdate, auth, sizeof auth);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/x-amz-json-1.1");
    snprintf(line, sizeof line, "Host: %s", c->host);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "X-Amz-Date: %s", amzdate);
    h = curl_slist_append(h, line);
    snprintf(line, sizeof line, "X-Amz-Target: %s", target);
    h = curl_slist_append(h, line);
    if (c->creds.token) {
        snprintf(line, sizeof line, "X-Amz-Security-Token: %s", c->creds.token);
        h = curl_slist_append(h, line);
    }
    h = curl_slist_append(h, "Expect:");
    snprintf(line, sizeof line, "Authorization: %s", auth);
    return curl_slist_append(h, line);
}

/* An answer other than 200: -EAGAIN (worth retrying), -ENOENT, -ESTALE
 * (expired iterator) or -EIO, with the service's type and message. */
static int answer_error(aws_client *c, const char *op, long status, json_t *j, ember_err *err)
{
    const char *type = json_string_value(json_object_get(j, "__type"));
    const char *msg = json_string_value(json_object_get(j, "message"));
    type = type ? strrchr(type, '#') ? strrchr(type, '#') + 1 : type : "error";
    int code = status >= 500 || strstr(type, "Throughput") || strstr(type, "LimitExceeded")
                   ? -EAGAIN
               : strstr(type, "ResourceNotFound") ? -ENOENT
               : strstr(type, "ExpiredIterator")  ? -ESTALE
                                                  : -EIO;
    return ember_err_set(err, code, "%s: %s: HTTP %ld %s: %s", c->what, op, status, type,
                         msg ? msg : "(no message)");
}

/* One request; *out is the answer's JSON (the caller's to free). */
static int post_once(aws_client *c, const char *op, const char *body, json_t **out, ember_err *err)
{
    reply r = {0};
    long status = 0;
    struct curl_slist *h = headers(c, op, body);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &r);
    CURLcode cc = curl_easy_perform(c->curl);
    curl_slist_free_all(h);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    json_t *j = cc == CURLE_OK ? json_loadb(r.data ? r.data : "", r.n, 0, NULL) : NULL;
    int rc = cc != CURLE_OK
                 ? ember_err_set(err, -EAGAIN, "%s: %s: %s", c->what, op, curl_easy_strerror(cc))
             : status == 200 && j ? 0
                                  : answer_error(c, op, status, j, err);
    if (!rc)
        *out = j;
    else
        json_decref(j);
    free(r.data);
    return rc;
}

/* Sleeps ms, polling the stop flag; -ECANCELED when it is set. */
static int pause_ms(aws_client *c, int ms, ember_err *err)
{
    for (int left = ms; !(c->stop && *c->stop); left -= POLL_MS) {
        if (left <= 0)
            return 0;
        struct timespec t = {0, (long)(left < POLL_MS ? left : POLL_MS) * 1000000L};
        nanosleep(&t, NULL);
    }
    return ember_err_set(err, -ECANCELED, "%s: stopped while waiting for %s", c->what, c->host);
}

/* A request with retries of transient failures (one line per new failure). */
int aws_call(aws_client *c, const char *op, json_t *req, json_t **out, ember_err *err)
{
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!body)
        return ember_err_set(err, -ENOMEM, "out of memory");
    double give_up = em_mono_ms() + (double)c->timeout_ms;
    int rc, wait = 100;
    while ((rc = post_once(c, op, body, out, err)) == -EAGAIN) {
        if (strcmp(c->state, err->msg)) {
            em_log(EMBER_LOG_WARN, "%s; retrying", err->msg);
            snprintf(c->state, sizeof c->state, "%s", err->msg);
        }
        if (c->timeout_ms && em_mono_ms() >= give_up) {
            ember_err_prefix(err, "gave up after %lld ms", (long long)c->timeout_ms);
            rc = err->code = -ETIMEDOUT;
            break;
        }
        if ((rc = pause_ms(c, wait, err)))
            break;
        wait = wait * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait * 2;
    }
    if (!rc && *c->state) {
        em_log(EMBER_LOG_INFO, "%s: %s answers again", c->what, c->host);
        c->state[0] = '\0';
    }
    free(body);
    return rc;
}

/* https://SERVICE.REGION.amazonaws.com or endpoint; host[:port] for the signature. */
static int set_endpoint(aws_client *c, const char *endpoint, ember_err *err)
{
    char def[256];
    snprintf(def, sizeof def, "https://%s.%s.amazonaws.com", c->service, c->region);
    c->url = strdup(*endpoint ? endpoint : def);
    const char *h = c->url ? strstr(c->url, "://") : NULL;
    if (!c->url)
        return ember_err_set(err, -ENOMEM, "out of memory");
    if (!h || !h[3])
        return ember_err_set(err, -EINVAL,
                             "%s: endpoint '%s' is not a URL (expected e.g. "
                             "http://127.0.0.1:4567)",
                             c->what, c->url);
    h += 3;
    c->host = strndup(h, strcspn(h, "/?#"));
    return c->host ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
}

int aws_open(aws_client *c, const char *service, const char *api, const char *endpoint,
             const char *region, const char *what, const volatile sig_atomic_t *stop,
             int64_t timeout_ms, ember_err *err)
{
    const char *env_region = getenv("AWS_REGION"), *token = getenv("AWS_SESSION_TOKEN");
    *c = (aws_client){.service = service, .api = api, .timeout_ms = timeout_ms, .stop = stop};
    snprintf(c->what, sizeof c->what, "%s", what);
    c->region = strdup(*region ? region : env_region && *env_region ? env_region : "us-east-1");
    c->creds = (sigv4_creds){getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"),
                             token && *token ? token : NULL};
    if (!c->region)
        return ember_err_set(err, -ENOMEM, "out of memory");
    if (!c->creds.key_id || !*c->creds.key_id || !c->creds.secret || !*c->creds.secret)
        return ember_err_set(err, -EINVAL,
                             "%s: set AWS_ACCESS_KEY_ID and "
                             "AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary "
                             "credentials)",
                             what);
    int rc = set_endpoint(c, endpoint, err);
    if (!rc && !(c->curl = curl_easy_init()))
        rc = ember_err_set(err, -ENOMEM, "%s: cannot start libcurl", what);
    if (!rc) {
        curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
        curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
        curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    }
    return rc;
}

void aws_close(aws_client *c)
{
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free(c->url);
    free(c->host);
    free(c->region);
    *c = (aws_client){0};
}
