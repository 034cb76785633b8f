/* ta_ledger.c: the privacy ledger inside the TA.
 *
 * The spend is a list of phases (q, sigma, steps), one per distinct
 * (q, sigma), kept in TEE_STORAGE_PRIVATE.  Epsilon is recomputed from the
 * stored phases by dp/rdp_core.c (the normal world's accountant, here on
 * p4's freestanding math), never taken from the normal world.  A charge is
 * written to storage before the command returns; a step that would pass
 * the target fixed at creation is refused, whatever the normal world asks.
 * As dp/ledger.c: it may over-count a step recorded but never used; it
 * never under-counts. */
#include "ta_session.h"
#include "dp/rdp_freestanding.h"

#define LEDGER_MAGIC 0x4C345450u /* "PT4L" */
#define LEDGER_VERSION 1u
#define MAX_STEPS (1LL << 40)

static const char ledger_id[] = "p4-privacy-ledger";

static double epsilon_of(const p4_ta_session *s, const p4_ta_ledger_record *rec)
{
    if (rec->nphases == 0)
        return 0.0;
    return p4_rdp_core_epsilon(p4_rdp_math_freestanding(), rec->phases, (int)rec->nphases,
                               rec->delta, s->orders, s->norders, NULL);
}

static int mechanism_valid(double q, double sigma)
{
    return q >= P4_TA_MIN_Q && q <= 1 && sigma >= P4_TA_MIN_SIGMA && sigma <= P4_TA_MAX_SIGMA;
}

/* A stored record the TA itself wrote, unless storage is corrupt. */
static int record_valid(const p4_ta_ledger_record *r)
{
    if (r->magic != LEDGER_MAGIC || r->version != LEDGER_VERSION ||
        r->nphases > P4_TA_LEDGER_MAX_PHASES || !(r->delta > 0 && r->delta < 1) ||
        !(r->target > 0) || !p4_ta_finite(r->target))
        return 0;
    for (uint32_t i = 0; i < r->nphases; i++) {
        const p4_dp_phase *p = &r->phases[i];
        if (!mechanism_valid(p->sample_rate, p->noise_multiplier) || p->steps < 1 ||
            p->steps > MAX_STEPS)
            return 0;
    }
    return 1;
}

static TEE_Result write_record(p4_ta_session *s, const p4_ta_ledger_record *rec)
{
    TEE_Result r = TEE_SeekObjectData(s->ledger_object, 0, TEE_DATA_SEEK_SET);
    if (r == TEE_SUCCESS)
        r = TEE_WriteObjectData(s->ledger_object, rec, sizeof *rec);
    return r;
}

TEE_Result p4_ta_ledger_open(p4_ta_session *s, double delta, double target)
{
    if (s->ledger_open)
        return TEE_ERROR_BAD_STATE;
    if (!(delta > 0 && delta < 1) || !(target > 0) || !p4_ta_finite(target))
        return TEE_ERROR_BAD_PARAMETERS;
    s->norders = p4_rdp_default_orders(s->orders, P4_RDP_MAX_ORDERS);
    const uint32_t flags = TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE;
    TEE_ObjectHandle obj = TEE_HANDLE_NULL;
    TEE_Result r = TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, ledger_id, sizeof ledger_id - 1,
                                            flags, &obj);
    if (r == TEE_ERROR_ITEM_NOT_FOUND) {
        p4_ta_ledger_record *fresh = &s->ledger;
        TEE_MemFill(fresh, 0, sizeof *fresh);
        fresh->magic = LEDGER_MAGIC;
        fresh->version = LEDGER_VERSION;
        fresh->delta = delta;
        fresh->target = target;
        r = TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, ledger_id, sizeof ledger_id - 1,
                                       flags, TEE_HANDLE_NULL, fresh, sizeof *fresh, &obj);
        if (r != TEE_SUCCESS)
            return r;
    } else if (r == TEE_SUCCESS) {
        size_t got = 0;
        r = TEE_ReadObjectData(obj, &s->ledger, sizeof s->ledger, &got);
        if (r == TEE_SUCCESS && (got != sizeof s->ledger || !record_valid(&s->ledger)))
            r = TEE_ERROR_CORRUPT_OBJECT;
        if (r != TEE_SUCCESS) {
            TEE_CloseObject(obj);
            return r;
        }
    } else {
        return r;
    }
    s->ledger_object = obj;
    s->ledger_open = 1;
    return TEE_SUCCESS;
}

TEE_Result p4_ta_ledger_charge(p4_ta_session *s, double q, double sigma, long long steps,
                               double *epsilon_after)
{
    if (!s->ledger_open)
        return TEE_ERROR_BAD_STATE;
    if (!mechanism_valid(q, sigma) || steps < 1 || steps > MAX_STEPS)
        return TEE_ERROR_BAD_PARAMETERS;
    p4_ta_ledger_record next = s->ledger;
    uint32_t i = 0;
    while (i < next.nphases && !(next.phases[i].sample_rate == q &&
                                 next.phases[i].noise_multiplier == sigma))
        i++;
    if (i == next.nphases) {
        if (next.nphases == P4_TA_LEDGER_MAX_PHASES)
            return TEE_ERROR_STORAGE_NO_SPACE;
        next.phases[i].sample_rate = q;
        next.phases[i].noise_multiplier = sigma;
        next.phases[i].steps = 0;
        next.nphases++;
    }
    if (next.phases[i].steps > MAX_STEPS - steps)
        return TEE_ERROR_OVERFLOW;
    next.phases[i].steps += steps;
    double after = epsilon_of(s, &next);
    if (!(after <= next.target))
        return P4_TA_ERROR_BUDGET;
    TEE_Result r = write_record(s, &next);
    if (r != TEE_SUCCESS)
        return r;
    s->ledger = next;
    *epsilon_after = after;
    return TEE_SUCCESS;
}

double p4_ta_ledger_spent(const p4_ta_session *s)
{
    return epsilon_of(s, &s->ledger);
}

void p4_ta_ledger_close(p4_ta_session *s)
{
    if (s->ledger_open)
        TEE_CloseObject(s->ledger_object);
    s->ledger_object = TEE_HANDLE_NULL;
    s->ledger_open = 0;
}
