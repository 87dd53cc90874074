/*
 * steps: the tables of the job language. Every job-file line starts with a
 * step name found in job_steps[], which says how the rest of the line is
 * read and which API call takes it; parse formats are parse_formats[]. The
 * loader, the messages that list what is expected, `ember run --help` and
 * the README's tables (`ember reference`) are all made from these tables.
 */
#ifndef EMBER_JOB_STEPS_H
#define EMBER_JOB_STEPS_H

#include "core/base/arena.h"
#include "core/ops/schema.h"
#include "ember.h"
#include <stddef.h>

/* How the rest of a step's line is read. */
typedef enum step_form {
    FORM_NAME,         /* job NAME */
    FORM_KIND_OPTIONS, /* source KIND key=value ... */
    FORM_OPTIONS,      /* batch key=value ... */
    FORM_TEXT,         /* filter EXPR: the rest of the line */
} step_form;

typedef struct step_def {
    const char *name;
    step_form form;
    const char *syntax; /* what follows the name, for help and the README */
    const char *doc;
    int (*kind_fn)(ember_job *job, const char *kind, const ember_opt *opts, size_t n,
                   ember_err *err); /* FORM_KIND_OPTIONS */
    int (*opts_fn)(ember_job *job, const ember_opt *opts, size_t n,
                   ember_err *err);                                  /* FORM_OPTIONS */
    int (*text_fn)(ember_job *job, const char *text, ember_err *err); /* FORM_TEXT */
    void (*kinds)(char *buf, size_t cap); /* FORM_KIND_OPTIONS: the kinds, for messages */
    const char *arg_what; /* FORM_KIND_OPTIONS without kinds: what the first word is */
} step_def;

/* NULL-name-terminated, in the order steps may appear. */
extern const step_def job_steps[];
const step_def *step_find(const char *name);
/* "job, batch, ... or sink" */
void step_names_text(char *buf, size_t cap);

typedef struct parse_format parse_format;
struct parse_format {
    const char *name;
    char delim; /* field separator of csv/tsv */
    const char *doc;
    /* Fills out[0..s->n) from one record line; strings may point into the
     * line or into scratch. delim is the job's (the separator, with
     * CSV_NO_QUOTES when quoting is off). Called from worker threads. */
    int (*parse)(int delim, const char *line, size_t len, const schema *s, ember_value *out,
                 arena *scratch, ember_err *err);
};

extern const parse_format parse_formats[];
const parse_format *parse_format_find(const char *name);
void parse_format_names_text(char *buf, size_t cap);

#endif
