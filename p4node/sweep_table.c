/* sweep_table.c: a sweep's plan and rows, on disk and summarised; see
 * sweep_table.h. */
#include "p4node/sweep_table.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_FILE "sweep-plan.txt"
#define RESULTS_FILE "results.csv"
#define RESULTS_HEADER "method,epsilon,attack_fraction,seed,mean_accuracy,honest_mean_accuracy," \
                       "std_accuracy,epsilon_spent,ari,seconds,dp_guarantee"
#define RESULTS_FIELDS 11
#define LINE_MAX_BYTES 1024

int p4_sweep_table_new(p4_sweep_table *t, const p4_sweep_plan *plan, p4_error *err)
{
    if (!t || !plan || plan->nmethods < 1 || plan->nmethods > P4_SWEEP_MAX_LIST || plan->neps < 1 ||
        plan->neps > P4_SWEEP_MAX_LIST || plan->nfractions < 1 ||
        plan->nfractions > P4_SWEEP_MAX_LIST || plan->seeds < 1 || plan->seeds > P4_SWEEP_MAX_SEEDS)
        return p4_error_set(err, P4_EINVAL, "sweep: bad plan");
    t->plan = *plan;
    t->rows = calloc((size_t)plan->nmethods * plan->neps * plan->nfractions * plan->seeds,
                     sizeof *t->rows);
    return t->rows ? P4_OK : p4_error_set(err, P4_ENOMEM, "sweep: out of memory");
}

void p4_sweep_table_free(p4_sweep_table *t)
{
    if (t) {
        free(t->rows);
        t->rows = NULL;
    }
}

static size_t row_index(const p4_sweep_plan *p, int m, int e, int f, int s)
{
    return (((size_t)m * p->neps + e) * p->nfractions + f) * p->seeds + s;
}

p4_sweep_row *p4_sweep_row_at(p4_sweep_table *t, int m, int e, int f, int s)
{
    return &t->rows[row_index(&t->plan, m, e, f, s)];
}

static const p4_sweep_row *row_at(const p4_sweep_table *t, int m, int e, int f, int s)
{
    return &t->rows[row_index(&t->plan, m, e, f, s)];
}

/* ---- units and slices ---------------------------------------------------- */

static int units_of(const p4_sweep_plan *p, int m)
{
    return (p->method[m] == P4_METHOD_LOCAL ? 1 : p->neps) * p->nfractions * p->seeds;
}

int p4_sweep_units(const p4_sweep_plan *p)
{
    int n = 0;
    for (int m = 0; m < p->nmethods; m++)
        n += units_of(p, m);
    return n;
}

void p4_sweep_unit_cell(const p4_sweep_plan *p, int u, int *m, int *e, int *f, int *s)
{
    int k = 0;
    while (u >= units_of(p, k))
        u -= units_of(p, k++);
    *m = k;
    *s = u % p->seeds;
    u /= p->seeds;
    *f = u % p->nfractions;
    *e = u / p->nfractions;
}

int p4_sweep_unit_in_shard(const p4_sweep_plan *p, int u)
{
    return u % p->shards == p->shard - 1;
}

int p4_sweep_parse_shard(const char *text, int *shard, int *shards)
{
    char *end = NULL;
    long k = strtol(text, &end, 10);
    if (end == text || *end != '/')
        return P4_EINVAL;
    const char *rest = end + 1;
    long n = strtol(rest, &end, 10);
    if (end == rest || *end != '\0' || n < 1 || n > 10000 || k < 1 || k > n)
        return P4_EINVAL;
    *shard = (int)k;
    *shards = (int)n;
    return P4_OK;
}

/* ---- writing -------------------------------------------------------------- */

static void epsilon_text(double eps, char *out, size_t n)
{
    if (isinf(eps))
        snprintf(out, n, "inf");
    else
        snprintf(out, n, "%.17g", eps);
}

static FILE *open_in(const char *dir, const char *name, const char *mode, char *path, size_t n,
                     p4_error *err)
{
    snprintf(path, n, "%s/%s", dir, name);
    FILE *f = fopen(path, mode);
    if (!f)
        p4_error_set(err, P4_EIO, "%s: cannot %s: %s", path, *mode == 'w' ? "write" : "read",
                     strerror(errno));
    return f;
}

static void write_row(FILE *f, const p4_sweep_plan *p, int m, int e, int fr, int s,
                      const p4_sweep_row *r)
{
    fprintf(f, "%s,%g,%g,%" PRIu64 ",%.6f,%.6f,%.6f,%.6f,%.6f,%.2f,%s\n",
            p4_method_name(p->method[m]), p->epsilon[e], p->fraction[fr],
            p->model_seed + (uint64_t)s, r->mean_accuracy, r->honest_mean_accuracy, r->std_accuracy,
            r->epsilon_spent, r->ari, r->seconds, r->guarantee);
}

int p4_sweep_write(const p4_sweep_table *t, const char *dir, p4_error *err)
{
    const p4_sweep_plan *p = &t->plan;
    char path[P4_PATH_MAX + 64], text[64];
    FILE *f = open_in(dir, PLAN_FILE, "w", path, sizeof path, err);
    if (!f)
        return P4_EIO;
    fprintf(f, "p4-sweep-plan 1\nconfig %s\ndelta %.17g\nmethods ", p->config, p->delta);
    for (int m = 0; m < p->nmethods; m++)
        fprintf(f, "%s%s", m ? "," : "", p4_method_name(p->method[m]));
    fprintf(f, "\nepsilon ");
    for (int e = 0; e < p->neps; e++) {
        epsilon_text(p->epsilon[e], text, sizeof text);
        fprintf(f, "%s%s", e ? "," : "", text);
    }
    fprintf(f, "\nattack-fraction ");
    for (int k = 0; k < p->nfractions; k++)
        fprintf(f, "%s%.17g", k ? "," : "", p->fraction[k]);
    fprintf(f, "\nseeds %d\nseed %" PRIu64 " %" PRIu64 "\nshard %d/%d\nreproducible %d\n",
            p->seeds, p->model_seed, p->partition_seed, p->shard, p->shards, p->reproducible);
    int bad = fclose(f) != 0;
    if (bad || !(f = open_in(dir, RESULTS_FILE, "w", path, sizeof path, err)))
        return bad ? p4_error_set(err, P4_EIO, "%s: write failed", path) : P4_EIO;
    fprintf(f, "%s\n", RESULTS_HEADER);
    for (int m = 0; m < p->nmethods; m++)
        for (int e = 0; e < p->neps; e++)
            for (int fr = 0; fr < p->nfractions; fr++)
                for (int s = 0; s < p->seeds; s++)
                    if (row_at(t, m, e, fr, s)->present)
                        write_row(f, p, m, e, fr, s, row_at(t, m, e, fr, s));
    return fclose(f) == 0 ? P4_OK : p4_error_set(err, P4_EIO, "%s: write failed", path);
}

/* ---- reading --------------------------------------------------------------- */

typedef struct reader {
    FILE *f;
    char path[P4_PATH_MAX + 64];
    int line;
    char text[LINE_MAX_BYTES];
} reader;

/* The next line without its newline; 0 at the end of the file. */
static int next_line(reader *r, p4_error *err, int *rc)
{
    if (!fgets(r->text, sizeof r->text, r->f))
        return 0;
    r->line++;
    size_t n = strlen(r->text);
    if (n > 0 && r->text[n - 1] == '\n')
        r->text[--n] = '\0';
    else if (!feof(r->f)) {
        *rc = p4_error_set(err, P4_EFORMAT, "%s:%d: line longer than %d bytes", r->path, r->line,
                           LINE_MAX_BYTES - 2);
        return 0;
    }
    return 1;
}

static int parse_double(const char *s, double *out)
{
    if (strcmp(s, "inf") == 0) {
        *out = INFINITY;
        return 1;
    }
    if (strcmp(s, "nan") == 0 || strcmp(s, "-nan") == 0) {
        *out = NAN;
        return 1;
    }
    char *end = NULL;
    errno = 0;
    *out = strtod(s, &end);
    return end != s && *end == '\0' && errno == 0 && isfinite(*out);
}

/* what: 'm' methods, 'e' epsilons (> 0 or inf), 'f' attack fractions in [0, 1]. */
static int parse_list(const char *s, char what, p4_sweep_plan *p)
{
    char copy[LINE_MAX_BYTES];
    snprintf(copy, sizeof copy, "%s", s);
    int *count = what == 'm' ? &p->nmethods : what == 'e' ? &p->neps : &p->nfractions;
    double *values = what == 'e' ? p->epsilon : p->fraction;
    *count = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*count == P4_SWEEP_MAX_LIST)
            return 0;
        int ok = what == 'm' ? p4_method_parse(tok, &p->method[*count]) == P4_OK
                             : parse_double(tok, &values[*count]) && !isnan(values[*count]) &&
                                   (what == 'e' ? values[*count] > 0
                                                : values[*count] >= 0 && values[*count] <= 1);
        if (!ok)
            return 0;
        (*count)++;
    }
    return *count > 0;
}

static int read_plan(p4_sweep_plan *p, const char *dir, p4_error *err)
{
    reader r = { 0 };
    if (!(r.f = open_in(dir, PLAN_FILE, "r", r.path, sizeof r.path, err)))
        return P4_EIO;
    static const char *const keys[] = { "p4-sweep-plan", "config", "delta", "methods", "epsilon",
                                        "attack-fraction", "seeds", "seed", "shard",
                                        "reproducible" };
    memset(p, 0, sizeof *p);
    int rc = P4_OK;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0] && rc == P4_OK; k++) {
        if (!next_line(&r, err, &rc)) {
            if (rc == P4_OK)
                rc = p4_error_set(err, P4_EFORMAT, "%s: ends before `%s`", r.path, keys[k]);
            break;
        }
        size_t klen = strlen(keys[k]);
        const char *v = r.text + klen + 1;
        int ok = strncmp(r.text, keys[k], klen) == 0 && r.text[klen] == ' ';
        char tail;
        if (ok) {
            switch (k) {
            case 0: ok = strcmp(v, "1") == 0; break;
            case 1: ok = strlen(v) < sizeof p->config; snprintf(p->config, sizeof p->config, "%s", v); break;
            case 2: ok = parse_double(v, &p->delta) && p->delta > 0 && p->delta < 1; break;
            case 3: ok = parse_list(v, 'm', p); break;
            case 4: ok = parse_list(v, 'e', p); break;
            case 5: ok = parse_list(v, 'f', p); break;
            case 6: ok = sscanf(v, "%d%c", &p->seeds, &tail) == 1 && p->seeds >= 1 &&
                         p->seeds <= P4_SWEEP_MAX_SEEDS; break;
            case 7: ok = sscanf(v, "%" SCNu64 " %" SCNu64 "%c", &p->model_seed, &p->partition_seed,
                                &tail) == 2; break;
            case 8: ok = sscanf(v, "%d/%d%c", &p->shard, &p->shards, &tail) == 2 && p->shards >= 1 &&
                         p->shard >= 1 && p->shard <= p->shards; break;
            default: ok = sscanf(v, "%d%c", &p->reproducible, &tail) == 1 &&
                          (p->reproducible == 0 || p->reproducible == 1); break;
            }
        }
        if (!ok)
            rc = p4_error_set(err, P4_EFORMAT, "%s:%d: expected `%s ...`, read \"%.60s\"", r.path,
                              r.line, keys[k], r.text);
    }
    fclose(r.f);
    return rc;
}

/* Index of the value of values[0..n) printed as `text` by write_row, or -1. */
static int value_index(const double *values, int n, const char *text)
{
    char mine[64];
    for (int k = 0; k < n; k++) {
        snprintf(mine, sizeof mine, "%g", values[k]);
        if (strcmp(mine, text) == 0)
            return k;
    }
    return -1;
}

static int read_row(p4_sweep_table *t, reader *r, p4_error *err)
{
    const p4_sweep_plan *p = &t->plan;
    char *field[RESULTS_FIELDS], *save = NULL;
    int n = 0;
    for (char *tok = strtok_r(r->text, ",", &save); tok && n < RESULTS_FIELDS;
         tok = strtok_r(NULL, ",", &save))
        field[n++] = tok;
    if (n != RESULTS_FIELDS || strtok_r(NULL, ",", &save))
        return p4_error_set(err, P4_EFORMAT, "%s:%d: expected %d fields", r->path, r->line,
                            RESULTS_FIELDS);
    p4_method method;
    int m = -1, e = value_index(p->epsilon, p->neps, field[1]);
    int f = value_index(p->fraction, p->nfractions, field[2]);
    if (p4_method_parse(field[0], &method) == P4_OK)
        for (int k = 0; k < p->nmethods; k++)
            if (p->method[k] == method)
                m = k;
    char *end = NULL;
    unsigned long long seed = strtoull(field[3], &end, 10);
    long long s = (end != field[3] && *end == '\0') ? (long long)(seed - p->model_seed) : -1;
    if (m < 0 || e < 0 || f < 0 || s < 0 || s >= p->seeds)
        return p4_error_set(err, P4_EFORMAT, "%s:%d: method %s, epsilon %s, attack fraction %s, "
                            "seed %s is not a cell of the plan", r->path, r->line, field[0],
                            field[1], field[2], field[3]);
    p4_sweep_row row = { .present = 1 };
    const char *g = field[10];
    if (!parse_double(field[4], &row.mean_accuracy) ||
        !parse_double(field[5], &row.honest_mean_accuracy) ||
        !parse_double(field[6], &row.std_accuracy) || !parse_double(field[7], &row.epsilon_spent) ||
        !parse_double(field[8], &row.ari) || !parse_double(field[9], &row.seconds) ||
        (strcmp(g, "holds") && strcmp(g, "conditional") && strcmp(g, "none")))
        return p4_error_set(err, P4_EFORMAT, "%s:%d: a number or the dp_guarantee is malformed",
                            r->path, r->line);
    snprintf(row.guarantee, sizeof row.guarantee, "%s", g);
    p4_sweep_row *slot = p4_sweep_row_at(t, m, e, f, (int)s);
    if (slot->present)
        return p4_error_set(err, P4_EFORMAT, "%s:%d: method %s, epsilon %s, attack fraction %s, "
                            "seed %s appears twice", r->path, r->line, field[0], field[1], field[2],
                            field[3]);
    *slot = row;
    return P4_OK;
}

int p4_sweep_read(p4_sweep_table *t, const char *dir, int *shard, p4_error *err)
{
    p4_sweep_plan plan;
    int rc = read_plan(&plan, dir, err);
    if (rc != P4_OK)
        return rc;
    *shard = plan.shard;
    if (!t->rows && (rc = p4_sweep_table_new(t, &plan, err)) != P4_OK)
        return rc;
    /* Slices of one sweep share every line of the plan but their own slice. */
    p4_sweep_plan mine = t->plan;
    mine.shard = plan.shard;
    if (memcmp(&mine, &plan, sizeof plan) != 0)
        return p4_error_set(err, P4_EINVAL, "%s/" PLAN_FILE ": a different sweep (config, methods, "
                            "epsilons, seeds or flags differ from the first)", dir);
    reader r = { 0 };
    if (!(r.f = open_in(dir, RESULTS_FILE, "r", r.path, sizeof r.path, err)))
        return P4_EIO;
    if (!next_line(&r, err, &rc) || strcmp(r.text, RESULTS_HEADER) != 0)
        rc = rc != P4_OK ? rc : p4_error_set(err, P4_EFORMAT, "%s:1: not a p4 sweep results.csv", r.path);
    while (rc == P4_OK && next_line(&r, err, &rc))
        rc = read_row(t, &r, err);
    fclose(r.f);
    return rc;
}

/* ---- summary and plot ------------------------------------------------------- */

/* Writes the gnuplot script and runs it.  Over epsilon (one attack
 * fraction): mean accuracy with error bars, infinity drawn at 2x the largest
 * finite epsilon and labelled "inf".  Over attack fractions: the honest
 * clients' mean accuracy, one line per method and epsilon. */
static void plot(const p4_sweep_plan *p, const char *dir, const char *summary)
{
    char path[P4_PATH_MAX + 32];
    p4_error err = {0};
    FILE *gp = open_in(dir, "sweep.gp", "w", path, sizeof path, &err);
    if (!gp) {
        fprintf(stderr, "p4 sweep: %s\n", err.message);
        return;
    }
    int by_attack = p->nfractions > 1;
    fprintf(gp, "# made by p4 sweep; run with: gnuplot %s\n", path);
    fprintf(gp, "set datafile separator ','\nset key center right\nset title '%s'\nset grid\n",
            p->config);
    if (by_attack) {
        fprintf(gp, "set xlabel 'fraction of malicious clients'\n"
                    "set ylabel 'honest clients: mean personalised test accuracy'\n");
    } else {
        double largest = 1, smallest;
        for (int e = 0; e < p->neps; e++)
            if (!isinf(p->epsilon[e]) && p->epsilon[e] > largest) largest = p->epsilon[e];
        smallest = largest;
        for (int e = 0; e < p->neps; e++)
            if (!isinf(p->epsilon[e]) && p->epsilon[e] < smallest) smallest = p->epsilon[e];
        fprintf(gp, "set logscale x 2\nset xlabel 'epsilon per client (delta %g)'\n"
                    "set ylabel 'mean personalised test accuracy'\ninf_x = %g\n"
                    "set xrange [%g:%g]\nset xtics (", p->delta, 2 * largest, smallest / 1.25,
                2.5 * largest);
        for (int e = 0; e < p->neps; e++) {
            if (isinf(p->epsilon[e]))
                fprintf(gp, "%s\"inf\" %g", e ? ", " : "", 2 * largest);
            else
                fprintf(gp, "%s\"%g\" %g", e ? ", " : "", p->epsilon[e], p->epsilon[e]);
        }
        fprintf(gp, ")\nx(e) = (e eq 'inf') ? inf_x : real(e)\n");
    }
    for (int t = 0; t < 2; t++) {
        fprintf(gp, "set terminal %s size 800,520\nset output '%s/sweep.%s'\nplot ",
                t ? "svg" : "png", dir, t ? "svg" : "png");
        for (int m = 0, first = 1; m < p->nmethods; m++) {
            const char *name = p4_method_name(p->method[m]);
            if (!by_attack) {
                fprintf(gp, "%s'%s' using (strcol(1) eq '%s' ? x(strcol(2)) : NaN):4:5 skip 1 "
                            "with yerrorlines title '%s'", first ? "" : ", ", summary, name, name);
                first = 0;
                continue;
            }
            for (int e = 0; e < p->neps; e++, first = 0) /* error bars: std over seeds */
                fprintf(gp, "%s'%s' using ((strcol(1) eq '%s' && strcol(2) eq '%g') ? $3 : NaN):6:10 "
                            "skip 1 with yerrorlines title '%s, epsilon %g'", first ? "" : ", ",
                        summary, name, p->epsilon[e], name, p->epsilon[e]);
        }
        fprintf(gp, "\n");
    }
    fclose(gp);
    char cmd[2 * P4_PATH_MAX];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>&1", path);
    if (system(cmd) != 0)
        fprintf(stderr, "p4 sweep: gnuplot failed or is missing (apt-get install gnuplot-nox); "
                        "the script is %s\n", path);
}

int p4_sweep_summarise(const p4_sweep_table *t, const char *dir, FILE *out, p4_error *err)
{
    const p4_sweep_plan *p = &t->plan;
    for (int m = 0; m < p->nmethods; m++)
        for (int e = 0; e < p->neps; e++)
            for (int fr = 0; fr < p->nfractions; fr++)
                for (int s = 0; s < p->seeds; s++)
                    if (!row_at(t, m, e, fr, s)->present)
                        return p4_error_set(err, P4_EINVAL, "sweep: no result for %s, epsilon %g, "
                                            "attack fraction %g, seed %d: a slice is missing",
                                            p4_method_name(p->method[m]), p->epsilon[e],
                                            p->fraction[fr], s + 1);
    char path[P4_PATH_MAX + 32];
    FILE *f = open_in(dir, "summary.csv", "w", path, sizeof path, err);
    if (!f)
        return P4_EIO;
    fprintf(f, "method,epsilon,attack_fraction,mean_accuracy,std_over_seeds,honest_mean_accuracy,"
               "seeds,mean_ari,dp_guarantee,honest_std_over_seeds\n");
    fprintf(out, "%-11s %8s %6s %10s %8s %8s %6s  %s\n", "method", "epsilon", "attack", "accuracy",
            "std", "honest", "ari", "dp_guarantee");
    for (int m = 0; m < p->nmethods; m++)
        for (int e = 0; e < p->neps; e++)
            for (int fr = 0; fr < p->nfractions; fr++) {
                double sum = 0, sq = 0, honest = 0, honest_sq = 0, ari = 0;
                for (int s = 0; s < p->seeds; s++) {
                    const p4_sweep_row *r = row_at(t, m, e, fr, s);
                    sum += r->mean_accuracy;
                    sq += r->mean_accuracy * r->mean_accuracy;
                    honest += r->honest_mean_accuracy;
                    honest_sq += r->honest_mean_accuracy * r->honest_mean_accuracy;
                    ari += isnan(r->ari) ? 0 : r->ari;
                }
                double mean = sum / p->seeds;
                double sd = p->seeds > 1 ? sqrt(fmax(0, (sq - p->seeds * mean * mean) / (p->seeds - 1)))
                                         : 0;
                honest /= p->seeds;
                double honest_sd = p->seeds > 1 ? sqrt(fmax(0, (honest_sq - p->seeds * honest * honest) /
                                                               (p->seeds - 1)))
                                                : 0;
                ari = p->method[m] == P4_METHOD_P4 ? ari / p->seeds : NAN;
                const char *guarantee = row_at(t, m, e, fr, 0)->guarantee;
                fprintf(f, "%s,%g,%g,%.6f,%.6f,%.6f,%d,%.4f,%s,%.6f\n", p4_method_name(p->method[m]),
                        p->epsilon[e], p->fraction[fr], mean, sd, honest, p->seeds, ari, guarantee,
                        honest_sd);
                fprintf(out, "%-11s %8g %6g %10.4f %8.4f %8.4f %6.3f  %s\n",
                        p4_method_name(p->method[m]), p->epsilon[e], p->fraction[fr], mean, sd,
                        honest, ari, guarantee);
            }
    if (fclose(f) != 0)
        return p4_error_set(err, P4_EIO, "%s: write failed", path);
    plot(p, dir, path);
    return P4_OK;
}
