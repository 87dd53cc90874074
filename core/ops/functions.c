/*
 * functions: the function table of the expression language and its type
 * rules (see functions.h); the evaluations live in functions_eval.c. Type
 * rules run once when the job loads, so everything they can settle (result
 * type, the common type of mixed arguments, compiled patterns, the unit of
 * date_trunc) is settled here and never looked at per record.
 */
#include "core/ops/functions.h"
#include "core/base/suggest.h"
#include "core/ops/functions_eval.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define M(t)  (1u << (t))
#define M_NUM (M(EMBER_INT) | M(EMBER_FLOAT))
#define M_STR M(EMBER_STRING)
#define M_ANY (M_NUM | M_STR | M(EMBER_BOOL))

static const char *type_words(unsigned mask)
{
    if (mask == M_STR)
        return "a string";
    if (mask == M_NUM)
        return "a number";
    if (mask == M(EMBER_INT))
        return "an int";
    if (mask == M(EMBER_BOOL))
        return "a condition (boolean)";
    return "a value";
}

static const char *shown_name(const expr *call)
{
    return call->fn->name[0] == '$' ? call->fn->name + 1 : call->fn->name;
}

/* Argument i must have a type in mask; the error points at the argument. */
static int want(const expr *call, int i, unsigned mask, ember_err *err)
{
    const expr *a = call->args[i];
    if (M(a->type) & mask)
        return 0;
    return ember_err_set_col(err, -EMBER_EUSAGE, a->col, "argument %d of %s must be %s, not %s",
                             i + 1, shown_name(call), type_words(mask), ember_type_name(a->type));
}

/* Arguments from..n (every step-th) must all have mask's types. */
static int want_all(const expr *call, int from, int step, unsigned mask, ember_err *err)
{
    for (int i = from; i < call->nargs; i += step)
        if (want(call, i, mask, err))
            return err->code;
    return 0;
}

static int want_const(const expr *call, int i, ember_err *err)
{
    if (call->args[i]->kind == N_CONST)
        return 0;
    return ember_err_set_col(err, -EMBER_EUSAGE, call->args[i]->col,
                             "argument %d of %s must be a constant", i + 1, shown_name(call));
}

/* The type the arguments from..n (every step-th, and the last: the else of
 * a case) share: numbers mix (any
 * float makes float), other types must be equal. Stored in call->otype. */
static int common_type(expr *call, int from, int step, ember_err *err)
{
    const expr *first = call->args[from];
    ember_type t = first->type;
    for (int i = from + 1; i < call->nargs; i++) {
        if (step == 2 && i % 2 == 0 && i < call->nargs - 1)
            continue; /* case: a condition, not a value */
        const expr *a = call->args[i];
        int nums = (M(t) & M_NUM) && (M(a->type) & M_NUM);
        if (!nums && a->type != t)
            return ember_err_set_col(
                err, -EMBER_EUSAGE, a->col, "argument %d of %s is %s, but argument %d is %s", i + 1,
                shown_name(call), ember_type_name(a->type), from + 1, ember_type_name(first->type));
        if (nums && a->type == EMBER_FLOAT)
            t = EMBER_FLOAT;
    }
    call->otype = t;
    return 0;
}

/* ------------------------------------------------------------ type rules */

static int set_type(expr *call, ember_type t)
{
    call->type = t;
    return 0;
}

static int t_str_str(expr *c, ember_err *err)
{
    return want_all(c, 0, 1, M_STR, err) ? err->code : set_type(c, EMBER_STRING);
}
static int t_str_int(expr *c, ember_err *err)
{
    return want(c, 0, M_STR, err) ? err->code : set_type(c, EMBER_INT);
}
static int t_str_bool(expr *c, ember_err *err)
{
    return want_all(c, 0, 1, M_STR, err) ? err->code : set_type(c, EMBER_BOOL);
}
static int t_substr(expr *c, ember_err *err)
{
    if (want(c, 0, M_STR, err) || want_all(c, 1, 1, M(EMBER_INT), err))
        return err->code;
    return set_type(c, EMBER_STRING);
}
static int t_split_part(expr *c, ember_err *err)
{
    if (want(c, 0, M_STR, err) || want(c, 1, M_STR, err) || want(c, 2, M(EMBER_INT), err))
        return err->code;
    return set_type(c, EMBER_STRING);
}
static int t_concat(expr *c, ember_err *err)
{
    return want_all(c, 0, 1, M_ANY, err) ? err->code : set_type(c, EMBER_STRING);
}
static int t_num_same(expr *c, ember_err *err)
{
    if (want(c, 0, M_NUM, err) || want_all(c, 1, 1, M(EMBER_INT), err))
        return err->code;
    return set_type(c, c->args[0]->type);
}
static int t_num_int(expr *c, ember_err *err)
{
    return want(c, 0, M_NUM, err) ? err->code : set_type(c, EMBER_INT);
}
static int t_num_float(expr *c, ember_err *err)
{
    return want_all(c, 0, 1, M_NUM, err) ? err->code : set_type(c, EMBER_FLOAT);
}
static int t_ts_int(expr *c, ember_err *err)
{
    return want(c, 0, M(EMBER_INT), err) ? err->code : set_type(c, EMBER_INT);
}
static int t_ts_str(expr *c, ember_err *err)
{
    return want(c, 0, M(EMBER_INT), err) ? err->code : set_type(c, EMBER_STRING);
}
static int t_common(expr *c, ember_err *err)
{
    return common_type(c, 0, 1, err) ? err->code : set_type(c, c->otype);
}
static int t_ordered(expr *c, ember_err *err)
{
    if (want(c, 0, M_NUM | M_STR, err) || common_type(c, 0, 1, err))
        return err->code;
    return set_type(c, c->otype);
}
static int t_nullif(expr *c, ember_err *err)
{
    return common_type(c, 0, 1, err) ? err->code : set_type(c, c->args[0]->type);
}
static int t_if(expr *c, ember_err *err)
{
    if (want(c, 0, M(EMBER_BOOL), err) || common_type(c, 1, 1, err))
        return err->code;
    return set_type(c, c->otype);
}
/* args: cond, value, cond, value, ... [, else] */
static int t_case(expr *c, ember_err *err)
{
    for (int i = 0; i + 1 < c->nargs; i += 2)
        if (want(c, i, M(EMBER_BOOL), err))
            return err->code;
    return common_type(c, 1, 2, err) ? err->code : set_type(c, c->otype);
}
static int t_compare(expr *c, ember_err *err)
{
    if (want(c, 0, M_ANY, err) || common_type(c, 0, 1, err))
        return err->code;
    return set_type(c, EMBER_BOOL);
}
static int t_is_null(expr *c, ember_err *err)
{
    return set_type(c, EMBER_BOOL);
}
static int t_cast_int(expr *c, ember_err *err)
{
    return set_type(c, EMBER_INT);
}
static int t_cast_float(expr *c, ember_err *err)
{
    return set_type(c, EMBER_FLOAT);
}
static int t_cast_string(expr *c, ember_err *err)
{
    return set_type(c, EMBER_STRING);
}

static int t_date_trunc(expr *c, ember_err *err)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {{"minute", 60000}, {"hour", 3600000}, {"day", 86400000}};
    if (want(c, 0, M_STR, err) || want_const(c, 0, err) || want(c, 1, M(EMBER_INT), err))
        return err->code;
    const ember_str *u = &c->args[0]->value.u.s;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (u->len == strlen(units[i].unit) && !strncasecmp(u->ptr, units[i].unit, u->len))
            return (c->iarg = units[i].ms), set_type(c, EMBER_INT);
    return ember_err_set_col(err, -EMBER_EUSAGE, c->args[0]->col,
                             "date_trunc unit must be 'minute', 'hour' or 'day', not '%.*s'",
                             (int)u->len, u->ptr);
}

/* ------------------------------------------------------------- patterns */

static int compile_regex(expr *c, int at, const char *pattern, int flags, ember_err *err)
{
    regex_t *re = malloc(sizeof *re);
    if (!re)
        return ember_err_set(err, -ENOMEM, "out of memory compiling a pattern");
    int rc = regcomp(re, pattern, REG_EXTENDED | flags);
    if (rc) {
        char msg[128];
        regerror(rc, re, msg, sizeof msg);
        free(re);
        return ember_err_set_col(err, -EMBER_EUSAGE, c->args[at]->col, "bad pattern in %s: %s",
                                 shown_name(c), msg);
    }
    c->aux = re;
    return 0;
}

/* like: the constant pattern is the matcher (functions_eval.c's
 * like_match), not a regex_t: glibc's regexec takes a lock per compiled
 * pattern, which would make the workers of a `filter ... like` take turns. */
static int t_like(expr *c, ember_err *err)
{
    if (want_all(c, 0, 1, M_STR, err) || want_const(c, 1, err))
        return err->code;
    return set_type(c, EMBER_BOOL);
}

static int t_regexp_extract(expr *c, ember_err *err)
{
    if (want(c, 0, M_STR, err) || want(c, 1, M_STR, err) || want_const(c, 1, err))
        return err->code;
    if (c->nargs == 3 && (want(c, 2, M(EMBER_INT), err) || want_const(c, 2, err)))
        return err->code;
    char *pattern = strndup(c->args[1]->value.u.s.ptr, c->args[1]->value.u.s.len);
    if (!pattern)
        return ember_err_set(err, -ENOMEM, "out of memory compiling a pattern");
    int rc = compile_regex(c, 1, pattern, 0, err);
    free(pattern);
    if (rc)
        return rc;
    size_t groups = ((regex_t *)c->aux)->re_nsub;
    c->iarg = c->nargs == 3 ? c->args[2]->value.u.i : groups > 0; /* group 1, else the match */
    if (c->iarg < 0 || (size_t)c->iarg > groups || c->iarg >= FN_MAX_GROUPS)
        return ember_err_set_col(err, -EMBER_EUSAGE, c->args[c->nargs == 3 ? 2 : 1]->col,
                                 "regexp_extract group %lld does not exist (the pattern has %zu)",
                                 (long long)c->iarg, groups);
    return set_type(c, EMBER_STRING);
}

void fn_free_aux(expr *call)
{
    if (call->aux)
        regfree(call->aux);
    free(call->aux);
    call->aux = NULL;
}

/* ------------------------------------------------------------------ table */

#define ANY FN_MAX_ARGS
static const fn_def table[] = {
    {"lower", 1, 1, t_str_str, fn_lower, 0},
    {"upper", 1, 1, t_str_str, fn_upper, 0},
    {"length", 1, 1, t_str_int, fn_length, 0},
    {"substr", 2, 3, t_substr, fn_substr, 0},
    {"concat", 1, ANY, t_concat, fn_concat, 0},
    {"trim", 1, 1, t_str_str, fn_trim, 0},
    {"replace", 3, 3, t_str_str, fn_replace, 0},
    {"starts_with", 2, 2, t_str_bool, fn_starts_with, 0},
    {"contains", 2, 2, t_str_bool, fn_contains, 0},
    {"like", 2, 2, t_like, fn_like, 0},
    {"regexp_extract", 2, 3, t_regexp_extract, fn_regexp_extract, 0},
    {"split_part", 3, 3, t_split_part, fn_split_part, 0},
    {"abs", 1, 1, t_num_same, fn_abs, 0},
    {"round", 1, 2, t_num_same, fn_round, 0},
    {"floor", 1, 1, t_num_int, fn_floor, 0},
    {"ceil", 1, 1, t_num_int, fn_ceil, 0},
    {"sqrt", 1, 1, t_num_float, fn_sqrt, 0},
    {"ln", 1, 1, t_num_float, fn_ln, 0},
    {"exp", 1, 1, t_num_float, fn_exp, 0},
    {"pow", 2, 2, t_num_float, fn_pow, 0},
    {"least", 1, ANY, t_ordered, fn_least, 1},
    {"greatest", 1, ANY, t_ordered, fn_greatest, 1},
    {"coalesce", 1, ANY, t_common, fn_coalesce, 1},
    {"nullif", 2, 2, t_nullif, fn_nullif, 1},
    {"if", 3, 3, t_if, fn_if, 1},
    {"date_trunc", 2, 2, t_date_trunc, fn_date_trunc, 0},
    {"hour", 1, 1, t_ts_int, fn_hour, 0},
    {"day_of_week", 1, 1, t_ts_int, fn_day_of_week, 0},
    {"to_iso", 1, 1, t_ts_str, fn_to_iso, 0},
    {"$case", 2, ANY, t_case, fn_case, 1},
    {"$in", 2, ANY, t_compare, fn_in, 1},
    {"$between", 3, 3, t_compare, fn_between, 1},
    {"$like", 2, 2, t_like, fn_like, 0},
    {"$is_null", 1, 1, t_is_null, fn_is_null, 1},
    {"$cast_int", 1, 1, t_cast_int, fn_cast_int, 0},
    {"$cast_float", 1, 1, t_cast_float, fn_cast_float, 0},
    {"$cast_string", 1, 1, t_cast_string, fn_cast_string, 0},
};
#define N_FUNCS (sizeof table / sizeof table[0])

const fn_def *fn_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_FUNCS; i++)
        if (table[i].name[0] != '$' && strlen(table[i].name) == len &&
            !strncasecmp(table[i].name, name, len))
            return &table[i];
    return NULL;
}

const fn_def *fn_form(const char *name)
{
    for (size_t i = 0; i < N_FUNCS; i++)
        if (!strcmp(table[i].name, name))
            return &table[i];
    return NULL;
}

int fn_unknown(const char *name, size_t len, int col, ember_err *err)
{
    const char *names[N_FUNCS + 1];
    char known[512] = "", note[96];
    size_t n = 0, used = 0;
    for (size_t i = 0; i < N_FUNCS; i++) {
        if (table[i].name[0] == '$')
            continue;
        names[n++] = table[i].name;
        used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "",
                                 table[i].name);
    }
    names[n++] = "cast";
    return ember_err_set_col(
        err, -EMBER_EUSAGE, col, "unknown function '%.*s'%s (known: %s, cast)", (int)len, name,
        em_suggest_note(em_suggest(name, len, names, n), note, sizeof note), known);
}
