/* kafka_gen: `ember gen ... --to kafka://HOST:PORT/TOPIC`, the generator into Kafka. */
#ifndef EMBER_KAFKA_GEN_H
#define EMBER_KAFKA_GEN_H

#include "core/ops/gen.h"

/* Produces records seq 0..count-1 (count UINT64_MAX = endless) at `rate`/s
 * (0 = as fast as possible); prints how many were acknowledged. Returns an
 * exit code (0 all acknowledged, 1 failure, 2 bad destination). */
int kafka_gen_produce(const char *hostport_topic, gen_kind kind, uint64_t seed, uint64_t count,
                      uint64_t rate, uint64_t events_per_s);

#endif
