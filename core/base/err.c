/* err: formatting of ember_err, the caller-owned error every fallible call
 * fills, and the names of error codes (ember_strerror). */
#include "core/base/utf8.h"
#include "ember.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A message quotes what it found (a job file's word, a key, a record):
 * from a damaged file that may be any bytes. Control bytes and bytes that
 * are not UTF-8 are written \xNN, so every message is one line of text. */
static void clean_message(char *msg, size_t cap)
{
    char out[sizeof ((ember_err *)0)->msg];
    const unsigned char *p = (const unsigned char *)msg, *end = p + strlen(msg);
    size_t o = 0;
    while (p < end && o + 5 < sizeof out) {
        size_t n = *p >= 0x80 ? em_utf8_len(p, end) : (*p >= 0x20 || *p == '\t') && *p != 0x7f;
        if (n) {
            if (o + n >= sizeof out)
                break;
            memcpy(out + o, p, n);
            o += n;
            p += n;
            continue;
        }
        o += (size_t)snprintf(out + o, sizeof out - o, "\\x%02x", *p++);
    }
    out[o] = '\0';
    snprintf(msg, cap, "%s", out);
}

static int err_vset(ember_err *err, int code, int col, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        err->col = col;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        clean_message(err->msg, sizeof err->msg);
    }
    return code;
}

int ember_err_set(ember_err *err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int ember_err_set_col(ember_err *err, int code, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(err, code, col, fmt, ap);
    va_end(ap);
    return code;
}

int ember_err_prefix(ember_err *err, const char *fmt, ...)
{
    char prefix[256];
    char old[sizeof err->msg];
    va_list ap;

    if (!err)
        return 0;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, old);
    clean_message(err->msg, sizeof err->msg);
    return err->code;
}

/* One entry per EMBER_E* code; test_api checks that none is missing. */
static const char *const ember_codes[] = {
    [EMBER_EUSAGE - EMBER_EUSAGE] = "usage error (bad flag or job file)",
    [EMBER_ECORRUPT - EMBER_EUSAGE] = "checksum mismatch or torn record",
    [EMBER_ELOCKED - EMBER_EUSAGE] = "checkpoint directory locked by another process",
    [EMBER_EINCOMPAT - EMBER_EUSAGE] = "job incompatible with the stored state",
    [EMBER_EDATALOSS - EMBER_EUSAGE] = "planned input no longer available",
    [EMBER_EBADRECORD - EMBER_EUSAGE] = "bad record",
    [EMBER_EFENCED - EMBER_EUSAGE] = "fenced by another instance",
};

const char *ember_strerror(int code)
{
    long c = code < 0 ? -(long)code : code;
    size_t n_codes = sizeof ember_codes / sizeof *ember_codes;
    if (c == 0)
        return "success";
    if (c >= EMBER_EUSAGE && (size_t)(c - EMBER_EUSAGE) < n_codes && ember_codes[c - EMBER_EUSAGE])
        return ember_codes[c - EMBER_EUSAGE];
    /* glibc's static text; strerror may format into a shared buffer */
    const char *s = c < EMBER_EUSAGE ? strerrordesc_np((int)c) : NULL;
    return s ? s : "unknown error";
}
