/*
 * ckdir: the checkpoint directory itself.
 *   DIR/LOCK       flock'ed by the one writer (holds its pid, for messages)
 *   DIR/JOB        the job spec that created the state (canonical job text)
 *   DIR/db/        live RocksDB state         (state/store.c)
 *   DIR/wal/       write-ahead log segments   (checkpoint/wal.c)
 *   DIR/snapshots/ snapshots with MANIFESTs   (checkpoint/snapshot.c)
 *   DIR/progress.jsonl  one JSON object per batch (rotated at 8 MB)
 */
#ifndef EMBER_CKDIR_H
#define EMBER_CKDIR_H

#include "core/job/job.h"

/* Creates DIR if needed and takes DIR/LOCK; -EMBER_ELOCKED if another
 * process holds it. *fd is the lock, released by ckdir_unlock or exit. */
EMBER_MUST_CHECK int ckdir_lock(const char *dir, int *fd, ember_err *err);
void ckdir_unlock(int fd);
/* Compares job's state layout with DIR/JOB (the stored job, loaded again):
 * writes DIR/JOB on a fresh directory, accepts (and records) harmless
 * changes, refuses layout changes with -EMBER_EINCOMPAT and a message naming
 * what changed (a field that reaches the state with another type: the field
 * and both types). DIR/JOB is written only once its text loads back to the
 * job's layout. */
EMBER_MUST_CHECK int ckdir_check_job(const char *dir, const ember_job *job, ember_err *err);

#endif
