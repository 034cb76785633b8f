/* cfg.c: darknet .cfg checker and normaliser; see cfg.h. */
#include "model/cfg.h"

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CFG_MAX_BYTES (1 << 20)         /* a model definition is small    */
#define CFG_MAX_DIM 4096                /* width/height/channels/filters  */
#define CFG_MAX_LAYER_FLOATS (1 << 26)  /* 256 MiB of floats in one layer */

/* One "key=value" line of the section being read. */
typedef struct {
    char key[32];
    char value[64];
    int line;
    int used;
} cfg_option;

typedef struct {
    char name[32];
    int line;
    int noptions;
    cfg_option option[32];
} cfg_section;

typedef struct {
    const char *name;       /* file name for messages */
    p4_error *err;
    const p4_cfg_shape *shape;
    int batch;
    char *out;              /* normalised text being built */
    size_t out_len, out_cap;
} cfg_reader;

static int append(cfg_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int append(cfg_reader *r, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = r->out_cap - r->out_len;
        va_start(ap, fmt);
        int n = vsnprintf(r->out + r->out_len, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return P4_EINVAL;
        if ((size_t)n < room) {
            r->out_len += (size_t)n;
            return P4_OK;
        }
        size_t cap = r->out_cap * 2 + (size_t)n;
        char *grown = realloc(r->out, cap);
        if (grown == NULL)
            return P4_ENOMEM;
        r->out = grown;
        r->out_cap = cap;
    }
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static cfg_option *find_option(cfg_section *s, const char *key)
{
    for (int i = 0; i < s->noptions; i++)
        if (strcmp(s->option[i].key, key) == 0) {
            s->option[i].used = 1;
            return &s->option[i];
        }
    return NULL;
}

/* Reads an integer option in [min, max]; absent gives def. */
static int get_int(cfg_reader *r, cfg_section *s, const char *key, int def,
                   int min, int max, int *out)
{
    cfg_option *o = find_option(s, key);
    if (o == NULL) {
        *out = def;
        return P4_OK;
    }
    char *end;
    errno = 0;
    long v = strtol(o->value, &end, 10);
    if (errno != 0 || end == o->value || *end != '\0')
        return p4_error_set(r->err, P4_EMODEL, "%s:%d: [%s] %s=%s: not an integer",
                            r->name, o->line, s->name, key, o->value);
    if (v < min || v > max)
        return p4_error_set(r->err, P4_EMODEL, "%s:%d: [%s] %s=%ld: must be in [%d, %d]",
                            r->name, o->line, s->name, key, v, min, max);
    *out = (int)v;
    return P4_OK;
}

static int get_activation(cfg_reader *r, cfg_section *s, const char **out)
{
    static const char *const allowed[] = {"relu", "linear", "leaky", "logistic", "tanh"};
    cfg_option *o = find_option(s, "activation");
    if (o == NULL) {
        *out = "logistic"; /* darknet's default */
        return P4_OK;
    }
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strcmp(o->value, allowed[i]) == 0) {
            *out = allowed[i];
            return P4_OK;
        }
    return p4_error_set(r->err, P4_EMODEL,
                        "%s:%d: [%s] activation=%s: must be relu, linear, leaky, logistic or tanh",
                        r->name, o->line, s->name, o->value);
}

static int reject_unused(cfg_reader *r, cfg_section *s)
{
    for (int i = 0; i < s->noptions; i++)
        if (!s->option[i].used)
            return p4_error_set(r->err, P4_EMODEL, "%s:%d: [%s] unknown key '%s'",
                                r->name, s->option[i].line, s->name, s->option[i].key);
    return P4_OK;
}

static int check_floats(cfg_reader *r, cfg_section *s, long long floats)
{
    if (floats <= 0 || floats > CFG_MAX_LAYER_FLOATS)
        return p4_error_set(r->err, P4_EMODEL,
                            "%s:%d: [%s] layer would hold %lld values (limit %d)",
                            r->name, s->line, s->name, floats, CFG_MAX_LAYER_FLOATS);
    return P4_OK;
}

/* [net]: checks the input shape and writes the normalised header. */
static int do_net(cfg_reader *r, cfg_section *s, p4_cfg_layer *shape_out)
{
    int w, h, c, ignored, rc;
    if ((rc = get_int(r, s, "width", -1, 1, CFG_MAX_DIM, &w)) ||
        (rc = get_int(r, s, "height", -1, 1, CFG_MAX_DIM, &h)) ||
        (rc = get_int(r, s, "channels", -1, 1, CFG_MAX_DIM, &c)) ||
        (rc = get_int(r, s, "batch", 1, 1, 1 << 20, &ignored)) ||
        (rc = get_int(r, s, "subdivisions", 1, 1, 1 << 20, &ignored)) ||
        (rc = get_int(r, s, "max_batches", 0, 0, INT_MAX, &ignored)))
        return rc;
    /* Optimiser keys are accepted for compatibility and overridden by p4. */
    find_option(s, "learning_rate");
    find_option(s, "momentum");
    find_option(s, "decay");
    find_option(s, "policy");
    if (w < 0 || h < 0 || c < 0)
        return p4_error_set(r->err, P4_EMODEL, "%s:%d: [net] needs width, height and channels",
                            r->name, s->line);
    const p4_cfg_shape *d = r->shape;
    if (w != d->width || h != d->height || c != d->channels)
        return p4_error_set(r->err, P4_EMODEL,
                            "%s:%d: [net] input is %dx%dx%d but the dataset's images are %dx%dx%d",
                            r->name, s->line, w, h, c, d->width, d->height, d->channels);
    shape_out->out_w = w;
    shape_out->out_h = h;
    shape_out->out_c = c;
    return append(r, "[net]\nbatch=%d\nsubdivisions=1\nwidth=%d\nheight=%d\nchannels=%d\n"
                     "learning_rate=0.01\nmomentum=0\ndecay=0\n\n", r->batch, w, h, c);
}

static int do_connected(cfg_reader *r, cfg_section *s, p4_cfg_layer *l)
{
    int out, rc;
    const char *act;
    cfg_option *o = find_option(s, "output");
    if (o != NULL && strcmp(o->value, "classes") == 0) {
        out = r->shape->classes;
    } else {
        if (o != NULL)
            o->used = 0; /* let get_int find it again */
        if ((rc = get_int(r, s, "output", -1, 1, 1 << 20, &out)))
            return rc;
        if (out < 0)
            return p4_error_set(r->err, P4_EMODEL, "%s:%d: [connected] needs output=",
                                r->name, s->line);
    }
    if ((rc = get_activation(r, s, &act)))
        return rc;
    long long inputs = (long long)l->in_w * l->in_h * l->in_c;
    if ((rc = check_floats(r, s, inputs * out)))
        return rc;
    l->kind = P4_LAYER_CONNECTED;
    l->out_w = 1;
    l->out_h = 1;
    l->out_c = out;
    l->params = (int)(inputs * out + out);
    return append(r, "[connected]\noutput=%d\nactivation=%s\n\n", out, act);
}

static int do_convolutional(cfg_reader *r, cfg_section *s, p4_cfg_layer *l)
{
    int filters, size, stride, pad, rc;
    const char *act;
    if ((rc = get_int(r, s, "filters", -1, 1, CFG_MAX_DIM, &filters)) ||
        (rc = get_int(r, s, "size", -1, 1, 31, &size)) ||
        (rc = get_int(r, s, "stride", 1, 1, 31, &stride)) ||
        (rc = get_int(r, s, "pad", 0, 0, 1, &pad)) ||
        (rc = get_activation(r, s, &act)))
        return rc;
    if (filters < 0 || size < 0)
        return p4_error_set(r->err, P4_EMODEL, "%s:%d: [convolutional] needs filters= and size=",
                            r->name, s->line);
    int padding = pad ? size / 2 : 0; /* darknet's meaning of pad=1 */
    int ow = (l->in_w + 2 * padding - size) / stride + 1;
    int oh = (l->in_h + 2 * padding - size) / stride + 1;
    if (l->in_w + 2 * padding < size || l->in_h + 2 * padding < size || ow < 1 || oh < 1)
        return p4_error_set(r->err, P4_EMODEL,
                            "%s:%d: [convolutional] size=%d does not fit a %dx%d input",
                            r->name, s->line, size, l->in_w, l->in_h);
    long long weights = (long long)filters * size * size * l->in_c;
    long long column = (long long)size * size * l->in_c * ow * oh;
    if ((rc = check_floats(r, s, weights)) || (rc = check_floats(r, s, column)) ||
        (rc = check_floats(r, s, (long long)ow * oh * filters)))
        return rc;
    l->kind = P4_LAYER_CONVOLUTIONAL;
    l->out_w = ow;
    l->out_h = oh;
    l->out_c = filters;
    l->params = (int)(weights + filters);
    return append(r, "[convolutional]\nfilters=%d\nsize=%d\nstride=%d\npad=%d\nactivation=%s\n\n",
                  filters, size, stride, pad, act);
}

static int do_maxpool(cfg_reader *r, cfg_section *s, p4_cfg_layer *l)
{
    int size, stride, rc;
    if ((rc = get_int(r, s, "size", 2, 1, 31, &size)) ||
        (rc = get_int(r, s, "stride", 2, 1, 31, &stride)))
        return rc;
    int padding = size - 1; /* darknet's default maxpool padding */
    int ow = (l->in_w + padding - size) / stride + 1;
    int oh = (l->in_h + padding - size) / stride + 1;
    if (ow < 1 || oh < 1)
        return p4_error_set(r->err, P4_EMODEL, "%s:%d: [maxpool] does not fit a %dx%d input",
                            r->name, s->line, l->in_w, l->in_h);
    l->kind = P4_LAYER_MAXPOOL;
    l->out_w = ow;
    l->out_h = oh;
    l->out_c = l->in_c;
    l->params = 0;
    return append(r, "[maxpool]\nsize=%d\nstride=%d\n\n", size, stride);
}

static int do_softmax(cfg_reader *r, cfg_section *s, p4_cfg_layer *l)
{
    int groups, rc;
    if ((rc = get_int(r, s, "groups", 1, 1, 1, &groups)))
        return rc;
    l->kind = P4_LAYER_SOFTMAX;
    l->out_w = l->in_w;
    l->out_h = l->in_h;
    l->out_c = l->in_c;
    l->params = 0;
    return append(r, "[softmax]\ngroups=1\n\n");
}

/* Checks one finished section and appends its normalised text. */
static int finish_section(cfg_reader *r, cfg_section *s, p4_cfg_summary *sum,
                          p4_cfg_layer *prev)
{
    int rc;
    if (sum->layers < 0) { /* the first section must be [net] */
        if (strcmp(s->name, "net") != 0 && strcmp(s->name, "network") != 0)
            return p4_error_set(r->err, P4_EMODEL, "%s:%d: the first section must be [net], not [%s]",
                                r->name, s->line, s->name);
        if ((rc = do_net(r, s, prev)))
            return rc;
        sum->layers = 0;
        return reject_unused(r, s);
    }
    if (sum->layers >= P4_CFG_MAX_LAYERS)
        return p4_error_set(r->err, P4_EMODEL, "%s:%d: more than %d layers",
                            r->name, s->line, P4_CFG_MAX_LAYERS);
    p4_cfg_layer *l = &sum->layer[sum->layers];
    memset(l, 0, sizeof *l);
    l->line = s->line;
    l->in_w = prev->out_w;
    l->in_h = prev->out_h;
    l->in_c = prev->out_c;
    if (strcmp(s->name, "connected") == 0)
        rc = do_connected(r, s, l);
    else if (strcmp(s->name, "convolutional") == 0 || strcmp(s->name, "conv") == 0)
        rc = do_convolutional(r, s, l);
    else if (strcmp(s->name, "maxpool") == 0 || strcmp(s->name, "max") == 0)
        rc = do_maxpool(r, s, l);
    else if (strcmp(s->name, "softmax") == 0 || strcmp(s->name, "soft") == 0)
        rc = do_softmax(r, s, l);
    else
        rc = p4_error_set(r->err, P4_EMODEL,
                          "%s:%d: layer type [%s] is not supported by p4 "
                          "(use connected, convolutional, maxpool, softmax)",
                          r->name, s->line, s->name);
    if (rc)
        return rc;
    if ((rc = reject_unused(r, s)))
        return rc;
    if (sum->layers > 0 && sum->layer[sum->layers - 1].kind == P4_LAYER_SOFTMAX)
        return p4_error_set(r->err, P4_EMODEL, "%s:%d: [softmax] must be the last layer",
                            r->name, sum->layer[sum->layers - 1].line);
    sum->params += l->params;
    *prev = *l;
    sum->layers++;
    return P4_OK;
}

/* The whole model: ends with linear [connected] of `classes` outputs + [softmax]. */
static int check_model_end(cfg_reader *r, const p4_cfg_summary *sum, const char *text)
{
    int n = sum->layers;
    if (n < 2 || sum->layer[n - 1].kind != P4_LAYER_SOFTMAX ||
        sum->layer[n - 2].kind != P4_LAYER_CONNECTED)
        return p4_error_set(r->err, P4_EMODEL,
                            "%s: the model must end with [connected] (activation=linear) then [softmax]",
                            r->name);
    if (sum->layer[n - 2].out_c != r->shape->classes)
        return p4_error_set(r->err, P4_EMODEL,
                            "%s:%d: the last [connected] has output=%d but the dataset has %d classes "
                            "(write output=classes)",
                            r->name, sum->layer[n - 2].line, sum->layer[n - 2].out_c, r->shape->classes);
    /* The logits layer must be linear: find its activation in the normalised text. */
    const char *last_connected = NULL;
    for (const char *p = strstr(text, "[connected]"); p != NULL; p = strstr(p + 1, "[connected]"))
        last_connected = p;
    if (last_connected == NULL || strstr(last_connected, "activation=linear\n") == NULL)
        return p4_error_set(r->err, P4_EMODEL,
                            "%s:%d: the last [connected] must have activation=linear (its outputs are the logits)",
                            r->name, sum->layer[n - 2].line);
    return P4_OK;
}

int p4_cfg_prepare_text(const char *name, const char *text, const p4_cfg_shape *shape,
                        int batch, char **text_out, p4_cfg_summary *summary, p4_error *err)
{
    if (name == NULL || text == NULL || shape == NULL || text_out == NULL || batch < 1)
        return p4_error_set(err, P4_EINVAL, "p4_cfg_prepare_text: bad arguments");
    if (shape->classes < 1 || shape->width < 1 || shape->height < 1 || shape->channels < 1)
        return p4_error_set(err, P4_EINVAL, "%s: the dataset shape is not valid", name);

    p4_cfg_summary local_summary;
    p4_cfg_summary *sum = summary ? summary : &local_summary;
    memset(sum, 0, sizeof *sum);
    sum->layers = -1; /* until [net] is seen */

    cfg_reader r = {.name = name, .err = err, .shape = shape, .batch = batch};
    r.out_cap = 1024;
    r.out = malloc(r.out_cap);
    if (r.out == NULL)
        return p4_error_set(err, P4_ENOMEM, "%s: out of memory", name);
    r.out[0] = '\0';

    cfg_section section = {0};
    int in_section = 0, line_no = 0, rc = P4_OK;
    p4_cfg_layer prev = {0};
    const char *p = text;
    while (rc == P4_OK && *p != '\0') {
        char line[256];
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        line_no++;
        if (len >= sizeof line) {
            rc = p4_error_set(err, P4_EMODEL, "%s:%d: line too long", name, line_no);
            break;
        }
        memcpy(line, p, len);
        line[len] = '\0';
        p += len + (nl ? 1 : 0);
        if (memchr(line, '\0', len) != NULL) {
            rc = p4_error_set(err, P4_EMODEL, "%s:%d: binary data in a cfg file", name, line_no);
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (close == NULL || close[1] != '\0' || close - s - 1 >= (long)sizeof section.name ||
                close == s + 1) {
                rc = p4_error_set(err, P4_EMODEL, "%s:%d: malformed section header '%s'", name, line_no, s);
                break;
            }
            if (in_section && (rc = finish_section(&r, &section, sum, &prev)))
                break;
            memset(&section, 0, sizeof section);
            memcpy(section.name, s + 1, (size_t)(close - s - 1));
            section.line = line_no;
            in_section = 1;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!in_section) {
            rc = p4_error_set(err, P4_EMODEL, "%s:%d: '%s' appears before any section", name, line_no, s);
        } else if (eq == NULL) {
            rc = p4_error_set(err, P4_EMODEL, "%s:%d: expected key=value, got '%s'", name, line_no, s);
        } else if (section.noptions == (int)(sizeof section.option / sizeof section.option[0])) {
            rc = p4_error_set(err, P4_EMODEL, "%s:%d: too many keys in [%s]", name, line_no, section.name);
        } else {
            *eq = '\0';
            char *key = trim(s), *value = trim(eq + 1);
            cfg_option *o = &section.option[section.noptions];
            if (strlen(key) >= sizeof o->key || strlen(value) >= sizeof o->value || *key == '\0') {
                rc = p4_error_set(err, P4_EMODEL, "%s:%d: key or value too long or empty", name, line_no);
            } else {
                for (int i = 0; i < section.noptions; i++)
                    if (strcmp(section.option[i].key, key) == 0)
                        rc = p4_error_set(err, P4_EMODEL, "%s:%d: [%s] key '%s' given twice",
                                          name, line_no, section.name, key);
                if (rc == P4_OK) {
                    strcpy(o->key, key);
                    strcpy(o->value, value);
                    o->line = line_no;
                    section.noptions++;
                }
            }
        }
    }
    if (rc == P4_OK && in_section)
        rc = finish_section(&r, &section, sum, &prev);
    if (rc == P4_OK && sum->layers < 0)
        rc = p4_error_set(err, P4_EMODEL, "%s: no [net] section: not a darknet model file", name);
    if (rc == P4_OK)
        rc = check_model_end(&r, sum, r.out);
    if (rc != P4_OK) {
        free(r.out);
        return rc;
    }
    *text_out = r.out;
    return P4_OK;
}

int p4_cfg_prepare(const char *path, const p4_cfg_shape *shape, int batch,
                   char **text_out, p4_cfg_summary *summary, p4_error *err)
{
    if (path == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cfg_prepare: no path");
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return p4_error_set(err, P4_EIO, "%s: cannot open model file: %s", path, strerror(errno));
    char *text = malloc(CFG_MAX_BYTES + 1);
    if (text == NULL) {
        fclose(f);
        return p4_error_set(err, P4_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(text, 1, CFG_MAX_BYTES + 1, f);
    int read_error = ferror(f);
    fclose(f);
    if (read_error || n > CFG_MAX_BYTES) {
        free(text);
        return p4_error_set(err, P4_EMODEL, "%s: %s", path,
                            read_error ? "read error" : "larger than 1 MiB: not a model definition");
    }
    text[n] = '\0';
    size_t text_len = strlen(text);
    if (text_len != n) {
        free(text);
        return p4_error_set(err, P4_EMODEL, "%s: byte %zu: binary data in a cfg file", path, text_len);
    }
    int rc = p4_cfg_prepare_text(path, text, shape, batch, text_out, summary, err);
    free(text);
    return rc;
}
