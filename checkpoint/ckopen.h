/*
 * ckopen: read-only access to a checkpoint directory for whoever only looks
 * (the inspection commands, the checkpoint API of the status page): the
 * live state or a snapshot opened read-only and judged, its commit record,
 * sizes on disk. Nothing here writes to the directory or takes its lock, so
 * it works while a job runs.
 */
#ifndef EMBER_CKOPEN_H
#define EMBER_CKOPEN_H

#include "checkpoint/commit.h"
#include "state/store.h"

#include <stdint.h>

/* Opens DIR/db (snapshot == 0) or DIR/snapshots/<B>/db read-only; retries
 * a few times when a running job replaces files under the open. -ENOENT
 * when the directory is missing; err names the path either way. */
EMBER_MUST_CHECK int ck_open(const char *dir, uint64_t snapshot, store **st, ember_err *err);
/* ck_open + commit_read: 0 read, -ENOENT nothing committed yet (c zeroed),
 * another negative code with err set. c->ends malloc'd: commit_free(c). */
EMBER_MUST_CHECK int ck_read_commit(const char *dir, uint64_t snapshot, commit_record *c,
                                    ember_err *err);
/* Bytes of regular files under path. */
uint64_t ck_du(const char *path);

#endif
