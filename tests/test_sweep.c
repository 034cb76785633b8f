/* test_sweep.c: a sweep run in slices and merged gives what one run gives
 * (`p4 sweep --shard K/N`, `p4 sweep merge`), in --reproducible mode; and
 * merging refuses missing, repeated, foreign or garbled slices by name. */
#include "support/test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define FMNIST "/usr/share/datasets/fashion-mnist"

static const char *p4_bin(void)
{
    const char *bin = getenv("P4_BIN");
    return bin ? bin : "build/p4";
}

/* Runs a shell command; returns its exit status and its stderr in `out`. */
static int run(const char *cmd, char *out, size_t size)
{
    char full[4096];
    int len = snprintf(full, sizeof full, "%s 2>&1 >/dev/null", cmd);
    assert_true(len > 0 && (size_t)len < sizeof full);
    FILE *p = popen(full, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* results.csv without its `seconds` column (the only one that differs). */
static char *results_without_time(const char *dir)
{
    char path[1200], line[1024];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = calloc(1, 1 << 16);
    while (fgets(line, sizeof line, f)) {
        char *field[11], *save = NULL;
        int n = 0;
        for (char *tok = strtok_r(line, ",", &save); tok && n < 11; tok = strtok_r(NULL, ",", &save))
            field[n++] = tok;
        assert_int_equal(n, 11);
        for (int k = 0; k < 11; k++)
            if (k != 9)
                snprintf(text + strlen(text), (1 << 16) - strlen(text), "%s%s", field[k],
                         k == 10 ? "" : ",");
    }
    fclose(f);
    return text;
}

static char *slurp(const char *dir, const char *name)
{
    char path[1200];
    int len = snprintf(path, sizeof path, "%s/%s", dir, name);
    assert_true(len > 0 && (size_t)len < sizeof path);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* A tiny clustered job (4 clients, 1 round) in dir/name, with `extra` lines. */
static void tiny_config(const char *dir, const char *name, const char *extra, char *path,
                        size_t size)
{
    char text[1024];
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\npartition = clustered\nclients = 4\nclusters = 2\n"
             "cluster_classes = 0,1,2; 5,7,9\ntrain_per_client = 30\ntest_per_client = 30\n"
             "max_train = 2000\nmax_test = 500\nseed = 2\n"
             "[model]\ncfg = %s/configs/models/logreg-28x28x1.cfg\nbatch = 10\nseed = 2\n"
             "[dp]\ntarget_epsilon = 4\n[p4]\nrounds = 1\ngroup_size = 2\n%s",
             getenv("P4_SOURCE_DIR") ? getenv("P4_SOURCE_DIR") : ".", extra);
    test_write_text(dir, name, text, path, size);
}

static void slices_merge_to_the_whole_run(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    char cfg[1200], cmd[4096], out[8192];
    tiny_config(dir, "tiny.ini", "", cfg, sizeof cfg);
    const char *common = "--epsilon 2,inf --seeds 2 --method p4,local --reproducible --threads 2";
    snprintf(cmd, sizeof cmd, "%s sweep --config %s %s --out %s/whole", p4_bin(), cfg, common, dir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    for (int k = 1; k <= 3; k++) {
        snprintf(cmd, sizeof cmd, "%s sweep --config %s %s --shard %d/3 --out %s/slice%d", p4_bin(),
                 cfg, common, k, dir, k);
        assert_int_equal(run(cmd, out, sizeof out), 0);
    }
    /* Missing and repeated slices are refused by name. */
    snprintf(cmd, sizeof cmd, "%s sweep merge --out %s/m %s/slice1 %s/slice2", p4_bin(), dir, dir, dir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "3 slices, 2 given"));
    snprintf(cmd, sizeof cmd, "%s sweep merge --out %s/m %s/slice1 %s/slice2 %s/slice2", p4_bin(),
             dir, dir, dir, dir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "twice")); /* a repeated row, or a repeated empty slice */

    snprintf(cmd, sizeof cmd, "%s sweep merge --out %s/merged %s/slice3 %s/slice1 %s/slice2",
             p4_bin(), dir, dir, dir, dir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    char whole[1200], merged[1200];
    snprintf(whole, sizeof whole, "%s/whole", dir);
    snprintf(merged, sizeof merged, "%s/merged", dir);
    char *a = results_without_time(whole), *b = results_without_time(merged);
    assert_string_equal(a, b);
    assert_non_null(strstr(a, "p4,2,0,2,"));      /* the cells are really there */
    assert_non_null(strstr(a, "local,inf,0,3,"));
    free(a);
    free(b);
    a = slurp(whole, "summary.csv");
    b = slurp(merged, "summary.csv");
    assert_string_equal(a, b);
    free(a);
    free(b);

    /* A garbled row is refused with its file and line. */
    snprintf(cmd, sizeof cmd, "sed -i '2s/,none$/,maybe/;2s/,holds$/,maybe/' %s/slice2/results.csv", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s sweep merge --out %s/m2 %s/slice1 %s/slice2 %s/slice3", p4_bin(),
             dir, dir, dir, dir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "slice2/results.csv:2:"));
    /* So is a slice of another sweep. */
    snprintf(cmd, sizeof cmd, "sed -i 's/^seeds 2$/seeds 3/' %s/slice3/sweep-plan.txt", dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s sweep merge --out %s/m3 %s/slice1 %s/slice3", p4_bin(), dir, dir, dir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "a different sweep"));
}

/* --attack-fraction is an axis of its own: each cell runs with its share of
 * malicious clients and reports the honest clients' accuracy. */
static void attack_fraction_is_an_axis(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    char cfg[1200], cmd[4096], out[8192];
    tiny_config(dir, "attacked.ini", "[attack]\nkind = signflip\nstrength = 5\n", cfg, sizeof cfg);
    snprintf(cmd, sizeof cmd, "%s sweep --config %s --epsilon 4 --seeds 1 --method p4 "
             "--attack-fraction 0,0.5 --reproducible --out %s/a", p4_bin(), cfg, dir);
    assert_int_equal(run(cmd, out, sizeof out), 0);
    char sub[1200];
    snprintf(sub, sizeof sub, "%s/a", dir);
    char *summary = slurp(sub, "summary.csv");
    assert_non_null(strstr(summary, "honest_mean_accuracy"));
    assert_non_null(strstr(summary, ",honest_std_over_seeds\n"));
    assert_non_null(strstr(summary, "\np4,4,0,"));
    assert_non_null(strstr(summary, "\np4,4,0.5,"));
    free(summary);
    /* With no honest/attacker split the honest mean is the mean: at 0 they agree. */
    char *rows = slurp(sub, "results.csv");
    char *zero = strstr(rows, "\np4,4,0,2,");
    assert_non_null(zero);
    double mean = 0, honest = 0;
    assert_int_equal(sscanf(zero, "\np4,4,0,2,%lf,%lf,", &mean, &honest), 2);
    assert_true(mean == honest);
    free(rows);
    /* An axis of attacks needs an attack to stage. */
    snprintf(cmd, sizeof cmd, "sed -i 's/^kind = signflip$/kind = none/' %s", cfg);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s sweep --config %s --epsilon 4 --seeds 1 --method p4 "
             "--attack-fraction 0,0.5 --out %s/b", p4_bin(), cfg, dir);
    assert_int_equal(run(cmd, out, sizeof out), 2);
    assert_non_null(strstr(out, "needs an [attack] kind"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(slices_merge_to_the_whole_run, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(attack_fraction_is_an_axis, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
