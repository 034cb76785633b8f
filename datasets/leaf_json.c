/* leaf_json.c: FEMNIST in LEAF's json format, parsed as a stream; see loaders.h.
 *
 * A LEAF file is one object with three keys, in any order:
 *   "users": [writer, ...], "num_samples": [count, ...],
 *   "user_data": {writer: {"x": [[784 values in [0,1]], ...], "y": [class, ...]}}.
 * yajl calls us once per token, and a small state machine (leaf_state) knows
 * where in that shape each token may come.  Rows go straight into the growing
 * dataset, so a 40 MB file is never held as a tree.  What cannot be checked
 * on the spot (users vs user_data vs num_samples) is recorded per writer and
 * checked when the file ends. */
#include "datasets/loaders.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yajl/yajl_parse.h>

#include "datasets/byte_source.h"
#include "datasets/name_table.h"

#define LEAF_SIDE 28
#define LEAF_PIXELS (LEAF_SIDE * LEAF_SIDE)
#define LEAF_CLASSES 62
#define LEAF_FIRST_CAPACITY 64
#define LEAF_CHUNK (256 * 1024)

typedef enum leaf_state {
    S_START,       /* before the top-level object           */
    S_TOP,         /* in the top-level object, between keys  */
    S_USERS_OPEN,  /* after "users":                         */
    S_USERS,       /* in the users array                     */
    S_NUMS_OPEN,   /* after "num_samples":                   */
    S_NUMS,        /* in the num_samples array               */
    S_DATA_OPEN,   /* after "user_data":                     */
    S_DATA,        /* in user_data, between writers          */
    S_WRITER_OPEN, /* after a writer's name                  */
    S_WRITER,      /* in a writer's object, between keys     */
    S_X_OPEN,      /* after "x":                             */
    S_X,           /* in x, between rows                     */
    S_ROW,         /* in one row of x                        */
    S_Y_OPEN,      /* after "y":                             */
    S_Y,           /* in y                                   */
    S_END          /* after the top-level object             */
} leaf_state;

static const char *const STATE_PLACE[] = {
    "at the top level", "in the top-level object", "after \"users\"",
    "in the \"users\" array", "after \"num_samples\"", "in the \"num_samples\" array",
    "after \"user_data\"", "in \"user_data\"", "after a writer name",
    "in a writer's object", "after \"x\"", "in \"x\"", "in a row of \"x\"",
    "after \"y\"", "in \"y\"", "after the top-level object"};

/* One writer as the current file declares it. */
typedef struct leaf_file_writer {
    char *name;
    int users_pos;                    /* index in "users", or -1          */
    unsigned long long users_offset;
    int data_count;                   /* examples in user_data, or -1     */
    unsigned long long data_offset;
} leaf_file_writer;

/* State that spans all files of one load. */
typedef struct leaf_loader {
    p4_dataset *ds;          /* ds->count is the capacity while loading */
    int stored;              /* examples complete so far                */
    int max_examples;
    p4_name_table writer_ids;   /* name -> global writer id            */
    char **names;            /* global writer names by id               */
    int writers, names_cap;
    int full;                /* max_examples reached: stop              */
} leaf_loader;

/* State of one file's parse. */
typedef struct leaf_parse {
    leaf_loader *ld;
    const char *file;
    yajl_handle yajl;
    unsigned long long base;     /* offset of the chunk yajl is parsing */
    leaf_state state;
    int seen_users, seen_nums, seen_data;
    unsigned long long nums_offset;
    p4_name_table local;         /* name -> index in fw                 */
    leaf_file_writer *fw;
    int nfw, fw_cap;
    int nusers;
    int *nums;
    int nnums, nums_cap;
    /* the writer being read */
    int cur;
    int seen_x, seen_y;
    int nx, ny;                  /* rows and labels seen               */
    int kept;                    /* rows stored in ds                  */
    int row_len;
    uint16_t *ylab;
    int ylab_cap;
    int stopped;                 /* cancelled on purpose: ld->full      */
    int rc;
    p4_error *err;
} leaf_parse;

static unsigned long long here(const leaf_parse *p)
{
    return p->base + (unsigned long long)yajl_get_bytes_consumed(p->yajl);
}

/* Records "file:offset: message" and returns 0, which makes yajl stop. */
__attribute__((format(printf, 4, 5)))
static int fail_at(leaf_parse *p, int code, unsigned long long offset, const char *fmt, ...)
{
    char msg[P4_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->rc = p4_error_set(p->err, code, "%s:%llu: %s", p->file, offset, msg);
    return 0;
}

#define FAIL(p, ...) fail_at((p), P4_EFORMAT, here(p), __VA_ARGS__)

static int unexpected(leaf_parse *p, const char *token)
{
    return FAIL(p, "unexpected %s %s", token, STATE_PLACE[p->state]);
}

/* Grows *items (of `size` bytes each) so that index `need` fits. */
static int reserve(void *items, int *cap, int need, size_t size)
{
    if (need < *cap)
        return 1;
    if (need >= INT_MAX / 2)
        return 0;
    int next = *cap > 0 ? *cap : 16;
    while (next <= need)
        next *= 2;
    void *grown = realloc(*(void **)items, (size_t)next * size);
    if (grown == NULL)
        return 0;
    *(void **)items = grown;
    *cap = next;
    return 1;
}

static int out_of_memory(leaf_parse *p)
{
    return fail_at(p, P4_ENOMEM, here(p), "out of memory");
}

/* The file-local entry for a writer name, created if new; -1 on error. */
static int file_writer(leaf_parse *p, const unsigned char *name, size_t len)
{
    if (memchr(name, '\0', len) != NULL) {
        FAIL(p, "writer name contains a NUL character");
        return -1;
    }
    int i = p4_name_table_find(&p->local, (const char *)name, len);
    if (i >= 0)
        return i;
    if (!reserve(&p->fw, &p->fw_cap, p->nfw, sizeof *p->fw) ||
        p4_name_table_put(&p->local, (const char *)name, len, p->nfw) != P4_OK ||
        (p->fw[p->nfw].name = strndup((const char *)name, len)) == NULL) {
        out_of_memory(p);
        return -1;
    }
    leaf_file_writer *w = &p->fw[p->nfw];
    w->users_pos = -1;
    w->data_count = -1;
    w->users_offset = w->data_offset = 0;
    return p->nfw++;
}

static int on_users_entry(leaf_parse *p, const unsigned char *s, size_t len)
{
    int i = file_writer(p, s, len);
    if (i < 0)
        return 0;
    if (p->fw[i].users_pos >= 0)
        return FAIL(p, "writer \"%s\" is listed twice in \"users\"", p->fw[i].name);
    p->fw[i].users_pos = p->nusers++;
    p->fw[i].users_offset = here(p);
    return 1;
}

static int on_writer_begin(leaf_parse *p, const unsigned char *s, size_t len)
{
    int i = file_writer(p, s, len);
    if (i < 0)
        return 0;
    if (p->fw[i].data_count >= 0)
        return FAIL(p, "writer \"%s\" appears twice in \"user_data\"", p->fw[i].name);
    p->fw[i].data_count = 0;
    p->fw[i].data_offset = here(p);
    p->cur = i;
    p->seen_x = p->seen_y = 0;
    p->nx = p->ny = p->kept = 0;
    return 1;
}

/* The global id of writer `name`, numbered in order of first appearance. */
static int global_writer(leaf_parse *p, const char *name)
{
    leaf_loader *ld = p->ld;
    int id = p4_name_table_find(&ld->writer_ids, name, strlen(name));
    if (id >= 0)
        return id;
    if (!reserve(&ld->names, &ld->names_cap, ld->writers, sizeof *ld->names) ||
        (ld->names[ld->writers] = strdup(name)) == NULL)
        return -1;
    if (p4_name_table_put(&ld->writer_ids, name, strlen(name), ld->writers) != P4_OK) {
        free(ld->names[ld->writers]);
        return -1;
    }
    return ld->writers++;
}

static int on_writer_end(leaf_parse *p)
{
    leaf_file_writer *w = &p->fw[p->cur];
    leaf_loader *ld = p->ld;
    if (!p->seen_x || !p->seen_y)
        return FAIL(p, "writer \"%s\" has no \"%s\"", w->name, p->seen_x ? "y" : "x");
    if (p->nx != p->ny)
        return FAIL(p, "writer \"%s\" has %d rows in \"x\" but %d labels in \"y\"", w->name,
                    p->nx, p->ny);
    w->data_count = p->nx;
    if (p->kept > 0) {
        int id = global_writer(p, w->name);
        if (id < 0)
            return out_of_memory(p);
        for (int i = 0; i < p->kept; i++) {
            ld->ds->labels[ld->stored + i] = p->ylab[i];
            ld->ds->writer[ld->stored + i] = id;
        }
        ld->stored += p->kept;
    }
    if (ld->max_examples > 0 && ld->stored >= ld->max_examples) {
        ld->full = 1;
        p->stopped = 1;
        return 0;
    }
    return 1;
}

/* A new row of x: stored if max_examples still allows. */
static int on_row_begin(leaf_parse *p)
{
    leaf_loader *ld = p->ld;
    p->row_len = 0;
    if (ld->max_examples > 0 && ld->stored + p->kept >= ld->max_examples)
        return 1;
    int slot = ld->stored + p->kept;
    if (slot >= ld->ds->count) {
        int next = ld->ds->count > 0 ? 2 * ld->ds->count : LEAF_FIRST_CAPACITY;
        if (next <= slot || p4_dataset_resize(ld->ds, next, NULL) != P4_OK)
            return out_of_memory(p);
    }
    p->kept++;
    return 1;
}

static int on_row_end(leaf_parse *p)
{
    if (p->row_len != LEAF_PIXELS)
        return FAIL(p, "writer \"%s\": row %d of \"x\" has %d values, expected %d",
                    p->fw[p->cur].name, p->nx, p->row_len, LEAF_PIXELS);
    p->nx++;
    return 1;
}

static int on_pixel(leaf_parse *p, double v)
{
    if (p->row_len >= LEAF_PIXELS)
        return FAIL(p, "writer \"%s\": row %d of \"x\" has more than %d values",
                    p->fw[p->cur].name, p->nx, LEAF_PIXELS);
    if (!(v >= 0.0 && v <= 1.0))
        return FAIL(p, "writer \"%s\": row %d of \"x\": value %g is outside [0, 1]",
                    p->fw[p->cur].name, p->nx, v);
    /* Rows beyond max_examples are checked but not kept. */
    int row_of_writer = p->nx;
    if (row_of_writer < p->kept) {
        leaf_loader *ld = p->ld;
        size_t at = (size_t)(ld->stored + row_of_writer) * LEAF_PIXELS + (size_t)p->row_len;
        ld->ds->pixels[at] = (uint8_t)lround(v * 255.0);
    }
    p->row_len++;
    return 1;
}

static int on_label(leaf_parse *p, long long v)
{
    if (v < 0 || v >= LEAF_CLASSES)
        return FAIL(p, "writer \"%s\": label %lld in \"y\" is outside [0, %d)",
                    p->fw[p->cur].name, v, LEAF_CLASSES);
    if (!reserve(&p->ylab, &p->ylab_cap, p->ny, sizeof *p->ylab))
        return out_of_memory(p);
    p->ylab[p->ny++] = (uint16_t)v;
    return 1;
}

static int on_num_samples(leaf_parse *p, long long v)
{
    if (v < 0 || v > INT_MAX)
        return FAIL(p, "num_samples entry %lld is not a valid count", v);
    if (!reserve(&p->nums, &p->nums_cap, p->nnums, sizeof *p->nums))
        return out_of_memory(p);
    p->nums[p->nnums++] = (int)v;
    return 1;
}

/* --- yajl callbacks: each checks that its token may come in p->state --- */

static int cb_null(void *ctx)
{
    return unexpected(ctx, "null");
}

static int cb_boolean(void *ctx, int value)
{
    (void)value;
    return unexpected(ctx, "boolean");
}

static int cb_integer(void *ctx, long long v)
{
    leaf_parse *p = ctx;
    switch (p->state) {
    case S_NUMS: return on_num_samples(p, v);
    case S_ROW: return on_pixel(p, (double)v);
    case S_Y: return on_label(p, v);
    default: return unexpected(p, "number");
    }
}

static int cb_double(void *ctx, double v)
{
    leaf_parse *p = ctx;
    switch (p->state) {
    case S_ROW: return on_pixel(p, v);
    case S_Y: return FAIL(p, "writer \"%s\": label %g in \"y\" is not an integer",
                          p->fw[p->cur].name, v);
    case S_NUMS: return FAIL(p, "num_samples entry %g is not an integer", v);
    default: return unexpected(p, "number");
    }
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    leaf_parse *p = ctx;
    if (p->state == S_USERS)
        return on_users_entry(p, s, len);
    return unexpected(p, "string");
}

static int cb_start_map(void *ctx)
{
    leaf_parse *p = ctx;
    switch (p->state) {
    case S_START: p->state = S_TOP; return 1;
    case S_DATA_OPEN: p->state = S_DATA; return 1;
    case S_WRITER_OPEN: p->state = S_WRITER; return 1;
    default: return unexpected(p, "object");
    }
}

static int key_is(const unsigned char *key, size_t len, const char *word)
{
    return len == strlen(word) && memcmp(key, word, len) == 0;
}

/* Marks a key as seen, failing on a repeat. */
static int first_time(leaf_parse *p, int *seen, const char *key)
{
    if (*seen)
        return FAIL(p, "duplicate key \"%s\"", key);
    *seen = 1;
    return 1;
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t len)
{
    leaf_parse *p = ctx;
    int shown = len > 40 ? 40 : (int)len;
    switch (p->state) {
    case S_TOP:
        if (key_is(key, len, "users")) {
            p->state = S_USERS_OPEN;
            return first_time(p, &p->seen_users, "users");
        }
        if (key_is(key, len, "num_samples")) {
            p->state = S_NUMS_OPEN;
            p->nums_offset = here(p);
            return first_time(p, &p->seen_nums, "num_samples");
        }
        if (key_is(key, len, "user_data")) {
            p->state = S_DATA_OPEN;
            return first_time(p, &p->seen_data, "user_data");
        }
        return FAIL(p, "unknown key \"%.*s\" in the top-level object", shown, (const char *)key);
    case S_DATA:
        p->state = S_WRITER_OPEN;
        return on_writer_begin(p, key, len);
    case S_WRITER:
        if (key_is(key, len, "x")) {
            p->state = S_X_OPEN;
            return first_time(p, &p->seen_x, "x");
        }
        if (key_is(key, len, "y")) {
            p->state = S_Y_OPEN;
            return first_time(p, &p->seen_y, "y");
        }
        return FAIL(p, "unknown key \"%.*s\" in writer \"%s\"", shown, (const char *)key,
                    p->fw[p->cur].name);
    default:
        return unexpected(p, "key");
    }
}

static int cb_end_map(void *ctx)
{
    leaf_parse *p = ctx;
    switch (p->state) {
    case S_TOP: p->state = S_END; return 1;
    case S_DATA: p->state = S_TOP; return 1;
    case S_WRITER: p->state = S_DATA; return on_writer_end(p);
    default: return unexpected(p, "end of object");
    }
}

static int cb_start_array(void *ctx)
{
    leaf_parse *p = ctx;
    switch (p->state) {
    case S_USERS_OPEN: p->state = S_USERS; return 1;
    case S_NUMS_OPEN: p->state = S_NUMS; return 1;
    case S_X_OPEN: p->state = S_X; return 1;
    case S_X: p->state = S_ROW; return on_row_begin(p);
    case S_Y_OPEN: p->state = S_Y; return 1;
    default: return unexpected(p, "array");
    }
}

static int cb_end_array(void *ctx)
{
    leaf_parse *p = ctx;
    switch (p->state) {
    case S_USERS:
    case S_NUMS: p->state = S_TOP; return 1;
    case S_X:
    case S_Y: p->state = S_WRITER; return 1;
    case S_ROW: p->state = S_X; return on_row_end(p);
    default: return unexpected(p, "end of array");
    }
}

static const yajl_callbacks LEAF_CALLBACKS = {
    cb_null, cb_boolean, cb_integer, cb_double, NULL, cb_string,
    cb_start_map, cb_map_key, cb_end_map, cb_start_array, cb_end_array};

/* The checks that need the whole file: keys present, users, num_samples and
 * user_data naming the same writers with the same counts. */
static int check_file(leaf_parse *p)
{
    const char *missing = !p->seen_users ? "users" : !p->seen_nums ? "num_samples"
                        : !p->seen_data ? "user_data" : NULL;
    if (missing != NULL)
        return fail_at(p, P4_EFORMAT, p->base, "missing key \"%s\"", missing);
    if (p->nnums != p->nusers)
        return fail_at(p, P4_EFORMAT, p->nums_offset,
                       "\"users\" lists %d writers but \"num_samples\" has %d entries",
                       p->nusers, p->nnums);
    for (int i = 0; i < p->nfw; i++) {
        const leaf_file_writer *w = &p->fw[i];
        if (w->users_pos < 0)
            return fail_at(p, P4_EFORMAT, w->data_offset,
                           "writer \"%s\" is in \"user_data\" but not in \"users\"", w->name);
        if (w->data_count < 0)
            return fail_at(p, P4_EFORMAT, w->users_offset,
                           "writer \"%s\" is in \"users\" but missing from \"user_data\"", w->name);
        if (p->nums[w->users_pos] != w->data_count)
            return fail_at(p, P4_EFORMAT, w->data_offset,
                           "writer \"%s\": num_samples says %d but user_data has %d examples",
                           w->name, p->nums[w->users_pos], w->data_count);
    }
    return 1;
}

/* Feeds one chunk (or, with chunk == NULL, the end of input) to yajl. */
static int feed(leaf_parse *p, const unsigned char *chunk, size_t len)
{
    yajl_status st = chunk != NULL ? yajl_parse(p->yajl, chunk, len)
                                   : yajl_complete_parse(p->yajl);
    if (st == yajl_status_ok)
        return P4_OK;
    if (st == yajl_status_client_canceled)
        return p->stopped ? P4_OK : p->rc;
    unsigned char *why = yajl_get_error(p->yajl, 0, chunk, len);
    char text[200];
    snprintf(text, sizeof text, "%s", why != NULL ? (const char *)why : "parse error");
    yajl_free_error(p->yajl, why);
    text[strcspn(text, "\n")] = '\0';
    unsigned long long at = chunk != NULL ? here(p) : p->base;
    return p4_error_set(p->err, P4_EFORMAT, "%s:%llu: invalid JSON: %s", p->file, at, text);
}

static void parse_free(leaf_parse *p)
{
    if (p->yajl != NULL)
        yajl_free(p->yajl);
    for (int i = 0; i < p->nfw; i++)
        free(p->fw[i].name);
    free(p->fw);
    free(p->nums);
    free(p->ylab);
    p4_name_table_clear(&p->local);
}

/* Parses one LEAF file from src into the loader's dataset. */
static int parse_source(leaf_loader *ld, p4_byte_source *src, p4_error *err)
{
    leaf_parse p = {0};
    p.ld = ld;
    p.file = src->name;
    p.err = err;
    p.rc = P4_OK;
    p.yajl = yajl_alloc(&LEAF_CALLBACKS, NULL, &p);
    unsigned char *chunk = malloc(LEAF_CHUNK);
    int rc = (p.yajl == NULL || chunk == NULL)
                 ? p4_error_set(err, P4_ENOMEM, "%s: out of memory", src->name) : P4_OK;
    while (rc == P4_OK && !p.stopped) {
        size_t got = 0;
        rc = p4_byte_source_read(src, chunk, LEAF_CHUNK, &got, err);
        if (rc != P4_OK)
            break;
        if (got == 0) {
            rc = feed(&p, NULL, 0);
            break;
        }
        rc = feed(&p, chunk, got);
        p.base += got;
    }
    if (rc == P4_OK && !p.stopped && !check_file(&p))
        rc = p.rc;
    free(chunk);
    parse_free(&p);
    return rc;
}

static int loader_start(leaf_loader *ld, int max_examples, p4_error *err)
{
    memset(ld, 0, sizeof *ld);
    ld->max_examples = max_examples;
    int rc = p4_dataset_new(&ld->ds, "femnist", 0, LEAF_SIDE, LEAF_SIDE, 1, LEAF_CLASSES, err);
    if (rc == P4_OK)
        rc = p4_dataset_add_writers(ld->ds, err);
    return rc;
}

/* Hands the dataset out on success (trimmed, with writer names); frees all. */
static int loader_finish(leaf_loader *ld, int rc, p4_dataset **out, p4_error *err)
{
    if (rc == P4_OK)
        rc = p4_dataset_resize(ld->ds, ld->stored, err);
    if (rc == P4_OK) {
        ld->ds->writer_names = ld->names;
        ld->ds->writers = ld->writers;
        ld->names = NULL;
        *out = ld->ds;
        ld->ds = NULL;
    }
    for (int i = 0; ld->names != NULL && i < ld->writers; i++)
        free(ld->names[i]);
    free(ld->names);
    p4_name_table_clear(&ld->writer_ids);
    p4_dataset_destroy(&ld->ds);
    return rc;
}

static int parse_file(leaf_loader *ld, const char *path, p4_error *err)
{
    p4_byte_source src;
    int rc = p4_byte_source_open_file(&src, path, err);
    if (rc != P4_OK)
        return rc;
    rc = parse_source(ld, &src, err);
    p4_byte_source_close(&src);
    return rc;
}

int p4_load_leaf_file(const char *path, int max_examples, p4_dataset **out, p4_error *err)
{
    if (path == NULL || out == NULL || max_examples < 0)
        return p4_error_set(err, P4_EINVAL, "p4_load_leaf_file: bad argument");
    *out = NULL;
    leaf_loader ld;
    int rc = loader_start(&ld, max_examples, err);
    if (rc == P4_OK)
        rc = parse_file(&ld, path, err);
    return loader_finish(&ld, rc, out, err);
}

int p4_load_leaf_buffer(const char *name, const void *json, size_t len, int max_examples,
                        p4_dataset **out, p4_error *err)
{
    if (name == NULL || (json == NULL && len > 0) || out == NULL || max_examples < 0)
        return p4_error_set(err, P4_EINVAL, "p4_load_leaf_buffer: bad argument");
    *out = NULL;
    leaf_loader ld;
    p4_byte_source src;
    int rc = loader_start(&ld, max_examples, err);
    if (rc == P4_OK && (rc = p4_byte_source_open_memory(&src, name, json, len, err)) == P4_OK) {
        rc = parse_source(&ld, &src, err);
        p4_byte_source_close(&src);
    }
    return loader_finish(&ld, rc, out, err);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The *.json regular files of dir, sorted by name. */
static int list_json(const char *dir, char ***out, int *count, p4_error *err)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return p4_error_set(err, P4_EIO, "%s: cannot open directory", dir);
    char **names = NULL;
    int n = 0, cap = 0, rc = P4_OK;
    struct dirent *e;
    while (rc == P4_OK && (e = readdir(d)) != NULL) {
        if (!ends_with(e->d_name, ".json"))
            continue;
        char path[PATH_MAX];
        struct stat st;
        int len = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (len < 0 || (size_t)len >= sizeof path)
            rc = p4_error_set(err, P4_EIO, "%s/%s: path too long", dir, e->d_name);
        else if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        else if (!reserve(&names, &cap, n, sizeof *names) || (names[n] = strdup(path)) == NULL)
            rc = p4_error_set(err, P4_ENOMEM, "%s: out of memory", dir);
        else
            n++;
    }
    closedir(d);
    if (rc == P4_OK && n == 0)
        rc = p4_error_set(err, P4_EIO, "%s: no *.json files", dir);
    if (rc != P4_OK) {
        for (int i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return rc;
    }
    qsort(names, (size_t)n, sizeof *names, compare_names);
    *out = names;
    *count = n;
    return P4_OK;
}

int p4_load_leaf_dir(const char *dir, int max_examples, p4_dataset **out, p4_error *err)
{
    if (dir == NULL || out == NULL || max_examples < 0)
        return p4_error_set(err, P4_EINVAL, "p4_load_leaf_dir: bad argument");
    *out = NULL;
    char **files = NULL;
    int nfiles = 0;
    int rc = list_json(dir, &files, &nfiles, err);
    if (rc != P4_OK)
        return rc;
    leaf_loader ld;
    rc = loader_start(&ld, max_examples, err);
    for (int i = 0; rc == P4_OK && i < nfiles && !ld.full; i++)
        rc = parse_file(&ld, files[i], err);
    for (int i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    return loader_finish(&ld, rc, out, err);
}

int p4_dataset_match_writers(const p4_dataset *train, p4_dataset *test, p4_error *err)
{
    if (train == NULL || test == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_dataset_match_writers: NULL dataset");
    if (train->writer_names == NULL || test->writer_names == NULL || test->writer == NULL)
        return p4_error_set(err, P4_EINVAL,
                            "p4_dataset_match_writers: %s has no writer names",
                            train->writer_names == NULL ? train->name : test->name);
    p4_name_table ids = {0};
    int *map = malloc((size_t)(test->writers > 0 ? test->writers : 1) * sizeof *map);
    char **names = calloc((size_t)(train->writers > 0 ? train->writers : 1), sizeof *names);
    int rc = (map == NULL || names == NULL) ? P4_ENOMEM : P4_OK;
    for (int i = 0; rc == P4_OK && i < train->writers; i++) {
        const char *n = train->writer_names[i];
        if (p4_name_table_put(&ids, n, strlen(n), i) != P4_OK || (names[i] = strdup(n)) == NULL)
            rc = P4_ENOMEM;
    }
    if (rc == P4_ENOMEM)
        p4_error_set(err, rc, "p4_dataset_match_writers: out of memory");
    for (int i = 0; rc == P4_OK && i < test->writers; i++) {
        const char *n = test->writer_names[i];
        map[i] = p4_name_table_find(&ids, n, strlen(n));
        if (map[i] < 0)
            rc = p4_error_set(err, P4_EINVAL,
                              "test writer \"%s\" does not occur in the train set", n);
    }
    for (int i = 0; rc == P4_OK && i < test->count; i++)
        if (test->writer[i] < 0 || test->writer[i] >= test->writers)
            rc = p4_error_set(err, P4_EINVAL, "test example %d has no valid writer", i);
    if (rc == P4_OK) {
        for (int i = 0; i < test->count; i++)
            test->writer[i] = map[test->writer[i]];
        for (int i = 0; i < test->writers; i++)
            free(test->writer_names[i]);
        free(test->writer_names);
        test->writer_names = names;
        test->writers = train->writers;
        names = NULL;
    }
    for (int i = 0; names != NULL && i < train->writers; i++)
        free(names[i]);
    free(names);
    free(map);
    p4_name_table_clear(&ids);
    return rc;
}
