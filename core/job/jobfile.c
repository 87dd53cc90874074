/*
 * jobfile: loads a job file (one pipeline step per line, see README) by
 * calling the public API for each line. It only tokenizes and turns the
 * API's column-in-argument errors into FILE:LINE:COL messages.
 *
 * Comments. On the lines of options (batch, checkpoint, source, parse, join,
 * sink) a '#' outside a quoted value starts a comment; a value is quoted
 * only when it starts with '"' (it then runs to the next '"'), and any other
 * quote character is plain text. On the other lines (expressions and the
 * like) a '#' starts a comment unless it is inside a "..." or '...' string,
 * wherever that starts. The canonical text (job.c) writes every value so
 * that these rules read it back unchanged: load(canonical text) gives the
 * same canonical text and the same state layout (tests/fuzz/).
 */
#include "core/base/io.h"
#include "core/base/suggest.h"
#include "core/job/job.h"
#include "core/job/steps.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_OPTS 32

typedef struct jf_line {
    const char *path;
    int lineno;
    char *text;      /* the line, comment stripped, NUL-terminated */
    char *word;      /* the step name */
    char *rest;      /* everything after the step name */
    int rest_col;    /* 1-based column where rest starts */
    char *arg;       /* first word of rest for source/parse/sink */
    ember_opt opts[LINE_MAX_OPTS];
    int opt_col[LINE_MAX_OPTS];
    size_t n_opts;
} jf_line;

static int jf_error(ember_err *err, const jf_line *l, int col, const char *msg)
{
    char copy[sizeof err->msg];
    snprintf(copy, sizeof copy, "%s", msg);
    return ember_err_set_col(err, -EMBER_EUSAGE, col, "%s:%d:%d: %s", l->path, l->lineno,
                             col > 0 ? col : 1, copy);
}

static void trim_trailing(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

size_t job_text_comment_at(const char *s)
{
    char quote = 0;
    const char *p = s;
    for (; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (*p == '#') {
            break;
        }
    }
    return (size_t)(p - s);
}

/* Lines of expressions: cuts a trailing "# comment" that is not inside a
 * "..." or '...' string. */
static void strip_comment(char *s)
{
    s[job_text_comment_at(s)] = '\0';
    trim_trailing(s);
}

static char *skip_ws(char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Cuts the word at p (a step name, a source kind); a '#' ends it and starts
 * a comment, so the rest is then empty. Returns what follows the word. */
static char *cut_word(char *p)
{
    while (*p && *p != ' ' && *p != '\t' && *p != '#')
        p++;
    if (*p == '#')
        *p = '\0';
    else if (*p)
        *p++ = '\0';
    return p;
}

/* key=value or key="quoted value"; returns the position after it. A '#'
 * outside the quotes ends the line (a comment). */
static int cut_option(jf_line *l, char *p, char **next, ember_err *err)
{
    int col = (int)(p - l->text) + 1;
    char *eq = p;
    while (*eq && *eq != '=' && *eq != ' ' && *eq != '\t' && *eq != '#')
        eq++;
    if (*eq != '=' || eq == p)
        return jf_error(err, l, col, "expected key=value");
    if (l->n_opts == LINE_MAX_OPTS)
        return jf_error(err, l, col, "too many options");
    *eq = '\0';
    char *v = eq + 1, *end;
    if (*v == '"') {
        end = strchr(++v, '"');
        if (!end)
            return jf_error(err, l, col, "unterminated quoted value");
        *end++ = '\0';
    } else {
        end = v;
        while (*end && *end != ' ' && *end != '\t' && *end != '#')
            end++;
        if (*end == '#')
            *end = '\0';
        else if (*end)
            *end++ = '\0';
    }
    l->opts[l->n_opts] = (ember_opt){p, v};
    l->opt_col[l->n_opts++] = col;
    *next = end;
    return 0;
}

static int split_options(jf_line *l, char *p, ember_err *err)
{
    for (p = skip_ws(p); *p && *p != '#'; p = skip_ws(p)) {
        int rc = cut_option(l, p, &p, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* Turns the API's err->col (see options.h / ember.h) into a line column. */
static int api_error(ember_err *err, const jf_line *l, int is_opts)
{
    int col = l->rest_col;
    if (is_opts && err->col > 0 && (size_t)err->col <= l->n_opts)
        col = l->opt_col[err->col - 1];
    else if (is_opts && err->col < 0 && (size_t)(-err->col) <= l->n_opts)
        col = l->opt_col[-err->col - 1];
    else if (!is_opts && err->col > 0)
        col = l->rest_col + err->col - 1;
    return jf_error(err, l, col, err->msg);
}

static int need_arg(jf_line *l, const char *what, ember_err *err)
{
    if (!l->arg || !*l->arg)
        return jf_error(err, l, l->rest_col, what);
    return 0;
}

static int load_kind_step(ember_job *job, const step_def *d, jf_line *l, ember_err *err)
{
    char *p = l->rest, what[320], kinds[256];
    l->arg = p;
    p = cut_word(p);
    if (d->kinds) {
        d->kinds(kinds, sizeof kinds);
        snprintf(what, sizeof what, "expected a %s kind (%s)", d->name, kinds);
    } else {
        snprintf(what, sizeof what, "expected %s", d->arg_what);
    }
    int rc = need_arg(l, what, err);
    if (!rc)
        rc = split_options(l, p, err);
    if (rc)
        return rc;
    rc = d->kind_fn(job, l->arg, l->opts, l->n_opts, err);
    return rc ? api_error(err, l, 1) : 0;
}

static int load_options_step(ember_job *job, const step_def *d, jf_line *l, ember_err *err)
{
    int rc = split_options(l, l->rest, err);
    if (rc)
        return rc;
    rc = d->opts_fn(job, l->opts, l->n_opts, err);
    return rc ? api_error(err, l, 1) : 0;
}

static int load_text_step(ember_job *job, const step_def *d, jf_line *l, ember_err *err)
{
    if (!*l->rest)
        return jf_error(err, l, l->rest_col, "expected an argument after the step name");
    int rc = d->text_fn(job, l->rest, err);
    return rc ? api_error(err, l, 0) : 0;
}

static int unknown_step(jf_line *l, ember_err *err)
{
    char msg[480], names[300], note[96];
    const char *steps[64];
    size_t n = 0;
    for (; n < 64 && job_steps[n].name; n++)
        steps[n] = job_steps[n].name;
    step_names_text(names, sizeof names);
    snprintf(msg, sizeof msg, "unknown step '%s'%s (expected %s)", l->word,
             em_suggest_note(em_suggest(l->word, strlen(l->word), steps, n), note, sizeof note),
             names);
    return jf_error(err, l, (int)(l->word - l->text) + 1, msg);
}

static int load_line(ember_job **job, jf_line *l, ember_err *err)
{
    char *p = skip_ws(l->text);
    l->word = p;
    p = skip_ws(cut_word(p));
    l->rest = p;
    l->rest_col = (int)(p - l->text) + 1;
    const step_def *d = step_find(l->word);
    if (!d)
        return unknown_step(l, err);
    if (d->form == FORM_NAME) {
        if (*job)
            return jf_error(err, l, 1, "'job' must be the first line and appear once");
        *job = ember_job_new(*l->rest ? l->rest : "job");
        return *job ? 0 : ember_err_set(err, -ENOMEM, "out of memory");
    }
    if (!*job && !(*job = ember_job_new("job")))
        return ember_err_set(err, -ENOMEM, "out of memory");
    if (d->form == FORM_KIND_OPTIONS)
        return load_kind_step(*job, d, l, err);
    if (d->form == FORM_OPTIONS)
        return load_options_step(*job, d, l, err);
    return load_text_step(*job, d, l, err);
}

/* Lines of options tokenize their own comments (see the top of the file). */
static int is_options_step(const char *w, size_t n)
{
    static const char *const steps[] = {"batch", "checkpoint", "source", "parse", "join", "sink"};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (strlen(steps[i]) == n && memcmp(w, steps[i], n) == 0)
            return 1;
    return 0;
}

static int load_lines(const char *path, char *text, ember_job **out, ember_err *err)
{
    ember_job *job = NULL;
    int rc = 0, lineno = 0;
    char *save = NULL;
    for (char *line = text; line && !rc; line = save) {
        save = strchr(line, '\n');
        if (save)
            *save++ = '\0';
        lineno++;
        trim_trailing(line);
        const char *w = skip_ws(line);
        if (!is_options_step(w, strcspn(w, " \t#")))
            strip_comment(line);
        if (!*skip_ws(line))
            continue;
        jf_line l = {.path = path, .lineno = lineno, .text = line};
        rc = load_line(&job, &l, err);
    }
    if (!rc && !job)
        rc = ember_err_set(err, -EMBER_EUSAGE, "%s: empty job file", path);
    if (!rc && (rc = job_complete(job, err))) /* tools read jobs they cannot run */
        ember_err_prefix(err, "%s", path);
    if (rc) {
        ember_job_free(job);
        return rc;
    }
    *out = job;
    return 0;
}

int job_load_text(const char *path, const char *text, size_t n, ember_job **out, ember_err *err)
{
    *out = NULL;
    if (memchr(text, '\0', n))
        return ember_err_set(err, -EMBER_EUSAGE, "%s: not a text file (contains NUL bytes)", path);
    char *copy = malloc(n + 1);
    if (!copy)
        return ember_err_set(err, -ENOMEM, "out of memory");
    memcpy(copy, text, n);
    copy[n] = '\0';
    int rc = load_lines(path, copy, out, err);
    free(copy);
    return rc;
}

int ember_job_load_file(const char *path, ember_job **out, ember_err *err)
{
    char *text = NULL;
    size_t n;
    int rc = io_read_file(path, &text, &n, err);
    if (rc)
        return rc;
    rc = job_load_text(path, text, n, out, err);
    free(text);
    return rc;
}
