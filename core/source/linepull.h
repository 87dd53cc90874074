/*
 * linepull: newline-delimited records pulled from a stream fd (socket,
 * stdin), for the sources that cannot be replayed. plan() takes whole lines
 * only; a partial line waits in the buffer for its newline.
 */
#ifndef EMBER_LINEPULL_H
#define EMBER_LINEPULL_H

#include "core/source/source.h"

typedef struct linepull {
    int fd;
    int eof;
    char *buf;
    size_t len, cap;
    size_t taken; /* bytes handed out by the last take, dropped on the next */
    uint64_t next_seq;
    src_range range;
} linepull;

void linepull_init(linepull *p, int fd);
/* Reads what is available without blocking longer than wait_ms. */
EMBER_MUST_CHECK int linepull_fill(linepull *p, int wait_ms, const char *what, ember_err *err);
/* Hands out up to `budget` complete lines as one pulled block. */
void linepull_take(linepull *p, uint64_t budget, src_range **ranges, size_t *n,
                   src_pulled *pulled);
/* End of stream reached and every complete line handed out. */
int linepull_exhausted(const linepull *p);
void linepull_free(linepull *p);

#endif
