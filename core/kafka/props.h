/*
 * kafka_props: `kafka.NAME=VALUE` options, librdkafka properties passed
 * through to the clients of a Kafka source or sink (Spark's `kafka.`
 * prefix): SASL/SSL, compression, size limits, timeouts.
 *
 * At job load (the source's or sink's check hook) every such option must
 * name a property librdkafka knows, have a value it accepts (set on a
 * scratch configuration), suit the clients it goes to (a producer property
 * on the source is refused), and not be one ember sets for correctness
 * (the caller's protected list: each refused naming what to use instead).
 * At open, kafka_props_apply sets them on a client's configuration after
 * ember's own settings, each on the clients its scope (librdkafka's C/P
 * column) names. Only the Kafka adapters include this header.
 */
#ifndef EMBER_KAFKA_PROPS_H
#define EMBER_KAFKA_PROPS_H

#include "core/base/options.h"

#include <librdkafka/rdkafka.h>

#define KAFKA_PROPS_PREFIX "kafka."

/* The options-table entry of the prefix. */
#define KAFKA_PROPS_OPTION                                                                         \
    {                                                                                              \
        KAFKA_PROPS_PREFIX, OPT_STR, "", NULL,                                                     \
            "a librdkafka property for ember's clients (e.g. kafka.compression.codec=lz4, "        \
            "kafka.security.protocol=SASL_SSL); may be given many times",                          \
            OPT_RESTARTABLE                                                                        \
    }

/* Client roles (a bit set). */
enum { KAFKA_ROLE_CONSUMER = 1, KAFKA_ROLE_PRODUCER = 2 };

/* A property ember sets itself, and what the user should use instead. */
typedef struct kafka_protected {
    const char *name;
    const char *instead; /* e.g. "use brokers=" */
} kafka_protected;

/* Validates every kafka.* option of opts (see the top) for clients of the
 * given roles; `protect` ends with {0}. err->col names the option. */
EMBER_MUST_CHECK int kafka_props_check(const opt_set *opts, const char *what, unsigned roles,
                                       const kafka_protected *protect, ember_err *err);

/* Sets on conf the kafka.* options whose scope includes `role` (one
 * KAFKA_ROLE_*), in the order given. */
EMBER_MUST_CHECK int kafka_props_apply(rd_kafka_conf_t *conf, const opt_set *opts, unsigned role,
                                       const char *what, ember_err *err);

#endif
