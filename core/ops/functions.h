/*
 * functions: the built-in functions of the expression language (lower,
 * substr, round, coalesce, date_trunc, ...) as one table of {name, argument
 * counts, type rule, eval}. The parser (expr.c) looks a name up here, builds
 * a call node over the parsed arguments and runs the entry's type rule at
 * load time: the rule checks the argument types (an error names the
 * argument's column), sets the call's result type and compiles what can be
 * compiled once (regular expressions, date_trunc units). The
 * evaluator (expr_eval.c) evaluates the arguments and calls the entry's eval.
 *
 * The syntax forms `case when`, `x in (...)`, `x between a and b`, `x like p`,
 * `x is [not] null` and `cast(x as T)` are parsed by expr.c into calls of hidden entries of the
 * same table (names starting with '$', never matched by a user's name).
 *
 * Memory: a string result that is not a slice of an argument (upper, concat,
 * cast to string, to_iso) is written into the caller's scratch arena, so it
 * lives as long as the arena (the transform worker's per-batch arena).
 * Evaluation only reads the tree and the compiled patterns (regexec on a
 * shared regex_t is thread-safe; glibc serializes it per pattern, so like,
 * the common case, has its own matcher), so worker threads share one tree. When the
 * arena is out of memory the result is NULL.
 */
#ifndef EMBER_OPS_FUNCTIONS_H
#define EMBER_OPS_FUNCTIONS_H

#include "core/base/arena.h"
#include "core/ops/expr_node.h"

/* A call has at most this many arguments (case arms and in lists count). */
#define FN_MAX_ARGS 64
/* regexp_extract reads groups 0..FN_MAX_GROUPS-1. */
#define FN_MAX_GROUPS 10

typedef struct fn_def {
    const char *name;
    int min_args, max_args;
    /* Checks call->args' types, sets call->type (and call->aux); 0 or a
     * negative code with err naming the column. */
    int (*type)(expr *call, ember_err *err);
    void (*eval)(const expr *call, const ember_value *args, arena *scratch, ember_value *out);
    int keeps_null; /* the eval sees NULL arguments; otherwise any NULL gives NULL */
} fn_def;

/* The entry named name[0..len) (case-insensitive), NULL when none. */
const fn_def *fn_find(const char *name, size_t len);
/* The hidden entry of a syntax form ("$case", "$in", "$between", "$like", "$is_null",
 * "$cast_int", "$cast_float", "$cast_string"). */
const fn_def *fn_form(const char *name);
/* "unknown function 'x'; did you mean 'y'? (known: lower, upper, ...)" */
int fn_unknown(const char *name, size_t len, int col, ember_err *err);
/* Frees what the type rule compiled into call->aux. */
void fn_free_aux(expr *call);

#endif
