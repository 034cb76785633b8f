/* private_model.c: saving and loading a node's private model; see
 * private_model.h. */
#include "p4node/private_model.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/private_file.h"
#include "p4node/weights_file.h"

#define CFG_MAX_BYTES (1u << 20)

static int path_in(const char *dir, const char *name, char *out, size_t size, p4_error *err)
{
    if (snprintf(out, size, "%s/%s", dir, name) >= (int)size)
        return p4_error_set(err, P4_EINVAL, "state folder path too long: %s", dir);
    return P4_OK;
}

/* Reads a regular file of at most max bytes whole (malloc'd). */
static int read_whole(const char *path, size_t max, uint8_t **out, size_t *len, p4_error *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return p4_error_set(err, P4_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
        close(fd);
        return p4_error_set(err, P4_EFORMAT, "%s: not a regular file of at most %zu bytes", path,
                            max);
    }
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        close(fd);
        return p4_error_set(err, P4_ENOMEM, "%s: out of memory", path);
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (got != (size_t)st.st_size) {
        free(buf);
        return p4_error_set(err, P4_EIO, "%s: short read", path);
    }
    buf[got] = 0;
    *out = buf;
    *len = got;
    return P4_OK;
}

/* A model as cfg_name (its definition, copied) and weights_name. */
static int save_model(const char *state_dir, const char *cfg_name, const char *weights_name,
                      const char *cfg_path, const p4_cfg_shape *shape, const float *params,
                      size_t count, p4_error *err)
{
    if (state_dir == NULL || cfg_path == NULL || shape == NULL || params == NULL || count == 0)
        return p4_error_set(err, P4_EINVAL, "saving a served model: bad arguments");
    char cfg_out[4200], weights_out[4200];
    int rc = path_in(state_dir, cfg_name, cfg_out, sizeof cfg_out, err);
    if (rc == P4_OK)
        rc = path_in(state_dir, weights_name, weights_out, sizeof weights_out, err);
    if (rc != P4_OK)
        return rc;
    uint8_t *cfg = NULL, *buf = NULL;
    size_t cfg_len = 0;
    if ((rc = read_whole(cfg_path, CFG_MAX_BYTES, &cfg, &cfg_len, err)) != P4_OK)
        return rc;
    p4_weights_header h = {.shape = *shape, .count = count};
    size_t size = p4_weights_file_size(count);
    rc = p4_weights_digest(cfg, cfg_len, h.cfg_digest, err);
    if (rc == P4_OK && (buf = malloc(size)) == NULL)
        rc = p4_error_set(err, P4_ENOMEM, "out of memory for %zu bytes of weights", size);
    if (rc == P4_OK)
        rc = p4_weights_encode(&h, params, buf, size, err);
    /* The definition first: a weights file always finds its own cfg. */
    if (rc == P4_OK)
        rc = p4_write_private_file(cfg_out, cfg, cfg_len, err);
    if (rc == P4_OK)
        rc = p4_write_private_file(weights_out, buf, size, err);
    free(buf);
    free(cfg);
    return rc;
}

static int load_model(const char *state_dir, const char *cfg_name, const char *weights_name,
                      int batch, p4_model **out, p4_cfg_shape *shape, p4_error *err)
{
    if (state_dir == NULL || out == NULL || batch < 1)
        return p4_error_set(err, P4_EINVAL, "loading a served model: bad arguments");
    *out = NULL;
    char cfg_path[4200], weights_path[4200];
    int rc = path_in(state_dir, cfg_name, cfg_path, sizeof cfg_path, err);
    if (rc == P4_OK)
        rc = path_in(state_dir, weights_name, weights_path, sizeof weights_path, err);
    if (rc != P4_OK)
        return rc;
    uint8_t *bytes = NULL, *cfg = NULL;
    size_t len = 0, cfg_len = 0;
    float *values = NULL;
    p4_weights_header h;
    p4_error inner = {0};
    rc = read_whole(weights_path, p4_weights_file_size(P4_WEIGHTS_MAX_FLOATS), &bytes, &len, err);
    if (rc == P4_OK && (rc = p4_weights_decode(bytes, len, &h, NULL, &inner)) != P4_OK)
        rc = p4_error_set(err, rc, "%s: %s", weights_path, inner.message);
    if (rc == P4_OK && (values = malloc((size_t)h.count * sizeof *values)) == NULL)
        rc = p4_error_set(err, P4_ENOMEM, "out of memory for %llu weights",
                          (unsigned long long)h.count);
    if (rc == P4_OK)
        rc = p4_weights_decode(bytes, len, &h, values, err);
    if (rc == P4_OK)
        rc = read_whole(cfg_path, CFG_MAX_BYTES, &cfg, &cfg_len, err);
    uint8_t digest[P4_WEIGHTS_DIGEST_BYTES];
    if (rc == P4_OK && (rc = p4_weights_digest(cfg, cfg_len, digest, err)) == P4_OK &&
        memcmp(digest, h.cfg_digest, sizeof digest) != 0)
        rc = p4_error_set(err, P4_EMODEL, "%s does not belong to %s (the definition's digest "
                          "differs)", weights_path, cfg_path);
    p4_model *m = NULL;
    if (rc == P4_OK)
        rc = p4_model_new(&m, cfg_path, &h.shape, batch, 0, err);
    if (rc == P4_OK && p4_model_param_count(m) != h.count)
        rc = p4_error_set(err, P4_EMODEL, "%s holds %llu weights, %s needs %zu", weights_path,
                          (unsigned long long)h.count, cfg_path, p4_model_param_count(m));
    if (rc == P4_OK)
        rc = p4_model_set_params(m, values, (size_t)h.count);
    if (rc == P4_OK) {
        *out = m;
        if (shape != NULL)
            *shape = h.shape;
    } else {
        p4_model_destroy(&m);
    }
    free(values);
    free(cfg);
    free(bytes);
    return rc;
}

int p4_private_model_save(const char *state_dir, const char *cfg_path, const p4_cfg_shape *shape,
                          const float *params, size_t count, p4_error *err)
{
    return save_model(state_dir, P4_PRIVATE_CFG_NAME, P4_PRIVATE_WEIGHTS_NAME, cfg_path, shape,
                      params, count, err);
}

int p4_private_model_load(const char *state_dir, int batch, p4_model **out, p4_cfg_shape *shape,
                          p4_error *err)
{
    return load_model(state_dir, P4_PRIVATE_CFG_NAME, P4_PRIVATE_WEIGHTS_NAME, batch, out, shape,
                      err);
}

/* ---- [p4] predict = ensemble: the proxy beside it ------------------------ */

#define ENSEMBLE_MAX_BYTES 64

int p4_served_proxy_save(const char *state_dir, const char *cfg_path, const p4_cfg_shape *shape,
                         const float *params, size_t count, double proxy_weight, p4_error *err)
{
    if (state_dir == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_served_proxy_save: bad arguments");
    char path[4200];
    int rc = path_in(state_dir, P4_ENSEMBLE_NAME, path, sizeof path, err);
    if (rc != P4_OK)
        return rc;
    if (proxy_weight < 0) { /* the private model alone: no ensemble file, no stale proxy */
        if (unlink(path) != 0 && errno != ENOENT)
            return p4_error_set(err, P4_EIO, "%s: cannot remove: %s", path, strerror(errno));
        return P4_OK;
    }
    if (!(proxy_weight <= 1))
        return p4_error_set(err, P4_EINVAL, "ensemble weight %g is not in [0, 1]", proxy_weight);
    rc = save_model(state_dir, P4_PROXY_CFG_NAME, P4_PROXY_WEIGHTS_NAME, cfg_path, shape, params,
                    count, err);
    char line[ENSEMBLE_MAX_BYTES];
    int len = snprintf(line, sizeof line, "proxy_weight %.17g\n", proxy_weight);
    /* Last: a present ensemble file always finds its proxy. */
    if (rc == P4_OK)
        rc = p4_write_private_file(path, (const uint8_t *)line, (size_t)len, err);
    return rc;
}

int p4_served_proxy_load(const char *state_dir, int batch, p4_model **out, double *proxy_weight,
                         p4_cfg_shape *shape, p4_error *err)
{
    if (state_dir == NULL || out == NULL || proxy_weight == NULL || batch < 1)
        return p4_error_set(err, P4_EINVAL, "p4_served_proxy_load: bad arguments");
    *out = NULL;
    *proxy_weight = 0;
    char path[4200];
    int rc = path_in(state_dir, P4_ENSEMBLE_NAME, path, sizeof path, err);
    if (rc != P4_OK)
        return rc;
    if (access(path, F_OK) != 0 && errno == ENOENT)
        return P4_OK; /* the node predicts with its private model alone */
    uint8_t *text = NULL;
    size_t len = 0;
    if ((rc = read_whole(path, ENSEMBLE_MAX_BYTES, &text, &len, err)) != P4_OK)
        return rc;
    double w = -1;
    char end = 0;
    if (sscanf((const char *)text, "proxy_weight %lf%c", &w, &end) != 2 || end != '\n' ||
        !(w >= 0 && w <= 1))
        rc = p4_error_set(err, P4_EFORMAT, "%s: want one line \"proxy_weight W\" with W in "
                          "[0, 1]", path);
    free(text);
    if (rc == P4_OK)
        rc = load_model(state_dir, P4_PROXY_CFG_NAME, P4_PROXY_WEIGHTS_NAME, batch, out, shape,
                        err);
    if (rc == P4_OK)
        *proxy_weight = w;
    return rc;
}
