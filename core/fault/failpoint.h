/*
 * failpoint: named points in the batch cycle where a test can inject a crash
 * (the process SIGKILLs itself), an error, or a delay. Armed through
 * EMBER_FAILPOINTS='name=action[@when];...':
 *   action: crash | error | eio | enospc | short | delay(MS)
 *   when:   N (the Nth hit, 1-based), pP (probability, e.g. p0.01), or
 *           absent (every hit)
 * Off (the normal case) costs one branch on a global flag.
 */
#ifndef EMBER_FAILPOINT_H
#define EMBER_FAILPOINT_H

#include "ember.h"
#include <stdio.h>

/* Non-zero when any failpoint is armed; the only non-constant global
 * besides the failpoint table itself. */
extern int fp_armed;

/* Evaluates the named point: returns 0 (not triggered, or after a delay),
 * or a negative errno (-EIO, -ENOSPC; "short" returns -EFBIG which
 * io_write turns into a short write). "crash" never returns. */
int fp_eval(const char *name);

#define FAILPOINT(name) (__builtin_expect(fp_armed, 0) ? fp_eval(name) : 0)

/* Parses EMBER_FAILPOINTS from the environment (NULL/empty: nothing armed).
 * Unknown names are errors. */
EMBER_MUST_CHECK int fp_init_from_env(ember_err *err);
EMBER_MUST_CHECK int fp_arm(const char *spec, ember_err *err);
void fp_disarm_all(void);

/* Prints "name<TAB>description" for every known point. */
void fp_list(FILE *out);
/* Prints "name<TAB>hits" for every point hit at least once (to stderr at exit
 * when EMBER_FAILPOINT_STATS is set; the chaos suite reads it). */
void fp_report(FILE *out);

#endif
