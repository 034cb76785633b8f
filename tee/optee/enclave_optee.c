/* enclave_optee.c: tee/enclave.h's optee backend, over p4_optee (host/).
 * The TA holds the noise, the ledger and the protected layers; this file
 * only translates the enclave's calls into the TA's commands. */
#include "tee/enclave_backend.h"
#include "tee/optee/host/optee.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int p4_enclave_open_optee(p4_enclave **out, const p4_enclave_optee_options *opt,
                          p4_error *err)
{
    if (out == NULL || opt == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_enclave_open_optee: no output or options");
    *out = NULL;
    if ((opt->pp_start < 0) != (opt->pp_end < 0) || opt->pp_start > opt->pp_end)
        return p4_error_set(err, P4_EINVAL, "[tee] pp_start %d, pp_end %d: give both (0-based, "
                            "pp_start <= pp_end) or neither", opt->pp_start, opt->pp_end);
    p4_enclave *e = calloc(1, sizeof *e);
    if (e == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    e->backend = P4_ENCLAVE_OPTEE;
    e->pp_start = opt->pp_start;
    e->pp_end = opt->pp_end;
    e->ta_memory_mib = opt->ta_memory_mib ? opt->ta_memory_mib : 10;
    e->layers_stay = opt->layers_stay != 0;
    p4_optee_options o = { .delta = opt->delta, .target_epsilon = opt->target_epsilon,
                           .ta_memory_mib = e->ta_memory_mib, .storage_dir = opt->storage_dir,
                           .ta_dir = opt->ta_dir };
    int rc = p4_optee_open(&e->optee, &o, err);
    if (rc == P4_OK && opt->seeded) {
        /* The software backend's key for the same seed: the TA then draws
         * the same noise (common/fs_ziggurat.h), and gives up its secrecy.
         * The key stays here (it is the seed's, not a secret) for
         * p4_enclave_save_seeded_noise and layout changes. */
        rc = p4_rng_init_seeded(&e->noise, opt->seed, "dp-noise");
        if (rc == P4_OK)
            rc = p4_optee_seed_noise(e->optee, e->noise.key, err);
        else
            p4_error_set(err, rc, "cannot derive the reproducible noise key");
        e->seeded = 1;
    }
    if (rc != P4_OK) {
        p4_enclave_close(&e);
        return rc;
    }
    *out = e;
    return P4_OK;
}

void p4_enclave_optee_release(p4_enclave *e)
{
    p4_optee_close(&e->optee);
}

int p4_enclave_optee_noise(p4_enclave *e, float *values, size_t n, double stddev,
                           p4_error *err)
{
    return p4_optee_add_noise(e->optee, values, n, stddev, err);
}

void p4_enclave_optee_traffic(const p4_enclave *e, uint64_t *bytes_in, uint64_t *bytes_out)
{
    p4_optee_traffic(e->optee, bytes_in, bytes_out);
}

const char *p4_enclave_optee_protection(const p4_enclave *e)
{
    (void)e;
    return p4_optee_protection();
}

int p4_enclave_optee_charge(p4_enclave *e, double q, double sigma, long long steps,
                            p4_error *err)
{
    return p4_optee_charge(e->optee, q, sigma, steps, NULL, err);
}

int p4_enclave_optee_set_layout(p4_enclave *e, p4_noise_layout layout, p4_error *err)
{
    uint64_t position = 0;
    int rc = P4_OK;
    if (e->seeded && layout != e->noise_layout) {
        rc = p4_optee_noise_position(e->optee, &position, err);
        if (rc == P4_OK)
            rc = p4_optee_seed_noise_at(e->optee, e->noise.key, layout == P4_NOISE_CHUNKED,
                                        position, err);
    }
    if (rc == P4_OK)
        e->noise_layout = layout;
    return rc;
}

/* A saved optee stream (P4_RNG_STATE_BYTES, the checkpoint's noise field):
 * a tag that no p4_rng state starts with by chance, the key, the layout
 * and the byte position; the rest zero. */
static const unsigned char saved_tag[16] = "p4-optee-noise1";
enum { SAVED_KEY = 16, SAVED_LAYOUT = 48, SAVED_POSITION = 49, SAVED_END = 57 };

int p4_enclave_optee_save_noise(const p4_enclave *e, unsigned char *out, size_t size,
                                p4_error *err)
{
    if (!e->seeded)
        return p4_error_set(err, P4_EINVAL, "the TA's noise is keyed from the TEE's random "
                            "source; its state never leaves the TA");
    uint64_t position = 0;
    int rc = p4_optee_noise_position(e->optee, &position, err);
    if (rc != P4_OK)
        return rc;
    memset(out, 0, size);
    memcpy(out, saved_tag, sizeof saved_tag);
    memcpy(out + SAVED_KEY, e->noise.key, 32);
    out[SAVED_LAYOUT] = (unsigned char)e->noise_layout;
    for (int i = 0; i < 8; i++)
        out[SAVED_POSITION + i] = (unsigned char)(position >> (8 * i));
    return P4_OK;
}

int p4_enclave_optee_restore_noise(p4_enclave *e, const unsigned char *in, size_t size,
                                   p4_error *err)
{
    if (!e->seeded)
        return p4_error_set(err, P4_EINVAL, "the TA's noise is keyed from the TEE's random "
                            "source; a saved stream cannot replace it");
    int zeros = 1;
    for (size_t i = SAVED_END; i < size; i++)
        zeros &= in[i] == 0;
    if (size != P4_RNG_STATE_BYTES || memcmp(in, saved_tag, sizeof saved_tag) != 0 || !zeros ||
        in[SAVED_LAYOUT] > P4_NOISE_CHUNKED)
        return p4_error_set(err, P4_EINVAL, "saved noise state: not an optee TA's stream (a "
                            "checkpoint of another backend?)");
    if (memcmp(in + SAVED_KEY, e->noise.key, 32) != 0)
        return p4_error_set(err, P4_EINVAL, "saved noise state: another seed's stream");
    if (in[SAVED_LAYOUT] != (unsigned char)e->noise_layout)
        return p4_error_set(err, P4_EINVAL, "saved noise state: drawn in the %s layout, this run "
                            "is set to %s ([dp] noise_layout)",
                            in[SAVED_LAYOUT] ? "chunked" : "serial",
                            e->noise_layout == P4_NOISE_CHUNKED ? "chunked" : "serial");
    uint64_t position = 0;
    for (int i = 0; i < 8; i++)
        position |= (uint64_t)in[SAVED_POSITION + i] << (8 * i);
    return p4_optee_seed_noise_at(e->optee, e->noise.key, e->noise_layout == P4_NOISE_CHUNKED,
                                  position, err);
}

int p4_enclave_optee_release_rows(p4_enclave *e, float *rows, int n, int cols, double clip,
                                  double sigma, p4_error *err)
{
    return p4_optee_release_rows(e->optee, rows, n, cols, clip, sigma, err);
}

static int optee_only(const p4_enclave *e, const char *what, p4_error *err)
{
    if (e == NULL)
        return p4_error_set(err, P4_EINVAL, "%s: no enclave", what);
    if (e->backend != P4_ENCLAVE_OPTEE || e->optee == NULL)
        return p4_error_set(err, P4_EUNSUPPORTED, "%s: the %s backend holds no layers (it runs "
                            "every layer in the normal world)", what, p4_enclave_kind(e));
    return P4_OK;
}

static int to_spec(const p4_enclave *e, const p4_enclave_layers *in, p4_ta_layers_spec *out,
                   p4_error *err)
{
    memset(out, 0, sizeof *out);
    out->flags = e->layers_stay ? P4_TA_LAYERS_STAY : 0;
    out->flags |= e->noise_layout == P4_NOISE_CHUNKED ? P4_TA_SPEC_NOISE_CHUNKED : 0;
    if (in == NULL || in->count < 1 || in->count > P4_TA_MAX_LAYERS || in->capacity < 1 ||
        in->outside_floats > (1u << 28))
        return p4_error_set(err, P4_EINVAL, "protected layers: 1..%d layers, a pass of at "
                            "least one example", P4_TA_MAX_LAYERS);
    out->nlayers = (uint32_t)in->count;
    out->capacity = (uint32_t)in->capacity;
    out->normal_floats = (uint32_t)in->outside_floats;
    out->flags |= in->softmax_outside ? P4_TA_SPEC_SOFTMAX_OUTSIDE : 0;
    for (int j = 0; j < in->count; j++) {
        const int kind = in->layer[j].kind;
        if (in->layer[j].inputs < 1 || in->layer[j].outputs < 1 || in->layer[j].activation < 0 ||
            kind < 0 || in->layer[j].c < 0 || in->layer[j].h < 0 || in->layer[j].w < 0 ||
            in->layer[j].filters < 0 || in->layer[j].size < 0 || in->layer[j].stride < 0 ||
            in->layer[j].pad < 0)
            return p4_error_set(err, P4_EINVAL, "protected layer %d: bad shape", j);
        out->layer[j].inputs = (uint32_t)in->layer[j].inputs;
        out->layer[j].outputs = (uint32_t)in->layer[j].outputs;
        out->layer[j].activation = (uint32_t)in->layer[j].activation;
        out->layer[j].kind = (uint32_t)kind;
        out->layer[j].c = (uint32_t)in->layer[j].c;
        out->layer[j].h = (uint32_t)in->layer[j].h;
        out->layer[j].w = (uint32_t)in->layer[j].w;
        out->layer[j].filters = (uint32_t)in->layer[j].filters;
        out->layer[j].size = (uint32_t)in->layer[j].size;
        out->layer[j].stride = (uint32_t)in->layer[j].stride;
        out->layer[j].pad = (uint32_t)in->layer[j].pad;
    }
    return P4_OK;
}

int p4_enclave_layers_check(const p4_enclave *enclave, const p4_enclave_layers *spec,
                            p4_error *err)
{
    p4_ta_layers_spec s;
    int rc = optee_only(enclave, "protected layers", err);
    if (rc == P4_OK)
        rc = to_spec(enclave, spec, &s, err);
    if (rc == P4_OK)
        rc = p4_optee_layers_check(&s, enclave->ta_memory_mib, err);
    return rc;
}

int p4_enclave_layers_load(p4_enclave *enclave, const p4_enclave_layers *spec,
                           const float *params, size_t count, p4_error *err)
{
    p4_ta_layers_spec s;
    int rc = optee_only(enclave, "protected layers", err);
    if (rc == P4_OK)
        rc = to_spec(enclave, spec, &s, err);
    if (rc == P4_OK)
        rc = p4_optee_layers_load(enclave->optee, &s, params, count, err);
    return rc;
}

int p4_enclave_layers_train(p4_enclave *enclave, const float *inputs, int m,
                            const float *targets, float *in_delta, double *loss,
                            p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc
                       : p4_optee_layers_train(enclave->optee, inputs, m, targets, in_delta,
                                               loss, err);
}

int p4_enclave_layers_clip(p4_enclave *enclave, const double *outside_norms_sq, int m,
                           double clip, float *factor, p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc
                       : p4_optee_layers_clip(enclave->optee, outside_norms_sq, m, clip, factor,
                                              err);
}

int p4_enclave_layers_step(p4_enclave *enclave, const p4_enclave_step *step,
                           float *outside_sums, const size_t *tensor_sizes, int ntensors,
                           p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    if (rc != P4_OK)
        return rc;
    if (step == NULL || ntensors < 0 || ntensors > P4_TA_MAX_TENSORS ||
        (ntensors > 0 && tensor_sizes == NULL) || step->above_tensors < 0 ||
        step->above_tensors > ntensors)
        return p4_error_set(err, P4_EINVAL, "protected step: bad arguments (at most %d "
                            "normal-world tensors)", P4_TA_MAX_TENSORS);
    p4_ta_step_args a;
    memset(&a, 0, sizeof a);
    a.q = step->sample_rate;
    a.sigma = step->noise_multiplier;
    a.clip = step->clip_norm;
    a.divisor = step->divisor;
    a.learning_rate = step->learning_rate;
    a.momentum = step->momentum;
    a.decay = step->weight_decay;
    a.ntensors = (uint32_t)ntensors;
    a.above_tensors = (uint32_t)step->above_tensors;
    size_t count = 0;
    for (int t = 0; t < ntensors; t++) {
        a.tensor[t] = (uint32_t)tensor_sizes[t]; /* P4_ENCLAVE_TENSOR_FROZEN passes through */
        count += tensor_sizes[t] & ~(size_t)P4_ENCLAVE_TENSOR_FROZEN;
    }
    return p4_optee_layers_step(enclave->optee, &a, outside_sums, count, NULL, err);
}

int p4_enclave_layers_top1(p4_enclave *enclave, const float *inputs, int n, int *labels,
                           p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc : p4_optee_layers_top1(enclave->optee, inputs, n, labels, err);
}

int p4_enclave_layers_kd_train(p4_enclave *enclave, const float *inputs, int m,
                               const float *onehot, const float *teacher, double alpha,
                               double temperature, float *in_delta, double *loss, p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc
                       : p4_optee_layers_kd_train(enclave->optee, inputs, m, onehot, teacher,
                                                  alpha, temperature, in_delta, loss, err);
}

int p4_enclave_layers_teach(p4_enclave *enclave, const float *inputs, int n, double temperature,
                            float *probs, p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc
                       : p4_optee_layers_kd_teach(enclave->optee, inputs, n, temperature, probs,
                                                  err);
}

int p4_enclave_layers_export(p4_enclave *enclave, float *params, size_t count, p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc : p4_optee_layers_export(enclave->optee, params, count, err);
}

int p4_enclave_layers_import(p4_enclave *enclave, const float *params, size_t count,
                             p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc : p4_optee_layers_import(enclave->optee, params, count, err);
}

int p4_enclave_layers_held(const p4_enclave *enclave, const p4_enclave_layers *spec)
{
    p4_ta_layers_spec s;
    if (optee_only(enclave, "protected layers", NULL) != P4_OK || to_spec(enclave, spec, &s, NULL) != P4_OK)
        return 0;
    return p4_optee_layers_held(enclave->optee, &s);
}

int p4_enclave_layers_store(p4_enclave *enclave, p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc : p4_optee_layers_store(enclave->optee, err);
}

int p4_enclave_layers_snapshot(p4_enclave *enclave, int round, p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc : p4_optee_layers_snapshot(enclave->optee, round, err);
}

int p4_enclave_layers_restore(p4_enclave *enclave, int round, p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc : p4_optee_layers_restore(enclave->optee, round, NULL, err);
}

/* ---- logits mode with protected layers ---------------------------------------- */

int p4_enclave_layers_stay(const p4_enclave *enclave)
{
    return p4_enclave_protected_range(enclave, NULL, NULL) && enclave->layers_stay;
}

int p4_enclave_layers_release_logits(p4_enclave *enclave, const float *inputs, int n,
                                     double clip, double sigma, float *rows, p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc
                       : p4_optee_layers_release_logits(enclave->optee, inputs, n, clip, sigma,
                                                        rows, err);
}

int p4_enclave_layers_public_step(p4_enclave *enclave, double divisor, double learning_rate,
                                  double momentum, double weight_decay, p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    if (rc != P4_OK)
        return rc;
    if (!enclave->layers_stay)
        return p4_error_set(err, P4_EINVAL, "protected public step: the layers were not loaded "
                            "to stay in the enclave (logits mode)");
    p4_ta_public_step_args a = { divisor, learning_rate, momentum, weight_decay };
    return p4_optee_layers_public_step(enclave->optee, &a, err);
}

int p4_enclave_layers_forward(p4_enclave *enclave, const float *inputs, int m, int train,
                              float *outputs, p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc
                       : p4_optee_layers_forward(enclave->optee, inputs, m, train, outputs, err);
}

int p4_enclave_layers_backward(p4_enclave *enclave, const float *out_delta, int m,
                               float *in_delta, p4_error *err)
{
    int rc = optee_only(enclave, "protected layers", err);
    return rc != P4_OK ? rc
                       : p4_optee_layers_backward(enclave->optee, out_delta, m, in_delta, err);
}
