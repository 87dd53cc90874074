/*
 * options: typed option tables (in the spirit of Fluent Bit's config_map).
 * Every source, sink and step declares its options as an opt_def[] ending
 * with {0}; the job-file parser and the C API validate against it (unknown
 * options are errors), and the same table prints the reference in --help.
 */
#ifndef EMBER_OPTIONS_H
#define EMBER_OPTIONS_H

#include "ember.h"
#include <stdint.h>
#include <stdio.h>

typedef enum opt_type {
    OPT_STR,
    OPT_INT,      /* decimal integer, >= 0 */
    OPT_SIZE,     /* bytes: 4096, 64KB, 256MB, 1GB */
    OPT_DURATION, /* milliseconds: 500ms, 10s, 5m, 1h; a bare number other than 0 is an error */
    OPT_ENUM,     /* one of enum_values "a|b|c" */
    OPT_BOOL,     /* true|false|yes|no|1|0 */
} opt_type;

/* opt_def.flags */
enum {
    /* The option changes how fast, from where or how patiently input is read
     * or output written, not what a saved offset or state value means: it is
     * left out of the state layout, so a restart may change it. Every option
     * without it belongs to the layout (changing it is refused). */
    OPT_RESTARTABLE = 1,
};

/* A name ending in '.' ("kafka.") is a prefix entry: it accepts every key
 * that starts with it and goes on ("kafka.compression.codec=lz4"), for
 * options a table cannot list one by one (a library's own properties).
 * Such options keep their full key and the order given, in
 * opt_set.prefixed; their type is OPT_STR (a value is required), their
 * def is "" and they are never required. The owner validates the names and
 * values (a source's or sink's check hook). */
typedef struct opt_def {
    const char *name;
    opt_type type;
    const char *def; /* default as text; NULL = required */
    const char *enum_values;
    const char *doc;
    unsigned flags; /* OPT_* above */
} opt_def;

/* The definition named `name` in defs (an exact name, else the prefix entry
 * `name` starts with), NULL if none. */
const opt_def *opts_find_def(const opt_def *defs, const char *name);

/* One option bound to a prefix entry. */
typedef struct opt_pair {
    char *key;   /* the whole key, e.g. "kafka.compression.codec" (malloc'd) */
    char *value; /* malloc'd */
    const opt_def *def; /* the prefix entry it matched */
    int col;     /* 1-based index among the options given (for err->col) */
} opt_pair;

typedef struct opt_set {
    const opt_def *defs;
    size_t n;
    char **values; /* per def, malloc'd text (default applied; "" for a prefix entry) */
    opt_pair *prefixed; /* options of prefix entries, in the order given */
    size_t n_prefixed;
} opt_set;

/* Validates in[] against defs. On error, err->col is the 1-based index of
 * the offending option in `in` (0 for a missing required option), which the
 * job-file loader turns into a column. */
EMBER_MUST_CHECK int opts_bind(const opt_def *defs, const ember_opt *in, size_t n_in,
                               opt_set *out, ember_err *err);
void opts_free(opt_set *s);
const char *opts_str(const opt_set *s, const char *name);
/* Replaces a bound option's value (ember run --instance narrows a task's
 * source): -ENOENT when `name` is not in the table, -ENOMEM. */
EMBER_MUST_CHECK int opts_override(opt_set *s, const char *name, const char *value);
/* INT, SIZE (bytes), DURATION (ms), BOOL (0/1); aborts on a name not in defs
 * (a programming error, not bad input). */
int64_t opts_int(const opt_set *s, const char *name);
/* Parses one value of the given type (used by opts_bind and the CLI): 0,
 * -EINVAL, -ERANGE, or -EDOM for a duration without a unit ("5"). */
EMBER_MUST_CHECK int opts_parse_value(opt_type t, const char *text, int64_t *out);
void opts_print(FILE *out, const char *title, const opt_def *defs);
/* 1 when d is a prefix entry (its name ends in '.'). */
int opts_is_prefix(const opt_def *d);

#endif
