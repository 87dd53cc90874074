/* statefmt: decoding and printing of stored state rows for `ember state` and `ember diff`. */
#ifndef EMBER_STATEFMT_H
#define EMBER_STATEFMT_H

#include "core/job/job.h"
#include "state/rows.h"
#include "state/store.h"

#include <stdio.h>

typedef enum state_format { FMT_TABLE, FMT_TSV, FMT_JSON } state_format;

/* Loads DIR/JOB (the job that made the state); prints an error and returns
 * NULL when DIR is not a checkpoint. */
ember_job *statefmt_load_job(const char *cmd, const char *dir);
/* Opens DIR/db, or DIR/snapshots/<B>/db when snapshot != 0, read-only. */
int statefmt_open(const char *cmd, const char *dir, uint64_t snapshot, store **st);
void statefmt_header(FILE *out, const ember_job *job, state_format f);
void statefmt_row(FILE *out, const ember_job *job, const ember_record *row, state_format f,
                  int first);
void statefmt_footer(FILE *out, state_format f);
void statefmt_json_string(FILE *out, const char *s, size_t n);
int statefmt_parse_format(const char *text, state_format *f);

/* One cell of a decoded row as text: value_format's text (floats the
 * shortest that reads back), except that in FMT_TABLE the window bounds are
 * ISO-8601 UTC. Returns the kind of cell for JSON. */
typedef enum cell_kind { CELL_NUM, CELL_STR, CELL_NULL } cell_kind;
cell_kind statefmt_cell(const ember_job *job, const ember_record *row, int i, state_format f,
                        char *buf, size_t cap);
/* Rows out in one of the formats: JSON objects, TSV with a header line, or
 * a table whose columns are as wide as their widest cell (the first 1000
 * rows are held to measure them). With `lazy`, nothing (not even the header
 * or "[") is printed unless a row comes. */
#define EMIT_MEASURE_ROWS 1000
typedef struct emitter {
    FILE *out;
    state_format fmt;
    int n, lazy, started;
    const char *names[SCHEMA_MAX_FIELDS];
    int width[SCHEMA_MAX_FIELDS];
    uint64_t rows;
    char *held; /* table: rows held for measuring, cells separated by '\0' */
    size_t held_len, held_cap, held_rows;
} emitter;
void emit_begin(emitter *e, FILE *out, state_format f, const char *const *names, int n, int lazy);
void emit_row(emitter *e, char *const *cells, const cell_kind *kinds);
void emit_end(emitter *e);

#endif
