/* attack.h: malicious peers for the simulator and the node (issue 15; the
 * extended P4 paper, arXiv 2506.20413).
 *
 * A fraction of the clients, chosen from the config's public seed, follow
 * the protocol but poison what they share:
 *   signflip   send w0 - s (w - w0): their training moved the proxy from the
 *              public initialisation w0; they send the move reversed, s times;
 *   scaled     send w0 + s (w - w0): the move amplified s times;
 *   gaussian   send w + N(0, s^2) on every coordinate;
 *   labelflip  train on labels y -> C - 1 - y and share honestly what that
 *              training gives (s is not used).
 * By default attackers take part in the grouping honestly.  With
 * [attack] grouping_lie = copy-target they lie there too: each waits for one
 * honest target's warm-up slice, then sends a copy of it (plus
 * N(0, lie_noise^2) per coordinate) as its own, to land in the target's
 * group (docs/attacks.md measures how often it does, and the guard against
 * it in cluster/slice_guard.h). */
#ifndef P4_CLUSTER_ATTACK_H
#define P4_CLUSTER_ATTACK_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/rng.h"
#include "common/ziggurat.h"

typedef enum {
    P4_ATTACK_NONE = 0,
    P4_ATTACK_SIGNFLIP,
    P4_ATTACK_SCALED,
    P4_ATTACK_GAUSSIAN,
    P4_ATTACK_LABELFLIP
} p4_attack_kind;

typedef enum {
    P4_GROUPING_LIE_NONE = 0,
    P4_GROUPING_LIE_COPY_TARGET
} p4_grouping_lie;

/* P4_OK and *out for "none", "copy-target". */
int p4_grouping_lie_parse(const char *text, p4_grouping_lie *out);

/* P4_OK and *out for "none", "signflip", "scaled", "gaussian", "labelflip". */
int p4_attack_parse(const char *text, p4_attack_kind *out);
const char *p4_attack_name(p4_attack_kind kind);

/* Marks round(fraction * n) of n clients as attackers, chosen uniformly
 * from `seed` (public: every peer knows who the simulation made malicious;
 * the honest peers' code never reads it). */
int p4_attack_choose(int n, double fraction, uint64_t seed, unsigned char *is_attacker,
                     p4_error *err);

/* The attackers a config makes among n clients ([attack]; none when its
 * kind is "none"): what `p4 sim` and every `p4 node` of a run agree on. */
struct p4_config;
int p4_attack_choose_config(const struct p4_config *cfg, int n, unsigned char *is_attacker,
                            p4_error *err);

/* The honest client the lying attackers of a run aim at: [attack] target
 * when it is >= 0 (it must be an honest client), else one chosen from the
 * config's seed among the honest clients (public, like the attackers).
 * *target = -1 when the config makes no grouping lie or nobody is honest. */
int p4_attack_choose_target(const struct p4_config *cfg, int n, const unsigned char *is_attacker,
                            int *target, p4_error *err);

/* The lie: out = target_slice + N(0, noise^2) per coordinate (n values). */
int p4_attack_lie_slice(const float *target_slice, size_t n, double noise, p4_rng *rng,
                        const p4_ziggurat *z, float *out, p4_error *err);

/* An attacker's shared proxy: w (n values) poisoned in place.  w0 is the
 * public initial proxy; rng and z draw the gaussian attack's noise. */
int p4_attack_poison(p4_attack_kind kind, double strength, float *w, const float *w0, size_t n,
                     p4_rng *rng, const p4_ziggurat *z, p4_error *err);

#endif
