/* sql: SQL text of the database sinks (see sql.h). */
#include "core/sink/sql.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct sqlbuf {
    char *p;
    size_t len, cap;
    int overflow;
} sqlbuf;

static void put(sqlbuf *b, const char *text)
{
    size_t n = strlen(text);
    if (b->len + n + 1 > b->cap) {
        b->overflow = 1;
        return;
    }
    memcpy(b->p + b->len, text, n + 1);
    b->len += n;
}

/* "name" with embedded quotes doubled. */
static void put_ident(sqlbuf *b, const char *name)
{
    char one[2] = {0, 0};
    put(b, "\"");
    for (const char *s = name; *s; s++) {
        one[0] = *s;
        put(b, *s == '"' ? "\"\"" : one);
    }
    put(b, "\"");
}

static void put_param(sqlbuf *b, const sql_dialect *d, int i)
{
    char num[16];
    snprintf(num, sizeof num, "$%d", i + 1);
    put(b, d->dollar_params ? num : "?");
}

static int done(const sqlbuf *b) { return b->overflow ? -ENAMETOOLONG : 0; }

int sql_check_name(const char *name)
{
    if (!((*name >= 'a' && *name <= 'z') || (*name >= 'A' && *name <= 'Z') || *name == '_'))
        return -1;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return -1;
    return 0;
}

const char *sql_type(const sql_dialect *d, ember_type t)
{
    return t == EMBER_INT ? d->int_type : t == EMBER_FLOAT ? d->float_type : d->text_type;
}

int sql_key_columns(const schema *rows, int n_key_fields)
{
    int n = n_key_fields;
    if (n + 1 < rows->n && !strcmp(rows->f[n].name, "window_start") &&
        !strcmp(rows->f[n + 1].name, "window_end"))
        n += 2;
    return n;
}

static void put_columns(sqlbuf *b, const schema *rows, int n)
{
    for (int i = 0; i < n; i++) {
        if (i)
            put(b, ", ");
        put_ident(b, rows->f[i].name);
    }
}

int sql_create_table(const sql_dialect *d, const char *table, const schema *rows, int n_pk,
                     char *buf, size_t cap)
{
    sqlbuf b = {buf, 0, cap, 0};
    put(&b, "CREATE TABLE IF NOT EXISTS ");
    put_ident(&b, table);
    put(&b, " (");
    for (int i = 0; i < rows->n; i++) {
        if (i)
            put(&b, ", ");
        put_ident(&b, rows->f[i].name);
        put(&b, " ");
        put(&b, sql_type(d, rows->f[i].type));
    }
    if (n_pk) {
        put(&b, ", PRIMARY KEY (");
        put_columns(&b, rows, n_pk);
        put(&b, ")");
    }
    put(&b, ")");
    return done(&b);
}

int sql_insert(const sql_dialect *d, const char *table, const char *from_table,
               const schema *rows, int n_pk, char *buf, size_t cap)
{
    sqlbuf b = {buf, 0, cap, 0};
    put(&b, "INSERT INTO ");
    put_ident(&b, table);
    put(&b, " (");
    put_columns(&b, rows, rows->n);
    if (from_table) {
        put(&b, ") SELECT ");
        put_columns(&b, rows, rows->n);
        put(&b, " FROM ");
        put_ident(&b, from_table);
    } else {
        put(&b, ") VALUES (");
        for (int i = 0; i < rows->n; i++) {
            if (i)
                put(&b, ", ");
            put_param(&b, d, i);
        }
        put(&b, ")");
    }
    if (!n_pk)
        return done(&b);
    put(&b, " ON CONFLICT (");
    put_columns(&b, rows, n_pk);
    put(&b, n_pk == rows->n ? ") DO NOTHING" : ") DO UPDATE SET ");
    for (int i = n_pk; i < rows->n; i++) {
        if (i > n_pk)
            put(&b, ", ");
        put_ident(&b, rows->f[i].name);
        put(&b, " = excluded.");
        put_ident(&b, rows->f[i].name);
    }
    return done(&b);
}
