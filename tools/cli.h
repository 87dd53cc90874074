/* cli: small helpers shared by the subcommands (flag values, usage errors). */
#ifndef EMBER_CLI_H
#define EMBER_CLI_H

#include <stdint.h>
#include <stdio.h>

/* Prints "ember CMD: msg" and a hint to stderr; returns 2 (bad usage). */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a non-negative integer flag value; 0 ok, -1 bad. */
int cli_u64(const char *text, uint64_t *out);
/* The value after argv[*i] (advancing *i), or NULL if missing. */
const char *cli_value(int argc, char **argv, int *i);
int cli_is_help(const char *arg);
/* "ember CMD: unknown flag '--batch'; did you mean '--batches'?" (see
 * core/base/suggest.h) against the NULL-terminated known[] (noun: "flag" or
 * "option"); returns 2. */
int cli_unknown_flag(const char *cmd, const char *noun, const char *flag,
                     const char *const *known);
/* "unknown kind 'sensor'; did you mean 'sensors'? (expected sensors, ads,
 * transactions, posts, clicks or trades)" for `ember gen`; returns 2. */
int cli_unknown_gen_kind(const char *kind);
/* The pipeline steps of a job file, one paragraph each (ember run --help). */
void cli_print_steps(FILE *out);

#endif
