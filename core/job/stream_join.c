/*
 * stream_join: the parser of a stream-stream join's condition (see
 * stream_join.h). A small lexer (words, '=', '+', '-') feeds one function
 * per clause; every message names the column of the word at fault.
 */
#include "core/job/stream_join.h"
#include "core/base/options.h"
#include "core/base/suggest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef struct tok {
    const char *p;
    size_t len; /* 0 at the end of the text */
    int col;    /* 1-based */
} tok;

typedef struct parser {
    const char *text;
    size_t pos;
    const sj_input *side[2];
    stream_join_spec *s;
    int cond_col; /* column of the time condition, 0 while none */
    const char *cond_what;
} parser;

static int is_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.';
}

/* A word ([A-Za-z0-9_.]+) or one other character. */
static tok lex_peek(const parser *p)
{
    size_t i = p->pos;
    while (p->text[i] && isspace((unsigned char)p->text[i]))
        i++;
    tok t = {p->text + i, 0, (int)i + 1};
    if (!p->text[i])
        return t;
    size_t j = i + 1;
    if (is_word_char(p->text[i]))
        while (is_word_char(p->text[j]))
            j++;
    t.len = j - i;
    return t;
}

static tok lex_next(parser *p)
{
    tok t = lex_peek(p);
    p->pos = (size_t)(t.p - p->text) + t.len;
    return t;
}

static int tok_is(const tok *t, const char *word)
{
    return t->len == strlen(word) && strncmp(t->p, word, t->len) == 0;
}

static int usage(ember_err *err, const tok *t, const char *msg)
{
    return ember_err_set_col(err, -EMBER_EUSAGE, t->col, "%s", msg);
}

/* D of `within D`, `A.ts - D` (>= 0) or of a window size / ttl (> 0). */
static int parse_duration(const tok *t, const char *what, int positive, int64_t *out,
                          ember_err *err)
{
    char buf[64];
    if (!t->len)
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col, "%s: expected a duration (like 10s)",
                                 what);
    snprintf(buf, sizeof buf, "%.*s", (int)t->len, t->p);
    int rc = t->len < sizeof buf ? opts_parse_value(OPT_DURATION, buf, out) : -ERANGE;
    if (rc == -EDOM)
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col,
                                 "%s: '%s' needs a unit: %sms, %ss, %sm or %sh", what, buf, buf,
                                 buf, buf, buf);
    if (!rc && *out > SJ_MAX_DURATION_MS)
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col,
                                 "%s: '%s' is too long (at most 2^61 ms)", what, buf);
    if (rc || *out < 0 || (positive && *out == 0))
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col,
                                 "%s: '%.*s' is not a %s duration like 500ms, 10s, 5m or 1h", what,
                                 (int)t->len, t->p, positive ? "positive" : "non-negative");
    return 0;
}

/* NAME.FIELD of one of the two inputs: *side and *field. */
static int parse_ref(parser *p, const tok *t, int *side, int *field, ember_err *err)
{
    const char *dot = t->len ? memchr(t->p, '.', t->len) : NULL;
    if (!dot || !is_word_char(t->p[0]) || dot == t->p || dot == t->p + t->len - 1)
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col,
                                 "expected %s.FIELD or %s.FIELD, got '%.*s'", p->side[0]->name,
                                 p->side[1]->name, (int)t->len, t->p);
    size_t nlen = (size_t)(dot - t->p);
    *side = -1;
    for (int i = 0; i < 2; i++)
        if (strlen(p->side[i]->name) == nlen && !strncmp(p->side[i]->name, t->p, nlen))
            *side = i;
    if (*side < 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col,
                                 "unknown stream '%.*s' (the join's inputs are %s and %s)",
                                 (int)nlen, t->p, p->side[0]->name, p->side[1]->name);
    const schema *sc = p->side[*side]->fields;
    const char *f = dot + 1;
    size_t flen = t->len - nlen - 1;
    char note[96];
    *field = schema_find(sc, f, flen);
    if (*field < 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col + (int)nlen + 1,
                                 "unknown field '%.*s' of %s%s", (int)flen, f, p->side[*side]->name,
                                 schema_suggest_note(sc, f, flen, note, sizeof note));
    return 0;
}

/* REF = REF with one field of each side; *first is the left-hand ref. */
static int parse_equality(parser *p, const tok *first, int side, int field, ember_err *err)
{
    stream_join_spec *s = p->s;
    tok eq = lex_next(p), second = lex_next(p);
    int side2, field2, rc;
    if (!tok_is(&eq, "="))
        return usage(err, &eq, "expected '=' or 'between' after the field");
    if ((rc = parse_ref(p, &second, &side2, &field2, err)))
        return rc;
    if (side2 == side)
        return ember_err_set_col(err, -EMBER_EUSAGE, first->col,
                                 "'%.*s = %.*s' compares two fields of %s: a join key pairs a "
                                 "field of %s with one of %s",
                                 (int)first->len, first->p, (int)second.len, second.p,
                                 p->side[side]->name, p->side[0]->name, p->side[1]->name);
    if (s->n_keys == SJ_MAX_KEYS)
        return ember_err_set_col(err, -EMBER_EUSAGE, first->col, "at most %d join keys",
                                 SJ_MAX_KEYS);
    int fl = side == 0 ? field : field2, fr = side == 0 ? field2 : field;
    ember_type tl = s->in[0].f[fl].type, tr = s->in[1].f[fr].type;
    if (tl != tr)
        return ember_err_set_col(err, -EMBER_EUSAGE, first->col,
                                 "join key %s.%s (%s) and %s.%s (%s) must have the same type",
                                 s->name[0], s->in[0].f[fl].name, ember_type_name(tl), s->name[1],
                                 s->in[1].f[fr].name, ember_type_name(tr));
    s->key[0][s->n_keys] = fl;
    s->key[1][s->n_keys] = fr;
    s->n_keys++;
    return 0;
}

/* A field used as an event time must be the stream's declared one. */
static int check_time_ref(parser *p, const tok *t, int side, int field, ember_err *err)
{
    const sj_input *in = p->side[side];
    if (in->time_field < 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col,
                                 "'%.*s': stream %s declares no event time (add 'watermark FIELD "
                                 "DELAY' to it)",
                                 (int)t->len, t->p, in->name);
    if (field != in->time_field)
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col,
                                 "'%.*s' is not the event time of %s (its watermark is on %s)",
                                 (int)t->len, t->p, in->name, in->fields->f[in->time_field].name);
    return 0;
}

/* One bound `X.ts [+|- D]` of a between; *side is the bound's stream. */
static int parse_bound(parser *p, int *side, int64_t *off, ember_err *err)
{
    tok r = lex_next(p);
    int field, rc;
    if ((rc = parse_ref(p, &r, side, &field, err)) ||
        (rc = check_time_ref(p, &r, *side, field, err)))
        return rc;
    *off = 0;
    tok sign = lex_peek(p);
    if (!tok_is(&sign, "+") && !tok_is(&sign, "-"))
        return 0;
    lex_next(p);
    tok d = lex_next(p);
    if ((rc = parse_duration(&d, "a between bound's offset", 0, off, err)))
        return rc;
    if (sign.p[0] == '-')
        *off = -*off;
    return 0;
}

static int set_cond(parser *p, const tok *t, const char *what, ember_err *err)
{
    if (p->cond_col)
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col,
                                 "'%s' cannot be combined with '%s' (a join has one of within, "
                                 "between, window or ttl)",
                                 what, p->cond_what);
    p->cond_col = t->col;
    p->cond_what = what;
    return 0;
}

/* SUBJ between X.ts [±D1] and X.ts [±D2]: an interval on B.ts - A.ts. */
static int parse_between(parser *p, const tok *subj, int side, int field, ember_err *err)
{
    tok kw = lex_next(p);
    int rc, s1, s2;
    int64_t o1, o2;
    if ((rc = set_cond(p, &kw, "between", err)) || (rc = check_time_ref(p, subj, side, field, err)))
        return rc;
    tok b1 = lex_peek(p);
    if ((rc = parse_bound(p, &s1, &o1, err)))
        return rc;
    tok and = lex_next(p);
    if (!tok_is(&and, "and"))
        return usage(err, &and, "expected 'and' between the two bounds of 'between'");
    tok b2 = lex_peek(p);
    if ((rc = parse_bound(p, &s2, &o2, err)))
        return rc;
    const tok *bad = s1 == side ? &b1 : s2 == side ? &b2 : NULL;
    if (bad)
        return ember_err_set_col(err, -EMBER_EUSAGE, bad->col,
                                 "a between bound must be the other stream's event time (%s.%s "
                                 "between %s.%s ...)",
                                 p->side[side]->name, p->side[side]->fields->f[field].name,
                                 p->side[!side]->name,
                                 p->side[!side]->fields->f[p->side[!side]->time_field].name);
    int64_t lo = o1 < o2 ? o1 : o2, hi = o1 < o2 ? o2 : o1;
    /* subject B: B.ts - A.ts in [lo, hi]; subject A: A.ts - B.ts in [lo, hi]. */
    p->s->form = SJ_INTERVAL;
    p->s->lo_ms = side == 1 ? lo : -hi;
    p->s->hi_ms = side == 1 ? hi : -lo;
    return 0;
}

/* on REF = REF [and REF = REF | and REF between ...]... */
static int parse_on(parser *p, ember_err *err)
{
    for (;;) {
        tok r = lex_next(p);
        int side, field, rc;
        if ((rc = parse_ref(p, &r, &side, &field, err)))
            return rc;
        tok next = lex_peek(p);
        rc = tok_is(&next, "between") ? parse_between(p, &r, side, field, err)
                                      : parse_equality(p, &r, side, field, err);
        if (rc)
            return rc;
        tok and = lex_peek(p);
        if (!tok_is(&and, "and"))
            return 0;
        lex_next(p);
    }
}

static int parse_type(parser *p, ember_err *err)
{
    static const char *const names[] = {"inner", "left", "right", "full"};
    tok eq = lex_next(p), v = lex_next(p);
    if (!tok_is(&eq, "="))
        return usage(err, &eq, "expected type=inner|left|right|full");
    for (int i = 0; i < 4; i++)
        if (tok_is(&v, names[i])) {
            p->s->type = (sj_type)i;
            return 0;
        }
    char note[96];
    return ember_err_set_col(err, -EMBER_EUSAGE, v.col,
                             "unknown join type '%.*s' (expected inner, left, right or full)%s",
                             (int)v.len, v.p,
                             em_suggest_note(em_suggest(v.p, v.len, names, 4), note, sizeof note));
}

/* within D | window tumbling SIZE | ttl D */
static int parse_time_clause(parser *p, const tok *kw, ember_err *err)
{
    stream_join_spec *s = p->s;
    int rc = set_cond(p, kw,
                      tok_is(kw, "within") ? "within"
                      : tok_is(kw, "ttl")  ? "ttl"
                                           : "window",
                      err);
    if (rc)
        return rc;
    if (tok_is(kw, "ttl")) {
        tok d = lex_next(p);
        s->form = SJ_TTL;
        return parse_duration(&d, "ttl", 1, &s->ttl_ms, err);
    }
    if (tok_is(kw, "within")) {
        tok d = lex_next(p);
        s->form = SJ_INTERVAL;
        rc = parse_duration(&d, "within", 0, &s->hi_ms, err);
        s->lo_ms = -s->hi_ms;
        return rc;
    }
    tok kind = lex_next(p), size = lex_next(p);
    if (!tok_is(&kind, "tumbling"))
        return usage(err, &kind, "expected 'tumbling' after 'window' (a join window is tumbling)");
    s->form = SJ_WINDOW;
    return parse_duration(&size, "window size", 1, &s->size_ms, err);
}

/* The interval and window forms need both event times. */
static int check_event_times(parser *p, ember_err *err)
{
    if (p->s->form == SJ_TTL)
        return 0;
    for (int i = 0; i < 2; i++)
        if (p->side[i]->time_field < 0)
            return ember_err_set_col(
                err, -EMBER_EUSAGE, p->cond_col,
                "'%s' needs event time on both streams: %s declares no "
                "watermark (add 'watermark FIELD DELAY' to it, or use 'ttl D')",
                p->cond_what, p->side[i]->name);
    return 0;
}

static int parse_clauses(parser *p, ember_err *err)
{
    int rc = 0, on_seen = 0;
    for (tok t = lex_next(p); t.len && !rc; t = lex_next(p)) {
        if (tok_is(&t, "on") && !on_seen) {
            on_seen = 1;
            rc = parse_on(p, err);
        } else if (tok_is(&t, "within") || tok_is(&t, "window") || tok_is(&t, "ttl")) {
            rc = parse_time_clause(p, &t, err);
        } else if (tok_is(&t, "type")) {
            rc = parse_type(p, err);
        } else {
            rc = ember_err_set_col(err, -EMBER_EUSAGE, t.col,
                                   "unexpected '%.*s' (expected %s within D, window tumbling SIZE, "
                                   "ttl D or type=inner|left|right|full)",
                                   (int)t.len, t.p, on_seen ? "and, " : "on A.x = B.y,");
        }
    }
    if (rc)
        return rc;
    tok end = lex_peek(p);
    if (!on_seen)
        return ember_err_set_col(err, -EMBER_EUSAGE, end.col, "expected 'on %s.FIELD = %s.FIELD'",
                                 p->side[0]->name, p->side[1]->name);
    if (!p->s->n_keys)
        return ember_err_set_col(err, -EMBER_EUSAGE, 1,
                                 "a join needs at least one key equality (%s.x = %s.y)",
                                 p->side[0]->name, p->side[1]->name);
    if (!p->cond_col)
        return ember_err_set_col(err, -EMBER_EUSAGE, end.col,
                                 "expected 'within D', '%s.ts between ...', 'window tumbling "
                                 "SIZE' or 'ttl D' to bound the join's state",
                                 p->side[1]->name);
    return check_event_times(p, err);
}

static int add_out_field(schema *out, const char *prefix, const schema_field *f, int clash,
                         ember_err *err)
{
    if (out->n == SCHEMA_MAX_FIELDS)
        return ember_err_set(err, -EMBER_EUSAGE, "a join's output has at most %d fields",
                             SCHEMA_MAX_FIELDS);
    schema_field *o = &out->f[out->n++];
    int n = clash ? snprintf(o->name, sizeof o->name, "%s.%s", prefix, f->name)
                  : snprintf(o->name, sizeof o->name, "%s", f->name);
    if (n >= (int)sizeof o->name)
        return ember_err_set(err, -EMBER_EUSAGE,
                             "output field name '%s.%s' is longer than %d bytes", prefix, f->name,
                             SCHEMA_NAME_MAX - 1);
    o->type = f->type;
    return 0;
}

static int build_output(stream_join_spec *s, ember_err *err)
{
    int rc = 0;
    s->out.n = 0;
    for (int side = 0; side < 2 && !rc; side++)
        for (int i = 0; i < s->in[side].n && !rc; i++) {
            const schema_field *f = &s->in[side].f[i];
            int clash = schema_find(&s->in[!side], f->name, strlen(f->name)) >= 0;
            rc = add_out_field(&s->out, s->name[side], f, clash, err);
        }
    if (rc || s->form != SJ_WINDOW)
        return rc;
    static const schema_field win[2] = {{"window_start", EMBER_INT}, {"window_end", EMBER_INT}};
    for (int i = 0; i < 2 && !rc; i++) {
        if (schema_find(&s->out, win[i].name, strlen(win[i].name)) >= 0)
            return ember_err_set(err, -EMBER_EUSAGE,
                                 "the window join adds '%s', which a field of %s or %s already "
                                 "is (rename it with select first)",
                                 win[i].name, s->name[0], s->name[1]);
        rc = add_out_field(&s->out, "", &win[i], 0, err);
    }
    return rc;
}

static int check_inputs(const sj_input *l, const sj_input *r, ember_err *err)
{
    if (!strcmp(l->name, r->name))
        return ember_err_set(err, -EMBER_EUSAGE,
                             "a join of %s with itself: branch it first (stream %s2 from %s) "
                             "and join %s, %s2",
                             l->name, l->name, l->name, l->name, l->name);
    for (int i = 0; i < 2; i++) {
        const sj_input *in = i ? r : l;
        if (strlen(in->name) >= SCHEMA_NAME_MAX)
            return ember_err_set(err, -EMBER_EUSAGE, "stream name '%s' is too long", in->name);
        if (in->time_field >= in->fields->n ||
            (in->time_field >= 0 && in->fields->f[in->time_field].type != EMBER_INT))
            return ember_err_set(err, -EMBER_EUSAGE, "the event time of %s must be an int field",
                                 in->name);
    }
    return 0;
}

int stream_join_parse(const char *text, const sj_input *left, const sj_input *right,
                      stream_join_spec *out, ember_err *err)
{
    int rc = check_inputs(left, right, err);
    if (rc)
        return rc;
    memset(out, 0, sizeof *out);
    const sj_input *in[2] = {left, right};
    for (int i = 0; i < 2; i++) {
        snprintf(out->name[i], sizeof out->name[i], "%s", in[i]->name);
        out->in[i] = *in[i]->fields;
        out->time_field[i] = in[i]->time_field;
    }
    parser p = {.text = text, .side = {left, right}, .s = out};
    if ((rc = parse_clauses(&p, err)) || (rc = build_output(out, err)))
        return rc;
    return 0;
}

int stream_join_outer(const stream_join_spec *s, int side)
{
    return (s->type & (side ? SJ_RIGHT : SJ_LEFT)) != 0;
}

void stream_join_layout_text(const stream_join_spec *s, char *buf, size_t cap)
{
    static const char *const types[] = {"inner", "left", "right", "full"};
    size_t w = (size_t)snprintf(buf, cap, "stream_join %s,%s type=%s keys=", s->name[0], s->name[1],
                                types[s->type]);
    for (int i = 0; i < s->n_keys && w < cap; i++)
        w += (size_t)snprintf(buf + w, cap - w, "%s%s=%s", i ? "," : "",
                              s->in[0].f[s->key[0][i]].name, s->in[1].f[s->key[1][i]].name);
    if (w >= cap)
        return;
    if (s->form == SJ_INTERVAL)
        snprintf(buf + w, cap - w, " interval=%lld..%lld", (long long)s->lo_ms,
                 (long long)s->hi_ms);
    else if (s->form == SJ_WINDOW)
        snprintf(buf + w, cap - w, " window=%lld", (long long)s->size_ms);
    else
        snprintf(buf + w, cap - w, " ttl=%lld", (long long)s->ttl_ms);
}
