/* enclave.c: tee/enclave.h's calls, handed to the backend that was opened. */
#include "tee/enclave_backend.h"
#include "dp/clip_rows.h"

#include <stdlib.h>

void p4_enclave_close(p4_enclave **enclave)
{
    if (enclave == NULL || *enclave == NULL)
        return;
    if ((*enclave)->backend == P4_ENCLAVE_OPTEE)
        p4_enclave_optee_release(*enclave);
    p4_rng_wipe(&(*enclave)->noise);
    free(*enclave);
    *enclave = NULL;
}

const char *p4_enclave_kind(const p4_enclave *enclave)
{
    return enclave != NULL && enclave->backend == P4_ENCLAVE_OPTEE ? "optee" : "software";
}

int p4_enclave_set_noise_layout(p4_enclave *enclave, const char *layout, p4_error *err)
{
    p4_noise_layout parsed;
    if (enclave == NULL || p4_noise_layout_parse(layout, &parsed) != P4_OK)
        return p4_error_set(err, P4_EINVAL, "noise layout \"%s\": expected chunked or serial",
                            layout != NULL ? layout : "(none)");
    if (enclave->backend == P4_ENCLAVE_OPTEE)
        return p4_enclave_optee_set_layout(enclave, parsed, err);
    enclave->noise_layout = parsed;
    return P4_OK;
}

int p4_enclave_add_gaussian_noise(p4_enclave *enclave, float *values, size_t n,
                                  double stddev, p4_error *err)
{
    if (enclave == NULL || (values == NULL && n > 0) || !(stddev >= 0))
        return p4_error_set(err, P4_EINVAL, "add_gaussian_noise: bad arguments");
    if (stddev == 0)
        return P4_OK;
    if (enclave->backend == P4_ENCLAVE_OPTEE)
        return p4_enclave_optee_noise(enclave, values, n, stddev, err);
    return p4_enclave_software_noise(enclave, values, n, stddev);
}

int p4_enclave_protected_range(const p4_enclave *enclave, int *first, int *last)
{
    if (enclave == NULL || enclave->backend != P4_ENCLAVE_OPTEE || enclave->pp_start < 0)
        return 0;
    if (first)
        *first = enclave->pp_start;
    if (last)
        *last = enclave->pp_end;
    return 1;
}

void p4_enclave_traffic(const p4_enclave *enclave, uint64_t *bytes_in, uint64_t *bytes_out)
{
    if (bytes_in)
        *bytes_in = 0;
    if (bytes_out)
        *bytes_out = 0;
    if (enclave != NULL && enclave->backend == P4_ENCLAVE_OPTEE)
        p4_enclave_optee_traffic(enclave, bytes_in, bytes_out);
}

const char *p4_enclave_protection(const p4_enclave *enclave)
{
    if (enclave != NULL && enclave->backend == P4_ENCLAVE_OPTEE)
        return p4_enclave_optee_protection(enclave);
    return "software backend: NO hardware protection; noise and keys live in "
           "ordinary process memory (use tee/cca or tee/optee on real boards)";
}

int p4_enclave_charge(p4_enclave *enclave, double q, double sigma, long long steps,
                      p4_error *err)
{
    if (enclave == NULL)
        return p4_error_set(err, P4_EINVAL, "enclave charge: no enclave");
    if (enclave->backend == P4_ENCLAVE_OPTEE)
        return p4_enclave_optee_charge(enclave, q, sigma, steps, err);
    return P4_OK;
}

int p4_enclave_release_rows(p4_enclave *enclave, float *rows, int n, int cols, double clip,
                            double sigma, p4_error *err)
{
    if (enclave == NULL || rows == NULL || n < 1 || cols < 1 || !(clip > 0) || !(sigma >= 0))
        return p4_error_set(err, P4_EINVAL, "enclave release: bad arguments");
    if (enclave->backend == P4_ENCLAVE_OPTEE)
        return p4_enclave_optee_release_rows(enclave, rows, n, cols, clip, sigma, err);
    p4_clip_rows(rows, (size_t)n, (size_t)cols, clip);
    return p4_enclave_add_gaussian_noise(enclave, rows, (size_t)n * cols, sigma * clip, err);
}
