/*
 * log: every message the library prints goes through em_log, one line per
 * call, to the callback set with ember_set_log (default: stderr). Library
 * code never writes to stderr itself, so an embedder decides where lines go.
 */
#ifndef EMBER_BASE_LOG_H
#define EMBER_BASE_LOG_H

#include "ember.h"

/* Formats one line (a trailing newline is dropped) and hands it to the log
 * callback. Thread-safe; lines from several threads never interleave. */
void em_log(ember_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copies the newest WARN or ERROR line logged in the process into buf
 * ("" when none yet); returns its length. Thread-safe. */
size_t em_log_last_problem(char *buf, size_t cap);

#endif
