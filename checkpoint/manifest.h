/*
 * manifest: the MANIFEST of a snapshot directory, DIR/snapshots/<batch>/.
 * A text file, one field per line, ending with a checksum line over every
 * byte before it:
 *
 *   ember-manifest 1
 *   batch <u64>
 *   created_ms <u64 unix ms>
 *   job_hash <16 hex>
 *   offset <partition u32> <end offset u64>        (one per source partition)
 *   file <relative path> <size bytes> <xxh64 16 hex> (one per file in db/)
 *   checksum <xxh64 16 hex of all previous bytes>
 *
 * Paths are relative to the snapshot directory (e.g. "db/000012.sst").
 */
#ifndef EMBER_MANIFEST_H
#define EMBER_MANIFEST_H

#include "ember.h"
#include <stdint.h>

typedef struct manifest_file {
    char *path;
    uint64_t bytes;
    uint64_t xxh64;
} manifest_file;

typedef struct manifest_offset {
    uint32_t partition;
    uint64_t offset_end;
} manifest_offset;

typedef struct manifest {
    uint64_t batch;
    uint64_t created_ms;
    uint64_t job_hash;
    manifest_offset *offsets;
    size_t n_offsets;
    manifest_file *files;
    size_t n_files;
} manifest;

/* Hashes every regular file under snap_dir/db and fills m->files. */
EMBER_MUST_CHECK int manifest_collect_files(const char *snap_dir, manifest *m, ember_err *err);
/* Writes snap_dir/MANIFEST atomically (io_write_file_atomic). */
EMBER_MUST_CHECK int manifest_write(const char *snap_dir, const manifest *m, ember_err *err);
/* Reads and checks the MANIFEST's own checksum and syntax. */
EMBER_MUST_CHECK int manifest_read(const char *snap_dir, manifest *m, ember_err *err);
/* Re-hashes every listed file; the first mismatch/missing file is the error
 * (-EMBER_ECORRUPT) naming the file. Files not listed are also an error. */
EMBER_MUST_CHECK int manifest_verify_files(const char *snap_dir, const manifest *m,
                                           ember_err *err);
void manifest_free(manifest *m);
/* Size and XXH64 (seed 0) of one file, as the MANIFEST records them. */
EMBER_MUST_CHECK int manifest_hash_file(const char *path, uint64_t *bytes, uint64_t *hash,
                                        ember_err *err);

#endif
