/* test_trainer.c: see test_trainer.h. */
#include "support/test_trainer.h"

#include <string.h>

int trainer_open(trainer *t, const char *dir, const char *cfg, int optee, int pp_start,
                 int pp_end, int ta_memory_mib, p4_error *err)
{
    return trainer_open_layout(t, dir, cfg, optee, pp_start, pp_end, ta_memory_mib, "chunked",
                               err);
}

int trainer_open_layout(trainer *t, const char *dir, const char *cfg, int optee, int pp_start,
                        int pp_end, int ta_memory_mib, const char *noise_layout, p4_error *err)
{
    memset(t, 0, sizeof *t);
    p4_cfg_shape shape = { 28, 28, 1, 10 };
    int rc = p4_model_new(&t->model, cfg, &shape, 40, 11, err);
    if (rc == P4_OK)
        rc = p4_sgd_new(&t->sgd, t->model, 0.05, 0.9, 1e-4, err);
    if (rc == P4_OK && optee) {
        p4_enclave_optee_options o = { .seeded = 1, .seed = 5, .delta = 1e-5,
                                       .target_epsilon = 50, .pp_start = pp_start,
                                       .pp_end = pp_end, .ta_memory_mib = ta_memory_mib,
                                       .storage_dir = dir };
        rc = p4_enclave_open_optee(&t->enclave, &o, err);
    } else if (rc == P4_OK) {
        rc = p4_enclave_open_software(&t->enclave, 1, 5, err);
    }
    if (rc == P4_OK)
        rc = p4_enclave_set_noise_layout(t->enclave, noise_layout, err);
    p4_dpsgd_params params = { .sample_rate = 0.1, .noise_multiplier = 1.0, .clip_norm = 1.0 };
    if (rc == P4_OK)
        rc = p4_dpsgd_new(&t->dp, t->model, t->sgd, &params, t->enclave, err);
    return rc;
}

void trainer_close(trainer *t)
{
    p4_dpsgd_destroy(&t->dp);
    p4_enclave_close(&t->enclave);
    p4_sgd_destroy(&t->sgd);
    p4_model_destroy(&t->model);
}
