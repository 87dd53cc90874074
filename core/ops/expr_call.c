/*
 * expr_call: the parser of function calls and of the syntax forms that
 * compile to calls (functions.h): name(args...), cast(x as int|float|string),
 * case when c then v ... [else v] end, and after a comparison's left operand
 * [not] in (a, ...), [not] between a and b, [not] like 'pattern'. Every form
 * ends in make_call, which checks the argument count and runs the
 * function's type rule, so a form is typed like any function.
 */
#include "core/ops/expr_parse.h"
#include "core/ops/functions.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct arg_list {
    expr *v[FN_MAX_ARGS];
    int n;
} arg_list;

static void args_free(arg_list *a)
{
    for (int i = 0; i < a->n; i++)
        expr_free(a->v[i]);
    a->n = 0;
}

/* Appends e (NULL: the parse failed); 0 or the error code, a freed. */
static int args_push(parser *p, arg_list *a, expr *e)
{
    if (!e) {
        args_free(a);
        return p->err->code ? p->err->code : -EMBER_EUSAGE;
    }
    if (a->n == FN_MAX_ARGS) {
        ember_err_set_col(p->err, -EMBER_EUSAGE, e->col, "too many arguments (at most %d)",
                          FN_MAX_ARGS);
        expr_free(e);
        args_free(a);
        return p->err->code;
    }
    a->v[a->n++] = e;
    return 0;
}

static int count_error(parser *p, const fn_def *fn, int col, int n)
{
    const char *name = fn->name[0] == '$' ? fn->name + 1 : fn->name;
    if (fn->min_args == fn->max_args)
        return ember_err_set_col(p->err, -EMBER_EUSAGE, col, "%s takes %d argument%s, not %d", name,
                                 fn->min_args, fn->min_args == 1 ? "" : "s", n);
    if (fn->max_args == FN_MAX_ARGS)
        return ember_err_set_col(p->err, -EMBER_EUSAGE, col, "%s takes at least %d argument%s",
                                 name, fn->min_args, fn->min_args == 1 ? "" : "s");
    return ember_err_set_col(p->err, -EMBER_EUSAGE, col, "%s takes %d to %d arguments, not %d",
                             name, fn->min_args, fn->max_args, n);
}

/* The call node of fn at 0-based column col over a (taken, even on failure). */
static expr *make_call(parser *p, const fn_def *fn, size_t col, arg_list *a)
{
    int depth = 0;
    if (a->n < fn->min_args || a->n > fn->max_args) {
        count_error(p, fn, (int)col + 1, a->n);
        return args_free(a), NULL;
    }
    for (int i = 0; i < a->n; i++)
        depth = a->v[i]->depth > depth ? a->v[i]->depth : depth;
    if (depth + 1 > EXPR_MAX_DEPTH) {
        ember_err_set_col(p->err, -EMBER_EUSAGE, (int)col + 1,
                          "expression nested too deeply (more than %d levels)", EXPR_MAX_DEPTH);
        return args_free(a), NULL;
    }
    expr *e = node(p, N_CALL, EMBER_NULL, col, NULL, NULL);
    if (e)
        e->args = malloc((size_t)(a->n ? a->n : 1) * sizeof *e->args);
    if (!e || !e->args) {
        ember_err_set(p->err, -ENOMEM, "out of memory compiling an expression");
        expr_free(e);
        return args_free(a), NULL;
    }
    memcpy(e->args, a->v, (size_t)a->n * sizeof *e->args);
    e->nargs = a->n, a->n = 0;
    e->fn = fn;
    e->depth = depth + 1;
    if (fn->type(e, p->err))
        return expr_free(e), NULL;
    return e;
}

/* Expects the keyword (or ")") and moves past it; else an error at it. */
static int expect(parser *p, const char *word, const char *after)
{
    int ok = !strcmp(word, ")") ? p->tok == T_RPAREN : tok_is(p, word);
    if (ok)
        return next_token(p);
    return ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1, "expected '%s' %s", word,
                             after);
}

/* "(" [expr ("," expr)*] ")" appended to a; counts as a parenthesis level. */
static int parse_args(parser *p, arg_list *a)
{
    size_t open = p->pos;
    if (++p->depth > EXPR_MAX_PARENS)
        return args_free(a), syntax_error(p, open, "parentheses nested too deeply");
    int rc = next_token(p);
    while (!rc && p->tok != T_RPAREN) {
        if ((rc = args_push(p, a, parse_or(p))))
            break;
        if (p->tok == T_COMMA)
            rc = next_token(p);
        else if (p->tok != T_RPAREN)
            rc = ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1,
                                   "expected ',' or ')' to close the '(' at column %zu", open + 1);
    }
    p->depth--;
    if (!rc)
        rc = next_token(p);
    if (rc)
        args_free(a);
    return rc;
}

/* cast "(" expr "as" (int|float|string) ")" */
static expr *parse_cast(parser *p, size_t col)
{
    static const char *const types[] = {"int", "float", "string"};
    static const char *const forms[] = {"$cast_int", "$cast_float", "$cast_string"};
    arg_list a = {.n = 0};
    size_t open = p->pos;
    if (++p->depth > EXPR_MAX_PARENS)
        return syntax_error(p, open, "parentheses nested too deeply"), NULL;
    if (next_token(p) || args_push(p, &a, parse_or(p)) ||
        expect(p, "as", "in cast(x as int|float|string)"))
        return p->depth--, args_free(&a), NULL;
    for (size_t i = 0; i < 3; i++) {
        if (!tok_is(p, types[i]))
            continue;
        p->depth--;
        if (next_token(p) || expect(p, ")", "to close the cast"))
            return args_free(&a), NULL;
        return make_call(p, fn_form(forms[i]), col, &a);
    }
    p->depth--;
    args_free(&a);
    ember_err_set_col(p->err, -EMBER_EUSAGE, (int)p->pos + 1,
                      "cast needs a type: int, float or string, not '%.*s'", (int)p->tok_len,
                      p->src + p->pos);
    return NULL;
}

expr *parse_call(parser *p)
{
    const char *name = p->src + p->pos;
    size_t len = p->tok_len, col = p->pos;
    arg_list a = {.n = 0};
    if (next_token(p))
        return NULL;
    if (len == 4 && !strncasecmp(name, "cast", 4))
        return parse_cast(p, col);
    const fn_def *fn = fn_find(name, len);
    if (!fn) {
        fn_unknown(name, len, (int)col + 1, p->err);
        return NULL;
    }
    if (parse_args(p, &a))
        return NULL;
    return make_call(p, fn, col, &a);
}

/* case (when c then v)+ [else v] end; nests like a parenthesis. */
expr *parse_case(parser *p)
{
    size_t col = p->pos;
    arg_list a = {.n = 0};
    if (++p->depth > EXPR_MAX_PARENS)
        return syntax_error(p, col, "case expressions nested too deeply"), NULL;
    int rc = next_token(p);
    while (!rc && tok_is(p, "when")) {
        if ((rc = next_token(p)) || (rc = args_push(p, &a, parse_or(p))) ||
            (rc = expect(p, "then", "after the condition of 'when'")) ||
            (rc = args_push(p, &a, parse_or(p))))
            break;
    }
    if (!rc && tok_is(p, "else"))
        rc = next_token(p) ? p->err->code : args_push(p, &a, parse_or(p));
    if (!rc)
        rc = expect(p, "end", "to close the 'case'");
    p->depth--;
    if (rc)
        return args_free(&a), NULL;
    return make_call(p, fn_form("$case"), col, &a);
}

int at_postfix_form(parser *p)
{
    if (tok_is(p, "in") || tok_is(p, "between") || tok_is(p, "like") || tok_is(p, "is"))
        return 1;
    return tok_is(p, "not") && (peek_is(p, "in") || peek_is(p, "between") || peek_is(p, "like"));
}

/* The call of a postfix form over a (taken), under a not when negate; it
 * starts where its left operand does. */
static expr *postfix_call(parser *p, const char *form, size_t op_col, arg_list *a, int negate,
                          size_t not_col)
{
    int col = a->v[0]->col;
    expr *e = make_call(p, fn_form(form), op_col, a);
    if (e)
        e->col = col;
    if (e && negate && !too_deep(p, (int)not_col + 1, e, NULL))
        e = node(p, N_NOT, EMBER_BOOL, not_col, e, NULL);
    else if (negate)
        e = NULL; /* too_deep freed it */
    return e;
}

/* l is [not] null: after "is"; the not is reported through negate. */
static int parse_is_null(parser *p, int *negate, size_t *not_col)
{
    int rc = next_token(p);
    if (!rc && tok_is(p, "not")) {
        *negate = 1;
        *not_col = p->pos;
        rc = next_token(p);
    }
    if (!rc)
        rc = expect(p, "null", "after 'is' (x is null, x is not null)");
    return rc;
}

/* l [not] (in (...) | between a and b | like p), or l is [not] null; l is
 * taken. */
expr *parse_postfix_form(parser *p, expr *l)
{
    size_t not_col = p->pos;
    int negate = tok_is(p, "not");
    arg_list a = {.v = {l}, .n = 1};
    if (negate && next_token(p))
        return args_free(&a), NULL;
    if (!negate && tok_is(p, "is")) {
        size_t op_col = p->pos;
        if (parse_is_null(p, &negate, &not_col))
            return args_free(&a), NULL;
        return postfix_call(p, "$is_null", op_col, &a, negate, not_col);
    }
    size_t op_col = p->pos;
    const char *form = tok_is(p, "in") ? "$in" : tok_is(p, "between") ? "$between" : "$like";
    int rc = 0;
    if (form[1] == 'i') {
        if ((rc = next_token(p)) == 0 && p->tok != T_LPAREN)
            rc = syntax_error(p, p->pos, "expected '(' after 'in'");
        if (rc || parse_args(p, &a))
            return args_free(&a), NULL;
    } else if ((rc = next_token(p)) || (rc = args_push(p, &a, parse_arith(p, 0))) ||
               (form[1] == 'b' && ((rc = expect(p, "and", "in 'between a and b'")) ||
                                   (rc = args_push(p, &a, parse_arith(p, 0)))))) {
        return args_free(&a), NULL;
    }
    return postfix_call(p, form, op_col, &a, negate, not_col);
}
