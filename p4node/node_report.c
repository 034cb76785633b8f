/* node_report.c: one node's run, printed; see node_report.h. */
#include "p4node/node_report.h"

#include <math.h>
#include <string.h>

#include "common/json.h"
#include "p4node/run_report.h"

static int finished(const p4_node_record *r)
{
    return strcmp(r->status, "finished") == 0 && r->group_of != NULL;
}

void p4_node_report_json(FILE *out, const p4_node_record *r, double delta, const char *state_dir)
{
    if (out == NULL || r == NULL)
        return;
    fprintf(out, "{\"id\":%d,\"epoch\":%u,\"status\":", r->client, r->epoch);
    p4_json_string(out, r->status);
    fprintf(out, ",\"method\":");
    p4_json_string(out, r->method);
    fprintf(out, ",\"clients\":%d,\"rounds\":%d,\"round_reached\":%d,\"resumed_round\":",
            r->clients, r->rounds, r->round_reached);
    if (r->resumed_round >= 0)
        fprintf(out, "%d", r->resumed_round);
    else
        fputs("null", out);
    fprintf(out, ",\"accuracy\":");
    p4_json_number(out, finished(r) ? r->accuracy : NAN);
    if (finished(r)) {
        fprintf(out, ",\"group\":%d,\"ngroups\":%d,\"groups\":", r->group_of[r->client],
                r->ngroups);
        p4_run_report_groups(out, r->group_of, r->clients, r->ngroups);
    } else {
        fprintf(out, ",\"group\":null,\"ngroups\":null,\"groups\":null");
    }
    fprintf(out, ",\"epsilon\":");
    p4_json_number(out, r->epsilon);
    fprintf(out, ",\"epsilon_target\":");
    p4_json_number(out, r->epsilon_target);
    fprintf(out, ",\"delta\":");
    p4_json_number(out, delta);
    fprintf(out, ",\"noise_multiplier\":");
    p4_json_number(out, r->noise_multiplier);
    fprintf(out, ",\"dp_guarantee\":");
    if (finished(r))
        p4_json_string(out, p4_dp_guarantee_name(r->guarantee));
    else
        fputs("null", out);
    fprintf(out, ",\"reproducible\":%s,\"dropped\":%d,\"missing\":%d,\"proxy_reverts\":%d,"
            "\"krum_fallbacks\":%d,\"seconds\":", r->facts.reproducible ? "true" : "false",
            r->dropped, r->missing, r->proxy_reverts, r->krum_fallbacks);
    p4_json_number(out, r->seconds);
    if (r->admission[0]) { /* known in the node's own run, not from node.db */
        fprintf(out, ",\"admission\":");
        p4_json_string(out, r->admission);
        fprintf(out, ",\"refused\":%d", r->refused);
    }
    fprintf(out, ",\"error\":");
    if (r->error[0])
        p4_json_string(out, r->error);
    else
        fputs("null", out);
    fprintf(out, ",\"state\":");
    if (state_dir)
        p4_json_string(out, state_dir);
    else
        fputs("null", out);
    fputs("}\n", out);
}

void p4_node_report_text(FILE *out, const p4_node_record *r, double delta, const char *state_dir)
{
    if (out == NULL || r == NULL)
        return;
    fprintf(out, "node %d of %d, epoch %u: %s (%s, round %d of %d)\n", r->client, r->clients,
            r->epoch, r->status, r->method, r->round_reached, r->rounds);
    if (r->resumed_round >= 0)
        fprintf(out, "resumed from its checkpoint at round %d of %d\n", r->resumed_round + 1,
                r->rounds);
    if (r->error[0])
        fprintf(out, "why: %s\n", r->error);
    if (finished(r)) {
        fprintf(out, "accuracy %.4f on its own test split\n", r->accuracy);
        fprintf(out, "group %d of %d: ", r->group_of[r->client], r->ngroups);
        p4_run_report_groups(out, r->group_of, r->clients, r->ngroups);
        fputc('\n', out);
    }
    if (isinf(r->epsilon_target))
        fprintf(out, "privacy: no DP (epsilon inf)\n");
    else
        fprintf(out, "privacy: epsilon %.3f spent of %.3f at delta %g\n", r->epsilon,
                r->epsilon_target, delta);
    if (finished(r)) {
        fprintf(out, "dp_guarantee %s: %s\n", p4_dp_guarantee_name(r->guarantee),
                p4_dp_guarantee_reason(&r->facts));
        fprintf(out, "messages dropped %d, expected messages missing %d\n", r->dropped,
                r->missing);
        if (r->admission[0])
            fprintf(out, "admission: %s; %d peer(s) refused\n", r->admission, r->refused);
        /* the same events `p4 sim` and `p4 cluster` warn of (run_report.c) */
        if (r->proxy_reverts > 0)
            fprintf(out, "warning: a proxy diverged after averaging peers' proxies in %d "
                    "round(s): reverted to its own\n", r->proxy_reverts);
        if (r->krum_fallbacks > 0)
            fprintf(out, "warning: aggregate = multikrum fell back to the mean in %d round(s) "
                    "(the smallest group had %d members)\n", r->krum_fallbacks,
                    r->krum_smallest);
        fprintf(out, "time %.1f s\n", r->seconds);
    }
    if (state_dir)
        fprintf(out, "state %s\n", state_dir);
}
