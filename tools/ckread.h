/*
 * ckread: what the inspection commands (checkpoints, inspect, wal, verify,
 * restore, diff) share: argument parsing of `CMD DIR [--flag value]...`,
 * the live commit record, sizes on disk and JSON helpers.
 */
#ifndef EMBER_CKREAD_H
#define EMBER_CKREAD_H

#include "checkpoint/commit.h"
#include "tools/statefmt.h"

#include <stdio.h>

/* Parsed `ember CMD DIR ...`: flags named in `flags` ("--batch --from") take
 * a number, --format takes table|json; positional arguments after DIR go to
 * pos[]. Returns 0, -1 after --help (usage printed), or 2 on bad usage. */
typedef struct ck_args {
    const char *dir;
    const char *pos[2];
    int n_pos;
    uint64_t num[4];
    int has[4];
    const char *op;
    int json;
} ck_args;

int ck_parse(const char *cmd, int argc, char **argv, const char *const *flags, int n_pos,
             void (*usage)(void), ck_args *a);
/* Reads the live commit record read-only; 1 when nothing is committed yet,
 * 0 when read, -1 on an error (printed). */
int ck_read_commit(const char *cmd, const char *dir, commit_record *c);
/* Bytes of regular files under path. */
uint64_t ck_du(const char *path);
void ck_json_offsets(FILE *out, const src_range *ends, size_t n);
void ck_text_offsets(FILE *out, const src_range *ends, size_t n);

#endif
