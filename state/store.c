/*
 * store: keyed state over RocksDB (see store.h); the only file that includes
 * rocksdb/c.h. Step 4 reads previous values with store_multiget, step 5
 * commits one WriteBatch (state delta + commit record in "meta") with sync,
 * snapshots are RocksDB checkpoints, and the inspection tools open the same
 * directory read-only while a job writes it.
 *
 * Column families: index 0 is "meta", 1..n the operators in the caller's
 * order; CFs found on disk but not asked for (an older job's operators) are
 * opened too, since RocksDB refuses to open a DB without all of them, and
 * come after. RocksDB's "default" CF is opened but never exposed.
 *
 * Options and why:
 *   atomic_flush       all CFs flush together, so the tiny "meta" CF never
 *                      pins old WAL files and flushed state is always one
 *                      consistent commit even if a WAL is lost;
 *   lz4, bloom filter  cheap compression; MultiGet of absent (new) keys
 *                      usually skips the data blocks;
 *   checkpoint flush   log_size_for_flush = 0 flushes memtables first, so a
 *                      snapshot's state lives in its SST files.
 *
 * C API gotchas handled here: every errptr must start NULL (RocksDB frees a
 * non-NULL one); the iterate upper bound is NOT copied by the read options,
 * so its bytes live in store_iter; the bloom policy belongs to the table
 * options once set.
 */
#include "state/store_private.h"
#include "state/store.h"

#include "core/fault/failpoint.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* 4 MB, not RocksDB's 64 MB or our former 32 MB: a batch rewrites the same
 * keys over and over, and a large memtable piles up their versions, so every
 * MultiGet and insert walks a deep skiplist (agg100k, 100K keys per batch:
 * commit p50 262 ms at 32 MB, 135 ms at 8 MB, 66 ms at 4 MB; 1M distinct
 * keys per batch: no difference). */
#define STORE_WRITE_BUFFER_BYTES (4u << 20)
#define STORE_MAX_WRITE_BUFFERS 3
#define STORE_BLOOM_BITS_PER_KEY 10
#define STORE_KEEP_INFO_LOGS 3


static const char META_CF[] = "meta";
static const char DEFAULT_CF[] = "default";

/* ---------------------------------------------------------------- errors */

/* RocksDB statuses read "<Kind>: <detail>"; the kind picks our code. A held
 * LOCK file reads "While lock file: DIR/LOCK: Resource temporarily
 * unavailable" from another process and "lock hold by current process ...
 * DIR/LOCK: No locks available" from this one. A status of a failed read may
 * carry the kind after a prefix ("While reading ...: Corruption: ..."). */
int st_rocks_code(const char *msg)
{
    if (strncmp(msg, "Corruption", 10) == 0 || strstr(msg, ": Corruption: ") ||
        strstr(msg, "checksum mismatch") || strstr(msg, "Bad table magic number"))
        return -EMBER_ECORRUPT;
    if (strstr(msg, "/LOCK: "))
        return -EMBER_ELOCKED;
    if (strstr(msg, "No space left"))
        return -ENOSPC;
    return -EIO;
}

void store_one_line(char *msg)
{
    char *w = msg;
    for (const char *r = msg; *r; r++) {
        char c = *r == '\n' || *r == '\r' || *r == '\t' ? ' ' : *r;
        if (c == ' ' && (w == msg || w[-1] == ' '))
            continue; /* no leading or doubled blanks */
        *w++ = c;
    }
    while (w > msg && w[-1] == ' ')
        w--;
    *w = '\0';
}

/* Moves a RocksDB error string into err (naming the db and the call) and
 * frees it. RocksDB ends some messages with a newline: every message is one
 * line. */
static int rocks_err(ember_err *err, const char *path, const char *what, char *rerr)
{
    store_one_line(rerr);
    int code = st_rocks_code(rerr);

    ember_err_set(err, code, "%s: %s: %s", path, what, rerr);
    if (err)
        store_one_line(err->msg);
    rocksdb_free(rerr);
    return code;
}

/* ---------------------------------------------------------------- damage */

static int damage_path(const char *db_dir, char *buf, size_t cap)
{
    return snprintf(buf, cap, "%s/" STORE_DAMAGE_FILE, db_dir) < (int)cap ? 0 : -ENAMETOOLONG;
}

int store_mark_damaged(const char *db_dir, const char *why)
{
    char path[4200], tmp[4300];
    if (damage_path(db_dir, path, sizeof path))
        return -ENAMETOOLONG;
    if (access(path, F_OK) == 0)
        return 0; /* the first reason stays */
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -errno;
    char line[sizeof ((ember_err *)0)->msg + 2];
    snprintf(line, sizeof line, "%s", why);
    store_one_line(line);
    int ok = fprintf(f, "%s\n", line) > 0;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        int rc = -errno;
        unlink(tmp);
        return rc ? rc : -EIO;
    }
    int dfd = open(db_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* best effort: the error itself is what the run reports */
        close(dfd);
    }
    return 0;
}

int store_damage_note(const char *db_dir, char *buf, size_t cap)
{
    char path[4200];
    if (damage_path(db_dir, path, sizeof path))
        return 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (cap) {
        buf[0] = '\0';
        if (!fgets(buf, (int)cap, f))
            snprintf(buf, cap, "(no reason recorded)");
        store_one_line(buf);
    }
    fclose(f);
    return 1;
}

/* A writer that meets a Corruption status leaves a note in its db
 * directory, so the next start restores a snapshot instead of opening this
 * state again (a damaged block is found only when read, not at open). */
static int store_fail(store *s, ember_err *err, const char *what, char *rerr)
{
    int code = rocks_err(err, s->path, what, rerr);
    if (code == -EMBER_ECORRUPT && !s->read_only && err &&
        store_mark_damaged(s->path, err->msg) == 0) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n, " (state marked damaged: the next start "
                 "restores the newest snapshot that verifies)");
    }
    return code;
}

/* ---------------------------------------------------------------- open */

static int options_create(store *s, const store_opts *o)
{
    s->opts = rocksdb_options_create();
    s->table_opts = rocksdb_block_based_options_create();
    s->ropts = rocksdb_readoptions_create();
    s->wopts_sync = rocksdb_writeoptions_create();
    s->wopts_nosync = rocksdb_writeoptions_create();
    if (!s->opts || !s->table_opts || !s->ropts || !s->wopts_sync || !s->wopts_nosync)
        return -ENOMEM;
    if (o->block_cache_bytes) {
        s->block_cache = rocksdb_cache_create_lru(o->block_cache_bytes);
        if (!s->block_cache)
            return -ENOMEM;
        rocksdb_block_based_options_set_block_cache(s->table_opts, s->block_cache);
    }
    rocksdb_block_based_options_set_filter_policy(
        s->table_opts, rocksdb_filterpolicy_create_bloom(STORE_BLOOM_BITS_PER_KEY));
    rocksdb_options_set_block_based_table_factory(s->opts, s->table_opts);
    rocksdb_options_increase_parallelism(s->opts, 2);
    rocksdb_options_set_create_if_missing(s->opts, 1);
    rocksdb_options_set_create_missing_column_families(s->opts, 1);
    rocksdb_options_set_compression(s->opts, rocksdb_lz4_compression);
    rocksdb_options_set_write_buffer_size(s->opts, STORE_WRITE_BUFFER_BYTES);
    rocksdb_options_set_max_write_buffer_number(s->opts, STORE_MAX_WRITE_BUFFERS);
    rocksdb_options_set_atomic_flush(s->opts, 1);
    /* Check what can be checked at open (file sizes and the MANIFEST's
     * consistency) and stop at the first damaged record instead of
     * guessing. */
    rocksdb_options_set_paranoid_checks(s->opts, 1);
    /* RocksDB's log: a record cut short at the end is a crash mid-write
     * (the commit it held was never acknowledged, or the ember WAL replays
     * it); a record that fails its checksum is damage (Corruption), not the
     * end of the log as the default point-in-time recovery takes it. */
    rocksdb_options_set_wal_recovery_mode(s->opts, 0 /* kTolerateCorruptedTailRecords */);
    rocksdb_options_set_keep_log_file_num(s->opts, STORE_KEEP_INFO_LOGS);
    /* RocksDB's info LOG is off unless EMBER_ROCKSDB_LOG is set: in RocksDB
     * 7.8 its writer asserts (and aborts the process) on the write after one
     * that failed, so an EIO on db/LOG would kill a job that should have
     * stopped with a message. 6 is above HEADER_LEVEL: nothing is logged. */
    if (!getenv("EMBER_ROCKSDB_LOG"))
        rocksdb_options_set_info_log_level(s->opts, 6);
    rocksdb_writeoptions_set_sync(s->wopts_sync, 1);
    return 0;
}

static int has_name(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return 1;
    return 0;
}

static int add_name(store *s, const char *name)
{
    char *copy = strdup(name);

    if (!copy)
        return -ENOMEM;
    s->cf_names[s->n_cfs++] = copy;
    return 0;
}

/* Checks the operator names a writer asks for. */
static int check_op_names(const char *path, const char *const *ops, size_t n, ember_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if (!ops[i] || !*ops[i] || strcmp(ops[i], META_CF) == 0 ||
            strcmp(ops[i], DEFAULT_CF) == 0)
            return ember_err_set(err, -EINVAL, "%s: bad operator name \"%s\"", path,
                                 ops[i] ? ops[i] : "(null)");
        for (size_t j = 0; j < i; j++)
            if (strcmp(ops[i], ops[j]) == 0)
                return ember_err_set(err, -EINVAL, "%s: operator \"%s\" given twice", path,
                                     ops[i]);
    }
    return 0;
}

/* The exposed CF list: meta, the wanted ops (writer), then the rest of what
 * exists on disk except "default". */
static int plan_cfs(store *s, const char *const *ops, size_t n_ops, char **disk,
                    size_t n_disk, ember_err *err)
{
    s->cf_names = calloc(n_ops + n_disk + 1, sizeof *s->cf_names);
    if (!s->cf_names)
        return ember_err_set(err, -ENOMEM, "%s: out of memory", s->path);
    if (s->read_only && !has_name(disk, n_disk, META_CF))
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "%s: no \"meta\" column family: not an ember state db", s->path);
    if (add_name(s, META_CF) < 0)
        return ember_err_set(err, -ENOMEM, "%s: out of memory", s->path);
    for (size_t i = 0; i < n_ops; i++)
        if (add_name(s, ops[i]) < 0)
            return ember_err_set(err, -ENOMEM, "%s: out of memory", s->path);
    for (size_t i = 0; i < n_disk; i++) {
        if (strcmp(disk[i], DEFAULT_CF) == 0 || has_name(s->cf_names, s->n_cfs, disk[i]))
            continue;
        if (add_name(s, disk[i]) < 0)
            return ember_err_set(err, -ENOMEM, "%s: out of memory", s->path);
    }
    return 0;
}

int st_is_table_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".sst") == 0;
}

/* Whether RocksDB's current version lists table `name`. */
int st_is_listed(const rocksdb_livefiles_t *lf, int n_live, const char *name)
{
    for (int i = 0; i < n_live; i++) {
        const char *f = rocksdb_livefiles_name(lf, i);
        const char *base = strrchr(f, '/');
        if (strcmp(base ? base + 1 : f, name) == 0)
            return 1;
    }
    return 0;
}

/* Removes a directory of plain files (and the directory); 0 when it is not
 * there. */
static int remove_tree_flat(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -1;
    for (struct dirent *e; (e = readdir(d));) {
        char p[4400];
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name), unlink(p);
    }
    closedir(d);
    return rmdir(dir);
}

/* 1 when dir holds a file RocksDB made for data: a table, a MANIFEST or a
 * write-ahead log. */
int store_has_db_files(const char *dir)
{
    DIR *d = opendir(dir);
    int found = 0;
    for (struct dirent *e; d && !found && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        found = (n > 4 && (strcmp(e->d_name + n - 4, ".sst") == 0 ||
                           strcmp(e->d_name + n - 4, ".log") == 0)) ||
                strncmp(e->d_name, "MANIFEST-", 9) == 0;
    }
    if (d)
        closedir(d);
    return found;
}

int store_has_data(const char *dir)
{
    DIR *d = opendir(dir);
    int found = 0;
    for (struct dirent *e; d && !found && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        char p[4400];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        found = st_is_table_name(e->d_name) ||
                (n > 4 && strcmp(e->d_name + n - 4, ".log") == 0 && stat(p, &sb) == 0 &&
                 sb.st_size > 0);
    }
    if (d)
        closedir(d);
    return found;
}

/* Lists the CFs on disk; a db that does not exist yet has none. */
static int list_cfs(store *s, char ***names, size_t *n, ember_err *err)
{
    char *rerr = NULL;
    char *current;
    int exists;

    *names = NULL;
    *n = 0;
    if (asprintf(&current, "%s/CURRENT", s->path) < 0)
        return ember_err_set(err, -ENOMEM, "%s: out of memory", s->path);
    exists = access(current, F_OK) == 0;
    free(current);
    if (!exists && s->read_only)
        return ember_err_set(err, -ENOENT, "%s: no state db here", s->path);
    if (!exists && store_has_db_files(s->path))
        return ember_err_set(err, -EMBER_ECORRUPT,
                             "%s: holds RocksDB files but no CURRENT file: damaged state, "
                             "not opened (an open would start an empty db over it)",
                             s->path);
    if (!exists)
        return 0;
    *names = rocksdb_list_column_families(s->opts, s->path, n, &rerr);
    if (rerr) { /* RocksDB 7.8 returns an array (malloc(0)) even then */
        if (*names)
            rocksdb_list_column_families_destroy(*names, *n);
        *names = NULL;
        *n = 0;
        return rocks_err(err, s->path, "list column families", rerr);
    }
    return 0;
}

static int open_db(store *s, ember_err *err)
{
    size_t n = s->n_cfs + 1;
    const char **names = calloc(n, sizeof *names);
    const rocksdb_options_t **cf_opts = calloc(n, sizeof *cf_opts);
    char *rerr = NULL;
    int rc = -ENOMEM;

    s->cf = calloc(n, sizeof *s->cf);
    if (!names || !cf_opts || !s->cf) {
        ember_err_set(err, rc, "%s: out of memory", s->path);
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = i < s->n_cfs ? s->cf_names[i] : DEFAULT_CF;
        cf_opts[i] = s->opts;
    }
    if (s->read_only)
        s->db = rocksdb_open_for_read_only_column_families(s->opts, s->path, (int)n, names,
                                                           cf_opts, s->cf, 0, &rerr);
    else
        s->db = rocksdb_open_column_families(s->opts, s->path, (int)n, names, cf_opts, s->cf,
                                             &rerr);
    rc = rerr ? rocks_err(err, s->path, s->read_only ? "open read-only" : "open", rerr) : 0;
out_free:
    free(names);
    free(cf_opts);
    return rc;
}

/* A db a run found damaged (store_mark_damaged) is not opened again. */
static int check_damage(store *s, ember_err *err)
{
    char why[sizeof err->msg];
    if (!store_damage_note(s->path, why, sizeof why))
        return 0;
    return ember_err_set(err, -EMBER_ECORRUPT,
                         "%s: damaged (a run found: %.400s); remove %s/" STORE_DAMAGE_FILE
                         " to read it anyway", s->path, why, s->path);
}

/* Hard-links every table file the probe's version does not list into
 * <db>.unlisted (emptied first; removed when there are none): the writable
 * open deletes them, and after a crash mid-compaction they are garbage, but
 * after damage to the MANIFEST they are the state. */
static int keep_unlisted(store *probe, ember_err *err)
{
    char aside[4300], first[64];
    snprintf(aside, sizeof aside, "%s.unlisted", probe->path);
    int n = store_unlisted_tables(probe, first, sizeof first);
    if (remove_tree_flat(aside) != 0)
        return ember_err_set(err, -errno, "%s: %s", aside, strerror(errno));
    if (!n)
        return 0;
    if (mkdir(aside, 0755) != 0)
        return ember_err_set(err, -errno, "%s: %s", aside, strerror(errno));
    const rocksdb_livefiles_t *lf = rocksdb_livefiles(probe->db);
    int n_live = lf ? rocksdb_livefiles_count(lf) : 0, rc = 0;
    DIR *d = opendir(probe->path);
    for (struct dirent *e; !rc && d && (e = readdir(d));) {
        if (!st_is_table_name(e->d_name) || st_is_listed(lf, n_live, e->d_name))
            continue;
        char from[4300], to[4400];
        snprintf(from, sizeof from, "%s/%s", probe->path, e->d_name);
        snprintf(to, sizeof to, "%s/%s", aside, e->d_name);
        if (link(from, to) != 0)
            rc = ember_err_set(err, -errno, "link %s %s: %s", from, to, strerror(errno));
    }
    if (d)
        closedir(d);
    if (lf)
        rocksdb_livefiles_destroy(lf);
    return rc;
}

/* An existing db opens read-only first: a writable open of a damaged db
 * may delete files (RocksDB removes every table its MANIFEST does not
 * list) or start over; a read-only open writes nothing. What the writable
 * open would delete is kept (keep_unlisted). */
static int probe_read_only(const char *db_dir, const store_opts *opts, ember_err *err)
{
    store_opts ro = *opts;
    store *probe = NULL;
    ro.read_only = 1;
    ro.block_cache_bytes = 0;
    int rc = store_open(db_dir, NULL, 0, &ro, &probe, err);
    if (!rc)
        rc = keep_unlisted(probe, err);
    store_close(probe);
    return rc;
}

int store_open(const char *db_dir, const char *const *op_names, size_t n_ops,
               const store_opts *opts, store **out, ember_err *err)
{
    static const store_opts defaults = {0};
    store *s = calloc(1, sizeof *s);
    char **disk = NULL;
    size_t n_disk = 0;
    int rc;

    *out = NULL;
    if (!s || !(s->path = strdup(db_dir))) {
        rc = ember_err_set(err, -ENOMEM, "%s: out of memory", db_dir);
        goto out_close;
    }
    if (!opts)
        opts = &defaults;
    s->read_only = opts->read_only;
    if (s->read_only)
        n_ops = 0;
    if ((rc = check_op_names(db_dir, op_names, n_ops, err)) < 0)
        goto out_close;
    if ((rc = options_create(s, opts)) < 0) {
        ember_err_set(err, rc, "%s: out of memory", db_dir);
        goto out_close;
    }
    if ((rc = check_damage(s, err)) < 0)
        goto out_close;
    if ((rc = list_cfs(s, &disk, &n_disk, err)) < 0)
        goto out_close;
    if (n_disk && !s->read_only && (rc = probe_read_only(db_dir, opts, err)) < 0)
        goto out_free_list;
    if ((rc = plan_cfs(s, op_names, n_ops, disk, n_disk, err)) < 0)
        goto out_free_list;
    if ((rc = open_db(s, err)) < 0)
        goto out_free_list;
    *out = s;
    s = NULL;
out_free_list:
    if (disk)
        rocksdb_list_column_families_destroy(disk, n_disk);
out_close:
    store_close(s);
    return rc;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->db) {
        for (size_t i = 0; i <= s->n_cfs; i++)
            if (s->cf[i])
                rocksdb_column_family_handle_destroy(s->cf[i]);
        rocksdb_close(s->db);
    }
    /* Options go after the db: it may still use the table factory's cache. */
    if (s->opts)
        rocksdb_options_destroy(s->opts);
    if (s->table_opts)
        rocksdb_block_based_options_destroy(s->table_opts);
    if (s->block_cache)
        rocksdb_cache_destroy(s->block_cache);
    if (s->ropts)
        rocksdb_readoptions_destroy(s->ropts);
    if (s->wopts_sync)
        rocksdb_writeoptions_destroy(s->wopts_sync);
    if (s->wopts_nosync)
        rocksdb_writeoptions_destroy(s->wopts_nosync);
    for (size_t i = 0; s->cf_names && i < s->n_cfs; i++)
        free(s->cf_names[i]);
    free(s->cf_names);
    free(s->cf);
    free(s->path);
    free(s);
}

int store_cf_index(const store *s, const char *name)
{
    for (size_t i = 0; i < s->n_cfs; i++)
        if (strcmp(s->cf_names[i], name) == 0)
            return (int)i;
    return -1;
}

size_t store_cf_count(const store *s)
{
    return s->n_cfs;
}

const char *store_cf_name(const store *s, size_t i)
{
    return i < s->n_cfs ? s->cf_names[i] : NULL;
}

int st_cf_check(const store *s, int cf, ember_err *err)
{
    if (cf < 0 || (size_t)cf >= s->n_cfs)
        return ember_err_set(err, -EINVAL, "%s: no column family #%d", s->path, cf);
    return 0;
}

/* ---------------------------------------------------------------- reads */

/* Frees what multiget filled so far (on its error path). */
static void values_free(ember_str *vals, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_free_value(&vals[i]);
}

/* Takes each value (or error) out of RocksDB's arrays into vals. */
static int multiget_collect(store *s, size_t n, char **rvals, const size_t *rlens, char **rerrs,
                            ember_str *vals, ember_err *err)
{
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        vals[i].ptr = rvals[i];
        vals[i].len = (uint32_t)rlens[i];
        if (rvals[i] && rlens[i] > UINT32_MAX && rc == 0)
            rc = ember_err_set(err, -EMBER_ECORRUPT, "%s: value of %zu bytes", s->path,
                               rlens[i]);
        if (rerrs[i]) {
            if (rc == 0)
                rc = store_fail(s, err, "multiget", rerrs[i]);
            else
                rocksdb_free(rerrs[i]);
        }
    }
    if (rc < 0)
        values_free(vals, n);
    return rc;
}

int store_multiget(store *s, int cf, const ember_str *keys, size_t n, ember_str *vals,
                   ember_err *err)
{
    const rocksdb_column_family_handle_t **cfs = calloc(n ? n : 1, sizeof *cfs);
    const char **kptr = calloc(n ? n : 1, sizeof *kptr);
    size_t *klen = calloc(n ? n : 1, sizeof *klen);
    char **rvals = calloc(n ? n : 1, sizeof *rvals);
    size_t *rlens = calloc(n ? n : 1, sizeof *rlens);
    char **rerrs = calloc(n ? n : 1, sizeof *rerrs);
    int rc = st_cf_check(s, cf, err);

    if (rc < 0)
        goto out_free;
    if (!cfs || !kptr || !klen || !rvals || !rlens || !rerrs) {
        rc = ember_err_set(err, -ENOMEM, "%s: multiget of %zu keys: out of memory", s->path, n);
        goto out_free;
    }
    for (size_t i = 0; i < n; i++) {
        cfs[i] = s->cf[cf];
        kptr[i] = keys[i].ptr;
        klen[i] = keys[i].len;
    }
    if (n)
        rocksdb_multi_get_cf(s->db, s->ropts, cfs, n, kptr, klen, rvals, rlens, rerrs);
    rc = multiget_collect(s, n, rvals, rlens, rerrs, vals, err);
out_free:
    free(cfs);
    free(kptr);
    free(klen);
    free(rvals);
    free(rlens);
    free(rerrs);
    return rc;
}

void store_free_value(ember_str *v)
{
    rocksdb_free((void *)v->ptr);
    v->ptr = NULL;
    v->len = 0;
}

int store_get(store *s, int cf, const void *key, size_t klen, char **val, size_t *vlen,
              ember_err *err)
{
    char *rerr = NULL;
    int rc = st_cf_check(s, cf, err);

    *val = NULL;
    *vlen = 0;
    if (rc < 0)
        return rc;
    *val = rocksdb_get_cf(s->db, s->ropts, s->cf[cf], key, klen, vlen, &rerr);
    if (rerr)
        return store_fail(s, err, "get", rerr);
    if (!*val)
        return ember_err_set(err, -ENOENT, "%s: key not found in \"%s\"", s->path,
                             s->cf_names[cf]);
    return 0;
}

/* ---------------------------------------------------------------- writes */

store_batch *store_batch_new(void)
{
    store_batch *b = malloc(sizeof *b);

    if (!b)
        return NULL;
    b->wb = rocksdb_writebatch_create();
    return b;
}

const char *store_batch_data(store_batch *b, size_t *len)
{
    return rocksdb_writebatch_data(b->wb, len);
}

store_batch *store_batch_from(const char *data, size_t len)
{
    store_batch *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    b->wb = rocksdb_writebatch_create_from(data, len);
    return b;
}

void store_batch_free(store_batch *b)
{
    if (!b)
        return;
    rocksdb_writebatch_destroy(b->wb);
    free(b);
}

/* A bad CF index is a programming error; these cannot report it, and
 * dropping a write silently would lose state. */
void store_batch_put(store_batch *b, store *s, int cf, const void *k, size_t kl, const void *v,
                     size_t vl)
{
    assert(cf >= 0 && (size_t)cf < s->n_cfs);
    rocksdb_writebatch_put_cf(b->wb, s->cf[cf], k, kl, v, vl);
}

void store_batch_delete(store_batch *b, store *s, int cf, const void *k, size_t kl)
{
    assert(cf >= 0 && (size_t)cf < s->n_cfs);
    rocksdb_writebatch_delete_cf(b->wb, s->cf[cf], k, kl);
}

size_t store_batch_count(store_batch *b)
{
    return (size_t)rocksdb_writebatch_count(b->wb);
}

int store_write(store *s, store_batch *b, int sync, ember_err *err)
{
    char *rerr = NULL;
    int rc = FAILPOINT("state.write");

    if (rc < 0)
        return ember_err_set(err, rc, "%s: write of %zu ops: %s (failpoint state.write)",
                             s->path, store_batch_count(b), strerror(-rc));
    if (s->read_error[0])
        return ember_err_set(err, s->read_error_code,
                             "%s: not writing a batch computed after a failed read (%s)%s",
                             s->path, s->read_error,
                             store_damage_note(s->path, NULL, 0)
                                 ? "; state marked damaged: the next start restores the "
                                   "newest snapshot that verifies"
                                 : "");
    rocksdb_write(s->db, sync ? s->wopts_sync : s->wopts_nosync, b->wb, &rerr);
    if (rerr)
        return store_fail(s, err, "write", rerr);
    return 0;
}

int store_checkpoint(store *s, const char *dir, ember_err *err)
{
    char *rerr = NULL;
    rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(s->db, &rerr);

    if (rerr)
        return store_fail(s, err, "checkpoint", rerr);
    /* 0: always flush the memtables first (see the top of the file). */
    rocksdb_checkpoint_create(cp, dir, 0, &rerr);
    rocksdb_checkpoint_object_destroy(cp);
    if (rerr) {
        char what[512];
        snprintf(what, sizeof what, "checkpoint into %s", dir);
        return store_fail(s, err, what, rerr);
    }
    return 0;
}

