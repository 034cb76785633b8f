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
    e->seeded = seeded != 0;
    *out = e;
    return P4_OK;
}

int p4_enclave_save_seeded_noise(const p4_enclave *e, unsigned char *out, size_t size,
                                 p4_error *err)
{
    if (e == NULL || out == NULL || size != P4_RNG_STATE_BYTES)
        return p4_error_set(err, P4_EINVAL, "save noise state: bad arguments");
    if (e->backend == P4_ENCLAVE_OPTEE)
        return p4_enclave_optee_save_noise(e, out, size, err);
    if (!e->seeded)
        return p4_error_set(err, P4_EINVAL, "the noise generator is keyed from the OS; its "
                            "state never leaves the enclave");
    p4_rng_save(&e->noise, out);
    return P4_OK;
}

int p4_enclave_restore_seeded_noise(p4_enclave *e, const unsigned char *in, size_t size,
                                    p4_error *err)
{
    if (e == NULL || in == NULL)
        return p4_error_set(err, P4_EINVAL, "restore noise state: bad arguments");
    if (e->backend == P4_ENCLAVE_OPTEE)
        return p4_enclave_optee_restore_noise(e, in, size, err);
    if (!e->seeded)
        return p4_error_set(err, P4_EINVAL, "the noise generator is keyed from the OS; a saved "
                            "stream cannot replace it");
    if (p4_rng_restore(&e->noise, in, size) != P4_OK)
        return p4_error_set(err, P4_EINVAL, "saved noise state: %zu bytes that are not a "
                            "generator state (want %d)", size, P4_RNG_STATE_BYTES);
    return P4_OK;
}

int p4_enclave_software_noise(p4_enclave *e, float *values, size_t n, double stddev)
{
    p4_ziggurat_add_layout(&e->normal, &e->noise, e->noise_layout, values, n, stddev);
    return P4_OK;
}
