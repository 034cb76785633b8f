/* optee.h: the normal world's handle on p4's OP-TEE trusted application.
 *
 * A p4_optee is one session with the TA (tee/optee/ta/) over the GP TEE
 * Client API: libteec on a board, the harness (tee/optee/emu/) here.  The
 * TA holds the DP noise and the privacy ledger: a charge or a release past
 * the target is refused inside the TA (P4_EBUDGET), whatever this side asks.
 * If the TA panics, the call reports an error, the session is reopened and
 * the ledger reloaded from secure storage: no recorded spend is lost.
 * A p4_optee is one session: use it from one thread at a time. */
#ifndef P4_TEE_OPTEE_H
#define P4_TEE_OPTEE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct p4_optee p4_optee;

typedef struct p4_optee_options {
    double delta;            /* the ledger's delta, in (0, 1)                 */
    double target_epsilon;   /* the ledger's target, finite and > 0           */
    /* The harness only (on a board OP-TEE fixes these: TA_DATA_SIZE, the
     * TA in /lib/optee_armtz, storage by tee-supplicant). */
    int ta_memory_mib;       /* TEE_Malloc bound; 0: 10 (DarkneTZ's)          */
    const char *storage_dir; /* the TA's secure storage (required)            */
    const char *ta_dir;      /* where <uuid>.ta lives; NULL: the build's      */
} p4_optee_options;

/* Opens a session and the ledger.  The first open fixes delta and target in
 * the TA's storage; a later open asking for others fails with P4_ESTATE and
 * names the stored ones. */
int p4_optee_open(p4_optee **out, const p4_optee_options *opt, p4_error *err);
void p4_optee_close(p4_optee **t);

/* Records `steps` steps of the subsampled Gaussian at (q, sigma), or
 * P4_EBUDGET.  epsilon_after (may be NULL) receives the spend after them. */
int p4_optee_charge(p4_optee *t, double q, double sigma, long long steps,
                    double *epsilon_after, p4_error *err);

/* values[i] += N(0, stddev^2), drawn inside the TA. */
int p4_optee_add_noise(p4_optee *t, float *values, size_t n, double stddev, p4_error *err);

/* The logits-mode release (distill/client.c's p4_client_public_logits):
 * the TA clips each of the n rows of `classes` values to L2 norm clip,
 * charges one Gaussian release (q = 1, noise multiplier sigma / (2 sqrt n)),
 * adds N(0, (sigma clip)^2) and writes the released rows back.  On
 * P4_EBUDGET the rows are left as they were. */
int p4_optee_release_rows(p4_optee *t, float *rows, int n, int classes, double clip,
                          double sigma, p4_error *err);

/* Epsilon spent so far, as the TA computes it from its stored records. */
int p4_optee_spent(p4_optee *t, double *epsilon, p4_error *err);

/* One line a user can read about what this backend protects (for
 * p4_enclave_protection), naming the harness when that is what runs. */
const char *p4_optee_protection(void);

/* How many times the session was reopened after the TA died. */
int p4_optee_reopens(const p4_optee *t);

/* Invokes a test-only command (P4_TA_CMD_TEST_*, the harness's TA only)
 * with one 64-bit value argument, through the same error and reopen path. */
int p4_optee_test_command(p4_optee *t, uint32_t command, uint64_t arg, p4_error *err);

#endif
