/*
 * expr_eval: evaluation of a compiled expression against one record (the
 * transform step, on worker threads). Types were settled when the tree was
 * compiled, so only NULL is checked here; the tree is never written, so one
 * tree serves every thread.
 */
#include "core/ops/expr_node.h"
#include "core/ops/functions.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>


static double as_double(const ember_value *v)
{
    return v->type == EMBER_FLOAT ? v->u.f : (double)v->u.i;
}

static void eval_int_arith(node_kind k, int64_t a, int64_t b, ember_value *out)
{
    uint64_t x = (uint64_t)a, y = (uint64_t)b; /* + - * wrap, never UB */
    out->type = EMBER_INT;
    if (k == N_MOD && b == 0)
        out->type = EMBER_NULL;
    else if (k == N_MOD)
        out->u.i = b == -1 ? 0 : a % b; /* INT64_MIN % -1 traps on x86 */
    else
        out->u.i = (int64_t)(k == N_ADD ? x + y : k == N_SUB ? x - y : x * y);
}

static void eval_arith(const expr *e, const ember_value *a, const ember_value *b, ember_value *out)
{
    if (e->otype == EMBER_INT && e->kind != N_DIV) {
        eval_int_arith(e->kind, a->u.i, b->u.i, out);
        return;
    }
    double x = as_double(a), y = as_double(b);
    if ((e->kind == N_DIV || e->kind == N_MOD) && y == 0) {
        out->type = EMBER_NULL;
        return;
    }
    out->type = EMBER_FLOAT;
    switch (e->kind) {
    case N_ADD:
        out->u.f = x + y;
        break;
    case N_SUB:
        out->u.f = x - y;
        break;
    case N_MUL:
        out->u.f = x * y;
        break;
    case N_DIV:
        out->u.f = x / y;
        break;
    default:
        out->u.f = fmod(x, y);
        break;
    }
}

int expr_value_cmp(ember_type otype, const ember_value *a, const ember_value *b)
{
    if (otype == EMBER_STRING) {
        uint32_t n = a->u.s.len < b->u.s.len ? a->u.s.len : b->u.s.len;
        int c = n ? memcmp(a->u.s.ptr, b->u.s.ptr, n) : 0;
        return c ? c : (a->u.s.len > b->u.s.len) - (a->u.s.len < b->u.s.len);
    }
    if (otype == EMBER_FLOAT) {
        double x = as_double(a), y = as_double(b);
        return (x > y) - (x < y);
    }
    return (a->u.i > b->u.i) - (a->u.i < b->u.i);
}

static int cmp_holds(node_kind k, int c)
{
    switch (k) {
    case N_EQ:
        return c == 0;
    case N_NE:
        return c != 0;
    case N_LT:
        return c < 0;
    case N_LE:
        return c <= 0;
    case N_GT:
        return c > 0;
    default:
        return c >= 0;
    }
}

static void set_bool(ember_value *out, int v)
{
    out->type = EMBER_BOOL;
    out->u.i = v;
}

/* Binary arithmetic and comparisons: NULL in, NULL out. */
static void eval_binary(const expr *e, const ember_record *rec, arena *scratch,
                        ember_value *out)
{
    ember_value a, b;
    expr_eval(e->l, rec, scratch, &a);
    expr_eval(e->r, rec, scratch, &b);
    if (a.type == EMBER_NULL || b.type == EMBER_NULL) {
        out->type = EMBER_NULL; /* arithmetic and comparisons alike (SQL) */
    } else if (e->type == EMBER_BOOL) {
        /* NaN compares as unordered: every comparison with it is false */
        int nan =
            (a.type == EMBER_FLOAT && isnan(a.u.f)) || (b.type == EMBER_FLOAT && isnan(b.u.f));
        set_bool(out, !nan && cmp_holds(e->kind, expr_value_cmp(e->otype, &a, &b)));
    } else {
        eval_arith(e, &a, &b, out);
    }
}

/* Three-valued and/or (SQL): the side that decides (false for and, true
 * for or) wins even over NULL; else NULL if either side is NULL. The right
 * side is skipped when the left decides. */
static void eval_logic(const expr *e, const ember_record *rec, arena *scratch, ember_value *out)
{
    int decides = e->kind == N_OR; /* the value that settles it */
    ember_value b;
    expr_eval(e->l, rec, scratch, out);
    if (out->type == EMBER_BOOL && out->u.i == decides)
        return;
    expr_eval(e->r, rec, scratch, &b);
    if (b.type == EMBER_BOOL && b.u.i == decides)
        *out = b;
    else if (b.type == EMBER_NULL)
        out->type = EMBER_NULL;
}

/* Arguments first (every one: they have no side effects), then the
 * function; NULL in gives NULL out unless the function handles NULLs. */
static void eval_call(const expr *e, const ember_record *rec, arena *scratch, ember_value *out)
{
    ember_value args[FN_MAX_ARGS];
    for (int i = 0; i < e->nargs; i++) {
        expr_eval(e->args[i], rec, scratch, &args[i]);
        if (args[i].type == EMBER_NULL && !e->fn->keeps_null) {
            out->type = EMBER_NULL;
            return;
        }
    }
    e->fn->eval(e, args, scratch, out);
}

void expr_eval(const expr *e, const ember_record *rec, arena *scratch, ember_value *out)
{
    switch (e->kind) {
    case N_CONST:
        *out = e->value;
        return;
    case N_FIELD:
        *out = rec->values[e->field];
        return;
    case N_AND:
    case N_OR:
        eval_logic(e, rec, scratch, out);
        return;
    case N_NOT:
        expr_eval(e->l, rec, scratch, out);
        if (out->type == EMBER_BOOL)
            out->u.i = !out->u.i; /* not NULL is NULL */
        return;
    case N_NEG:
        expr_eval(e->l, rec, scratch, out);
        if (out->type == EMBER_INT)
            out->u.i = (int64_t)(0 - (uint64_t)out->u.i);
        else if (out->type == EMBER_FLOAT)
            out->u.f = -out->u.f;
        return;
    case N_CALL:
        eval_call(e, rec, scratch, out);
        return;
    default:
        eval_binary(e, rec, scratch, out);
        return;
    }
}

int expr_is_true(const expr *e, const ember_record *rec, arena *scratch)
{
    ember_value v;
    expr_eval(e, rec, scratch, &v);
    return v.type == EMBER_BOOL && v.u.i != 0;
}
