/* guarantee.h: what the epsilon a run prints is worth, in one word.
 *
 * Every result p4 prints (text and JSON) says which of these holds:
 *   holds        DP noise keyed by the operating system, every released model
 *                trained on labels only (no non-private teacher), and every
 *                release recorded in a ledger before it leaves the client;
 *   conditional  as above, but the proxy distils from the client's private
 *                model (strict_dp = false, the P4 paper's mode): the bound
 *                assumes that teacher is fixed, which it is not;
 *   none         no DP at all (epsilon inf, or a method that trains no DP
 *                model), or --reproducible: noise and batches come from the
 *                public seed, so anyone holding the config can remove them. */
#ifndef P4_DP_GUARANTEE_H
#define P4_DP_GUARANTEE_H

typedef enum { P4_DP_NONE = 0, P4_DP_CONDITIONAL = 1, P4_DP_HOLDS = 2 } p4_dp_guarantee;

typedef struct p4_dp_run_facts {
    int dp;              /* the released model trains with DP-SGD           */
    int reproducible;    /* noise and batches drawn from the public seed    */
    int private_teacher; /* the released model distils from a non-DP model  */
    int ledger;          /* every release is recorded before it leaves      */
} p4_dp_run_facts;

p4_dp_guarantee p4_dp_guarantee_of(const p4_dp_run_facts *facts);

/* "holds", "conditional", "none". */
const char *p4_dp_guarantee_name(p4_dp_guarantee guarantee);

/* One line a person can read: why the guarantee is what it is. */
const char *p4_dp_guarantee_reason(const p4_dp_run_facts *facts);

/* The warning a reproducible run prints on stderr before it starts. */
#define P4_REPRODUCIBLE_WARNING                                                        \
    "--reproducible: the DP noise and the batches are drawn from the config's public " \
    "seed, so this run is NOT private (dp_guarantee none); never use it on real data"

#endif
