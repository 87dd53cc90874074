/*
 * test_snapshot_damage: checkpoint/snapshot.c over a real RocksDB in a mkdtemp
 * checkpoint directory. Snapshots share table files with the live db by
 * hard links; these tests hold the line that one damaged or missing file
 * never takes every copy of the committed state with it: the oldest kept
 * snapshot shares no file, a restore copies, and every file of a directory
 * damaged in turn leaves a snapshot that verifies. Then the judgement of
 * the live state (a truncated RocksDB MANIFEST, a state that went back in
 * time, a damage mark) and the choice recovery acts on.
 */
#include "checkpoint/commit.h"
#include "checkpoint/snapshot.h"
#include "checkpoint/wal.h"
#include "core/source/source.h"
#include "state/layout.h"
#include "state/store.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOB_HASH 0x1234abcdULL
#define EVERY 3
#define KEEP 3

static char g_dir[64]; /* the checkpoint directory */
static char g_db[PATH_MAX];
static const char *const OPS[] = {"aggregate"};

static void rm_tree(const char *path)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    ck_assert_int_eq(system(cmd), 0);
}

static void setup(void)
{
    strcpy(g_dir, "/tmp/ember-test-snapdmg-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    snprintf(g_db, sizeof g_db, "%s/db", g_dir);
}

static void teardown(void)
{
    rm_tree(g_dir);
}

static store *open_rw(void)
{
    store_opts o = {0};
    ember_err err = {0};
    store *s = NULL;
    ck_assert_msg(store_open(g_db, OPS, 1, &o, &s, &err) == 0, "open: %s", err.msg);
    return s;
}

/* Batch b: 200 keys (half of them new) and its commit record. */
static void commit_batch(store *s, uint64_t b)
{
    char k[32], v[32];
    ember_err err = {0};
    store_batch *wb = store_batch_new();
    for (int i = 0; i < 200; i++) {
        int n = snprintf(k, sizeof k, "k%06d", (int)(b * 100 + (uint64_t)i));
        int m = snprintf(v, sizeof v, "v%" PRIu64 ".%d", b, i);
        store_batch_put(wb, s, 1, k, (size_t)n, v, (size_t)m);
    }
    src_range end = {0, 0, b * 1000};
    commit_record c = {.batch = b, .job_hash = JOB_HASH, .ends = &end, .n_ends = 1};
    commit_put(wb, s, &c);
    layout_put_u64(wb, s, META_STATE_KEYS, b * 100 + 100); /* keys k000100..k<b>199 */
    ck_assert_msg(store_write(s, wb, 1, &err) == 0, "write: %s", err.msg);
    store_batch_free(wb);
}

/* Batches 1..n with the engine's snapshot step (every EVERY, keep KEEP)
 * and a WAL holding every PLAN. */
static void run_batches(uint64_t n)
{
    char wal_dir[PATH_MAX];
    ember_err err = {0};
    wal *w = NULL;
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", g_dir);
    ck_assert_msg(wal_open(wal_dir, 1 << 20, &w, NULL, &err) == 0, "wal: %s", err.msg);
    store *s = open_rw();
    for (uint64_t b = 1; b <= n; b++) {
        uint8_t buf[64];
        src_range r = {0, (b - 1) * 1000, b * 1000};
        size_t len = plan_encoded_bytes(1);
        plan_encode(b * 10, &r, 1, buf);
        ck_assert_int_eq(wal_append(w, WAL_PLAN, b, buf, (uint32_t)len, &err), 0);
        ck_assert_int_eq(wal_sync(w, &err), 0);
        commit_batch(s, b);
        if (b % EVERY)
            continue;
        uint64_t oldest = 0;
        ck_assert_msg(snap_create(g_dir, s, b, b * 10, &r, 1, JOB_HASH, &err) == 0, "snap: %s",
                      err.msg);
        ck_assert_msg(snap_prune(g_dir, KEEP, &oldest, &err) == 0, "prune: %s", err.msg);
    }
    store_close(s);
    wal_close(w);
}

typedef struct file_list {
    char paths[512][PATH_MAX];
    int n;
} file_list;

/* Every regular file under dir/rel (recursively), as paths relative to dir. */
static void list_files(const char *dir, const char *rel, file_list *l)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    DIR *d = opendir(path);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        char sub[PATH_MAX], full[PATH_MAX];
        struct stat sb;
        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof full, "%s/%s", dir, sub);
        if (lstat(full, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode))
            list_files(dir, sub, l);
        else if (S_ISREG(sb.st_mode) && l->n < 512)
            snprintf(l->paths[l->n++], PATH_MAX, "%s", sub);
    }
    closedir(d);
}

static int max_links(const char *dir)
{
    file_list *l = calloc(1, sizeof *l);
    int most = 0;
    list_files(dir, "", l);
    for (int i = 0; i < l->n; i++) {
        char p[PATH_MAX];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, l->paths[i]);
        if (stat(p, &sb) == 0 && (int)sb.st_nlink > most)
            most = (int)sb.st_nlink;
    }
    free(l);
    return most;
}

static int n_verifying(const char *dir)
{
    uint64_t *b = NULL;
    size_t n = 0;
    int ok = 0;
    ember_err err = {0};
    ck_assert_int_eq(snap_list(dir, &b, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        ok += snap_verify(dir, b[i], NULL, &err) == 0;
    free(b);
    return ok;
}

START_TEST(oldest_kept_snapshot_shares_no_file)
{
    char path[PATH_MAX];
    uint64_t *b = NULL;
    size_t n = 0;
    ember_err err = {0};
    for (uint64_t rounds = 1; rounds <= 3; rounds++) {
        run_batches(rounds * 6 + 3);
        ck_assert_int_eq(snap_list(g_dir, &b, &n, &err), 0);
        ck_assert_uint_eq(n, KEEP);
        ck_assert_msg(snap_independent(g_dir, b[0]), "snapshot %" PRIu64 " shares a file",
                      b[0]);
        snap_path(path, sizeof path, g_dir, b[0]);
        ck_assert_int_eq(max_links(path), 1);
        /* the newer ones still link (a snapshot costs what changed) */
        snap_path(path, sizeof path, g_dir, b[n - 1]);
        ck_assert_int_gt(max_links(path), 1);
        free(b);
        rm_tree(g_dir);
        ck_assert_int_eq(mkdir(g_dir, 0700), 0);
    }
}
END_TEST

START_TEST(a_single_snapshot_is_independent)
{
    char path[PATH_MAX];
    uint64_t oldest = 0;
    ember_err err = {0};
    store *s = open_rw();
    src_range r = {0, 0, 1};
    commit_batch(s, 1);
    ck_assert_int_eq(snap_create(g_dir, s, 1, 1, &r, 1, JOB_HASH, &err), 0);
    ck_assert_int_eq(snap_prune(g_dir, 1, &oldest, &err), 0);
    ck_assert_uint_eq(oldest, 1);
    store_close(s);
    snap_path(path, sizeof path, g_dir, 1);
    ck_assert_int_eq(max_links(path), 1);
    ck_assert_int_eq(max_links(g_db), 1);
}
END_TEST

/* Every file of the directory in turn: truncated, emptied or deleted in a
 * copy (hard links preserved by cp -a), at least one snapshot verifies. */
START_TEST(any_one_damaged_file_leaves_a_verifying_snapshot)
{
    char copy[PATH_MAX], cmd[3 * PATH_MAX];
    file_list *l = calloc(1, sizeof *l);
    run_batches(13);
    list_files(g_dir, "", l);
    ck_assert_int_gt(l->n, 10);
    snprintf(copy, sizeof copy, "%s.copy", g_dir);
    int cases = 0;
    for (int i = 0; i < l->n; i++) {
        if (strncmp(l->paths[i], "db/", 3) && strncmp(l->paths[i], "snapshots/", 10))
            continue;
        for (int how = 0; how < 3; how++) {
            char victim[PATH_MAX];
            struct stat sb;
            snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", copy, g_dir, copy);
            ck_assert_int_eq(system(cmd), 0);
            snprintf(victim, sizeof victim, "%s/%s", copy, l->paths[i]);
            ck_assert_int_eq(stat(victim, &sb), 0);
            if (how == 0)
                ck_assert_int_eq(truncate(victim, sb.st_size / 2), 0);
            else if (how == 1)
                ck_assert_int_eq(truncate(victim, 0), 0);
            else
                ck_assert_int_eq(unlink(victim), 0);
            ck_assert_msg(n_verifying(copy) >= 1, "%s (%s): no snapshot verifies", l->paths[i],
                          how == 0 ? "truncated" : how == 1 ? "emptied" : "deleted");
            cases++;
        }
    }
    ck_assert_int_gt(cases, 30);
    rm_tree(copy);
    free(l);
}
END_TEST

START_TEST(restore_copies_and_keeps_the_snapshot_independent)
{
    uint64_t *b = NULL;
    size_t n = 0;
    ember_err err = {0};
    run_batches(9);
    ck_assert_int_eq(snap_list(g_dir, &b, &n, &err), 0);
    ck_assert_msg(snap_restore(g_dir, b[n - 1], &err) == 0, "restore: %s", err.msg);
    ck_assert_int_eq(max_links(g_db), 1); /* the live db shares nothing */
    ck_assert_msg(snap_restore(g_dir, b[0], &err) == 0, "restore: %s", err.msg);
    ck_assert_int_eq(max_links(g_db), 1);
    ck_assert(snap_independent(g_dir, b[0]));
    store *s = open_rw(); /* and it is the snapshot's state */
    commit_record c;
    ck_assert_int_eq(commit_read(s, &c, &err), 0);
    ck_assert_uint_eq(c.batch, b[0]);
    commit_free(&c);
    store_close(s);
    free(b);
}
END_TEST

static char *live_manifest(char *out, size_t cap)
{
    DIR *d = opendir(g_db);
    out[0] = '\0';
    for (struct dirent *e; d && (e = readdir(d));)
        if (!strncmp(e->d_name, "MANIFEST-", 9))
            snprintf(out, cap, "%s/%s", g_db, e->d_name);
    if (d)
        closedir(d);
    ck_assert_msg(out[0], "no MANIFEST in %s", g_db);
    return out;
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

START_TEST(live_state_judged)
{
    snap_live live;
    snap_check_live(g_dir, &live);
    ck_assert_int_eq(live.kind, SNAP_LIVE_MISSING);
    run_batches(7);
    snap_check_live(g_dir, &live);
    ck_assert_int_eq(live.kind, SNAP_LIVE_OK);
    ck_assert_uint_eq(live.batch, 7);
}
END_TEST

/* db/MANIFEST cut to 151 bytes: RocksDB opens it as an empty db. */
START_TEST(truncated_manifest_is_damage_not_a_fresh_start)
{
    char m[PATH_MAX], aside[PATH_MAX];
    snap_live live;
    snap_choice ch;
    ember_err err = {0};
    run_batches(8);
    int tables = count_sst(g_db);
    ck_assert_int_gt(tables, 0);
    ck_assert_int_eq(truncate(live_manifest(m, sizeof m), 151), 0);
    snap_check_live(g_dir, &live);
    ck_assert_msg(live.kind == SNAP_LIVE_DAMAGED, "kind %d batch %" PRIu64, live.kind, live.batch);
    ck_assert_int_eq(live.code, -EMBER_ECORRUPT);
    ck_assert_ptr_null(strchr(live.why, '\n'));
    ck_assert_int_eq(count_sst(g_db), tables); /* judging wrote nothing */
    snap_choose_opts o = {0};
    ck_assert_msg(snap_choose_state(g_dir, &o, &ch, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ch.action, SNAP_RESTORED);
    ck_assert_uint_eq(ch.batch, 6);
    ck_assert_ptr_nonnull(strstr(ch.why, "damaged"));
    snprintf(aside, sizeof aside, "%s/" SNAP_DAMAGED_LIVE, g_dir);
    ck_assert_int_eq(count_sst(aside), tables); /* set aside whole */
    snap_check_live(g_dir, &live);
    ck_assert_int_eq(live.kind, SNAP_LIVE_OK);
    ck_assert_uint_eq(live.batch, 6);
}
END_TEST

/* The live db replaced by an older state (a MANIFEST that lost versions):
 * a commit older than a snapshot is never taken as the state. */
START_TEST(state_older_than_a_snapshot_is_damaged)
{
    char cmd[3 * PATH_MAX], path[PATH_MAX];
    snap_live live;
    run_batches(9);
    snap_path(path, sizeof path, g_dir, 3);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s/db' '%s'", g_db, path, g_db);
    ck_assert_int_eq(system(cmd), 0);
    snap_check_live(g_dir, &live);
    ck_assert_int_eq(live.kind, SNAP_LIVE_DAMAGED);
    ck_assert_ptr_nonnull(strstr(live.why, "older than snapshot 9"));
}
END_TEST

START_TEST(damage_mark_restores_newest_and_sets_bad_snapshots_aside)
{
    char path[PATH_MAX], aside[PATH_MAX];
    snap_choice ch;
    ember_err err = {0};
    run_batches(9);
    ck_assert_int_eq(store_mark_damaged(g_db, "Corruption: block checksum mismatch"), 0);
    snap_path(path, sizeof path, g_dir, 9);
    strcat(path, "/MANIFEST");
    ck_assert_int_eq(truncate(path, 10), 0); /* snapshot 9 does not verify */
    snap_choose_opts o = {0};
    ck_assert_msg(snap_choose_state(g_dir, &o, &ch, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ch.action, SNAP_RESTORED);
    ck_assert_uint_eq(ch.batch, 6);
    ck_assert_str_eq(ch.skipped, "9");
    ck_assert_ptr_nonnull(strstr(ch.why, "block checksum mismatch"));
    snprintf(aside, sizeof aside, "%s/snapshots/damaged-%020d", g_dir, 9);
    ck_assert_int_eq(access(aside, F_OK), 0);
    ck_assert_uint_eq(snap_newest(g_dir), 6);
    ck_assert_int_eq(store_damage_note(g_db, NULL, 0), 0); /* the restored db is clean */
}
END_TEST

START_TEST(nothing_verifies_says_what_to_do)
{
    char path[PATH_MAX];
    uint64_t *b = NULL;
    size_t n = 0;
    snap_choice ch;
    ember_err err = {0};
    run_batches(9); /* the WAL plans batch 1: an empty state + replay would do */
    ck_assert_int_eq(snap_list(g_dir, &b, &n, &err), 0);
    ck_assert_int_eq(store_mark_damaged(g_db, "Corruption: x"), 0);
    for (size_t i = 0; i < n; i++) {
        snap_path(path, sizeof path, g_dir, b[i]);
        strcat(path, "/MANIFEST");
        ck_assert_int_eq(unlink(path), 0);
    }
    free(b);
    snap_choose_opts o = {.replayable = 1};
    ck_assert_msg(snap_choose_state(g_dir, &o, &ch, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ch.action, SNAP_START_EMPTY);
    ck_assert_int_eq(access(g_db, F_OK), -1);

    /* without the WAL's first PLANs: an error that suggests --rebuild */
    rm_tree(g_dir);
    ck_assert_int_eq(mkdir(g_dir, 0700), 0);
    run_batches(9);
    char wal_dir[PATH_MAX], first[PATH_MAX];
    snprintf(wal_dir, sizeof wal_dir, "%s/wal", g_dir);
    ck_assert_int_eq(snap_list(g_dir, &b, &n, &err), 0);
    for (size_t i = 0; i < n; i++) {
        snap_path(path, sizeof path, g_dir, b[i]);
        strcat(path, "/MANIFEST");
        ck_assert_int_eq(unlink(path), 0);
    }
    free(b);
    /* a WAL that starts at batch 5, as after snapshots pruned its start */
    snprintf(first, sizeof first, "rm -rf '%s'", wal_dir);
    ck_assert_int_eq(system(first), 0);
    wal *w = NULL;
    ck_assert_int_eq(wal_open(wal_dir, 1 << 20, &w, NULL, &err), 0);
    for (uint64_t bt = 5; bt <= 9; bt++) {
        uint8_t buf[64];
        src_range r = {0, (bt - 1) * 1000, bt * 1000};
        size_t len = plan_encoded_bytes(1);
        plan_encode(bt * 10, &r, 1, buf);
        ck_assert_int_eq(wal_append(w, WAL_PLAN, bt, buf, (uint32_t)len, &err), 0);
    }
    ck_assert_int_eq(wal_sync(w, &err), 0);
    wal_close(w);
    ck_assert_int_eq(store_mark_damaged(g_db, "Corruption: x"), 0);
    ck_assert_int_eq(snap_choose_state(g_dir, &o, &ch, &err), -EMBER_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "no snapshot verifies") && strstr(err.msg, "--rebuild"), "%s",
                  err.msg);
    ck_assert_int_eq(access(g_db, F_OK), 0); /* nothing moved: the user decides */

    o.rebuild = 1;
    ck_assert_msg(snap_choose_state(g_dir, &o, &ch, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ch.action, SNAP_REBUILD);
    uint64_t batch = 0, t = 0;
    src_range *r = NULL;
    size_t nr = 0;
    ck_assert_int_eq(snap_rebuild_batch(g_dir, &batch, &t, &r, &nr, &err), 0);
    ck_assert_uint_eq(batch, 4);
    ck_assert_uint_eq(nr, 1);
    ck_assert_uint_eq(r[0].from, 0);
    ck_assert_uint_eq(r[0].to, 4000);
    free(r);
}
END_TEST


/* A table of the live db that changed after a snapshot linked it: the next
 * snapshot would verify against its own MANIFEST with the damage inside.
 * batch 0: a large live table, shared or not. */
static void flip_live_table_shared_with(uint64_t batch)
{
    char path[PATH_MAX];
    snap_path(path, sizeof path, g_dir, batch);
    strcat(path, "/db");
    if (!batch) /* any live table: the largest, which holds the keys */
        snprintf(path, sizeof path, "%s", g_db);
    DIR *d = opendir(path);
    char victim[PATH_MAX] = "";
    for (struct dirent *e; d && (e = readdir(d));) {
        char live[PATH_MAX];
        struct stat a, b;
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".sst"))
            continue;
        snprintf(live, sizeof live, "%s/%s", g_db, e->d_name);
        snprintf(victim, sizeof victim, "%s/%s", path, e->d_name);
        if (stat(live, &a) == 0 && stat(victim, &b) == 0 && a.st_ino == b.st_ino &&
            (batch || a.st_size > 2000)) {
            snprintf(victim, sizeof victim, "%s", live);
            break;
        }
        victim[0] = '\0';
    }
    if (d)
        closedir(d);
    ck_assert_msg(victim[0], "no live table shared with snapshot %" PRIu64, batch);
    FILE *f = fopen(victim, "r+b");
    ck_assert_ptr_nonnull(f);
    fseek(f, 20, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 20, SEEK_SET);
    fputc(c ^ 0x40, f);
    fclose(f);
}

START_TEST(snapshot_of_a_changed_table_fails_and_marks_the_live_state)
{
    ember_err err = {0};
    run_batches(6); /* snapshots 3 and 6; 6 shares tables with the live db */
    flip_live_table_shared_with(6);
    store *s = open_rw();
    src_range r = {0, 0, 7000};
    commit_batch(s, 7);
    int rc = snap_create(g_dir, s, 7, 70, &r, 1, JOB_HASH, &err);
    store_close(s);
    ck_assert_int_eq(rc, -EMBER_ECORRUPT);
    ck_assert_msg(strstr(err.msg, "not what snapshot 6 recorded"), "%s", err.msg);
    ck_assert_int_eq(store_damage_note(g_db, NULL, 0), 1);
    ck_assert_uint_eq(snap_newest(g_dir), 6); /* no snapshot 7 */
    snap_choice ch;
    snap_choose_opts o = {0};
    ck_assert_msg(snap_choose_state(g_dir, &o, &ch, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ch.action, SNAP_RESTORED);
    ck_assert_uint_eq(ch.batch, 3); /* 6 shared the damaged inode; 3 is a copy */
}
END_TEST

/* A table damaged while the job was stopped is found before a batch builds
 * on it (snap_check_live reads what no snapshot recorded, hashes what one
 * did). A snapshot whose MANIFEST agrees with such a damage (taken over it
 * before anything read it) is skipped by recovery on RocksDB's checksums. */
START_TEST(snapshot_verifying_its_manifest_but_not_rocksdb_is_skipped)
{
    char path[PATH_MAX];
    ember_err err = {0};
    snap_live live;
    run_batches(5); /* snapshot 3, then a copy of its own */
    snap_check_live(g_dir, &live);
    ck_assert_int_eq(live.kind, SNAP_LIVE_OK);
    flip_live_table_shared_with(0);
    snap_check_live(g_dir, &live);
    ck_assert_msg(live.kind == SNAP_LIVE_DAMAGED && strstr(live.why, "Corruption"), "%d %s",
                  live.kind, live.why);
    snap_path(path, sizeof path, g_dir, 3);
    rm_tree(path);
    snap_check_live(g_dir, &live); /* no snapshot recorded it: read through RocksDB */
    ck_assert_msg(live.kind == SNAP_LIVE_DAMAGED && strstr(live.why, "checksum"), "%d %s",
                  live.kind, live.why);

    /* as an older ember made it: the damaged bytes in the snapshot's MANIFEST */
    snap_path(path, sizeof path, g_dir, 6);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s/db'", g_db, path);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "rm -f '%s/db/" STORE_DAMAGE_FILE "' '%s/db/LOCK'", path, path);
    ck_assert_int_eq(system(cmd), 0);
    manifest m = {.batch = 6, .job_hash = JOB_HASH};
    ck_assert_int_eq(manifest_collect_files(path, &m, &err), 0);
    ck_assert_int_eq(manifest_write(path, &m, &err), 0);
    manifest_free(&m);
    ck_assert_int_eq(snap_verify(g_dir, 6, NULL, &err), 0);
    snap_choice ch;
    snap_choose_opts o = {.replayable = 1};
    ck_assert_msg(snap_choose_state(g_dir, &o, &ch, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(ch.action, SNAP_START_EMPTY); /* 6 skipped; the WAL plans batch 1 */
    ck_assert_str_eq(ch.skipped, "6");
}
END_TEST

static Suite *snapshot_suite(void)
{
    Suite *s = suite_create("snapshot_damage");
    TCase *tc = tcase_create("damage");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, oldest_kept_snapshot_shares_no_file);
    tcase_add_test(tc, a_single_snapshot_is_independent);
    tcase_add_test(tc, any_one_damaged_file_leaves_a_verifying_snapshot);
    tcase_add_test(tc, restore_copies_and_keeps_the_snapshot_independent);
    tcase_add_test(tc, live_state_judged);
    tcase_add_test(tc, truncated_manifest_is_damage_not_a_fresh_start);
    tcase_add_test(tc, state_older_than_a_snapshot_is_damaged);
    tcase_add_test(tc, damage_mark_restores_newest_and_sets_bad_snapshots_aside);
    tcase_add_test(tc, nothing_verifies_says_what_to_do);
    tcase_add_test(tc, snapshot_of_a_changed_table_fails_and_marks_the_live_state);
    tcase_add_test(tc, snapshot_verifying_its_manifest_but_not_rocksdb_is_skipped);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(snapshot_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
