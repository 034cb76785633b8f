/* private_file.c: see private_file.h. */
#include "common/private_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int p4_write_private_file(const char *path, const void *bytes, size_t len, p4_error *err)
{
    if (path == NULL || (bytes == NULL && len > 0))
        return p4_error_set(err, P4_EINVAL, "p4_write_private_file: NULL argument");
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return p4_error_set(err, P4_EINVAL, "path too long: %.64s...", path);
    unlink(tmp); /* a leftover from a crash */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return p4_error_set(err, P4_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    const unsigned char *p = bytes;
    size_t done = 0;
    int ok = fchmod(fd, 0600) == 0;
    while (ok && done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        if (ok)
            done += (size_t)n;
    }
    ok = ok && fsync(fd) == 0;
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok || rename(tmp, path) != 0) {
        if (ok)
            saved = errno;
        unlink(tmp);
        return p4_error_set(err, P4_EIO, "%s: cannot write: %s", path, strerror(saved));
    }
    return P4_OK;
}
