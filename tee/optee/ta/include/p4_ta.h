/* p4_ta.h: p4's trusted application as both worlds see it: its UUID, its
 * commands and their parameters.  Included by the TA (freestanding) and by
 * the host (tee/optee/host/).
 *
 * Doubles travel in a value parameter as their IEEE-754 bits (a: low word,
 * b: high word); p4_ta_value_double/p4_ta_double_value convert.
 *
 * Commands (p0..p3; every other parameter TEE_PARAM_TYPE_NONE):
 *   OPEN_LEDGER   p0 VALUE_IN delta, p1 VALUE_IN target epsilon (finite > 0),
 *                 p2 VALUE_OUT the stored delta, p3 VALUE_OUT the stored target.
 *                 The first open fixes delta and target in secure storage;
 *                 later opens keep the stored ones and report them (the host
 *                 refuses a mismatch).  The other p4 commands need it first.
 *   CHARGE        p0 VALUE_IN q, p1 VALUE_IN sigma, p2 VALUE_IN steps (a low,
 *                 b high), p3 VALUE_OUT epsilon after.  Records the steps, or
 *                 refuses with P4_TA_ERROR_BUDGET if they would pass the target.
 *   ADD_NOISE     p0 MEMREF_INOUT float32 values, p1 VALUE_IN stddev.
 *   RELEASE_ROWS  p0 MEMREF_INOUT float32 rows (rows x classes), p1 VALUE_IN
 *                 (a rows, b classes), p2 VALUE_IN clip, p3 VALUE_IN sigma.
 *                 Clips each row to L2 norm clip, charges one Gaussian release
 *                 with noise multiplier sigma / (2 sqrt(rows)) at q = 1, adds
 *                 N(0, (sigma clip)^2) to every value and returns the rows.
 *   SPENT         p0 VALUE_OUT epsilon spent, p1 VALUE_OUT target.
 * Test-only commands (a TA built with P4_TA_TEST_COMMANDS, the harness's):
 *   TEST_PANIC    TEE_Panic.
 *   TEST_ALLOC    p0 VALUE_IN bytes (a low, b high): TEE_Malloc and free. */
#ifndef P4_TA_H
#define P4_TA_H

#include <stdint.h>

/* 991a17f5-56f0-4bd9-8e29-8ff28f926bb4 */
#define P4_TA_UUID \
    { 0x991a17f5, 0x56f0, 0x4bd9, { 0x8e, 0x29, 0x8f, 0xf2, 0x8f, 0x92, 0x6b, 0xb4 } }
#define P4_TA_UUID_TEXT "991a17f5-56f0-4bd9-8e29-8ff28f926bb4"

enum {
    P4_TA_CMD_OPEN_LEDGER = 1,
    P4_TA_CMD_CHARGE = 2,
    P4_TA_CMD_ADD_NOISE = 3,
    P4_TA_CMD_RELEASE_ROWS = 4,
    P4_TA_CMD_SPENT = 5,
    P4_TA_CMD_TEST_PANIC = 0x100,
    P4_TA_CMD_TEST_ALLOC = 0x101
};

/* The TA's refusal of a charge or release past the target (GP's "access
 * denied": the caller is not allowed this much). */
#define P4_TA_ERROR_BUDGET 0xFFFF0001u

/* The mechanisms the ledger accounts: q in [P4_TA_MIN_Q, 1], sigma in
 * [P4_TA_MIN_SIGMA, P4_TA_MAX_SIGMA].  Outside, the RDP series meets
 * infinities and NaNs (1/q, 1/sigma^2) and runs to its iteration cap. */
#define P4_TA_MIN_Q 1e-12
#define P4_TA_MIN_SIGMA 1e-6
#define P4_TA_MAX_SIGMA 1e6

/* Most phases (distinct q, sigma) the ledger keeps. */
#define P4_TA_LEDGER_MAX_PHASES 64

static inline double p4_ta_value_double(uint32_t a, uint32_t b)
{
    union { uint64_t u; double d; } v;
    v.u = (uint64_t)a | (uint64_t)b << 32;
    return v.d;
}

static inline void p4_ta_double_value(double d, uint32_t *a, uint32_t *b)
{
    union { uint64_t u; double d; } v;
    v.d = d;
    *a = (uint32_t)v.u;
    *b = (uint32_t)(v.u >> 32);
}

#endif
