/* cli: helpers shared by the subcommands. */
#include "tools/cli.h"
#include "core/base/suggest.h"
#include "core/ops/gen.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "ember %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see `ember %s --help`)\n", cmd);
    return 2;
}

int cli_u64(const char *text, uint64_t *out)
{
    char *end;
    if (!text || !*text || *text == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

const char *cli_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

int cli_is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int cli_unknown_flag(const char *cmd, const char *noun, const char *flag,
                     const char *const *known)
{
    size_t n = 0;
    char note[96];
    while (known && known[n])
        n++;
    return cli_usage_error(
        cmd, "unknown %s '%s'%s", noun, flag,
        em_suggest_note(em_suggest(flag, strlen(flag), known, n), note, sizeof note));
}

int cli_unknown_gen_kind(const char *kind)
{
    const char *names[GEN_KIND_COUNT];
    char list[256] = "", note[96];
    size_t used = 0;
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        names[k] = gen_kind_name((gen_kind)k);
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                 k == 0                    ? ""
                                 : k + 1 == GEN_KIND_COUNT ? " or "
                                                           : ", ",
                                 names[k]);
    }
    return cli_usage_error(
        "gen", "unknown kind '%s'%s (expected %s)", kind,
        em_suggest_note(em_suggest(kind, strlen(kind), names, GEN_KIND_COUNT), note, sizeof note),
        list);
}

void cli_print_steps(FILE *out)
{
    fputs("A job file has one step per line, in this order (# starts a comment;\n"
          "relative paths are relative to the current directory):\n"
          "  job NAME                 the job's name (default checkpoint dir ./ckpt/NAME)\n"
          "  batch OPTS               how batches are cut (options below)\n"
          "  checkpoint OPTS          where and how often state is saved (options below)\n"
          "  source KIND OPTS         where records come from (kinds and options below)\n"
          "  parse csv|tsv fields=name[:int|:float|:string],... [on-error=fail|skip|\n"
          "                           dead-letter:PATH] [quote=on|off]\n"
          "                           split lines into typed fields (without it a record is\n"
          "                           one string field 'line'); quote= honours \"...\"\n"
          "                           quoting, on for csv and off for tsv by default\n"
          "  filter EXPR              keep records where EXPR is true\n"
          "  select ITEM, ...         replace the record: `field` or `EXPR as name`\n"
          "  join table path=F.csv key=FIELD fields=A,B:int [on-miss=drop|keep]\n"
          "                           append a static CSV table's columns\n"
          "  dedupe FIELD within D    drop a record whose FIELD was seen within D\n"
          "         (FIELD, FIELD... for several; keep=last: the last of a batch passes)\n"
          "  key F[,F...]             the state key\n"
          "  ttl D                    delete a key not updated for D (not with window)\n"
          "  window tumbling SIZE | sliding SIZE every SLIDE | session GAP\n"
          "         [on FIELD [watermark D]] [emit=final|update] [late=drop|file:PATH]\n"
          "  aggregate FN(f) ...      count() count(f) sum(f) min(f) max(f) avg(f) wavg(x, w)\n"
          "                           count_distinct(f[, approx]) topk(f, K);\n"
          "                           FN(f) filter (where COND) folds only where COND\n"
          "  having EXPR              keep output rows where EXPR is true\n"
          "  top K by COL             the K rows of each window with the largest COL\n"
          "  top K by F [per G,...]   no window/aggregate: the K best records per group\n"
          "  sink KIND OPTS           where rows go (kinds and options below; default stdout)\n"
          "Expressions: + - * / %, = == != < <= > >=, and or not, parentheses, numbers,\n"
          "\"strings\". Durations need a unit: 500ms, 10s, 5m, 1h (0 alone is allowed).\n\n",
          out);
}
