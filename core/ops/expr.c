/*
 * expr: the expression language of filter and select (grammar in expr.h).
 * Text -> tokens -> typed tree in one recursive-descent pass when the job
 * loads; every node's type is known then, so evaluation (per record, in the
 * transform step) never checks types beyond NULL. Evaluation is reentrant:
 * worker threads share one compiled tree and never write to it.
 *
 * Error columns: a type error of a binary operator (+, <, ...) points at the
 * operator; a non-boolean operand of and/or/not points at that operand; an
 * unknown field, bad literal or unexpected token points at the token.
 */
#include "core/ops/expr.h"
#include "core/ops/expr_node.h"
#include "core/ops/expr_parse.h"
#include "core/ops/functions.h"
#include "core/base/array.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ lexer */

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}
static int is_ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_ident(char c)
{
    return is_ident_start(c) || is_digit(c);
}

int syntax_error(parser *p, size_t at, const char *what)
{
    return ember_err_set_col(p->err, -EMBER_EUSAGE, (int)at + 1, "%s", what);
}

/* digits ["." digits] [("e"|"E") ["+"|"-"] digits], or "." digits */
static void lex_number(parser *p, const char *s)
{
    size_t n = 0;
    p->tok = T_INT;
    while (is_digit(s[n]))
        n++;
    if (s[n] == '.') {
        p->tok = T_FLOAT;
        for (n++; is_digit(s[n]); n++)
            ;
    }
    if (s[n] == 'e' || s[n] == 'E') {
        size_t e = n + 1 + (s[n + 1] == '+' || s[n + 1] == '-');
        if (is_digit(s[e])) {
            p->tok = T_FLOAT;
            for (n = e; is_digit(s[n]); n++)
                ;
        }
    }
    p->tok_len = n;
}

static int lex_operator(parser *p, const char *s)
{
    p->tok = T_OP;
    if (strchr("=<>!", s[0]) && s[1] == '=')
        p->tok_len = 2;
    else if (s[0] == '!')
        return syntax_error(p, p->pos, "expected '!='");
    return 0;
}

int next_token(parser *p)
{
    const char *s = p->src;
    p->pos += p->tok_len;
    while (s[p->pos] == ' ' || s[p->pos] == '\t')
        p->pos++;
    const char *t = s + p->pos;
    p->tok_len = 1;
    if (*t == '\0') {
        p->tok = T_END;
        p->tok_len = 0;
    } else if (is_digit(*t) || (*t == '.' && is_digit(t[1]))) {
        lex_number(p, t);
    } else if (*t == '"' || *t == '\'') {
        const char *close = strchr(t + 1, *t);
        if (!close)
            return syntax_error(p, p->pos, "unterminated string (expected a closing quote)");
        p->tok = T_STR;
        p->tok_len = (size_t)(close - t) + 1;
    } else if (is_ident_start(*t)) { /* a.b names a nested field */
        while (is_ident(t[p->tok_len]) ||
               (t[p->tok_len] == '.' && is_ident_start(t[p->tok_len + 1])))
            p->tok_len++;
        p->tok = T_IDENT;
    } else if (*t == '(' || *t == ')' || *t == ',') {
        p->tok = *t == '(' ? T_LPAREN : *t == ')' ? T_RPAREN : T_COMMA;
    } else if (strchr("+-*/%=<>!", *t)) {
        return lex_operator(p, t);
    } else {
        return ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1,
                                 "unexpected character '%c'", *t);
    }
    return 0;
}

/* Keywords are case-insensitive identifiers; operators match exactly. */
int tok_is(const parser *p, const char *text)
{
    size_t n = strlen(text);
    if (p->tok_len != n)
        return 0;
    if (p->tok == T_IDENT)
        return strncasecmp(p->src + p->pos, text, n) == 0;
    return p->tok == T_OP && strncmp(p->src + p->pos, text, n) == 0;
}

int peek_is(parser *p, const char *text)
{
    parser save = *p;
    ember_err err = *p->err; /* a lexing error ahead is reported when it is reached */
    int yes = next_token(p) == 0 &&
              (tok_is(p, text) || (!strcmp(text, "(") && p->tok == T_LPAREN));
    *p = save;
    *p->err = err;
    return yes;
}

static int tok_is_keyword(const parser *p)
{
    return tok_is(p, "and") || tok_is(p, "or") || tok_is(p, "not") || tok_is(p, "as") ||
           tok_is(p, "true") || tok_is(p, "false");
}

/* ------------------------------------------------------------- tree nodes */

/* Iterative (right rotations turn the tree into a list as it goes), so
 * no tree, however deep, can exhaust the stack. */
void expr_free(expr *e)
{
    while (e) {
        expr *l = e->l;
        if (l) {
            e->l = l->r;
            l->r = e;
            e = l;
            continue;
        }
        expr *r = e->r;
        for (int i = 0; i < e->nargs; i++)
            expr_free(e->args[i]); /* nested calls: at most EXPR_MAX_PARENS deep */
        free(e->args);
        if (e->kind == N_CALL)
            fn_free_aux(e);
        free(e->text);
        free(e);
        e = r;
    }
}

/* New node starting at column col (0-based); frees l and r on failure. */
expr *node(parser *p, node_kind k, ember_type t, size_t col, expr *l, expr *r)
{
    expr *e = calloc(1, sizeof *e);
    if (!e) {
        ember_err_set(p->err, -ENOMEM, "out of memory compiling an expression");
        expr_free(l);
        expr_free(r);
        return NULL;
    }
    e->kind = k;
    e->type = t;
    e->col = (int)col + 1;
    e->l = l;
    e->r = r;
    int dl = l ? l->depth : 0, dr = r ? r->depth : 0;
    e->depth = 1 + (dl > dr ? dl : dr);
    return e;
}

/* The node over l and r would nest deeper than EXPR_MAX_DEPTH: reports it at
 * 1-based column col (the operator) and frees the operands. */
int too_deep(parser *p, int col, expr *l, expr *r)
{
    int d = 1 + (l ? l->depth : 0);
    if (r && 1 + r->depth > d)
        d = 1 + r->depth;
    if (d <= EXPR_MAX_DEPTH)
        return 0;
    ember_err_set_col(p->err, -EMBER_EUSAGE, col,
                      "expression nested too deeply (more than %d levels, as in a sum of "
                      "more than %d terms): split it over several steps",
                      EXPR_MAX_DEPTH, EXPR_MAX_DEPTH);
    expr_free(l);
    expr_free(r);
    return 1;
}

static int is_num(ember_type t)
{
    return t == EMBER_INT || t == EMBER_FLOAT;
}

static ember_type num_result(const expr *l, const expr *r)
{
    return l->type == EMBER_FLOAT || r->type == EMBER_FLOAT ? EMBER_FLOAT : EMBER_INT;
}

/* Reports at 1-based column col and frees the operands. */
expr *type_error(parser *p, int col, expr *l, expr *r, const char *fmt, const char *a,
                 const char *b)
{
    ember_err_set_col(p->err, -EMBER_EUSAGE, col, fmt, a, b);
    expr_free(l);
    expr_free(r);
    return NULL;
}

/* Consumes the current token; frees e and returns NULL if the next is bad. */
expr *advance(parser *p, expr *e)
{
    if (e && next_token(p)) {
        expr_free(e);
        return NULL;
    }
    return e;
}

/* ---------------------------------------------------------------- atoms */

static int int_literal(parser *p, const char *s, int64_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < p->tok_len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10)
            return ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1,
                                     "integer %.*s is out of range (int64)", (int)p->tok_len, s);
        v = v * 10 + d;
    }
    *out = (int64_t)v;
    return 0;
}

static expr *parse_literal(parser *p)
{
    const char *s = p->src + p->pos;
    expr *e = node(p, N_CONST, EMBER_BOOL, p->pos, NULL, NULL);
    if (!e)
        return NULL;
    if (p->tok == T_STR) {
        e->type = EMBER_STRING;
        e->text = strndup(s + 1, p->tok_len - 2);
        if (!e->text) {
            ember_err_set(p->err, -ENOMEM, "out of memory compiling an expression");
            return expr_free(e), NULL;
        }
        e->value.u.s = (ember_str){e->text, (uint32_t)(p->tok_len - 2)};
    } else if (p->tok == T_INT) {
        e->type = EMBER_INT;
        if (int_literal(p, s, &e->value.u.i))
            return expr_free(e), NULL;
    } else if (p->tok == T_FLOAT) {
        e->type = EMBER_FLOAT;
        e->value.u.f = strtod(s, NULL); /* the lexer checked the syntax */
        if (!isfinite(e->value.u.f)) {
            ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1, "number %.*s is out of range",
                              (int)p->tok_len, s);
            return expr_free(e), NULL;
        }
    } else {
        e->value.u.i = tok_is(p, "true");
    }
    e->value.type = e->type;
    return advance(p, e);
}

static expr *parse_field(parser *p)
{
    int idx = schema_find(p->in, p->src + p->pos, p->tok_len);
    if (idx < 0) {
        char note[96];
        ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1, "unknown field '%.*s'%s",
                          (int)p->tok_len, p->src + p->pos,
                          schema_suggest_note(p->in, p->src + p->pos, p->tok_len, note,
                                              sizeof note));
        return NULL;
    }
    expr *e = node(p, N_FIELD, p->in->f[idx].type, p->pos, NULL, NULL);
    if (e)
        e->field = idx;
    return advance(p, e);
}

static expr *parse_paren(parser *p)
{
    size_t open = p->pos;
    if (++p->depth > EXPR_MAX_PARENS) {
        syntax_error(p, open, "parentheses nested too deeply");
        return NULL;
    }
    if (next_token(p))
        return NULL;
    expr *e = parse_or(p);
    p->depth--;
    if (e && p->tok != T_RPAREN) {
        expr_free(e);
        ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1,
                          "expected ')' to close the '(' at column %zu", open + 1);
        return NULL;
    }
    if (e)
        e->col = (int)open + 1;
    return advance(p, e);
}

static expr *parse_atom(parser *p)
{
    if (p->tok == T_LPAREN)
        return parse_paren(p);
    if (p->tok == T_INT || p->tok == T_FLOAT || p->tok == T_STR || tok_is(p, "true") ||
        tok_is(p, "false"))
        return parse_literal(p);
    if (p->tok == T_IDENT && tok_is(p, "case") && peek_is(p, "when"))
        return parse_case(p);
    if (p->tok == T_IDENT && !tok_is_keyword(p) && peek_is(p, "("))
        return parse_call(p);
    if (p->tok == T_IDENT && !tok_is_keyword(p))
        return parse_field(p);
    if (p->tok == T_END)
        syntax_error(p, p->pos, "expected a value, a field or '(' at the end");
    else
        ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1,
                          "expected a value, a field or '(', not '%.*s'", (int)p->tok_len,
                          p->src + p->pos);
    return NULL;
}

/* ------------------------------------------------------------- operators */

/* unary := "-" unary | atom. Iterative, so "- - - x" cannot blow the stack;
 * two minus signs cancel (exactly: ints wrap, floats flip the sign bit), and
 * a negated constant is folded into the constant. */
static expr *parse_unary(parser *p)
{
    size_t first = p->pos, last = p->pos;
    int minus = 0, odd = 0;
    for (; tok_is(p, "-"); minus = 1, odd ^= 1) {
        last = p->pos;
        if (next_token(p))
            return NULL;
    }
    expr *x = parse_atom(p);
    if (!x || !minus)
        return x;
    if (!is_num(x->type))
        return type_error(p, (int)last + 1, x, NULL, "cannot negate a %s%s",
                          ember_type_name(x->type), "");
    if (odd && x->kind == N_CONST) {
        if (x->type == EMBER_INT)
            x->value.u.i = (int64_t)(0 - (uint64_t)x->value.u.i); /* wraps, never UB */
        else
            x->value.u.f = -x->value.u.f;
    } else if (odd) {
        if (too_deep(p, (int)first + 1, x, NULL))
            return NULL;
        x = node(p, N_NEG, x->type, first, x, NULL);
    }
    if (x)
        x->col = (int)first + 1;
    return x;
}

static const struct {
    const char *op;
    node_kind kind;
    int level; /* 0 sum, 1 product */
} arith_ops[] = {
    {"+", N_ADD, 0}, {"-", N_SUB, 0}, {"*", N_MUL, 1}, {"/", N_DIV, 1}, {"%", N_MOD, 1}};

static int arith_op(const parser *p, int level, node_kind *k)
{
    for (size_t i = 0; i < sizeof arith_ops / sizeof arith_ops[0]; i++)
        if (arith_ops[i].level == level && tok_is(p, arith_ops[i].op))
            return (*k = arith_ops[i].kind), 1;
    return 0;
}

static expr *arith(parser *p, node_kind k, size_t op_col, expr *l, expr *r)
{
    if (!is_num(l->type) || !is_num(r->type))
        return type_error(p, (int)op_col + 1, l, r, "arithmetic needs numbers, not %s and %s",
                          ember_type_name(l->type), ember_type_name(r->type));
    /* int / int is float, as in Spark SQL: 7 / 2 = 3.5 */
    ember_type t = k == N_DIV ? EMBER_FLOAT : num_result(l, r);
    if (too_deep(p, (int)op_col + 1, l, r))
        return NULL;
    expr *e = node(p, k, t, (size_t)l->col - 1, l, r);
    if (e)
        e->otype = num_result(l, r);
    return e;
}

/* level 0: sum := prod (+|- prod)*, level 1: prod := unary (*|/|% unary)* */
expr *parse_arith(parser *p, int level)
{
    expr *l = level == 1 ? parse_unary(p) : parse_arith(p, 1);
    node_kind k;
    while (l && arith_op(p, level, &k)) {
        size_t op_col = p->pos;
        if (next_token(p))
            return expr_free(l), NULL;
        expr *r = level == 1 ? parse_unary(p) : parse_arith(p, 1);
        if (!r)
            return expr_free(l), NULL;
        l = arith(p, k, op_col, l, r);
    }
    return l;
}

static const struct {
    const char *op;
    node_kind kind;
} cmp_ops[] = {{"==", N_EQ}, {"=", N_EQ},  {"!=", N_NE}, {"<=", N_LE},
               {"<", N_LT},  {">=", N_GE}, {">", N_GT}};

static int cmp_op(const parser *p, node_kind *k)
{
    for (size_t i = 0; i < sizeof cmp_ops / sizeof cmp_ops[0]; i++)
        if (tok_is(p, cmp_ops[i].op))
            return (*k = cmp_ops[i].kind), 1;
    return 0;
}

static int comparable(node_kind k, ember_type a, ember_type b)
{
    if (is_num(a) && is_num(b))
        return 1;
    if (a != b)
        return 0;
    return a == EMBER_STRING || k == N_EQ || k == N_NE; /* booleans: only = and != */
}

static expr *compare_node(parser *p, node_kind k, size_t op_col, expr *l, expr *r)
{
    if (!comparable(k, l->type, r->type))
        return type_error(p, (int)op_col + 1, l, r, "cannot compare %s with %s",
                          ember_type_name(l->type), ember_type_name(r->type));
    if (too_deep(p, (int)op_col + 1, l, r))
        return NULL;
    expr *e = node(p, k, EMBER_BOOL, (size_t)l->col - 1, l, r);
    if (e)
        e->otype = is_num(l->type) ? num_result(l, r) : l->type;
    return e;
}

/* cmp := sum (op sum)?; "a < b < c" is an error, not (a < b) < c. */
static expr *parse_cmp(parser *p)
{
    node_kind k;
    expr *l = parse_arith(p, 0);
    if (l && at_postfix_form(p))
        return parse_postfix_form(p, l);
    if (!l || !cmp_op(p, &k))
        return l;
    size_t op_col = p->pos;
    if (next_token(p))
        return expr_free(l), NULL;
    expr *r = parse_arith(p, 0);
    if (!r)
        return expr_free(l), NULL;
    expr *e = compare_node(p, k, op_col, l, r);
    if (e && cmp_op(p, &k)) {
        syntax_error(p, p->pos, "comparisons cannot be chained: join them with 'and'");
        return expr_free(e), NULL;
    }
    return e;
}

/* not := "not" not | cmp. Iterative; "not not x" is x (also for NULL). */
static expr *parse_not(parser *p)
{
    size_t first = p->pos;
    int n = 0;
    for (; tok_is(p, "not"); n++)
        if (next_token(p))
            return NULL;
    expr *x = parse_cmp(p);
    if (!x || n == 0)
        return x;
    if (x->type != EMBER_BOOL)
        return type_error(p, x->col, x, NULL, "'not' needs a condition (boolean), not %s%s",
                          ember_type_name(x->type), "");
    if (n % 2 && too_deep(p, (int)first + 1, x, NULL))
        return NULL;
    if (n % 2)
        x = node(p, N_NOT, EMBER_BOOL, first, x, NULL);
    else
        x->col = (int)first + 1;
    return x;
}

/* Frees the operands v[0..n). */
static void free_operands(expr **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        expr_free(v[i]);
    free(v);
}

/* The operands v[lo..hi) joined by k as a balanced tree: evaluation visits
 * them left to right and stops at the first that decides (and/or are
 * associative), and a chain of n conditions recurses only log2(n) deep.
 * On failure every operand is freed. */
static expr *balanced(parser *p, node_kind k, expr **v, size_t lo, size_t hi)
{
    if (hi - lo == 1)
        return v[lo];
    size_t mid = lo + (hi - lo) / 2;
    expr *l = balanced(p, k, v, lo, mid);
    if (!l) {
        for (size_t i = mid; i < hi; i++)
            expr_free(v[i]);
        return NULL;
    }
    expr *r = balanced(p, k, v, mid, hi);
    if (!r) {
        expr_free(l);
        return NULL;
    }
    if (too_deep(p, l->col, l, r))
        return NULL;
    return node(p, k, EMBER_BOOL, (size_t)l->col - 1, l, r);
}

/* sub (word sub)*: every operand must be a condition; a type error points at
 * the first that is not, once the operand after it has been read. */
static expr *parse_logic(parser *p, const char *word, node_kind k, expr *(*sub)(parser *))
{
    expr *first = sub(p);
    if (!first || !tok_is(p, word))
        return first;
    size_t n = 1, cap = 8;
    expr **v = malloc(cap * sizeof(expr *));
    if (!v) {
        ember_err_set(p->err, -ENOMEM, "out of memory compiling an expression");
        return expr_free(first), NULL;
    }
    v[0] = first;
    while (tok_is(p, word)) {
        if (next_token(p))
            return free_operands(v, n), NULL;
        expr *r = sub(p);
        if (!r)
            return free_operands(v, n), NULL;
        if (em_array_reserve(&v, &cap, n + 1, sizeof *v)) {
            ember_err_set(p->err, -ENOMEM, "out of memory compiling an expression");
            expr_free(r);
            return free_operands(v, n), NULL;
        }
        v[n++] = r;
        const expr *bad = n == 2 && v[0]->type != EMBER_BOOL ? v[0]
                          : r->type != EMBER_BOOL            ? r
                                                             : NULL;
        if (bad) {
            ember_err_set_col(p->err, -EMBER_EUSAGE, bad->col,
                              "'%s' needs conditions (booleans) on both sides, not %s", word,
                              ember_type_name(bad->type));
            return free_operands(v, n), NULL;
        }
    }
    expr *e = balanced(p, k, v, 0, n);
    free(v);
    return e;
}

static expr *parse_and(parser *p)
{
    return parse_logic(p, "and", N_AND, parse_not);
}
expr *parse_or(parser *p)
{
    return parse_logic(p, "or", N_OR, parse_and);
}

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

ember_type expr_type(const expr *e)
{
    return e->type;
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

/* The output name of an item: "as NAME", or a bare field's own name. */
static int select_name(parser *p, const expr *e, size_t start, const char **name, size_t *len,
                       size_t *name_col)
{
    *name_col = start;
    if (!tok_is(p, "as")) {
        if (e->kind != N_FIELD)
            return syntax_error(p, start, "a computed column needs a name: add 'as NAME'");
        *name = p->in->f[e->field].name;
        *len = strlen(*name);
        return 0;
    }
    if (next_token(p))
        return p->err->code;
    if (p->tok != T_IDENT || tok_is_keyword(p))
        return syntax_error(p, p->pos, "expected a column name after 'as'");
    *name = p->src + p->pos;
    *len = p->tok_len;
    *name_col = p->pos;
    if (*len >= SCHEMA_NAME_MAX)
        return syntax_error(p, p->pos, "column name too long");
    return next_token(p);
}

static int select_item(parser *p, select_list *s)
{
    size_t start = p->pos, len = 0, name_col = 0;
    const char *name = NULL;
    expr *e = parse_or(p);
    if (!e)
        return p->err->code;
    s->items[s->n++] = e; /* owned by s from here on */
    if (select_name(p, e, start, &name, &len, &name_col))
        return p->err->code;
    if (schema_find(&s->out, name, len) >= 0)
        return ember_err_set_col(p->err, -EMBER_EUSAGE, (int)name_col + 1,
                                 "column '%.*s' selected twice", (int)len, name);
    schema_field *f = &s->out.f[s->out.n++];
    memcpy(f->name, name, len);
    f->name[len] = '\0';
    f->type = e->type;
    return 0;
}

static int select_items(parser *p, select_list *s)
{
    for (;;) {
        if (s->n == SCHEMA_MAX_FIELDS)
            return syntax_error(p, p->pos, "too many columns");
        if (select_item(p, s))
            return p->err->code;
        if (p->tok == T_END)
            return 0;
        if (p->tok != T_COMMA)
            return syntax_error(p, p->pos, "expected ',' or 'as NAME' after a column");
        if (next_token(p))
            return p->err->code;
    }
}

int select_compile(const char *text, const schema *in, select_list **out, ember_err *err)
{
    parser p = {.src = text, .in = in, .err = err};
    int rc = 0;
    select_list *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s || !(s->items = calloc(SCHEMA_MAX_FIELDS, sizeof *s->items))) {
        rc = ember_err_set(err, -ENOMEM, "out of memory compiling a select list");
        goto out_free;
    }
    if ((rc = next_token(&p)) || (rc = select_items(&p, s)))
        goto out_free;
    *out = s;
    return 0;
out_free:
    select_free(s);
    return rc;
}

void select_eval(const select_list *s, const ember_record *in, arena *scratch,
                 ember_record *out)
{
    for (int i = 0; i < s->n; i++)
        expr_eval(s->items[i], in, scratch, &out->values[i]);
    out->n = (uint32_t)s->n;
}
