/* main: the `ember` command: dispatches to one function per subcommand. */
#include "core/base/suggest.h"
#include "core/fault/failpoint.h"
#include "tools/commands.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"run", cmd_run, "run a job file (recovering first)"},
    {"gen", cmd_gen, "write generator records to a file, TCP or Kafka"},
    {"broker", cmd_broker, "a Kafka-protocol broker on 127.0.0.1 (for trying ember and tests)"},
    {"failpoints", cmd_failpoints, "list the failpoints"},
    {"state", cmd_state, "print an operator's state"},
    {"checkpoints", cmd_checkpoints, "list the live commit and the snapshots, verified"},
    {"inspect", cmd_inspect, "job spec, committed batch, offsets, sink marker, a batch's PLAN"},
    {"wal", cmd_wal, "dump the write-ahead log, flag torn or corrupt records"},
    {"verify", cmd_verify, "check every checksum and the live state; exit 1 on damage"},
    {"restore", cmd_restore, "roll the live state back to a snapshot"},
    {"diff", cmd_diff, "state changes between two snapshots (or live)"},
    {"top", cmd_top, "a terminal view of a job's batches over progress.jsonl"},
    {"ui", cmd_ui, "the status page over a checkpoint directory (read-only)"},
    {"reference", cmd_reference, "the job language reference (Markdown), from the tables"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ember COMMAND [ARGS] (ember COMMAND --help for details)\n"
                 "       ember --version\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    ember_err err = {0};
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("ember %s\n", ember_version());
        return 0;
    }
    if (fp_init_from_env(&err)) {
        fprintf(stderr, "ember: EMBER_FAILPOINTS: %s\n", err.msg);
        return 2;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    const char *names[sizeof commands / sizeof commands[0]];
    char note[96];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        names[i] = commands[i].name;
    fprintf(
        stderr, "ember: unknown command '%s'%s\n", argv[1],
        em_suggest_note(em_suggest(argv[1], strlen(argv[1]), names, sizeof names / sizeof names[0]),
                        note, sizeof note));
    usage(stderr);
    return 2;
}
