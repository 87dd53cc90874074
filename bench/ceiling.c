/*
 * ceiling: the bare loop the YSB figure is measured against. It reads the
 * same ads CSV file ember reads (`ember gen ads --to file:F`), and does the
 * pipeline's per-record work with nothing else: split the 7 fields, keep
 * event_type "view", look ad_id up in the campaigns table (hash of the
 * bytes, open addressing), and count per (campaign, 10 s window of
 * event_time) in an open-addressing table. No state store, no WAL, no sink.
 *
 *   build/bench/ceiling ADS.csv CAMPAIGNS.csv
 * prints: records, views, windows (distinct campaign x window), total count,
 * seconds, records/s.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

#define AD_SLOTS 4096 /* power of two, > 2 x 1000 ads */
#define WIN_SLOTS (1u << 20)
#define WINDOW_MS 10000

typedef struct {
    char id[40];
    size_t len;
    int campaign;
} ad_slot;

typedef struct {
    uint64_t key; /* campaign << 40 | window, +1 so that 0 is empty */
    uint64_t count;
} win_slot;

static ad_slot ads[AD_SLOTS];
static win_slot *wins;

static const char *map_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(path);
        exit(2);
    }
    *len = (size_t)st.st_size;
    const char *p = mmap(NULL, *len ? *len : 1, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        perror(path);
        exit(2);
    }
    return p;
}

static int ad_find(const char *id, size_t len)
{
    uint64_t h = XXH3_64bits(id, len);
    for (size_t i = h & (AD_SLOTS - 1);; i = (i + 1) & (AD_SLOTS - 1)) {
        if (!ads[i].len)
            return -1;
        if (ads[i].len == len && memcmp(ads[i].id, id, len) == 0)
            return ads[i].campaign;
    }
}

static void ad_add(const char *id, size_t len, int campaign)
{
    uint64_t h = XXH3_64bits(id, len);
    size_t i = h & (AD_SLOTS - 1);
    while (ads[i].len)
        i = (i + 1) & (AD_SLOTS - 1);
    memcpy(ads[i].id, id, len < sizeof ads[i].id ? len : sizeof ads[i].id);
    ads[i].len = len;
    ads[i].campaign = campaign;
}

/* campaigns.csv: header, then ad_id,campaign_id; campaigns numbered in order of appearance. */
static void load_campaigns(const char *path)
{
    size_t len;
    const char *p = map_file(path, &len), *end = p + len;
    char seen[128][40];
    int n_seen = 0;
    p = memchr(p, '\n', len) + 1;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *comma = memchr(p, ',', (size_t)(nl - p));
        const char *camp = comma + 1;
        int c = 0;
        while (c < n_seen && memcmp(seen[c], camp, 36) != 0)
            c++;
        if (c == n_seen && n_seen < 128)
            memcpy(seen[n_seen++], camp, 36);
        ad_add(p, (size_t)(comma - p), c);
        p = nl + 1;
    }
}

static void count_window(uint64_t campaign, int64_t event_time)
{
    uint64_t key = (campaign << 40 | (uint64_t)(event_time / WINDOW_MS)) + 1;
    for (size_t i = XXH3_64bits(&key, sizeof key) & (WIN_SLOTS - 1);; i = (i + 1) & (WIN_SLOTS - 1)) {
        if (wins[i].key == key) {
            wins[i].count++;
            return;
        }
        if (!wins[i].key) {
            wins[i].key = key;
            wins[i].count = 1;
            return;
        }
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: ceiling ADS.csv CAMPAIGNS.csv\n");
        return 2;
    }
    wins = calloc(WIN_SLOTS, sizeof *wins);
    load_campaigns(argv[2]);
    size_t len;
    const char *p = map_file(argv[1], &len), *end = p + len;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t records = 0, views = 0, misses = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            nl = end;
        const char *f[8];
        int n = 0;
        f[n++] = p;
        for (const char *q = p; q < nl && n < 8; q++)
            if (*q == ',')
                f[n++] = q + 1;
        records++;
        /* fields: user_id,page_id,ad_id,ad_type,event_type,event_time,ip */
        if (n == 7 && f[5] - f[4] - 1 == 4 && memcmp(f[4], "view", 4) == 0) {
            views++;
            int c = ad_find(f[2], (size_t)(f[3] - f[2] - 1));
            if (c < 0)
                misses++;
            else
                count_window((uint64_t)c, strtoll(f[5], NULL, 10));
        }
        p = nl + 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    uint64_t windows = 0, total = 0;
    for (size_t i = 0; i < WIN_SLOTS; i++)
        if (wins[i].key) {
            windows++;
            total += wins[i].count;
        }
    printf("records %llu views %llu misses %llu windows %llu total %llu seconds %.3f "
           "records_per_s %.0f\n",
           (unsigned long long)records, (unsigned long long)views, (unsigned long long)misses,
           (unsigned long long)windows, (unsigned long long)total, s, (double)records / s);
    free(wins);
    return 0;
}
