/*
 * expr: expressions of filter and select, compiled and type-checked against
 * the schema when the job is loaded, evaluated per record by workers.
 *
 * Grammar (lowest precedence first):
 *   or_expr  := and_expr ("or" and_expr)*
 *   and_expr := not_expr ("and" not_expr)*
 *   not_expr := "not" not_expr | cmp
 *   cmp      := sum (("=="|"="|"!="|"<"|"<="|">"|">=") sum)?
 *             | sum ["not"] "in" "(" or_expr ("," or_expr)* ")"
 *             | sum ["not"] "between" sum "and" sum
 *             | sum ["not"] "like" sum
 *             | sum "is" ["not"] "null"
 *   sum      := prod (("+"|"-") prod)*
 *   prod     := unary (("*"|"/"|"%") unary)*
 *   unary    := "-" unary | atom
 *   atom     := INT | FLOAT | "string" | 'string' | true | false | FIELD | "(" or_expr ")"
 *             | NAME "(" [or_expr ("," or_expr)*] ")"          (functions.h)
 *             | "cast" "(" or_expr "as" ("int"|"float"|"string") ")"
 *             | "case" ("when" or_expr "then" or_expr)+ ["else" or_expr] "end"
 * Types: int op int -> int (except "/" which gives float, as in Spark SQL);
 * any float -> float; strings compare only with strings (= != < > by bytes);
 * and/or/not take booleans; a filter must be boolean. Any error (unknown
 * field, string vs number, bad token) is reported at compile time with
 * err->col = 1-based column in the expression text.
 * Runtime (SQL's NULL): division or modulo by zero gives NULL; arithmetic
 * on NULL and a comparison with NULL give NULL; not NULL is NULL; and/or are
 * three-valued (false and NULL = false, true or NULL = true, else NULL); a
 * filter keeps only true, so it drops NULL. A NaN compares false.
 *
 * Depth: evaluation recurses once per level of the tree, so compiling refuses
 * a tree deeper than EXPR_MAX_DEPTH levels (a sum of more terms, say) with the
 * column of the operator that crosses it; parentheses nest at most 200 deep.
 * and/or chains are built balanced (any number of conditions: log2(n)
 * levels), two minus signs cancel and "not not x" is x, so neither counts.
 * Freeing never recurses.
 */
#ifndef EMBER_EXPR_H
#define EMBER_EXPR_H

#include "core/base/arena.h"
#include "core/ops/schema.h"

typedef struct expr expr;

#define EXPR_MAX_DEPTH 1000

EMBER_MUST_CHECK int expr_compile(const char *text, const schema *in, expr **out,
                                  ember_err *err);
ember_type expr_type(const expr *e);
/* Evaluates; a string result borrows from the record or the expression, or
 * was written into scratch by a function (upper, concat, ...): it lives
 * until the caller resets the arena. Each thread passes its own arena (the
 * transform worker's per-batch scratch), so evaluation stays reentrant.
 * @locality any thread; the tree is only read. */
void expr_eval(const expr *e, const ember_record *rec, arena *scratch, ember_value *out);
/* Filter helper: 1 when the value is a true boolean (false and NULL drop). */
int expr_is_true(const expr *e, const ember_record *rec, arena *scratch);
void expr_free(expr *e);

/* select list: "a, temp * 1.8 + 32 as temp_f, b as c". Each item needs a name:
 * a bare field keeps its name, anything else needs "as NAME". */
typedef struct select_list {
    int n;
    expr **items;
    schema out; /* the schema after select */
} select_list;

EMBER_MUST_CHECK int select_compile(const char *text, const schema *in, select_list **out,
                                    ember_err *err);
/* Evaluates every item of in into out (out->values has room for out schema);
 * strings computed by functions go into scratch, as in expr_eval. */
void select_eval(const select_list *s, const ember_record *in, arena *scratch,
                 ember_record *out);
void select_free(select_list *s);

#endif
