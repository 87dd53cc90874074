/* assets: looking up the page's compiled-in files (see assets.h). */
#include "ui/assets.h"

#include <string.h>

const ui_asset *ui_asset_find(const char *path)
{
    for (const ui_asset *a = ui_assets; a->path; a++)
        if (!strcmp(a->path, path))
            return a;
    return NULL;
}
