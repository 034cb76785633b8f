/* evidence_tsm.c: a token from Linux's configfs-tsm report interface; see
 * evidence.h for the steps and Documentation/ABI/testing/configfs-tsm-report
 * for the attributes. */
#include "tee/cca/evidence_source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tee/cca/token.h"

/* A report directory, and one of its attributes. */
#define DIR_MAX (P4_CCA_EVIDENCE_TEXT_MAX + 300)
#define ATTRIBUTE_PATH_MAX (DIR_MAX + 32)

/* Reads all of path, up to max bytes, into *out (malloc'd, NUL-terminated). */
static int read_attribute(const char *path, size_t max, uint8_t **out, size_t *len,
                          p4_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return p4_error_set(err, P4_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t *buf = malloc(max + 1);
    size_t used = 0;
    int rc = buf ? P4_OK : p4_error_set(err, P4_ENOMEM, "out of memory");
    while (rc == P4_OK) {
        ssize_t n = read(fd, buf + used, max + 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = p4_error_set(err, P4_EIO, "%s: cannot read: %s", path, strerror(errno));
        else if (n == 0)
            break;
        else if ((used += (size_t)n) > max)
            rc = p4_error_set(err, P4_EFORMAT, "%s: longer than %zu bytes", path, max);
    }
    close(fd);
    if (rc != P4_OK) {
        free(buf);
        return rc;
    }
    buf[used] = '\0';
    *out = buf;
    *len = used;
    return P4_OK;
}

/* A short text attribute without its trailing newline. */
static int read_text(const char *path, char *out, size_t cap, p4_error *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_attribute(path, cap - 1, &buf, &len, err);
    if (rc != P4_OK)
        return rc;
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    memcpy(out, buf, len);
    out[len] = '\0';
    free(buf);
    return P4_OK;
}

static int read_generation(const char *dir, unsigned long long *generation, p4_error *err)
{
    char path[ATTRIBUTE_PATH_MAX], text[32];
    snprintf(path, sizeof path, "%s/generation", dir);
    int rc = read_text(path, text, sizeof text, err);
    if (rc != P4_OK)
        return rc;
    char *end = NULL;
    errno = 0;
    *generation = strtoull(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0)
        return p4_error_set(err, P4_EFORMAT, "%s: '%s' is not a generation number", path, text);
    return P4_OK;
}

static int write_inblob(const char *dir, const uint8_t challenge[64], p4_error *err)
{
    char path[ATTRIBUTE_PATH_MAX];
    snprintf(path, sizeof path, "%s/inblob", dir);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return p4_error_set(err, P4_EIO, "%s: cannot open for writing: %s", path,
                            strerror(errno));
    ssize_t n;
    do
        n = write(fd, challenge, 64);
    while (n < 0 && errno == EINTR);
    int saved = errno;
    if (close(fd) != 0 && n == 64)
        return p4_error_set(err, P4_EIO, "%s: write failed: %s", path, strerror(errno));
    if (n != 64)
        return p4_error_set(err, P4_EIO, "%s: wrote %zd of 64 bytes: %s", path, n,
                            n < 0 ? strerror(saved) : "short write");
    return P4_OK;
}

/* The steps inside one report directory. */
static int request(const char *dir, const uint8_t challenge[64], uint8_t **token,
                   size_t *token_len, p4_error *err)
{
    char path[ATTRIBUTE_PATH_MAX], provider[64];
    snprintf(path, sizeof path, "%s/provider", dir);
    int rc = read_text(path, provider, sizeof provider, err);
    if (rc != P4_OK)
        return rc;
    if (strcmp(provider, P4_CCA_TSM_PROVIDER) != 0)
        return p4_error_set(err, P4_EUNSUPPORTED,
                            "%s: the report provider is '%s', not the Arm CCA guest driver "
                            "(%s): this is not a CCA realm", path, provider,
                            P4_CCA_TSM_PROVIDER);
    unsigned long long before, after;
    if ((rc = read_generation(dir, &before, err)) != P4_OK ||
        (rc = write_inblob(dir, challenge, err)) != P4_OK)
        return rc;
    snprintf(path, sizeof path, "%s/outblob", dir);
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    if ((rc = read_attribute(path, P4_CCA_TOKEN_MAX, &blob, &blob_len, err)) != P4_OK)
        return rc;
    if ((rc = read_generation(dir, &after, err)) != P4_OK) {
        free(blob);
        return rc;
    }
    if (after != before + 1) {
        free(blob);
        return p4_error_set(err, P4_EIO,
                            "%s: generation went from %llu to %llu while p4 wrote inblob and "
                            "read outblob: another process wrote this report at the same time; "
                            "the token may answer its challenge, so retry", dir, before, after);
    }
    if (blob_len == 0) {
        free(blob);
        return p4_error_set(err, P4_EIO, "%s: empty outblob", path);
    }
    *token = blob;
    *token_len = blob_len;
    return P4_OK;
}

int p4_cca_tsm_get(p4_cca_evidence *self, const uint8_t challenge[64], uint8_t **token,
                   size_t *token_len, p4_error *err)
{
    char dir[DIR_MAX];
    int made = 0;
    if (self->report_name[0] != '\0') {
        snprintf(dir, sizeof dir, "%s/%s", self->root, self->report_name);
        if (mkdir(dir, 0700) == 0)
            made = 1;
        else if (errno != EEXIST)
            return p4_error_set(err, P4_EIO, "%s: cannot make the report directory: %s", dir,
                                strerror(errno));
    } else {
        /* A fresh directory: the pid and this source's counter keep
         * concurrent requesters apart. */
        for (int attempt = 0; attempt < 100 && !made; attempt++) {
            snprintf(dir, sizeof dir, "%s/p4-%ld-%lu", self->root, (long)getpid(),
                     self->sequence++);
            if (mkdir(dir, 0700) == 0)
                made = 1;
            else if (errno != EEXIST)
                break;
        }
        if (!made) {
            struct stat st;
            if (stat(self->root, &st) != 0)
                return p4_error_set(err, P4_EUNSUPPORTED,
                                    "%s does not exist: not a realm with configfs-tsm (needs "
                                    "CONFIG_TSM_REPORTS and configfs mounted at "
                                    "/sys/kernel/config)", self->root);
            return p4_error_set(err, P4_EIO, "%s: cannot make a report directory: %s",
                                self->root, strerror(errno));
        }
    }
    int rc = request(dir, challenge, token, token_len, err);
    if (made && self->report_name[0] == '\0')
        rmdir(dir); /* configfs removes the report's attributes with it */
    return rc;
}
