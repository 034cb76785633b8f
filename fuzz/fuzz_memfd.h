/* fuzz_memfd.h: for fuzz targets whose parser loads a path.  The input goes
 * to an anonymous in-memory file (memfd) read as /proc/self/fd/N: no
 * temporary files are left behind, even when the fuzzer stops on a crash.
 * Header-only, so each fuzzer keeps its own file; needs _GNU_SOURCE
 * (memfd_create) defined before any include. */
#ifndef P4_FUZZ_MEMFD_H
#define P4_FUZZ_MEMFD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The path of the memfd `name` (made on the first call) now holding exactly
 * data[0..size).  Aborts if the file cannot be made or written: that is the
 * harness failing, not the parser. */
static inline const char *fuzz_memfd_path(const char *name, const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create(name, 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    return path;
}

#endif
