/*
 * ckdir: the checkpoint directory itself.
 *   DIR/LOCK       flock'ed by the one writer (holds its pid, for messages)
 *   DIR/JOB        the job spec that created the state (canonical job text)
 *   DIR/ID         the checkpoint's identity: a random 128-bit id made with the
 *                  directory, checksummed; sinks mark their output with it
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
/* DIR/JOB is the job's text between a head line and a checksum line (both
 * '#' comments: it stays a job file that loads as it is); a file with
 * neither is one written by 0.4.0 or before and is taken as it is. The stored text
 * (NUL-terminated, *text to free) or -EMBER_ECORRUPT naming the file when
 * it is cut, flipped or edited; io errors as io_read_file. */
EMBER_MUST_CHECK int ckdir_read_job_text(const char *dir, char **text, size_t *len,
                                         ember_err *err);
/* The stored job of DIR, loaded (the errors above, or the job's own). */
EMBER_MUST_CHECK int ckdir_load_job(const char *dir, ember_job **job, ember_err *err);
/* DIR/ID, a text file written once, atomically:
 *   ember-checkpoint-id 1
 *   id <32 hex: 128 random bits>
 *   created_ms <unix ms>
 *   checksum <xxh64 16 hex of every byte before this line>
 * The id names the checkpoint wherever its output goes (the file sink's
 * DIR/.ember-checkpoint, the kafka sink's markers), so output of another
 * checkpoint (an old run, a second copy of the job) is never taken as ours. */
#define CKDIR_ID_LEN 32
/* Reads DIR/ID into id (32 hex + NUL): -ENOENT when there is none,
 * -EMBER_ECORRUPT (message names the file) when it does not verify. */
EMBER_MUST_CHECK int ckdir_read_id(const char *dir, char id[CKDIR_ID_LEN + 1], ember_err *err);
/* The id of a locked checkpoint directory, making DIR/ID when there is none
 * (a fresh directory, or one made before ids: a line says so when DIR/JOB
 * existed already). A damaged DIR/ID is -EMBER_ECORRUPT unless `renew`
 * (`ember run --reset-output`), which replaces it with a new id. */
EMBER_MUST_CHECK int ckdir_identity(const char *dir, int renew, char id[CKDIR_ID_LEN + 1],
                                    ember_err *err);
/* 1 if DIR looks like an ember checkpoint (has JOB). */
int ckdir_is_checkpoint(const char *dir);

#endif
