/*
 * sigv4: AWS Signature Version 4 (docs.aws.amazon.com, "Create a signed AWS
 * API request"), with OpenSSL's SHA-256 and HMAC: a canonical request, a
 * string to sign over its hash and the credential scope, and a signing key
 * derived from the secret through the date, region, service and
 * "aws4_request". Used by source kinesis.
 */
#include "core/base/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

static void hex(const unsigned char *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

static void sha256_hex(const char *s, char out[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)s, strlen(s), d);
    hex(d, sizeof d, out);
}

static void hmac(const unsigned char *key, size_t klen, const char *msg, unsigned char out[32])
{
    unsigned int n = 32;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out, &n);
}

/* The canonical request's hash: method, path, (empty) query, the signed
 * headers lower-cased and sorted by name, their names, the body's hash. */
static void canonical_hash(const sigv4_creds *c, const sigv4_request *r, const char *amz_date,
                           const char *signed_headers, char out[65])
{
    char body_hash[65], canon[8192];
    sha256_hex(r->body, body_hash);
    snprintf(canon, sizeof canon,
             "POST\n/\n\ncontent-type:%s\nhost:%s\nx-amz-date:%s\n%s%s%sx-amz-target:%s\n\n%s\n%s",
             r->content_type, r->host, amz_date, c->token ? "x-amz-security-token:" : "",
             c->token ? c->token : "", c->token ? "\n" : "", r->target, signed_headers, body_hash);
    sha256_hex(canon, out);
}

void sigv4_sign(const sigv4_creds *c, const sigv4_request *r, char amz_date[17], char *auth,
                size_t cap)
{
    char date[9], scope[256], to_sign[512], key[512], canon_hash[65], sig[65];
    const char *signed_headers = c->token ? "content-type;host;x-amz-date;"
                                            "x-amz-security-token;x-amz-target"
                                          : "content-type;host;x-amz-date;x-amz-target";
    struct tm tm;
    unsigned char k[32];
    gmtime_r(&r->now, &tm);
    strftime(amz_date, 17, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(date, sizeof date, "%.8s", amz_date);
    canonical_hash(c, r, amz_date, signed_headers, canon_hash);
    snprintf(scope, sizeof scope, "%s/%s/%s/aws4_request", date, r->region, r->service);
    snprintf(to_sign, sizeof to_sign, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, canon_hash);
    snprintf(key, sizeof key, "AWS4%s", c->secret);
    hmac((const unsigned char *)key, strlen(key), date, k);
    hmac(k, sizeof k, r->region, k);
    hmac(k, sizeof k, r->service, k);
    hmac(k, sizeof k, "aws4_request", k);
    hmac(k, sizeof k, to_sign, k);
    hex(k, sizeof k, sig);
    snprintf(auth, cap, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
             c->key_id, scope, signed_headers, sig);
}
