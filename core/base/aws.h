/*
 * aws: a client of an AWS JSON 1.1 API (Kinesis, ...): POST / with an
 * X-Amz-Target, signed with Signature Version 4 (core/base/sigv4), over
 * libcurl. Credentials come from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN. Failures worth retrying (no connection, throttling,
 * 5xx) are retried with backoff, one log line per change of state, polling
 * the stop flag every <= 250 ms, for up to timeout_ms (0: forever).
 * One thread at a time per client.
 */
#ifndef EMBER_BASE_AWS_H
#define EMBER_BASE_AWS_H

#include "core/base/sigv4.h"
#include "ember.h"

#include <jansson.h>
#include <signal.h>
#include <stdint.h>

typedef struct aws_client {
    char *url, *host, *region;
    const char *service, *api; /* "kinesis", "Kinesis_20131202" */
    char what[300];            /* names the caller in messages: "source kinesis stream S" */
    sigv4_creds creds;         /* borrowed from the environment */
    int64_t timeout_ms;
    const volatile sig_atomic_t *stop;
    void *curl;
    char state[300]; /* the failure last logged; "" while healthy */
} aws_client;

/* endpoint "" is https://SERVICE.REGION.amazonaws.com; region "" is
 * $AWS_REGION, else us-east-1. -EINVAL without credentials or for an
 * endpoint that is not a URL. aws_close even after a failure. */
EMBER_MUST_CHECK int aws_open(aws_client *c, const char *service, const char *api,
                              const char *endpoint, const char *region, const char *what,
                              const volatile sig_atomic_t *stop, int64_t timeout_ms,
                              ember_err *err);
/* Sends operation op with body req (takes ownership of req); *out is the
 * answer (the caller's to json_decref). -ENOENT for ResourceNotFound,
 * -ESTALE for an expired iterator, -ETIMEDOUT when timeout_ms passed,
 * -ECANCELED when stopped, -EIO for any other refusal. */
EMBER_MUST_CHECK int aws_call(aws_client *c, const char *op, json_t *req, json_t **out,
                              ember_err *err);
void aws_close(aws_client *c);

#endif
