/* optee.h: the normal world's handle on p4's OP-TEE trusted application.
 *
 * A p4_optee is one session with the TA (tee/optee/ta/) over the GP TEE
 * Client API: libteec on a board, the harness (tee/optee/emu/) here.  The
 * TA holds the DP noise and the privacy ledger: a charge or a release past
 * the target is refused inside the TA (P4_EBUDGET), whatever this side asks.
 * If the TA panics, the call reports an error, the session is reopened and
 * the ledger reloaded from secure storage: no recorded spend is lost.
 * A p4_optee is one session: use it from one thread at a time. */
#ifndef P4_TEE_OPTEE_H
#define P4_TEE_OPTEE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "p4_ta.h"

typedef struct p4_optee p4_optee;

typedef struct p4_optee_options {
    double delta;            /* the ledger's delta, in (0, 1)                 */
    double target_epsilon;   /* the ledger's target, finite and > 0           */
    /* The harness only (on a board OP-TEE fixes these: TA_DATA_SIZE, the
     * TA in /lib/optee_armtz, storage by tee-supplicant). */
    int ta_memory_mib;       /* TEE_Malloc bound; 0: 10 (DarkneTZ's)          */
    const char *storage_dir; /* the TA's secure storage (required)            */
    const char *ta_dir;      /* where <uuid>.ta lives; NULL: the build's      */
} p4_optee_options;

/* Opens a session and the ledger.  The first open fixes delta and target in
 * the TA's storage; a later open asking for others fails with P4_ESTATE and
 * names the stored ones. */
int p4_optee_open(p4_optee **out, const p4_optee_options *opt, p4_error *err);
void p4_optee_close(p4_optee **t);

/* Records `steps` steps of the subsampled Gaussian at (q, sigma), or
 * P4_EBUDGET.  epsilon_after (may be NULL) receives the spend after them. */
int p4_optee_charge(p4_optee *t, double q, double sigma, long long steps,
                    double *epsilon_after, p4_error *err);

/* values[i] += N(0, stddev^2), drawn inside the TA. */
int p4_optee_add_noise(p4_optee *t, float *values, size_t n, double stddev, p4_error *err);

/* The logits-mode release (distill/client.c's p4_client_public_logits):
 * the TA clips each of the n rows of `classes` values to L2 norm clip,
 * charges one Gaussian release (q = 1, noise multiplier sigma / (2 sqrt n)),
 * adds N(0, (sigma clip)^2) and writes the released rows back.  On
 * P4_EBUDGET the rows are left as they were. */
int p4_optee_release_rows(p4_optee *t, float *rows, int n, int classes, double clip,
                          double sigma, p4_error *err);

/* --reproducible only: the TA's noise becomes the software backend's stream
 * under this key (p4_rng's for (seed, "dp-noise")), so runs with and
 * without the TA can be compared.  Kept across a reopen. */
int p4_optee_seed_noise(p4_optee *t, const unsigned char key[32], p4_error *err);
/* The same in a layout (chunked: [dp] noise_layout = chunked, else serial;
 * the layers loaded later must carry P4_TA_SPEC_NOISE_CHUNKED alike) from
 * byte `position` of the stream on (p4_optee_noise_position's, saved in a
 * node's checkpoint; 0 at the start).  P4_ESTATE if layers of the other
 * layout are loaded; P4_EUNSUPPORTED from a TA that does not know the
 * layout or position (built before them). */
int p4_optee_seed_noise_at(p4_optee *t, const unsigned char key[32], int chunked,
                           uint64_t position, p4_error *err);
/* The bytes of the seeded stream the TA has drawn (NOISE_POSITION);
 * P4_ESTATE when the noise is not seeded. */
int p4_optee_noise_position(p4_optee *t, uint64_t *position, p4_error *err);

/* The protected layers (p4_ta.h's LAYERS_* commands).
 * p4_optee_layers_check refuses (P4_ENOMEM) a spec whose layers do not fit
 * the TA heap of ta_memory_mib MiB, naming the bytes needed and available;
 * p4_optee_layers_load checks, then hands the TA the initial weights
 * (count floats, layer by layer, weights then biases).  If the TA dies
 * later, its session is reopened (the ledger survives) but the layers are
 * gone: the layer calls then fail with P4_ESTATE until loaded again. */
int p4_optee_layers_check(const p4_ta_layers_spec *spec, int ta_memory_mib, p4_error *err);
int p4_optee_layers_load(p4_optee *t, const p4_ta_layers_spec *spec, const float *params,
                         size_t count, p4_error *err);
/* m examples' inputs (m x inputs) and targets (m x classes) in; the summed
 * loss and, if in_delta is not NULL, the gradient at the inputs out. */
int p4_optee_layers_train(p4_optee *t, const float *inputs, int m, const float *targets,
                          float *in_delta, double *loss, p4_error *err);
int p4_optee_layers_clip(p4_optee *t, const double *normal_norms_sq, int m, double clip,
                         float *factor, p4_error *err);
/* sums: the normal world's clipped sums (normal_floats), noised in place. */
int p4_optee_layers_step(p4_optee *t, const p4_ta_step_args *args, float *sums, size_t count,
                         double *epsilon_after, p4_error *err);
int p4_optee_layers_top1(p4_optee *t, const float *inputs, int n, int *labels, p4_error *err);
/* A P4 proxy's pass (KD_TRAIN): layers_train with the distillation loss of
 * distill/kd_loss.h on label rows onehot and the private model's softened
 * probabilities teacher (m x classes each); the logits stay in the TA. */
int p4_optee_layers_kd_train(p4_optee *t, const float *inputs, int m, const float *onehot,
                             const float *teacher, double alpha, double temperature,
                             float *in_delta, double *loss, p4_error *err);
/* softmax(z / T) of the protected layers on n inputs (KD_TEACH): the
 * proxy's teaching probabilities for the private model.  They cross. */
int p4_optee_layers_kd_teach(p4_optee *t, const float *inputs, int n, double temperature,
                             float *probs, p4_error *err);
/* The protected weights out and in, LAYERS_LOAD's layout (count floats),
 * for a proxy-weights exchange (ta_kd_exchange.c says what that releases). */
/* Writes the layers, their momentum and (--reproducible) the noise stream's
 * position to the TA's secure storage (LAYERS_STORE).  After a TA panic the
 * reopened session resumes the last store of the same layers by itself
 * (LAYERS_RESUME) instead of reporting them lost. */
int p4_optee_layers_store(p4_optee *t, p4_error *err);
/* The node's round checkpoint (LAYERS_SNAPSHOT, LAYERS_RESTORE): snapshot
 * writes the layers, their momentum and (--reproducible) the noise
 * position under `round` (0..P4_TA_MAX_ROUND; the TA keeps the last two
 * rounds).  restore puts round's snapshot back in place of the loaded
 * layers of the same spec; P4_ESTATE, naming the rounds the TA holds, when
 * it holds no snapshot of that round and spec (the layers stay as they
 * were).  The TA's ledger is not in a snapshot: a restore never lowers the
 * spend.  *noise_back (may be NULL): 1 if the seeded noise position came
 * back too. */
int p4_optee_layers_snapshot(p4_optee *t, int round, p4_error *err);
int p4_optee_layers_restore(p4_optee *t, int round, int *noise_back, p4_error *err);
/* 1 if layers of exactly this spec are loaded (and not lost). */
int p4_optee_layers_held(const p4_optee *t, const p4_ta_layers_spec *spec);
int p4_optee_layers_export(p4_optee *t, float *params, size_t count, p4_error *err);
int p4_optee_layers_import(p4_optee *t, const float *params, size_t count, p4_error *err);
/* A range ending below the softmax (P4_TA_SPEC_SOFTMAX_OUTSIDE):
 * layers_forward runs m inputs through the TA's layers and gives their last
 * layer's outputs (m x its outputs; they leave the TA, DarkneTZ's split);
 * train = 1 keeps the pass for layers_backward, which takes the gradient at
 * those outputs from the normal world's layers above and gives the gradient
 * at the inputs (in_delta NULL: not wanted).  layers_clip follows. */
int p4_optee_layers_forward(p4_optee *t, const float *inputs, int m, int train, float *outputs,
                            p4_error *err);
int p4_optee_layers_backward(p4_optee *t, const float *out_delta, int m, float *in_delta,
                             p4_error *err);

/* Logits mode (ta_logits.c): the proxy's noised, mean-centred
 * log-probabilities on n public inputs (the activations below the protected
 * layers), released with p4_optee_release_rows's mechanism and charge; the
 * plain step of the public distillation on the sums LAYERS_CLIP gathered
 * (only for layers loaded with P4_TA_LAYERS_STAY). */
int p4_optee_layers_release_logits(p4_optee *t, const float *inputs, int n, double clip,
                                   double sigma, float *rows, p4_error *err);
int p4_optee_layers_public_step(p4_optee *t, const p4_ta_public_step_args *args, p4_error *err);

/* Parameter bytes sent to and received from the TA so far (the harness
 * counts them; 0 and 0 on a board). */
void p4_optee_traffic(const p4_optee *t, uint64_t *bytes_in, uint64_t *bytes_out);

/* Epsilon spent so far, as the TA computes it from its stored records. */
int p4_optee_spent(p4_optee *t, double *epsilon, p4_error *err);

/* One line a user can read about what this backend protects (for
 * p4_enclave_protection), naming the harness when that is what runs. */
const char *p4_optee_protection(void);

/* How many times the session was reopened after the TA died. */
int p4_optee_reopens(const p4_optee *t);

/* Invokes a test-only command (P4_TA_CMD_TEST_*, the harness's TA only)
 * with one 64-bit value argument, through the same error and reopen path. */
int p4_optee_test_command(p4_optee *t, uint32_t command, uint64_t arg, p4_error *err);

#endif
