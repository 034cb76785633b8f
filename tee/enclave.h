/* enclave.h: the boundary between p4's normal world and its trusted one.
 *
 * Whatever must not be observable by the host, above all the DP noise that
 * protects a release, is drawn and applied behind this interface.  Backends:
 *   software  - runs everywhere, in the normal process; it gives NO hardware
 *               protection and says so (p4_enclave_protection()).
 *   optee     - an OP-TEE trusted application (tee/optee/): the noise, the
 *               privacy ledger and, optionally, the protected layers (the top
 *               of the model, DarkneTZ-style) live in the secure world.
 *   cca       - to come.
 * Callers never touch the noise: they hand over the values to release, and
 * get them back noised. */
#ifndef P4_TEE_ENCLAVE_H
#define P4_TEE_ENCLAVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct p4_enclave p4_enclave;

/* The software backend.  seeded = 0 draws noise keys from the OS CSPRNG
 * (the default); seeded = 1 derives them from `seed` so research runs can
 * be reproduced, at the cost that anyone with the seed can remove the noise. */
int p4_enclave_open_software(p4_enclave **out, int seeded, uint64_t seed,
                             p4_error *err);

/* The optee backend ([tee] backend = optee). */
typedef struct p4_enclave_optee_options {
    int seeded;              /* 1: --reproducible, the software backend's noise */
    uint64_t seed;           /* stream (so results compare), and no privacy    */
    double delta;            /* the TA ledger's delta and target: fixed when   */
    double target_epsilon;   /* its storage is created                         */
    int pp_start, pp_end;    /* protected layers (0-based, inclusive, darknet's
                                layer count); -1, -1: none                     */
    int ta_memory_mib;       /* the TA heap; 0: 10                             */
    const char *storage_dir; /* the harness's secure storage (a board: unused) */
    const char *ta_dir;      /* the harness's TA directory; NULL: the build's  */
    int layers_stay;         /* 1: logits mode; the protected layers never
                                leave (export refused, public steps allowed) */
} p4_enclave_optee_options;

int p4_enclave_open_optee(p4_enclave **out, const p4_enclave_optee_options *opt,
                          p4_error *err);
void p4_enclave_close(p4_enclave **enclave);

/* "software", "cca", "optee". */
const char *p4_enclave_kind(const p4_enclave *enclave);
/* One line a user can read about what this backend protects. */
const char *p4_enclave_protection(const p4_enclave *enclave);

/* A reproducible (seeded) backend's position in its noise stream, so a node
 * restarted from a checkpoint continues the stream it would have drawn
 * (the software backend's generator state; the optee TA's key, layout and
 * byte position, read from the TA).  Backends keyed from the OS refuse
 * (P4_EINVAL): their key never leaves them, and a restart draws fresh
 * noise, which is just as private.  size: P4_RNG_STATE_BYTES. */
int p4_enclave_save_seeded_noise(const p4_enclave *enclave, unsigned char *out, size_t size,
                                 p4_error *err);
int p4_enclave_restore_seeded_noise(p4_enclave *enclave, const unsigned char *in, size_t size,
                                    p4_error *err);

/* The noise layout ([dp] noise_layout: "chunked" or "serial",
 * common/ziggurat.h; docs/noise.md); an enclave opens serial.  The optee
 * TA draws its seeded noise in the same layout (common/fs_ziggurat.h; the
 * stream goes on from where it is) and loads its protected layers with
 * the layout's spec flag, so set the layout before loading them (after:
 * P4_ESTATE).  OS-keyed TA noise has no layout to match. */
int p4_enclave_set_noise_layout(p4_enclave *enclave, const char *layout, p4_error *err);
/* Adds independent N(0, stddev^2) noise to each of values[0..n). */
int p4_enclave_add_gaussian_noise(p4_enclave *enclave, float *values, size_t n,
                                  double stddev, p4_error *err);

/* Records `steps` steps of the subsampled Gaussian (q, sigma) in the
 * enclave's own ledger before their noise is drawn: the optee TA refuses
 * past its target (P4_EBUDGET).  The software backend keeps no ledger of
 * its own (dp/ledger.c is the record) and returns P4_OK. */
int p4_enclave_charge(p4_enclave *enclave, double q, double sigma, long long steps,
                      p4_error *err);

/* The logits-mode release: clips each of n rows of `cols` values to L2
 * norm clip and adds N(0, (sigma clip)^2) to every value; the optee TA
 * also charges it (q = 1, sigma / (2 sqrt n)) first, and clips inside. */
int p4_enclave_release_rows(p4_enclave *enclave, float *rows, int n, int cols, double clip,
                            double sigma, p4_error *err);

/* ---- protected layers (optee only; the software backend runs every layer
 * in the normal world and answers P4_EUNSUPPORTED) ----------------------- */

/* 1 and the range if this enclave holds layers [*first, *last] of the
 * model, else 0. */
int p4_enclave_protected_range(const p4_enclave *enclave, int *first, int *last);

#define P4_ENCLAVE_MAX_LAYERS 8
#define P4_ENCLAVE_MAX_TENSORS 64

/* A protected layer's kind (p4_enclave_layers' layer[].kind). */
enum { P4_ENCLAVE_CONNECTED = 0, P4_ENCLAVE_CONVOLUTIONAL = 1, P4_ENCLAVE_MAXPOOL = 2 };

/* Connected, convolutional and max-pool layers ending in a softmax (the
 * last one's outputs are the classes), or, softmax_outside, ending below
 * it (the normal world runs the layers above: layers_forward and
 * layers_backward instead of layers_train and layers_top1).  Convolutional and max-pool layers
 * also give their input's c x h x w and their window (darknet's fields:
 * size, stride, pad; a max-pool's pad is darknet's total `padding`). */
typedef struct p4_enclave_layers {
    int count;
    struct {
        int inputs, outputs, activation;
        int kind, c, h, w, filters, size, stride, pad;
    } layer[P4_ENCLAVE_MAX_LAYERS];
    int capacity;              /* examples per pass                          */
    size_t outside_floats;     /* the normal world's trainable floats        */
    int softmax_outside;       /* 1: the range ends below the model's softmax */
} p4_enclave_layers;

/* Refuses (P4_ENOMEM) layers whose weights, gradients, momentum and one
 * pass of activations and per-example buffers exceed the enclave's memory,
 * naming the bytes needed and available. */
int p4_enclave_layers_check(const p4_enclave *enclave, const p4_enclave_layers *spec,
                            p4_error *err);
/* Checks, then hands over the initial weights (layer by layer, weights then
 * biases); from here on they live only in the enclave. */
int p4_enclave_layers_load(p4_enclave *enclave, const p4_enclave_layers *spec,
                           const float *params, size_t count, p4_error *err);
/* One pass: m inputs (the output of the layer below pp_start) and target
 * rows in; the summed cross-entropy and (if in_delta) the gradient at the
 * inputs out, darknet's sign.  The per-example gradients stay inside. */
int p4_enclave_layers_train(p4_enclave *enclave, const float *inputs, int m,
                            const float *targets, float *in_delta, double *loss,
                            p4_error *err);
/* The pass's clip factors from the combined per-example norms (the normal
 * world's squared norms in); the enclave adds its clipped gradients up. */
int p4_enclave_layers_clip(p4_enclave *enclave, const double *outside_norms_sq, int m,
                           double clip, float *factor, p4_error *err);

typedef struct p4_enclave_step {
    double sample_rate, noise_multiplier, clip_norm;
    double divisor;            /* the expected batch size                    */
    double learning_rate, momentum, weight_decay;
    int above_tensors;         /* the last tensors: layers above the enclave's
                                  (noised after its own, bottom-up order)     */
} p4_enclave_step;

/* The DP step: charges the ledger, noises the normal world's clipped sums
 * (tensor by tensor, in place; a size or'd with P4_ENCLAVE_TENSOR_FROZEN is
 * a frozen tensor, left without noise) and its own, and updates its layers. */
#define P4_ENCLAVE_TENSOR_FROZEN 0x80000000u
int p4_enclave_layers_step(p4_enclave *enclave, const p4_enclave_step *step,
                           float *outside_sums, const size_t *tensor_sizes, int ntensors,
                           p4_error *err);
/* A range ending below the softmax (softmax_outside): m inputs through the
 * enclave's layers; their last layer's outputs come out (they leave: the
 * normal world runs the layers above).  train = 1 keeps the pass for
 * layers_backward: the gradient at those outputs (darknet's sign) in, the
 * gradient at the inputs out (in_delta NULL: not wanted); the per-example
 * gradients stay inside for layers_clip. */
int p4_enclave_layers_forward(p4_enclave *enclave, const float *inputs, int m, int train,
                              float *outputs, p4_error *err);
int p4_enclave_layers_backward(p4_enclave *enclave, const float *out_delta, int m,
                               float *in_delta, p4_error *err);
/* Inference: only each input's top-1 class leaves (softmax inside). */
int p4_enclave_layers_top1(p4_enclave *enclave, const float *inputs, int n, int *labels,
                           p4_error *err);

/* Persists the layers, their momentum and (reproducible) the noise position
 * in the enclave's secure storage: a TA that dies resumes this store. */
int p4_enclave_layers_store(p4_enclave *enclave, p4_error *err);
/* The same under a node's round checkpoint: snapshot when the node writes
 * the checkpoint that resumes at `round`; restore puts that snapshot back
 * on a restart (P4_ESTATE, naming what the enclave holds, if it holds no
 * snapshot of that round and shape).  The enclave's ledger is never in a
 * snapshot, so a restore never lowers its spend; the noise position comes
 * back only for a seeded (--reproducible) enclave. */
int p4_enclave_layers_snapshot(p4_enclave *enclave, int round, p4_error *err);
int p4_enclave_layers_restore(p4_enclave *enclave, int round, p4_error *err);
/* 1 if the enclave holds loaded layers of exactly this shape (a client
 * that was parked finds its layers there), else 0. */
int p4_enclave_layers_held(const p4_enclave *enclave, const p4_enclave_layers *spec);
/* A P4 proxy's pass: layers_train with distill/kd_loss.h's loss on label
 * rows and the private model's softened probabilities (teacher), kd
 * weight alpha and temperature T.  The proxy's logits stay inside. */
int p4_enclave_layers_kd_train(p4_enclave *enclave, const float *inputs, int m,
                               const float *onehot, const float *teacher, double alpha,
                               double temperature, float *in_delta, double *loss, p4_error *err);
/* softmax(z / T) of n inputs: the proxy's teaching probabilities for the
 * private model's step (they leave the enclave). */
int p4_enclave_layers_teach(p4_enclave *enclave, const float *inputs, int n, double temperature,
                            float *probs, p4_error *err);
/* The protected weights out and in (load's layout), for a proxy-weights
 * exchange: what leaves was moved only by the enclave's noised steps. */
int p4_enclave_layers_export(p4_enclave *enclave, float *params, size_t count, p4_error *err);
int p4_enclave_layers_import(p4_enclave *enclave, const float *params, size_t count,
                             p4_error *err);

/* Logits mode ([p4] share = logits; tee/optee/ta/ta_logits.c).  1 if the
 * enclave holds protected layers that never leave (layers_stay): export is
 * refused and public steps are allowed. */
int p4_enclave_layers_stay(const p4_enclave *enclave);
/* The proxy's mean-centred log-probabilities on n public inputs (the
 * activations below the protected layers, n x inputs), computed in the
 * enclave and released there as p4_enclave_release_rows does: rows clipped
 * to clip, one charge (q = 1, sigma / (2 sqrt n)), N(0, (sigma clip)^2)
 * added; rows (n x classes) gets only the noised values. */
int p4_enclave_layers_release_logits(p4_enclave *enclave, const float *inputs, int n,
                                     double clip, double sigma, float *rows, p4_error *err);
/* A plain SGD step of the protected layers on the gradient sums that
 * layers_clip gathered (distillation on public data: post-processing, not
 * noised or charged); only when layers_stay. */
int p4_enclave_layers_public_step(p4_enclave *enclave, double divisor, double learning_rate,
                                  double momentum, double weight_decay, p4_error *err);

/* Bytes that crossed into and out of the enclave (0 for software). */
void p4_enclave_traffic(const p4_enclave *enclave, uint64_t *bytes_in, uint64_t *bytes_out);

#endif
