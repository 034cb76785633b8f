/* private_file.h: writing a file only its owner may read, atomically: the
 * bytes go to PATH.tmp (mode 0600, fsync'd) and are renamed over PATH, so a
 * crash leaves the old file or the new one, never half of either.  Used for
 * a node's secret key and its private model. */
#ifndef P4_COMMON_PRIVATE_FILE_H
#define P4_COMMON_PRIVATE_FILE_H

#include <stddef.h>

#include "common/error.h"

int p4_write_private_file(const char *path, const void *bytes, size_t len, p4_error *err);

#endif
