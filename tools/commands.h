/*
 * commands: one function per `ember` subcommand, each in tools/cmd_<name>.c.
 * argv[0] is the subcommand name. Returns the process exit code:
 * 0 success, 1 failed check or runtime error, 2 bad usage.
 */
#ifndef EMBER_COMMANDS_H
#define EMBER_COMMANDS_H

int cmd_run(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_broker(int argc, char **argv);
int cmd_failpoints(int argc, char **argv);
int cmd_checkpoints(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_wal(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_diff(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_reference(int argc, char **argv);
int cmd_ui(int argc, char **argv);

/* inspect_instance.c: ember inspect on an instance's DIR (1 when unreadable). */
int inspect_instance(const char *dir, int json);

#endif
