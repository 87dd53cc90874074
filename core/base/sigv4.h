/*
 * sigv4: AWS Signature Version 4 for one HTTP POST to path "/" with no
 * query string (the JSON APIs: Kinesis, DynamoDB, ...). The signed headers
 * are content-type, host, x-amz-date, x-amz-target and, with a session
 * token, x-amz-security-token; the caller sends exactly those values.
 */
#ifndef EMBER_BASE_SIGV4_H
#define EMBER_BASE_SIGV4_H

#include <stddef.h>
#include <time.h>

typedef struct sigv4_creds {
    const char *key_id, *secret;
    const char *token; /* NULL: none (long-term credentials) */
} sigv4_creds;

typedef struct sigv4_request {
    const char *host; /* as in the Host header: "kinesis.us-east-1.amazonaws.com" */
    const char *region, *service;
    const char *content_type; /* "application/x-amz-json-1.1" */
    const char *target;       /* X-Amz-Target: "Kinesis_20131202.GetRecords" */
    const char *body;
    time_t now;
} sigv4_request;

/* Writes the X-Amz-Date value ("20260101T120000Z") and the Authorization
 * header's value ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
 * Signature=..."), truncated to cap. */
void sigv4_sign(const sigv4_creds *c, const sigv4_request *r, char amz_date[17], char *auth,
                size_t cap);

#endif
