/* cmd_ui: `ember ui DIR`, the status page over a checkpoint directory (read-only). */
#include "checkpoint/ckdir.h"
#include "tools/cli.h"
#include "tools/commands.h"
#include "ui/offline.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t ui_stop;

static void on_signal(int sig)
{
    ui_stop = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ember ui DIR [--listen [ADDR:]PORT]\n"
            "Serves the status page over the checkpoint directory DIR, read-only, whether\n"
            "its job runs or not: batch history (progress.jsonl), the state browser\n"
            "(operators, key lookup, prefix scan), snapshots with their verify status,\n"
            "WAL records, the diff between two snapshots. Nothing is written into DIR.\n"
            "  --listen [ADDR:]PORT  where to listen (default 127.0.0.1:8080; port 0\n"
            "                 picks a free one, and the line `ui: http://ADDR:PORT/` says it)\n"
            "Runs until SIGINT or SIGTERM. Exit: 0 stopped, 1 cannot listen, 2 bad usage.\n");
}

static int parse_flags(int argc, char **argv, const char **dir, const char **listen)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--listen")) {
            if (!(*listen = cli_value(argc, argv, &i)))
                return cli_usage_error("ui", "--listen needs [ADDR:]PORT");
        } else if (a[0] == '-') {
            return cli_unknown_flag("ui", "flag", a,
                                    (const char *const[]){"--listen", "--help", NULL});
        } else if (*dir) {
            return cli_usage_error("ui", "one directory only ('%s' and '%s')", *dir, a);
        } else {
            *dir = a;
        }
    }
    if (!*dir)
        return cli_usage_error("ui", "missing the checkpoint directory");
    if (!ckdir_is_checkpoint(*dir))
        return cli_usage_error("ui", "%s: not a checkpoint directory", *dir);
    return 0;
}

int cmd_ui(int argc, char **argv)
{
    const char *dir = NULL, *listen = "127.0.0.1:8080";
    ember_err err = {0};
    ui_server *s = NULL;
    int rc = parse_flags(argc, argv, &dir, &listen);
    if (rc)
        return rc < 0 ? 0 : rc;
    if ((rc = ui_server_start(listen, ui_offline_route, (void *)dir, &s, &err))) {
        fprintf(stderr, "ember ui: %s\n", err.msg);
        return rc == -EMBER_EUSAGE ? 2 : 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!ui_stop)
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    ui_server_stop(s);
    return 0;
}
