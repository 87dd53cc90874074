/* cmd_failpoints: `ember failpoints` lists every failpoint and its meaning. */
#include "core/fault/failpoint.h"
#include "tools/cli.h"
#include "tools/commands.h"

#include <stdio.h>

int cmd_failpoints(int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: ember failpoints\n"
               "Lists the named failpoints. Arm them with\n"
               "  EMBER_FAILPOINTS='name=action[@when];...'\n"
               "  action: crash | error | eio | enospc | short | delay(MS)\n"
               "  when:   N (the Nth hit) | pX (probability X, e.g. p0.01) | absent (always)\n");
        return 0;
    }
    if (argc > 1)
        return cli_usage_error("failpoints", "unexpected argument '%s'", argv[1]);
    fp_list(stdout);
    return 0;
}
