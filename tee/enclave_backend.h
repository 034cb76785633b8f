/* enclave_backend.h: what a p4_enclave is, for its backends only
 * (tee/enclave.c dispatches, tee/software/ and tee/optee/ implement). */
#ifndef P4_TEE_ENCLAVE_BACKEND_H
#define P4_TEE_ENCLAVE_BACKEND_H

#include "tee/enclave.h"
#include "common/rng.h"
#include "common/ziggurat.h"

struct p4_optee;

typedef enum { P4_ENCLAVE_SOFTWARE, P4_ENCLAVE_OPTEE } p4_enclave_backend;

struct p4_enclave {
    p4_enclave_backend backend;
    /* software */
    p4_rng noise;
    p4_ziggurat normal;        /* tables of the Gaussian sampler */
    int seeded;                /* reproducible: the stream may be saved (optee:
                                  noise holds the key the TA was seeded with) */
    p4_noise_layout noise_layout; /* [dp] noise_layout; calloc: serial */
    /* optee */
    struct p4_optee *optee;
    int pp_start, pp_end;
    int ta_memory_mib;
    int layers_stay;           /* logits mode: the layers never leave      */
};

/* tee/software/enclave_software.c */
int p4_enclave_software_noise(p4_enclave *e, float *values, size_t n, double stddev);
/* tee/optee/enclave_optee.c */
void p4_enclave_optee_release(p4_enclave *e);
int p4_enclave_optee_noise(p4_enclave *e, float *values, size_t n, double stddev,
                           p4_error *err);
void p4_enclave_optee_traffic(const p4_enclave *e, uint64_t *bytes_in, uint64_t *bytes_out);
const char *p4_enclave_optee_protection(const p4_enclave *e);
int p4_enclave_optee_charge(p4_enclave *e, double q, double sigma, long long steps,
                            p4_error *err);
/* The TA's seeded noise in this layout, going on from its position. */
int p4_enclave_optee_set_layout(p4_enclave *e, p4_noise_layout layout, p4_error *err);
int p4_enclave_optee_save_noise(const p4_enclave *e, unsigned char *out, size_t size,
                                p4_error *err);
int p4_enclave_optee_restore_noise(p4_enclave *e, const unsigned char *in, size_t size,
                                   p4_error *err);
int p4_enclave_optee_release_rows(p4_enclave *e, float *rows, int n, int cols, double clip,
                                  double sigma, p4_error *err);

#endif
