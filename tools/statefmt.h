/* statefmt: decoding and printing of stored state rows for `ember state` and `ember diff`. */
#ifndef EMBER_STATEFMT_H
#define EMBER_STATEFMT_H

#include "core/job/job.h"
#include "state/store.h"

#include <stdio.h>

typedef enum state_format { FMT_TABLE, FMT_TSV, FMT_JSON } state_format;

/* Loads DIR/JOB (the job that made the state); prints an error and returns
 * NULL when DIR is not a checkpoint. */
ember_job *statefmt_load_job(const char *cmd, const char *dir);
/* Opens DIR/db, or DIR/snapshots/<B>/db when snapshot != 0, read-only. */
int statefmt_open(const char *cmd, const char *dir, uint64_t snapshot, store **st);
/* Fills row (key fields then aggregates) from a stored key and value;
 * vals needs SCHEMA_MAX_FIELDS entries; text results (topk) are written to
 * txt, which the row borrows. */
int statefmt_decode(const ember_job *job, const char *key, size_t klen, const char *val,
                    size_t vlen, ember_value *vals, ember_record *row, acc_text *txt,
                    ember_err *err);
void statefmt_header(FILE *out, const ember_job *job, state_format f);
void statefmt_row(FILE *out, const ember_job *job, const ember_record *row, state_format f,
                  int first);
void statefmt_footer(FILE *out, state_format f);
void json_string(FILE *out, const char *s, size_t n);
int statefmt_parse_format(const char *text, state_format *f);

#endif
