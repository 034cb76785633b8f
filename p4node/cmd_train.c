/* cmd_train.c: `p4 train --config F [--client K] [--json] [--state DB]`.
 *
 * Trains one client's model on its own split (plain SGD, or DP-SGD when the
 * config has a [dp] section) and reports per-epoch loss, test accuracy and
 * time; with --json, one JSON object at the end. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config.h"
#include "common/json.h"
#include "common/progress.h"
#include "datasets/workload.h"
#include "dp/accountant.h"
#include "dp/dpsgd.h"
#include "dp/guarantee.h"
#include "dp/ledger.h"
#include "model/gemm.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "model/trainer.h"
#include "p4node/commands.h"
#include "p4node/simulation.h"
#include "tee/enclave.h"

typedef struct {
    const char *config_path;
    const char *state_override;
    int client;
    int json;
    int epochs_override;
    const char *epsilon;       /* --epsilon E|inf, or NULL */
    int reproducible;          /* noise and batches from the seed: NOT private */
} train_options;

typedef struct {
    double loss, accuracy, seconds, epsilon;
} epoch_record;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: p4 train --config FILE [--client K] [--epochs N] [--state DB] [--json]\n"
            "                [--epsilon E|inf] [--reproducible]\n"
            "  Trains client K's model (default 0) on its split and reports test accuracy.\n"
            "  --epochs N   override [model] epochs\n"
            "  --state DB   privacy ledger for DP runs (overrides [dp] state)\n"
            "  --epsilon E  train with DP-SGD at target epsilon E (inf: without DP),\n"
            "               overriding [dp] enabled/target_epsilon/noise_multiplier\n"
            "  --json       print one JSON object at the end\n"
            "  --reproducible  draw DP noise and batches from the config's seed: the run\n"
            "               repeats exactly and is NOT private (dp_guarantee none)\n");
}

static int parse_options(int argc, char **argv, train_options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"client", required_argument, NULL, 'k'},
        {"json", no_argument, NULL, 'j'},         {"state", required_argument, NULL, 's'},
        {"epochs", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'},
        {"epsilon", required_argument, NULL, 'p'}, {"reproducible", no_argument, NULL, 'r'},
        {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'c': o->config_path = optarg; break;
        case 's': o->state_override = optarg; break;
        case 'p': o->epsilon = optarg; break;
        case 'j': o->json = 1; break;
        case 'r': o->reproducible = 1; break;
        case 'k':
        case 'e': {
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v < (c == 'k' ? 0 : 1) || v > 1000000) {
                fprintf(stderr, "p4 train: --%s %s: expected a %s integer\n",
                        c == 'k' ? "client" : "epochs", optarg, c == 'k' ? "non-negative" : "positive");
                return 2;
            }
            if (c == 'k')
                o->client = (int)v;
            else
                o->epochs_override = (int)v;
            break;
        }
        case 'h': usage(stdout); return 1;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "p4 train: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o->config_path == NULL) {
        fprintf(stderr, "p4 train: --config FILE is required\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* The DP side of a run: enclave, ledger and the chosen noise. */
typedef struct {
    p4_enclave *enclave;
    p4_ledger *ledger;
    p4_dpsgd *dpsgd;
    p4_dpsgd_params params;
    long long planned_steps;
    char state[P4_PATH_MAX];
} dp_run;

static int dp_run_open(dp_run *run, const p4_config *cfg, const train_options *o,
                       p4_model *model, p4_sgd *sgd, int train_count, int epochs,
                       p4_error *err)
{
    memset(run, 0, sizeof *run);
    double q = cfg->sample_rate > 0 ? cfg->sample_rate : (double)cfg->batch / train_count;
    if (q > 1)
        q = 1;
    run->params.sample_rate = q;
    run->params.clip_norm = cfg->clip_norm;
    run->planned_steps = (long long)epochs * p4_dpsgd_steps_per_epoch(q);
    snprintf(run->state, sizeof run->state, "%s",
             o->state_override ? o->state_override : (cfg->state[0] ? cfg->state : "p4-state.db"));

    int rc = p4_ledger_open(run->state, cfg->target_epsilon > 0 ? cfg->target_epsilon : INFINITY,
                            cfg->delta, &run->ledger, err);
    if (rc != P4_OK)
        return rc;
    if (cfg->noise_multiplier >= 0) {
        run->params.noise_multiplier = cfg->noise_multiplier;
    } else {
        /* Calibrate for what is left after what this ledger already spent. */
        p4_dp_phase *prior = NULL;
        int nprior = 0;
        rc = p4_ledger_phases(run->ledger, 0, &prior, &nprior, err);
        if (rc == P4_OK)
            rc = p4_rdp_calibrate_sigma(cfg->target_epsilon, cfg->delta, q, run->planned_steps,
                                        prior, nprior, 1e-4, &run->params.noise_multiplier, err);
        free(prior);
        if (rc != P4_OK)
            return rc;
    }
    /* Refuse to start a run the budget cannot pay for in full, and reserve
     * it, so a run started meanwhile on the same ledger is refused instead. */
    p4_dp_phase plan = { q, run->params.noise_multiplier, run->planned_steps };
    rc = p4_ledger_reserve_plan(run->ledger, &plan, 1, NULL, err);
    if (rc != P4_OK)
        return rc;
    if (strcmp(cfg->tee_backend, "optee") == 0) {
        /* The harness keeps the TA's secure storage next to the ledger. */
        char storage[P4_PATH_MAX + 16];
        snprintf(storage, sizeof storage, "%s.optee", run->state);
        if (mkdir(storage, 0700) != 0 && errno != EEXIST)
            return p4_error_set(err, P4_EIO, "cannot make the TA storage folder %s: %s", storage,
                                strerror(errno));
        p4_enclave_optee_options eo = {
            .seeded = o->reproducible, .seed = cfg->seed, .delta = cfg->delta,
            .target_epsilon = cfg->target_epsilon, .pp_start = cfg->tee_pp_start,
            .pp_end = cfg->tee_pp_end, .ta_memory_mib = cfg->tee_ta_memory_mib,
            .storage_dir = storage };
        rc = p4_enclave_open_optee(&run->enclave, &eo, err);
    } else {
        rc = p4_enclave_open_software(&run->enclave, o->reproducible, cfg->seed, err);
    }
    if (rc == P4_OK)
        rc = p4_enclave_set_noise_layout(run->enclave, cfg->noise_layout, err);
    if (rc != P4_OK)
        return rc;
    return p4_dpsgd_new(&run->dpsgd, model, sgd, &run->params, run->enclave, err);
}

static void dp_run_close(dp_run *run)
{
    p4_dpsgd_destroy(&run->dpsgd);
    p4_enclave_close(&run->enclave);
    p4_ledger_close(&run->ledger);
}

/* A single client's DP-SGD model is trained on labels alone: its guarantee
 * holds unless the run is reproducible or has no DP. */
static p4_dp_run_facts train_facts(const p4_config *cfg, const train_options *o)
{
    return (p4_dp_run_facts){ .dp = cfg->dp_enabled, .reproducible = o->reproducible,
                              .private_teacher = 0, .ledger = cfg->dp_enabled };
}

static void print_json(const p4_config *cfg, const train_options *o, const p4_workload *w,
                       const p4_client_split *split, const epoch_record *hist, int epochs,
                       const dp_run *dp, double total_seconds)
{
    printf("{\"dataset\":");
    p4_json_string(stdout, cfg->dataset);
    printf(",\"model\":");
    p4_json_string(stdout, cfg->model_cfg);
    printf(",\"client\":%d,\"clients\":%d,\"train_examples\":%d,\"test_examples\":%d,\"epochs\":%d",
           o->client, w->partition->clients, split->train_count, split->test_count, epochs);
    printf(",\"test_accuracy\":");
    p4_json_number(stdout, epochs > 0 ? hist[epochs - 1].accuracy : 0);
    printf(",\"train_seconds\":");
    p4_json_number(stdout, total_seconds);
    printf(",\"gemm\":\"%s\",\"dp\":%s", p4_gemm_backend(), cfg->dp_enabled ? "true" : "false");
    p4_dp_run_facts facts = train_facts(cfg, o);
    printf(",\"dp_guarantee\":\"%s\",\"reproducible\":%s",
           p4_dp_guarantee_name(p4_dp_guarantee_of(&facts)), o->reproducible ? "true" : "false");
    if (cfg->dp_enabled) {
        printf(",\"epsilon\":");
        p4_json_number(stdout, epochs > 0 ? hist[epochs - 1].epsilon : 0);
        printf(",\"delta\":");
        p4_json_number(stdout, cfg->delta);
        printf(",\"noise_multiplier\":");
        p4_json_number(stdout, dp->params.noise_multiplier);
        printf(",\"sample_rate\":");
        p4_json_number(stdout, dp->params.sample_rate);
        printf(",\"clip_norm\":");
        p4_json_number(stdout, dp->params.clip_norm);
        printf(",\"enclave\":");
        p4_json_string(stdout, p4_enclave_kind(dp->enclave));
    }
    printf(",\"history\":[");
    for (int e = 0; e < epochs; e++) {
        printf("%s{\"epoch\":%d,\"loss\":", e ? "," : "", e + 1);
        p4_json_number(stdout, hist[e].loss);
        printf(",\"test_accuracy\":");
        p4_json_number(stdout, hist[e].accuracy);
        printf(",\"seconds\":");
        p4_json_number(stdout, hist[e].seconds);
        printf("}");
    }
    printf("]}\n");
}

int p4_cmd_train(int argc, char **argv)
{
    train_options o;
    int status = parse_options(argc, argv, &o);
    if (status != 0)
        return status == 1 ? 0 : status;

    p4_error err = {0};
    p4_config cfg;
    if (p4_config_load(o.config_path, &cfg, &err) != P4_OK) {
        fprintf(stderr, "p4 train: %s\n", err.message);
        return 2;
    }
    if (o.epsilon) {
        double eps;
        if (!p4_parse_epsilon(o.epsilon, &eps)) {
            fprintf(stderr, "p4 train: --epsilon '%s' must be a positive number or inf\n", o.epsilon);
            return 2;
        }
        cfg.dp_enabled = !isinf(eps);
        cfg.target_epsilon = isinf(eps) ? 0 : eps;
        cfg.noise_multiplier = -1; /* calibrate from the target */
    }
    int epochs = o.epochs_override ? o.epochs_override : cfg.epochs;
    if (strcmp(cfg.tee_backend, "optee") == 0 && !cfg.dp_enabled) {
        /* Without DP nothing would go to the TA, protected layers included. */
        fprintf(stderr, "p4 train: [tee] backend = optee runs DP-SGD only: give the config a "
                        "[dp] section (or --epsilon E), or use backend = software\n");
        return 2;
    }

    p4_workload *w = NULL;
    p4_model *model = NULL;
    p4_sgd *sgd = NULL;
    epoch_record *hist = NULL;
    dp_run dp;
    memset(&dp, 0, sizeof dp);
    p4_rng order_rng;
    status = 2;

    if (p4_workload_load(&cfg, &w, &err) != P4_OK) {
        fprintf(stderr, "p4 train: %s\n", err.message);
        goto done;
    }
    if (o.client >= w->partition->clients) {
        fprintf(stderr, "p4 train: --client %d: the config has %d clients (0..%d)\n", o.client,
                w->partition->clients, w->partition->clients - 1);
        goto done;
    }
    const p4_client_split *split = &w->partition->split[o.client];
    if (split->train_count < 1 || split->test_count < 1) {
        fprintf(stderr, "p4 train: client %d has %d train and %d test examples: nothing to do\n",
                o.client, split->train_count, split->test_count);
        goto done;
    }
    p4_cfg_shape shape = {w->train->width, w->train->height, w->train->channels, w->train->classes};
    if (p4_model_new(&model, cfg.model_cfg, &shape, cfg.batch, cfg.seed, &err) != P4_OK ||
        p4_sgd_new(&sgd, model, cfg.learning_rate, cfg.momentum, cfg.weight_decay, &err) != P4_OK) {
        fprintf(stderr, "p4 train: %s\n", err.message);
        goto done;
    }
    if (cfg.dp_enabled &&
        dp_run_open(&dp, &cfg, &o, model, sgd, split->train_count, epochs, &err) != P4_OK) {
        fprintf(stderr, "p4 train: %s\n", err.message);
        goto done;
    }
    hist = calloc((size_t)epochs, sizeof *hist);
    if (hist == NULL) {
        fprintf(stderr, "p4 train: out of memory\n");
        goto done;
    }
    /* DP batches must be secret for subsampling to amplify privacy: they come
     * from the OS-keyed generator unless --reproducible asks otherwise. */
    if ((cfg.dp_enabled && !o.reproducible ? p4_rng_init_secure(&order_rng)
                                           : p4_rng_init_seeded(&order_rng, cfg.seed,
                                                                "batch-order")) != P4_OK) {
        fprintf(stderr, "p4 train: cannot key the batch sampler\n");
        goto done;
    }
    if (o.reproducible && cfg.dp_enabled)
        fprintf(stderr, "p4 train: %s\n", P4_REPRODUCIBLE_WARNING);

    if (!o.json) {
        printf("client %d of %d: %d train / %d test examples of %s; model %s (%zu parameters)\n",
               o.client, w->partition->clients, split->train_count, split->test_count,
               cfg.dataset, cfg.model_cfg, p4_model_param_count(model));
        if (cfg.dp_enabled)
            printf("DP-SGD: q=%.6g sigma=%.6g C=%.6g delta=%.3g, %lld steps; ledger %s; %s\n",
                   dp.params.sample_rate, dp.params.noise_multiplier, dp.params.clip_norm,
                   cfg.delta, dp.planned_steps, dp.state, p4_enclave_protection(dp.enclave));
    }
    status = 1;
    double total_seconds = 0;
    for (int e = 0; e < epochs; e++) {
        p4_progress bar;
        char label[32];
        snprintf(label, sizeof label, "epoch %d/%d", e + 1, epochs);
        p4_progress_init(&bar, label);
        p4_epoch_stats stats;
        int rc = cfg.dp_enabled
                     ? p4_dpsgd_epoch(dp.dpsgd, w->train, split->train, split->train_count,
                                      &order_rng, dp.ledger, "model", "train",
                                      p4_progress_update, &bar, &stats, &err)
                     : p4_train_epoch(model, sgd, w->train, split->train, split->train_count,
                                      &order_rng, p4_progress_update, &bar, &stats, &err);
        p4_progress_done(&bar);
        if (rc == P4_OK)
            rc = cfg.dp_enabled
                     ? p4_dpsgd_evaluate(dp.dpsgd, w->test, split->test, split->test_count,
                                         &hist[e].accuracy, &err)
                     : p4_evaluate(model, w->test, split->test, split->test_count,
                                   &hist[e].accuracy, NULL, &err);
        if (rc == P4_OK && cfg.dp_enabled)
            rc = p4_ledger_spent(dp.ledger, &hist[e].epsilon, &err);
        if (rc != P4_OK) {
            fprintf(stderr, "p4 train: epoch %d: %s\n", e + 1, err.message);
            status = rc == P4_EBUDGET ? 2 : 1;
            goto done;
        }
        hist[e].loss = stats.mean_loss;
        hist[e].seconds = stats.seconds;
        total_seconds += stats.seconds;
        if (!o.json) {
            printf("epoch %d/%d  loss %.4f  test accuracy %.2f%%  time %.2fs", e + 1, epochs,
                   hist[e].loss, 100 * hist[e].accuracy, hist[e].seconds);
            if (cfg.dp_enabled)
                printf("  epsilon %.4f", hist[e].epsilon);
            printf("\n");
            fflush(stdout);
        }
    }
    if (o.json)
        print_json(&cfg, &o, w, split, hist, epochs, &dp, total_seconds);
    else {
        p4_dp_run_facts facts = train_facts(&cfg, &o);
        printf("test accuracy %.2f%% after %d epochs (%.1fs training)\n",
               100 * hist[epochs - 1].accuracy, epochs, total_seconds);
        printf("dp_guarantee %s: %s\n", p4_dp_guarantee_name(p4_dp_guarantee_of(&facts)),
               p4_dp_guarantee_reason(&facts));
    }
    status = 0;
done:
    free(hist);
    dp_run_close(&dp);
    p4_sgd_destroy(&sgd);
    p4_model_destroy(&model);
    p4_workload_destroy(&w);
    return status;
}
