/* optee.c: p4_optee over the GP TEE Client API (see optee.h).
 * Built against the harness (P4_TEEC_EMU) or a board's libteec. */
#include "tee/optee/host/optee.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tee_client_api.h>
#ifdef P4_TEEC_EMU
#include <tee_client_emu.h>
#endif

#include "p4_ta.h"

/* GP Internal Core API codes a TA may return that the Client API header
 * does not name. */
#define TA_ERROR_CORRUPT_OBJECT 0xF0100001u
#define TA_ERROR_STORAGE_NOT_AVAILABLE 0xF0100003u
#define TA_ERROR_STORAGE_NO_SPACE 0xFFFF3041u

struct p4_optee {
    TEEC_Context context;
    TEEC_Session session;
    int context_open, session_open;
    double delta, target;
    int ta_memory_mib;
    int reopens;
    int seeded;                  /* SEED_NOISE sent: sent again on a reopen */
    unsigned char seed_key[32];
    uint32_t seed_flags;         /* P4_TA_SPEC_NOISE_CHUNKED or 0 */
    uint64_t seed_position;      /* the seeded stream's position after the last
                                    call that drew noise: a reopen seeds there */
    int layers_loaded, layers_lost;
    p4_ta_layers_spec spec;
    char storage_dir[512];
    char ta_dir[512];
};

static const char *origin_name(uint32_t origin)
{
    switch (origin) {
    case TEEC_ORIGIN_API: return "the client API";
    case TEEC_ORIGIN_COMMS: return "the link to the TEE";
    case TEEC_ORIGIN_TEE: return "the TEE";
    case TEEC_ORIGIN_TRUSTED_APP: return "the TA";
    default: return "an unknown origin";
    }
}

/* A P4 code and message for a failed TEEC call. */
static int teec_error(p4_optee *t, TEEC_Result r, uint32_t origin, const char *what,
                      p4_error *err)
{
    const char *from = origin_name(origin);
    switch (r) {
    case TEEC_ERROR_OUT_OF_MEMORY:
        return p4_error_set(err, P4_ENOMEM, "%s: %s is out of memory (TEEC 0x%08x); the TA "
                            "heap is %d MiB: raise [tee] ta_memory_mib", what, from,
                            (unsigned)r, t->ta_memory_mib);
    case TEEC_ERROR_BAD_PARAMETERS:
    case TEEC_ERROR_SHORT_BUFFER:
        return p4_error_set(err, P4_EINVAL, "%s: %s refused the parameters (TEEC 0x%08x)",
                            what, from, (unsigned)r);
    case TEEC_ERROR_ACCESS_CONFLICT:
    case TEEC_ERROR_BUSY:
        return p4_error_set(err, P4_ESTATE, "%s: another session holds the TA's ledger "
                            "(TEEC 0x%08x from %s); one p4 process per TA at a time",
                            what, (unsigned)r, from);
    case TEEC_ERROR_BAD_STATE:
        return p4_error_set(err, P4_ESTATE, "%s: %s says the session is not ready (TEEC 0x%08x)",
                            what, from, (unsigned)r);
    case TA_ERROR_CORRUPT_OBJECT:
    case TA_ERROR_STORAGE_NOT_AVAILABLE:
    case TA_ERROR_STORAGE_NO_SPACE:
        return p4_error_set(err, P4_ESTATE, "%s: the TA's secure storage failed (0x%08x from "
                            "%s)", what, (unsigned)r, from);
    case TEEC_ERROR_ITEM_NOT_FOUND:
        if (origin != TEEC_ORIGIN_TRUSTED_APP)
            return p4_error_set(err, P4_EUNSUPPORTED, "%s: the TEE has no TA %s (install "
                                "%s.ta; docs/tee.md)", what, P4_TA_UUID_TEXT, P4_TA_UUID_TEXT);
        break;
    case TEEC_ERROR_SECURITY:
        if (origin == TEEC_ORIGIN_TRUSTED_APP) /* ta_logits.c's layers that stay */
            return p4_error_set(err, P4_EUNSUPPORTED, "%s: the TA refuses: its protected "
                                "layers were loaded to stay in the TA (logits mode)", what);
        break;
    default:
        break;
    }
    return p4_error_set(err, P4_EIO, "%s: TEEC 0x%08x from %s", what, (unsigned)r, from);
}

static TEEC_Operation operation(uint32_t types)
{
    TEEC_Operation op;
    memset(&op, 0, sizeof op);
    op.paramTypes = types;
    return op;
}

static void put_double(TEEC_Value *v, double d)
{
    p4_ta_double_value(d, &v->a, &v->b);
}

static double get_double(const TEEC_Value *v)
{
    return p4_ta_value_double(v->a, v->b);
}

/* SEED_NOISE of t's key, layout and starting position (serial from the
 * start in the bare form, which a TA older than the layout knows too). */
static TEEC_Operation seed_operation(p4_optee *t)
{
    const int bare = t->seed_flags == 0 && t->seed_position == 0;
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT,
                                                   bare ? TEEC_NONE : TEEC_VALUE_INPUT,
                                                   bare ? TEEC_NONE : TEEC_VALUE_INPUT, TEEC_NONE));
    op.params[0].tmpref.buffer = t->seed_key;
    op.params[0].tmpref.size = sizeof t->seed_key;
    if (!bare) {
        op.params[1].value.a = t->seed_flags;
        op.params[2].value.a = (uint32_t)t->seed_position;
        op.params[2].value.b = (uint32_t)(t->seed_position >> 32);
    }
    return op;
}

/* Opens a session and the ledger; checks the stored delta and target. */
static int session_start(p4_optee *t, p4_error *err)
{
    TEEC_UUID uuid = P4_TA_UUID;
    uint32_t origin = 0;
    TEEC_Result r = TEEC_OpenSession(&t->context, &t->session, &uuid, TEEC_LOGIN_PUBLIC, NULL,
                                     NULL, &origin);
    if (r != TEEC_SUCCESS)
        return teec_error(t, r, origin, "opening a session with p4's TA", err);
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_VALUE_INPUT,
                                                   TEEC_VALUE_OUTPUT, TEEC_VALUE_OUTPUT));
    put_double(&op.params[0].value, t->delta);
    put_double(&op.params[1].value, t->target);
    r = TEEC_InvokeCommand(&t->session, P4_TA_CMD_OPEN_LEDGER, &op, &origin);
    if (r != TEEC_SUCCESS) {
        TEEC_CloseSession(&t->session);
        return teec_error(t, r, origin, "opening the TA's ledger", err);
    }
    double stored_delta = get_double(&op.params[2].value);
    double stored_target = get_double(&op.params[3].value);
    if (stored_delta != t->delta || stored_target != t->target) {
        TEEC_CloseSession(&t->session);
        return p4_error_set(err, P4_ESTATE, "the TA's ledger was created with delta %g and "
                            "target epsilon %g; the config asks delta %g, target %g (the TA "
                            "keeps what it was created with)", stored_delta, stored_target,
                            t->delta, t->target);
    }
    if (t->seeded) {
        TEEC_Operation seed = seed_operation(t);
        r = TEEC_InvokeCommand(&t->session, P4_TA_CMD_SEED_NOISE, &seed, &origin);
        if (r != TEEC_SUCCESS) {
            TEEC_CloseSession(&t->session);
            return teec_error(t, r, origin, "seeding the TA's noise", err);
        }
    }
    t->session_open = 1;
    return P4_OK;
}

/* Invokes cmd; a dead TA gets its session reopened and an error. */
/* LAYERS_RESUME of t->spec on a fresh session: 1 if resumed, 0 if none
 * stored, -1 on an error. */
static int layers_resume(p4_optee *t)
{
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_VALUE_OUTPUT,
                                                   TEEC_NONE, TEEC_NONE));
    op.params[0].tmpref.buffer = &t->spec;
    op.params[0].tmpref.size = sizeof t->spec;
    uint32_t origin = 0;
    if (TEEC_InvokeCommand(&t->session, P4_TA_CMD_LAYERS_RESUME, &op, &origin) != TEEC_SUCCESS)
        return -1;
    return op.params[1].value.a == 1;
}

static int draws_noise(uint32_t cmd)
{
    return cmd == P4_TA_CMD_ADD_NOISE || cmd == P4_TA_CMD_RELEASE_ROWS ||
           cmd == P4_TA_CMD_LAYERS_STEP || cmd == P4_TA_CMD_LOGITS_RELEASE;
}

/* A seeded session's stream position after a call that drew noise: a TA
 * that dies later is seeded there again on its reopen, rather than at the
 * stream's start (without protected layers nothing else keeps it). */
static void note_position(p4_optee *t)
{
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_VALUE_OUTPUT, TEEC_NONE, TEEC_NONE,
                                                   TEEC_NONE));
    uint32_t origin = 0;
    if (TEEC_InvokeCommand(&t->session, P4_TA_CMD_NOISE_POSITION, &op, &origin) == TEEC_SUCCESS)
        t->seed_position = (uint64_t)op.params[0].value.a | (uint64_t)op.params[0].value.b << 32;
}

static int invoke(p4_optee *t, uint32_t cmd, TEEC_Operation *op, const char *what,
                  TEEC_Result *result, p4_error *err)
{
    *result = TEEC_ERROR_GENERIC;
    if (!t->session_open) {
        int rc = session_start(t, err);
        if (rc != P4_OK)
            return rc;
    }
    uint32_t origin = 0;
    TEEC_Result r = TEEC_InvokeCommand(&t->session, cmd, op, &origin);
    *result = r;
    if (r == TEEC_SUCCESS) {
        if (t->seeded && draws_noise(cmd))
            note_position(t);
        return P4_OK;
    }
    if (r == TEEC_ERROR_TARGET_DEAD) {
        TEEC_CloseSession(&t->session);
        t->session_open = 0;
        p4_error again;
        p4_error_clear(&again);
        int rc = session_start(t, &again);
        if (rc == P4_OK)
            t->reopens++;
        int resumed = 0;
        if (t->layers_loaded) {
            /* The layers as last stored (LAYERS_STORE), if there is a store
             * of exactly these layers; else they are lost. */
            resumed = rc == P4_OK && layers_resume(t) == 1;
            t->layers_loaded = resumed;
            t->layers_lost = !resumed;
        }
        return p4_error_set(err, P4_ESTATE, "%s: the TA died (it panicked or was killed); %s%s%s",
                            what, rc == P4_OK
                                      ? "its session was reopened and the ledger reloaded from "
                                        "secure storage; this call's result is lost (a charge "
                                        "it recorded stands)"
                                      : "reopening failed: ",
                            resumed ? "; the protected layers were resumed as last stored" : "",
                            rc == P4_OK ? "" : again.message);
    }
    if (r == P4_TA_ERROR_BUDGET && origin == TEEC_ORIGIN_TRUSTED_APP)
        return P4_EBUDGET; /* callers word it with the spend */
    return teec_error(t, r, origin, what, err);
}

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src ? src : "");
}

int p4_optee_open(p4_optee **out, const p4_optee_options *opt, p4_error *err)
{
    if (!out || !opt)
        return p4_error_set(err, P4_EINVAL, "p4_optee_open: no output or options");
    *out = NULL;
    if (!(opt->delta > 0 && opt->delta < 1))
        return p4_error_set(err, P4_EINVAL, "optee: delta %g is outside (0, 1)", opt->delta);
    if (!(opt->target_epsilon > 0) || isinf(opt->target_epsilon))
        return p4_error_set(err, P4_EINVAL, "optee: target epsilon %g must be finite and > 0 "
                            "(the TA enforces a budget)", opt->target_epsilon);
    if (opt->ta_memory_mib < 0 || opt->ta_memory_mib > 4096)
        return p4_error_set(err, P4_EINVAL, "optee: ta_memory_mib %d is outside 1..4096",
                            opt->ta_memory_mib);
    p4_optee *t = calloc(1, sizeof *t);
    if (!t)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    t->delta = opt->delta;
    t->target = opt->target_epsilon;
    t->ta_memory_mib = opt->ta_memory_mib ? opt->ta_memory_mib : 10;
    copy_text(t->storage_dir, sizeof t->storage_dir, opt->storage_dir);
    copy_text(t->ta_dir, sizeof t->ta_dir, opt->ta_dir);
    TEEC_Result r = TEEC_InitializeContext(NULL, &t->context);
    if (r != TEEC_SUCCESS) {
        free(t);
        return p4_error_set(err, P4_EUNSUPPORTED, "optee: no TEE (TEEC_InitializeContext "
                            "0x%08x): is OP-TEE's driver loaded and tee-supplicant running?",
                            (unsigned)r);
    }
    t->context_open = 1;
#ifdef P4_TEEC_EMU
    if (!opt->storage_dir || !opt->storage_dir[0]) {
        p4_optee_close(&t);
        return p4_error_set(err, P4_EINVAL, "optee harness: no storage directory given");
    }
    r = p4_teec_emu_configure(&t->context, opt->ta_dir, t->storage_dir,
                              (uint32_t)t->ta_memory_mib);
    if (r != TEEC_SUCCESS) {
        p4_optee_close(&t);
        return p4_error_set(err, P4_EINVAL, "optee harness: bad storage or TA directory "
                            "(too long?)");
    }
#endif
    int rc = session_start(t, err);
    if (rc != P4_OK) {
        p4_optee_close(&t);
        return rc;
    }
    *out = t;
    return P4_OK;
}

void p4_optee_close(p4_optee **t)
{
    if (!t || !*t)
        return;
    if ((*t)->session_open)
        TEEC_CloseSession(&(*t)->session);
    if ((*t)->context_open)
        TEEC_FinalizeContext(&(*t)->context);
    memset((*t)->seed_key, 0, sizeof (*t)->seed_key);
    free(*t);
    *t = NULL;
}

/* The P4_EBUDGET message, with the spend the TA reports. */
static int budget_refused(p4_optee *t, const char *what, p4_error *err)
{
    double spent = NAN;
    p4_error ignored;
    (void)p4_optee_spent(t, &spent, &ignored);
    return p4_error_set(err, P4_EBUDGET, "%s: the TA refuses: spent %.4g of allowed %.4g "
                        "(delta %g)", what, spent, t->target, t->delta);
}

int p4_optee_charge(p4_optee *t, double q, double sigma, long long steps,
                    double *epsilon_after, p4_error *err)
{
    if (!t || !(q >= P4_TA_MIN_Q && q <= 1) ||
        !(sigma >= P4_TA_MIN_SIGMA && sigma <= P4_TA_MAX_SIGMA) || steps < 1)
        return p4_error_set(err, P4_EINVAL, "optee charge: q %g, sigma %g, steps %lld: the TA "
                            "accounts q in [%g, 1], sigma in [%g, %g], steps >= 1", q, sigma,
                            steps, P4_TA_MIN_Q, P4_TA_MIN_SIGMA, P4_TA_MAX_SIGMA);
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_VALUE_INPUT,
                                                   TEEC_VALUE_INPUT, TEEC_VALUE_OUTPUT));
    put_double(&op.params[0].value, q);
    put_double(&op.params[1].value, sigma);
    op.params[2].value.a = (uint32_t)steps;
    op.params[2].value.b = (uint32_t)((unsigned long long)steps >> 32);
    TEEC_Result r;
    int rc = invoke(t, P4_TA_CMD_CHARGE, &op, "optee charge", &r, err);
    if (rc == P4_EBUDGET)
        return budget_refused(t, "optee charge", err);
    if (rc == P4_OK && epsilon_after)
        *epsilon_after = get_double(&op.params[3].value);
    return rc;
}

int p4_optee_add_noise(p4_optee *t, float *values, size_t n, double stddev, p4_error *err)
{
    if (!t || (!values && n) || !(stddev >= 0) || isinf(stddev) ||
        n > TEEC_CONFIG_SHAREDMEM_MAX_SIZE / sizeof(float))
        return p4_error_set(err, P4_EINVAL, "optee add_noise: bad arguments");
    if (n == 0)
        return P4_OK;
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INOUT, TEEC_VALUE_INPUT,
                                                   TEEC_NONE, TEEC_NONE));
    op.params[0].tmpref.buffer = values;
    op.params[0].tmpref.size = n * sizeof(float);
    put_double(&op.params[1].value, stddev);
    TEEC_Result r;
    return invoke(t, P4_TA_CMD_ADD_NOISE, &op, "optee add_noise", &r, err);
}

int p4_optee_release_rows(p4_optee *t, float *rows, int n, int classes, double clip,
                          double sigma, p4_error *err)
{
    if (!t || !rows || n < 1 || classes < 1 || (size_t)n * (size_t)classes > (1u << 24) ||
        !(clip > 0) || isinf(clip) || !(sigma > 0) || isinf(sigma))
        return p4_error_set(err, P4_EINVAL, "optee release: bad arguments (%d rows of %d, "
                            "clip %g, sigma %g)", n, classes, clip, sigma);
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INOUT, TEEC_VALUE_INPUT,
                                                   TEEC_VALUE_INPUT, TEEC_VALUE_INPUT));
    op.params[0].tmpref.buffer = rows;
    op.params[0].tmpref.size = (size_t)n * (size_t)classes * sizeof(float);
    op.params[1].value.a = (uint32_t)n;
    op.params[1].value.b = (uint32_t)classes;
    put_double(&op.params[2].value, clip);
    put_double(&op.params[3].value, sigma);
    TEEC_Result r;
    int rc = invoke(t, P4_TA_CMD_RELEASE_ROWS, &op, "optee release", &r, err);
    if (rc == P4_EBUDGET)
        return budget_refused(t, "optee release", err);
    return rc;
}

int p4_optee_spent(p4_optee *t, double *epsilon, p4_error *err)
{
    if (!t || !epsilon)
        return p4_error_set(err, P4_EINVAL, "optee spent: no handle or output");
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_VALUE_OUTPUT, TEEC_VALUE_OUTPUT,
                                                   TEEC_NONE, TEEC_NONE));
    TEEC_Result r;
    int rc = invoke(t, P4_TA_CMD_SPENT, &op, "optee spent", &r, err);
    if (rc == P4_OK)
        *epsilon = get_double(&op.params[0].value);
    return rc;
}

const char *p4_optee_protection(void)
{
#ifdef P4_TEEC_EMU
    return "OP-TEE TA in p4's GlobalPlatform harness: a separate process, NO hardware "
           "protection (development and tests only)";
#else
    return "OP-TEE TA: the noise key, the noise and the privacy ledger stay in the secure "
           "world; inputs and the normal world's layers are visible to the normal world";
#endif
}

int p4_optee_reopens(const p4_optee *t)
{
    return t ? t->reopens : 0;
}

int p4_optee_test_command(p4_optee *t, uint32_t command, uint64_t arg, p4_error *err)
{
    if (!t)
        return p4_error_set(err, P4_EINVAL, "optee test command: no handle");
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_NONE, TEEC_NONE,
                                                   TEEC_NONE));
    op.params[0].value.a = (uint32_t)arg;
    op.params[0].value.b = (uint32_t)(arg >> 32);
    TEEC_Result r;
    return invoke(t, command, &op, "optee test command", &r, err);
}

int p4_optee_seed_noise(p4_optee *t, const unsigned char key[32], p4_error *err)
{
    return p4_optee_seed_noise_at(t, key, 0, 0, err);
}

int p4_optee_seed_noise_at(p4_optee *t, const unsigned char key[32], int chunked,
                           uint64_t position, p4_error *err)
{
    if (!t || !key)
        return p4_error_set(err, P4_EINVAL, "optee seed: no handle or key");
    if (t->layers_loaded && ((t->spec.flags & P4_TA_SPEC_NOISE_CHUNKED) != 0) != (chunked != 0))
        return p4_error_set(err, P4_ESTATE, "optee seed: the protected layers were loaded for "
                            "the %s noise layout; set the layout before loading them",
                            chunked ? "serial" : "chunked");
    memcpy(t->seed_key, key, sizeof t->seed_key);
    t->seed_flags = chunked ? P4_TA_SPEC_NOISE_CHUNKED : 0;
    t->seed_position = position;
    TEEC_Operation op = seed_operation(t);
    TEEC_Result r;
    int rc = invoke(t, P4_TA_CMD_SEED_NOISE, &op, "optee seed", &r, err);
    if (rc == P4_OK)
        t->seeded = 1;
    else if (r == TEEC_ERROR_NOT_SUPPORTED)
        rc = p4_error_set(err, P4_EUNSUPPORTED, "--reproducible: this TA does not let the normal "
                          "world seed its noise (build it with P4_TA_ALLOW_SEEDED_NOISE=1 for "
                          "research runs; docs/tee.md)");
    else if (r == TEEC_ERROR_BAD_PARAMETERS)
        rc = p4_error_set(err, P4_EUNSUPPORTED, "--reproducible: the TA refused the noise layout "
                          "or stream position (a TA older than them: rebuild and install the "
                          "TA; [dp] noise_layout = serial from the stream's start still works "
                          "with it)");
    return rc;
}

int p4_optee_noise_position(p4_optee *t, uint64_t *position, p4_error *err)
{
    if (!t || !position)
        return p4_error_set(err, P4_EINVAL, "optee noise position: bad arguments");
    if (!t->seeded)
        return p4_error_set(err, P4_ESTATE, "optee noise position: the TA's noise is keyed from "
                            "the TEE's own random source; its position never leaves the TA");
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_VALUE_OUTPUT, TEEC_NONE, TEEC_NONE,
                                                   TEEC_NONE));
    TEEC_Result r;
    int rc = invoke(t, P4_TA_CMD_NOISE_POSITION, &op, "optee noise position", &r, err);
    if (rc == P4_OK)
        *position = (uint64_t)op.params[0].value.a | (uint64_t)op.params[0].value.b << 32;
    return rc;
}

int p4_optee_layers_check(const p4_ta_layers_spec *spec, int ta_memory_mib, p4_error *err)
{
    if (!spec)
        return p4_error_set(err, P4_EINVAL, "optee layers: no spec");
    uint64_t needed = p4_ta_layers_bytes(spec);
    if (needed == 0)
        return p4_error_set(err, P4_EINVAL, "optee layers: the protected layers' shapes are "
                            "malformed (1..%d connected, convolutional or max-pool layers, "
                            "each fed by the one before, with darknet's output sizes)",
                            P4_TA_MAX_LAYERS);
    int mib = ta_memory_mib ? ta_memory_mib : 10;
    uint64_t available = (uint64_t)mib << 20;
    if (needed > available) {
        uint64_t params = 0;
        for (uint32_t j = 0; j < spec->nlayers; j++)
            params += p4_ta_layer_weights(&spec->layer[j]) + p4_ta_layer_biases(&spec->layer[j]);
        return p4_error_set(err, P4_ENOMEM, "the protected layers need %llu bytes of TA memory "
                            "(%llu parameters: weights, gradients and momentum %llu bytes; one "
                            "pass of %u examples' activations and per-example buffers, the "
                            "normal world's %u noised floats and a %u-byte reserve: the rest) "
                            "but the TA has %llu bytes ([tee] ta_memory_mib = %d): raise "
                            "ta_memory_mib, protect fewer layers or use a smaller batch",
                            (unsigned long long)needed, (unsigned long long)params,
                            (unsigned long long)(params * 12), spec->capacity,
                            spec->normal_floats, P4_TA_RESERVE_BYTES,
                            (unsigned long long)available, mib);
    }
    return P4_OK;
}

static int layers_ready(p4_optee *t, const char *what, p4_error *err)
{
    if (t->layers_loaded)
        return P4_OK;
    if (t->layers_lost)
        return p4_error_set(err, P4_ESTATE, "%s: the TA restarted and the protected layers' "
                            "weights were lost with it (they are not persisted); the ledger "
                            "survived; load the layers again", what);
    return p4_error_set(err, P4_ESTATE, "%s: no protected layers loaded", what);
}

int p4_optee_layers_load(p4_optee *t, const p4_ta_layers_spec *spec, const float *params,
                         size_t count, p4_error *err)
{
    if (!t || !spec || !params)
        return p4_error_set(err, P4_EINVAL, "optee layers load: bad arguments");
    int rc = p4_optee_layers_check(spec, t->ta_memory_mib, err);
    if (rc != P4_OK)
        return rc;
    if (t->seeded && (spec->flags & P4_TA_SPEC_NOISE_CHUNKED) != t->seed_flags)
        return p4_error_set(err, P4_ESTATE, "optee layers load: the layers' spec asks the %s "
                            "noise layout, the TA's seeded noise is %s (one [dp] noise_layout "
                            "for both)", spec->flags & P4_TA_SPEC_NOISE_CHUNKED ? "chunked" :
                            "serial", t->seed_flags ? "chunked" : "serial");
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_INPUT,
                                                   TEEC_VALUE_OUTPUT, TEEC_NONE));
    op.params[0].tmpref.buffer = (void *)spec;
    op.params[0].tmpref.size = sizeof *spec;
    op.params[1].tmpref.buffer = (void *)params;
    op.params[1].tmpref.size = count * sizeof(float);
    TEEC_Result r;
    t->layers_loaded = 0;
    rc = invoke(t, P4_TA_CMD_LAYERS_LOAD, &op, "optee layers load", &r, err);
    if (rc != P4_OK)
        return rc;
    t->spec = *spec;
    t->layers_loaded = 1;
    t->layers_lost = 0;
    return P4_OK;
}

int p4_optee_layers_train(p4_optee *t, const float *inputs, int m, const float *targets,
                          float *in_delta, double *loss, p4_error *err)
{
    if (!t || !inputs || !targets || !loss || m < 1)
        return p4_error_set(err, P4_EINVAL, "optee layers train: bad arguments");
    int rc = layers_ready(t, "optee layers train", err);
    if (rc != P4_OK)
        return rc;
    if ((uint32_t)m > t->spec.capacity)
        return p4_error_set(err, P4_EINVAL, "optee layers train: %d examples, the layers were "
                            "loaded for passes of %u", m, t->spec.capacity);
    size_t in0 = t->spec.layer[0].inputs, classes = t->spec.layer[t->spec.nlayers - 1].outputs;
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_INPUT,
                                                   in_delta ? TEEC_MEMREF_TEMP_OUTPUT : TEEC_NONE,
                                                   TEEC_VALUE_OUTPUT));
    op.params[0].tmpref.buffer = (void *)inputs;
    op.params[0].tmpref.size = (size_t)m * in0 * sizeof(float);
    op.params[1].tmpref.buffer = (void *)targets;
    op.params[1].tmpref.size = (size_t)m * classes * sizeof(float);
    if (in_delta) {
        op.params[2].tmpref.buffer = in_delta;
        op.params[2].tmpref.size = (size_t)m * in0 * sizeof(float);
    }
    TEEC_Result r;
    rc = invoke(t, P4_TA_CMD_LAYERS_TRAIN, &op, "optee layers train", &r, err);
    if (rc == P4_OK)
        *loss = get_double(&op.params[3].value);
    return rc;
}

int p4_optee_layers_clip(p4_optee *t, const double *normal_norms_sq, int m, double clip,
                         float *factor, p4_error *err)
{
    if (!t || !normal_norms_sq || !factor || m < 1 || !(clip > 0))
        return p4_error_set(err, P4_EINVAL, "optee layers clip: bad arguments");
    int rc = layers_ready(t, "optee layers clip", err);
    if (rc != P4_OK)
        return rc;
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_OUTPUT,
                                                   TEEC_VALUE_INPUT, TEEC_NONE));
    op.params[0].tmpref.buffer = (void *)normal_norms_sq;
    op.params[0].tmpref.size = (size_t)m * sizeof(double);
    op.params[1].tmpref.buffer = factor;
    op.params[1].tmpref.size = (size_t)m * sizeof(float);
    put_double(&op.params[2].value, clip);
    TEEC_Result r;
    rc = invoke(t, P4_TA_CMD_LAYERS_CLIP, &op, "optee layers clip", &r, err);
    if (rc != P4_OK && r == TEEC_ERROR_BAD_PARAMETERS)
        return p4_error_set(err, P4_EDIVERGED, "optee layers clip: the TA refused the norms (a "
                            "per-example gradient norm is not finite: diverged?); no update is "
                            "released");
    return rc;
}

int p4_optee_layers_step(p4_optee *t, const p4_ta_step_args *args, float *sums, size_t count,
                         double *epsilon_after, p4_error *err)
{
    if (!t || !args || (!sums && count))
        return p4_error_set(err, P4_EINVAL, "optee layers step: bad arguments");
    int rc = layers_ready(t, "optee layers step", err);
    if (rc != P4_OK)
        return rc;
    if (count != t->spec.normal_floats)
        return p4_error_set(err, P4_EINVAL, "optee layers step: %zu normal-world floats, the "
                            "layers were loaded for %u", count, t->spec.normal_floats);
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(count ? TEEC_MEMREF_TEMP_INOUT : TEEC_NONE,
                                                   TEEC_MEMREF_TEMP_INPUT, TEEC_VALUE_OUTPUT,
                                                   TEEC_NONE));
    if (count) {
        op.params[0].tmpref.buffer = sums;
        op.params[0].tmpref.size = count * sizeof(float);
    }
    op.params[1].tmpref.buffer = (void *)args;
    op.params[1].tmpref.size = sizeof *args;
    TEEC_Result r;
    rc = invoke(t, P4_TA_CMD_LAYERS_STEP, &op, "optee layers step", &r, err);
    if (rc == P4_EBUDGET)
        return budget_refused(t, "optee layers step", err);
    if (rc == P4_OK && epsilon_after)
        *epsilon_after = get_double(&op.params[2].value);
    return rc;
}

int p4_optee_layers_top1(p4_optee *t, const float *inputs, int n, int *labels, p4_error *err)
{
    if (!t || !inputs || !labels || n < 0)
        return p4_error_set(err, P4_EINVAL, "optee layers top1: bad arguments");
    int rc = layers_ready(t, "optee layers top1", err);
    if (rc != P4_OK)
        return rc;
    size_t in0 = t->spec.layer[0].inputs;
    int32_t out[256];
    for (int first = 0; first < n;) {
        int m = n - first;
        if ((uint32_t)m > t->spec.capacity)
            m = (int)t->spec.capacity;
        if (m > 256)
            m = 256;
        TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT,
                                                       TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE,
                                                       TEEC_NONE));
        op.params[0].tmpref.buffer = (void *)(inputs + (size_t)first * in0);
        op.params[0].tmpref.size = (size_t)m * in0 * sizeof(float);
        op.params[1].tmpref.buffer = out;
        op.params[1].tmpref.size = (size_t)m * sizeof(int32_t);
        TEEC_Result r;
        rc = invoke(t, P4_TA_CMD_LAYERS_TOP1, &op, "optee layers top1", &r, err);
        if (rc != P4_OK)
            return rc;
        for (int i = 0; i < m; i++)
            labels[first + i] = out[i];
        first += m;
    }
    return P4_OK;
}

void p4_optee_traffic(const p4_optee *t, uint64_t *bytes_in, uint64_t *bytes_out)
{
    if (bytes_in)
        *bytes_in = 0;
    if (bytes_out)
        *bytes_out = 0;
#ifdef P4_TEEC_EMU
    if (t)
        p4_teec_emu_traffic(&t->context, bytes_in, bytes_out);
#else
    (void)t;
#endif
}

/* ---- a P4 proxy's distillation and weights exchange (ta_kd*.c) --------------- */

static size_t spec_params(const p4_ta_layers_spec *s)
{
    size_t n = 0;
    for (uint32_t j = 0; j < s->nlayers; j++)
        n += (size_t)(p4_ta_layer_weights(&s->layer[j]) + p4_ta_layer_biases(&s->layer[j]));
    return n;
}

int p4_optee_layers_kd_train(p4_optee *t, const float *inputs, int m, const float *onehot,
                             const float *teacher, double alpha, double temperature,
                             float *in_delta, double *loss, p4_error *err)
{
    if (!t || !inputs || !onehot || !teacher || !loss || m < 1 || !(alpha >= 0 && alpha <= 1) ||
        !(temperature > 0) || !isfinite(temperature))
        return p4_error_set(err, P4_EINVAL, "optee distillation: bad arguments");
    int rc = layers_ready(t, "optee distillation", err);
    if (rc != P4_OK)
        return rc;
    if ((uint32_t)m > t->spec.capacity)
        return p4_error_set(err, P4_EINVAL, "optee distillation: %d examples, the layers were "
                            "loaded for passes of %u", m, t->spec.capacity);
    size_t in0 = t->spec.layer[0].inputs, classes = t->spec.layer[t->spec.nlayers - 1].outputs;
    size_t block = (size_t)m * classes * sizeof(float);
    p4_ta_kd_args args = { alpha, temperature };
    unsigned char *p1 = malloc(sizeof args + 2 * block);
    if (!p1)
        return p4_error_set(err, P4_ENOMEM, "optee distillation: out of memory");
    memcpy(p1, &args, sizeof args);
    memcpy(p1 + sizeof args, onehot, block);
    memcpy(p1 + sizeof args + block, teacher, block);
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_INPUT,
                                                   in_delta ? TEEC_MEMREF_TEMP_OUTPUT : TEEC_NONE,
                                                   TEEC_VALUE_OUTPUT));
    op.params[0].tmpref.buffer = (void *)inputs;
    op.params[0].tmpref.size = (size_t)m * in0 * sizeof(float);
    op.params[1].tmpref.buffer = p1;
    op.params[1].tmpref.size = sizeof args + 2 * block;
    if (in_delta) {
        op.params[2].tmpref.buffer = in_delta;
        op.params[2].tmpref.size = (size_t)m * in0 * sizeof(float);
    }
    TEEC_Result r;
    rc = invoke(t, P4_TA_CMD_KD_TRAIN, &op, "optee distillation", &r, err);
    free(p1);
    if (rc == P4_OK)
        *loss = get_double(&op.params[3].value);
    return rc;
}

int p4_optee_layers_kd_teach(p4_optee *t, const float *inputs, int n, double temperature,
                             float *probs, p4_error *err)
{
    if (!t || !inputs || !probs || n < 0 || !(temperature > 0) || !isfinite(temperature))
        return p4_error_set(err, P4_EINVAL, "optee teaching probabilities: bad arguments");
    int rc = layers_ready(t, "optee teaching probabilities", err);
    if (rc != P4_OK)
        return rc;
    size_t in0 = t->spec.layer[0].inputs, classes = t->spec.layer[t->spec.nlayers - 1].outputs;
    for (int first = 0; first < n;) {
        int m = n - first;
        if ((uint32_t)m > t->spec.capacity)
            m = (int)t->spec.capacity;
        TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT,
                                                       TEEC_MEMREF_TEMP_OUTPUT, TEEC_VALUE_INPUT,
                                                       TEEC_NONE));
        op.params[0].tmpref.buffer = (void *)(inputs + (size_t)first * in0);
        op.params[0].tmpref.size = (size_t)m * in0 * sizeof(float);
        op.params[1].tmpref.buffer = probs + (size_t)first * classes;
        op.params[1].tmpref.size = (size_t)m * classes * sizeof(float);
        put_double(&op.params[2].value, temperature);
        TEEC_Result r;
        if ((rc = invoke(t, P4_TA_CMD_KD_TEACH, &op, "optee teaching probabilities", &r, err)) !=
            P4_OK)
            return rc;
        first += m;
    }
    return P4_OK;
}

int p4_optee_layers_export(p4_optee *t, float *params, size_t count, p4_error *err)
{
    if (!t || !params)
        return p4_error_set(err, P4_EINVAL, "optee layers export: bad arguments");
    int rc = layers_ready(t, "optee layers export", err);
    if (rc != P4_OK)
        return rc;
    if (count != spec_params(&t->spec))
        return p4_error_set(err, P4_EINVAL, "optee layers export: room for %zu floats, the "
                            "layers hold %zu", count, spec_params(&t->spec));
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_OUTPUT, TEEC_NONE, TEEC_NONE,
                                                   TEEC_NONE));
    op.params[0].tmpref.buffer = params;
    op.params[0].tmpref.size = count * sizeof(float);
    TEEC_Result r;
    return invoke(t, P4_TA_CMD_LAYERS_EXPORT, &op, "optee layers export", &r, err);
}

int p4_optee_layers_import(p4_optee *t, const float *params, size_t count, p4_error *err)
{
    if (!t || !params)
        return p4_error_set(err, P4_EINVAL, "optee layers import: bad arguments");
    int rc = layers_ready(t, "optee layers import", err);
    if (rc != P4_OK)
        return rc;
    if (count != spec_params(&t->spec))
        return p4_error_set(err, P4_EINVAL, "optee layers import: %zu floats, the layers hold "
                            "%zu", count, spec_params(&t->spec));
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_NONE, TEEC_NONE,
                                                   TEEC_NONE));
    op.params[0].tmpref.buffer = (void *)params;
    op.params[0].tmpref.size = count * sizeof(float);
    TEEC_Result r;
    return invoke(t, P4_TA_CMD_LAYERS_IMPORT, &op, "optee layers import", &r, err);
}

int p4_optee_layers_held(const p4_optee *t, const p4_ta_layers_spec *spec)
{
    return t && spec && t->layers_loaded && memcmp(&t->spec, spec, sizeof *spec) == 0;
}

int p4_optee_layers_store(p4_optee *t, p4_error *err)
{
    if (!t)
        return p4_error_set(err, P4_EINVAL, "optee layers store: no handle");
    int rc = layers_ready(t, "optee layers store", err);
    if (rc != P4_OK)
        return rc;
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_NONE, TEEC_NONE, TEEC_NONE, TEEC_NONE));
    TEEC_Result r;
    return invoke(t, P4_TA_CMD_LAYERS_STORE, &op, "optee layers store", &r, err);
}

/* ---- the node's round checkpoint (ta_store.c's snapshots) ------------------- */

static int round_ok(int round)
{
    return round >= 0 && (unsigned)round <= P4_TA_MAX_ROUND;
}

int p4_optee_layers_snapshot(p4_optee *t, int round, p4_error *err)
{
    if (!t || !round_ok(round))
        return p4_error_set(err, P4_EINVAL, "optee layers snapshot: no handle, or round %d "
                            "outside 0..%u", round, P4_TA_MAX_ROUND);
    int rc = layers_ready(t, "optee layers snapshot", err);
    if (rc != P4_OK)
        return rc;
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_NONE, TEEC_NONE,
                                                   TEEC_NONE));
    op.params[0].value.a = (uint32_t)round;
    TEEC_Result r;
    return invoke(t, P4_TA_CMD_LAYERS_SNAPSHOT, &op, "optee layers snapshot", &r, err);
}

/* "round 4", "no round" for a snapshot slot. */
static void slot_text(uint32_t round, char *out, size_t size)
{
    if (round == P4_TA_NO_ROUND)
        snprintf(out, size, "nothing");
    else
        snprintf(out, size, "round %u", (unsigned)round);
}

int p4_optee_layers_restore(p4_optee *t, int round, int *noise_back, p4_error *err)
{
    if (!t || !round_ok(round))
        return p4_error_set(err, P4_EINVAL, "optee layers restore: no handle, or round %d "
                            "outside 0..%u", round, P4_TA_MAX_ROUND);
    if (noise_back)
        *noise_back = 0;
    int rc = layers_ready(t, "optee layers restore", err);
    if (rc != P4_OK)
        return rc;
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_VALUE_INPUT,
                                                   TEEC_VALUE_OUTPUT, TEEC_VALUE_OUTPUT));
    op.params[0].tmpref.buffer = &t->spec;
    op.params[0].tmpref.size = sizeof t->spec;
    op.params[1].value.a = (uint32_t)round;
    TEEC_Result r;
    rc = invoke(t, P4_TA_CMD_LAYERS_RESTORE, &op, "optee layers restore", &r, err);
    if (rc != P4_OK) {
        /* A snapshot that failed half-read took the loaded layers with it. */
        if (r != TEEC_ERROR_BAD_PARAMETERS && r != TEEC_ERROR_TARGET_DEAD) {
            t->layers_loaded = 0;
            t->layers_lost = 1;
        }
        if (r == TA_ERROR_CORRUPT_OBJECT)
            return p4_error_set(err, P4_ESTATE, "optee layers restore: the TA's snapshot of "
                                "round %d does not hold together (cut short or altered in the "
                                "normal world's storage); the protected layers were lost with "
                                "it: start the run afresh", round);
        return rc;
    }
    if (op.params[2].value.a != 1) {
        char even[32], odd[32];
        slot_text(op.params[3].value.a, even, sizeof even);
        slot_text(op.params[3].value.b, odd, sizeof odd);
        return p4_error_set(err, P4_ESTATE, "optee layers restore: the TA holds no snapshot of "
                            "round %d of these protected layers (its slots hold %s and %s, or "
                            "another model's): its secure storage is not this checkpoint's "
                            "(wiped, or another run's); the layers stay as loaded, and the "
                            "checkpoint cannot be resumed: start the run afresh", round, even,
                            odd);
    }
    if (noise_back)
        *noise_back = op.params[2].value.b == 1;
    return P4_OK;
}

/* ---- logits mode with protected layers (ta_logits.c) ------------------------ */

int p4_optee_layers_release_logits(p4_optee *t, const float *inputs, int n, double clip,
                                   double sigma, float *rows, p4_error *err)
{
    if (!t || !inputs || !rows || n < 1 || !(clip > 0) || isinf(clip) || !(sigma > 0) ||
        isinf(sigma))
        return p4_error_set(err, P4_EINVAL, "optee logits release: bad arguments (%d rows, "
                            "clip %g, sigma %g)", n, clip, sigma);
    int rc = layers_ready(t, "optee logits release", err);
    if (rc != P4_OK)
        return rc;
    size_t in0 = t->spec.layer[0].inputs, classes = t->spec.layer[t->spec.nlayers - 1].outputs;
    if ((size_t)n * in0 > TEEC_CONFIG_SHAREDMEM_MAX_SIZE / sizeof(float) ||
        (size_t)n * classes > (1u << 24))
        return p4_error_set(err, P4_EINVAL, "optee logits release: %d public examples are "
                            "more than one command carries", n);
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT,
                                                   TEEC_MEMREF_TEMP_OUTPUT, TEEC_VALUE_INPUT,
                                                   TEEC_VALUE_INPUT));
    op.params[0].tmpref.buffer = (void *)inputs;
    op.params[0].tmpref.size = (size_t)n * in0 * sizeof(float);
    op.params[1].tmpref.buffer = rows;
    op.params[1].tmpref.size = (size_t)n * classes * sizeof(float);
    put_double(&op.params[2].value, clip);
    put_double(&op.params[3].value, sigma);
    TEEC_Result r;
    rc = invoke(t, P4_TA_CMD_LOGITS_RELEASE, &op, "optee logits release", &r, err);
    if (rc == P4_EBUDGET)
        return budget_refused(t, "optee logits release", err);
    return rc;
}

int p4_optee_layers_public_step(p4_optee *t, const p4_ta_public_step_args *args, p4_error *err)
{
    if (!t || !args)
        return p4_error_set(err, P4_EINVAL, "optee public step: bad arguments");
    int rc = layers_ready(t, "optee public step", err);
    if (rc != P4_OK)
        return rc;
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_NONE, TEEC_NONE,
                                                   TEEC_NONE));
    op.params[0].tmpref.buffer = (void *)args;
    op.params[0].tmpref.size = sizeof *args;
    TEEC_Result r;
    return invoke(t, P4_TA_CMD_PUBLIC_STEP, &op, "optee public step", &r, err);
}

/* ---- a range ending below the softmax (ta_layers.c's FORWARD, BACKWARD) ---- */

int p4_optee_layers_forward(p4_optee *t, const float *inputs, int m, int train, float *outputs,
                            p4_error *err)
{
    if (!t || !inputs || !outputs || m < 1)
        return p4_error_set(err, P4_EINVAL, "optee layers forward: bad arguments");
    int rc = layers_ready(t, "optee layers forward", err);
    if (rc != P4_OK)
        return rc;
    if ((uint32_t)m > t->spec.capacity)
        return p4_error_set(err, P4_EINVAL, "optee layers forward: %d examples, the layers "
                            "were loaded for passes of %u", m, t->spec.capacity);
    size_t in0 = t->spec.layer[0].inputs, out = t->spec.layer[t->spec.nlayers - 1].outputs;
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_OUTPUT,
                                                   TEEC_VALUE_INPUT, TEEC_NONE));
    op.params[0].tmpref.buffer = (void *)inputs;
    op.params[0].tmpref.size = (size_t)m * in0 * sizeof(float);
    op.params[1].tmpref.buffer = outputs;
    op.params[1].tmpref.size = (size_t)m * out * sizeof(float);
    op.params[2].value.a = train ? 1 : 0;
    TEEC_Result r;
    return invoke(t, P4_TA_CMD_LAYERS_FORWARD, &op, "optee layers forward", &r, err);
}

int p4_optee_layers_backward(p4_optee *t, const float *out_delta, int m, float *in_delta,
                             p4_error *err)
{
    if (!t || !out_delta || m < 1)
        return p4_error_set(err, P4_EINVAL, "optee layers backward: bad arguments");
    int rc = layers_ready(t, "optee layers backward", err);
    if (rc != P4_OK)
        return rc;
    if ((uint32_t)m > t->spec.capacity)
        return p4_error_set(err, P4_EINVAL, "optee layers backward: %d examples, the layers "
                            "were loaded for passes of %u", m, t->spec.capacity);
    size_t in0 = t->spec.layer[0].inputs, out = t->spec.layer[t->spec.nlayers - 1].outputs;
    TEEC_Operation op = operation(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT,
                                                   in_delta ? TEEC_MEMREF_TEMP_OUTPUT : TEEC_NONE,
                                                   TEEC_NONE, TEEC_NONE));
    op.params[0].tmpref.buffer = (void *)out_delta;
    op.params[0].tmpref.size = (size_t)m * out * sizeof(float);
    if (in_delta) {
        op.params[1].tmpref.buffer = in_delta;
        op.params[1].tmpref.size = (size_t)m * in0 * sizeof(float);
    }
    TEEC_Result r;
    return invoke(t, P4_TA_CMD_LAYERS_BACKWARD, &op, "optee layers backward", &r, err);
}
