/* ta_session.h: the state of one session of p4's TA (TEE_Malloc'd). */
#ifndef P4_TA_SESSION_H
#define P4_TA_SESSION_H

#include <tee_internal_api.h>

#include "common/fs_gaussian.h"
#include "common/fs_ziggurat.h"
#include "dp/rdp_core.h"
#include "p4_ta.h"

/* The ledger as stored in TEE_STORAGE_PRIVATE: fixed size, rewritten whole
 * from offset 0 on every charge, so each write replaces it atomically. */
typedef struct {
    uint32_t magic;
    uint32_t version;
    uint32_t nphases;
    uint32_t reserved;
    double delta;
    double target;
    p4_dp_phase phases[P4_TA_LEDGER_MAX_PHASES];
} p4_ta_ledger_record;

typedef struct {
    int ledger_open;
    TEE_ObjectHandle ledger_object;   /* held for the session: one writer */
    p4_ta_ledger_record ledger;
    double orders[P4_RDP_MAX_ORDERS];
    int norders;
    p4_fs_gaussian noise;             /* keyed by TEE_GenerateRandom */
    /* SEED_NOISE (--reproducible): the software backend's stream instead. */
    int reproducible;
    p4_noise_layout seeded_layout;    /* SEED_NOISE's p1 ([dp] noise_layout) */
    p4_fs_stream seeded_stream;
    p4_ziggurat seeded_tables;
    struct p4_ta_layers *layers;      /* LAYERS_LOAD; NULL before */
} p4_ta_session;

/* ta_ledger.c */
TEE_Result p4_ta_ledger_open(p4_ta_session *s, double delta, double target);
/* Refuses with P4_TA_ERROR_BUDGET, or records durably and gives the spend after. */
TEE_Result p4_ta_ledger_charge(p4_ta_session *s, double q, double sigma, long long steps,
                               double *epsilon_after);
double p4_ta_ledger_spent(const p4_ta_session *s);
void p4_ta_ledger_close(p4_ta_session *s);

/* ta_release.c */
void p4_ta_noise_key(p4_ta_session *s);
TEE_Result p4_ta_add_noise(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
TEE_Result p4_ta_release_rows(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
/* RELEASE_ROWS's mechanism on n x classes finite rows in TA memory: clip
 * each row to clip, charge one release (q = 1, sigma / (2 sqrt(n))), add
 * N(0, (sigma clip)^2); the ledger's refusal leaves the rows clipped only. */
TEE_Result p4_ta_release_matrix(p4_ta_session *s, float *rows, uint32_t n, uint32_t classes,
                                double clip, double sigma);
/* values[i] += N(0, stddev^2) from the session's noise (seeded or not). */
void p4_ta_noise_add(p4_ta_session *s, float *values, size_t n, double stddev);
TEE_Result p4_ta_seed_noise(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
TEE_Result p4_ta_noise_position(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
/* 1 if a spec's P4_TA_SPEC_NOISE_CHUNKED agrees with the session's seeded
 * layout (always, in an OS-keyed session). */
int p4_ta_noise_layout_agrees(const p4_ta_session *s, uint32_t spec_flags);

/* ta_layers.c: the protected layers (p4_ta.h's LAYERS_* commands). */
TEE_Result p4_ta_layers_load(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
TEE_Result p4_ta_layers_train(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
TEE_Result p4_ta_layers_clip(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
TEE_Result p4_ta_layers_step(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
TEE_Result p4_ta_layers_top1(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
/* A range ending below the softmax (P4_TA_SPEC_SOFTMAX_OUTSIDE). */
TEE_Result p4_ta_layers_forward(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
TEE_Result p4_ta_layers_backward(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
void p4_ta_layers_free(p4_ta_session *s);
/* A pass's loss (ta_layers.c's cross-entropy, ta_kd.c's distillation):
 * load copies and checks p1 for m examples into targets (m x classes);
 * loss writes -dL/dlogits (darknet's sign) and returns the summed loss. */
typedef struct {
    TEE_Result (*load)(void *user, const TEE_Param *p1, uint32_t m, uint32_t classes,
                       uint32_t capacity, float *targets);
    double (*loss)(void *user, const float *logits, const float *probs, const float *targets,
                   uint32_t m, uint32_t classes, float *delta);
    void *user;
} p4_ta_loss;
/* LAYERS_TRAIN's forward, loss and backward with another loss. */
TEE_Result p4_ta_layers_pass(p4_ta_session *s, uint32_t types, TEE_Param params[4],
                             const p4_ta_loss *loss);
/* Forward of the rows of an input memref: the last layer's m x classes
 * logits, which stay in the TA. */
TEE_Result p4_ta_layers_logits(p4_ta_session *s, const TEE_Param *inputs, const float **logits,
                               uint32_t *m, uint32_t *classes);
/* Tensor k of the layers (layer k / 2; weights if k is even, else biases)
 * and its size; k from 2 nlayers on: the same tensors' momentum; NULL past
 * the last. */
float *p4_ta_layers_tensor(p4_ta_session *s, uint32_t k, uint32_t *count);
/* Replaces the layers by zeroed ones of this spec (one allocation of
 * p4_ta_layers_bytes() - P4_TA_RESERVE_BYTES). */
TEE_Result p4_ta_layers_alloc(p4_ta_session *s, const p4_ta_layers_spec *spec);
const p4_ta_layers_spec *p4_ta_layers_spec_of(const p4_ta_session *s);
/* The gathered gradient sum of tensor k (p4_ta_layers_tensor's numbering,
 * k < 2 nlayers) and its size; NULL past the last. */
float *p4_ta_layers_gradient(p4_ta_session *s, uint32_t k, uint32_t *count);
/* ta_store.c: the layers, their momentum and the seeded noise position in
 * TEE_STORAGE_PRIVATE (LAYERS_STORE, LAYERS_RESUME). */
TEE_Result p4_ta_layers_store(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
TEE_Result p4_ta_layers_resume(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
/* The same under a round checkpoint's number (LAYERS_SNAPSHOT,
 * LAYERS_RESTORE): a node restarted from its checkpoint. */
TEE_Result p4_ta_layers_snapshot(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
TEE_Result p4_ta_layers_restore(p4_ta_session *s, uint32_t types, TEE_Param params[4]);

/* ta_kd.c: the distillation loss (KD_TRAIN), the proxy's teaching
 * probabilities (KD_TEACH). */
TEE_Result p4_ta_kd_train(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
TEE_Result p4_ta_kd_teach(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
/* ta_kd_exchange.c: the protected weights out (LAYERS_EXPORT) and in
 * (LAYERS_IMPORT) for a proxy-weights exchange. */
TEE_Result p4_ta_layers_export(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
TEE_Result p4_ta_layers_import(p4_ta_session *s, uint32_t types, TEE_Param params[4]);

/* ta_logits.c: logits mode with protected layers (LOGITS_RELEASE,
 * PUBLIC_STEP). */
TEE_Result p4_ta_logits_release(p4_ta_session *s, uint32_t types, TEE_Param params[4]);
TEE_Result p4_ta_public_step(p4_ta_session *s, uint32_t types, TEE_Param params[4]);

/* p4_ta.c */
int p4_ta_finite(double x);

#endif
