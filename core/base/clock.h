/*
 * clock: the two clocks ember reads. The monotonic one measures intervals
 * (step timings, pacing, timeouts, back-off) and never goes into a durable
 * record; the wall clock gives batch times, which are durable in a PLAN.
 */
#ifndef EMBER_CLOCK_H
#define EMBER_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds, with sub-millisecond precision. */
double em_mono_ms(void);
/* CLOCK_REALTIME in whole milliseconds since the Unix epoch. */
uint64_t em_wall_ms(void);

#endif
