/*
 * expr: the expression language of filter and select (grammar in expr.h).
 * Text -> tokens -> typed tree in one recursive-descent pass; every node's
 * type is known when the job loads, so evaluation never checks types beyond
 * NULL. Evaluation is reentrant (worker threads share one compiled tree).
 */
#include "core/expr.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum node_kind {
    N_CONST, N_FIELD, N_NEG, N_ADD, N_SUB, N_MUL, N_DIV, N_MOD,
    N_EQ, N_NE, N_LT, N_LE, N_GT, N_GE, N_AND, N_OR, N_NOT
} node_kind;

struct expr {
    node_kind kind;
    ember_type type;  /* result type */
    ember_type otype; /* operand type for comparisons and arithmetic */
    int field;
    ember_value value; /* N_CONST */
    char *text;        /* owned copy of a string constant */
    expr *l, *r;
};

typedef enum tok_kind { T_END, T_NUM, T_STR, T_IDENT, T_OP, T_LPAREN, T_RPAREN, T_COMMA } tok_kind;

typedef struct parser {
    const char *src;
    const schema *in;
    size_t pos;      /* start of the current token */
    tok_kind tok;
    size_t tok_len;  /* token length in src */
    ember_err *err;
} parser;

/* ------------------------------------------------------------------ lexer */

static int is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_ident(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

static int lex_error(parser *p, const char *what)
{
    return ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1, "%s", what);
}

static int next_token(parser *p)
{
    const char *s = p->src;
    p->pos += p->tok_len;
    while (s[p->pos] == ' ' || s[p->pos] == '\t')
        p->pos++;
    size_t i = p->pos;
    char c = s[i];
    p->tok_len = 1;
    if (c == '\0') {
        p->tok = T_END;
        p->tok_len = 0;
    } else if ((c >= '0' && c <= '9') || (c == '.' && s[i + 1] >= '0' && s[i + 1] <= '9')) {
        char *end;
        (void)strtod(s + i, &end);
        p->tok = T_NUM;
        p->tok_len = (size_t)(end - (s + i));
    } else if (c == '"' || c == '\'') {
        const char *close = strchr(s + i + 1, c);
        if (!close)
            return lex_error(p, "unterminated string");
        p->tok = T_STR;
        p->tok_len = (size_t)(close - (s + i)) + 1;
    } else if (is_ident_start(c)) {
        while (is_ident(s[i + p->tok_len]))
            p->tok_len++;
        p->tok = T_IDENT;
    } else if (c == '(' || c == ')' || c == ',') {
        p->tok = c == '(' ? T_LPAREN : c == ')' ? T_RPAREN : T_COMMA;
    } else if (strchr("+-*/%", c)) {
        p->tok = T_OP;
    } else if (strchr("=!<>", c)) {
        p->tok = T_OP;
        if (s[i + 1] == '=')
            p->tok_len = 2;
        else if (c == '!')
            return lex_error(p, "expected '!='");
    } else {
        return ember_err_set_col(p->err, -EMBER_EUSAGE, (int)i + 1, "unexpected character '%c'", c);
    }
    return 0;
}

static int tok_is(const parser *p, const char *text)
{
    size_t n = strlen(text);
    if (p->tok_len != n)
        return 0;
    if (p->tok == T_IDENT)
        return strncasecmp(p->src + p->pos, text, n) == 0;
    return (p->tok == T_OP) && strncmp(p->src + p->pos, text, n) == 0;
}

/* ------------------------------------------------------------- tree nodes */

void expr_free(expr *e)
{
    if (!e)
        return;
    expr_free(e->l);
    expr_free(e->r);
    free(e->text);
    free(e);
}

static expr *node(parser *p, node_kind k, ember_type t, expr *l, expr *r)
{
    expr *e = calloc(1, sizeof *e);
    if (!e) {
        ember_err_set(p->err, -ENOMEM, "out of memory");
        expr_free(l);
        expr_free(r);
        return NULL;
    }
    e->kind = k;
    e->type = t;
    e->l = l;
    e->r = r;
    return e;
}

static int is_num(ember_type t) { return t == EMBER_INT || t == EMBER_FLOAT; }

static expr *type_error(parser *p, size_t col, expr *l, expr *r, const char *fmt, const char *a,
                        const char *b)
{
    ember_err_set_col(p->err, -EMBER_EUSAGE, (int)col + 1, fmt, a, b);
    expr_free(l);
    expr_free(r);
    return NULL;
}

static expr *parse_or(parser *p);

static expr *parse_literal(parser *p)
{
    const char *s = p->src + p->pos;
    expr *e = node(p, N_CONST, EMBER_INT, NULL, NULL);
    if (!e)
        return NULL;
    if (p->tok == T_STR) {
        e->type = EMBER_STRING;
        e->text = strndup(s + 1, p->tok_len - 2);
        e->value.type = EMBER_STRING;
        e->value.u.s = (ember_str){e->text, (uint32_t)(p->tok_len - 2)};
    } else if (p->tok == T_NUM && !memchr(s, '.', p->tok_len) && !memchr(s, 'e', p->tok_len) &&
               !memchr(s, 'E', p->tok_len)) {
        e->value.type = EMBER_INT;
        e->value.u.i = strtoll(s, NULL, 10);
    } else if (p->tok == T_NUM) {
        e->type = EMBER_FLOAT;
        e->value.type = EMBER_FLOAT;
        e->value.u.f = strtod(s, NULL);
    } else {
        e->type = EMBER_BOOL;
        e->value.type = EMBER_BOOL;
        e->value.u.i = tok_is(p, "true");
    }
    if (next_token(p)) {
        expr_free(e);
        return NULL;
    }
    return e;
}

static expr *parse_field(parser *p)
{
    int idx = schema_find(p->in, p->src + p->pos, p->tok_len);
    if (idx < 0) {
        ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1, "unknown field '%.*s'",
                          (int)p->tok_len, p->src + p->pos);
        return NULL;
    }
    expr *e = node(p, N_FIELD, p->in->f[idx].type, NULL, NULL);
    if (e)
        e->field = idx;
    if (e && next_token(p)) {
        expr_free(e);
        return NULL;
    }
    return e;
}

static expr *parse_atom(parser *p)
{
    if (p->tok == T_LPAREN) {
        size_t open = p->pos;
        if (next_token(p))
            return NULL;
        expr *e = parse_or(p);
        if (!e)
            return NULL;
        if (p->tok != T_RPAREN) {
            expr_free(e);
            ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1,
                              "expected ')' to close the '(' at column %zu", open + 1);
            return NULL;
        }
        return next_token(p) ? (expr_free(e), NULL) : e;
    }
    if (p->tok == T_NUM || p->tok == T_STR || tok_is(p, "true") || tok_is(p, "false"))
        return parse_literal(p);
    if (p->tok == T_IDENT && !tok_is(p, "and") && !tok_is(p, "or") && !tok_is(p, "not") &&
        !tok_is(p, "as"))
        return parse_field(p);
    ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1,
                      p->tok == T_END ? "expected a value at the end" : "expected a value, a field or '('");
    return NULL;
}

static expr *parse_unary(parser *p)
{
    if (p->tok == T_OP && tok_is(p, "-")) {
        size_t col = p->pos;
        if (next_token(p))
            return NULL;
        expr *x = parse_unary(p);
        if (!x)
            return NULL;
        if (!is_num(x->type))
            return type_error(p, col, x, NULL, "cannot negate a %s%s", ember_type_name(x->type), "");
        return node(p, N_NEG, x->type, x, NULL);
    }
    return parse_atom(p);
}

static expr *arith(parser *p, node_kind k, size_t col, expr *l, expr *r)
{
    if (!is_num(l->type) || !is_num(r->type))
        return type_error(p, col, l, r, "arithmetic needs numbers, not %s and %s",
                          ember_type_name(l->type), ember_type_name(r->type));
    ember_type t = (l->type == EMBER_FLOAT || r->type == EMBER_FLOAT || k == N_DIV) ? EMBER_FLOAT
                                                                                    : EMBER_INT;
    expr *e = node(p, k, t, l, r);
    if (e)
        e->otype = (l->type == EMBER_FLOAT || r->type == EMBER_FLOAT) ? EMBER_FLOAT : EMBER_INT;
    return e;
}

static expr *parse_binary_level(parser *p, int level);

static const struct {
    const char *op;
    node_kind kind;
    int level; /* 0 sum, 1 product */
} arith_ops[] = {{"+", N_ADD, 0}, {"-", N_SUB, 0}, {"*", N_MUL, 1}, {"/", N_DIV, 1}, {"%", N_MOD, 1}};

static int arith_op(const parser *p, int level, node_kind *k)
{
    for (size_t i = 0; i < sizeof arith_ops / sizeof arith_ops[0]; i++)
        if (arith_ops[i].level == level && p->tok == T_OP && tok_is(p, arith_ops[i].op))
            return (*k = arith_ops[i].kind), 1;
    return 0;
}

/* level 0: sum := prod (+|- prod)*, level 1: prod := unary (*|/|% unary)* */
static expr *parse_binary_level(parser *p, int level)
{
    expr *l = level == 1 ? parse_unary(p) : parse_binary_level(p, 1);
    node_kind k;
    while (l && arith_op(p, level, &k)) {
        size_t col = p->pos;
        if (next_token(p))
            return expr_free(l), NULL;
        expr *r = level == 1 ? parse_unary(p) : parse_binary_level(p, 1);
        if (!r)
            return expr_free(l), NULL;
        l = arith(p, k, col, l, r);
    }
    return l;
}

static const struct {
    const char *op;
    node_kind kind;
} cmp_ops[] = {{"==", N_EQ}, {"=", N_EQ}, {"!=", N_NE}, {"<=", N_LE},
               {"<", N_LT},  {">=", N_GE}, {">", N_GT}};

static expr *parse_cmp(parser *p)
{
    expr *l = parse_binary_level(p, 0);
    if (!l || p->tok != T_OP)
        return l;
    for (size_t i = 0; i < sizeof cmp_ops / sizeof cmp_ops[0]; i++) {
        if (!tok_is(p, cmp_ops[i].op))
            continue;
        size_t col = p->pos;
        if (next_token(p))
            return expr_free(l), NULL;
        expr *r = parse_binary_level(p, 0);
        if (!r)
            return expr_free(l), NULL;
        int ok = (is_num(l->type) && is_num(r->type)) || l->type == r->type;
        if (ok && l->type == EMBER_BOOL && cmp_ops[i].kind != N_EQ && cmp_ops[i].kind != N_NE)
            ok = 0;
        if (!ok)
            return type_error(p, col, l, r, "cannot compare %s with %s",
                              ember_type_name(l->type), ember_type_name(r->type));
        expr *e = node(p, cmp_ops[i].kind, EMBER_BOOL, l, r);
        if (e)
            e->otype = (l->type == EMBER_FLOAT || r->type == EMBER_FLOAT) ? EMBER_FLOAT : l->type;
        return e;
    }
    return l;
}

static expr *parse_not(parser *p)
{
    if (!tok_is(p, "not"))
        return parse_cmp(p);
    size_t col = p->pos;
    if (next_token(p))
        return NULL;
    expr *x = parse_not(p);
    if (x && x->type != EMBER_BOOL)
        return type_error(p, col, x, NULL, "'not' needs a condition, not a %s%s",
                          ember_type_name(x->type), "");
    return x ? node(p, N_NOT, EMBER_BOOL, x, NULL) : NULL;
}

static expr *parse_logic(parser *p, const char *word, node_kind k, expr *(*sub)(parser *))
{
    expr *l = sub(p);
    while (l && tok_is(p, word)) {
        size_t col = p->pos;
        if (next_token(p))
            return expr_free(l), NULL;
        expr *r = sub(p);
        if (!r)
            return expr_free(l), NULL;
        if (l->type != EMBER_BOOL || r->type != EMBER_BOOL)
            return type_error(p, col, l, r, "'%s' needs conditions on both sides%s", word, "");
        l = node(p, k, EMBER_BOOL, l, r);
    }
    return l;
}

static expr *parse_and(parser *p) { return parse_logic(p, "and", N_AND, parse_not); }
static expr *parse_or(parser *p) { return parse_logic(p, "or", N_OR, parse_and); }

int expr_compile(const char *text, const schema *in, expr **out, ember_err *err)
{
    parser p = {.src = text, .in = in, .err = err};
    *out = NULL;
    if (next_token(&p))
        return err->code;
    expr *e = parse_or(&p);
    if (!e)
        return err->code;
    if (p.tok != T_END) {
        expr_free(e);
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)p.pos + 1,
                                 "unexpected '%.*s' (expected an operator or the end)",
                                 (int)p.tok_len, text + p.pos);
    }
    *out = e;
    return 0;
}

ember_type expr_type(const expr *e) { return e->type; }

/* ------------------------------------------------------------- evaluation */

static double as_double(const ember_value *v) { return v->type == EMBER_FLOAT ? v->u.f : (double)v->u.i; }

static void eval_arith(const expr *e, const ember_value *a, const ember_value *b, ember_value *out)
{
    out->type = e->type;
    if (e->otype == EMBER_INT && e->kind != N_DIV) {
        uint64_t x = (uint64_t)a->u.i, y = (uint64_t)b->u.i; /* wrap, never UB */
        if (e->kind == N_MOD) {
            if (b->u.i == 0 || (a->u.i == INT64_MIN && b->u.i == -1))
                out->type = b->u.i == 0 ? EMBER_NULL : EMBER_INT, out->u.i = 0;
            else
                out->u.i = a->u.i % b->u.i;
            return;
        }
        out->u.i = (int64_t)(e->kind == N_ADD ? x + y : e->kind == N_SUB ? x - y : x * y);
        return;
    }
    double x = as_double(a), y = as_double(b);
    if ((e->kind == N_DIV || e->kind == N_MOD) && y == 0) {
        out->type = EMBER_NULL;
        return;
    }
    out->u.f = e->kind == N_ADD ? x + y : e->kind == N_SUB ? x - y : e->kind == N_MUL ? x * y
             : e->kind == N_DIV ? x / y : fmod(x, y);
}

static int compare(const expr *e, const ember_value *a, const ember_value *b)
{
    if (e->otype == EMBER_STRING) {
        uint32_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
        int c = memcmp(a->u.s.ptr, b->u.s.ptr, n);
        return c ? c : (a->u.s.len > b->u.s.len) - (a->u.s.len < b->u.s.len);
    }
    if (e->otype == EMBER_FLOAT) {
        double x = as_double(a), y = as_double(b);
        return (x > y) - (x < y);
    }
    return (a->u.i > b->u.i) - (a->u.i < b->u.i);
}

static int cmp_holds(node_kind k, int c)
{
    switch (k) {
    case N_EQ: return c == 0;
    case N_NE: return c != 0;
    case N_LT: return c < 0;
    case N_LE: return c <= 0;
    case N_GT: return c > 0;
    default: return c >= 0;
    }
}

void expr_eval(const expr *e, const ember_record *rec, ember_value *out)
{
    ember_value a, b;
    switch (e->kind) {
    case N_CONST: *out = e->value; return;
    case N_FIELD: *out = rec->values[e->field]; return;
    case N_AND:
        out->type = EMBER_BOOL;
        out->u.i = expr_is_true(e->l, rec) && expr_is_true(e->r, rec);
        return;
    case N_OR:
        out->type = EMBER_BOOL;
        out->u.i = expr_is_true(e->l, rec) || expr_is_true(e->r, rec);
        return;
    case N_NOT:
        out->type = EMBER_BOOL;
        out->u.i = !expr_is_true(e->l, rec);
        return;
    case N_NEG:
        expr_eval(e->l, rec, out);
        if (out->type == EMBER_INT)
            out->u.i = (int64_t)(0 - (uint64_t)out->u.i);
        else if (out->type == EMBER_FLOAT)
            out->u.f = -out->u.f;
        return;
    default: break;
    }
    expr_eval(e->l, rec, &a);
    expr_eval(e->r, rec, &b);
    if (a.type == EMBER_NULL || b.type == EMBER_NULL) {
        out->type = e->type == EMBER_BOOL ? EMBER_BOOL : EMBER_NULL;
        out->u.i = 0; /* a comparison with NULL is false */
        return;
    }
    if (e->type != EMBER_BOOL) {
        eval_arith(e, &a, &b, out);
        return;
    }
    out->type = EMBER_BOOL;
    out->u.i = cmp_holds(e->kind, compare(e, &a, &b));
}

int expr_is_true(const expr *e, const ember_record *rec)
{
    ember_value v;
    expr_eval(e, rec, &v);
    return v.type == EMBER_BOOL && v.u.i != 0;
}

/* ------------------------------------------------------------------ select */

void select_free(select_list *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n; i++)
        expr_free(s->items[i]);
    free(s->items);
    free(s);
}

static int select_item(parser *p, select_list *s, ember_err *err)
{
    size_t start = p->pos;
    expr *e = parse_or(p);
    if (!e)
        return err->code;
    s->items[s->n] = e;
    schema_field *f = &s->out.f[s->n++];
    f->type = e->type;
    const char *name = p->src + start;
    size_t len = p->pos - start;
    if (tok_is(p, "as")) {
        if (next_token(p))
            return err->code;
        if (p->tok != T_IDENT)
            return ember_err_set_col(err, -EMBER_EUSAGE, (int)p->pos + 1, "expected a name after 'as'");
        name = p->src + p->pos;
        len = p->tok_len;
        if (next_token(p))
            return err->code;
    } else if (e->kind != N_FIELD) {
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)start + 1,
                                 "a computed column needs a name: add 'as NAME'");
    } else {
        name = p->in->f[e->field].name;
        len = strlen(name);
    }
    while (len && (name[len - 1] == ' '))
        len--;
    if (len >= SCHEMA_NAME_MAX)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)start + 1, "name too long");
    if (schema_find(&s->out, name, len) >= 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, (int)start + 1, "column '%.*s' selected twice",
                                 (int)len, name);
    memcpy(f->name, name, len);
    f->name[len] = '\0';
    return 0;
}

int select_compile(const char *text, const schema *in, select_list **out, ember_err *err)
{
    parser p = {.src = text, .in = in, .err = err};
    select_list *s = calloc(1, sizeof *s);
    int rc = s ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    if (!rc && !(s->items = calloc(SCHEMA_MAX_FIELDS, sizeof *s->items)))
        rc = ember_err_set(err, -ENOMEM, "out of memory");
    if (!rc)
        rc = next_token(&p);
    while (!rc) {
        if (s->n == SCHEMA_MAX_FIELDS) {
            rc = ember_err_set_col(err, -EMBER_EUSAGE, (int)p.pos + 1, "too many columns");
            break;
        }
        if ((rc = select_item(&p, s, err)))
            break;
        s->out.n = s->n;
        if (p.tok == T_END)
            break;
        if (p.tok != T_COMMA) {
            rc = ember_err_set_col(err, -EMBER_EUSAGE, (int)p.pos + 1, "expected ',' or 'as'");
            break;
        }
        rc = next_token(&p);
    }
    if (rc) {
        select_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void select_eval(const select_list *s, const ember_record *in, ember_record *out)
{
    for (int i = 0; i < s->n; i++)
        expr_eval(s->items[i], in, &out->values[i]);
    out->n = (uint32_t)s->n;
}
