/*
 * kafka_props: checks and applies `kafka.NAME=VALUE` options (see props.h).
 *
 * What librdkafka knows comes from librdkafka itself: the property table
 * rd_kafka_conf_properties_show prints (one "NAME | C/P | ..." row per
 * property, aliases described as "Alias for `OTHER`"), so the check follows
 * the installed version, and a value is judged by rd_kafka_conf_set.
 */
#include "core/kafka/props.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One property's row in librdkafka's table. */
typedef struct prop_info {
    char scope;      /* 'C' consumer, 'P' producer, '*' both */
    char canon[128]; /* the property an alias stands for, else the name itself */
} prop_info;

/* librdkafka's property table as text (malloc'd), NULL when out of memory. */
static char *prop_table(void)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f)
        return NULL;
    rd_kafka_conf_properties_show(f);
    if (fclose(f)) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* 0 when `name` has a row in the table (info filled), -ENOENT if not. */
static int prop_find(const char *table, const char *name, prop_info *info)
{
    size_t len = strlen(name);
    for (const char *line = table; line && *line; line = strchr(line, '\n'), line += !!line) {
        if (strncmp(line, name, len) || line[len] != ' ')
            continue;
        const char *eol = strchr(line, '\n'), *bar = strchr(line, '|');
        if (!bar || (eol && bar > eol))
            continue;
        const char *s = bar + 1 + strspn(bar + 1, " ");
        info->scope = *s;
        snprintf(info->canon, sizeof info->canon, "%s", name);
        const char *alias = strstr(s, "Alias for `");
        if (alias && (!eol || alias < eol)) {
            alias += strlen("Alias for `");
            size_t an = strcspn(alias, "`");
            snprintf(info->canon, sizeof info->canon, "%.*s", (int)an, alias);
        }
        return 0;
    }
    return -ENOENT;
}

static const kafka_protected *protected_find(const kafka_protected *protect, const char *name,
                                             const char *canon)
{
    for (size_t i = 0; protect && protect[i].name; i++)
        if (!strcmp(protect[i].name, name) || !strcmp(protect[i].name, canon))
            return &protect[i];
    return NULL;
}

static int check_one(const char *table, const opt_pair *p, const char *what, unsigned roles,
                     const kafka_protected *protect, rd_kafka_conf_t *scratch, ember_err *err)
{
    const char *name = p->key + strlen(p->def->name);
    prop_info info;
    char errstr[512];
    if (prop_find(table, name, &info))
        return ember_err_set_col(err, -EMBER_EUSAGE, p->col,
                                 "%s: option '%s': librdkafka "
                                 "has no property '%s'",
                                 what, p->key, name);
    const kafka_protected *k = protected_find(protect, name, info.canon);
    if (k)
        return ember_err_set_col(err, -EMBER_EUSAGE, p->col,
                                 "%s: option '%s': ember sets "
                                 "%s itself for exactly-once; %s",
                                 what, p->key, name, k->instead);
    if ((info.scope == 'P' && !(roles & KAFKA_ROLE_PRODUCER)) ||
        (info.scope == 'C' && !(roles & KAFKA_ROLE_CONSUMER)))
        return ember_err_set_col(err, -EMBER_EUSAGE, p->col,
                                 "%s: option '%s': a %s "
                                 "property; %s only %s",
                                 what, p->key, info.scope == 'P' ? "producer" : "consumer", what,
                                 info.scope == 'P' ? "consumes" : "produces");
    if (rd_kafka_conf_set(scratch, name, p->value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return ember_err_set_col(err, -EMBER_EUSAGE, p->col, "%s: option '%s': %s", what, p->key,
                                 errstr);
    return 0;
}

int kafka_props_check(const opt_set *opts, const char *what, unsigned roles,
                      const kafka_protected *protect, ember_err *err)
{
    if (!opts->n_prefixed)
        return 0;
    char *table = prop_table();
    rd_kafka_conf_t *scratch = rd_kafka_conf_new();
    int rc = table ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < opts->n_prefixed; i++)
        if (!strcmp(opts->prefixed[i].def->name, KAFKA_PROPS_PREFIX))
            rc = check_one(table, &opts->prefixed[i], what, roles, protect, scratch, err);
    rd_kafka_conf_destroy(scratch);
    free(table);
    return rc;
}

int kafka_props_apply(rd_kafka_conf_t *conf, const opt_set *opts, unsigned role, const char *what,
                      ember_err *err)
{
    if (!opts || !opts->n_prefixed)
        return 0;
    char *table = prop_table(), errstr[512];
    int rc = table ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    for (size_t i = 0; !rc && i < opts->n_prefixed; i++) {
        const opt_pair *p = &opts->prefixed[i];
        const char *name = p->key + strlen(KAFKA_PROPS_PREFIX);
        prop_info info;
        if (strcmp(p->def->name, KAFKA_PROPS_PREFIX) || prop_find(table, name, &info))
            continue; /* checked at load: not a property */
        if ((info.scope == 'P' && role != KAFKA_ROLE_PRODUCER) ||
            (info.scope == 'C' && role != KAFKA_ROLE_CONSUMER))
            continue;
        if (rd_kafka_conf_set(conf, name, p->value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
            rc = ember_err_set(err, -EMBER_EUSAGE, "%s: option '%s': %s", what, p->key, errstr);
    }
    free(table);
    return rc;
}
