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
    N_NOT
} node_kind;

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
};

#endif
