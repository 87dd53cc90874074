/* recent: the ring of a sink's newest rows (see recent.h). */
#include "core/engine/recent.h"
#include "core/ops/text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int recent_open(recent_rows *r, ember_err *err)
{
    r->text = calloc(RECENT_ROWS, sizeof *r->text);
    r->next = r->n = 0;
    return r->text ? 0 : ember_err_set(err, -ENOMEM, "recent rows: out of memory");
}

/* Appends src[0..n) to the slot, keeping room for the NUL. */
static size_t put(char *slot, size_t used, const char *src, size_t n)
{
    size_t room = RECENT_ROW_BYTES - 1 - used;
    if (n > room)
        n = room;
    memcpy(slot + used, src, n);
    return used + n;
}

void recent_add(recent_rows *r, const ember_record *row)
{
    if (!r->text)
        return;
    char *slot = r->text[r->next];
    size_t used = 0;
    for (uint32_t i = 0; i < row->n; i++) {
        const ember_value *v = &row->values[i];
        char num[64];
        if (i)
            used = put(slot, used, ",", 1);
        if (v->type == EMBER_STRING) {
            used = put(slot, used, v->u.s.ptr, v->u.s.len);
        } else {
            size_t len = value_format(v, num, sizeof num);
            used = put(slot, used, num, len);
        }
    }
    slot[used] = '\0';
    r->next = (r->next + 1) % RECENT_ROWS;
    if (r->n < RECENT_ROWS)
        r->n++;
}

size_t recent_list(const recent_rows *r, const char **out, size_t cap)
{
    size_t n = r->n < cap ? r->n : cap;
    size_t first = (r->next + RECENT_ROWS - n) % RECENT_ROWS;
    for (size_t i = 0; i < n; i++)
        out[i] = r->text[(first + i) % RECENT_ROWS];
    return n;
}

void recent_close(recent_rows *r)
{
    free(r->text);
    r->text = NULL;
    r->n = r->next = 0;
}
