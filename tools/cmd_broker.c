/*
 * cmd_broker: `ember broker [--port P] [--brokers N] [--topic NAME:PARTITIONS]...`,
 * a Kafka-protocol cluster on 127.0.0.1 (librdkafka's mock cluster, see
 * core/kafka_mock.h) for trying ember and for tests, with no Kafka installed.
 * The first line on stdout is the bootstrap address; it runs until
 * SIGINT/SIGTERM. SIGUSR1 takes every broker down (connections dropped, new
 * ones refused) and SIGUSR2 brings them back, for broker-outage tests.
 */
#include "core/kafka/mock.h"
#include "tools/cli.h"
#include "tools/commands.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TOPICS 64

typedef struct broker_args {
    uint64_t port, brokers;
    const char *topics[MAX_TOPICS];
    int partitions[MAX_TOPICS];
    int n_topics;
} broker_args;

static volatile sig_atomic_t stop_signal, want_up = 1;

static void on_stop(int sig) { stop_signal = sig; }
static void on_down(int sig) { want_up = 0; }
static void on_up(int sig) { want_up = 1; }

static void usage(void)
{
    const char *v = kafka_mock_version();
    printf("usage: ember broker [--port P] [--brokers N] [--topic NAME:PARTITIONS]...\n"
           "Runs a Kafka-protocol cluster on 127.0.0.1 (librdkafka's mock cluster) until\n"
           "SIGINT/SIGTERM, and prints its bootstrap address as the first line on stdout.\n"
           "  --port P        bootstrap port (default: one the kernel picks); it forwards to\n"
           "                  the first broker, whose own port clients learn from metadata\n"
           "  --brokers N     brokers in the cluster (1..16, default 1)\n"
           "  --topic T:N     create topic T with N partitions (repeatable); topics a\n"
           "                  producer names are created on first use with 4 partitions\n"
           "Data is kept in memory: each partition keeps its newest ~5 MB (older record\n"
           "batches are deleted, as retention would) and everything is gone on exit.\n"
           "Transactions are accepted but not isolated: a read_committed reader also sees\n"
           "records of aborted transactions.\n"
           "Not supported (the mock answers only produce, fetch, offsets, metadata v0-2,\n"
           "consumer groups and transactions): CreateTopics, DeleteTopics,\n"
           "CreatePartitions, DescribeConfigs/AlterConfigs, DescribeGroups, ListGroups,\n"
           "DeleteRecords, SASL, TLS, ACLs. Its metadata names controller 0, none of its\n"
           "brokers (1..N): librdkafka %s's mock API cannot set it, so clients that\n"
           "need a controller (kafkajs' admin and idempotent producer) fail; librdkafka's\n"
           "clients (ember, kcat) do not need one.\n"
           "SIGUSR1 takes the brokers down (connections refused), SIGUSR2 brings them back.\n"
           "Exit: 0 after SIGINT/SIGTERM, 1 when the cluster cannot start, 2 bad usage.\n",
           v);
}

static int parse_topic(broker_args *a, const char *spec)
{
    const char *colon = strrchr(spec, ':');
    uint64_t n;
    if (a->n_topics == MAX_TOPICS)
        return cli_usage_error("broker", "at most %d --topic flags", MAX_TOPICS);
    if (!colon || colon == spec || cli_u64(colon + 1, &n) || n < 1 || n > 10000)
        return cli_usage_error("broker", "--topic needs NAME:PARTITIONS with 1..10000 "
                               "partitions, got '%s'", spec);
    for (const char *p = spec; p < colon; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p))
            return cli_usage_error("broker", "topic name '%.*s' may only hold letters, digits, "
                                   "'.', '_' and '-'", (int)(colon - spec), spec);
    a->topics[a->n_topics] = spec;
    a->partitions[a->n_topics++] = (int)n;
    return 0;
}

static int parse_args(int argc, char **argv, broker_args *a)
{
    a->brokers = 1;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i], *v;
        if (cli_is_help(f))
            return usage(), -1;
        if (!strcmp(f, "--port") || !strcmp(f, "--brokers")) {
            uint64_t *dst = f[2] == 'p' ? &a->port : &a->brokers;
            if (cli_u64(cli_value(argc, argv, &i), dst) ||
                (f[2] == 'p' ? *dst < 1 || *dst > 65535 : *dst < 1 || *dst > 16))
                return cli_usage_error("broker", "%s needs a number from 1 to %s", f,
                                       f[2] == 'p' ? "65535" : "16");
        } else if (!strcmp(f, "--topic")) {
            if (!(v = cli_value(argc, argv, &i)))
                return cli_usage_error("broker", "--topic needs NAME:PARTITIONS");
            int rc = parse_topic(a, v);
            if (rc)
                return rc;
        } else {
            return cli_usage_error("broker", "unexpected argument '%s'", f);
        }
    }
    return 0;
}

static int create_topics(kafka_mock *m, const broker_args *a)
{
    for (int i = 0; i < a->n_topics; i++) {
        char name[256];
        ember_err err = {0};
        snprintf(name, sizeof name, "%.*s", (int)(strrchr(a->topics[i], ':') - a->topics[i]),
                 a->topics[i]);
        if (kafka_mock_create_topic(m, name, a->partitions[i], &err)) {
            fprintf(stderr, "ember broker: %s\n", err.msg);
            return err.code == -EEXIST ? 2 : 1;
        }
    }
    return 0;
}

static void install_signals(void)
{
    struct sigaction stop = {.sa_handler = on_stop}, down = {.sa_handler = on_down},
                     up = {.sa_handler = on_up};
    sigaction(SIGINT, &stop, NULL);
    sigaction(SIGTERM, &stop, NULL);
    sigaction(SIGUSR1, &down, NULL);
    sigaction(SIGUSR2, &up, NULL);
}

/* Waits for signals; applies down/up requests from the main thread (the
 * mock's calls are not async-signal-safe). */
static void serve(kafka_mock *m)
{
    int up = 1;
    while (!stop_signal) {
        usleep(20000);
        if (want_up != up) {
            up = want_up;
            kafka_mock_set_up(m, up);
            fprintf(stderr, "ember broker: brokers %s\n", up ? "up" : "down");
        }
    }
}

int cmd_broker(int argc, char **argv)
{
    broker_args a = {0};
    kafka_mock *m = NULL;
    ember_err err = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    install_signals();
    if (kafka_mock_start((int)a.brokers, &m, &err)) {
        fprintf(stderr, "ember broker: %s\n", err.msg);
        return 1;
    }
    if ((rc = create_topics(m, &a)) == 0 && a.port && kafka_mock_listen(m, (int)a.port, &err)) {
        fprintf(stderr, "ember broker: cannot listen on %s\n", err.msg);
        rc = err.code == -EMBER_EUSAGE ? 2 : 1;
    }
    if (rc == 0) {
        char port[16];
        snprintf(port, sizeof port, "%d", (int)a.port);
        printf("%s%s\n", a.port ? "127.0.0.1:" : "", a.port ? port : kafka_mock_bootstraps(m));
        fflush(stdout);
        fprintf(stderr, "ember broker: %d broker%s (%s), %d topic%s created; SIGINT to stop\n",
                (int)a.brokers, a.brokers > 1 ? "s" : "", kafka_mock_bootstraps(m), a.n_topics,
                a.n_topics == 1 ? "" : "s");
        serve(m);
    }
    kafka_mock_stop(m);
    return rc;
}
