/* cmd_run: `ember run JOB.job`, the batch cycle until stopped, idle or N batches. */
#include "core/job/job.h"
#include "core/base/options.h"
#include "core/sink/sink.h"
#include "core/source/source.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "ui/live.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ember run JOB.job [--dir DIR] [--batches N] [--until-idle] [--threads T]\n"
            "                 [--progress] [--drain] [--reset-output] [--rebuild]\n"
            "                 [--ui [ADDR:]PORT]\n"
            "Runs the job's batch cycle (plan, WAL, transform, state, sink, commit), first\n"
            "recovering from DIR (default: the job's checkpoint dir) if it exists.\n"
            "  --dir DIR      checkpoint directory (overrides `checkpoint dir=`)\n"
            "  --batches N    stop after N new batches (0: no limit, the default)\n"
            "  --until-idle   stop when the source has no more input\n"
            "  --threads T    transform worker threads (default 1)\n"
            "  --progress     add step timings and rates to the per-batch progress line\n"
            "  --drain        end (idle with --until-idle, or SIGTERM) with one batch that\n"
            "                 emits every open window and session (the end of bounded input)\n"
            "  --reset-output the sink's output belongs to another checkpoint (an old run,\n"
            "                 another --dir): move it aside (file: DIR to DIR.<time>) or\n"
            "                 start a new marker sequence (kafka) instead of refusing\n"
            "  --rebuild      when the live state is damaged and no snapshot verifies:\n"
            "                 rebuild the state from an empty one, re-reading the sources\n"
            "                 from their first offsets (the failure that needs it says so)\n"
            "  --instance ID  run instance ID of a scale-out job (its kafka source names a\n"
            "                 group): the instances share the partitions through the group,\n"
            "                 each task's state in DIR/tasks/N and in Kafka (README, Scale-out)\n"
            "  --ui [ADDR:]PORT  serve the status page, /metrics and /api/v1/ (read-only)\n"
            "                 on ADDR (default 127.0.0.1); port 0 picks a free one, and the\n"
            "                 line `ui: http://ADDR:PORT/` says which\n"
            "SIGINT/SIGTERM stop the job and exit 0 within a second, also while it waits\n"
            "(a source connecting, Kafka down): a running batch commits, a waiting one\n"
            "replays on the next run. The last line says `stopped after batch N, committed`.\n"
            "Exit: 0 done, 1 runtime failure (I/O error, data loss, bad record), 2 bad usage,\n"
            "bad job file, incompatible or locked checkpoint directory.\n\n");
    cli_print_steps(out);
    opts_print(out, "batch: how batches are cut", job_batch_options());
    opts_print(out, "checkpoint: where and how often state is saved", job_checkpoint_options());
    for (size_t i = 0; source_registry[i]; i++) {
        char title[128];
        snprintf(title, sizeof title, "source %s: %s", source_registry[i]->kind,
                 source_registry[i]->doc);
        opts_print(out, title, source_registry[i]->options);
    }
    for (size_t i = 0; sink_registry[i]; i++) {
        char title[128];
        snprintf(title, sizeof title, "sink %s: %s", sink_registry[i]->kind,
                 sink_registry[i]->doc);
        opts_print(out, title, sink_registry[i]->options);
    }
}

static ember_job *volatile running_job;
static const char *instance_id; /* --instance */

/* The first signal stops the job; later ones change nothing (the stop ends
 * every wait within a second). */
static void on_signal(int sig)
{
    if (instance_id) {
        ember_instance_stop();
        return;
    }
    if (sig == SIGTERM)
        ember_job_drain(running_job); /* a stop that drains with --drain */
    else
        ember_job_stop(running_job);
}

static int parse_flags(int argc, char **argv, const char **job, ember_run_opts *o,
                       const char **ui)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        uint64_t n;
        if (cli_is_help(a)) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--until-idle")) {
            o->until_idle = 1;
        } else if (!strcmp(a, "--drain")) {
            o->drain = 1;
        } else if (!strcmp(a, "--rebuild")) {
            o->rebuild = 1;
        } else if (!strcmp(a, "--progress")) {
            o->progress = 1;
        } else if (!strcmp(a, "--reset-output")) {
            o->reset_output = 1;
        } else if (!strcmp(a, "--instance")) {
            if (!(instance_id = cli_value(argc, argv, &i)) || !*instance_id ||
                strlen(instance_id) >= 60 ||
                strspn(instance_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                    "0123456789._-") != strlen(instance_id))
                return cli_usage_error("run", "--instance needs an id of letters, digits, '.', "
                                       "'_' or '-' (< 60 bytes): it names the instance in the "
                                       "group and in DIR/instance.json");
        } else if (!strcmp(a, "--ui")) {
            if (!(*ui = cli_value(argc, argv, &i)))
                return cli_usage_error("run", "--ui needs [ADDR:]PORT");
        } else if (!strcmp(a, "--dir")) {
            if (!(o->dir = cli_value(argc, argv, &i)))
                return cli_usage_error("run", "--dir needs a directory");
        } else if (!strcmp(a, "--batches") || !strcmp(a, "--threads")) {
            v = cli_value(argc, argv, &i);
            if (cli_u64(v, &n) || (a[2] == 't' && (n < 1 || n > 64)))
                return cli_usage_error("run", "%s needs a number%s", a,
                                       a[2] == 't' ? " from 1 to 64" : "");
            if (a[2] == 'b')
                o->max_batches = n;
            else
                o->threads = (int)n;
        } else if (a[0] == '-') {
            return cli_unknown_flag("run", "flag", a,
                                    (const char *const[]){"--dir", "--batches", "--until-idle",
                                                          "--threads", "--progress", "--drain",
                                                          "--reset-output", "--rebuild", "--ui", "--instance",
                                                          "--help",
                                                          NULL});
        } else if (*job) {
            return cli_usage_error("run", "one job file only ('%s' and '%s')", *job, a);
        } else {
            *job = a;
        }
    }
    if (instance_id && (o->until_idle || o->max_batches || o->drain))
        return cli_usage_error("run", "--instance runs until stopped (its tasks come and go "
                               "with the group): not with --until-idle, --batches or --drain");
    return *job ? 0 : cli_usage_error("run", "missing the job file");
}

static int exit_code_for(int rc)
{
    switch (rc) {
    case -EMBER_EUSAGE:
    case -EMBER_ELOCKED:
    case -EMBER_EINCOMPAT:
        return 2;
    default:
        return 1;
    }
}

int cmd_run(int argc, char **argv)
{
    const char *path = NULL, *listen = NULL;
    ember_run_opts o = {.threads = 1};
    ember_job *job = NULL;
    ember_err err = {0};
    ui_live *ui = NULL;
    int rc = parse_flags(argc, argv, &path, &o, &listen);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (listen && (rc = ui_parse_listen(listen, &(uint32_t){0}, &(uint16_t){0}, &err)))
        return cli_usage_error("run", "--ui: %s", err.msg);
    if (instance_id && listen)
        return cli_usage_error("run", "--instance: its tasks' status is DIR/instance.json "
                               "(ember inspect DIR), not --ui");
    if (instance_id) {
        struct sigaction si = {.sa_handler = on_signal};
        sigaction(SIGINT, &si, NULL);
        sigaction(SIGTERM, &si, NULL);
        if ((rc = ember_instance_run(path, instance_id, &o, &err)))
            fprintf(stderr, "ember run: %s\n", err.msg);
        return rc ? exit_code_for(rc) : 0;
    }
    if ((rc = ember_job_load_file(path, &job, &err))) {
        fprintf(stderr, "ember run: %s\n", err.msg);
        return 2;
    }
    if (listen && (rc = ui_live_start(listen, &ui, &err))) {
        fprintf(stderr, "ember run: %s\n", err.msg);
        ember_job_free(job);
        return 1;
    }
    if (ui) {
        o.on_batch = board_publish;
        o.on_batch_ctx = ui_live_board(ui);
    }
    struct sigaction sa = {.sa_handler = on_signal};
    running_job = job;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = ember_job_run(job, &o, &err);
    running_job = NULL; /* the handler stays: a late signal must not kill the exit */
    ui_live_stop(ui);
    ember_job_free(job);
    if (rc) {
        fprintf(stderr, "ember run: %s\n", err.msg);
        return exit_code_for(rc);
    }
    return 0;
}
