/*
 * cmd_gen: `ember gen KIND [--to DEST] [--count N] [--seed S] [--rate R]` writes
 * exactly the records the generator source produces for that seed, as CSV
 * lines, to file:PATH (or - for stdout), tcp://HOST:PORT (gen connects to a
 * server), tcp-listen://HOST:PORT (gen is the server, like `nc -lk`: what
 * `source socket` connects to) or kafka://HOST:PORT/TOPIC; stdout without --to.
 */
#include "core/base/clock.h"
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
    printf("usage: ember gen KIND [--to DEST] [--count N] [--seed S] [--rate R] [--event-rate E]\n"
           "Writes the generator's records (one CSV line each) to DEST:\n"
           "  file:PATH | -            a file (or stdout, the default)\n"
           "  tcp://HOST:PORT          connects to a TCP server that reads lines (e.g.\n"
           "                           `nc -l PORT`) and writes the records to it\n"
           "  tcp-listen://HOST:PORT   listens, like `nc -lk`, and serves the records to\n"
           "                           whoever connects, one connection at a time, each\n"
           "                           going on where the last one stopped: this is what\n"
           "                           `source socket host=HOST port=PORT` reads. Port 0\n"
           "                           picks a free one; the first line on stdout is the\n"
           "                           address. With --count, exits after the last record\n"
           "  kafka://HOST:PORT/TOPIC  a Kafka topic (prints how many were acknowledged;\n"
           "                           port 9092 if omitted)\n"
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
        a->to = "-"; /* stdout, as `ember gen nexmark --count N > events.csv` expects */
    return 0;
}

/* Sleeps so that `sent` records took at least sent/rate seconds. */
static void pace(const gen_args *a, uint64_t sent, double t0)
{
    if (!a->rate)
        return;
    double ahead = (double)sent / (double)a->rate - (em_mono_ms() / 1e3 - t0);
    if (ahead > 0.001) {
        struct timespec ts = {(time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

static int write_stream(const gen_args *a, FILE *out, const char *what)
{
    char line[GEN_LINE_MAX + 1];
    double t0 = em_mono_ms() / 1e3;
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
        fprintf(stderr, "ember gen: connect to %s: %s (tcp:// connects to a server; to feed "
                "`source socket`, which connects too, gen must listen: --to "
                "tcp-listen://%s)\n", hostport, strerror(errno), hostport);
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

/* ------------------------------------------------------------ tcp-listen */

#define SERVE_CHUNK 65536

/* HOST:PORT into host and port (strings for getaddrinfo); -1 if malformed. */
static int split_hostport(const char *hostport, char *host, size_t cap, const char **port)
{
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || (size_t)(colon - hostport) >= cap || !colon[1])
        return -1;
    snprintf(host, cap, "%.*s", (int)(colon - hostport), hostport);
    *port = colon + 1;
    return 0;
}

static int listen_on(const char *hostport)
{
    char host[256];
    const char *port;
    if (split_hostport(hostport, host, sizeof host, &port))
        return cli_usage_error("gen", "expected tcp-listen://HOST:PORT, got 'tcp-listen://%s'",
                               hostport), -2;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai), one = 1;
    if (rc) {
        fprintf(stderr, "ember gen: cannot resolve %s: %s\n", hostport, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 8) != 0) {
        fprintf(stderr, "ember gen: listen on %s: %s\n", hostport, strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* Prints the address actually bound (port 0 picks one) as stdout's first line. */
static void say_listening(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[256] = "?", port[16] = "?";
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
        getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    printf("%s:%s\n", host, port);
    fflush(stdout);
    fprintf(stderr, "ember gen: listening on %s:%s (e.g. `source socket host=%s port=%s`)\n",
            host, port, host, port);
}

/* Sends records from *seq on until the count is reached (0) or the client
 * goes away (1); *seq ends at the first record not wholly sent. */
static int serve_client(const gen_args *a, int client, uint64_t *seq, double t0)
{
    static char chunk[SERVE_CHUNK + GEN_LINE_MAX + 1];
    for (;;) {
        uint64_t first = *seq, n_lines = 0;
        size_t len = 0, ends[SERVE_CHUNK / 16 + 2];
        while (len < SERVE_CHUNK && n_lines < SERVE_CHUNK / 16 &&
               (!a->has_count || first + n_lines < a->count)) {
            len += gen_line_at((gen_kind)a->kind, a->seed, first + n_lines, a->events_per_s,
                               chunk + len);
            chunk[len++] = '\n';
            ends[n_lines++] = len;
            if (a->rate)
                break; /* paced: one record per send */
        }
        if (!n_lines)
            return 0;
        size_t sent = 0;
        while (sent < len) {
            ssize_t w = send(client, chunk + sent, len - sent, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                for (uint64_t i = 0; i < n_lines && ends[i] <= sent; i++)
                    ++*seq;
                return 1;
            }
            sent += (size_t)w;
        }
        *seq = first + n_lines;
        pace(a, *seq, t0);
    }
}

static int to_tcp_listen(const gen_args *a, const char *hostport)
{
    int fd = listen_on(hostport);
    if (fd < 0)
        return fd == -2 ? 2 : 1;
    say_listening(fd);
    uint64_t seq = 0;
    double t0 = em_mono_ms() / 1e3;
    for (;;) {
        int client = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
        if (client < 0 && errno == EINTR)
            continue;
        if (client < 0) {
            fprintf(stderr, "ember gen: accept on %s: %s\n", hostport, strerror(errno));
            close(fd);
            return 1;
        }
        uint64_t from = seq;
        int gone = serve_client(a, client, &seq, t0);
        close(client);
        if (!gone)
            break;
        fprintf(stderr, "ember gen: the client went away after %llu records; the next one "
                "gets record %llu on (what the kernel had taken for this one is lost, as "
                "with nc -lk)\n", (unsigned long long)(seq - from), (unsigned long long)seq);
    }
    close(fd);
    return 0;
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
    if (!strncmp(a.to, "tcp-listen://", 13))
        return to_tcp_listen(&a, a.to + 13);
    return cli_usage_error("gen", "unknown destination '%s' (expected file:PATH, -, "
                           "tcp://HOST:PORT, tcp-listen://HOST:PORT or "
                           "kafka://HOST:PORT/TOPIC)", a.to);
}
