/*
 * ckread: helpers of the checkpoint inspection commands (see ckread.h).
 */
#include "tools/ckread.h"
#include "tools/cli.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int ck_parse(const char *cmd, int argc, char **argv, const char *const *flags, int n_pos,
             void (*usage)(void), ck_args *a)
{
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        int k = -1;
        for (int j = 0; flags && flags[j]; j++)
            if (!strcmp(f, flags[j]))
                k = j;
        if (cli_is_help(f))
            return usage(), -1;
        if (k >= 0) {
            if (cli_u64(cli_value(argc, argv, &i), &a->num[k]))
                return cli_usage_error(cmd, "%s needs a number", f);
            a->has[k] = 1;
        } else if (!strcmp(f, "--format")) {
            const char *v = cli_value(argc, argv, &i);
            if (!v || (strcmp(v, "table") && strcmp(v, "json")))
                return cli_usage_error(cmd, "--format takes table or json");
            a->json = !strcmp(v, "json");
        } else if (!strcmp(f, "--op")) {
            if (!(a->op = cli_value(argc, argv, &i)))
                return cli_usage_error(cmd, "--op needs an operator name");
        } else if (f[0] == '-' && f[1]) {
            return cli_usage_error(cmd, "unknown option '%s'", f);
        } else if (!a->dir) {
            a->dir = f;
        } else if (a->n_pos < n_pos) {
            a->pos[a->n_pos++] = f;
        } else {
            return cli_usage_error(cmd, "unexpected argument '%s'", f);
        }
    }
    if (!a->dir)
        return cli_usage_error(cmd, "needs a checkpoint directory");
    if (a->n_pos < n_pos)
        return cli_usage_error(cmd, "needs %d more argument%s", n_pos - a->n_pos,
                               n_pos - a->n_pos > 1 ? "s" : "");
    return 0;
}

int ck_read_commit(const char *cmd, const char *dir, commit_record *c)
{
    store *st = NULL;
    ember_err err = {0};
    memset(c, 0, sizeof *c);
    if (statefmt_open(cmd, dir, 0, &st))
        return -1;
    int rc = commit_read(st, c, &err);
    store_close(st);
    if (rc == -ENOENT)
        return 1;
    if (rc) {
        fprintf(stderr, "ember %s: %s\n", cmd, err.msg);
        return -1;
    }
    return 0;
}

uint64_t ck_du(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return 0;
    if (!S_ISDIR(sb.st_mode))
        return S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
    uint64_t total = 0;
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        char sub[4200];
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        total += ck_du(sub);
    }
    if (d)
        closedir(d);
    return total;
}

void ck_json_offsets(FILE *out, const src_range *ends, size_t n)
{
    fputc('{', out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s\"%u\": %" PRIu64, i ? ", " : "", ends[i].partition, ends[i].to);
    fputc('}', out);
}

void ck_text_offsets(FILE *out, const src_range *ends, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%sp%u=%" PRIu64, i ? " " : "", ends[i].partition, ends[i].to);
    if (!n)
        fputc('-', out);
}
