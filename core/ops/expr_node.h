/*
 * expr_node: the compiled expression tree, shared by the parser (expr.c)
 * and the evaluator (expr_eval.c); not for use outside core/ops/expr*.c.
 */
#ifndef EMBER_OPS_EXPR_NODE_H
#define EMBER_OPS_EXPR_NODE_H

#include "core/ops/expr.h"

typedef enum node_kind {
    N_CONST,
    N_FIELD,
    N_NEG,
    N_ADD,
    N_SUB,
    N_MUL,
    N_DIV,
    N_MOD,
    N_EQ,
    N_NE,
    N_LT,
    N_LE,
    N_GT,
    N_GE,
    N_AND,
    N_OR,
    N_NOT,
    N_CALL /* a built-in function or syntax form (functions.h) */
} node_kind;

struct fn_def;

struct expr {
    node_kind kind;
    ember_type type;   /* result type */
    ember_type otype;  /* operand type for comparisons and arithmetic */
    int field;         /* N_FIELD: index in the input schema */
    int col;           /* 1-based column where this subexpression starts */
    ember_value value; /* N_CONST */
    char *text;        /* owned copy of a string constant */
    int depth;         /* nodes on the longest path down: expr_eval's recursion */
    expr *l, *r;
    /* N_CALL: the function, its arguments (owned), what its type rule
     * compiled (a regex_t, owned) and a settled integer (date_trunc's unit
     * in ms, regexp_extract's group). */
    const struct fn_def *fn;
    expr **args;
    int nargs;
    void *aux;
    int64_t iarg;
};

/* -1, 0 or 1: a against b, both of (or converted to) type otype (strings
 * by bytes, numbers as doubles when otype is float). */
int expr_value_cmp(ember_type otype, const ember_value *a, const ember_value *b);

#endif
