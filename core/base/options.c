/*
 * options: binds key=value options to a typed opt_def table (see options.h).
 * The table is the single source of truth: validation, defaults and --help.
 */
#include "core/base/options.h"
#include "core/base/suggest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int opts_is_prefix(const opt_def *d)
{
    size_t n = strlen(d->name);
    return n > 0 && d->name[n - 1] == '.';
}

/* An exact name first; else a prefix entry that `name` starts with and goes
 * on after ("kafka." matches "kafka.linger.ms", not "kafka."). */
static int def_index(const opt_def *defs, const char *name)
{
    int prefix = -1;
    for (int i = 0; defs[i].name; i++) {
        if (strcmp(defs[i].name, name) == 0)
            return i;
        size_t n = strlen(defs[i].name);
        if (prefix < 0 && opts_is_prefix(&defs[i]) && strncmp(defs[i].name, name, n) == 0 &&
            name[n])
            prefix = i;
    }
    return prefix;
}

static size_t def_count(const opt_def *defs)
{
    size_t n = 0;
    while (defs[n].name)
        n++;
    return n;
}

/* Splits "123KB" into number and unit multiplier. need_unit: a bare number
 * other than 0 is -EDOM (a duration of "5" could mean ms or s). */
static int parse_scaled(const char *text, const char *const *units, const int64_t *mults,
                        int need_unit, int64_t *out)
{
    char *end;
    errno = 0;
    if (*text < '0' || *text > '9')
        return -EINVAL; /* no sign, no leading space */
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || v < 0)
        return -EINVAL;
    if (*end == '\0') {
        if (need_unit && v != 0)
            return -EDOM;
        *out = v;
        return 0;
    }
    for (int i = 0; units[i]; i++) {
        if (strcasecmp(end, units[i]) == 0) {
            if (v > INT64_MAX / mults[i])
                return -ERANGE;
            *out = v * mults[i];
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_bool(const char *text, int64_t *out)
{
    static const char *const yes[] = {"true", "yes", "1", "on"};
    static const char *const no[] = {"false", "no", "0", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0)
            return (*out = 1), 0;
        if (strcasecmp(text, no[i]) == 0)
            return (*out = 0), 0;
    }
    return -EINVAL;
}

int opts_parse_value(opt_type t, const char *text, int64_t *out)
{
    static const char *const size_units[] = {"B", "KB", "K", "MB", "M", "GB", "G", NULL};
    static const int64_t size_mults[] = {1, 1024, 1024, 1 << 20, 1 << 20, 1 << 30, 1 << 30};
    static const char *const dur_units[] = {"ms", "s", "m", "min", "h", NULL};
    static const int64_t dur_mults[] = {1, 1000, 60000, 60000, 3600000};

    switch (t) {
    case OPT_INT:
        return parse_scaled(text, (const char *const[]){NULL}, NULL, 0, out);
    case OPT_SIZE:
        return parse_scaled(text, size_units, size_mults, 0, out);
    case OPT_DURATION:
        return parse_scaled(text, dur_units, dur_mults, 1, out);
    case OPT_BOOL:
        return parse_bool(text, out);
    default:
        *out = 0;
        return 0;
    }
}

static int enum_contains(const char *values, const char *v)
{
    size_t len = strlen(v);
    const char *p = values;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        /* A trailing ':' in the table ("dead-letter:") accepts any suffix. */
        if (n > 0 && p[n - 1] == ':' && len > n && strncmp(p, v, n) == 0)
            return 1;
        if (n == len && strncmp(p, v, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

static const char *type_expectation(opt_type t)
{
    switch (t) {
    case OPT_INT: return "a non-negative integer";
    case OPT_SIZE: return "a size like 4096, 64KB, 256MB or 1GB";
    case OPT_DURATION: return "a duration like 500ms, 10s, 5m or 1h";
    case OPT_BOOL: return "true or false";
    default: return "a value";
    }
}

static int check_value(const opt_def *d, const char *value, int col, ember_err *err)
{
    int64_t ignored;
    char match[64], note[96];
    if (d->type == OPT_ENUM && !enum_contains(d->enum_values, value))
        return ember_err_set_col(
            err, -EMBER_EUSAGE, col, "option '%s': '%s' is not one of %s%s", d->name, value,
            d->enum_values,
            em_suggest_note(
                em_suggest_list(value, strlen(value), d->enum_values, '|', match, sizeof match),
                note, sizeof note));
    int rc =
        d->type != OPT_ENUM && d->type != OPT_STR ? opts_parse_value(d->type, value, &ignored) : 0;
    if (rc == -EDOM)
        return ember_err_set_col(err, -EMBER_EUSAGE, col,
                                 "option '%s': '%s' needs a unit: %sms, %ss, %sm or %sh", d->name,
                                 value, value, value, value, value);
    if (rc)
        return ember_err_set_col(err, -EMBER_EUSAGE, col, "option '%s': '%s' is not %s",
                                 d->name, value, type_expectation(d->type));
    if (d->type == OPT_STR && value[0] == '\0')
        return ember_err_set_col(err, -EMBER_EUSAGE, col, "option '%s' needs a value", d->name);
    return 0;
}

/* "unknown option 'max-record'; did you mean 'max-records'?", or the list
 * of the options there are when none is close. */
static int unknown_option(const opt_def *defs, const char *key, int col, ember_err *err)
{
    const char *names[64] = {0};
    char list[400] = "", note[96];
    size_t n = 0, used = 0;
    for (; n < 64 && defs[n].name; n++) {
        names[n] = defs[n].name;
        if (used < sizeof list)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", n ? ", " : "",
                                     defs[n].name);
    }
    const char *s = em_suggest(key, strlen(key), names, n);
    if (s)
        return ember_err_set_col(err, -EMBER_EUSAGE, col, "unknown option '%s'%s", key,
                                 em_suggest_note(s, note, sizeof note));
    return ember_err_set_col(err, -EMBER_EUSAGE, col, "unknown option '%s' (options: %s)", key,
                             n ? list : "none");
}

/* An option of a prefix entry joins out->prefixed, in order. */
static int bind_prefixed(opt_set *out, const opt_def *d, const ember_opt *in, int col,
                         ember_err *err)
{
    for (size_t i = 0; i < out->n_prefixed; i++)
        if (strcmp(out->prefixed[i].key, in->key) == 0)
            return ember_err_set_col(err, -EMBER_EUSAGE, col, "option '%s' given twice",
                                     in->key);
    if (in->value[0] == '\0')
        return ember_err_set_col(err, -EMBER_EUSAGE, col, "option '%s' needs a value", in->key);
    opt_pair *p = realloc(out->prefixed, (out->n_prefixed + 1) * sizeof *p);
    if (!p)
        return ember_err_set(err, -ENOMEM, "out of memory");
    out->prefixed = p;
    p = &p[out->n_prefixed];
    *p = (opt_pair){strdup(in->key), strdup(in->value), d, col};
    out->n_prefixed++;
    if (!p->key || !p->value)
        return ember_err_set(err, -ENOMEM, "out of memory");
    return 0;
}

static int bind_given(opt_set *out, const ember_opt *in, size_t n_in, ember_err *err)
{
    for (size_t i = 0; i < n_in; i++) {
        int d = def_index(out->defs, in[i].key);
        if (d < 0)
            return unknown_option(out->defs, in[i].key, (int)i + 1, err);
        if (opts_is_prefix(&out->defs[d]) && strcmp(out->defs[d].name, in[i].key)) {
            int rc = bind_prefixed(out, &out->defs[d], &in[i], (int)i + 1, err);
            if (rc)
                return rc;
            continue;
        }
        if (opts_is_prefix(&out->defs[d]))
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)i + 1, "option '%s' needs a "
                                     "name after the '.' (%sNAME=VALUE)", in[i].key, in[i].key);
        if (out->values[d])
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)i + 1,
                                     "option '%s' given twice", in[i].key);
        int rc = check_value(&out->defs[d], in[i].value, (int)i + 1, err);
        if (rc)
            return rc;
        out->values[d] = strdup(in[i].value);
        if (!out->values[d])
            return ember_err_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

static int apply_defaults(opt_set *out, ember_err *err)
{
    for (size_t d = 0; d < out->n; d++) {
        if (out->values[d])
            continue;
        if (!out->defs[d].def && !opts_is_prefix(&out->defs[d]))
            return ember_err_set_col(err, -EMBER_EUSAGE, 0, "missing required option '%s'",
                                     out->defs[d].name);
        out->values[d] = strdup(out->defs[d].def ? out->defs[d].def : "");
        if (!out->values[d])
            return ember_err_set(err, -ENOMEM, "out of memory");
    }
    return 0;
}

int opts_bind(const opt_def *defs, const ember_opt *in, size_t n_in, opt_set *out,
              ember_err *err)
{
    *out = (opt_set){.defs = defs, .n = def_count(defs)};
    out->values = calloc(out->n + 1, sizeof *out->values);
    if (!out->values)
        return ember_err_set(err, -ENOMEM, "out of memory");
    int rc = bind_given(out, in, n_in, err);
    if (!rc)
        rc = apply_defaults(out, err);
    if (rc)
        opts_free(out);
    return rc;
}

void opts_free(opt_set *s)
{
    for (size_t i = 0; i < s->n_prefixed; i++) {
        free(s->prefixed[i].key);
        free(s->prefixed[i].value);
    }
    free(s->prefixed);
    s->prefixed = NULL;
    s->n_prefixed = 0;
    if (!s->values)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->values[i]);
    free(s->values);
    s->values = NULL;
}

const char *opts_str(const opt_set *s, const char *name)
{
    int d = def_index(s->defs, name);
    if (d < 0)
        abort(); /* programming error: option not in the table */
    return s->values[d];
}

int opts_override(opt_set *s, const char *name, const char *value)
{
    int d = def_index(s->defs, name);
    char *v = strdup(value);
    if (d < 0 || !v) {
        free(v);
        return d < 0 ? -ENOENT : -ENOMEM;
    }
    free(s->values[d]);
    s->values[d] = v;
    return 0;
}

int64_t opts_int(const opt_set *s, const char *name)
{
    int d = def_index(s->defs, name);
    int64_t v = 0;
    if (d < 0)
        abort();
    if (opts_parse_value(s->defs[d].type, s->values[d], &v))
        return 0; /* validated in opts_bind; only an invalid default lands here */
    return v;
}

void opts_print(FILE *out, const char *title, const opt_def *defs)
{
    fprintf(out, "%s\n", title);
    for (int i = 0; defs[i].name; i++) {
        const opt_def *d = &defs[i];
        if (opts_is_prefix(d)) {
            char name[64];
            snprintf(name, sizeof name, "%sNAME=VALUE", d->name);
            fprintf(out, "    %-18s %s\n", name, d->doc);
            continue;
        }
        fprintf(out, "    %-18s %s", d->name, d->doc);
        if (d->type == OPT_ENUM)
            fprintf(out, " (%s)", d->enum_values);
        if (d->def && !d->def[0] && d->type == OPT_ENUM)
            ; /* the default depends on the context; the doc says it */
        else if (d->def)
            fprintf(out, " [default: %s]", d->def[0] ? d->def : "\"\"");
        else
            fprintf(out, " [required]");
        fputc('\n', out);
    }
}

const opt_def *opts_find_def(const opt_def *defs, const char *name)
{
    int d = def_index(defs, name);
    return d < 0 ? NULL : &defs[d];
}
