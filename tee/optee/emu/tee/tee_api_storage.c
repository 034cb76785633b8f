/* tee_api_storage.c: persistent data objects in TEE_STORAGE_PRIVATE.
 *
 * The harness keeps a TA's objects in its own directory (given by the
 * client), one file per object named by the object ID in hex.  Every write
 * replaces the file atomically (temporary file, fsync, rename, fsync of the
 * directory), as GP requires writes to be atomic.  A handle holds an
 * exclusive flock on the object's lock file for its lifetime, so a second
 * handle, from this TA process or another, gets TEE_ERROR_ACCESS_CONFLICT:
 * stricter than GP's share flags, which p4's TA does not use.
 * Unlike OP-TEE's REE FS, nothing here is encrypted or authenticated: the
 * harness protects nothing from the host (docs/tee.md). */
#define _GNU_SOURCE
#include "tee_internal_api.h"
#include "tee/optee/emu/tee/ta_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HANDLE_MAGIC 0x4F424A31u /* "OBJ1" */

struct __TEE_ObjectHandle {
    uint32_t magic;
    uint32_t flags;
    int lock_fd;
    char path[PATH_MAX];  /* the data file  */
    unsigned char *data;
    size_t len, pos;
};

static char storage_dir[PATH_MAX] = ".";

void p4_ta_runtime_set_storage_dir(const char *dir)
{
    snprintf(storage_dir, sizeof storage_dir, "%s", dir);
}

const char *p4_ta_runtime_storage_dir(void)
{
    return storage_dir;
}

static void check_handle(TEE_ObjectHandle h)
{
    if (!h || h->magic != HANDLE_MAGIC)
        TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
}

/* <dir>/<hex id><suffix>. */
static int object_path(const void *id, size_t id_len, const char *suffix, char *out, size_t size)
{
    char hex[2 * TEE_OBJECT_ID_MAX_LEN + 1];
    const unsigned char *b = id;
    for (size_t i = 0; i < id_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", b[i]);
    hex[2 * id_len] = '\0';
    int n = snprintf(out, size, "%s/obj-%s%s", storage_dir, hex, suffix);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Replaces the data file with data[0..len) atomically and durably. */
static TEE_Result persist(const char *path, const unsigned char *data, size_t len)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return TEE_ERROR_STORAGE_NOT_AVAILABLE;
    int bad = write_all(fd, data, len) != 0 || fsync(fd) != 0;
    bad |= close(fd) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return TEE_ERROR_STORAGE_NO_SPACE;
    }
    int dir = open(storage_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
        fsync(dir);
        close(dir);
    }
    return TEE_SUCCESS;
}

static TEE_Result read_file(const char *path, unsigned char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? TEE_ERROR_ITEM_NOT_FOUND : TEE_ERROR_STORAGE_NOT_AVAILABLE;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (uint64_t)st.st_size > TEE_DATA_MAX_POSITION) {
        close(fd);
        return TEE_ERROR_CORRUPT_OBJECT;
    }
    size_t n = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        close(fd);
        return TEE_ERROR_OUT_OF_MEMORY;
    }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        return TEE_ERROR_CORRUPT_OBJECT;
    }
    *data = buf;
    *len = n;
    return TEE_SUCCESS;
}

/* A handle with the object's lock held, or ACCESS_CONFLICT. */
static TEE_Result handle_new(uint32_t storageID, const void *id, size_t id_len, uint32_t flags,
                             TEE_ObjectHandle *out)
{
    if (id_len > TEE_OBJECT_ID_MAX_LEN || (!id && id_len))
        TEE_Panic(TEE_ERROR_BAD_PARAMETERS); /* as GP specifies */
    if (storageID != TEE_STORAGE_PRIVATE)
        return TEE_ERROR_ITEM_NOT_FOUND;
    TEE_ObjectHandle h = calloc(1, sizeof *h);
    if (!h)
        return TEE_ERROR_OUT_OF_MEMORY;
    char lock[PATH_MAX];
    if (object_path(id, id_len, "", h->path, sizeof h->path) ||
        object_path(id, id_len, ".lock", lock, sizeof lock)) {
        free(h);
        return TEE_ERROR_STORAGE_NOT_AVAILABLE;
    }
    h->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (h->lock_fd < 0) {
        free(h);
        return TEE_ERROR_STORAGE_NOT_AVAILABLE;
    }
    if (flock(h->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        close(h->lock_fd);
        free(h);
        return TEE_ERROR_ACCESS_CONFLICT;
    }
    h->magic = HANDLE_MAGIC;
    h->flags = flags;
    *out = h;
    return TEE_SUCCESS;
}

static void handle_free(TEE_ObjectHandle h)
{
    h->magic = 0;
    close(h->lock_fd);
    free(h->data);
    free(h);
}

TEE_Result TEE_CreatePersistentObject(uint32_t storageID, const void *objectID,
                                      size_t objectIDLen, uint32_t flags,
                                      TEE_ObjectHandle attributes, const void *initialData,
                                      size_t initialDataLen, TEE_ObjectHandle *object)
{
    if (object)
        *object = TEE_HANDLE_NULL;
    if (attributes != TEE_HANDLE_NULL)
        return TEE_ERROR_NOT_SUPPORTED; /* pure data objects only */
    if (initialDataLen > TEE_DATA_MAX_POSITION || (!initialData && initialDataLen))
        return TEE_ERROR_BAD_PARAMETERS;
    TEE_ObjectHandle h;
    TEE_Result r = handle_new(storageID, objectID, objectIDLen, flags, &h);
    if (r != TEE_SUCCESS)
        return r;
    if (!(flags & TEE_DATA_FLAG_OVERWRITE) && access(h->path, F_OK) == 0) {
        handle_free(h);
        return TEE_ERROR_ACCESS_CONFLICT;
    }
    h->data = malloc(initialDataLen ? initialDataLen : 1);
    if (!h->data) {
        handle_free(h);
        return TEE_ERROR_OUT_OF_MEMORY;
    }
    if (initialDataLen)
        memcpy(h->data, initialData, initialDataLen);
    h->len = initialDataLen;
    r = persist(h->path, h->data, h->len);
    if (r != TEE_SUCCESS || !object) {
        handle_free(h);
        return r;
    }
    *object = h;
    return TEE_SUCCESS;
}

TEE_Result TEE_OpenPersistentObject(uint32_t storageID, const void *objectID,
                                    size_t objectIDLen, uint32_t flags,
                                    TEE_ObjectHandle *object)
{
    if (!object)
        TEE_Panic(TEE_ERROR_BAD_PARAMETERS);
    *object = TEE_HANDLE_NULL;
    TEE_ObjectHandle h;
    TEE_Result r = handle_new(storageID, objectID, objectIDLen, flags, &h);
    if (r != TEE_SUCCESS)
        return r;
    r = read_file(h->path, &h->data, &h->len);
    if (r != TEE_SUCCESS) {
        handle_free(h);
        return r;
    }
    *object = h;
    return TEE_SUCCESS;
}

TEE_Result TEE_ReadObjectData(TEE_ObjectHandle object, void *buffer, size_t size, size_t *count)
{
    check_handle(object);
    if (!(object->flags & TEE_DATA_FLAG_ACCESS_READ) || !count || (!buffer && size))
        TEE_Panic(TEE_ERROR_ACCESS_DENIED);
    size_t left = object->pos < object->len ? object->len - object->pos : 0;
    size_t n = size < left ? size : left;
    if (n)
        memcpy(buffer, object->data + object->pos, n);
    object->pos += n;
    *count = n;
    return TEE_SUCCESS;
}

/* Makes the object's data `len` bytes (zero-extended), then copies src. */
static TEE_Result rewrite(TEE_ObjectHandle h, size_t len, size_t at, const void *src, size_t n)
{
    unsigned char *data = calloc(1, len ? len : 1);
    if (!data)
        return TEE_ERROR_OUT_OF_MEMORY;
    memcpy(data, h->data, h->len < len ? h->len : len);
    if (n)
        memcpy(data + at, src, n);
    TEE_Result r = persist(h->path, data, len);
    if (r != TEE_SUCCESS) {
        free(data);
        return r;
    }
    free(h->data);
    h->data = data;
    h->len = len;
    return TEE_SUCCESS;
}

TEE_Result TEE_WriteObjectData(TEE_ObjectHandle object, const void *buffer, size_t size)
{
    check_handle(object);
    if (!(object->flags & TEE_DATA_FLAG_ACCESS_WRITE) || (!buffer && size))
        TEE_Panic(TEE_ERROR_ACCESS_DENIED);
    if (size > TEE_DATA_MAX_POSITION - object->pos)
        return TEE_ERROR_OVERFLOW;
    size_t end = object->pos + size;
    TEE_Result r = rewrite(object, end > object->len ? end : object->len, object->pos, buffer, size);
    if (r == TEE_SUCCESS)
        object->pos = end;
    return r;
}

TEE_Result TEE_TruncateObjectData(TEE_ObjectHandle object, size_t size)
{
    check_handle(object);
    if (!(object->flags & TEE_DATA_FLAG_ACCESS_WRITE))
        TEE_Panic(TEE_ERROR_ACCESS_DENIED);
    if (size > TEE_DATA_MAX_POSITION)
        return TEE_ERROR_STORAGE_NO_SPACE;
    return rewrite(object, size, 0, NULL, 0);
}

TEE_Result TEE_SeekObjectData(TEE_ObjectHandle object, intmax_t offset, TEE_Whence whence)
{
    check_handle(object);
    intmax_t base = whence == TEE_DATA_SEEK_SET ? 0
                  : whence == TEE_DATA_SEEK_CUR ? (intmax_t)object->pos
                  : whence == TEE_DATA_SEEK_END ? (intmax_t)object->len : -1;
    if (base < 0)
        return TEE_ERROR_BAD_PARAMETERS;
    if (offset > 0 && offset > (intmax_t)TEE_DATA_MAX_POSITION - base)
        return TEE_ERROR_OVERFLOW;
    intmax_t pos = base + offset;
    object->pos = pos < 0 ? 0 : (size_t)pos; /* GP: a negative position is 0 */
    return TEE_SUCCESS;
}

void TEE_CloseObject(TEE_ObjectHandle object)
{
    if (object == TEE_HANDLE_NULL)
        return;
    check_handle(object);
    handle_free(object);
}

TEE_Result TEE_CloseAndDeletePersistentObject1(TEE_ObjectHandle object)
{
    if (object == TEE_HANDLE_NULL)
        return TEE_SUCCESS;
    check_handle(object);
    if (!(object->flags & TEE_DATA_FLAG_ACCESS_WRITE_META))
        TEE_Panic(TEE_ERROR_ACCESS_DENIED);
    TEE_Result r = unlink(object->path) == 0 || errno == ENOENT ? TEE_SUCCESS
                                                              : TEE_ERROR_STORAGE_NOT_AVAILABLE;
    handle_free(object);
    return r;
}
