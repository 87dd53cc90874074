/* test_wal: checkpoint/wal.c — round trips, torn tails at every byte, bit
 * flips at every byte, empty segments, segment deletion, failed writes. */
#include "checkpoint/wal.h"
#include "core/base/endian.h"
#include "core/fault/failpoint.h"
#include "core/base/io.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ helpers */

static char tmp_dir[256];
static char wal_dir[300];

static void setup(void)
{
    ember_err err = {0};
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/ember_test_wal.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", tmp_dir);
    (void)err;
}

static void teardown(void)
{
    ember_err err = {0};
    ck_assert_int_eq(io_remove_tree(tmp_dir, &err), 0);
}

/* Deterministic payload of record (batch, i): its length and bytes. */
static uint32_t payload_for(uint64_t batch, int i, uint8_t *buf, uint32_t cap)
{
    uint32_t len = (uint32_t)((batch * 31 + (uint64_t)i * 7) % 300);
    if (len > cap)
        len = cap;
    for (uint32_t k = 0; k < len; k++)
        buf[k] = (uint8_t)(batch * 131 + (uint64_t)i * 17 + k);
    return len;
}

typedef struct got_rec {
    uint8_t type;
    uint64_t batch;
    uint32_t len;
    uint8_t payload[512];
} got_rec;

typedef struct collector {
    got_rec *recs;
    size_t n, cap;
} collector;

static int collect(const wal_record *rec, void *ctx)
{
    collector *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->recs = realloc(c->recs, c->cap * sizeof *c->recs);
        ck_assert_ptr_nonnull(c->recs);
    }
    got_rec *g = &c->recs[c->n++];
    ck_assert_uint_le(rec->len, sizeof g->payload);
    g->type = rec->type;
    g->batch = rec->batch;
    g->len = rec->len;
    memcpy(g->payload, rec->payload, rec->len);
    return 0;
}

static void collector_reset(collector *c)
{
    free(c->recs);
    memset(c, 0, sizeof *c);
}

/* Checks record g is exactly what payload_for(batch, i) made. */
static void check_rec(const got_rec *g, uint64_t batch, int i)
{
    uint8_t want[512];
    uint32_t len = payload_for(batch, i, want, sizeof want);
    ck_assert_uint_eq(g->batch, batch);
    ck_assert_uint_eq(g->len, len);
    ck_assert_int_eq(memcmp(g->payload, want, len), 0);
}

static void append_rec(wal *w, uint64_t batch, int i)
{
    ember_err err = {0};
    uint8_t buf[512];
    uint32_t len = payload_for(batch, i, buf, sizeof buf);
    int rc = wal_append(w, i == 0 ? WAL_PLAN : WAL_DATA, batch, buf, len, &err);
    ck_assert_msg(rc == 0, "append: %s", err.msg);
}

/* Writes batches [from, to) with per_batch records each, syncing per batch. */
static void write_batches(wal *w, uint64_t from, uint64_t to, int per_batch)
{
    ember_err err = {0};
    for (uint64_t b = from; b < to; b++) {
        ck_assert_msg(wal_maybe_rotate(w, b, &err) == 0, "rotate: %s", err.msg);
        for (int i = 0; i < per_batch; i++)
            append_rec(w, b, i);
        ck_assert_msg(wal_sync(w, &err) == 0, "sync: %s", err.msg);
    }
}

static wal *open_wal(uint64_t seg_bytes, wal_damage *d)
{
    ember_err err = {0};
    wal *w = NULL;
    int rc = wal_open(wal_dir, seg_bytes, &w, d, &err);
    ck_assert_msg(rc == 0, "wal_open: %s", err.msg);
    return w;
}

static void scan_all(uint64_t from, collector *c, wal_damage *d)
{
    ember_err err = {0};
    int rc = wal_scan(wal_dir, from, collect, c, d, &err);
    ck_assert_msg(rc == 0, "wal_scan: %s", err.msg);
}

static void seg_path(const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", wal_dir, name);
}

static char *read_all(const char *path, size_t *n)
{
    ember_err err = {0};
    char *buf = NULL;
    ck_assert_msg(io_read_file(path, &buf, n, &err) == 0, "%s", err.msg);
    return buf;
}

/* Rewrites path in place: no O_TRUNC, which on ext4 (auto_da_alloc) makes
 * close flush to disk and turns the byte-by-byte loops slow. */
static void write_all(const char *path, const void *buf, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, buf, n, 0), (ssize_t)n);
    ck_assert_int_eq(ftruncate(fd, (off_t)n), 0);
    ck_assert_int_eq(close(fd), 0);
}

static off_t file_size(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return st.st_size;
}

/* The only segment's name. */
static void only_segment(char *name, size_t cap)
{
    ember_err err = {0};
    char **names;
    size_t n;
    ck_assert_int_eq(wal_list_segments(wal_dir, &names, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    snprintf(name, cap, "%s", names[0]);
    wal_free_list(names, n);
}

/* ------------------------------------------------------------ round trip */

START_TEST(round_trip_across_rotations)
{
    ember_err err = {0};
    collector c = {0};
    wal_damage d;
    char **names;
    size_t n;

    wal *w = open_wal(4096, &d);
    write_batches(w, 1, 301, 4);
    wal_close(w);

    ck_assert_int_eq(wal_list_segments(wal_dir, &names, &n, &err), 0);
    ck_assert_uint_gt(n, 10);
    ck_assert_str_eq(names[0], "00000000000000000001.wal");
    wal_free_list(names, n);

    scan_all(0, &c, &d);
    ck_assert_int_eq(d.torn_tail | d.corrupt, 0);
    ck_assert_uint_eq(c.n, 300 * 4);
    for (size_t k = 0; k < c.n; k++) {
        check_rec(&c.recs[k], 1 + k / 4, (int)(k % 4));
        ck_assert_uint_eq(c.recs[k].type, k % 4 == 0 ? WAL_PLAN : WAL_DATA);
    }
    collector_reset(&c);

    scan_all(250, &c, &d);
    ck_assert_uint_eq(c.n, 51 * 4);
    check_rec(&c.recs[0], 250, 0);
    collector_reset(&c);
}
END_TEST

START_TEST(reopen_appends_after_existing_records)
{
    collector c = {0};
    wal_damage d;
    wal *w = open_wal(1 << 20, &d);
    write_batches(w, 1, 6, 2);
    wal_close(w);
    w = open_wal(1 << 20, &d);
    ck_assert_int_eq(d.torn_tail | d.corrupt, 0);
    write_batches(w, 6, 11, 2);
    wal_close(w);
    scan_all(0, &c, &d);
    ck_assert_uint_eq(c.n, 20);
    for (size_t k = 0; k < c.n; k++)
        check_rec(&c.recs[k], 1 + k / 2, (int)(k % 2));
    collector_reset(&c);
}
END_TEST

typedef struct big_check {
    const uint8_t *want;
    uint32_t want_len;
    int n, big_ok;
} big_check;

static int visit_big(const wal_record *rec, void *ctx)
{
    big_check *bc = ctx;
    if (bc->n++ == 1)
        bc->big_ok = rec->len == bc->want_len && memcmp(rec->payload, bc->want, rec->len) == 0;
    return 0;
}

START_TEST(large_record_bypasses_buffer)
{
    ember_err err = {0};
    wal_damage d;
    uint32_t big = 3u << 20;
    uint8_t *buf = malloc(big);
    big_check bc = {.want = buf, .want_len = big};

    for (uint32_t i = 0; i < big; i++)
        buf[i] = (uint8_t)(i * 7 + i / 251);
    wal *w = open_wal(1 << 20, &d);
    append_rec(w, 1, 0);
    ck_assert_int_eq(wal_append(w, WAL_DATA, 1, buf, big, &err), 0);
    append_rec(w, 1, 2);
    ck_assert_int_eq(wal_sync(w, &err), 0);
    wal_close(w);

    ck_assert_int_eq(wal_scan(wal_dir, 0, visit_big, &bc, &d, &err), 0);
    ck_assert_int_eq(bc.n, 3);
    ck_assert_int_eq(bc.big_ok, 1);
    ck_assert_int_eq(d.torn_tail | d.corrupt, 0);
    free(buf);
}
END_TEST

/* A non-zero visitor result stops the scan and is returned as is. */
static int stop_at_third(const wal_record *rec, void *ctx)
{
    int *n = ctx;
    return ++*n == 3 ? 42 : 0;
}

START_TEST(visitor_result_stops_scan)
{
    ember_err err = {0};
    wal_damage d;
    int n = 0;
    wal *w = open_wal(1 << 20, &d);
    write_batches(w, 1, 10, 1);
    wal_close(w);
    ck_assert_int_eq(wal_scan(wal_dir, 0, stop_at_third, &n, &d, &err), 42);
    ck_assert_int_eq(n, 3);
}
END_TEST

/* ------------------------------------------------------------ torn tails */

/* Three good records, then record #4 cut at every byte of its length:
 * never returned, reported as torn, truncated by wal_open, and new appends
 * follow cleanly. */
START_TEST(torn_record_at_every_byte)
{
    char name[64], path[400];
    wal_damage d;

    wal *w = open_wal(1 << 20, &d);
    write_batches(w, 1, 4, 1);
    wal_close(w);
    only_segment(name, sizeof name);
    seg_path(name, path, sizeof path);
    off_t base = file_size(path);

    w = open_wal(1 << 20, &d);
    write_batches(w, 4, 5, 1);
    wal_close(w);
    size_t full_n;
    char *full = read_all(path, &full_n);
    size_t rec_len = full_n - (size_t)base;
    ck_assert_uint_gt(rec_len, WAL_HEADER_BYTES);

    for (size_t cut = 1; cut < rec_len; cut++) {
        collector c = {0};
        write_all(path, full, (size_t)base + cut);

        scan_all(0, &c, &d);
        ck_assert_uint_eq(c.n, 3);
        ck_assert_msg(d.torn_tail == 1, "cut %zu not reported torn", cut);
        ck_assert_uint_eq(d.offset, (uint64_t)base);
        ck_assert_str_eq(d.segment, name);
        collector_reset(&c);

        w = open_wal(1 << 20, &d);
        ck_assert_int_eq(d.torn_tail, 1);
        ck_assert_int_eq(file_size(path), base);
        write_batches(w, 4, 6, 1);
        wal_close(w);

        scan_all(0, &c, &d);
        ck_assert_int_eq(d.torn_tail | d.corrupt, 0);
        ck_assert_uint_eq(c.n, 5);
        for (size_t k = 0; k < 5; k++)
            check_rec(&c.recs[k], 1 + k, 0);
        collector_reset(&c);
    }
    free(full);
}
END_TEST

START_TEST(zero_filled_tail_is_truncated)
{
    char name[64], path[400];
    wal_damage d;
    collector c = {0};

    wal *w = open_wal(1 << 20, &d);
    write_batches(w, 1, 3, 1);
    wal_close(w);
    only_segment(name, sizeof name);
    seg_path(name, path, sizeof path);
    off_t base = file_size(path);
    /* a crash after the size grew but before the data hit the disk */
    ck_assert_int_eq(truncate(path, base + 4096), 0);

    w = open_wal(1 << 20, &d);
    ck_assert_int_eq(d.corrupt, 1);
    ck_assert_uint_eq(d.offset, (uint64_t)base);
    ck_assert_int_eq(file_size(path), base);
    wal_close(w);
    scan_all(0, &c, &d);
    ck_assert_uint_eq(c.n, 2);
    collector_reset(&c);
}
END_TEST

/* ------------------------------------------------------------ bit flips */

START_TEST(flipped_bit_anywhere_is_detected)
{
    char name[64], path[400];
    wal_damage d;

    wal *w = open_wal(1 << 20, &d);
    write_batches(w, 1, 4, 1);
    wal_close(w);
    only_segment(name, sizeof name);
    seg_path(name, path, sizeof path);
    size_t n;
    char *orig = read_all(path, &n);
    char *bad = malloc(n);

    for (size_t i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            collector c = {0};
            memcpy(bad, orig, n);
            bad[i] ^= (char)(1 << bit);
            write_all(path, bad, n);
            scan_all(0, &c, &d);
            ck_assert_msg(d.torn_tail || d.corrupt, "flip at byte %zu bit %d missed", i, bit);
            ck_assert_uint_lt(c.n, 3);
            ck_assert_uint_le(d.offset, i);
            for (size_t k = 0; k < c.n; k++)
                check_rec(&c.recs[k], 1 + k, 0);
            collector_reset(&c);
        }
    }
    free(bad);
    free(orig);
}
END_TEST

START_TEST(corrupt_older_segment_is_an_error)
{
    ember_err err = {0};
    char **names, path[400];
    size_t n;
    wal_damage d;
    wal *w = open_wal(256, &d);

    write_batches(w, 1, 20, 2);
    wal_close(w);
    ck_assert_int_eq(wal_list_segments(wal_dir, &names, &n, &err), 0);
    ck_assert_uint_ge(n, 3);
    seg_path(names[1], path, sizeof path);
    size_t len;
    char *data = read_all(path, &len);
    data[len / 2] ^= 0x10;
    write_all(path, data, len);
    free(data);

    w = NULL;
    int rc = wal_open(wal_dir, 256, &w, &d, &err);
    ck_assert_int_eq(rc, -EMBER_ECORRUPT);
    ck_assert_ptr_null(w);
    ck_assert_msg(strstr(err.msg, names[1]) && strstr(err.msg, "offset"), "msg: %s", err.msg);
    ck_assert_int_eq(d.corrupt, 1);
    ck_assert_str_eq(d.segment, names[1]);

    /* a scan without a damage report must not pass silently */
    collector c = {0};
    rc = wal_scan(wal_dir, 0, collect, &c, NULL, &err);
    ck_assert_int_eq(rc, -EMBER_ECORRUPT);
    collector_reset(&c);
    wal_free_list(names, n);
}
END_TEST

/* ------------------------------------------------------------ empty segments */

START_TEST(empty_segment_is_fine)
{
    char path[400];
    collector c = {0};
    wal_damage d;

    ck_assert_int_eq(mkdir(wal_dir, 0755), 0);
    seg_path("00000000000000000007.wal", path, sizeof path);
    write_all(path, "", 0);
    wal *w = open_wal(1 << 20, &d);
    ck_assert_int_eq(d.torn_tail | d.corrupt, 0);
    scan_all(0, &c, &d);
    ck_assert_uint_eq(c.n, 0);
    write_batches(w, 7, 9, 1);
    wal_close(w);
    scan_all(0, &c, &d);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_int_eq(d.torn_tail | d.corrupt, 0);
    collector_reset(&c);
}
END_TEST

START_TEST(empty_last_segment_after_rotation)
{
    ember_err err = {0};
    collector c = {0};
    wal_damage d;
    char **names;
    size_t n;

    wal *w = open_wal(64, &d);
    write_batches(w, 1, 4, 1);
    ck_assert_int_eq(wal_maybe_rotate(w, 4, &err), 0); /* crash before batch 4's PLAN */
    ck_assert_int_eq(wal_sync(w, &err), 0);
    wal_close(w);
    ck_assert_int_eq(wal_list_segments(wal_dir, &names, &n, &err), 0);
    ck_assert_str_eq(names[n - 1], "00000000000000000004.wal");
    wal_free_list(names, n);

    w = open_wal(64, &d);
    ck_assert_int_eq(d.torn_tail | d.corrupt, 0);
    write_batches(w, 4, 6, 1);
    wal_close(w);
    scan_all(0, &c, &d);
    ck_assert_uint_eq(c.n, 5);
    collector_reset(&c);
}
END_TEST

START_TEST(missing_dir_is_created)
{
    wal_damage d;
    snprintf(wal_dir, sizeof wal_dir, "%s/a/b/wal", tmp_dir);
    wal *w = open_wal(1 << 20, &d);
    wal_close(w);
    struct stat st;
    ck_assert_int_eq(stat(wal_dir, &st), 0);
}
END_TEST

/* ------------------------------------------------------------ deletion */

static size_t segment_count(void)
{
    ember_err err = {0};
    char **names;
    size_t n;
    ck_assert_int_eq(wal_list_segments(wal_dir, &names, &n, &err), 0);
    wal_free_list(names, n);
    return n;
}

/* One segment per batch (tiny segment_bytes). */
START_TEST(delete_before_keeps_needed_segments)
{
    ember_err err = {0};
    collector c = {0};
    wal_damage d;
    wal *w = open_wal(1, &d);

    write_batches(w, 1, 11, 2);
    ck_assert_uint_eq(segment_count(), 10);
    ck_assert_int_eq(wal_delete_before(w, 5, &err), 0);
    ck_assert_uint_eq(segment_count(), 6);
    scan_all(5, &c, &d);
    ck_assert_uint_eq(c.n, 12);
    check_rec(&c.recs[0], 5, 0);
    collector_reset(&c);

    /* the active segment stays even when every batch is old */
    ck_assert_int_eq(wal_delete_before(w, 1000, &err), 0);
    ck_assert_uint_eq(segment_count(), 1);
    write_batches(w, 11, 12, 1);
    wal_close(w);
    scan_all(0, &c, &d);
    ck_assert_uint_eq(c.n, 3);
    collector_reset(&c);
}
END_TEST

/* Segments holding several batches: a segment is only deleted when the
 * next one starts at or before keep_from. */
START_TEST(delete_before_keeps_segment_holding_keep_from)
{
    ember_err err = {0};
    collector c = {0};
    wal_damage d;
    wal *w = open_wal(200, &d);

    write_batches(w, 1, 40, 3);
    for (uint64_t keep = 1; keep < 40; keep += 3) {
        ck_assert_int_eq(wal_delete_before(w, keep, &err), 0);
        scan_all(keep, &c, &d);
        ck_assert_uint_eq(c.n, (40 - keep) * 3);
        check_rec(&c.recs[0], keep, 0);
        collector_reset(&c);
    }
    wal_close(w);
}
END_TEST

START_TEST(delete_failpoint_stops_deletion)
{
    ember_err err = {0};
    wal_damage d;
    wal *w = open_wal(1, &d);

    write_batches(w, 1, 6, 1);
    ck_assert_int_eq(fp_arm("wal.delete_segment=error@2", &err), 0);
    ck_assert_int_eq(wal_delete_before(w, 5, &err), -EIO);
    ck_assert_msg(strstr(err.msg, "00000000000000000002.wal"), "msg: %s", err.msg);
    ck_assert_uint_eq(segment_count(), 4);
    fp_disarm_all();
    ck_assert_int_eq(wal_delete_before(w, 5, &err), 0);
    ck_assert_uint_eq(segment_count(), 1); /* batch 5's segment */
    wal_close(w);
}
END_TEST

/* ------------------------------------------------------------ failures */

START_TEST(failed_write_poisons_until_reopen)
{
    ember_err err = {0};
    collector c = {0};
    wal_damage d;
    wal *w = open_wal(1 << 20, &d);

    write_batches(w, 1, 3, 1);
    ck_assert_int_eq(fp_arm("io.write=short@1", &err), 0);
    append_rec(w, 3, 0);
    ck_assert_int_eq(wal_sync(w, &err), -EIO);
    ck_assert_msg(strstr(err.msg, ".wal") && strstr(err.msg, "short write"), "%s", err.msg);
    fp_disarm_all();
    uint8_t x = 1;
    ck_assert_int_ne(wal_append(w, WAL_PLAN, 3, &x, 1, &err), 0);
    ck_assert_int_ne(wal_sync(w, &err), 0);
    wal_close(w);

    w = open_wal(1 << 20, &d);
    ck_assert_int_eq(d.torn_tail, 1);
    write_batches(w, 3, 4, 1);
    wal_close(w);
    scan_all(0, &c, &d);
    ck_assert_uint_eq(c.n, 3);
    ck_assert_int_eq(d.torn_tail | d.corrupt, 0);
    collector_reset(&c);
}
END_TEST

START_TEST(failed_fsync_poisons)
{
    ember_err err = {0};
    wal_damage d;
    wal *w = open_wal(1 << 20, &d);

    ck_assert_int_eq(fp_arm("io.fsync=eio@1", &err), 0);
    append_rec(w, 1, 0);
    ck_assert_int_eq(wal_sync(w, &err), -EIO);
    ck_assert_msg(strstr(err.msg, "fsync") && strstr(err.msg, "Input/output error"), "%s",
                  err.msg);
    ck_assert_int_ne(wal_sync(w, &err), 0); /* never retried and trusted */
    wal_close(w);
}
END_TEST

START_TEST(after_append_failpoint_fires_after_plan_sync)
{
    ember_err err = {0};
    wal_damage d;
    collector c = {0};
    wal *w = open_wal(1 << 20, &d);

    ck_assert_int_eq(fp_arm("wal.after_append=error@2", &err), 0);
    write_batches(w, 1, 2, 1);
    append_rec(w, 2, 0);
    ck_assert_int_eq(wal_sync(w, &err), -EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "wal.after_append"));
    wal_close(w);
    /* the PLAN was durable before the failpoint fired */
    scan_all(0, &c, &d);
    ck_assert_uint_eq(c.n, 2);
    collector_reset(&c);
}
END_TEST

START_TEST(bad_append_arguments)
{
    ember_err err = {0};
    wal_damage d;
    uint8_t x = 0;
    wal *w = open_wal(1 << 20, &d);

    ck_assert_int_eq(wal_append(w, 9, 1, &x, 1, &err), -EINVAL);
    ck_assert_int_eq(wal_append(w, WAL_PLAN, 1, &x, WAL_MAX_PAYLOAD + 1, &err), -EINVAL);
    append_rec(w, 5, 0);
    ck_assert_int_eq(wal_append(w, WAL_PLAN, 4, &x, 1, &err), -EINVAL);
    ck_assert_int_eq(wal_sync(w, &err), 0);
    wal_close(w);
}
END_TEST

/* ------------------------------------------------------------ concurrent scan */

typedef struct writer_arg {
    wal *w;
    volatile int done;
} writer_arg;

static void *writer_main(void *p)
{
    writer_arg *a = p;
    write_batches(a->w, 1, 400, 3);
    a->done = 1;
    return NULL;
}

START_TEST(scan_is_safe_while_writer_appends)
{
    wal_damage d;
    writer_arg a = {.w = open_wal(8192, &d)};
    pthread_t t;

    ck_assert_int_eq(pthread_create(&t, NULL, writer_main, &a), 0);
    int scans = 0;
    while (!a.done || scans < 3) {
        collector c = {0};
        ember_err err = {0};
        int rc = wal_scan(wal_dir, 0, collect, &c, &d, &err);
        if (rc == -ENOENT) /* before the directory exists */
            continue;
        ck_assert_msg(rc == 0, "%s", err.msg);
        ck_assert_int_eq(d.corrupt, 0);
        for (size_t k = 0; k < c.n; k++)
            check_rec(&c.recs[k], 1 + k / 3, (int)(k % 3));
        collector_reset(&c);
        scans++;
    }
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    wal_close(a.w);
}
END_TEST

/* ------------------------------------------------------------ main */

static Suite *wal_suite(void)
{
    Suite *s = suite_create("wal");
    TCase *tc = tcase_create("wal");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, round_trip_across_rotations);
    tcase_add_test(tc, reopen_appends_after_existing_records);
    tcase_add_test(tc, large_record_bypasses_buffer);
    tcase_add_test(tc, visitor_result_stops_scan);
    tcase_add_test(tc, torn_record_at_every_byte);
    tcase_add_test(tc, zero_filled_tail_is_truncated);
    tcase_add_test(tc, flipped_bit_anywhere_is_detected);
    tcase_add_test(tc, corrupt_older_segment_is_an_error);
    tcase_add_test(tc, empty_segment_is_fine);
    tcase_add_test(tc, empty_last_segment_after_rotation);
    tcase_add_test(tc, missing_dir_is_created);
    tcase_add_test(tc, delete_before_keeps_needed_segments);
    tcase_add_test(tc, delete_before_keeps_segment_holding_keep_from);
    tcase_add_test(tc, delete_failpoint_stops_deletion);
    tcase_add_test(tc, failed_write_poisons_until_reopen);
    tcase_add_test(tc, failed_fsync_poisons);
    tcase_add_test(tc, after_append_failpoint_fires_after_plan_sync);
    tcase_add_test(tc, bad_append_arguments);
    tcase_add_test(tc, scan_is_safe_while_writer_appends);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wal_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
