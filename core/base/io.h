/*
 * io: every durable write ember makes itself (WAL, manifests, sink files,
 * JOB file) goes through here, so failpoints can inject EIO/ENOSPC/short
 * writes/fsync failures on every write path, and so the power-loss test mode
 * can drop bytes that were never fsynced.
 *
 * In power-loss mode (EMBER_POWERLOSS=1) each of these calls is also
 * reported to the simulator in core/fault/powerloss.h, which the crash
 * failpoint asks to drop the bytes and renames never made durable.
 */
#ifndef EMBER_IO_H
#define EMBER_IO_H

#include "ember.h"
#include <stddef.h>
#include <sys/types.h>

/* open(2) for durable files; path is remembered for messages and for the
 * power-loss mode. Returns fd or negative errno (err filled). */
EMBER_MUST_CHECK int io_open(const char *path, int flags, int mode, ember_err *err);
/* Writes all of buf (failpoint io.write); a short write is an error. */
EMBER_MUST_CHECK int io_write_all(int fd, const void *buf, size_t n, ember_err *err);
/* fsync (failpoint io.fsync). A failed fsync is fatal for the batch: never retry. */
EMBER_MUST_CHECK int io_fsync(int fd, ember_err *err);
EMBER_MUST_CHECK int io_close(int fd, ember_err *err);
/* fsync of a directory, making creates/renames/unlinks in it durable. */
EMBER_MUST_CHECK int io_fsync_dir(const char *dir, ember_err *err);
/* rename(2) (failpoint io.rename); does not fsync the directory. */
EMBER_MUST_CHECK int io_rename(const char *from, const char *to, ember_err *err);
/* ftruncate (failpoint io.write). */
EMBER_MUST_CHECK int io_truncate(int fd, off_t len, ember_err *err);
/* Whole-file atomic replace: write path.tmp, fsync, rename, fsync dir. */
EMBER_MUST_CHECK int io_write_file_atomic(const char *path, const void *buf, size_t n,
                                          ember_err *err);
/* Reads a whole file into a malloc'd buffer (NUL-terminated); caller frees. */
EMBER_MUST_CHECK int io_read_file(const char *path, char **buf, size_t *n, ember_err *err);
/* mkdir -p; existing directories are fine. */
EMBER_MUST_CHECK int io_mkdir_p(const char *path, ember_err *err);
/* rm -rf (used for temp snapshot directories and pruning). */
EMBER_MUST_CHECK int io_remove_tree(const char *path, ember_err *err);

#endif
