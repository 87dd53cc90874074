/*
 * ckread: what the inspection commands (checkpoints, inspect, wal, verify,
 * restore, diff) share: argument parsing of `CMD DIR [--flag value]...` with
 * the checks that DIR is a readable checkpoint, the WAL's PLAN sequence and
 * JSON helpers; the read-only opens of the live state or a snapshot, the
 * commit record and sizes on disk come from checkpoint/ckopen.h. Nothing
 * here writes to the checkpoint directory or takes its lock.
 */
#ifndef EMBER_CKREAD_H
#define EMBER_CKREAD_H

#include "checkpoint/ckopen.h"
#include "checkpoint/commit.h"
#include "checkpoint/wal.h"
#include "tools/statefmt.h"

#include <stdio.h>

/* Parsed `ember CMD DIR ...`: flags named in `flags` ("--batch --from") take
 * a number, --format takes table|json; positional arguments after DIR go to
 * pos[]. */
typedef struct ck_args {
    const char *dir;
    const char *pos[2];
    int n_pos;
    uint64_t num[4];
    int has[4];
    const char *op;
    int json;
} ck_args;

/* Parses the arguments. Returns 0, -1 after --help (usage printed), or 2
 * on bad usage (printed). */
int ck_parse(const char *cmd, int argc, char **argv, const char *const *flags, int n_pos,
             void (*usage)(void), ck_args *a);
/* Checks DIR (exists, is a directory we may read, holds a readable JOB)
 * and loads its job spec (caller frees). NULL after one printed line. */
ember_job *ck_load(const char *cmd, const char *dir);
/* ck_parse then ck_load: 0, -1 (help), 1 (DIR unusable) or 2 (usage). */
int ck_begin(const char *cmd, int argc, char **argv, const char *const *flags, int n_pos,
             void (*usage)(void), ck_args *a, ember_job **job);
/* Exit code of a command after ck_begin returned rc (help is success). */
static inline int ck_exit_code(int rc)
{
    return rc < 0 ? 0 : rc;
}

/* The PLAN records of DIR/wal with batch > after, as recovery reads them. */
typedef struct ck_plans {
    uint64_t first, last; /* first and last PLAN batch > after; 0 if none */
    uint64_t n;           /* PLAN records > after */
    uint64_t records;     /* records of any type > after */
    uint64_t gap_prev;    /* first break in the sequence: a PLAN of batch */
    uint64_t gap_next;    /* gap_next after one of gap_prev (0: none) */
    char gap_segment[64];
    uint64_t gap_offset;
} ck_plans;

/* Scans DIR/wal (a missing WAL has no records). *dmg describes a torn or
 * corrupt record (nothing after it is read). */
EMBER_MUST_CHECK int ck_scan_plans(const char *dir, uint64_t after, ck_plans *p, wal_damage *dmg,
                                   ember_err *err);

/* 1 (and one line in msg) when the PLANs p (ck_scan_plans from 0) do not
 * reach from the oldest snapshot's next batch to the committed one: a
 * fallback to a snapshot could not replay. 0 without snapshots older than
 * the commit (the WAL is then kept only from the commit on). */
int ck_wal_gap(const char *dir, const ck_plans *p, uint64_t committed, char *msg, size_t cap);

void ck_json_offsets(FILE *out, const src_range *ends, size_t n);
void ck_text_offsets(FILE *out, const src_range *ends, size_t n);
/* A JSON string (or null for NULL). */
void ck_json_str(FILE *out, const char *s);
/* One decoded state row as a JSON object, as `ember state --format json`
 * prints it, without leading white space. */
void ck_json_row(FILE *out, const ember_job *job, const ember_record *row);

#endif
