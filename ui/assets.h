/*
 * assets: the status page's files (everything in ui/assets/), compiled into the binary
 * by ui/embed.py (build/gen/ui_assets.c), so the page needs no network and
 * no file is ever opened to serve it.
 */
#ifndef EMBER_UI_ASSETS_H
#define EMBER_UI_ASSETS_H

#include <stddef.h>

typedef struct ui_asset {
    const char *path; /* "/app.js"; index.html is "/" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
} ui_asset;

/* Ends with an entry whose path is NULL. */
extern const ui_asset ui_assets[];

/* The asset served at path, NULL when none. */
const ui_asset *ui_asset_find(const char *path);

#endif
