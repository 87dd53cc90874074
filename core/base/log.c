/* log: the one way out for library messages (see log.h). */
#include "core/base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static ember_log_fn log_fn;
static void *log_user;
static char last_problem[512]; /* the newest WARN/ERROR line, for the status page */

void ember_set_log(ember_log_fn fn, void *user)
{
    pthread_mutex_lock(&log_lock);
    log_fn = fn;
    log_user = user;
    pthread_mutex_unlock(&log_lock);
}

void em_log(ember_log_level level, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    pthread_mutex_lock(&log_lock);
    if (level <= EMBER_LOG_WARN)
        snprintf(last_problem, sizeof last_problem, "%s", line);
    if (log_fn)
        log_fn(level, line, log_user);
    else
        fprintf(stderr, "%s\n", line);
    pthread_mutex_unlock(&log_lock);
}

size_t em_log_last_problem(char *buf, size_t cap)
{
    pthread_mutex_lock(&log_lock);
    snprintf(buf, cap, "%s", last_problem);
    pthread_mutex_unlock(&log_lock);
    return strlen(buf);
}
