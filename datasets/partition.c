/* partition.c: splitting train and test sets among clients; see partition.h.
 *
 * All randomness comes from one p4_rng seeded with (spec->seed, "partition"),
 * drawn in a fixed order, so a spec always gives the same partition.
 *
 * IID deals out a shuffled copy of each set.  WRITER gives client k writer
 * k's examples.  The other kinds first decide, per client, how many examples
 * of each class it gets (a "plan": a clients x classes matrix for train and
 * one for test, from the same per-client profile), check the plan against
 * the examples each class really has, and only then draw the examples
 * without replacement from per-class pools.  So a request that cannot be met
 * fails with the class at fault instead of quietly giving fewer examples.
 *
 * Per-client profiles:
 *   LABEL_SKEW  major class k mod classes gets round(p n) examples; the rest
 *               is spread evenly over the other classes (the remainder of
 *               that division goes to randomly chosen ones).
 *   DIRICHLET   proportions q ~ Dirichlet(alpha) (normalised Gamma(alpha)
 *               draws, in log space so tiny alpha cannot underflow to 0/0);
 *               counts are n q rounded by largest remainder.
 *   CLUSTERED   client k is in cluster k mod C; its n examples are spread
 *               evenly over the cluster's classes (remainders rotate with the
 *               client so that clients of one cluster share them). */
#include "datasets/partition.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "datasets/name_table.h"

static const char *const KIND_NAMES[] = {"iid", "writer", "label-skew", "dirichlet",
                                         "clustered"};
#define KIND_COUNT ((int)(sizeof KIND_NAMES / sizeof KIND_NAMES[0]))

int p4_partition_kind_parse(const char *text, p4_partition_kind *out)
{
    if (text == NULL || out == NULL)
        return P4_EINVAL;
    for (int k = 0; k < KIND_COUNT; k++) {
        if (strcmp(text, KIND_NAMES[k]) == 0) {
            *out = (p4_partition_kind)k;
            return P4_OK;
        }
    }
    return P4_EINVAL;
}

const char *p4_partition_kind_name(p4_partition_kind kind)
{
    return ((int)kind >= 0 && (int)kind < KIND_COUNT) ? KIND_NAMES[kind] : "unknown";
}

void p4_partition_destroy(p4_partition **p)
{
    if (p == NULL || *p == NULL)
        return;
    for (int k = 0; k < (*p)->clients && (*p)->split != NULL; k++) {
        free((*p)->split[k].train);
        free((*p)->split[k].test);
    }
    free((*p)->split);
    free(*p);
    *p = NULL;
}

/* One side of the partition: the train or the test set. */
typedef struct side {
    const p4_dataset *ds;     /* may be NULL for test: no test split */
    const char *what;         /* "train" or "test", for messages     */
    int per_client;           /* examples per client                 */
    int train_side;           /* 1: fills split.train, 0: split.test */
} side;

static int set_count(const side *s)
{
    return s->ds != NULL ? s->ds->count : 0;
}

/* The client's index array and count for this side. */
static int **slot_items(const side *s, p4_client_split *c)
{
    return s->train_side ? &c->train : &c->test;
}

static int *slot_count(const side *s, p4_client_split *c)
{
    return s->train_side ? &c->train_count : &c->test_count;
}

/* Allocates client c's index list of n entries for side s. */
static int alloc_slot(const side *s, p4_client_split *c, int n, p4_error *err)
{
    int **items = slot_items(s, c);
    free(*items);
    *items = malloc((size_t)(n > 0 ? n : 1) * sizeof **items);
    *slot_count(s, c) = 0;
    if (*items == NULL)
        return p4_error_set(err, P4_ENOMEM, "partition: out of memory");
    return P4_OK;
}

/* ---------- IID ---------- */

static int deal_iid(const p4_partition_spec *spec, const side *s, p4_rng *rng,
                    p4_partition *part, p4_error *err)
{
    int count = set_count(s);
    long long need = (long long)spec->clients * s->per_client;
    if (need > count)
        return p4_error_set(err, P4_EINVAL,
                            "iid: %d clients x %d %s examples need %lld but the %s set has %d",
                            spec->clients, s->per_client, s->what, need, s->what, count);
    int *order = malloc((size_t)(count > 0 ? count : 1) * sizeof *order);
    if (order == NULL)
        return p4_error_set(err, P4_ENOMEM, "partition: out of memory");
    for (int i = 0; i < count; i++)
        order[i] = i;
    p4_rng_shuffle_int(rng, order, (size_t)count);
    int rc = P4_OK;
    for (int k = 0; rc == P4_OK && k < spec->clients; k++) {
        p4_client_split *c = &part->split[k];
        rc = alloc_slot(s, c, s->per_client, err);
        if (rc == P4_OK) {
            memcpy(*slot_items(s, c), order + (size_t)k * s->per_client,
                   (size_t)s->per_client * sizeof(int));
            *slot_count(s, c) = s->per_client;
        }
    }
    free(order);
    return rc;
}

/* ---------- WRITER ---------- */

/* For each test writer id, the train writer id with the same name (-1 if
 * none); identity when either set has no names. */
static int map_test_writers(const p4_dataset *train, const p4_dataset *test, int **out,
                            p4_error *err)
{
    int n = test->writers;
    int *map = malloc((size_t)(n > 0 ? n : 1) * sizeof *map);
    if (map == NULL)
        return p4_error_set(err, P4_ENOMEM, "partition: out of memory");
    if (train->writer_names == NULL || test->writer_names == NULL) {
        for (int i = 0; i < n; i++)
            map[i] = i;
        *out = map;
        return P4_OK;
    }
    p4_name_table ids = {0};
    int rc = P4_OK;
    for (int i = 0; rc == P4_OK && i < train->writers; i++)
        if (p4_name_table_put(&ids, train->writer_names[i], strlen(train->writer_names[i]),
                              i) != P4_OK)
            rc = p4_error_set(err, P4_ENOMEM, "partition: out of memory");
    for (int i = 0; rc == P4_OK && i < n; i++)
        map[i] = p4_name_table_find(&ids, test->writer_names[i], strlen(test->writer_names[i]));
    p4_name_table_clear(&ids);
    if (rc != P4_OK) {
        free(map);
        return rc;
    }
    *out = map;
    return P4_OK;
}

/* Gives client k the examples of s whose (mapped) writer is k, shuffled and
 * capped at per_client when that is > 0. */
static int deal_writers(const p4_partition_spec *spec, const side *s, const int *writer_map,
                        int map_len, p4_rng *rng, p4_partition *part, p4_error *err)
{
    const p4_dataset *ds = s->ds;
    int count = set_count(s);
    int clients = spec->clients;
    int *owner_count = calloc((size_t)clients, sizeof *owner_count);
    if (owner_count == NULL)
        return p4_error_set(err, P4_ENOMEM, "partition: out of memory");
    /* Which client each example belongs to, or -1. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < count; i++) {
            int w = ds->writer[i];
            if (writer_map != NULL)
                w = (w >= 0 && w < map_len) ? writer_map[w] : -1;
            if (w < 0 || w >= clients)
                continue;
            if (pass == 0) {
                owner_count[w]++;
            } else {
                p4_client_split *c = &part->split[w];
                (*slot_items(s, c))[(*slot_count(s, c))++] = i;
            }
        }
        for (int k = 0; pass == 0 && k < clients; k++) {
            int rc = alloc_slot(s, &part->split[k], owner_count[k], err);
            if (rc != P4_OK) {
                free(owner_count);
                return rc;
            }
        }
    }
    free(owner_count);
    for (int k = 0; k < clients; k++) {
        p4_client_split *c = &part->split[k];
        p4_rng_shuffle_int(rng, *slot_items(s, c), (size_t)*slot_count(s, c));
        if (s->per_client > 0 && *slot_count(s, c) > s->per_client)
            *slot_count(s, c) = s->per_client;
    }
    return P4_OK;
}

static int partition_writers(const p4_partition_spec *spec, const side *train,
                             const side *test, p4_rng *rng, p4_partition *part, p4_error *err)
{
    const p4_dataset *tr = train->ds;
    if (tr->writer == NULL || tr->writers <= 0)
        return p4_error_set(err, P4_EINVAL,
                            "writer partition: the train set \"%s\" has no writers", tr->name);
    if (spec->clients > tr->writers)
        return p4_error_set(err, P4_EINVAL,
                            "writer partition: %d clients but the train set has only %d writers",
                            spec->clients, tr->writers);
    int rc = deal_writers(spec, train, NULL, 0, rng, part, err);
    if (rc != P4_OK || test->ds == NULL)
        return rc;
    if (test->ds->writer == NULL)
        return p4_error_set(err, P4_EINVAL,
                            "writer partition: the test set \"%s\" has no writers", test->ds->name);
    int *map = NULL;
    rc = map_test_writers(tr, test->ds, &map, err);
    if (rc == P4_OK)
        rc = deal_writers(spec, test, map, test->ds->writers, rng, part, err);
    free(map);
    return rc;
}

/* ---------- class-based kinds: profiles and plans ---------- */

typedef struct profile {
    int classes;
    int clients;
    double *proportions;         /* DIRICHLET: clients x classes        */
    int cluster_size[P4_MAX_CLUSTERS];
    int cluster_class[P4_MAX_CLUSTERS][P4_MAX_CLASSES];
} profile;

/* Dirichlet(alpha) over `classes` into q, via log Gamma draws:
 * Gamma(a) = Gamma(a + 1) U^(1/a) for a < 1, whose log never underflows. */
static void draw_dirichlet(p4_rng *rng, double alpha, int classes, double *q)
{
    double top = -INFINITY;
    for (int c = 0; c < classes; c++) {
        double lg = alpha >= 1.0
                        ? log(p4_rng_gamma(rng, alpha))
                        : log(p4_rng_gamma(rng, alpha + 1.0)) + log(p4_rng_uniform(rng)) / alpha;
        q[c] = lg;
        if (lg > top)
            top = lg;
    }
    double sum = 0.0;
    for (int c = 0; c < classes; c++) {
        q[c] = exp(q[c] - top);
        sum += q[c];
    }
    for (int c = 0; c < classes; c++)
        q[c] /= sum;
}

/* n split by weights w[0..m) with largest-remainder rounding into out. */
static void largest_remainder(int n, const double *w, int m, int *out)
{
    double total = 0.0;
    for (int i = 0; i < m; i++)
        total += w[i];
    int given = 0;
    double *frac = malloc((size_t)m * sizeof *frac);
    for (int i = 0; i < m; i++) {
        double exact = total > 0.0 ? n * w[i] / total : 0.0;
        out[i] = (int)floor(exact);
        given += out[i];
        if (frac != NULL)
            frac[i] = exact - out[i];
    }
    /* Hand the rest to the largest fractional parts (lowest index on ties). */
    while (given < n && frac != NULL) {
        int best = 0;
        for (int i = 1; i < m; i++)
            if (frac[i] > frac[best])
                best = i;
        out[best]++;
        frac[best] = -1.0;
        given++;
    }
    free(frac);
}

/* Client k's per-class counts for n examples into counts[classes];
 * scratch holds `classes` ints. */
static void plan_client(const p4_partition_spec *spec, const profile *pr, int k, int n,
                        p4_rng *rng, int *counts, int *scratch)
{
    int classes = pr->classes;
    memset(counts, 0, (size_t)classes * sizeof *counts);
    switch (spec->kind) {
    case P4_PARTITION_LABEL_SKEW: {
        int major = k % classes;
        if (classes == 1) {
            counts[major] = n;
            break;
        }
        int m = (int)lround(spec->major_fraction * n);
        int rest = n - m, others = classes - 1;
        counts[major] = m;
        int *pick = scratch;
        for (int c = 0, j = 0; c < classes; c++)
            if (c != major) {
                counts[c] = rest / others;
                pick[j++] = c;
            }
        /* The rest % others leftover examples go to distinct random classes
         * (a partial Fisher-Yates shuffle of the other classes). */
        for (int j = 0; j < rest % others; j++) {
            int r = j + (int)p4_rng_below(rng, (uint64_t)(others - j));
            int t = pick[j];
            pick[j] = pick[r];
            pick[r] = t;
            counts[pick[j]]++;
        }
        break;
    }
    case P4_PARTITION_DIRICHLET:
        largest_remainder(n, pr->proportions + (size_t)k * classes, classes, counts);
        break;
    case P4_PARTITION_CLUSTERED: {
        int cl = k % spec->clusters;
        int rank = k / spec->clusters;
        int m = pr->cluster_size[cl];
        int extra = n % m;
        for (int j = 0; j < m; j++)
            counts[pr->cluster_class[cl][j]] += n / m;
        for (int t = 0; t < extra; t++)
            counts[pr->cluster_class[cl][((long long)rank * extra + t) % m]]++;
        break;
    }
    default:
        break;
    }
}

/* Classes of each cluster: explicit, or consecutive runs (see partition.h). */
static int build_clusters(const p4_partition_spec *spec, profile *pr, p4_error *err)
{
    int classes = pr->classes;
    if (spec->clusters < 1 || spec->clusters > P4_MAX_CLUSTERS)
        return p4_error_set(err, P4_EINVAL, "clustered: clusters = %d, must be 1..%d",
                            spec->clusters, P4_MAX_CLUSTERS);
    int stride = (classes + spec->clusters - 1) / spec->clusters;
    int per = spec->classes_per_cluster > 0 ? spec->classes_per_cluster
                                            : (stride > 2 ? stride : 2);
    if (spec->classes_per_cluster == 0 && per > classes)
        per = classes;
    if (spec->classes_per_cluster < 0 || per > classes)
        return p4_error_set(err, P4_EINVAL,
                            "clustered: classes_per_cluster = %d, must be 0..%d",
                            spec->classes_per_cluster, classes);
    for (int c = 0; c < spec->clusters; c++) {
        int explicit_count = spec->cluster_class_count[c];
        if (explicit_count < 0 || explicit_count > P4_MAX_CLASSES)
            return p4_error_set(err, P4_EINVAL, "clustered: cluster %d has %d classes", c,
                                explicit_count);
        int seen[P4_MAX_CLASSES] = {0};
        pr->cluster_size[c] = explicit_count > 0 ? explicit_count : per;
        for (int j = 0; j < pr->cluster_size[c]; j++) {
            int cls = explicit_count > 0 ? spec->cluster_classes[c][j]
                                         : (c * stride + j) % classes;
            if (cls < 0 || cls >= classes || cls >= P4_MAX_CLASSES)
                return p4_error_set(err, P4_EINVAL,
                                    "clustered: cluster %d lists class %d, outside [0, %d)", c,
                                    cls, classes);
            if (seen[cls]++)
                return p4_error_set(err, P4_EINVAL, "clustered: cluster %d lists class %d twice",
                                    c, cls);
            pr->cluster_class[c][j] = cls;
        }
    }
    return P4_OK;
}

static int build_profile(const p4_partition_spec *spec, int classes, p4_rng *rng, profile *pr,
                         p4_error *err)
{
    pr->classes = classes;
    pr->clients = spec->clients;
    switch (spec->kind) {
    case P4_PARTITION_LABEL_SKEW:
        if (!(spec->major_fraction >= 0.0 && spec->major_fraction <= 1.0))
            return p4_error_set(err, P4_EINVAL, "label-skew: major_fraction %g is not in [0, 1]",
                                spec->major_fraction);
        return P4_OK;
    case P4_PARTITION_DIRICHLET:
        if (!(spec->alpha > 0.0) || !isfinite(spec->alpha))
            return p4_error_set(err, P4_EINVAL, "dirichlet: alpha %g must be > 0", spec->alpha);
        pr->proportions = malloc((size_t)spec->clients * (size_t)classes * sizeof(double));
        if (pr->proportions == NULL)
            return p4_error_set(err, P4_ENOMEM, "partition: out of memory");
        for (int k = 0; k < spec->clients; k++)
            draw_dirichlet(rng, spec->alpha, classes, pr->proportions + (size_t)k * classes);
        return P4_OK;
    case P4_PARTITION_CLUSTERED:
        if (classes > P4_MAX_CLASSES)
            return p4_error_set(err, P4_EINVAL, "clustered: %d classes, at most %d supported",
                                classes, P4_MAX_CLASSES);
        return build_clusters(spec, pr, err);
    default:
        return p4_error_set(err, P4_EINVAL, "partition: unknown kind %d", (int)spec->kind);
    }
}

/* Indices of ds grouped by class, each group shuffled: pool[start[c] ..
 * start[c + 1]) are the examples of class c. */
static int build_pools(const p4_dataset *ds, p4_rng *rng, int **pool_out, int **start_out,
                       p4_error *err)
{
    int classes = ds->classes;
    int *start = calloc((size_t)classes + 1, sizeof *start);
    int *pool = malloc((size_t)(ds->count > 0 ? ds->count : 1) * sizeof *pool);
    int *fill = calloc((size_t)classes, sizeof *fill);
    if (start == NULL || pool == NULL || fill == NULL) {
        free(start);
        free(pool);
        free(fill);
        return p4_error_set(err, P4_ENOMEM, "partition: out of memory");
    }
    for (int i = 0; i < ds->count; i++)
        start[ds->labels[i] + 1]++;
    for (int c = 0; c < classes; c++)
        start[c + 1] += start[c];
    for (int i = 0; i < ds->count; i++) {
        int c = ds->labels[i];
        pool[start[c] + fill[c]++] = i;
    }
    for (int c = 0; c < classes; c++)
        p4_rng_shuffle_int(rng, pool + start[c], (size_t)(start[c + 1] - start[c]));
    free(fill);
    *pool_out = pool;
    *start_out = start;
    return P4_OK;
}

/* Plans side s for every client, checks each class has enough examples,
 * then draws them. */
static int deal_by_class(const p4_partition_spec *spec, const profile *pr, const side *s,
                         p4_rng *rng, p4_partition *part, p4_error *err)
{
    const p4_dataset *ds = s->ds;
    int classes = pr->classes, clients = spec->clients;
    int *plan = malloc((size_t)clients * (size_t)classes * sizeof *plan);
    long long *need = calloc((size_t)classes, sizeof *need);
    int *scratch = malloc((size_t)classes * sizeof *scratch);
    int *pool = NULL, *start = NULL;
    int rc = (plan == NULL || need == NULL || scratch == NULL)
                 ? p4_error_set(err, P4_ENOMEM, "partition: out of memory") : P4_OK;
    for (int k = 0; rc == P4_OK && k < clients; k++) {
        plan_client(spec, pr, k, s->per_client, rng, plan + (size_t)k * classes, scratch);
        for (int c = 0; c < classes; c++)
            need[c] += plan[(size_t)k * classes + c];
    }
    if (rc == P4_OK)
        rc = build_pools(ds, rng, &pool, &start, err);
    for (int c = 0; rc == P4_OK && c < classes; c++)
        if (need[c] > start[c + 1] - start[c])
            rc = p4_error_set(err, P4_EINVAL,
                              "%s: class %d needs %lld %s examples but the %s set has only %d",
                              p4_partition_kind_name(spec->kind), c, need[c], s->what, s->what,
                              start[c + 1] - start[c]);
    int *taken = calloc((size_t)classes, sizeof *taken);
    if (rc == P4_OK && taken == NULL)
        rc = p4_error_set(err, P4_ENOMEM, "partition: out of memory");
    for (int k = 0; rc == P4_OK && k < clients; k++) {
        p4_client_split *cs = &part->split[k];
        rc = alloc_slot(s, cs, s->per_client, err);
        for (int c = 0; rc == P4_OK && c < classes; c++) {
            for (int j = 0; j < plan[(size_t)k * classes + c]; j++)
                (*slot_items(s, cs))[(*slot_count(s, cs))++] = pool[start[c] + taken[c]++];
        }
        if (rc == P4_OK)
            p4_rng_shuffle_int(rng, *slot_items(s, cs), (size_t)*slot_count(s, cs));
    }
    free(taken);
    free(scratch);
    free(plan);
    free(need);
    free(pool);
    free(start);
    return rc;
}

/* ---------- entry point ---------- */

static int check_spec(const p4_partition_spec *spec, const p4_dataset *train,
                      const p4_dataset *test, p4_error *err)
{
    if (spec->clients < 1)
        return p4_error_set(err, P4_EINVAL, "partition: clients = %d, must be >= 1",
                            spec->clients);
    if (spec->train_per_client < 0 || spec->test_per_client < 0)
        return p4_error_set(err, P4_EINVAL, "partition: negative examples per client");
    if ((int)spec->kind < 0 || (int)spec->kind >= KIND_COUNT)
        return p4_error_set(err, P4_EINVAL, "partition: unknown kind %d", (int)spec->kind);
    if (test == NULL && spec->test_per_client > 0)
        return p4_error_set(err, P4_EINVAL, "partition: test_per_client > 0 but no test set");
    if (test != NULL && test->classes != train->classes)
        return p4_error_set(err, P4_EINVAL, "partition: train has %d classes but test has %d",
                            train->classes, test->classes);
    return P4_OK;
}

static void init_side(side *s, const p4_dataset *ds, const char *what, int per_client,
                      int clients, int is_train, p4_partition_kind kind)
{
    s->ds = ds;
    s->what = what;
    s->train_side = is_train;
    s->per_client = per_client;
    /* 0 = the whole set shared evenly; WRITER reads 0 as "all of the writer's". */
    if (per_client == 0 && kind != P4_PARTITION_WRITER)
        s->per_client = (ds != NULL ? ds->count : 0) / clients;
}

int p4_partition_new(const p4_partition_spec *spec, const p4_dataset *train,
                     const p4_dataset *test, p4_partition **out, p4_error *err)
{
    if (spec == NULL || train == NULL || out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_partition_new: NULL argument");
    *out = NULL;
    int rc = check_spec(spec, train, test, err);
    if (rc != P4_OK)
        return rc;

    p4_partition *part = calloc(1, sizeof *part);
    if (part == NULL || (part->split = calloc((size_t)spec->clients, sizeof *part->split)) == NULL) {
        free(part);
        return p4_error_set(err, P4_ENOMEM, "partition: out of memory");
    }
    part->clients = spec->clients;
    side tr, te;
    init_side(&tr, train, "train", spec->train_per_client, spec->clients, 1, spec->kind);
    init_side(&te, test, "test", spec->test_per_client, spec->clients, 0, spec->kind);
    for (int k = 0; k < spec->clients; k++) {
        part->split[k].cluster = -1;
        if ((rc = alloc_slot(&tr, &part->split[k], 0, err)) != P4_OK ||
            (rc = alloc_slot(&te, &part->split[k], 0, err)) != P4_OK)
            break;
    }

    p4_rng rng;
    if (rc == P4_OK)
        rc = p4_rng_init_seeded(&rng, spec->seed, "partition");
    if (rc == P4_OK) {
        if (spec->kind == P4_PARTITION_IID) {
            rc = deal_iid(spec, &tr, &rng, part, err);
            if (rc == P4_OK)
                rc = deal_iid(spec, &te, &rng, part, err);
        } else if (spec->kind == P4_PARTITION_WRITER) {
            rc = partition_writers(spec, &tr, &te, &rng, part, err);
        } else {
            profile *pr = calloc(1, sizeof *pr);
            rc = pr == NULL ? p4_error_set(err, P4_ENOMEM, "partition: out of memory")
                            : build_profile(spec, train->classes, &rng, pr, err);
            if (rc == P4_OK)
                rc = deal_by_class(spec, pr, &tr, &rng, part, err);
            if (rc == P4_OK && test != NULL)
                rc = deal_by_class(spec, pr, &te, &rng, part, err);
            for (int k = 0; rc == P4_OK && k < spec->clients; k++)
                part->split[k].cluster = spec->kind == P4_PARTITION_LABEL_SKEW
                                             ? k % train->classes
                                             : spec->kind == P4_PARTITION_CLUSTERED
                                                   ? k % spec->clusters : -1;
            if (pr != NULL)
                free(pr->proportions);
            free(pr);
        }
        p4_rng_wipe(&rng);
    }
    if (rc != P4_OK) {
        p4_partition_destroy(&part);
        return rc;
    }
    *out = part;
    return P4_OK;
}
