/*
 * cmd_restore: `ember restore DIR --batch B`: rolls the live state back to
 * snapshot B. Takes the directory lock, so it refuses while a job runs. The
 * snapshot is verified first, then copied to db.restoring and renamed over
 * db (checkpoint/snapshot.c); killed half-way, the command can simply be run
 * again. The next `ember run` continues from B: it replays the WAL's PLAN
 * records after B (the same ranges, so the same state and output) and then
 * reads on from the sources' offsets.
 */
#include "checkpoint/ckdir.h"
#include "checkpoint/snapshot.h"
#include "tools/ckread.h"
#include "tools/cli.h"
#include "tools/commands.h"

#include <inttypes.h>

static void usage(void)
{
    printf("usage: ember restore DIR --batch B\n"
           "Rolls the live state back to snapshot B (see `ember checkpoints DIR`). The job\n"
           "must not be running. The next `ember run` replays the batches after B that\n"
           "the WAL still plans, then continues from the sources' offsets.\n");
}

int cmd_restore(int argc, char **argv)
{
    static const char *const flags[] = {"--batch", NULL};
    ck_args a;
    int rc = ck_parse("restore", argc, argv, flags, 0, usage, &a);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (!a.has[0])
        return cli_usage_error("restore", "needs --batch B (a snapshot's batch)");
    ember_job *job = statefmt_load_job("restore", a.dir);
    if (!job)
        return 1;
    ember_job_free(job);
    int lock = -1;
    ember_err err = {0};
    if (ckdir_lock(a.dir, &lock, &err)) {
        fprintf(stderr, "ember restore: %s\n", err.msg);
        return 1;
    }
    rc = snap_verify(a.dir, a.num[0], NULL, &err);
    if (!rc)
        rc = snap_restore(a.dir, a.num[0], &err);
    ckdir_unlock(lock);
    if (rc) {
        fprintf(stderr, "ember restore: %s\n", err.msg);
        return 1;
    }
    printf("restored snapshot %" PRIu64 " into %s/db: the next `ember run` continues from "
           "batch %" PRIu64 "\n", a.num[0], a.dir, a.num[0]);
    return 0;
}
