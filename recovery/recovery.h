/*
 * recovery: the restart protocol. recovery_open() runs before every job's
 * first batch (a fresh directory is the trivial case) and returns what it
 * found; it never runs a batch. The engine then opens the plugins and
 * replays the planned batches through the same function as new ones.
 *
 *   1. take DIR/LOCK (flock): one writer per checkpoint directory; read (or
 *      make) DIR/ID, the checkpoint's id
 *   2. check the job spec against DIR/JOB (refuse state-layout changes)
 *   3. judge the live state without writing to it (snap_choose_state): open
 *      it when it is whole; if missing or damaged, restore the newest
 *      snapshot that verifies (older ones if the newest fails), else an
 *      empty state when the WAL plans every batch from 1 (or --rebuild)
 *   4. read the commit record: committed batch c, end offsets, sink marker,
 *      and the counters kept beside it
 *   5. open the WAL, truncating a torn tail (reported, never applied)
 *   6. collect every PLAN (and DATA) after c, in order: the batches the
 *      engine must re-execute with exactly these ranges
 * One line per decision through the log, prefixed "recovery:".
 *
 * Invariants:
 *   R1. Nothing is replayed before the state it builds on is open and its
 *       commit record read (pending starts at c+1, never earlier).
 *   R2. Pending batches are dense (c+1, c+2, ...); a gap is corruption.
 *   R3. Damaged bytes (torn WAL tail, failing snapshot) are never applied.
 */
#ifndef EMBER_RECOVERY_H
#define EMBER_RECOVERY_H

#include "checkpoint/commit.h"
#include "checkpoint/wal.h"
#include "core/job/job.h"
#include "state/store.h"

/* A batch that was planned (its PLAN is durable in the WAL) but whose
 * commit is not: the engine re-executes it with exactly these ranges. */
typedef struct planned_batch {
    uint64_t batch;
    uint64_t time_ms;  /* the PLAN's batch time */
    src_range *ranges; /* malloc'd */
    size_t n;
    char *data; /* WAL DATA of a source that cannot re-read, or NULL; malloc'd */
    size_t data_bytes;
    int drain; /* the drain batch (WAL DRAIN): every watermark to the end */
} planned_batch;

/* Where the state came from. */
typedef enum state_origin { STATE_FRESH, STATE_LIVE, STATE_SNAPSHOT } state_origin;

typedef struct recovery {
    /* Handed to the caller, who closes them (ckdir_unlock, store_close,
     * wal_close) once recovery_open returned 0. */
    int lock_fd;
    store *st;
    wal *wal;
    char checkpoint_id[33]; /* DIR/ID: the sinks mark their output with it */

    commit_record last;  /* the last commit (batch 0 in a fresh directory) */
    uint64_t state_keys; /* meta "state_keys" of that commit */
    uint64_t late_bytes; /* meta "late_bytes" of that commit */
    uint64_t drained;    /* meta "drained": the drain batch, 0 if never drained */
    state_origin origin;
    uint64_t snapshot; /* STATE_SNAPSHOT: the batch restored */
    int rebuild;       /* --rebuild was needed: an empty state, the first pending
                          batch re-reads the sources from offset 0 */

    planned_batch *pending; /* batches last.batch+1 .. in order */
    size_t n_pending;
} recovery;

/* Runs steps 1-6 for `job` over `dir`; job_hash is job_layout_hash(job);
 * reset_output gives a damaged DIR/ID a new id (ember run --reset-output);
 * rebuild allows an empty state when the live state is damaged and no
 * snapshot verifies (ember run --rebuild; snap_choose_state).
 * On failure everything it opened is closed again. */
EMBER_MUST_CHECK int recovery_open(const char *dir, const ember_job *job, uint64_t job_hash,
                                   int reset_output, int rebuild, recovery *r,
                                   ember_err *err);
/* After the state was brought forward from outside (a scale-out task
 * restored from its changelog, core/engine/task.c): reads the commit record
 * and its counters again and drops the pending batches (their PLANs are at
 * or before the new commit). */
EMBER_MUST_CHECK int recovery_reread(recovery *r, ember_err *err);
/* Frees the pending batches (not the handles, not `last`). */
void recovery_free_pending(recovery *r);

#endif
