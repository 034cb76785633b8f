/* identity.c: CURVE key files and Z85 text; see identity.h. */
#define _GNU_SOURCE
#include "cluster/identity.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "common/private_file.h"

static const char z85_alphabet[] =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

void p4_key_to_z85(const uint8_t key[P4_KEY_BYTES], char text[P4_KEY_Z85_CHARS + 1])
{
    if (key == NULL || text == NULL)
        return;
    zmq_z85_encode(text, key, P4_KEY_BYTES);
}

int p4_key_from_z85(const char *text, uint8_t key[P4_KEY_BYTES], p4_error *err)
{
    if (text == NULL || key == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_key_from_z85: NULL argument");
    size_t n = strlen(text);
    if (n != P4_KEY_Z85_CHARS)
        return p4_error_set(err, P4_EINVAL, "key '%.48s' has %zu characters (a Z85 key has %d)",
                            text, n, P4_KEY_Z85_CHARS);
    for (size_t i = 0; i < n; i++)
        if (strchr(z85_alphabet, text[i]) == NULL)
            return p4_error_set(err, P4_EINVAL, "key '%s': character %zu ('%c') is not Z85",
                                text, i, isprint((unsigned char)text[i]) ? text[i] : '?');
    char again[P4_KEY_Z85_CHARS + 1];
    /* A 5-character group above 2^32 - 1 would wrap: re-encoding catches it. */
    if (zmq_z85_decode(key, text) == NULL || zmq_z85_encode(again, key, P4_KEY_BYTES) == NULL ||
        strcmp(again, text) != 0)
        return p4_error_set(err, P4_EINVAL, "key '%s' is not a valid Z85 encoding", text);
    return P4_OK;
}

int p4_key_list_parse(const char *text, uint8_t (*keys)[P4_KEY_BYTES], size_t max, size_t *count,
                      p4_error *err)
{
    if (text == NULL || count == NULL || (keys == NULL && max > 0))
        return p4_error_set(err, P4_EINVAL, "p4_key_list_parse: NULL argument");
    *count = 0;
    const char *p = text;
    for (;;) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            return P4_OK;
        size_t n = strcspn(p, ", \t\r\n\f\v");
        char word[P4_KEY_Z85_CHARS + 2];
        snprintf(word, sizeof word, "%.*s", (int)(n < sizeof word - 1 ? n : sizeof word - 1), p);
        if (*count >= max)
            return p4_error_set(err, P4_EINVAL, "key list holds more than %zu keys", max);
        int rc = p4_key_from_z85(word, keys[*count], err);
        if (rc != P4_OK)
            return p4_error_set(err, rc, "key %zu of the list: %s", *count + 1,
                                n == P4_KEY_Z85_CHARS ? "not valid Z85"
                                                      : "not 40 Z85 characters");
        (*count)++;
        p += n;
    }
}

/* ---- key files ---- */

static void path_in(const char *dir, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", dir, name);
}

/* Reads a key file: a regular file holding 40 Z85 characters and an optional
 * newline.  secret: also refuse it when group or others have any access.
 * P4_EIO with errno ENOENT left in *missing when there is no such file. */
static int read_key_file(const char *path, int secret, uint8_t key[P4_KEY_BYTES], int *missing,
                         p4_error *err)
{
    *missing = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        *missing = errno == ENOENT;
        return p4_error_set(err, P4_EIO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return p4_error_set(err, P4_EIO, "%s: not a regular file", path);
    }
    if (secret && (st.st_mode & 077) != 0) {
        close(fd);
        return p4_error_set(err, P4_ECRYPTO,
                            "%s: secret key file has mode %03o, readable beyond its owner; "
                            "run `chmod 600 %s` if the key was not exposed, else remove it "
                            "and the node gets a new identity",
                            path, (unsigned)(st.st_mode & 0777), path);
    }
    char text[P4_KEY_Z85_CHARS + 3];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n < 0)
        return p4_error_set(err, P4_EIO, "%s: cannot read: %s", path, strerror(errno));
    text[n] = '\0';
    if (n == P4_KEY_Z85_CHARS + 1 && text[P4_KEY_Z85_CHARS] == '\n')
        text[P4_KEY_Z85_CHARS] = '\0';
    if (strlen(text) != P4_KEY_Z85_CHARS || (size_t)n > P4_KEY_Z85_CHARS + 1)
        return p4_error_set(err, P4_EFORMAT,
                            "%s: malformed key file (want 40 Z85 characters and a newline, "
                            "found %zd bytes)",
                            path, n);
    p4_error inner;
    int rc = p4_key_from_z85(text, key, &inner);
    sodium_memzero(text, sizeof text);
    if (rc != P4_OK)
        return p4_error_set(err, P4_EFORMAT, "%s: malformed key file: %s", path,
                            secret ? "not valid Z85" : inner.message);
    return P4_OK;
}

/* Writes a key as Z85 text to path, mode 0600, atomically (temp + rename). */
static int write_key_file(const char *path, const uint8_t key[P4_KEY_BYTES], p4_error *err)
{
    char text[P4_KEY_Z85_CHARS + 2];
    p4_key_to_z85(key, text);
    text[P4_KEY_Z85_CHARS] = '\n';
    int rc = p4_write_private_file(path, text, P4_KEY_Z85_CHARS + 1, err);
    sodium_memzero(text, sizeof text);
    return rc;
}

static int ensure_state_dir(const char *dir, p4_error *err)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            return p4_error_set(err, P4_EIO, "%s: state directory is not a directory", dir);
        return P4_OK;
    }
    if (errno != ENOENT || mkdir(dir, 0700) != 0)
        return p4_error_set(err, P4_EIO, "%s: cannot create state directory: %s", dir,
                            strerror(errno));
    return P4_OK;
}

int p4_identity_load_or_create(const char *state_dir, p4_identity *identity, int *created,
                               p4_error *err)
{
    if (state_dir == NULL || identity == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_identity_load_or_create: NULL argument");
    if (created != NULL)
        *created = 0;
    memset(identity, 0, sizeof *identity);
    if (strlen(state_dir) > 4000)
        return p4_error_set(err, P4_EINVAL, "state directory path too long");
    if (!zmq_has("curve"))
        return p4_error_set(err, P4_EUNSUPPORTED, "this libzmq was built without CURVE");
    int rc = ensure_state_dir(state_dir, err);
    if (rc != P4_OK)
        return rc;
    char key_path[4100], pub_path[4100];
    path_in(state_dir, "node.key", key_path, sizeof key_path);
    path_in(state_dir, "node.pub", pub_path, sizeof pub_path);

    int key_missing = 0, pub_missing = 0;
    p4_error inner;
    rc = read_key_file(key_path, 1, identity->secret_key, &key_missing, &inner);
    if (rc != P4_OK && !key_missing) {
        p4_identity_wipe(identity);
        return p4_error_set(err, rc, "%s", inner.message);
    }
    uint8_t pub_on_disk[P4_KEY_BYTES];
    int pub_rc = read_key_file(pub_path, 0, pub_on_disk, &pub_missing, &inner);
    if (pub_rc != P4_OK && !pub_missing) {
        p4_identity_wipe(identity);
        return p4_error_set(err, pub_rc, "%s", inner.message);
    }

    if (key_missing) {
        if (!pub_missing)
            return p4_error_set(err, P4_ECRYPTO,
                                "%s exists but %s does not: the secret key is lost; remove %s "
                                "to give this node a new identity",
                                pub_path, key_path, pub_path);
        char pub_z85[P4_KEY_Z85_CHARS + 1], sec_z85[P4_KEY_Z85_CHARS + 1];
        if (zmq_curve_keypair(pub_z85, sec_z85) != 0)
            return p4_error_set(err, P4_ECRYPTO, "cannot make a CURVE key pair: %s",
                                zmq_strerror(zmq_errno()));
        zmq_z85_decode(identity->public_key, pub_z85);
        zmq_z85_decode(identity->secret_key, sec_z85);
        sodium_memzero(sec_z85, sizeof sec_z85);
        if ((rc = write_key_file(key_path, identity->secret_key, err)) != P4_OK ||
            (rc = write_key_file(pub_path, identity->public_key, err)) != P4_OK) {
            p4_identity_wipe(identity);
            return rc;
        }
        if (created != NULL)
            *created = 1;
        return P4_OK;
    }

    /* The public key follows from the secret one; node.pub is a copy for
     * operators to hand out, and must agree. */
    char sec_z85[P4_KEY_Z85_CHARS + 1], pub_z85[P4_KEY_Z85_CHARS + 1];
    p4_key_to_z85(identity->secret_key, sec_z85);
    rc = zmq_curve_public(pub_z85, sec_z85);
    sodium_memzero(sec_z85, sizeof sec_z85);
    if (rc != 0) {
        p4_identity_wipe(identity);
        return p4_error_set(err, P4_ECRYPTO, "%s: cannot derive the public key: %s", key_path,
                            zmq_strerror(zmq_errno()));
    }
    zmq_z85_decode(identity->public_key, pub_z85);
    if (pub_missing) {
        rc = write_key_file(pub_path, identity->public_key, err);
        if (rc != P4_OK)
            p4_identity_wipe(identity);
        return rc;
    }
    if (memcmp(pub_on_disk, identity->public_key, P4_KEY_BYTES) != 0) {
        p4_identity_wipe(identity);
        return p4_error_set(err, P4_ECRYPTO,
                            "%s does not match the secret key in %s (remove %s to rewrite it)",
                            pub_path, key_path, pub_path);
    }
    return P4_OK;
}

void p4_identity_wipe(p4_identity *identity)
{
    if (identity != NULL)
        sodium_memzero(identity, sizeof *identity);
}
