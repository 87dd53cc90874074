/*
 * cmd_reference: `ember reference [steps|formats|sources|sinks|options|generators]`,
 * the job language's reference in Markdown, made from the same tables the
 * loader validates against (core/job/steps.c, the source and sink registries,
 * the option tables). `make docs` puts it into the README between
 * `<!-- reference:NAME -->` markers; `make test` fails when they are stale.
 */
#include "core/base/options.h"
#include "core/job/job.h"
#include "core/job/steps.h"
#include "core/ops/gen.h"
#include "core/sink/sink.h"
#include "core/source/source.h"
#include "tools/cli.h"
#include "tools/commands.h"

#include <stdio.h>
#include <string.h>

/* Markdown table cells: a '|' would end the cell. */
static void cell(FILE *out, const char *s)
{
    for (; *s; s++)
        fputs(*s == '|' ? "\\|" : (char[]){*s, 0}, out);
}

static void print_steps(FILE *out)
{
    fprintf(out, "| step | arguments | what it does |\n| --- | --- | --- |\n");
    for (size_t i = 0; job_steps[i].name; i++) {
        fprintf(out, "| `%s` | `", job_steps[i].name);
        cell(out, job_steps[i].syntax);
        fprintf(out, "` | ");
        cell(out, job_steps[i].doc);
        fprintf(out, " |\n");
    }
}

static void print_formats(FILE *out)
{
    fprintf(out, "| format | fields |\n| --- | --- |\n");
    for (size_t i = 0; parse_formats[i].name; i++)
        fprintf(out, "| `%s` | %s |\n", parse_formats[i].name, parse_formats[i].doc);
}

/* Only a source's options can belong to the state layout (what a saved
 * offset means); batch, checkpoint and sink options may always change. */
static void print_option_row(FILE *out, const opt_def *d, int source)
{
    fprintf(out, "| `%s%s=` | ", d->name, opts_is_prefix(d) ? "NAME" : "");
    if (opts_is_prefix(d))
        fprintf(out, "none");
    else if (!d->def)
        fprintf(out, "required");
    else
        fprintf(out, "`%s`", d->def[0] ? d->def : "\"\"");
    fprintf(out, " | %s | ", !source || (d->flags & OPT_RESTARTABLE) ? "yes" : "no");
    cell(out, d->doc);
    if (d->type == OPT_ENUM) {
        fprintf(out, " (`");
        cell(out, d->enum_values);
        fprintf(out, "`)");
    }
    fprintf(out, " |\n");
}

static void print_options(FILE *out, const char *title, const opt_def *defs, int source)
{
    fprintf(out, "\n%s\n\n", title);
    if (!defs[0].name) {
        fprintf(out, "No options.\n");
        return;
    }
    fprintf(out, "| option | default | may change on restart | meaning |\n"
                 "| --- | --- | --- | --- |\n");
    for (size_t i = 0; defs[i].name; i++)
        print_option_row(out, &defs[i], source);
}

static void print_sources(FILE *out)
{
    fprintf(out, "| source | replay | what it reads |\n| --- | --- | --- |\n");
    for (size_t i = 0; source_registry[i]; i++)
        fprintf(out, "| `%s` | %s | %s |\n", source_registry[i]->kind,
                source_registry[i]->replayable ? "re-reads the planned ranges"
                                               : "records kept in the WAL",
                source_registry[i]->doc);
}

/* The generator kinds with their columns, as `parse csv fields=` takes them. */
static void print_generators(FILE *out)
{
    fprintf(out, "| kind | columns (`parse csv fields=`) | records |\n| --- | --- | --- |\n");
    for (int k = 0; k < GEN_KIND_COUNT; k++) {
        fprintf(out, "| `%s` | `", gen_kind_name((gen_kind)k));
        for (const char *c = gen_fields((gen_kind)k); *c; c++)
            fputc(*c, out);
        fprintf(out, "` | %s |\n", gen_doc((gen_kind)k));
    }
}

static void print_sinks(FILE *out)
{
    fprintf(out, "| sink | guarantee | what it writes |\n| --- | --- | --- |\n");
    for (size_t i = 0; sink_registry[i]; i++)
        fprintf(out, "| `%s` | %s | %s |\n", sink_registry[i]->kind,
                sink_registry[i]->exactly_once ? "exactly-once" : "at-least-once",
                sink_registry[i]->doc);
}

static void print_all_options(FILE *out)
{
    char title[128];
    print_options(out, "#### `batch`", job_batch_options(), 0);
    print_options(out, "#### `checkpoint`", job_checkpoint_options(), 0);
    for (size_t i = 0; source_registry[i]; i++) {
        snprintf(title, sizeof title, "#### `source %s`", source_registry[i]->kind);
        print_options(out, title, source_registry[i]->options, 1);
    }
    for (size_t i = 0; sink_registry[i]; i++) {
        snprintf(title, sizeof title, "#### `sink %s`", sink_registry[i]->kind);
        print_options(out, title, sink_registry[i]->options, 0);
    }
}

static const struct {
    const char *name;
    void (*print)(FILE *out);
} sections[] = {
    {"steps", print_steps},     {"formats", print_formats}, {"sources", print_sources},
    {"sinks", print_sinks},     {"options", print_all_options}, {"generators", print_generators},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ember reference [steps|formats|sources|sinks|options|generators]\n"
                 "Prints the job language's reference (Markdown) from ember's own tables;\n"
                 "without a section, every section.\n");
}

int cmd_reference(int argc, char **argv)
{
    size_t n = sizeof sections / sizeof sections[0];
    if (argc > 2 || (argc == 2 && cli_is_help(argv[1]))) {
        usage(argc == 2 ? stdout : stderr);
        return argc == 2 ? 0 : 2;
    }
    for (size_t i = 0; i < n; i++) {
        if (argc == 2 && strcmp(argv[1], sections[i].name) != 0)
            continue;
        sections[i].print(stdout);
        if (argc == 2)
            return 0;
    }
    if (argc == 2) {
        fprintf(stderr, "ember reference: unknown section '%s' (expected steps, formats, "
                        "sources, sinks, options or generators)\n", argv[1]);
        return 2;
    }
    return 0;
}
