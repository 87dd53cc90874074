/*
 * window: spec parsing and time arithmetic (see window.h).
 */
#include "core/ops/window.h"
#include "core/base/endian.h"
#include "core/base/options.h"
#include "core/base/suggest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tok {
    const char *p;
    size_t len;
    int col;
} tok;

/* The next whitespace-separated word of text at *pos. len 0 at the end. */
static tok next_tok(const char *text, size_t *pos)
{
    size_t i = *pos;
    while (text[i] && isspace((unsigned char)text[i]))
        i++;
    tok t = {text + i, 0, (int)i + 1};
    while (text[i] && !isspace((unsigned char)text[i]))
        i++;
    t.len = (size_t)(text + i - t.p);
    *pos = i;
    return t;
}

static int tok_is(const tok *t, const char *word)
{
    return t->len == strlen(word) && strncmp(t->p, word, t->len) == 0;
}

static int parse_duration(const tok *t, const char *what, int64_t *out, ember_err *err)
{
    char buf[64];
    if (!t->len)
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col, "expected %s (like 10s)", what);
    snprintf(buf, sizeof buf, "%.*s", (int)t->len, t->p);
    if (t->len < sizeof buf && opts_parse_value(OPT_DURATION, buf, out) == -EDOM)
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col,
                                 "%s: '%s' needs a unit: %sms, %ss, %sm or %sh", what, buf, buf,
                                 buf, buf, buf);
    if (t->len >= sizeof buf || opts_parse_value(OPT_DURATION, buf, out) || *out <= 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, t->col,
                                 "%s: '%.*s' is not a positive duration like 500ms, 10s, 5m or 1h",
                                 what, (int)t->len, t->p);
    return 0;
}

static int parse_kind(const char *text, size_t *pos, window_spec *w, ember_err *err)
{
    tok k = next_tok(text, pos);
    if (tok_is(&k, "tumbling"))
        w->kind = WIN_TUMBLING;
    else if (tok_is(&k, "sliding"))
        w->kind = WIN_SLIDING;
    else if (tok_is(&k, "session"))
        w->kind = WIN_SESSION;
    else {
        static const char *const kinds[] = {"tumbling", "sliding", "session"};
        char note[96];
        return ember_err_set_col(err, -EMBER_EUSAGE, k.col,
                                 "expected a window kind (tumbling, sliding or session)%s",
                                 em_suggest_note(em_suggest(k.p, k.len, kinds, 3), note,
                                                 sizeof note));
    }
    tok size = next_tok(text, pos);
    int rc = parse_duration(&size, w->kind == WIN_SESSION ? "session gap" : "window size",
                            &w->size_ms, err);
    if (rc)
        return rc;
    w->slide_ms = w->size_ms;
    if (w->kind != WIN_SLIDING)
        return 0;
    tok every = next_tok(text, pos);
    if (!tok_is(&every, "every"))
        return ember_err_set_col(err, -EMBER_EUSAGE, every.col,
                                 "expected 'every SLIDE' after a sliding window's size");
    tok slide = next_tok(text, pos);
    if ((rc = parse_duration(&slide, "slide", &w->slide_ms, err)))
        return rc;
    if (w->slide_ms > w->size_ms || w->size_ms % w->slide_ms)
        return ember_err_set_col(err, -EMBER_EUSAGE, slide.col,
                                 "the slide must divide the window size (%lld ms is not a "
                                 "divisor of %lld ms)",
                                 (long long)w->slide_ms, (long long)w->size_ms);
    if (w->size_ms / w->slide_ms > 1024)
        return ember_err_set_col(err, -EMBER_EUSAGE, slide.col,
                                 "at most 1024 slides per window");
    return 0;
}

static int parse_on(const char *text, size_t *pos, const schema *in, window_spec *w,
                    ember_err *err)
{
    tok f = next_tok(text, pos);
    if (!f.len)
        return ember_err_set_col(err, -EMBER_EUSAGE, f.col, "expected an event-time field");
    int idx = schema_find(in, f.p, f.len);
    char note[96];
    if (idx < 0)
        return ember_err_set_col(err, -EMBER_EUSAGE, f.col, "unknown field '%.*s'%s",
                                 (int)f.len, f.p, schema_suggest_note(in, f.p, f.len, note,
                                                                      sizeof note));
    if (in->f[idx].type != EMBER_INT)
        return ember_err_set_col(err, -EMBER_EUSAGE, f.col,
                                 "event time '%.*s' must be an int (epoch milliseconds), not %s",
                                 (int)f.len, f.p, ember_type_name(in->f[idx].type));
    w->time_field = idx;
    return 0;
}

static int parse_assign(const tok *t, window_spec *w, ember_err *err)
{
    if (tok_is(t, "emit=final") || tok_is(t, "emit=update")) {
        w->emit = t->p[5] == 'u' ? EMIT_UPDATE : EMIT_FINAL;
        return 0;
    }
    if (tok_is(t, "late=drop"))
        return 0;
    if (t->len > 10 && strncmp(t->p, "late=file:", 10) == 0) {
        free(w->late_path);
        w->late_path = strndup(t->p + 10, t->len - 10);
        return w->late_path ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    }
    return ember_err_set_col(err, -EMBER_EUSAGE, t->col,
                             "unexpected '%.*s' (expected on FIELD, watermark DELAY, "
                             "emit=final|update or late=drop|file:PATH)",
                             (int)t->len, t->p);
}

int window_parse(const char *text, const schema *in, window_spec *w, ember_err *err)
{
    size_t pos = 0;
    int rc, watermark_col = 0;
    memset(w, 0, sizeof *w);
    w->time_field = -1;
    if ((rc = parse_kind(text, &pos, w, err)))
        return rc;
    for (tok t = next_tok(text, &pos); t.len && !rc; t = next_tok(text, &pos)) {
        if (tok_is(&t, "on")) {
            rc = parse_on(text, &pos, in, w, err);
        } else if (tok_is(&t, "watermark")) {
            watermark_col = t.col;
            tok d = next_tok(text, &pos);
            rc = parse_duration(&d, "watermark delay", &w->delay_ms, err);
        } else {
            rc = parse_assign(&t, w, err);
        }
    }
    if (!rc && watermark_col && w->time_field < 0)
        rc = ember_err_set_col(err, -EMBER_EUSAGE, watermark_col,
                               "a watermark needs event time: add 'on FIELD'");
    if (rc) {
        free(w->late_path);
        w->late_path = NULL;
    }
    return rc;
}

void window_layout_text(const window_spec *w, const schema *in, char *buf, size_t cap)
{
    static const char *const kinds[] = {"none", "tumbling", "sliding", "session"};
    snprintf(buf, cap, "window %s %lld every %lld on %s", kinds[w->kind], (long long)w->size_ms,
             (long long)w->slide_ms, w->time_field < 0 ? "(batch time)" : in->f[w->time_field].name);
}

int64_t window_pane_start(const window_spec *w, int64_t t)
{
    int64_t p = w->slide_ms, q = t / p;
    if (t % p < 0)
        q--;
    return q * p;
}

/* start + len <= watermark, without overflow. */
static int ends_by(int64_t start, int64_t len, int64_t watermark)
{
    int64_t end;
    if (__builtin_add_overflow(start, len, &end))
        return 0;
    return end <= watermark;
}

int window_is_late(const window_spec *w, int64_t t, int64_t watermark)
{
    if (watermark == WIN_NO_WATERMARK)
        return 0;
    if (w->kind == WIN_SESSION)
        return ends_by(t, w->size_ms, watermark); /* its own session [t, t+gap) closed */
    /* The last window holding t starts at t's pane and ends SIZE later. */
    return ends_by(window_pane_start(w, t), w->size_ms, watermark);
}

int64_t window_watermark(const window_spec *w, int64_t max_event_time)
{
    if (max_event_time == WIN_NO_WATERMARK)
        return WIN_NO_WATERMARK;
    if (max_event_time < INT64_MIN + w->delay_ms + 1)
        return INT64_MIN + 1;
    return max_event_time - w->delay_ms;
}

void window_put_time(uint8_t *out, int64_t t)
{
    put_u64be(out, (uint64_t)t ^ (1ull << 63));
}

int64_t window_get_time(const uint8_t *in)
{
    return (int64_t)(get_u64be(in) ^ (1ull << 63));
}
