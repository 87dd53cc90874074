/*
 * cmd_top: `ember top DIR [--interval MS] [--once]`, a terminal view of a
 * job's batches for a server without a browser, over DIR/progress.jsonl
 * (the engine appends one object per committed batch): totals since the
 * first batch the files hold (progress.jsonl.1, the file rotated away at
 * 8 MB, then progress.jsonl), the newest batch's rates, times, state and
 * offsets, averages and a sparkline of the input rate over the last
 * TOP_WINDOW batches. Plain ANSI (home + clear), no curses.
 *
 * The files are followed like `tail -f`: read once whole, then from the
 * offset reached, across a rotation (the inode changes: the rest of the old
 * file is read from progress.jsonl.1 first). Only complete lines count. On
 * a terminal it redraws every interval until q or Ctrl-C; into a pipe it
 * prints a frame whenever batches arrive and ends when the file has not
 * grown for TOP_IDLE_MS (or 5 intervals, whichever is longer). Reads only.
 */
#include "tools/ckread.h"
#include "tools/cli.h"
#include "tools/commands.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define TOP_WINDOW 60      /* batches the averages and the sparkline cover */
#define TOP_IDLE_MS 5000   /* a pipe's view ends after this long without a batch */
#define TOP_MIN_INTERVAL 50

static void usage(void)
{
    printf("usage: ember top DIR [--interval MS] [--once]\n"
           "A terminal view of a job's batches over DIR/progress.jsonl: batches; records in,\n"
           "kept, out, bad and late (totals over progress.jsonl.1 and progress.jsonl); the\n"
           "newest batch's input and processing rates, processing time, scheduling delay,\n"
           "state keys and bytes, offsets and per-step ms; averages and a sparkline of the\n"
           "input rate over the last %d batches. Read-only; works while the job runs.\n"
           "  --interval MS  refresh every MS milliseconds (default 1000, at least %d)\n"
           "  --once         print one frame and exit (for scripts and pipes)\n"
           "On a terminal it refreshes until q or Ctrl-C; into a pipe it prints a frame\n"
           "when batches arrive and ends when the file has not grown for %d s.\n",
           TOP_WINDOW, TOP_MIN_INTERVAL, TOP_IDLE_MS / 1000);
}

/* One batch of the window. */
typedef struct top_batch {
    double input_rate, processing_ms, sched_ms, processing_rate;
    int has_input_rate; /* null in a replay */
} top_batch;

typedef struct top_view {
    const char *dir;
    char job[128];
    uint64_t batches, replays, in, kept, out, bad, late;
    json_t *last; /* the newest batch's object */
    top_batch win[TOP_WINDOW];
    size_t n_win, next; /* ring: next slot to write */
    /* following progress.jsonl */
    ino_t ino;
    off_t off; /* after the last complete line read */
} top_view;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint64_t field_u64(json_t *o, const char *name)
{
    json_t *v = json_object_get(o, name);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static double field_num(json_t *o, const char *name, int *has)
{
    json_t *v = json_object_get(o, name);
    if (has)
        *has = json_is_number(v);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

/* One progress object into the totals and the window. */
static void add_batch(top_view *t, json_t *o)
{
    top_batch *b = &t->win[t->next];
    t->batches++;
    t->replays += json_is_true(json_object_get(o, "replay"));
    t->in += field_u64(o, "records_in");
    t->kept += field_u64(o, "records_kept");
    t->out += field_u64(o, "rows");
    t->bad += field_u64(o, "bad_records");
    t->late += field_u64(o, "late_records");
    b->input_rate = field_num(o, "input_rate", &b->has_input_rate);
    b->processing_ms = field_num(o, "processing_ms", NULL);
    b->sched_ms = field_num(o, "scheduling_delay_ms", NULL);
    b->processing_rate = field_num(o, "processing_rate", NULL);
    t->next = (t->next + 1) % TOP_WINDOW;
    t->n_win += t->n_win < TOP_WINDOW;
    json_decref(t->last);
    t->last = o;
}

/* The complete lines of buf[0..n); returns the bytes they take. */
static size_t add_lines(top_view *t, const char *buf, size_t n, uint64_t *added)
{
    const char *p = buf, *end = buf + n, *nl;
    for (; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1) {
        json_t *o = json_loadb(p, (size_t)(nl - p), 0, NULL);
        if (json_is_object(o)) { /* a torn line (a crash mid-write) is left out */
            add_batch(t, o);
            ++*added;
        } else {
            json_decref(o);
        }
    }
    return (size_t)(p - buf);
}

/* Reads path from *off to its end, complete lines only; *off moves past
 * them. 0, or -errno (-ENOENT: no such file). */
static int read_from(top_view *t, const char *path, off_t *off, ino_t *ino, uint64_t *added)
{
    struct stat sb;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
    if (fd < 0)
        return -errno;
    if (fstat(fd, &sb) != 0) {
        rc = -errno;
        goto out_close;
    }
    if (ino)
        *ino = sb.st_ino;
    if (sb.st_size < *off)
        *off = 0; /* truncated or replaced: from the start */
    size_t n = (size_t)(sb.st_size - *off);
    char *buf = n ? malloc(n) : NULL;
    ssize_t got = buf ? pread(fd, buf, n, *off) : 0;
    if (n && (!buf || got < 0))
        rc = buf ? -errno : -ENOMEM;
    else if (got > 0)
        *off += (off_t)add_lines(t, buf, (size_t)got, added);
    free(buf);
out_close:
    close(fd);
    return rc;
}

/* Reads what progress.jsonl gained since the last call (the first call:
 * progress.jsonl.1 whole, then progress.jsonl). Returns the new batches. */
static uint64_t follow(top_view *t, int first)
{
    char path[4200], old[4300];
    struct stat sb;
    uint64_t added = 0;
    snprintf(path, sizeof path, "%s/progress.jsonl", t->dir);
    snprintf(old, sizeof old, "%s.1", path);
    if (first) {
        off_t zero = 0;
        (void)read_from(t, old, &zero, NULL, &added);
    } else if (stat(path, &sb) == 0 && sb.st_ino != t->ino && t->ino) {
        /* rotated: the file we followed is now .1; its rest first */
        struct stat ob;
        if (stat(old, &ob) == 0 && ob.st_ino == t->ino)
            (void)read_from(t, old, &t->off, NULL, &added);
        t->off = 0;
    }
    (void)read_from(t, path, &t->off, &t->ino, &added); /* none yet: nothing to add */
    return added;
}

/* ------------------------------------------------------------ the frame */

static const top_batch *win_at(const top_view *t, size_t i) /* 0 = oldest */
{
    size_t start = (t->next + TOP_WINDOW - t->n_win) % TOP_WINDOW;
    return &t->win[(start + i) % TOP_WINDOW];
}

/* Averages over the window (the input rate over batches that have one). */
static void averages(const top_view *t, double *input, double *proc_ms, double *sched_ms,
                     double *max_input)
{
    size_t rated = 0;
    *input = *proc_ms = *sched_ms = *max_input = 0;
    for (size_t i = 0; i < t->n_win; i++) {
        const top_batch *b = win_at(t, i);
        *proc_ms += b->processing_ms;
        *sched_ms += b->sched_ms;
        if (b->has_input_rate) {
            *input += b->input_rate;
            rated++;
            *max_input = b->input_rate > *max_input ? b->input_rate : *max_input;
        }
    }
    *input = rated ? *input / (double)rated : 0;
    *proc_ms = t->n_win ? *proc_ms / (double)t->n_win : 0;
    *sched_ms = t->n_win ? *sched_ms / (double)t->n_win : 0;
}

/* One block character per batch of the window, scaled to its largest. */
static void sparkline(FILE *out, const top_view *t, double max)
{
    static const char *const bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    for (size_t i = 0; i < t->n_win; i++) {
        const top_batch *b = win_at(t, i);
        int level = max > 0 && b->has_input_rate ? (int)(b->input_rate / max * 7.0 + 0.5) : 0;
        fputs(bars[level < 0 ? 0 : level > 7 ? 7 : level], out);
    }
}

static void print_offsets(FILE *out, json_t *offsets)
{
    const char *p;
    json_t *v;
    int n = 0;
    json_object_foreach(offsets, p, v) {
        fprintf(out, "%sp%s=%" JSON_INTEGER_FORMAT, n++ ? " " : "", p, json_integer_value(v));
    }
    fputs(n ? "\n" : "-\n", out);
}

static void print_steps(FILE *out, json_t *last)
{
    static const char *const steps[] = {"wal", "read", "transform", "state",
                                        "sink", "commit", "snapshot"};
    char name[32];
    fprintf(out, "last batch   %" PRIu64 ":", field_u64(last, "batch"));
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        snprintf(name, sizeof name, "%s_ms", steps[i]);
        fprintf(out, " %s %.2f", steps[i], field_num(last, name, NULL));
    }
    fputs(" ms\n", out);
}

static void render(FILE *out, const top_view *t, int tty)
{
    double in_avg, proc_avg, sched_avg, in_max;
    json_t *l = t->last;
    if (tty)
        fputs("\033[H\033[2J", out);
    fprintf(out, "ember top %s  job %s%s\n", t->dir, t->job, tty ? "  (q quits)" : "");
    if (!l) {
        fprintf(out, "no batches yet (%s/progress.jsonl)\n", t->dir);
        fflush(out);
        return;
    }
    averages(t, &in_avg, &proc_avg, &sched_avg, &in_max);
    fprintf(out, "batches      %" PRIu64 " (replays %" PRIu64 ", newest %" PRIu64 ")\n",
            t->batches, t->replays, field_u64(l, "batch"));
    fprintf(out, "records      in %" PRIu64 "  kept %" PRIu64 "  out %" PRIu64 "  bad %" PRIu64
            "  late %" PRIu64 "\n", t->in, t->kept, t->out, t->bad, t->late);
    fprintf(out, "input rate   %.1f rec/s  (avg %.1f over %zu batches)\n",
            field_num(l, "input_rate", NULL), in_avg, t->n_win);
    fprintf(out, "processing   %.1f rec/s  %.3f ms  (avg %.3f ms)\n",
            field_num(l, "processing_rate", NULL), field_num(l, "processing_ms", NULL), proc_avg);
    fprintf(out, "sched delay  %.3f ms  (avg %.3f ms)\n",
            field_num(l, "scheduling_delay_ms", NULL), sched_avg);
    fprintf(out, "state        keys %" PRIu64 "  bytes %" PRIu64 "\n", field_u64(l, "state_keys"),
            field_u64(l, "state_bytes"));
    fputs("offsets      ", out);
    print_offsets(out, json_object_get(l, "offsets"));
    print_steps(out, l);
    fputs("input rate   ", out);
    sparkline(out, t, in_max);
    fprintf(out, "  (last %zu batches, max %.0f rec/s)\n", t->n_win, in_max);
    fflush(out);
}

/* ------------------------------------------------------------ the loop */

static int parse_args(int argc, char **argv, top_view *t, uint64_t *interval_ms, int *once)
{
    static const char *const flags[] = {"--interval", "--once", "--help", NULL};
    *interval_ms = 1000;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (cli_is_help(f))
            return usage(), -1;
        if (!strcmp(f, "--once")) {
            *once = 1;
        } else if (!strcmp(f, "--interval")) {
            if (cli_u64(cli_value(argc, argv, &i), interval_ms) || *interval_ms < TOP_MIN_INTERVAL)
                return cli_usage_error("top", "--interval needs a number of ms (at least %d)",
                                       TOP_MIN_INTERVAL);
        } else if (f[0] == '-' && f[1]) {
            return cli_unknown_flag("top", "flag", f, flags);
        } else if (t->dir) {
            return cli_usage_error("top", "one DIR only");
        } else {
            t->dir = f;
        }
    }
    return t->dir ? 0 : cli_usage_error("top", "needs a checkpoint directory");
}

/* Waits up to ms for a key; 1 when it was q (or stdin ended). */
static int wait_key(int keys, uint64_t ms)
{
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    char c = 0;
    if (!keys) {
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL); /* a signal ends it early */
        return 0;
    }
    if (poll(&p, 1, (int)ms) <= 0)
        return 0;
    return read(STDIN_FILENO, &c, 1) <= 0 || c == 'q' || c == 'Q';
}

/* The refreshing view until q, a signal, or (into a pipe) a quiet file. */
static void watch(top_view *t, uint64_t interval_ms)
{
    int tty = isatty(STDOUT_FILENO), keys = tty && isatty(STDIN_FILENO);
    struct termios saved, raw;
    uint64_t idle_ms = 0, quiet_ms = 5 * interval_ms > TOP_IDLE_MS ? 5 * interval_ms : TOP_IDLE_MS;
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: waits end */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (keys && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        keys = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    } else {
        keys = 0;
    }
    render(stdout, t, tty);
    while (!g_stop && !wait_key(keys, interval_ms) && !g_stop) {
        uint64_t added = follow(t, 0);
        idle_ms = added ? 0 : idle_ms + interval_ms;
        if (tty || added)
            render(stdout, t, tty);
        if (!tty && idle_ms >= quiet_ms)
            break;
    }
    if (keys)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
}

int cmd_top(int argc, char **argv)
{
    top_view t = {0};
    uint64_t interval_ms;
    int once = 0;
    int rc = parse_args(argc, argv, &t, &interval_ms, &once);
    if (rc)
        return rc < 0 ? 0 : rc;
    ember_job *job = ck_load("top", t.dir);
    if (!job)
        return 1;
    snprintf(t.job, sizeof t.job, "%s", job->name);
    ember_job_free(job);
    follow(&t, 1);
    if (once)
        render(stdout, &t, 0);
    else
        watch(&t, interval_ms);
    json_decref(t.last);
    return 0;
}
