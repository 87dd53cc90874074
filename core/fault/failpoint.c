/*
 * failpoint: the table of named fault-injection points and their arming.
 *
 * Every point the code evaluates with FAILPOINT("name") is listed in
 * fp_points[] below (`ember failpoints` prints it). A test arms points with
 * EMBER_FAILPOINTS='name=action[@when];...' (see failpoint.h). Probabilistic
 * arming is deterministic: hit k of point P triggers iff
 * mix(seed, P, k) < p, where seed is EMBER_FAILPOINT_SEED (default 1), so a
 * chaos run is reproducible from its seed no matter how other points are hit.
 *
 * Threading: fp_eval is called from any thread; hit counters are atomics and
 * the decision is a pure function of the counter. fp_arm/fp_disarm_all are
 * called before worker threads start (they rewrite the arming unlocked).
 *
 * Stats: with EMBER_FAILPOINT_STATS=PATH, every exit (atexit) and every crash
 * (just before SIGKILL) appends "name<TAB>hits\n" for each point hit at least
 * once to PATH ("-" means stderr); the chaos suite sums them to show coverage.
 */
#include "core/fault/failpoint.h"
#include "core/fault/powerloss.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum fp_action { FP_OFF = 0, FP_CRASH, FP_EIO, FP_ENOSPC, FP_SHORT, FP_DELAY };
enum fp_when { FP_ALWAYS = 0, FP_NTH, FP_PROB };

typedef struct fp_arming {
    enum fp_action action;
    enum fp_when when;
    unsigned long nth; /* FP_NTH: 1-based hit that triggers */
    double prob;       /* FP_PROB: chance per hit, 0..1 */
    long delay_ms;     /* FP_DELAY */
} fp_arming;

typedef struct fp_point {
    const char *name;
    const char *desc;
    atomic_ulong hits;       /* evaluations since start (stats) */
    atomic_ulong armed_hits; /* evaluations since armed (@N, pP) */
    fp_arming arm;
} fp_point;

int fp_armed;

static fp_point fp_points[] = {
    {.name = "wal.after_append", .desc = "PLAN record appended to the WAL and fsynced"},
    {.name = "transform.after", .desc = "batch transformed, state not yet touched"},
    {.name = "state.write", .desc = "RocksDB write of the batch's state delta"},
    {.name = "state.before_commit", .desc = "state delta built, commit WriteBatch not written"},
    {.name = "state.after_commit", .desc = "commit WriteBatch written and synced"},
    {.name = "sink.before_commit", .desc = "sink wrote the batch, not yet committed"},
    {.name = "sink.after_commit", .desc = "sink committed the batch"},
    {.name = "snapshot.mid_copy", .desc = "snapshot checkpoint partly copied"},
    {.name = "snapshot.before_rename", .desc = "snapshot complete in its temp directory"},
    {.name = "snapshot.after_rename", .desc = "snapshot renamed into place"},
    {.name = "snapshot.prune", .desc = "between deletions of old snapshots"},
    {.name = "snapshot.unshare",
     .desc = "the oldest kept snapshot partly given its own copy of shared files"},
    {.name = "wal.delete_segment", .desc = "before each WAL segment unlink"},
    {.name = "recovery.after_restore",
     .desc = "snapshot copied over the live state, not yet opened"},
    {.name = "recovery.after_wal_truncate", .desc = "WAL opened, a torn or corrupt tail cut off"},
    {.name = "recovery.after_dead_letter_truncate",
     .desc = "dead-letter or late file cut back to its committed length"},
    {.name = "recovery.mid_replay", .desc = "after each replayed batch during recovery"},
    {.name = "io.write", .desc = "every durable write(2) and ftruncate(2) made through io"},
    {.name = "io.fsync", .desc = "every fsync(2) of a file or directory made through io"},
    {.name = "io.rename", .desc = "every rename(2) made through io"},
    {.name = "io.open", .desc = "every open(2) of a durable file made through io"},
};

#define FP_COUNT (sizeof fp_points / sizeof fp_points[0])

static uint64_t fp_seed = 1;
static const char *fp_stats_path; /* from the environment; not owned */

static fp_point *fp_find(const char *name, size_t len)
{
    for (size_t i = 0; i < FP_COUNT; i++)
        if (strlen(fp_points[i].name) == len && memcmp(fp_points[i].name, name, len) == 0)
            return &fp_points[i];
    return NULL;
}

/* ------------------------------------------------------------ decisions */

static uint64_t fp_mix(uint64_t x)
{
    /* splitmix64 finaliser: a well-spread 64-bit hash of x */
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t fp_name_hash(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *name; name++)
        h = (h ^ (uint8_t)*name) * 0x100000001b3ull;
    return h;
}

/* Deterministic coin for hit number k (1-based) of point p. */
static int fp_coin(const fp_point *p, unsigned long k)
{
    uint64_t x = fp_mix(fp_seed ^ fp_mix(fp_name_hash(p->name) + k));
    double u = (double)(x >> 11) * 0x1.0p-53;
    return u < p->arm.prob;
}

static int fp_triggers(fp_point *p, unsigned long k)
{
    switch (p->arm.when) {
    case FP_ALWAYS:
        return 1;
    case FP_NTH:
        return k == p->arm.nth;
    case FP_PROB:
        return fp_coin(p, k);
    }
    return 0;
}

/* ------------------------------------------------------------ stats */

/* Formats "name\thits\n" for every point hit at least once. */
static size_t fp_format_report(char *buf, size_t cap)
{
    size_t used = 0;
    for (size_t i = 0; i < FP_COUNT && used < cap; i++) {
        unsigned long hits = atomic_load(&fp_points[i].hits);
        if (!hits)
            continue;
        int n = snprintf(buf + used, cap - used, "%s\t%lu\n", fp_points[i].name, hits);
        if (n < 0 || (size_t)n >= cap - used)
            break;
        used += (size_t)n;
    }
    return used;
}

void fp_report(FILE *out)
{
    char buf[4096];
    size_t n = fp_format_report(buf, sizeof buf);
    fwrite(buf, 1, n, out);
}

/* Appends the counts to EMBER_FAILPOINT_STATS with plain write(2): it runs
 * just before SIGKILL, where stdio buffers would be lost. */
static void fp_write_stats(void)
{
    char buf[4096];
    size_t n;
    int fd;

    if (!fp_stats_path || !*fp_stats_path)
        return;
    n = fp_format_report(buf, sizeof buf);
    if (strcmp(fp_stats_path, "-") == 0)
        fd = STDERR_FILENO;
    else
        fd = open(fp_stats_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return; /* stats are a test aid; the run itself must not fail */
    /* one write so concurrent processes appending to PATH do not interleave */
    if (write(fd, buf, n) != (ssize_t)n) {
        /* same: a lost stats line only shrinks the coverage report */
    }
    if (fd != STDERR_FILENO)
        close(fd);
}

/* ------------------------------------------------------------ actions */

static void fp_crash(const fp_point *p)
{
    char msg[128];
    int n;

    /* drops never-fsynced bytes first when EMBER_POWERLOSS=1 (no-op otherwise) */
    pl_simulate();
    n = snprintf(msg, sizeof msg, "failpoint %s: crash\n", p->name);
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0) {
        /* nothing to do: we are about to die either way */
    }
    fp_write_stats();
    kill(getpid(), SIGKILL);
    for (;;)
        pause(); /* SIGKILL is delivered before kill() returns to user space */
}

static void fp_sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int fp_eval(const char *name)
{
    fp_point *p = fp_find(name, strlen(name));
    unsigned long k;

    if (!p)
        return 0; /* a point missing from the table never fires */
    atomic_fetch_add(&p->hits, 1);
    if (p->arm.action == FP_OFF)
        return 0;
    k = atomic_fetch_add(&p->armed_hits, 1) + 1;
    if (!fp_triggers(p, k))
        return 0;
    switch (p->arm.action) {
    case FP_CRASH:
        fp_crash(p);
        return 0;
    case FP_EIO:
        return -EIO;
    case FP_ENOSPC:
        return -ENOSPC;
    case FP_SHORT:
        return -EFBIG;
    case FP_DELAY:
        fp_sleep_ms(p->arm.delay_ms);
        return 0;
    case FP_OFF:
        break;
    }
    return 0;
}

/* ------------------------------------------------------------ parsing */

static char *fp_trim(char *s)
{
    char *end;
    while (*s == ' ' || *s == '\t' || *s == '\n')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
        *--end = '\0';
    return s;
}

static int fp_parse_delay(const char *text, fp_arming *a)
{
    char *end;
    long ms;

    errno = 0;
    ms = strtol(text + 6, &end, 10); /* after "delay(" */
    if (errno || end == text + 6 || ms < 0 || strcmp(end, ")") != 0)
        return -1;
    a->action = FP_DELAY;
    a->delay_ms = ms;
    return 0;
}

static int fp_parse_action(const char *text, fp_arming *a)
{
    static const struct {
        const char *word;
        enum fp_action action;
    } words[] = {{"crash", FP_CRASH},   {"error", FP_EIO}, {"eio", FP_EIO},
                 {"enospc", FP_ENOSPC}, {"short", FP_SHORT}};

    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(text, words[i].word) == 0) {
            a->action = words[i].action;
            return 0;
        }
    if (strncmp(text, "delay(", 6) == 0)
        return fp_parse_delay(text, a);
    return -1;
}

static int fp_parse_when(const char *text, fp_arming *a)
{
    char *end;

    errno = 0;
    if (text[0] == 'p') {
        double p = strtod(text + 1, &end);
        if (errno || end == text + 1 || *end || !(p >= 0.0 && p <= 1.0))
            return -1;
        a->when = FP_PROB;
        a->prob = p;
        return 0;
    }
    if (text[0] < '0' || text[0] > '9')
        return -1;
    unsigned long n = strtoul(text, &end, 10);
    if (errno || *end || n == 0)
        return -1;
    a->when = FP_NTH;
    a->nth = n;
    return 0;
}

/* Parses one "name=action[@when]" entry into arms[index of name]. */
static int fp_parse_entry(char *entry, fp_arming *arms, ember_err *err)
{
    char *eq = strchr(entry, '=');
    char *at, *name, *action;
    fp_point *p;
    fp_arming a = {0};

    if (!eq)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "EMBER_FAILPOINTS: '%s' is not name=action[@when]", entry);
    *eq = '\0';
    name = fp_trim(entry);
    p = fp_find(name, strlen(name));
    if (!p)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "EMBER_FAILPOINTS: unknown failpoint '%s' "
                             "(`ember failpoints` lists them)",
                             name);
    action = eq + 1;
    at = strchr(action, '@');
    if (at)
        *at++ = '\0';
    action = fp_trim(action);
    if (fp_parse_action(action, &a) != 0)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "EMBER_FAILPOINTS: unknown action '%s' for %s "
                             "(expected crash, error, eio, enospc, short or delay(MS))",
                             action, name);
    if (at && fp_parse_when(fp_trim(at), &a) != 0)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "EMBER_FAILPOINTS: bad trigger '@%s' for %s "
                             "(expected @N for the Nth hit or @pP with 0 <= P <= 1)",
                             fp_trim(at), name);
    arms[p - fp_points] = a;
    return 0;
}

static int fp_arming_eq(const fp_arming *a, const fp_arming *b)
{
    return a->action == b->action && a->when == b->when && a->nth == b->nth &&
           a->prob == b->prob && a->delay_ms == b->delay_ms;
}

/* Validates the whole spec first so a bad spec arms nothing. */
int fp_arm(const char *spec, ember_err *err)
{
    fp_arming arms[FP_COUNT];
    char *copy, *save = NULL;
    int rc = 0;

    if (!spec)
        return 0;
    copy = strdup(spec);
    if (!copy)
        return ember_err_set(err, -ENOMEM, "EMBER_FAILPOINTS: out of memory");
    for (size_t i = 0; i < FP_COUNT; i++)
        arms[i] = fp_points[i].arm;
    for (char *tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        char *entry = fp_trim(tok);
        if (*entry && (rc = fp_parse_entry(entry, arms, err)) != 0)
            goto out_free_copy;
    }
    for (size_t i = 0; i < FP_COUNT; i++) {
        if (!fp_arming_eq(&arms[i], &fp_points[i].arm))
            atomic_store(&fp_points[i].armed_hits, 0); /* @N counts from arming */
        fp_points[i].arm = arms[i];
        if (arms[i].action != FP_OFF)
            fp_armed = 1;
    }
out_free_copy:
    free(copy);
    return rc;
}

void fp_disarm_all(void)
{
    for (size_t i = 0; i < FP_COUNT; i++) {
        memset(&fp_points[i].arm, 0, sizeof fp_points[i].arm);
        atomic_store(&fp_points[i].armed_hits, 0);
    }
    /* keep counting hits while stats are wanted */
    fp_armed = fp_stats_path != NULL;
}

static int fp_parse_seed(const char *text, ember_err *err)
{
    char *end;
    unsigned long long seed;

    errno = 0;
    seed = strtoull(text, &end, 0);
    if (errno || end == text || *end)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "EMBER_FAILPOINT_SEED: '%s' is not an unsigned integer", text);
    fp_seed = seed;
    return 0;
}

int fp_init_from_env(ember_err *err)
{
    static int atexit_done;
    const char *seed = getenv("EMBER_FAILPOINT_SEED");
    const char *stats = getenv("EMBER_FAILPOINT_STATS");
    int rc;

    if (seed && *seed && (rc = fp_parse_seed(seed, err)) != 0)
        return rc;
    if (stats && *stats) {
        fp_stats_path = stats;
        fp_armed = 1; /* count hits even if nothing is armed */
        if (!atexit_done && atexit(fp_write_stats) == 0)
            atexit_done = 1;
    }
    return fp_arm(getenv("EMBER_FAILPOINTS"), err);
}

void fp_list(FILE *out)
{
    for (size_t i = 0; i < FP_COUNT; i++)
        fprintf(out, "%s\t%s\n", fp_points[i].name, fp_points[i].desc);
}
