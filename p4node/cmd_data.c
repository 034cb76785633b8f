/* cmd_data.c: `p4 data --config F [--json]`: load a config's datasets,
 * partition them, and show what each client holds (train and test sizes,
 * cluster or major class, label histograms), so a split can be checked
 * before anything is trained on it. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "common/config.h"
#include "datasets/workload.h"
#include "p4node/commands.h"

/* Up to this many classes the histogram is one column per class; above it
 * (femnist: 62, cifar100: 100) only nonzero classes, as class:count. */
#define WIDE_HISTOGRAM_CLASSES 10
#define LINE_WIDTH 100

typedef struct data_report {
    const p4_config *cfg;
    const p4_workload *w;
    int clients, classes;
    int *hist;          /* [client][split][class]: split 0 = train, 1 = test */
    int *total;         /* [split][class] over all clients                   */
    long count[2];      /* examples given to clients, per split              */
} data_report;

static int *client_hist(const data_report *r, int client, int split)
{
    return r->hist + ((size_t)client * 2 + (size_t)split) * (size_t)r->classes;
}

static int split_count(const p4_client_split *s, int split)
{
    return split == 0 ? s->train_count : s->test_count;
}

static int report_build(data_report *r, const p4_config *cfg, const p4_workload *w)
{
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    r->w = w;
    r->clients = w->partition->clients;
    r->classes = w->train->classes;
    r->hist = calloc((size_t)r->clients * 2 * (size_t)r->classes, sizeof *r->hist);
    r->total = calloc(2 * (size_t)r->classes, sizeof *r->total);
    if (r->hist == NULL || r->total == NULL)
        return P4_ENOMEM;
    for (int k = 0; k < r->clients; k++) {
        const p4_client_split *s = &w->partition->split[k];
        p4_dataset_histogram(w->train, s->train, s->train_count, client_hist(r, k, 0));
        p4_dataset_histogram(w->test, s->test, s->test_count, client_hist(r, k, 1));
        for (int split = 0; split < 2; split++) {
            r->count[split] += split_count(s, split);
            const int *h = client_hist(r, k, split);
            for (int c = 0; c < r->classes; c++)
                r->total[split * r->classes + c] += h[c];
        }
    }
    return P4_OK;
}

static void report_free(data_report *r)
{
    free(r->hist);
    free(r->total);
}

/* "cluster" for clustered partitions, "major" (class) for label-skew, else
 * NULL: the column is left out. */
static const char *cluster_column(const p4_config *cfg)
{
    if (cfg->partition.kind == P4_PARTITION_CLUSTERED)
        return "cluster";
    if (cfg->partition.kind == P4_PARTITION_LABEL_SKEW)
        return "major";
    return NULL;
}

static int digits(long v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* ---- text --------------------------------------------------------------- */

static void print_summary(FILE *out, const data_report *r)
{
    const p4_config *cfg = r->cfg;
    const p4_dataset *train = r->w->train, *test = r->w->test;
    const p4_partition_spec *p = &cfg->partition;
    fprintf(out, "config     %s\n", cfg->path);
    fprintf(out, "dataset    %s from %s: %d train, %d test examples, %dx%dx%d, %d classes\n",
            cfg->dataset, cfg->data_path, train->count, test->count, train->width,
            train->height, train->channels, r->classes);
    fprintf(out, "partition  %s, %d client%s, seed %llu", p4_partition_kind_name(p->kind),
            r->clients, r->clients == 1 ? "" : "s", (unsigned long long)p->seed);
    if (p->kind == P4_PARTITION_LABEL_SKEW)
        fprintf(out, ", major_fraction %g", p->major_fraction);
    else if (p->kind == P4_PARTITION_DIRICHLET)
        fprintf(out, ", alpha %g", p->alpha);
    else if (p->kind == P4_PARTITION_CLUSTERED)
        fprintf(out, ", %d cluster%s", p->clusters, p->clusters == 1 ? "" : "s");
    fprintf(out, "\n\n");
}

typedef struct table_layout {
    int client_w, count_w, cluster_w, class_w;
    const char *cluster_name;
    int wide;
    int indent;   /* where the histogram starts */
} table_layout;

static table_layout layout_for(const data_report *r)
{
    table_layout t;
    t.client_w = digits(r->clients - 1) > 6 ? digits(r->clients - 1) : 6;
    long most = r->w->train->count > r->w->test->count ? r->w->train->count
                                                       : r->w->test->count;
    t.count_w = digits(most) > 8 ? digits(most) : 8;
    t.cluster_name = cluster_column(r->cfg);
    t.cluster_w = t.cluster_name ? (int)strlen(t.cluster_name) : 0;
    t.wide = r->classes <= WIDE_HISTOGRAM_CLASSES;
    long largest = 0;
    for (int i = 0; i < 2 * r->classes; i++)
        if (r->total[i] > largest)
            largest = r->total[i];
    t.class_w = digits(largest) > digits(r->classes - 1) ? digits(largest)
                                                         : digits(r->classes - 1);
    t.indent = t.client_w + 2 + 5 + 2 + t.count_w + 2 + (t.cluster_w ? t.cluster_w + 2 : 0);
    return t;
}

/* Prints the histogram part of a row, wrapping the compact form. */
static void print_histogram(FILE *out, const table_layout *t, const int *h, int classes)
{
    if (t->wide) {
        for (int c = 0; c < classes; c++)
            fprintf(out, "%s%*d", c ? "  " : "", t->class_w, h[c]);
        fputc('\n', out);
        return;
    }
    int col = t->indent, first = 1;
    for (int c = 0; c < classes; c++) {
        if (h[c] == 0)
            continue;
        int len = digits(c) + 1 + digits(h[c]);
        if (!first && col + 1 + len > LINE_WIDTH) {
            fprintf(out, "\n%*s", t->indent, "");
            col = t->indent;
            first = 1;
        }
        col += fprintf(out, "%s%d:%d", first ? "" : " ", c, h[c]);
        first = 0;
    }
    if (first)
        fputs("-", out);
    fputc('\n', out);
}

static void print_row(FILE *out, const table_layout *t, const char *client, int split,
                      long count, const char *cluster, const int *h, int classes)
{
    fprintf(out, "%*s  %-5s  %*ld  ", t->client_w, client, split ? "test" : "train",
            t->count_w, count);
    if (t->cluster_w)
        fprintf(out, "%*s  ", t->cluster_w, cluster);
    print_histogram(out, t, h, classes);
}

static void print_text(FILE *out, const data_report *r)
{
    print_summary(out, r);
    table_layout t = layout_for(r);

    fprintf(out, "%*s  %-5s  %*s  ", t.client_w, "client", "split", t.count_w, "examples");
    if (t.cluster_w)
        fprintf(out, "%*s  ", t.cluster_w, t.cluster_name);
    if (t.wide) {
        for (int c = 0; c < r->classes; c++)
            fprintf(out, "%s%*d", c ? "  " : "", t.class_w, c);
        fputc('\n', out);
    } else {
        fputs("labels (class:count, nonzero only)\n", out);
    }

    for (int k = 0; k < r->clients; k++) {
        const p4_client_split *s = &r->w->partition->split[k];
        char client[16], cluster[16];
        snprintf(client, sizeof client, "%d", k);
        if (s->cluster >= 0)
            snprintf(cluster, sizeof cluster, "%d", s->cluster);
        else
            snprintf(cluster, sizeof cluster, "-");
        for (int split = 0; split < 2; split++)
            print_row(out, &t, split ? "" : client, split, split_count(s, split),
                      split ? "" : cluster, client_hist(r, k, split), r->classes);
    }
    for (int split = 0; split < 2; split++)
        print_row(out, &t, split ? "" : "total", split, r->count[split], "",
                  r->total + split * r->classes, r->classes);

    long unused_train = r->w->train->count - r->count[0];
    long unused_test = r->w->test->count - r->count[1];
    if (unused_train > 0 || unused_test > 0)
        fprintf(out, "\nnot given to any client: %ld of %d train, %ld of %d test examples\n",
                unused_train, r->w->train->count, unused_test, r->w->test->count);
}

/* ---- JSON --------------------------------------------------------------- */

static void json_key(yajl_gen g, const char *key)
{
    yajl_gen_string(g, (const unsigned char *)key, strlen(key));
}

static void json_string(yajl_gen g, const char *key, const char *value)
{
    json_key(g, key);
    yajl_gen_string(g, (const unsigned char *)value, strlen(value));
}

static void json_int(yajl_gen g, const char *key, long long value)
{
    json_key(g, key);
    yajl_gen_integer(g, value);
}

static void json_histogram(yajl_gen g, const char *key, const int *h, int classes)
{
    json_key(g, key);
    yajl_gen_array_open(g);
    for (int c = 0; c < classes; c++)
        yajl_gen_integer(g, h[c]);
    yajl_gen_array_close(g);
}

static int print_json(FILE *out, const data_report *r)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    if (g == NULL)
        return P4_ENOMEM;
    yajl_gen_config(g, yajl_gen_validate_utf8, 1);
    const p4_config *cfg = r->cfg;

    yajl_gen_map_open(g);
    json_string(g, "config", cfg->path);
    json_string(g, "dataset", cfg->dataset);
    json_string(g, "data_path", cfg->data_path);
    json_int(g, "classes", r->classes);
    json_int(g, "train_examples", r->w->train->count);
    json_int(g, "test_examples", r->w->test->count);
    json_string(g, "partition", p4_partition_kind_name(cfg->partition.kind));
    json_key(g, "seed");
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)cfg->partition.seed);
    yajl_gen_number(g, seed, strlen(seed)); /* a uint64 need not fit long long */

    json_key(g, "clients");
    yajl_gen_array_open(g);
    for (int k = 0; k < r->clients; k++) {
        const p4_client_split *s = &r->w->partition->split[k];
        yajl_gen_map_open(g);
        json_int(g, "client", k);
        json_int(g, "train", s->train_count);
        json_int(g, "test", s->test_count);
        json_key(g, "cluster");
        if (s->cluster >= 0)
            yajl_gen_integer(g, s->cluster);
        else
            yajl_gen_null(g);
        json_histogram(g, "train_labels", client_hist(r, k, 0), r->classes);
        json_histogram(g, "test_labels", client_hist(r, k, 1), r->classes);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);

    json_key(g, "total");
    yajl_gen_map_open(g);
    json_int(g, "train", r->count[0]);
    json_int(g, "test", r->count[1]);
    json_histogram(g, "train_labels", r->total, r->classes);
    json_histogram(g, "test_labels", r->total + r->classes, r->classes);
    yajl_gen_map_close(g);
    yajl_gen_status status = yajl_gen_map_close(g);

    const unsigned char *buf;
    size_t len;
    if (status == yajl_gen_status_ok)
        status = yajl_gen_get_buf(g, &buf, &len);
    if (status == yajl_gen_status_ok) {
        fwrite(buf, 1, len, out);
        fputc('\n', out);
    }
    yajl_gen_free(g);
    /* A path that is not UTF-8 cannot be written as JSON. */
    return status == yajl_gen_status_ok ? P4_OK : P4_EFORMAT;
}

/* ---- the command -------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: p4 data --config FILE [--json]\n"
            "\n"
            "Loads the datasets of a config, partitions them among its clients, and\n"
            "prints what every client holds: train and test sizes, its cluster (or\n"
            "major class), and the label histograms of its train and test examples.\n"
            "\n"
            "  -c, --config FILE  the run's config (see docs/config.md)\n"
            "      --json         print the same as one JSON object on one line\n"
            "  -h, --help         this help\n"
            "\n"
            "Exit status: 0 ok, 1 out of memory, 2 bad usage, config or data.\n");
}

int p4_cmd_data(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    int json = 0, opt;
    optind = 0; /* glibc: start afresh, whoever parsed options before us */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "p4 data: bad option '%s'\n\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "p4 data: unexpected argument '%s'\n\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (config == NULL) {
        fprintf(stderr, "p4 data: --config FILE is required\n\n");
        usage(stderr);
        return 2;
    }

    p4_config *cfg = malloc(sizeof *cfg);
    if (cfg == NULL) {
        fprintf(stderr, "p4 data: out of memory\n");
        return 1;
    }
    p4_error err;
    p4_error_clear(&err);
    p4_workload *w = NULL;
    int rc = p4_config_load(config, cfg, &err);
    if (rc == P4_OK)
        rc = p4_workload_load(cfg, &w, &err);
    if (rc != P4_OK) {
        fprintf(stderr, "%s\n", err.message);
        free(cfg);
        return rc == P4_ENOMEM ? 1 : 2;
    }

    data_report r;
    rc = report_build(&r, cfg, w);
    if (rc == P4_OK) {
        if (json)
            rc = print_json(stdout, &r);
        else
            print_text(stdout, &r);
    }
    report_free(&r);
    p4_workload_destroy(&w);
    free(cfg);
    if (rc == P4_EFORMAT)
        fprintf(stderr, "p4 data: a path in %s is not UTF-8, which JSON cannot carry\n",
                config);
    else if (rc != P4_OK)
        fprintf(stderr, "p4 data: out of memory\n");
    return rc == P4_OK ? 0 : rc == P4_EFORMAT ? 2 : 1;
}
