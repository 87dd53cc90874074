/*
 * sink_dead_letter: an append-only file a sink sets rows aside into (the
 * Kafka sink's on-oversize=dead-letter:PATH), each line once across
 * crashes and replays, for a sink whose commit is not ember's own (a Kafka
 * transaction): the engine's commit record cannot hold the file's length,
 * so a small checksummed side file next to the checkpoint does.
 *
 * Protocol for batch b (the side file's format is in dead_letter.c):
 *   1. the batch's lines are appended while it is written;
 *   2. before the sink's own commit of b: the file is fsynced, then the
 *      side file {b, length before b, length after b} replaced atomically;
 *   3. the sink commits b (Kafka: the transaction with b's marker);
 *   4. sink_dead_letter_committed(): after b's length becomes the base.
 * At start (recover): with `delivered` = the newest batch the sink's
 * output holds (or the engine committed, whichever is newer), the file is
 * cut back to "after" when delivered >= b, else to "before": lines of a
 * batch whose commit did not happen are gone and come again on replay.
 */
#ifndef EMBER_SINK_DEAD_LETTER_H
#define EMBER_SINK_DEAD_LETTER_H

#include "ember.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sink_dead_letter {
    char *path;      /* the dead-letter file (malloc'd) */
    char *side_path; /* DIR/<name>.dead-letter-length (malloc'd) */
    int fd;
    uint64_t committed; /* length as of the newest committed batch */
    uint64_t bytes;     /* length now: committed + the running batch's lines */
    uint64_t rows;      /* lines appended by this process, for messages */
} sink_dead_letter;

/* Opens (creating) path for appending; the length lives in
 * checkpoint_dir/<name>.dead-letter-length. Nothing is cut yet. */
EMBER_MUST_CHECK int sink_dead_letter_open(sink_dead_letter *d, const char *path,
                                           const char *checkpoint_dir, const char *name,
                                           ember_err *err);
/* Cuts the file back to the length committed as of batch `delivered`. */
EMBER_MUST_CHECK int sink_dead_letter_recover(sink_dead_letter *d, uint64_t delivered,
                                              ember_err *err);
/* Back to the committed length (a batch begins again). */
EMBER_MUST_CHECK int sink_dead_letter_rewind(sink_dead_letter *d, ember_err *err);
/* Appends one line (a '\n' is added). */
EMBER_MUST_CHECK int sink_dead_letter_append(sink_dead_letter *d, const char *line, size_t n,
                                             ember_err *err);
/* Step 2: makes batch b's lines durable and records the lengths; nothing
 * to do when the batch appended none. */
EMBER_MUST_CHECK int sink_dead_letter_seal(sink_dead_letter *d, uint64_t batch, ember_err *err);
/* Step 4. */
void sink_dead_letter_committed(sink_dead_letter *d);
void sink_dead_letter_close(sink_dead_letter *d);

#endif
