/*
 * cmd_gen: `ember gen KIND --to DEST [--count N] [--seed S] [--rate R]` writes
 * exactly the records the generator source produces for that seed, as CSV
 * lines, to file:PATH (or - for stdout), tcp://HOST:PORT or kafka://HOST:PORT/TOPIC.
 */
#include "core/ops/gen.h"
#include "core/kafka/produce_gen.h"
#include "tools/cli.h"
#include "tools/commands.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct gen_args {
    int kind;
    const char *to;
    uint64_t count, seed, rate, events_per_s;
    int has_count;
} gen_args;

static void usage(void)
{
    printf("usage: ember gen KIND --to DEST [--count N] [--seed S] [--rate R] [--event-rate E]\n"
           "Writes the generator's records (one CSV line each) to DEST:\n"
           "  file:PATH | -            a file (or stdout)\n"
           "  tcp://HOST:PORT          a TCP listener (e.g. a socket source)\n"
           "  kafka://HOST:PORT/TOPIC  a Kafka topic (prints how many were acknowledged)\n"
           "  --count N  records (default: endless for tcp/kafka, required for files)\n"
           "  --seed S   same seed, same records (default 1)\n"
           "  --rate R   records per second (default: as fast as possible)\n"
           "  --event-rate E  records per second of event time (default 1000: 1 ms each)\n"
           "KIND:\n");
    for (int k = 0; k < GEN_KIND_COUNT; k++)
        printf("  %-13s %s: %s\n", gen_kind_name((gen_kind)k), gen_fields((gen_kind)k),
               gen_doc((gen_kind)k));
}

static int parse_args(int argc, char **argv, gen_args *a)
{
    a->kind = -1;
    a->seed = 1;
    a->events_per_s = GEN_EVENTS_PER_S;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (cli_is_help(f))
            return usage(), -1;
        if (!strcmp(f, "--to")) {
            if (!(a->to = cli_value(argc, argv, &i)))
                return cli_usage_error("gen", "--to needs a destination");
        } else if (!strcmp(f, "--count") || !strcmp(f, "--seed") || !strcmp(f, "--rate")) {
            uint64_t *dst = f[2] == 'c' ? &a->count : f[2] == 's' ? &a->seed : &a->rate;
            if (cli_u64(cli_value(argc, argv, &i), dst))
                return cli_usage_error("gen", "%s needs a non-negative integer", f);
            a->has_count |= f[2] == 'c';
        } else if (!strcmp(f, "--event-rate")) {
            if (cli_u64(cli_value(argc, argv, &i), &a->events_per_s) || a->events_per_s == 0)
                return cli_usage_error("gen", "--event-rate needs a positive integer");
        } else if (f[0] == '-' && f[1]) {
            return cli_unknown_flag("gen", "flag", f,
                                    (const char *const[]){"--to", "--count", "--seed", "--rate",
                                                          "--event-rate", "--help", NULL});
        } else if (a->kind >= 0) {
            return cli_usage_error("gen", "one KIND only");
        } else if ((a->kind = gen_kind_parse(f)) < 0) {
            return cli_unknown_gen_kind(f);
        }
    }
    if (a->kind < 0)
        return cli_usage_error("gen", "missing KIND");
    if (!a->to)
        return cli_usage_error("gen", "missing --to DEST");
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleeps so that `sent` records took at least sent/rate seconds. */
static void pace(const gen_args *a, uint64_t sent, double t0)
{
    if (!a->rate)
        return;
    double ahead = (double)sent / (double)a->rate - (mono_s() - t0);
    if (ahead > 0.001) {
        struct timespec ts = {(time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static int write_stream(const gen_args *a, FILE *out, const char *what)
{
    char line[GEN_LINE_MAX + 1];
    double t0 = mono_s();
    for (uint64_t seq = 0; !a->has_count || seq < a->count; seq++) {
        size_t n = gen_line_at((gen_kind)a->kind, a->seed, seq, a->events_per_s, line);
        line[n++] = '\n';
        if (fwrite(line, 1, n, out) != n) {
            fprintf(stderr, "ember gen: write to %s: %s\n", what, strerror(errno));
            return 1;
        }
        if ((seq & 1023) == 0)
            pace(a, seq, t0);
    }
    if (fflush(out) != 0) {
        fprintf(stderr, "ember gen: write to %s: %s\n", what, strerror(errno));
        return 1;
    }
    return 0;
}

static int to_file(const gen_args *a, const char *path)
{
    if (!a->has_count && !a->rate)
        return cli_usage_error("gen", "a file destination needs --count (or --rate)");
    FILE *out = strcmp(path, "-") ? fopen(path, "w") : stdout;
    if (!out) {
        fprintf(stderr, "ember gen: %s: %s\n", path, strerror(errno));
        return 1;
    }
    int rc = write_stream(a, out, path);
    if (out != stdout && fclose(out) != 0 && !rc) {
        fprintf(stderr, "ember gen: %s: %s\n", path, strerror(errno));
        rc = 1;
    }
    return rc;
}

static int to_tcp(const gen_args *a, const char *hostport)
{
    char host[256];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof host)
        return cli_usage_error("gen", "expected tcp://HOST:PORT, got 'tcp://%s'", hostport);
    snprintf(host, sizeof host, "%.*s", (int)(colon - hostport), hostport);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
        fprintf(stderr, "ember gen: cannot resolve %s\n", hostport);
        return 1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        fprintf(stderr, "ember gen: connect to %s: %s\n", hostport, strerror(errno));
        freeaddrinfo(ai);
        if (fd >= 0)
            close(fd);
        return 1;
    }
    freeaddrinfo(ai);
    FILE *out = fdopen(fd, "w");
    int rc = out ? write_stream(a, out, hostport) : 1;
    if (out)
        fclose(out);
    return rc;
}

int cmd_gen(int argc, char **argv)
{
    gen_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!strncmp(a.to, "file:", 5))
        return to_file(&a, a.to + 5);
    if (!strcmp(a.to, "-"))
        return to_file(&a, "-");
    if (!strncmp(a.to, "tcp://", 6))
        return to_tcp(&a, a.to + 6);
    if (!strncmp(a.to, "kafka://", 8))
        return kafka_gen_produce(a.to + 8, (gen_kind)a.kind, a.seed,
                                 a.has_count ? a.count : UINT64_MAX, a.rate, a.events_per_s);
    return cli_usage_error("gen", "unknown destination '%s' (expected file:PATH, "
                           "tcp://HOST:PORT or kafka://HOST:PORT/TOPIC)", a.to);
}
