/* version: the library's version, for embedders checking header against library. */
#include "ember.h"

const char *ember_version(void)
{
    return EMBER_VERSION;
}
