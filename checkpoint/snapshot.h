/*
 * snapshot: every `every` batches (after the commit), a RocksDB checkpoint of
 * the live state plus a MANIFEST (manifest.h), built in
 * DIR/snapshots/.tmp-<batch> and renamed to DIR/snapshots/<batch, 20 digits>
 * only when complete, so a visible snapshot is always whole. The newest
 * `keep` are kept. Recovery restores the newest one whose MANIFEST verifies
 * when the live state is missing or damaged.
 *
 * A RocksDB checkpoint hard-links the live db's tables, so snapshots share
 * inodes with the live db and with each other: one damaged file would be
 * damage in all of them. The oldest kept snapshot is therefore always an
 * independent copy (snap_prune copies every file it shares before older
 * snapshots go), and a restore copies, never links: any one damaged or
 * missing file leaves a snapshot that verifies (or the live state) plus
 * the WAL after it, which is kept from the oldest snapshot on.
 */
#ifndef EMBER_SNAPSHOT_H
#define EMBER_SNAPSHOT_H

#include "checkpoint/manifest.h"
#include "core/source/source.h"
#include "state/store.h"

void snap_path(char *buf, size_t cap, const char *ckpt_dir, uint64_t batch);
EMBER_MUST_CHECK int snap_create(const char *ckpt_dir, store *st, uint64_t batch,
                                 uint64_t created_ms, const src_range *ends, size_t n_ends,
                                 uint64_t job_hash, ember_err *err);
/* Batch ids of complete snapshots, ascending (*batches malloc'd). */
EMBER_MUST_CHECK int snap_list(const char *ckpt_dir, uint64_t **batches, size_t *n,
                               ember_err *err);
/* Deletes all but the newest `keep`, after giving the oldest kept one its
 * own copy of every file it shares; *oldest_kept = 0 when none remain.
 * Failpoint snapshot.unshare. */
EMBER_MUST_CHECK int snap_prune(const char *ckpt_dir, size_t keep, uint64_t *oldest_kept,
                                ember_err *err);
/* Reads and verifies snapshot `batch`; fills *m if non-NULL (caller frees). */
/* Snapshot `batch` opens read-only and every table of it reads back whole
 * (RocksDB's block checksums), beyond its MANIFEST's file hashes. */
EMBER_MUST_CHECK int snap_reads_whole(const char *ckpt_dir, uint64_t batch, ember_err *err);
EMBER_MUST_CHECK int snap_verify(const char *ckpt_dir, uint64_t batch, manifest *m,
                                 ember_err *err);
/* Replaces DIR/db with a copy of snapshot `batch` (crash-safe: built aside,
 * then renamed; every file copied, so the live db shares none with the
 * snapshot). The store must be closed. */
EMBER_MUST_CHECK int snap_restore(const char *ckpt_dir, uint64_t batch, ember_err *err);
/* Removes leftovers of interrupted snapshot/restore operations. */
EMBER_MUST_CHECK int snap_cleanup(const char *ckpt_dir, ember_err *err);

/* 1 when no file of snapshot `batch` has another hard link. */
int snap_independent(const char *ckpt_dir, uint64_t batch);

/* ---- the live state, judged for recovery and the inspection commands */

typedef enum snap_live_kind {
    SNAP_LIVE_MISSING, /* no DIR/db */
    SNAP_LIVE_FRESH,   /* nothing committed, and nothing says anything was */
    SNAP_LIVE_OK,      /* opens to a commit record */
    SNAP_LIVE_DAMAGED, /* `why` says how */
} snap_live_kind;

typedef struct snap_live {
    snap_live_kind kind;
    uint64_t batch; /* OK: the committed batch */
    int code;       /* DAMAGED: -EMBER_ECORRUPT, -EIO, ... */
    char why[sizeof ((ember_err *)0)->msg];
} snap_live;

/* The newest listed snapshot's batch, 0 when none. */
uint64_t snap_newest(const char *ckpt_dir);
/* Judges st, an open store of ckpt_dir's live state; newest = snap_newest()
 * taken before st was opened (a running job may add a snapshot after). Damaged: the commit
 * record does not read; or there is none although the db holds tables its
 * RocksDB MANIFEST does not list, or a snapshot exists, or the WAL plans a
 * batch after 1 (a truncated MANIFEST opens as an empty db: never a fresh
 * start); or it is older than the newest snapshot (it went back in time). */
void snap_judge_live(const char *ckpt_dir, store *st, uint64_t newest, snap_live *out);
/* Opens DIR/db read-only (nothing is written to it, nothing deleted) and
 * judges it; a db that does not open (or is marked damaged by a run,
 * STORE_DAMAGE_FILE) is damaged. A block damaged while the job was stopped
 * is found only when read, so its tables are checked too: those the newest
 * snapshot has against that snapshot's MANIFEST (size, xxh64: tables never
 * change), newer ones read over their key ranges with checksums. */
void snap_check_live(const char *ckpt_dir, snap_live *out);

/* Where a damaged live db is moved (the previous one is replaced). */
#define SNAP_DAMAGED_LIVE "db.damaged"
EMBER_MUST_CHECK int snap_set_aside_live(const char *ckpt_dir, ember_err *err);

typedef enum snap_action {
    SNAP_USE_LIVE,    /* open DIR/db (batch: its commit; 0 fresh) */
    SNAP_RESTORED,    /* DIR/db is now a copy of snapshot `batch` */
    SNAP_START_EMPTY, /* no DIR/db; the WAL plans every batch from 1: replay it all */
    SNAP_REBUILD,     /* no DIR/db; --rebuild: re-read the sources from the start */
} snap_action;

typedef struct snap_choice {
    snap_action action;
    uint64_t batch;
    char why[sizeof ((ember_err *)0)->msg + 32]; /* what was wrong, one line; "" when
                                                    nothing was (USE_LIVE, a fresh dir) */
    char skipped[256];                           /* snapshots that did not verify: "20, 15" */
} snap_choice;

typedef struct snap_choose_opts {
    int rebuild;    /* --rebuild: when nothing else is usable, an empty state */
    int replayable; /* the source can re-read (the failure suggests --rebuild) */
    /* Called for every snapshot that does not verify (newest first). */
    void (*log)(void *ctx, uint64_t batch, const char *why);
    void *log_ctx;
} snap_choose_opts;

/* Step 3 of recovery, decided and done: the live state when it judges OK
 * or fresh (snap_check_live); else the newest snapshot that verifies is
 * restored (a damaged DIR/db moved to SNAP_DAMAGED_LIVE, the snapshots
 * that failed to snapshots/damaged-<batch>); else, when the WAL plans every
 * batch from 1 (or with o->rebuild), an empty state. Otherwise
 * -EMBER_ECORRUPT with one line that says why and what to do (`ember run
 * --rebuild` when o->replayable). */
EMBER_MUST_CHECK int snap_choose_state(const char *ckpt_dir, const snap_choose_opts *o,
                                       snap_choice *out, ember_err *err);

/* The batch `ember run --rebuild` runs first on an empty state: numbered one
 * before the WAL's oldest PLAN P, with every partition a PLAN names read
 * from offset 0 to where the oldest PLAN naming it starts (the WAL then
 * replays P, P+1, ... as planned). *n = 0 when the WAL plans batch 1 or
 * nothing (then new batches read from the start). *ranges malloc'd. */
EMBER_MUST_CHECK int snap_rebuild_batch(const char *ckpt_dir, uint64_t *batch,
                                        uint64_t *time_ms, src_range **ranges, size_t *n,
                                        ember_err *err);

#endif
