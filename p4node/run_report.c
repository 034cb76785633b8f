/* run_report.c: the run summary `p4 sim` and `p4 cluster` print; see
 * run_report.h. */
#include "p4node/run_report.h"

#include <math.h>

#include "cluster/attack.h"
#include "common/json.h"
#include "dp/guarantee.h"

void p4_run_report_groups(FILE *out, const int *group_of, int clients, int ngroups)
{
    fputc('[', out);
    for (int g = 0; group_of && g < ngroups; g++) {
        fprintf(out, "%s[", g ? "," : "");
        int first = 1;
        for (int k = 0; k < clients; k++)
            if (group_of[k] == g) {
                fprintf(out, "%s%d", first ? "" : ",", k);
                first = 0;
            }
        fputc(']', out);
    }
    fputc(']', out);
}

/* The grouping lie's target (-1: no lie), chosen as the peers chose it. */
static int lie_target(const p4_run_report *c)
{
    int target = -1;
    const p4_sim_result *r = c->result;
    if (r->attackers > 0 && r->attacker &&
        p4_attack_choose_target(c->cfg, r->clients, r->attacker, &target, NULL) != P4_OK)
        target = -1;
    return target;
}

void p4_run_report_krum_warning(const p4_run_report *c, char *out, size_t size)
{
    if (out == NULL || size == 0)
        return;
    out[0] = '\0';
    if (c == NULL || c->cfg == NULL || c->result == NULL || c->result->krum_fallbacks <= 0)
        return;
    const p4_sim_result *r = c->result;
    snprintf(out, size, "aggregate = multikrum fell back to the mean in %d client-round(s): "
             "multi-Krum needs more than 2 krum_f + 2 = %d group members, the smallest group "
             "had %d", r->krum_fallbacks, 2 * c->cfg->krum_f + 2, r->krum_smallest);
}

void p4_run_report_revert_warning(const p4_run_report *c, char *out, size_t size)
{
    if (out == NULL || size == 0)
        return;
    out[0] = '\0';
    if (c == NULL || c->result == NULL || c->result->proxy_reverts <= 0)
        return;
    snprintf(out, size, "a proxy diverged after averaging peers' proxies in %d client-round(s): "
             "reverted to the client's own proxy and dropped the rest of that round's training",
             c->result->proxy_reverts);
}

void p4_run_report_json(FILE *out, const p4_run_report *c)
{
    if (out == NULL || c == NULL || c->cfg == NULL || c->result == NULL)
        return;
    const p4_sim_result *r = c->result;
    fprintf(out, "{\"config\":");
    p4_json_string(out, c->cfg->path);
    fprintf(out, ",\"method\":\"%s\",\"epsilon_target\":", p4_method_name(c->method));
    p4_json_number(out, c->epsilon_target);
    fprintf(out, ",\"epsilon\":");
    p4_json_number(out, r->epsilon);
    fprintf(out, ",\"delta\":");
    p4_json_number(out, c->cfg->delta);
    fprintf(out, ",\"noise_multiplier\":");
    p4_json_number(out, r->noise_multiplier);
    fprintf(out, ",\"dp_guarantee\":\"%s\",\"reproducible\":%s", p4_dp_guarantee_name(r->guarantee),
           c->reproducible ? "true" : "false");
    fprintf(out, ",\"seed\":%llu,\"clients\":%d,\"mean_accuracy\":", (unsigned long long)c->cfg->seed,
           r->clients);
    p4_json_number(out, r->mean_accuracy);
    fprintf(out, ",\"std_accuracy\":");
    p4_json_number(out, r->std_accuracy);
    fprintf(out, ",\"accuracy\":[");
    for (int k = 0; k < r->clients; k++) {
        if (k) fputc(',', out);
        p4_json_number(out, r->accuracy[k]);
    }
    fprintf(out, "],\"groups\":");
    p4_run_report_groups(out, r->group_of, r->clients, r->ngroups);
    fprintf(out, ",\"ari\":");
    p4_json_number(out, r->ari);
    if (r->attackers > 0 && r->attacker) {
        fprintf(out, ",\"attack\":{\"kind\":");
        p4_json_string(out, c->cfg->attack_kind);
        fprintf(out, ",\"fraction\":");
        p4_json_number(out, c->cfg->attack_fraction);
        fprintf(out, ",\"strength\":");
        p4_json_number(out, c->cfg->attack_strength);
        fprintf(out, ",\"attackers\":[");
        for (int k = 0, first = 1; k < r->clients; k++)
            if (r->attacker[k]) {
                fprintf(out, "%s%d", first ? "" : ",", k);
                first = 0;
            }
        fprintf(out, "]");
        int target = lie_target(c);
        if (target >= 0) {
            fprintf(out, ",\"grouping_lie\":");
            p4_json_string(out, c->cfg->grouping_lie);
            fprintf(out, ",\"lie_noise\":");
            p4_json_number(out, c->cfg->lie_noise);
            fprintf(out, ",\"target\":%d", target);
        }
        fputc('}', out);
    }
    fprintf(out, ",\"honest_mean_accuracy\":");
    p4_json_number(out, r->honest_mean_accuracy);
    if (p4_method_predicts_ensemble(c->method, c->cfg->predict)) { /* only then, as warnings */
        fprintf(out, ",\"predict\":\"ensemble\",\"ensemble_weight\":");
        p4_json_number(out, c->cfg->ensemble_weight);
    }
    char krum[256], revert[256];
    p4_run_report_krum_warning(c, krum, sizeof krum);
    p4_run_report_revert_warning(c, revert, sizeof revert);
    if (krum[0] || revert[0]) { /* only then: other runs' JSON stays as it was */
        fprintf(out, ",\"warnings\":[");
        if (krum[0])
            p4_json_string(out, krum);
        if (revert[0]) {
            if (krum[0])
                fputc(',', out);
            p4_json_string(out, revert);
        }
        fprintf(out, "]");
    }
    fprintf(out, ",\"seconds\":");
    p4_json_number(out, r->seconds);
    fprintf(out, "}\n");
}

void p4_run_report_text(FILE *out, const p4_run_report *c)
{
    if (out == NULL || c == NULL || c->cfg == NULL || c->result == NULL)
        return;
    const p4_sim_result *r = c->result;
    fprintf(out, "%-7s %-8s %-6s %9s\n", "client", "cluster", "group", "accuracy");
    for (int k = 0; k < r->clients; k++) {
        char latent[16] = "-";
        if (r->latent[k] >= 0) snprintf(latent, sizeof latent, "%d", r->latent[k]);
        fprintf(out, "%-7d %-8s %-6d %9.4f\n", k, latent, r->group_of[k], r->accuracy[k]);
    }
    fprintf(out, "\nmethod %s, %d clients, seed %llu\n", p4_method_name(c->method), r->clients,
           (unsigned long long)c->cfg->seed);
    fprintf(out, "mean accuracy %.4f (std over clients %.4f)\n", r->mean_accuracy, r->std_accuracy);
    if (p4_method_predicts_ensemble(c->method, c->cfg->predict))
        fprintf(out, "each client predicts with both models: (1 - %g) x private + %g x proxy\n",
                c->cfg->ensemble_weight, c->cfg->ensemble_weight);
    fprintf(out, "groups (%d): ", r->ngroups);
    p4_run_report_groups(out, r->group_of, r->clients, r->ngroups);
    fputc('\n', out);
    if (!isnan(r->ari))
        fprintf(out, "adjusted Rand index against the latent clusters: %.3f\n", r->ari);
    if (r->attackers > 0 && r->attacker) {
        fprintf(out, "attack %s (strength %g): %d malicious client(s):", c->cfg->attack_kind,
                c->cfg->attack_strength, r->attackers);
        for (int k = 0; k < r->clients; k++)
            if (r->attacker[k])
                fprintf(out, " %d", k);
        fprintf(out, "; honest clients' mean accuracy %.4f\n", r->honest_mean_accuracy);
        int target = lie_target(c);
        if (target >= 0)
            fprintf(out, "grouping lie %s (noise %g) aimed at client %d\n", c->cfg->grouping_lie,
                    c->cfg->lie_noise, target);
    }
    if (isinf(c->epsilon_target) || c->method == P4_METHOD_LOCAL)
        fprintf(out, "privacy: no DP (epsilon inf)\n");
    else
        fprintf(out, "privacy: epsilon %.3f spent of %.3f per client at delta %g (noise multiplier %.4f)\n",
               r->epsilon, c->epsilon_target, c->cfg->delta, r->noise_multiplier);
    fprintf(out, "dp_guarantee %s: %s\n", p4_dp_guarantee_name(r->guarantee),
           p4_dp_guarantee_reason(&r->facts));
    char warning[256];
    p4_run_report_krum_warning(c, warning, sizeof warning);
    if (warning[0])
        fprintf(out, "warning: %s\n", warning);
    p4_run_report_revert_warning(c, warning, sizeof warning);
    if (warning[0])
        fprintf(out, "warning: %s\n", warning);
    fprintf(out, "time %.1f s\n", r->seconds);
}

