/* test_trainer.h: a DP-SGD trainer (model, SGD, enclave, DP-SGD) on 28x28x1
 * images of 10 classes, batch 40, for the tests that compare the software
 * enclave with the OP-TEE TA's protected layers (test_optee_kd,
 * test_optee_layers).  Both backends start from the same seeds (model 11,
 * noise 5, --reproducible, the chunked noise layout as [dp] noise_layout's
 * default), so their steps can be compared one by one. */
#ifndef P4_TEST_TRAINER_H
#define P4_TEST_TRAINER_H

#include "common/error.h"
#include "dp/dpsgd.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "tee/enclave.h"

typedef struct {
    p4_model *model;
    p4_sgd *sgd;
    p4_enclave *enclave;
    p4_dpsgd *dp;
} trainer;

/* The model in cfg; optee 0: the software enclave, else the optee backend
 * with layers pp_start..pp_end in a TA of ta_memory_mib MiB storing under
 * dir.  On an error the parts opened so far stay in t: trainer_close them. */
int trainer_open(trainer *t, const char *dir, const char *cfg, int optee, int pp_start,
                 int pp_end, int ta_memory_mib, p4_error *err);

/* The same in the noise layout "serial" or "chunked" (both backends). */
int trainer_open_layout(trainer *t, const char *dir, const char *cfg, int optee, int pp_start,
                        int pp_end, int ta_memory_mib, const char *noise_layout, p4_error *err);

void trainer_close(trainer *t);

#endif
