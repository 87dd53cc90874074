/*
 * powerloss: the power-loss simulator of the test mode EMBER_POWERLOSS=1.
 *
 * The durable-file layer (core/base/io.c) reports what it did through the
 * hooks below; the crash failpoint calls pl_simulate() just before SIGKILL,
 * which drops whatever a power cut could have dropped: bytes written since a
 * file's last fsync, creates and renames whose directory was not fsynced
 * since. What is and is not modelled is listed at the top of powerloss.c.
 *
 * Every hook is a no-op unless EMBER_POWERLOSS=1 (read once, on first use);
 * all of them may be called from any thread (one internal lock).
 */
#ifndef EMBER_POWERLOSS_H
#define EMBER_POWERLOSS_H

#include <sys/types.h>

/* A file written through io since it was opened; owned by the simulator. */
typedef struct pl_file pl_file;

/* Non-zero when EMBER_POWERLOSS=1. */
int pl_enabled(void);

/* A file was opened; created says io_open made it, size is its length at
 * open (assumed durable). Returns the record the other file hooks take, or
 * NULL (not tracked: a power loss keeps the file as it is). */
pl_file *pl_track(const char *path, int created, off_t size);
/* Bytes are about to be written to f (NULL: ignored, as in every file hook). */
void pl_will_write(pl_file *f);
/* f was fsynced when it was `bytes` long. */
void pl_synced(pl_file *f, off_t bytes);
/* f was truncated to `bytes` (treated as durable at once). */
void pl_truncated(pl_file *f, off_t bytes);
/* f's descriptor was closed; the record goes once nothing is left to undo. */
void pl_closed(pl_file *f);

/* The directory with this identity was fsynced: creates and renames into it
 * are durable from now on. */
void pl_dir_synced(dev_t dev, ino_t ino);
/* rename(2) from -> to, remembered so a power loss before the next fsync of
 * to's directory undoes it (bringing back a replaced target). Returns 0 or a
 * negative errno. Call only when pl_enabled(). */
int pl_rename(const char *from, const char *to);

/* Puts the disk into the state a power cut could leave now (best effort,
 * for a process about to SIGKILL itself). */
void pl_simulate(void);

#endif
