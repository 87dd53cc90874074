/* err: formatting of ember_err, the caller-owned error every fallible call fills. */
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
