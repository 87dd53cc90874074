/*
 * snapshot: every `every` batches (after the commit), a RocksDB checkpoint of
 * the live state plus a MANIFEST (manifest.h), built in
 * DIR/snapshots/.tmp-<batch> and renamed to DIR/snapshots/<batch, 20 digits>
 * only when complete, so a visible snapshot is always whole. The newest
 * `keep` are kept. Recovery restores the newest one whose MANIFEST verifies
 * when the live state is missing or damaged.
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
/* Deletes all but the newest `keep`; *oldest_kept = 0 when none remain. */
EMBER_MUST_CHECK int snap_prune(const char *ckpt_dir, size_t keep, uint64_t *oldest_kept,
                                ember_err *err);
/* Reads and verifies snapshot `batch`; fills *m if non-NULL (caller frees). */
EMBER_MUST_CHECK int snap_verify(const char *ckpt_dir, uint64_t batch, manifest *m,
                                 ember_err *err);
/* Replaces DIR/db with a copy of snapshot `batch` (crash-safe: built aside,
 * then renamed). The store must be closed. */
EMBER_MUST_CHECK int snap_restore(const char *ckpt_dir, uint64_t batch, ember_err *err);
/* Removes leftovers of interrupted snapshot/restore operations. */
EMBER_MUST_CHECK int snap_cleanup(const char *ckpt_dir, ember_err *err);

#endif
