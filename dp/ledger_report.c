/* ledger_report.c: what `p4 budget` prints about a ledger, as a table or
 * as one JSON object; both read everything from the file now. */
#include "dp/ledger.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/json.h"

/* Everything a report shows, read once. */
typedef struct {
    p4_ledger_row *rows;
    double *row_epsilon; /* each row's epsilon alone */
    int nrows;
    double spent;
    long long steps;
    int runs;            /* live reservations */
    double reserved;     /* spend if they all record what they reserved */
} ledger_summary;

static void summary_free(ledger_summary *s)
{
    free(s->rows);
    free(s->row_epsilon);
}

/* The spend and steps come from the rows of one SELECT, so a report is
 * consistent even while another process records. */
static int summary_read(p4_ledger *l, ledger_summary *s, p4_error *err)
{
    *s = (ledger_summary){ 0 };
    int rc, room = 64;
    for (;;) {
        free(s->rows);
        if (!(s->rows = malloc((size_t)room * sizeof *s->rows)))
            return p4_error_set(err, P4_ENOMEM, "ledger report: out of memory");
        rc = p4_ledger_rows(l, s->rows, room, &s->nrows, err);
        if (rc != P4_EINVAL || s->nrows <= room) break;
        room = s->nrows + 64; /* rows were added meanwhile: read again */
    }
    p4_dp_phase *phases = NULL;
    if (rc == P4_OK && (!(s->row_epsilon = malloc((size_t)(s->nrows + 1) * sizeof(double))) ||
                        !(phases = malloc((size_t)(s->nrows + 1) * sizeof *phases))))
        rc = p4_error_set(err, P4_ENOMEM, "ledger report: out of memory");
    for (int k = 0; rc == P4_OK && k < s->nrows; k++) {
        phases[k] = (p4_dp_phase){ s->rows[k].sample_rate, s->rows[k].noise_multiplier, s->rows[k].steps };
        s->steps += s->rows[k].steps;
        rc = p4_rdp_epsilon(&phases[k], 1, p4_ledger_delta(l), NULL, 0, &s->row_epsilon[k], NULL, err);
    }
    if (rc == P4_OK && s->nrows > 0)
        rc = p4_rdp_epsilon(phases, s->nrows, p4_ledger_delta(l), NULL, 0, &s->spent, NULL, err);
    free(phases);
    if (rc == P4_OK) rc = p4_ledger_reserved(l, &s->runs, &s->reserved, err);
    if (rc != P4_OK) summary_free(s);
    return rc;
}

static double remaining(double allowed, double spent)
{
    return allowed - spent > 0 ? allowed - spent : 0.0;
}

int p4_ledger_report(p4_ledger *ledger, void *stream, p4_error *err)
{
    FILE *out = stream;
    if (!ledger || !out) return p4_error_set(err, P4_EINVAL, "ledger report: bad arguments");
    ledger_summary s;
    int rc = summary_read(ledger, &s, err);
    if (rc) return rc;
    fprintf(out, "%-10s %-10s %10s %10s %10s %12s\n", "phase", "model", "q", "sigma", "steps", "eps_alone");
    for (int k = 0; k < s.nrows; k++) {
        const p4_ledger_row *r = &s.rows[k];
        fprintf(out, "%-10.10s %-10.10s %10.6g %10.4f %10lld %12.4f\n", r->phase, r->model,
                r->sample_rate, r->noise_multiplier, r->steps, s.row_epsilon[k]);
    }
    fprintf(out, "%-10s %-10s %10s %10s %10lld %12.4f\n", "total", "", "", "", s.steps, s.spent);
    double allowed = p4_ledger_target(ledger);
    if (isinf(allowed))
        fprintf(out, "delta %g, no epsilon limit\n", p4_ledger_delta(ledger));
    else
        fprintf(out, "delta %g, allowed epsilon %.4f, remaining %.4f\n", p4_ledger_delta(ledger),
                allowed, remaining(allowed, s.spent));
    if (s.runs > 0)
        fprintf(out, "%d run%s in progress reserved steps up to epsilon %.4f\n", s.runs,
                s.runs == 1 ? "" : "s", s.reserved);
    summary_free(&s);
    return P4_OK;
}

int p4_ledger_report_json(p4_ledger *ledger, void *stream, p4_error *err)
{
    FILE *out = stream;
    if (!ledger || !out) return p4_error_set(err, P4_EINVAL, "ledger report: bad arguments");
    ledger_summary s;
    int rc = summary_read(ledger, &s, err);
    if (rc) return rc;
    double allowed = p4_ledger_target(ledger); /* infinite: null, no limit */
    fputs("{\"epsilon\":", out);
    p4_json_number(out, s.spent);
    fputs(",\"allowed\":", out);
    p4_json_number(out, allowed);
    fputs(",\"remaining\":", out);
    p4_json_number(out, isinf(allowed) ? allowed : remaining(allowed, s.spent));
    fputs(",\"delta\":", out);
    p4_json_number(out, p4_ledger_delta(ledger));
    fprintf(out, ",\"steps\":%lld,\"reserved\":{\"runs\":%d,\"epsilon\":", s.steps, s.runs);
    p4_json_number(out, s.reserved);
    fputs("},\"phases\":[", out);
    for (int k = 0; k < s.nrows; k++) {
        const p4_ledger_row *r = &s.rows[k];
        fputs(k ? ",{\"phase\":" : "{\"phase\":", out);
        p4_json_string(out, r->phase);
        fputs(",\"model\":", out);
        p4_json_string(out, r->model);
        fputs(",\"sample_rate\":", out);
        p4_json_number(out, r->sample_rate);
        fputs(",\"noise_multiplier\":", out);
        p4_json_number(out, r->noise_multiplier);
        fprintf(out, ",\"steps\":%lld,\"blocks\":%lld,\"epsilon_alone\":", r->steps, r->blocks);
        p4_json_number(out, s.row_epsilon[k]);
        fputc('}', out);
    }
    fputs("]}\n", out);
    summary_free(&s);
    return P4_OK;
}
