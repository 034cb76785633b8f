/* test_ta.h: p4's TA in the GlobalPlatform harness, for the tests that
 * drive it straight through the TEE Client API or through one small dense
 * layer (test_optee_harness, test_optee_kd, test_optee_restart,
 * test_optee_layers). */
#ifndef P4_TEST_TA_H
#define P4_TEST_TA_H

#include <stdint.h>
#include <tee_client_api.h>

#include "p4_ta.h"
#include "tee/optee/host/optee.h"

/* A context and a session to p4's TA, its secure storage in storage_dir
 * and ta_memory_mib MiB of TA memory (the harness's; a real TEE has its
 * own); fails the test if either is refused. */
void test_ta_session_open(TEEC_Context *ctx, TEEC_Session *sess, const char *storage_dir,
                          uint32_t ta_memory_mib);

/* Closes what test_ta_session_open opened. */
void test_ta_session_close(TEEC_Context *ctx, TEEC_Session *sess);

/* OPEN_LEDGER at (delta, target epsilon); the TA's answer, and where it
 * came from in *origin (may be NULL). */
TEEC_Result test_ta_open_ledger(TEEC_Session *sess, double delta, double target,
                                uint32_t *origin);

/* One dense layer of inputs -> outputs (and the softmax) for `capacity`
 * examples a pass, beside `normal_floats` floats of the normal world's. */
p4_ta_layers_spec test_ta_dense_spec(uint32_t inputs, uint32_t outputs, uint32_t capacity,
                                     uint32_t normal_floats);

/* The n initial weights the dense-layer tests load: 0.1 (i mod 7) - 0.3. */
void test_ta_dense_weights(float *w, int n);

/* A node's TA session as `p4 node` opens it (host API): the ledger at delta
 * 1e-5 and target epsilon 50 in storage_dir's secure storage, the noise
 * seeded from a fixed key when seeded (--reproducible), then the 4 -> 3
 * dense layer test_ta_dense_spec(4, 3, 4, 5) with test_ta_dense_weights
 * loaded.  Fails the test if any of it is refused. */
p4_optee *test_ta_dense_open(const char *storage_dir, int seeded);

/* One DP step of that layer on a batch of two made from b (train, clip,
 * the noised step, then the per-step store, as dp/protected.c does); its
 * loss.  Fails the test if the TA refuses any of it. */
double test_ta_dense_step(p4_optee *t, int b);

#endif
