/* err: formatting of ember_err, the caller-owned error every fallible call
 * fills, and the names of error codes (ember_strerror). */
#include "ember.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int err_vset(ember_err *err, int code, int col, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        err->col = col;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
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
