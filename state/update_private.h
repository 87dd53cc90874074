/*
 * update_private: what state/update.c (keys, TTL, rows) and
 * state/update_windows.c (tumbling and sliding panes, sessions) share. Not
 * for use outside state/update*.c.
 */
#ifndef EMBER_STATE_UPDATE_PRIVATE_H
#define EMBER_STATE_UPDATE_PRIVATE_H

#include "core/base/arena.h"
#include "state/cache.h"
#include "state/update.h"

#define MULTIGET_CHUNK 1024

typedef struct changed_key {
    const char *key;
    uint32_t klen;
    uint64_t hash;
    const acc_slot *delta;
    acc_slot *merged; /* into u->slots */
    int is_new;       /* no previous value */
} changed_key;

/* A window to fire or emit: the user key (without the time suffix), its
 * bounds, and for output its value. */
typedef struct win_ref {
    const char *ukey;
    uint32_t uklen;
    int64_t start, end;
    uint8_t fire, update;
    acc_slot *value; /* set when emitted */
    acc_slot *prev;  /* emit=update, job->retracts: its value before the batch, NULL if none */
} win_ref;

/* The panes the batch's windows read, each looked up once: sorted by
 * (user key, start); value NULL when the pane holds nothing. */
typedef struct pane_ref {
    const char *ukey;
    uint32_t uklen;
    int64_t start;
    acc_slot *value;
} pane_ref;

typedef struct win_vec {
    win_ref *v;
    size_t n, cap;
} win_vec;

struct state_update {
    const ember_job *job;
    store *st;
    int cf;
    cache *cache;
    changed_key *keys;
    size_t n_keys, cap_keys;
    acc_slot *slots;
    acc_slot *prev; /* job->retracts: each changed key's value before the batch */
    size_t prev_cap;
    char et_key[48]; /* the meta key of the event-time high mark */
    uint8_t *enc;
    ember_value row_vals[SCHEMA_MAX_FIELDS];
    acc_text row_text; /* topk results of the current row */
    update_stats stats;

    /* windowed jobs */
    int timer_cf;
    int64_t max_event_time; /* committed; WIN_NO_WATERMARK before any event */
    int64_t wm_old, wm_new; /* watermark before and after this batch */
    int64_t ttl_done;       /* TTL timers before this are deleted */
    win_vec cand;           /* windows to fire or emit this batch */
    win_vec out;            /* emitted windows, sorted: the output rows */
    win_vec dead_timers;    /* session timers deleted this batch */
    pane_ref *panes;        /* panes read by this batch's windows */
    size_t n_panes, cap_panes;
    arena scratch; /* keys and values of cand/out, reset per batch */
};

static inline int is_windowed(const state_update *u)
{
    return u->job->window.kind != WIN_NONE;
}

/* Shared by update.c and update_windows.c. */
int upd_cmp_win_bytes(const char *a, uint32_t alen, const char *b, uint32_t blen);
EMBER_MUST_CHECK int upd_check_bounds(state_update *u, const acc_slot *v, const char *key, uint32_t klen,
                     ember_err *err);
EMBER_MUST_CHECK int upd_fold_changed(state_update *u, store_batch *wb, ember_err *err);
store_iter *upd_timers_from(state_update *u, int64_t from);
void upd_delete_state(state_update *u, store_batch *wb, const char *key, uint32_t klen);
EMBER_MUST_CHECK int upd_window_batch(state_update *u, int64_t batch_max, store_batch *wb, ember_err *err);

#endif
