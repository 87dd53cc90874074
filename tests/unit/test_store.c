/*
 * test_store: state/store.c against a real RocksDB in a mkdtemp directory.
 * Covers the commit path (one batch, keys + meta), reopen, MultiGet, the
 * read-only open that inspection tools do while a job writes (in a second
 * process), checkpoints, prefix iteration and the state.write failpoint.
 */
#include "state/store.h"

#include "core/fault/failpoint.h"

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_tmp[64]; /* "/tmp/ember-test-store-XXXXXX" */
static char g_db[PATH_MAX];
static const char *const OPS[] = {"counts", "sums"};

static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *e;
    char sub[PATH_MAX];

    if (!d) {
        unlink(path);
        return;
    }
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        rm_tree(sub);
    }
    closedir(d);
    rmdir(path);
}

static void setup(void)
{
    strcpy(g_tmp, "/tmp/ember-test-store-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    snprintf(g_db, sizeof g_db, "%s/db", g_tmp);
}

static void teardown(void)
{
    fp_disarm_all();
    rm_tree(g_tmp);
}

static store *open_rw(const char *dir, const char *const *ops, size_t n)
{
    store_opts o = {.block_cache_bytes = 8u << 20};
    ember_err err = {0};
    store *s = NULL;
    int rc = store_open(dir, ops, n, &o, &s, &err);
    ck_assert_msg(rc == 0, "open %s: %d %s", dir, rc, err.msg);
    return s;
}

static store *open_ro(const char *dir)
{
    store_opts o = {.read_only = 1};
    ember_err err = {0};
    store *s = NULL;
    int rc = store_open(dir, NULL, 0, &o, &s, &err);
    ck_assert_msg(rc == 0, "open read-only %s: %d %s", dir, rc, err.msg);
    return s;
}

/* Value of key k in cf as a string, or NULL when absent. */
static char *get_str(store *s, int cf, const char *k)
{
    char *v = NULL, *out;
    size_t n = 0;
    ember_err err = {0};
    int rc = store_get(s, cf, k, strlen(k), &v, &n, &err);
    if (rc == -ENOENT)
        return NULL;
    ck_assert_msg(rc == 0, "get %s: %s", k, err.msg);
    out = strndup(v, n);
    free(v);
    return out;
}

static void assert_value(store *s, int cf, const char *k, const char *want)
{
    char *got = get_str(s, cf, k);
    if (!want)
        ck_assert_msg(!got, "key %s: expected absent, got %s", k, got);
    else
        ck_assert_msg(got && strcmp(got, want) == 0, "key %s: expected %s, got %s", k, want,
                      got ? got : "(absent)");
    free(got);
}

static void put_str(store_batch *b, store *s, int cf, const char *k, const char *v)
{
    store_batch_put(b, s, cf, k, strlen(k), v, strlen(v));
}

/* One commit: n keys "key<i>" = "v<round>.<i>" in both ops, plus meta. */
static void commit_round(store *s, int round, int n)
{
    char k[32], v[32];
    ember_err err = {0};
    store_batch *b = store_batch_new();
    ck_assert_ptr_nonnull(b);
    for (int i = 0; i < n; i++) {
        snprintf(k, sizeof k, "key%05d", i);
        snprintf(v, sizeof v, "v%d.%d", round, i);
        put_str(b, s, 1, k, v);
        put_str(b, s, 2, k, v);
    }
    snprintf(v, sizeof v, "%d", round);
    put_str(b, s, STORE_META, "commit", v);
    ck_assert_uint_eq(store_batch_count(b), (size_t)(2 * n + 1));
    ck_assert_msg(store_write(s, b, 1, &err) == 0, "write: %s", err.msg);
    store_batch_free(b);
}

START_TEST(commit_survives_reopen)
{
    store *s = open_rw(g_db, OPS, 2);
    ck_assert_uint_eq(store_cf_count(s), 3);
    ck_assert_str_eq(store_cf_name(s, STORE_META), "meta");
    ck_assert_int_eq(store_cf_index(s, "counts"), 1);
    ck_assert_int_eq(store_cf_index(s, "sums"), 2);
    ck_assert_int_eq(store_cf_index(s, "default"), -1);
    commit_round(s, 1, 100);
    commit_round(s, 2, 50); /* overwrites the first 50 */
    store_close(s);

    s = open_rw(g_db, OPS, 2);
    assert_value(s, STORE_META, "commit", "2");
    assert_value(s, 1, "key00000", "v2.0");
    assert_value(s, 2, "key00049", "v2.49");
    assert_value(s, 2, "key00050", "v1.50");
    assert_value(s, 1, "key00100", NULL);
    assert_value(s, STORE_META, "key00000", NULL); /* CFs are separate */
    store_close(s);
}
END_TEST

START_TEST(serialized_batch_applies_elsewhere)
{
    char other[300];
    ember_err err = {0};
    store *s = open_rw(g_db, OPS, 2);
    snprintf(other, sizeof other, "%s/db2", g_tmp);
    store *t = open_rw(other, OPS, 2);
    store_batch *b = store_batch_new();
    store_batch_put(b, s, 1, "a", 1, "one", 3);
    store_batch_put(b, s, 2, "b", 1, "two", 3);
    store_batch_delete(b, s, 2, "c", 1);
    size_t len = 0;
    const char *data = store_batch_data(b, &len);
    ck_assert_uint_gt(len, 12);
    store_batch *copy = store_batch_from(data, len);
    ck_assert_uint_eq(store_batch_count(copy), 3);
    store_batch *pre = store_batch_new();
    store_batch_put(pre, t, 2, "c", 1, "gone", 4);
    ck_assert_int_eq(store_write(t, pre, 0, &err), 0);
    ck_assert_int_eq(store_write(t, copy, 1, &err), 0);
    assert_value(t, 1, "a", "one");
    assert_value(t, 2, "b", "two");
    assert_value(t, 2, "c", NULL);
    assert_value(t, 1, "b", NULL); /* families kept apart by their ids */
    store_batch_free(b);
    store_batch_free(copy);
    store_batch_free(pre);
    store_close(t);
    store_close(s);
}
END_TEST

START_TEST(delete_in_batch)
{
    store *s = open_rw(g_db, OPS, 2);
    ember_err err = {0};
    commit_round(s, 1, 3);
    store_batch *b = store_batch_new();
    store_batch_delete(b, s, 1, "key00001", 8);
    ck_assert_int_eq(store_write(s, b, 0, &err), 0);
    store_batch_free(b);
    assert_value(s, 1, "key00001", NULL);
    assert_value(s, 2, "key00001", "v1.1");
    store_close(s);
}
END_TEST

START_TEST(failed_write_applies_nothing)
{
    store *s = open_rw(g_db, OPS, 2);
    ember_err err = {0};
    commit_round(s, 1, 10);
    ck_assert_int_eq(fp_arm("state.write=error", &err), 0);
    store_batch *b = store_batch_new();
    put_str(b, s, 1, "key00000", "lost");
    put_str(b, s, STORE_META, "commit", "2");
    int rc = store_write(s, b, 1, &err);
    ck_assert_int_eq(rc, -EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, g_db));
    ck_assert_ptr_nonnull(strstr(err.msg, "state.write"));
    fp_disarm_all();
    store_batch_free(b);
    assert_value(s, 1, "key00000", "v1.0");
    assert_value(s, STORE_META, "commit", "1");
    store_close(s);
}
END_TEST

START_TEST(multiget_present_and_absent)
{
    store *s = open_rw(g_db, OPS, 2);
    ember_err err = {0};
    commit_round(s, 1, 20);
    ember_str keys[5] = {{"key00003", 8}, {"nope", 4}, {"key00019", 8}, {"", 0},
                         {"key00020", 8}};
    ember_str vals[5];
    ck_assert_int_eq(store_multiget(s, 2, keys, 5, vals, &err), 0);
    ck_assert_ptr_nonnull(vals[0].ptr);
    ck_assert_uint_eq(vals[0].len, 4);
    ck_assert_mem_eq(vals[0].ptr, "v1.3", 4);
    ck_assert_ptr_null(vals[1].ptr);
    ck_assert_mem_eq(vals[2].ptr, "v1.19", 5);
    ck_assert_ptr_null(vals[3].ptr);
    ck_assert_ptr_null(vals[4].ptr);
    for (int i = 0; i < 5; i++)
        store_free_value(&vals[i]);
    ck_assert_int_eq(store_multiget(s, 2, keys, 0, vals, &err), 0);
    ck_assert_int_eq(store_multiget(s, 7, keys, 1, vals, &err), -EINVAL);
    store_close(s);
}
END_TEST

START_TEST(reopen_keeps_unlisted_cfs)
{
    store *s = open_rw(g_db, OPS, 2);
    commit_round(s, 1, 5);
    store_close(s);
    const char *only[] = {"sums", "new"};
    s = open_rw(g_db, only, 2);
    ck_assert_int_eq(store_cf_index(s, "sums"), 1);
    ck_assert_int_eq(store_cf_index(s, "new"), 2);
    ck_assert_int_eq(store_cf_index(s, "counts"), 3);
    assert_value(s, 1, "key00004", "v1.4");
    assert_value(s, 3, "key00004", "v1.4");
    store_close(s);
}
END_TEST

START_TEST(bad_op_names_rejected)
{
    const char *dup[] = {"a", "a"};
    const char *meta[] = {"meta"};
    store *s = NULL;
    ember_err err = {0};
    ck_assert_int_eq(store_open(g_db, dup, 2, NULL, &s, &err), -EINVAL);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(store_open(g_db, meta, 1, NULL, &s, &err), -EINVAL);
}
END_TEST

START_TEST(second_writer_is_refused)
{
    store *s = open_rw(g_db, OPS, 2), *s2 = NULL;
    ember_err err = {0};
    int rc = store_open(g_db, OPS, 2, NULL, &s2, &err);
    ck_assert_msg(rc == -EMBER_ELOCKED, "rc %d: %s", rc, err.msg);
    ck_assert_ptr_null(s2);
    ck_assert_ptr_nonnull(strstr(err.msg, g_db));
    store_close(s);
}
END_TEST

START_TEST(read_only_missing_db_is_enoent)
{
    store_opts o = {.read_only = 1};
    store *s = NULL;
    ember_err err = {0};
    ck_assert_int_eq(store_open(g_db, NULL, 0, &o, &s, &err), -ENOENT);
    ck_assert_ptr_nonnull(strstr(err.msg, g_db));
    ck_assert_ptr_null(s);
}
END_TEST

/* Child side of the two-process test: waits for the parent's commit, opens
 * read-only, checks what it sees. Exit status 0 means all good. */
static int reader_child(int ready_fd)
{
    char c;
    store_opts o = {.read_only = 1};
    ember_err err = {0};
    store *s = NULL;
    int bad = 0;

    if (read(ready_fd, &c, 1) != 1)
        return 10;
    if (store_open(g_db, NULL, 0, &o, &s, &err) != 0) {
        fprintf(stderr, "reader: %s\n", err.msg);
        return 11;
    }
    bad |= store_cf_count(s) != 3 || strcmp(store_cf_name(s, 0), "meta") != 0;
    bad |= store_cf_index(s, "counts") < 1 || store_cf_index(s, "sums") < 1;
    char *v = NULL;
    size_t n = 0;
    if (store_get(s, STORE_META, "commit", 6, &v, &n, &err) != 0 || n != 1 || v[0] != '3')
        bad |= 2;
    free(v);
    if (store_get(s, store_cf_index(s, "sums"), "key00007", 8, &v, &n, &err) != 0 ||
        n != 4 || memcmp(v, "v3.7", 4) != 0)
        bad |= 4;
    free(v);
    /* writes are refused on a read-only store */
    store_batch *b = store_batch_new();
    store_batch_put(b, s, STORE_META, "x", 1, "y", 1);
    bad |= store_write(s, b, 0, &err) == 0 ? 8 : 0;
    store_batch_free(b);
    store_close(s);
    return bad;
}

/* Child side of the second-writer test: its open must be refused. */
static int writer_child(int ready_fd)
{
    char c;
    ember_err err = {0};
    store *s = NULL;

    if (read(ready_fd, &c, 1) != 1)
        return 10;
    int rc = store_open(g_db, OPS, 2, NULL, &s, &err);
    store_close(s);
    if (rc != -EMBER_ELOCKED || !strstr(err.msg, g_db)) {
        fprintf(stderr, "second writer: %d %s\n", rc, err.msg);
        return 1;
    }
    return 0;
}

/* Forks child(fd) before this process touches RocksDB (so the child starts
 * clean), lets the caller set up, then releases the child and returns its
 * exit status. */
typedef struct child {
    pid_t pid;
    int fd;
} child;

static child child_start(int (*fn)(int))
{
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(pipefd[1]);
        _exit(fn(pipefd[0]));
    }
    close(pipefd[0]);
    return (child){pid, pipefd[1]};
}

static int child_finish(child c)
{
    int status = 0;
    ck_assert_int_eq(write(c.fd, "go", 1), 1);
    close(c.fd);
    ck_assert_int_eq(waitpid(c.pid, &status, 0), c.pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(second_writer_in_another_process_is_refused)
{
    child c = child_start(writer_child);
    store *s = open_rw(g_db, OPS, 2);
    ck_assert_int_eq(child_finish(c), 0);
    store_close(s);
}
END_TEST

START_TEST(read_only_open_while_writer_runs)
{
    child c = child_start(reader_child);
    store *s = open_rw(g_db, OPS, 2);
    commit_round(s, 1, 10);
    commit_round(s, 2, 10);
    commit_round(s, 3, 10); /* only in the WAL and memtable: never flushed */
    ck_assert_int_eq(child_finish(c), 0);
    commit_round(s, 4, 10); /* the writer is unaffected */
    assert_value(s, STORE_META, "commit", "4");
    store_close(s);
}
END_TEST

/* Sum of names and sizes of every file under dir, to see it did not change. */
static void dir_fingerprint(const char *dir, char *out, size_t cap)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    struct stat st;
    char path[PATH_MAX];
    out[0] = '\0';
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d))) {
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] == '.' || stat(path, &st) != 0)
            continue;
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s:%lld:%lld;", e->d_name, (long long)st.st_size,
                 (long long)st.st_mtime);
    }
    closedir(d);
}

START_TEST(checkpoint_opens_with_same_data)
{
    char cp[PATH_MAX], before[8192], after[8192];
    ember_err err = {0};
    snprintf(cp, sizeof cp, "%s/snap", g_tmp);
    store *s = open_rw(g_db, OPS, 2);
    commit_round(s, 1, 1000);
    commit_round(s, 2, 10);
    ck_assert_msg(store_checkpoint(s, cp, &err) == 0, "checkpoint: %s", err.msg);
    commit_round(s, 3, 1000); /* later writes stay out of the checkpoint */
    ck_assert_int_lt(store_checkpoint(s, cp, &err), 0); /* dir exists */
    ck_assert_ptr_nonnull(strstr(err.msg, cp));

    dir_fingerprint(cp, before, sizeof before);
    store *r = open_ro(cp);
    assert_value(r, STORE_META, "commit", "2");
    assert_value(r, store_cf_index(r, "counts"), "key00005", "v2.5");
    assert_value(r, store_cf_index(r, "sums"), "key00500", "v1.500");
    store_close(r);
    dir_fingerprint(cp, after, sizeof after);
    ck_assert_str_eq(before, after); /* a read-only open changes nothing */

    r = open_rw(cp, OPS, 2); /* a restored snapshot opens as a live db */
    assert_value(r, 1, "key00999", "v1.999");
    store_close(r);
    assert_value(s, 1, "key00999", "v3.999");
    store_close(s);
}
END_TEST

/* Collects the keys an iterator yields, joined with '|'. */
static void iter_keys(store *s, int cf, const char *p, size_t plen, char *out, size_t cap)
{
    store_iter *it = store_iter_new(s, cf, p, plen);
    size_t used = 0;
    ck_assert_ptr_nonnull(it);
    out[0] = '\0';
    for (; store_iter_valid(it); store_iter_next(it)) {
        size_t kl, vl;
        const char *k = store_iter_key(it, &kl);
        const char *v = store_iter_value(it, &vl);
        ck_assert_uint_eq(vl, kl); /* test values mirror their keys */
        ck_assert_mem_eq(k, v, kl);
        for (size_t i = 0; i < kl && used + 5 < cap; i++)
            used += (size_t)snprintf(out + used, cap - used, isprint((unsigned char)k[i])
                                                                 ? "%c"
                                                                 : "\\x%02x",
                                     (unsigned char)k[i]);
        used += (size_t)snprintf(out + used, cap - used, "|");
    }
    store_iter_free(it);
}

START_TEST(iterator_stays_in_prefix)
{
    static const char *keys[] = {"a1", "a2", "b", "b1", "b\xff", "b\xff\xff", "c", "\xff",
                                 "\xff\x01", "\xff\xff"};
    char got[512];
    ember_err err = {0};
    store *s = open_rw(g_db, OPS, 2);
    store_batch *b = store_batch_new();
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        put_str(b, s, 1, keys[i], keys[i]);
    ck_assert_int_eq(store_write(s, b, 1, &err), 0);
    store_batch_free(b);

    iter_keys(s, 1, "b", 1, got, sizeof got);
    ck_assert_str_eq(got, "b|b1|b\\xff|b\\xff\\xff|");
    iter_keys(s, 1, "a", 1, got, sizeof got);
    ck_assert_str_eq(got, "a1|a2|");
    iter_keys(s, 1, "\xff", 1, got, sizeof got); /* no upper bound exists */
    ck_assert_str_eq(got, "\\xff|\\xff\\x01|\\xff\\xff|");
    iter_keys(s, 1, "b\xff", 2, got, sizeof got);
    ck_assert_str_eq(got, "b\\xff|b\\xff\\xff|");
    iter_keys(s, 1, "zz", 2, got, sizeof got);
    ck_assert_str_eq(got, "");
    iter_keys(s, 1, NULL, 0, got, sizeof got);
    ck_assert_str_eq(got, "a1|a2|b|b1|b\\xff|b\\xff\\xff|c|\\xff|\\xff\\x01|\\xff\\xff|");
    iter_keys(s, 2, NULL, 0, got, sizeof got);
    ck_assert_str_eq(got, "");
    ck_assert_ptr_null(store_iter_new(s, 9, NULL, 0));
    store_close(s);
}
END_TEST

/* store_iter_new_at: the whole family from the first key >= the one given. */
START_TEST(iterator_at_starts_at_the_key)
{
    static const char *keys[] = {"a1", "b", "b1", "c", "\xff"};
    char got[128];
    ember_err err = {0};
    store *s = open_rw(g_db, OPS, 2);
    store_batch *b = store_batch_new();
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        put_str(b, s, 1, keys[i], keys[i]);
    ck_assert_int_eq(store_write(s, b, 1, &err), 0);
    store_batch_free(b);
    static const struct {
        const char *at, *want;
    } cases[] = {
        {"b0", "b1|c|\\xff|"}, {"b", "b|b1|c|\\xff|"}, {"", "a1|b|b1|c|\\xff|"}, {"\xff\xff", ""}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        store_iter *it = store_iter_new_at(s, 1, cases[c].at, strlen(cases[c].at));
        size_t used = 0;
        ck_assert_ptr_nonnull(it);
        got[0] = '\0';
        for (; store_iter_valid(it); store_iter_next(it)) {
            size_t kl;
            const char *k = store_iter_key(it, &kl);
            for (size_t i = 0; i < kl; i++)
                used += (size_t)snprintf(got + used, sizeof got - used,
                                         isprint((unsigned char)k[i]) ? "%c" : "\\x%02x",
                                         (unsigned char)k[i]);
            used += (size_t)snprintf(got + used, sizeof got - used, "|");
        }
        ck_assert_int_eq(store_iter_status(it, &err), 0);
        store_iter_free(it);
        ck_assert_msg(!strcmp(got, cases[c].want), "at '%s': %s", cases[c].at, got);
    }
    ck_assert_ptr_null(store_iter_new_at(s, 9, "a", 1));
    store_close(s);
}
END_TEST

START_TEST(stats_estimate_keys_and_bytes)
{
    uint64_t keys = 0, bytes = 0;
    store *s = open_rw(g_db, OPS, 2);
    commit_round(s, 1, 2000);
    store_stats(s, 1, &keys, &bytes);
    ck_assert_uint_gt(keys, 1000);
    ck_assert_uint_le(keys, 4000);
    ck_assert_uint_gt(bytes, 2000 * 8);
    store_stats(s, 42, &keys, &bytes);
    ck_assert_uint_eq(keys, 0);
    ck_assert_uint_eq(bytes, 0);
    store_close(s);
}
END_TEST


/* ---------------------------------------------------------------- damage */

/* Commits rounds and flushes them into table files (a checkpoint flushes
 * first), then closes: the db is all SSTs. */
static void build_flushed_db(int rounds, int n)
{
    char cp[PATH_MAX];
    ember_err err = {0};
    store *s = open_rw(g_db, OPS, 2);
    for (int r = 1; r <= rounds; r++) {
        commit_round(s, r, n);
        snprintf(cp, sizeof cp, "%s/flush%d", g_tmp, r);
        ck_assert_msg(store_checkpoint(s, cp, &err) == 0, "checkpoint: %s", err.msg);
        rm_tree(cp);
    }
    store_close(s);
}

/* Name (in g_db) of the table file of column family `cf` (its name is in
 * the table's properties block, in plain text). */
static void table_of(const char *cf, char *out, size_t cap)
{
    DIR *d = opendir(g_db);
    int found = 0;
    ck_assert_ptr_nonnull(d);
    for (struct dirent *e; !found && (e = readdir(d));) {
        char p[PATH_MAX], buf[1 << 16];
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".sst"))
            continue;
        snprintf(p, sizeof p, "%s/%s", g_db, e->d_name);
        FILE *f = fopen(p, "rb");
        size_t got = f ? fread(buf, 1, sizeof buf, f) : 0;
        if (f)
            fclose(f);
        found = memmem(buf, got, cf, strlen(cf)) != NULL;
        if (found)
            snprintf(out, cap, "%s", e->d_name);
    }
    closedir(d);
    ck_assert_msg(found, "no table of %s", cf);
}

static void flip_byte(const char *path, long at)
{
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, at, SEEK_SET), 0);
    int c = fgetc(f);
    ck_assert_int_ne(c, EOF);
    ck_assert_int_eq(fseek(f, at, SEEK_SET), 0);
    fputc(c ^ 0x40, f);
    ck_assert_int_eq(fclose(f), 0);
}

/* A flipped byte in the first data block of the table holding "counts". */
static void damage_data_block(void)
{
    char name[256], path[PATH_MAX];
    table_of("counts", name, sizeof name);
    snprintf(path, sizeof path, "%s/%s", g_db, name);
    flip_byte(path, 20);
}

static int count_sst(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        n += l > 4 && strcmp(e->d_name + l - 4, ".sst") == 0;
    }
    if (d)
        closedir(d);
    return n;
}

START_TEST(iteration_reports_corruption_with_file_and_keys)
{
    build_flushed_db(1, 3000);
    damage_data_block();
    store *s = open_ro(g_db);
    int cf = store_cf_index(s, "counts");
    store_iter *it = store_iter_new(s, cf, NULL, 0);
    ember_err err = {0};
    uint64_t n = 0;
    for (; store_iter_valid(it); store_iter_next(it))
        n++;
    ck_assert_uint_lt(n, 3000); /* the iteration ended early... */
    int rc = store_iter_status(it, &err); /* ...and says so */
    ck_assert_int_eq(rc, -EMBER_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "\"counts\"") && strstr(err.msg, ".sst") &&
                      strstr(err.msg, "holds keys 'key"),
                  "%s", err.msg);
    ck_assert_ptr_null(strchr(err.msg, '\n'));
    store_iter_free(it);
    ck_assert_int_eq(store_read_status(s, &err), -EMBER_ECORRUPT);
    uint64_t keys = 0;
    ck_assert_int_eq(store_scan(s, cf, &keys, &err), -EMBER_ECORRUPT);
    ck_assert_int_eq(store_scan(s, store_cf_index(s, "sums"), &keys, &err), 0);
    ck_assert_uint_eq(keys, 3000); /* the other CF reads whole */
    store_close(s);
}
END_TEST

START_TEST(writer_marks_corruption_and_no_open_follows)
{
    char why[512];
    build_flushed_db(1, 3000);
    damage_data_block();
    store *s = open_rw(g_db, OPS, 2); /* a data block is read only when used */
    ember_str keys[3] = {{"key00000", 8}, {"key00001", 8}, {"key02999", 8}};
    ember_str vals[3];
    ember_err err = {0};
    int rc = store_multiget(s, 1, keys, 3, vals, &err);
    ck_assert_msg(rc == -EMBER_ECORRUPT, "multiget: %d %s", rc, err.msg);
    store_close(s);
    ck_assert_int_eq(store_damage_note(g_db, why, sizeof why), 1);
    ck_assert_ptr_nonnull(strstr(why, "Corruption"));
    store *t = NULL;
    store_opts o = {0};
    ck_assert_int_eq(store_open(g_db, OPS, 2, &o, &t, &err), -EMBER_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "damaged"));
    o.read_only = 1;
    ck_assert_int_eq(store_open(g_db, NULL, 0, &o, &t, &err), -EMBER_ECORRUPT);
}
END_TEST

START_TEST(failed_read_blocks_the_write_as_corruption)
{
    build_flushed_db(1, 3000);
    damage_data_block();
    store *s = open_rw(g_db, OPS, 2);
    ember_err err = {0};
    store_iter *it = store_iter_new(s, 1, NULL, 0);
    while (store_iter_valid(it))
        store_iter_next(it);
    store_iter_free(it);
    store_batch *b = store_batch_new();
    put_str(b, s, 1, "x", "y");
    ck_assert_int_eq(store_write(s, b, 1, &err), -EMBER_ECORRUPT);
    store_batch_free(b);
    store_close(s);
    ck_assert_int_eq(store_damage_note(g_db, NULL, 0), 1);
}
END_TEST

/* A MANIFEST cut after its first records opens as an older (here: empty)
 * db; the writable open would delete every table it does not list. */
START_TEST(writer_open_of_truncated_manifest_keeps_every_table)
{
    char manifest[PATH_MAX] = "", unlisted[PATH_MAX];
    build_flushed_db(3, 500);
    int before = count_sst(g_db);
    ck_assert_int_gt(before, 0);
    DIR *d = opendir(g_db);
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, "MANIFEST-", 9))
            snprintf(manifest, sizeof manifest, "%s/%s", g_db, e->d_name);
    closedir(d);
    ck_assert_int_eq(truncate(manifest, 151), 0);
    store *s = open_ro(g_db);
    char first[64];
    ck_assert_int_eq(store_unlisted_tables(s, first, sizeof first), before);
    store_close(s);
    s = open_rw(g_db, OPS, 2);
    store_close(s);
    snprintf(unlisted, sizeof unlisted, "%s.unlisted", g_db);
    ck_assert_int_eq(count_sst(g_db) + count_sst(unlisted), before);
    ck_assert_int_eq(count_sst(unlisted), before);
}
END_TEST

START_TEST(db_files_without_current_are_damage_not_a_new_db)
{
    char current[PATH_MAX];
    build_flushed_db(1, 100);
    int before = count_sst(g_db);
    snprintf(current, sizeof current, "%s/CURRENT", g_db);
    ck_assert_int_eq(unlink(current), 0);
    store *s = NULL;
    store_opts o = {0};
    ember_err err = {0};
    ck_assert_int_eq(store_open(g_db, OPS, 2, &o, &s, &err), -EMBER_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err.msg, "CURRENT"));
    ck_assert_int_eq(count_sst(g_db), before);
}
END_TEST

/* RocksDB puts paths and file contents into its messages, some ending in a
 * newline: every message of ours is one line. */
START_TEST(rocksdb_messages_are_one_line)
{
    char line[] = "Corruption: bad block\n  in file 000017.sst\n";
    store_one_line(line);
    ck_assert_str_eq(line, "Corruption: bad block in file 000017.sst");
    char dir[PATH_MAX], file[PATH_MAX];
    snprintf(file, sizeof file, "%s/not\na dir", g_tmp);
    FILE *f = fopen(file, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    snprintf(dir, sizeof dir, "%s/db", file);
    store *s = NULL;
    store_opts o = {0};
    ember_err err = {0};
    ck_assert_int_lt(store_open(dir, OPS, 2, &o, &s, &err), 0);
    ck_assert_msg(!strchr(err.msg, '\n'), "two lines: %s", err.msg);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, commit_survives_reopen);
    tcase_add_test(tc, delete_in_batch);
    tcase_add_test(tc, serialized_batch_applies_elsewhere);
    tcase_add_test(tc, failed_write_applies_nothing);
    tcase_add_test(tc, multiget_present_and_absent);
    tcase_add_test(tc, reopen_keeps_unlisted_cfs);
    tcase_add_test(tc, bad_op_names_rejected);
    tcase_add_test(tc, second_writer_is_refused);
    tcase_add_test(tc, second_writer_in_another_process_is_refused);
    tcase_add_test(tc, read_only_missing_db_is_enoent);
    tcase_add_test(tc, read_only_open_while_writer_runs);
    tcase_add_test(tc, checkpoint_opens_with_same_data);
    tcase_add_test(tc, iterator_stays_in_prefix);
    tcase_add_test(tc, iterator_at_starts_at_the_key);
    tcase_add_test(tc, stats_estimate_keys_and_bytes);
    tcase_add_test(tc, iteration_reports_corruption_with_file_and_keys);
    tcase_add_test(tc, writer_marks_corruption_and_no_open_follows);
    tcase_add_test(tc, failed_read_blocks_the_write_as_corruption);
    tcase_add_test(tc, writer_open_of_truncated_manifest_keeps_every_table);
    tcase_add_test(tc, db_files_without_current_are_damage_not_a_new_db);
    tcase_add_test(tc, rocksdb_messages_are_one_line);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
