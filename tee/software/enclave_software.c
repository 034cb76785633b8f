/* enclave_software.c: the software "enclave": same interface, no hardware.
 * It exists so p4 runs on any machine for development and CI; it protects
 * nothing from the host, and p4_enclave_protection() says so. */
#include "tee/enclave_backend.h"

#include <stdlib.h>

int p4_enclave_open_software(p4_enclave **out, int seeded, uint64_t seed,
                             p4_error *err)
{
    if (out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_enclave_open_software: no output");
    p4_enclave *e = calloc(1, sizeof *e);
    if (e == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    e->backend = P4_ENCLAVE_SOFTWARE;
    e->pp_start = e->pp_end = -1;
    p4_ziggurat_init(&e->normal);
    int rc = seeded ? p4_rng_init_seeded(&e->noise, seed, "dp-noise")
                    : p4_rng_init_secure(&e->noise);
    if (rc != P4_OK) {
        free(e);
        return p4_error_set(err, rc, "cannot key the noise generator");
    }
    *out = e;
    return P4_OK;
}

int p4_enclave_software_noise(p4_enclave *e, float *values, size_t n, double stddev)
{
    p4_ziggurat_add_parallel(&e->normal, &e->noise, values, n, stddev);
    return P4_OK;
}
