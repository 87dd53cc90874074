/*
 * functions_eval: the per-record evaluations of the built-in functions, one
 * per entry of the table in functions.c (which is their only user). Each
 * gets the evaluated arguments (NULL already handled unless the entry keeps
 * NULLs), writes the result to out and allocates only from scratch.
 * Called from worker threads; reads the call node and nothing else shared.
 */
#ifndef EMBER_OPS_FUNCTIONS_EVAL_H
#define EMBER_OPS_FUNCTIONS_EVAL_H

#include "core/ops/functions.h"

#define FN_EVAL(name)                                                                              \
    void name(const expr *call, const ember_value *args, arena *scratch, ember_value *out)

FN_EVAL(fn_lower);
FN_EVAL(fn_upper);
FN_EVAL(fn_length);
FN_EVAL(fn_substr);
FN_EVAL(fn_concat);
FN_EVAL(fn_trim);
FN_EVAL(fn_starts_with);
FN_EVAL(fn_contains);
FN_EVAL(fn_replace);
FN_EVAL(fn_like);
FN_EVAL(fn_regexp_extract);
FN_EVAL(fn_split_part);
FN_EVAL(fn_abs);
FN_EVAL(fn_round);
FN_EVAL(fn_floor);
FN_EVAL(fn_ceil);
FN_EVAL(fn_sqrt);
FN_EVAL(fn_ln);
FN_EVAL(fn_exp);
FN_EVAL(fn_pow);
FN_EVAL(fn_least);
FN_EVAL(fn_greatest);
FN_EVAL(fn_coalesce);
FN_EVAL(fn_nullif);
FN_EVAL(fn_if);
FN_EVAL(fn_case);
FN_EVAL(fn_in);
FN_EVAL(fn_between);
FN_EVAL(fn_is_null);
FN_EVAL(fn_date_trunc);
FN_EVAL(fn_hour);
FN_EVAL(fn_day_of_week);
FN_EVAL(fn_to_iso);
FN_EVAL(fn_cast_int);
FN_EVAL(fn_cast_float);
FN_EVAL(fn_cast_string);

#endif
