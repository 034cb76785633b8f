/* protocol.c: the P4 round protocol for one peer; see protocol.h. */
#include "cluster/protocol.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/group_widen.h"
#include "cluster/grouping.h"
#include "cluster/proxy_share.h"
#include "cluster/receiver.h"
#include "cluster/replay_guard.h"
#include "cluster/sender.h"
#include "cluster/similarity.h"
#include "cluster/slice_board.h"
#include "cluster/slice_commit.h"
#include "cluster/slice_guard.h"
#include "cluster/wire.h"
#include "common/finite.h"
#include "common/progress.h"
#include "distill/aggregate.h"
#include "distill/kd_loss.h"

/* Protocol steps, in order.  On the wire, COMMIT, ECHO, SLICE, DIGEST and
 * VIEW carry round -1 and PROXY and LOGITS their round; the step follows
 * from (type, round).  COMMIT and ECHO are sent only with [p4]
 * grouping_commit; VIEW only to a peer whose grouping digest differed. */
enum { STEP_COMMIT = -2, STEP_ECHO = -1, STEP_SLICE = 0, STEP_DIGEST = 1, STEP_VIEW = 2,
       STEP_ROUND0 = 3 };

static int carries_digest(int type)
{
    return type == P4_WIRE_DIGEST || type == P4_WIRE_COMMIT || type == P4_WIRE_ECHO;
}

/* Internal return: the run was asked to stop (spec->stop); not an error. */
#define STOPPED 1

/* How often a wait looks at the stop flag and at silent peers. */
#define CHECK_SECONDS 0.2

/* A round message taken off the wire: its vector (owned) or digest. */
typedef struct held {
    struct held *next;
    int type, sender, step;
    float *values;
    size_t count;
    uint32_t rows, cols;         /* LOGITS */
    uint32_t *groups;            /* VIEW: count entries */
    uint8_t digest[P4_WIRE_KEY_BYTES];
} held;

typedef struct p4_protocol_link run;
struct p4_protocol_link {
    const p4_protocol_spec *spec;
    p4_protocol_result *res;
    int self, n;
    size_t proxy_size;
    size_t wire_size;            /* the proxy's floats that go on the wire     */
    float *wire;                 /* them, packed; NULL when that is all of it  */
    p4_sender *sender;           /* stamps epoch and sequence, encodes, sends */
    p4_receiver receiver;        /* decodes, authenticates, guards replays    */
    held *stash;                 /* messages for later steps                  */
    unsigned char *waiting_for;  /* collect's own copy of whom it waits for   */
    int hold_unwanted;           /* a lying attacker waiting for its target:
                                    keep this step's messages of other peers  */
    unsigned char *in_run;       /* per peer: admitted (all, without handshake) */
    int *latest;                 /* per sender: the latest step it sent us    */
    unsigned char *past;         /* per sender: left out of this collect as
                                    already past its step                      */
    uint32_t *epoch_of;          /* per sender: the epoch it last spoke in    */
    /* The last step's message and whom it went to: a peer that restarts
     * (speaks in a newer epoch) gets it again, since a message that reached
     * its old process before it died is gone with it. */
    struct {
        int type, step;
        float *values;
        size_t count, room;
        uint8_t digest[P4_WIRE_KEY_BYTES];
        unsigned char *sent_to;
    } last;
    /* a malicious peer (cluster/attack.h) that poisons the proxies it sends */
    float *initial_proxy;        /* w0, the public initialisation             */
    /* The client's own proxy as its last local training left it (before
     * any poisoning or averaging), and whether the proxy it trains from now
     * is an average that took in at least one peer's proxy. */
    float *own_proxy;
    int from_peers;
    /* The private model as a round that trains from such an average began,
     * for a revert that finds it no longer finite: a parking client's
     * parked vector (`p4 sim`), else a copy kept here (`p4 node`), made once
     * so that no round allocates and frees a whole model. */
    const float *private_start;
    float *private_copy;
    p4_rng attack_rng;
    p4_ziggurat attack_normal;
};

static int poisons_messages(const run *r)
{
    p4_attack_kind k = r->spec->peer->attack;
    return k == P4_ATTACK_SIGNFLIP || k == P4_ATTACK_SCALED || k == P4_ATTACK_GAUSSIAN;
}

static int lies_in_grouping(const run *r)
{
    return r->spec->peer->grouping_lie != P4_GROUPING_LIE_NONE;
}

/* 1 when r waits for some peers only and m is this step's message of another. */
static int held_for_later(const run *r, const held *m, int step, const unsigned char *want)
{
    return r->hold_unwanted && m->step == step && m->sender >= 0 && m->sender < r->n &&
           !want[m->sender];
}

static void held_free(held **h)
{
    if (!h || !*h)
        return;
    free((*h)->values);
    free((*h)->groups);
    free(*h);
    *h = NULL;
}

/* ---- local compute, paced by the caller's hooks --------------------------- */

static void compute_begin(const run *r)
{
    if (r->spec->hooks.compute_begin)
        r->spec->hooks.compute_begin(r->spec->hooks.user);
}

static void compute_end(const run *r)
{
    if (r->spec->hooks.compute_end)
        r->spec->hooks.compute_end(r->spec->hooks.user);
}

/* Accuracy of what the client predicts with: its private model, the proxy
 * (fedavg-dp has nothing else), or both ([p4] predict = ensemble). */
static int evaluate(const run *r, double *accuracy, p4_error *err)
{
    const p4_protocol_spec *sp = r->spec;
    p4_which_model which = sp->method == P4_METHOD_FEDAVG_DP ? P4_MODEL_PROXY : P4_MODEL_PRIVATE;
    compute_begin(r);
    int rc = p4_method_predicts_ensemble(sp->method, sp->cfg->predict)
                 ? p4_client_evaluate_ensemble(sp->peer->client, sp->cfg->ensemble_weight,
                                               accuracy, err)
                 : p4_client_evaluate(sp->peer->client, which, accuracy, err);
    compute_end(r);
    return rc;
}

/* ---- sending and collecting ------------------------------------------------ */

/* Sends m; a dead, unreachable or refusing peer is left out of this
 * exchange, as a silent one is: the run goes on without it. */
static int send_message(run *r, int to, p4_wire_message *m, p4_error *err)
{
    p4_error why = {0};
    int rc = p4_sender_send(r->sender, to, m, &why);
    if (rc == P4_EPEER) {
        r->res->unreachable++;
        if (r->spec->log)
            fprintf(r->spec->log, "p4 peer %d: cannot reach peer %d (%s); going on without it\n",
                    r->self, to, why.message);
        return P4_OK;
    }
    if (rc != P4_OK && err)
        *err = why;
    return rc;
}

/* Remembers what goes to `to` as the last step's message (see run.last). */
static int keep_last(run *r, int to, int type, int step, const float *v, size_t n,
                     const uint8_t *digest)
{
    if (r->last.type != type || r->last.step != step) {
        if (n > r->last.room) {
            float *grown = realloc(r->last.values, n * sizeof(float));
            if (!grown)
                return P4_ENOMEM;
            r->last.values = grown;
            r->last.room = n;
        }
        r->last.type = type;
        r->last.step = step;
        r->last.count = n;
        if (n > 0)
            memcpy(r->last.values, v, n * sizeof(float));
        if (digest)
            memcpy(r->last.digest, digest, P4_WIRE_KEY_BYTES);
        memset(r->last.sent_to, 0, (size_t)r->n);
    }
    r->last.sent_to[to] = 1;
    return P4_OK;
}

static int send_to(run *r, int to, int type, int step, const float *v, size_t n,
                   const uint8_t *digest, p4_error *err)
{
    if (!r->in_run[to])
        return P4_OK; /* refused at admission: left out of every exchange */
    int rc_keep;
    p4_wire_message m;
    memset(&m, 0, sizeof m);
    m.header.type = (uint8_t)type;
    m.header.round = step < STEP_ROUND0 ? -1 : step - STEP_ROUND0;
    if (carries_digest(type)) {
        memcpy(m.body.digest.digest, digest, P4_WIRE_KEY_BYTES);
    } else if (type == P4_WIRE_LOGITS) {
        m.body.logits = (p4_wire_logits){ (float *)v, (uint32_t)r->spec->public_n,
                                          (uint32_t)r->spec->classes };
    } else {
        m.body.proxy = (p4_wire_vector){ (float *)v, (uint32_t)n }; /* SLICE alike */
    }
    if ((rc_keep = keep_last(r, to, type, step, v, n, digest)) != P4_OK)
        return p4_error_set(err, rc_keep, "out of memory");
    return send_message(r, to, &m, err);
}

/* The round message in a decoded wire message, or NULL (with *why) for
 * anything the round protocol does not take: other types, a round that does
 * not fit the type.  Takes over the message's vector. */
static held *hold(p4_wire_message *m, const char **why)
{
    int type = m->header.type, round = m->header.round;
    int pre = type == P4_WIRE_SLICE || carries_digest(type) || type == P4_WIRE_VIEW;
    if (!pre && type != P4_WIRE_PROXY && type != P4_WIRE_LOGITS) {
        *why = "dropped a message the round protocol does not take";
        return NULL;
    }
    if (pre != (round == -1)) {
        *why = "dropped a message whose round does not fit its type";
        return NULL;
    }
    held *h = calloc(1, sizeof *h);
    if (!h) {
        *why = "out of memory for a message";
        return NULL;
    }
    h->type = type;
    h->sender = (int)m->header.sender_id;
    h->step = type == P4_WIRE_COMMIT ? STEP_COMMIT : type == P4_WIRE_ECHO ? STEP_ECHO
            : type == P4_WIRE_SLICE ? STEP_SLICE : type == P4_WIRE_DIGEST ? STEP_DIGEST
            : type == P4_WIRE_VIEW ? STEP_VIEW : STEP_ROUND0 + round;
    if (type == P4_WIRE_VIEW) {
        h->groups = m->body.view.group_of;
        h->count = m->body.view.count;
        m->body.view.group_of = NULL;
    } else if (carries_digest(type)) {
        memcpy(h->digest, m->body.digest.digest, P4_WIRE_KEY_BYTES);
    } else if (type == P4_WIRE_LOGITS) {
        h->values = m->body.logits.values;
        h->rows = m->body.logits.rows;
        h->cols = m->body.logits.cols;
        h->count = (size_t)h->rows * h->cols;
        m->body.logits.values = NULL;
    } else {
        h->values = m->body.proxy.values;
        h->count = m->body.proxy.count;
        m->body.proxy.values = NULL;
    }
    return h;
}

static void note(const run *r, const char *what, int from, int type, int step)
{
    if (r->spec->log)
        fprintf(r->spec->log, "p4 peer %d: %s from peer %d (type %d, step %d)\n", r->self, what,
                from, type, step);
}

/* 1 when m is the awaited (type, step) message of a wanted peer that has
 * not sent it yet, with the expected length (and shape, for logits). */
static int awaited(const run *r, const held *m, int type, int step, const unsigned char *want,
                   held *const *got, size_t count)
{
    if (m->sender < 0 || m->sender >= r->n || m->step != step || m->type != type ||
        !want[m->sender] || !r->in_run[m->sender] || got[m->sender])
        return 0;
    if (type == P4_WIRE_LOGITS)
        return m->rows == (uint32_t)r->spec->public_n && m->cols == (uint32_t)r->spec->classes;
    return carries_digest(type) || m->count == count; /* VIEW: count = clients */
}

/* Moves the stashed messages for (type, step) into got[]; stashed messages
 * of this step that are not awaited are dropped like any other. */
static int unstash(run *r, int type, int step, const unsigned char *want, held **got,
                   size_t count)
{
    int taken = 0;
    for (held **p = &r->stash; *p;) {
        held *m = *p;
        if (m->step != step || held_for_later(r, m, step, want)) {
            p = &m->next;
            continue;
        }
        *p = m->next;
        m->next = NULL;
        if (awaited(r, m, type, step, want, got, count)) {
            got[m->sender] = m;
            taken++;
        } else {
            note(r, "dropped a duplicate or unexpected message", m->sender, m->type, m->step);
            r->res->dropped++;
            held_free(&m);
        }
    }
    return taken;
}

static int is_control(int type)
{
    return type == P4_WIRE_HELLO || type == P4_WIRE_MEMBERS || type == P4_WIRE_HEARTBEAT ||
           type == P4_WIRE_BYE;
}

static int stop_requested(const run *r)
{
    return r->spec->stop != NULL && atomic_load(r->spec->stop) != 0;
}

/* A peer heard in a newer epoch than before has restarted: what this peer
 * last sent it may have died with its old process, so it goes again (a
 * duplicate is dropped by the receiver like any other). */
static int on_restart(run *r, int from, uint32_t epoch, p4_error *err)
{
    if (from < 0 || from >= r->n)
        return P4_OK;
    uint32_t before = r->epoch_of[from];
    if (epoch > before)
        r->epoch_of[from] = epoch;
    if (before == 0 || epoch <= before || !r->last.sent_to || !r->last.sent_to[from])
        return P4_OK;
    if (r->spec->log)
        fprintf(r->spec->log, "p4 peer %d: peer %d restarted (epoch %u); sending it step %d "
                "again\n", r->self, from, epoch, r->last.step);
    return send_to(r, from, r->last.type, r->last.step, r->last.values, r->last.count,
                   r->last.digest, err);
}

/* 1 (once per collect) when wanted peer j, whose message of `step` has not
 * come, has already sent a later step's: it is past this step, and waiting
 * for it would only run out the deadline. */
static int left_behind(run *r, int j, int step, const unsigned char *want, held *const *got)
{
    if (step < STEP_ROUND0 || j < 0 || j >= r->n || !want[j] || got[j] || r->past[j] ||
        r->latest[j] <= step)
        return 0;
    r->past[j] = 1;
    r->res->missing++;
    if (r->spec->log)
        fprintf(r->spec->log, "p4 peer %d: step %d: peer %d is already at step %d; going on "
                "without it\n", r->self, step, j, r->latest[j]);
    return 1;
}

/* 1 when m, a round's proxy or logits of the right shape, shows that its
 * sender reached a later step than any before.  Malformed ones prove
 * nothing, and the grouping's steps are never skipped (it needs everyone). */
static int shows_progress(const run *r, const held *m)
{
    if (m->sender < 0 || m->sender >= r->n || m->step < STEP_ROUND0 ||
        m->step <= r->latest[m->sender])
        return 0;
    if (m->type == P4_WIRE_LOGITS)
        return m->rows == (uint32_t)r->spec->public_n && m->cols == (uint32_t)r->spec->classes;
    return m->type == P4_WIRE_PROXY && m->count == r->wire_size;
}

/* Takes the next message that passes the receiver, until deadline: a
 * control message goes to the control hook (when there is one), a round
 * message is returned in *out; anything else is dropped with a log line
 * (*out NULL).  P4_ETIMEOUT at the deadline. */
static int next_message(run *r, double deadline, held **out, p4_error *err)
{
    *out = NULL;
    p4_wire_message msg;
    int from = -1;
    p4_error why = {0};
    uint64_t dropped_before = r->receiver.dropped;
    int rc = p4_receiver_next(&r->receiver, deadline, &msg, &from, &why);
    r->res->dropped += (int)(r->receiver.dropped - dropped_before);
    if (rc == P4_ETIMEOUT)
        return rc;
    if (rc != P4_OK)
        return p4_error_set(err, rc, "peer %d: %s", r->self, why.message);
    const p4_protocol_control *c = &r->spec->control;
    if (c->heard && from >= 0)
        c->heard(c->user, from);
    if (c->message && is_control(msg.header.type)) {
        rc = c->message(c->user, r, &msg, from, err);
        p4_wire_message_clear(&msg);
        return rc;
    }
    if ((rc = on_restart(r, from, msg.header.sender_epoch, err)) != P4_OK) {
        p4_wire_message_clear(&msg);
        return rc;
    }
    const char *reason = NULL;
    int wire_type = msg.header.type, wire_round = msg.header.round;
    *out = hold(&msg, &reason);
    p4_wire_message_clear(&msg);
    if (*out && shows_progress(r, *out))
        r->latest[(*out)->sender] = (*out)->step;
    if (!*out) {
        note(r, reason, from, wire_type, wire_round);
        r->res->dropped++;
    }
    return P4_OK;
}

int p4_protocol_link_pump(p4_protocol_link *r, double deadline, p4_error *err)
{
    if (r == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_protocol_link_pump: no link");
    held *m = NULL;
    int rc = next_message(r, deadline, &m, err);
    if (rc == P4_OK && m) {
        m->next = r->stash; /* a round message: kept for its step */
        r->stash = m;
    }
    return rc;
}

int p4_protocol_link_stopping(const p4_protocol_link *r)
{
    return r != NULL && stop_requested(r);
}

int p4_protocol_link_send(p4_protocol_link *r, int to, p4_wire_message *m, p4_error *err)
{
    if (r == NULL || m == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_protocol_link_send: NULL argument");
    return p4_sender_send(r->sender, to, m, err);
}

static void step_name(int step, char *out, size_t size)
{
    if (step >= STEP_ROUND0)
        snprintf(out, size, "round %d", step - STEP_ROUND0 + 1);
    else
        snprintf(out, size, "%s", step == STEP_COMMIT ? "grouping (commitments)"
                                 : step == STEP_ECHO ? "grouping (echoes)"
                                 : step == STEP_SLICE ? "grouping (slices)"
                                 : step == STEP_DIGEST ? "grouping (digests)"
                                                       : "grouping (view)");
}

/* Stops waiting for the awaited peers the control hooks call silent. */
static int leave_out_silent(run *r, int step, unsigned char *want, held **got)
{
    const p4_protocol_control *c = &r->spec->control;
    int left = 0;
    for (int j = 0; j < r->n && c->silent; j++) {
        double quiet = 0;
        if (!want[j] || got[j] || !c->silent(c->user, j, &quiet))
            continue;
        want[j] = 0;
        left++;
        if (r->spec->log) {
            char name[32];
            step_name(step, name, sizeof name);
            fprintf(r->spec->log, "p4 peer %d: %s: peer %d silent for %.1f s (no heartbeat): "
                    "dropped from this exchange; its group goes on without it\n", r->self,
                    name, j, quiet);
            fflush(r->spec->log);
        }
    }
    return left;
}

/* Collects one message of (type, step) from every peer with want[j] set,
 * until all came, the deadline passed, or the rest went silent; got[j]
 * receives each (the caller frees them), NULL for those that never came.
 * Messages for later steps are stashed; anything else is dropped with a
 * log line.  STOPPED when a stop was asked for meanwhile. */
static int collect(run *r, int type, int step, const unsigned char *wanted, size_t count,
                   held **got, p4_error *err)
{
    int waiting = 0;
    unsigned char *want = r->waiting_for;
    memcpy(want, wanted, (size_t)r->n);
    for (int j = 0; j < r->n; j++) {
        got[j] = NULL;
        want[j] = want[j] && r->in_run[j]; /* nothing is taken from a refused peer */
        waiting += want[j] != 0;
    }
    waiting -= unstash(r, type, step, want, got, count);
    /* Only a node (control hooks, a stop flag) wakes up to look around. */
    int look = r->spec->control.silent != NULL || r->spec->stop != NULL;
    memset(r->past, 0, (size_t)r->n);
    for (int j = 0; j < r->n; j++)
        waiting -= left_behind(r, j, step, want, got);
    double deadline = p4_now_seconds() + r->spec->timeout;
    double next_look = p4_now_seconds() + CHECK_SECONDS;
    int silent = 0;
    while (waiting > 0) {
        double until = look && next_look < deadline ? next_look : deadline;
        held *m = NULL;
        int rc = next_message(r, until, &m, err);
        if (rc != P4_OK && rc != P4_ETIMEOUT)
            return rc;
        if (m && (m->step > step || held_for_later(r, m, step, want))) {
            m->next = r->stash; /* a faster peer's next step: keep it */
            r->stash = m;
            waiting -= left_behind(r, m->sender, step, want, got);
        } else if (m && awaited(r, m, type, step, want, got, count)) {
            got[m->sender] = m;
            waiting--;
        } else if (m) {
            note(r, "dropped a stale, duplicate or unexpected message", m->sender, m->type,
                 m->step);
            r->res->dropped++;
            held_free(&m);
        }
        double now = p4_now_seconds();
        if (rc == P4_ETIMEOUT && now >= deadline)
            break;
        if (look && now >= next_look && waiting > 0) {
            if (stop_requested(r)) {
                for (int j = 0; j < r->n; j++)
                    held_free(&got[j]);
                return STOPPED;
            }
            int left = leave_out_silent(r, step, want, got);
            waiting -= left;
            silent += left;
            next_look = now + CHECK_SECONDS;
        }
    }
    if (waiting > 0 && r->spec->log)
        fprintf(r->spec->log, "p4 peer %d: step %d: %d peer(s) sent nothing before the deadline; "
                "going on without them\n", r->self, step, waiting);
    r->res->missing += waiting + silent;
    return P4_OK;
}

static void free_got(held **got, int n)
{
    for (int j = 0; j < n; j++)
        held_free(&got[j]);
}

/* ---- grouping ---------------------------------------------------------------- */

static int group_digest(const int *group_of, int n, uint8_t digest[32])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (int i = 0; i < n; i++) {
        uint8_t le[4] = { (uint8_t)group_of[i], (uint8_t)(group_of[i] >> 8),
                          (uint8_t)(group_of[i] >> 16), (uint8_t)(group_of[i] >> 24) };
        crypto_generichash_update(&st, le, sizeof le);
    }
    return crypto_generichash_final(&st, digest, 32) == 0 ? P4_OK : P4_ECRYPTO;
}

/* The view most peers hold (ties: the smallest digest, so that every peer
 * picks the same one).  dig[j] is valid where has[j]; returns its index. */
static int majority_view(const uint8_t (*dig)[32], const unsigned char *has, int n, int *agree)
{
    int best = -1;
    *agree = 0;
    for (int i = 0; i < n; i++) {
        if (!has[i])
            continue;
        int c = 0;
        for (int j = 0; j < n; j++)
            c += has[j] && memcmp(dig[j], dig[i], 32) == 0;
        if (c > *agree || (c == *agree && memcmp(dig[i], dig[best], 32) < 0)) {
            best = i;
            *agree = c;
        }
    }
    return best;
}

/* Adopts a VIEW when it hashes to the majority's digest. */
static int adopt_view(run *r, const held *v, const uint8_t want[32])
{
    int n = r->n, *groups = malloc((size_t)n * sizeof *groups), ngroups = 0;
    uint8_t d[32];
    if (!groups)
        return 0;
    for (int k = 0; k < n; k++) {
        groups[k] = (int)v->groups[k];
        ngroups = groups[k] + 1 > ngroups ? groups[k] + 1 : ngroups;
    }
    int ok = group_digest(groups, n, d) == P4_OK && memcmp(d, want, 32) == 0;
    if (ok) {
        memcpy(r->res->group_of, groups, (size_t)n * sizeof *groups);
        r->res->ngroups = ngroups;
    }
    free(groups);
    return ok;
}

/* After the digests (got[], digests of the peers in `everyone`): when all
 * agree, nothing happens.  Otherwise the majority's view wins: its holders
 * send it to each peer that differs, and a peer that differs takes it from
 * them, checks it against the majority's digest and adopts it, or stops:
 * never a silent split. */
static int settle_view(run *r, const uint8_t mine[32], unsigned char *everyone, held **got,
                       p4_error *err)
{
    int n = r->n, self = r->self, rc = P4_OK, agree = 0, voters = 0;
    uint8_t(*dig)[32] = malloc((size_t)n * sizeof *dig);
    unsigned char *has = calloc((size_t)n, 1);
    if (!dig || !has) {
        free(dig); free(has);
        return p4_error_set(err, P4_ENOMEM, "out of memory for digests");
    }
    for (int j = 0; j < n; j++) {
        const uint8_t *d = j == self ? mine : got[j] ? got[j]->digest : NULL;
        if (d) {
            memcpy(dig[j], d, 32);
            has[j] = 1;
            voters++;
        }
    }
    free_got(got, n);
    int best = majority_view((const uint8_t(*)[32])dig, has, n, &agree);
    if (agree == voters) {
        /* every view agrees: the usual case, and the only one in `p4 sim` */
    } else if (memcmp(dig[best], mine, 32) == 0) {
        uint32_t *groups = malloc((size_t)n * sizeof *groups);
        if (!groups)
            rc = p4_error_set(err, P4_ENOMEM, "out of memory for a view");
        for (int k = 0; k < n && groups; k++)
            groups[k] = (uint32_t)r->res->group_of[k];
        for (int j = 0; j < n && rc == P4_OK; j++) {
            if (j == self || !has[j] || memcmp(dig[j], mine, 32) == 0)
                continue;
            if (r->spec->log)
                fprintf(r->spec->log, "p4 peer %d: peer %d computed different groups (%d of %d "
                        "views agree with this one); sending it the majority's view\n", self, j,
                        agree, voters);
            p4_wire_message m;
            memset(&m, 0, sizeof m);
            m.header.type = P4_WIRE_VIEW;
            m.header.round = -1;
            m.body.view = (p4_wire_view){ groups, (uint32_t)n };
            rc = send_message(r, j, &m, err);
        }
        free(groups);
    } else {
        if (r->spec->log)
            fprintf(r->spec->log, "p4 peer %d: its grouping view differs from the majority's "
                    "(%d of %d views agree on another); fetching that view\n", self, agree,
                    voters);
        for (int j = 0; j < n; j++)
            everyone[j] = j != self && has[j] && memcmp(dig[j], dig[best], 32) == 0;
        rc = collect(r, P4_WIRE_VIEW, STEP_VIEW, everyone, (size_t)n, got, err);
        int from = -1;
        for (int j = 0; j < n && rc == P4_OK && from < 0; j++)
            if (got[j] && adopt_view(r, got[j], dig[best]))
                from = j;
            else if (got[j] && r->spec->log)
                fprintf(r->spec->log, "p4 peer %d: peer %d's VIEW does not match the majority's "
                        "digest; ignored\n", self, j);
        free_got(got, n);
        if (rc == P4_OK && from < 0)
            rc = p4_error_set(err, P4_EPEER, "peer %d: computed different groups from the "
                              "majority of its peers and no peer sent a view matching theirs; "
                              "refusing to split the cluster", self);
        if (rc == P4_OK) {
            r->res->resynced = 1;
            if (r->spec->log)
                fprintf(r->spec->log, "p4 peer %d: re-synchronised: adopted the majority's "
                        "grouping view (from peer %d)\n", self, from);
        }
    }
    free(dig);
    free(has);
    return rc;
}

/* Sends `mine` (a digest) as (type, step) to the peers in `everyone` and
 * collects theirs into got[]; a peer that sends none stops the grouping,
 * which needs every member. */
static int swap_digests(run *r, int type, int step, const uint8_t *mine, unsigned char *everyone,
                        held **got, p4_error *err)
{
    int rc = P4_OK, absent = 0;
    for (int j = 0; j < r->n && rc == P4_OK; j++)
        if (j != r->self && everyone[j])
            rc = send_to(r, j, type, step, NULL, 0, mine, err);
    if (rc == P4_OK)
        rc = collect(r, type, step, everyone, 0, got, err);
    for (int j = 0; j < r->n && rc == P4_OK; j++)
        absent += j != r->self && everyone[j] && r->in_run[j] && !got[j];
    if (rc == P4_OK && absent)
        rc = p4_error_set(err, P4_EPEER, "peer %d: %d peer(s) sent no %s: the grouping needs "
                          "every member", r->self, absent, p4_wire_type_name(type));
    return rc;
}

/* [p4] grouping_commit, before any slice leaves (cluster/slice_commit.h):
 * every peer's commitment to its slice, then every peer's echo of all the
 * commitments it holds; only when every echo equals this peer's own are
 * the commitments the same everywhere, and the slices may go.
 * commitments (n x 32 bytes) receives them; has[j]: peer j's is there. */
static int commit_to_slice(run *r, const float *slice, size_t length, unsigned char *everyone,
                           held **got, uint8_t *commitments, unsigned char *has, p4_error *err)
{
    int n = r->n, self = r->self;
    uint8_t echo[P4_SLICE_COMMIT_BYTES];
    int rc = p4_slice_commitment(self, slice, length,
                                 commitments + (size_t)self * P4_SLICE_COMMIT_BYTES, err);
    has[self] = 1;
    if (rc == P4_OK)
        rc = swap_digests(r, P4_WIRE_COMMIT, STEP_COMMIT, commitments +
                          (size_t)self * P4_SLICE_COMMIT_BYTES, everyone, got, err);
    for (int j = 0; j < n && rc == P4_OK; j++)
        if (got[j]) {
            memcpy(commitments + (size_t)j * P4_SLICE_COMMIT_BYTES, got[j]->digest,
                   P4_SLICE_COMMIT_BYTES);
            has[j] = 1;
        }
    free_got(got, n);
    if (rc == P4_OK)
        rc = p4_slice_commitment_echo(commitments, has, n, echo, err);
    if (rc == P4_OK)
        rc = swap_digests(r, P4_WIRE_ECHO, STEP_ECHO, echo, everyone, got, err);
    for (int j = 0; j < n && rc == P4_OK; j++)
        if (got[j] && sodium_memcmp(got[j]->digest, echo, sizeof echo) != 0)
            rc = p4_error_set(err, P4_EPEER, "peer %d: peer %d holds other commitments than this "
                              "peer: some peer sent different commitments to different peers; "
                              "refusing to reveal the warm-up slice", self, j);
    free_got(got, n);
    return rc;
}

/* refused[j] = 1 for every peer whose slice (got[j], own for this peer)
 * does not open its commitment; each is logged. */
static void check_openings(const run *r, const float *own, size_t length, held *const *got,
                           const uint8_t *commitments, const unsigned char *has,
                           unsigned char *refused)
{
    for (int j = 0; j < r->n; j++) {
        const float *v = j == r->self ? own : got[j] ? got[j]->values : NULL;
        refused[j] = v && has[j] &&
                     !p4_slice_commitment_opens(j, v, length,
                                                commitments + (size_t)j * P4_SLICE_COMMIT_BYTES);
        if (refused[j] && r->spec->log)
            fprintf(r->spec->log, "p4 peer %d: peer %d's warm-up slice does not match its "
                    "commitment; it trains alone\n", r->self, j);
    }
}

/* Sends `slice` (length values) to every other peer and collects theirs. */
static int swap_slices(run *r, const float *slice, size_t length, unsigned char *everyone,
                       held **got, p4_error *err)
{
    int rc = P4_OK;
    for (int j = 0; j < r->n && rc == P4_OK; j++)
        if (j != r->self)
            rc = send_to(r, j, P4_WIRE_SLICE, STEP_SLICE, slice, length, NULL, err);
    return rc == P4_OK ? collect(r, P4_WIRE_SLICE, STEP_SLICE, everyone, length, got, err) : rc;
}

/* A lying attacker (cluster/attack.h): waits for its target's slice, sends
 * a copy of it (plus noise) as its own, then collects the others'.  *lie
 * receives the slice it sent (the caller frees it). */
static int swap_slices_lying(run *r, size_t length, unsigned char *everyone, held **got,
                             float **lie, p4_error *err)
{
    const p4_peer *me = r->spec->peer;
    int t = me->lie_target, n = r->n;
    if (t < 0 || t >= n || t == r->self)
        return p4_error_set(err, P4_EINVAL, "peer %d: its grouping lie has no target", r->self);
    unsigned char *only = calloc((size_t)n, 1);
    if (!only || !(*lie = malloc((length ? length : 1) * sizeof **lie))) {
        free(only);
        return p4_error_set(err, P4_ENOMEM, "peer %d: out of memory", r->self);
    }
    only[t] = 1;
    r->hold_unwanted = 1;
    int rc = collect(r, P4_WIRE_SLICE, STEP_SLICE, only, length, got, err);
    r->hold_unwanted = 0;
    free(only);
    held *from_target = got[t];
    got[t] = NULL;
    if (rc == P4_OK && !from_target)
        rc = p4_error_set(err, P4_EPEER, "peer %d: its target %d sent no slice", r->self, t);
    if (rc == P4_OK)
        rc = p4_attack_lie_slice(from_target->values, length, me->lie_noise, &r->attack_rng,
                                 &r->attack_normal, *lie, err);
    if (rc == P4_OK) {
        everyone[t] = 0;
        rc = swap_slices(r, *lie, length, everyone, got, err);
        everyone[t] = 1;
    }
    got[t] = from_target;
    return rc;
}

/* The groups from the distances among the m peers in the run (ids[a] is the
 * a-th).  A peer with skip[a] set (its slice did not open its commitment;
 * skip may be NULL) trains alone, and so, with the slice guard on, do
 * near-copies (cluster/slice_guard.h: from the sampled distances and the
 * slices' fingerprints, the board's when slice is NULL).  One path: with
 * nobody alone, p4_group_clients_guarded is p4_group_clients.
 * sub[a]: ids[a]'s group. */
static int group_slices_at(run *r, const float **slice, const int *ids, const double *dist,
                           const unsigned char *known, const unsigned char *skip, int m,
                           size_t length, p4_rng *rng, int *sub, int group_size, p4_error *err)
{
    const p4_config *cfg = r->spec->cfg;
    p4_grouping_params params = { group_size };
    int guard = cfg->duplicate_slice_ratio > 0;
    unsigned char *alone = calloc((size_t)m, 1), *copied = guard ? malloc((size_t)m) : NULL;
    /* zeroed: GCC -O2 cannot tell that the loop below fills it */
    uint64_t *mine = guard && slice ? calloc((size_t)m, sizeof *mine) : NULL;
    const uint64_t *fingerprint = mine;
    if (!alone || (guard && !copied) || (guard && slice && !mine)) {
        free(alone);
        free(copied);
        free(mine);
        return p4_error_set(err, P4_ENOMEM, "out of memory for the slice guard");
    }
    int flagged = 0, rc = P4_OK;
    for (int a = 0; a < m && skip; a++)
        alone[a] = skip[a];
    if (guard && !slice)
        rc = p4_slice_board_fingerprints(r->spec->board, &fingerprint, err);
    for (int a = 0; a < m && rc == P4_OK && guard && slice; a++)
        rc = skip && skip[a] ? P4_OK : p4_slice_fingerprint(slice[a], length, &mine[a], err);
    if (rc == P4_OK && guard)
        rc = p4_slice_guard_flag_sampled(dist, known, fingerprint, skip, m,
                                         cfg->duplicate_slice_ratio, copied, &flagged, err);
    for (int a = 0; a < m && rc == P4_OK && guard; a++) {
        if (copied[a] && r->spec->log)
            fprintf(r->spec->log, "p4 peer %d: peer %d's warm-up slice is a near-copy of "
                    "another's; it trains alone\n", r->self, ids[a]);
        alone[a] |= copied[a];
    }
    if (rc == P4_OK)
        rc = p4_group_clients_guarded(dist, known, m, &params, rng, alone, sub, &r->res->ngroups,
                                      err);
    free(alone);
    free(copied);
    free(mine);
    return rc;
}

/* As group_slices_at at group_size; then, with [p4] widen_group_size set,
 * groups that are no tighter than the average pair (separation below
 * widen_separation, cluster/group_widen.h) are recomputed at the wider
 * size.  Public inputs only: every peer agrees. */
static int group_slices(run *r, const float **slice, const int *ids, const double *dist,
                        const unsigned char *known, const unsigned char *skip, int m,
                        size_t length, p4_rng *rng, int *sub, p4_error *err)
{
    const p4_config *cfg = r->spec->cfg;
    int rc = group_slices_at(r, slice, ids, dist, known, skip, m, length, rng, sub,
                             cfg->group_size, err);
    if (rc != P4_OK || cfg->widen_group_size <= cfg->group_size)
        return rc;
    double separation = 0;
    if ((rc = p4_group_separation(dist, known, m, sub, &separation, err)) != P4_OK ||
        separation >= cfg->widen_separation)
        return rc;
    if (r->spec->log && r->self == ids[0])
        fprintf(r->spec->log, "p4: the groups are no tighter than the average pair (separation "
                "%.3f < widen_separation %g): regrouping at size %d\n", separation,
                cfg->widen_separation, cfg->widen_group_size);
    return group_slices_at(r, slice, ids, dist, known, skip, m, length, rng, sub,
                           cfg->widen_group_size, err);
}

/* The groups from every peer's slice (got[j], or the board's), computed as
 * every other peer computes them: the pairs sampled from the public seed,
 * L1 distances over them, then the grouping.  Only the peers in the run
 * take part (all of them unless the admission handshake refused some);
 * a refused peer's group is -1.  A peer with opened_not[j] set (its slice
 * did not open its commitment; NULL: none) trains alone, and its slice is
 * compared with none. */
static int compute_groups(run *r, const float *own, size_t length, held **got,
                          const unsigned char *opened_not, p4_error *err)
{
    const p4_protocol_spec *sp = r->spec;
    int n = r->n, self = r->self, rc = P4_OK, m = 0;
    int *ids = malloc((size_t)n * sizeof *ids);
    int *sub = malloc((size_t)n * sizeof *sub);
    for (int j = 0; ids && j < n; j++)
        if (r->in_run[j])
            ids[m++] = j;
    const double *shared = NULL;
    double *dist = sp->board ? NULL : calloc((size_t)m * m, sizeof *dist);
    unsigned char *known = calloc((size_t)m * m, 1);
    const float **slice = sp->board ? NULL : malloc((size_t)m * sizeof *slice);
    unsigned char *skip = opened_not ? calloc((size_t)n, 1) : NULL;
    if (!ids || !sub || (!sp->board && (!dist || !slice)) || !known || (opened_not && !skip)) {
        free(ids); free(sub); free(dist); free(known); free(slice); free(skip);
        return p4_error_set(err, P4_ENOMEM, "out of memory for distances");
    }
    for (int a = 0; skip && a < m; a++)
        skip[a] = opened_not[ids[a]];
    if (sp->board && m != n) {
        free(ids); free(sub); free(known); free(skip);
        return p4_error_set(err, P4_EINVAL, "peer %d: the shared board groups every peer, but "
                            "%d were refused", self, n - m);
    }
    int absent = 0;
    for (int a = 0; slice && a < m; a++) {
        int j = ids[a];
        slice[a] = j == self ? own : got[j] ? got[j]->values : NULL;
        absent += slice[a] == NULL;
    }
    /* The grouping's tie-breaks are public: every peer must find the same groups. */
    p4_rng rng;
    rc = absent ? p4_error_set(err, P4_EPEER, "peer %d: %d peer(s) sent no warm-up slice: the "
                               "grouping needs every member", self, absent)
                : p4_rng_init_seeded(&rng, sp->cfg->seed, "grouping");
    if (rc == P4_OK)
        rc = p4_grouping_sample_peers(m, sp->cfg->sample_peers, &rng, known, err);
    for (int a = 0; a < m && rc == P4_OK && skip; a++)
        for (int b = 0; b < m && skip[a]; b++)
            known[(size_t)a * m + b] = known[(size_t)b * m + a] = 0;
    if (rc == P4_OK && sp->board)
        rc = p4_slice_board_distances(sp->board, known, &shared, err);
    for (int i = 0; i < m && rc == P4_OK && !sp->board; i++)
        for (int j = i + 1; j < m && rc == P4_OK; j++) {
            if (!known[(size_t)i * m + j])
                continue;
            rc = p4_l1_distance(slice[i], slice[j], 0, length, length, &dist[(size_t)i * m + j], err);
            dist[(size_t)j * m + i] = dist[(size_t)i * m + j];
        }
    if (rc == P4_OK)
        rc = group_slices(r, slice, ids, sp->board ? shared : dist, known, skip, m, length, &rng,
                          sub, err);
    for (int j = 0; j < n && rc == P4_OK; j++)
        r->res->group_of[j] = -1; /* refused peers belong to no group */
    for (int a = 0; a < m && rc == P4_OK; a++)
        r->res->group_of[ids[a]] = sub[a];
    free(ids);
    free(sub);
    free(dist);
    free(known);
    free(slice);
    free(skip);
    return rc;
}

/* In one process: every peer's digest once, on the board; all must agree
 * (peers that computed from the same board cannot differ, so there is no
 * view to resynchronise: a difference is a bug, and stops the run). */
static int compare_on_board(run *r, const uint8_t mine[32], p4_error *err)
{
    const uint8_t *theirs = NULL;
    int rc = p4_slice_board_publish_digest(r->spec->board, r->self, mine, err);
    if (rc == P4_OK)
        rc = p4_slice_board_wait_digests(r->spec->board, p4_now_seconds() + r->spec->timeout,
                                         &theirs, err);
    for (int j = 0; j < r->n && rc == P4_OK; j++)
        if (memcmp(theirs + (size_t)j * 32, mine, 32) != 0)
            rc = p4_error_set(err, P4_EPEER, "peer %d: peer %d computed different groups from the "
                              "same warm-up slices; refusing to split the cluster", r->self, j);
    return rc;
}

/* Every peer's slice of its warm-up proxy to everyone (or, in one process,
 * to the shared board); the same grouping computed by all; the digests
 * compared. */
static int group_peers(run *r, const float *proxy, unsigned char *everyone, held **got,
                       p4_error *err)
{
    const p4_protocol_spec *sp = r->spec;
    int n = r->n, self = r->self, rc;
    size_t offset, length;
    if ((rc = p4_peer_distance_range(sp->cfg, sp->peer->client, sp->classes, &offset, &length,
                                     err)) != P4_OK)
        return rc;
    float *lie = NULL;
    int commit = sp->cfg->grouping_commit;
    uint8_t *commitments = commit ? calloc((size_t)n, P4_SLICE_COMMIT_BYTES) : NULL;
    unsigned char *has = commit ? calloc((size_t)n, 1) : NULL;
    unsigned char *opened_not = commit ? calloc((size_t)n, 1) : NULL;
    if (commit && (!commitments || !has || !opened_not)) {
        rc = p4_error_set(err, P4_ENOMEM, "peer %d: out of memory for commitments", self);
    } else if (sp->board && (lies_in_grouping(r) || commit)) {
        rc = p4_error_set(err, P4_EINVAL, "peer %d: a grouping lie and grouping_commit need the "
                          "slices on the wire, not the simulator's shared board", self);
    } else if (sp->board) {
        rc = p4_slice_board_publish(sp->board, self, proxy + offset, length, err);
        if (rc == P4_OK)
            rc = p4_slice_board_wait(sp->board, p4_now_seconds() + sp->timeout, err);
        for (int j = 0; j < n; j++)
            got[j] = NULL;
    } else {
        /* With grouping_commit a lying attacker, too, must commit before it
         * has seen any slice: it commits to its own, then lies anyway. */
        if (commit)
            rc = commit_to_slice(r, proxy + offset, length, everyone, got, commitments, has, err);
        if (rc == P4_OK)
            rc = lies_in_grouping(r) ? swap_slices_lying(r, length, everyone, got, &lie, err)
                                     : swap_slices(r, proxy + offset, length, everyone, got, err);
    }
    if (rc == P4_OK && commit)
        check_openings(r, lie ? lie : proxy + offset, length, got, commitments, has, opened_not);
    if (rc == P4_OK) {
        /* Paced like training: the N x N distances and the grouping's tables
         * then exist for a few peers at a time, not for all at once. */
        compute_begin(r);
        rc = compute_groups(r, lie ? lie : proxy + offset, length, got, opened_not, err);
        compute_end(r);
    }
    free(lie);
    free(commitments);
    free(has);
    free(opened_not);
    free_got(got, n);
    if (rc != P4_OK)
        return rc;

    if (sp->test_skew_view && r->res->ngroups >= 2) {
        r->res->group_of[self] = (r->res->group_of[self] + 1) % r->res->ngroups;
        if (sp->log)
            fprintf(sp->log, "p4 peer %d: test hook: moved itself to group %d, so its grouping "
                    "view differs from the others'\n", self, r->res->group_of[self]);
    }
    uint8_t mine[32];
    if ((rc = group_digest(r->res->group_of, n, mine)) != P4_OK)
        return p4_error_set(err, rc, "cannot hash the grouping");
    if (sp->board)
        return compare_on_board(r, mine, err);
    for (int j = 0; j < n && rc == P4_OK; j++)
        if (j != self)
            rc = send_to(r, j, P4_WIRE_DIGEST, STEP_DIGEST, NULL, 0, mine, err);
    if (rc == P4_OK)
        rc = collect(r, P4_WIRE_DIGEST, STEP_DIGEST, everyone, 0, got, err);
    if (rc == P4_OK)
        rc = settle_view(r, mine, everyone, got, err);
    free_got(got, n);
    return rc;
}

/* The fixed groups of the baselines. */
static void baseline_groups(run *r)
{
    p4_method m = r->spec->method;
    r->res->ngroups = m == P4_METHOD_FEDAVG_DP ? 1 : r->n;
    for (int k = 0; k < r->n; k++)
        r->res->group_of[k] = !r->in_run[k] ? -1 : m == P4_METHOD_FEDAVG_DP ? 0 : k;
}

/* ---- one round's exchange ------------------------------------------------------ */

/* Sends `v` to the members of this peer's group and collects theirs. */
static int swap_with_group(run *r, int type, int step, const float *v, size_t count,
                           unsigned char *want, held **got, p4_error *err)
{
    int g = r->res->group_of[r->self], rc = P4_OK;
    for (int j = 0; j < r->n; j++) {
        want[j] = j != r->self && r->res->group_of[j] == g;
        if (want[j] && rc == P4_OK)
            rc = send_to(r, j, type, step, v, count, NULL, err);
    }
    return rc == P4_OK ? collect(r, type, step, want, count, got, err) : rc;
}

/* The group's proxies (their shared floats, `count` of them), own included,
 * in peer-id order: mean or multi-Krum. */
static int aggregate_proxies(run *r, float *proxy, size_t count, held **got, p4_error *err)
{
    const float **members = malloc((size_t)r->n * sizeof *members);
    if (!members)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    int k = 0;
    for (int j = 0; j < r->n; j++)
        if (j == r->self)
            members[k++] = proxy;
        else if (got[j])
            members[k++] = got[j]->values;
    r->from_peers = k > 1;
    int f = r->spec->cfg->krum_f, rc;
    int krum = strcmp(r->spec->cfg->aggregate, "multikrum") == 0;
    if (krum && k > 2 * f + 2) {
        rc = p4_aggregate_multi_krum(members, k, count, f, k - f, proxy, NULL, err);
    } else {
        if (krum) { /* multi-Krum cannot run here: say so rather than pass the mean off as it */
            if (r->res->krum_fallbacks++ == 0 && r->spec->log)
                fprintf(r->spec->log, "p4 peer %d: warning: aggregate = multikrum needs more than "
                        "2 krum_f + 2 = %d group members, this group has %d: using the mean\n",
                        r->self, 2 * f + 2, k);
            if (r->res->krum_smallest == 0 || k < r->res->krum_smallest)
                r->res->krum_smallest = k;
        }
        rc = p4_aggregate_mean(members, k, count, proxy, err);
    }
    free(members);
    return rc;
}

/* ProxyFL's exponential graph: in round t peer i sends to i + 2^(t mod
 * (floor(log2(n-1)) + 1)) and takes what i - 2^... sent it: as its proxy
 * (proxyfl, as published) or averaged with its own (proxyfl-avg). */
static int exchange_exponential(run *r, int round, float *proxy, size_t count,
                                unsigned char *want, held **got, p4_error *err)
{
    int n = r->n, hops = 0;
    while ((1 << (hops + 1)) <= n - 1)
        hops++;
    int shift = 1 << (round % (hops + 1));
    int to = (r->self + shift) % n, from = ((r->self - shift) % n + n) % n;
    memset(want, 0, (size_t)n);
    want[from] = 1;
    int rc = send_to(r, to, P4_WIRE_PROXY, STEP_ROUND0 + round, proxy, count, NULL, err);
    if (rc == P4_OK)
        rc = collect(r, P4_WIRE_PROXY, STEP_ROUND0 + round, want, count, got, err);
    r->from_peers = rc == P4_OK && got[from] != NULL;
    if (rc == P4_OK && got[from] && r->spec->method == P4_METHOD_PROXYFL)
        memcpy(proxy, got[from]->values, count * sizeof(float));
    else if (rc == P4_OK && got[from])
        for (size_t j = 0; j < count; j++)
            proxy[j] = 0.5f * (proxy[j] + got[from]->values[j]);
    free_got(got, n);
    return rc;
}

/* Logits mode: noised public logits to the group; the proxy distils from
 * softmax of the group's mean. */
static int exchange_logits(run *r, int round, unsigned char *want, held **got,
                           p4_error *err)
{
    const p4_protocol_spec *sp = r->spec;
    size_t per = (size_t)sp->public_n * sp->classes;
    float *mine = malloc(per * sizeof(float));
    double *sum = malloc(per * sizeof(double));
    if (!mine || !sum) {
        free(mine); free(sum);
        return p4_error_set(err, P4_ENOMEM, "out of memory for logits");
    }
    compute_begin(r);
    int rc = p4_client_public_logits(sp->peer->client, sp->public_x, sp->public_n, 1.0,
                                     sp->dp ? sp->logit_sigma : 0.0, mine, err);
    compute_end(r);
    if (rc == P4_OK)
        rc = swap_with_group(r, P4_WIRE_LOGITS, STEP_ROUND0 + round, mine, per, want, got, err);
    if (rc == P4_OK) {
        int k = 0;
        memset(sum, 0, per * sizeof(double));
        for (int j = 0; j < r->n; j++) {
            const float *v = j == r->self ? mine : got[j] ? got[j]->values : NULL;
            if (!v)
                continue;
            for (size_t e = 0; e < per; e++)
                sum[e] += v[e];
            k++;
        }
        for (size_t e = 0; e < per; e++)
            mine[e] = (float)(sum[e] / k);
        p4_softmax_temperature(mine, sp->public_n, sp->classes, sp->cfg->kd_temperature, mine);
        compute_begin(r);
        rc = p4_client_distill_public(sp->peer->client, sp->public_x, sp->public_n, mine, 1, err);
        compute_end(r);
    }
    free_got(got, r->n);
    free(mine);
    free(sum);
    return rc;
}

static int all_finite(const float *v, size_t n)
{
    return p4_first_non_finite(v, n) == n;
}

/* Before a round that trains from an average of peers' proxies: where the
 * private model as the round begins can be found again (read only, so
 * seeded runs are unchanged). */
static int keep_round_start(run *r, p4_error *err)
{
    r->private_start = NULL;
    if (!r->from_peers || !r->own_proxy)
        return P4_OK;
    p4_client *c = r->spec->peer->client;
    size_t n = 0;
    const float *parked = p4_client_parked_private(c, &n);
    if (parked && !p4_client_parked(c) && n == p4_client_model_size(c, P4_MODEL_PRIVATE)) {
        r->private_start = parked; /* unparked for this round: the vector is its start */
        return P4_OK;
    }
    n = p4_client_model_size(c, P4_MODEL_PRIVATE);
    if (!r->private_copy && !(r->private_copy = malloc(n * sizeof(float))))
        return p4_error_set(err, P4_ENOMEM, "peer %d: out of memory", r->self);
    int rc = p4_client_get_model(c, P4_MODEL_PRIVATE, r->private_copy, n);
    if (rc != P4_OK)
        return p4_error_set(err, rc, "peer %d: cannot read its private model", r->self);
    r->private_start = r->private_copy;
    return P4_OK;
}

static void zero_floats(float *v, size_t n)
{
    for (size_t j = 0; v && j < n; j++)
        v[j] = 0.0f;
}

/* The round's training diverged from an average that took in peers'
 * proxies (a poisoned one can do that): the proxy goes back to the client's
 * own from before that averaging, with its momentum cleared, and the rest
 * of the round's training is dropped.  The private model keeps what it
 * learnt this round unless its weights or momentum are no longer finite;
 * then it goes back to where the round began, its momentum cleared too.
 * That proxy is this client's DP output, released already, so reusing it is
 * post-processing; no steps are run to make up (the noise was planned for a
 * fixed number), and the steps the ledger reserved for the round stay
 * charged.  The batch sampler is not rewound.  A client whose proxy top
 * lives in a TA cannot be saved (EUNSUPPORTED): its proxy alone goes back. */
static int revert_proxy(run *r, int round, p4_error *err)
{
    p4_client *c = r->spec->peer->client;
    if (r->spec->log)
        fprintf(r->spec->log, "p4 peer %d: warning: round %d: %s; the proxy it trained from "
                "averaged peers' proxies, so it goes back to its own from round %d and drops "
                "the rest of this round's training\n", r->self, round,
                err ? err->message : "training diverged", round - 1);
    p4_client_state now = {0};
    int rc = p4_client_save(c, &now, err);
    int private_finite = rc == P4_OK && all_finite(now.private_params, now.private_count) &&
                         all_finite(now.private_velocity, now.private_velocity_count);
    int restorable = private_finite || r->private_start; /* TA clients: see below */
    if (rc == P4_OK && restorable) {
        p4_client_state s = now;
        s.proxy_params = r->own_proxy;
        zero_floats(now.proxy_velocity, now.proxy_velocity_count);
        s.has_batch_rng = 0;
        if (!private_finite) {
            s.private_params = (float *)r->private_start;
            zero_floats(now.private_velocity, now.private_velocity_count);
        }
        rc = p4_client_restore(c, &s, err);
    }
    p4_client_state_free(&now);
    if (rc == P4_EUNSUPPORTED && private_finite) /* the TA's layers: the proxy alone */
        rc = p4_client_set_proxy(c, r->own_proxy, r->proxy_size);
    if ((rc == P4_OK && !restorable) || rc == P4_EUNSUPPORTED)
        return p4_error_set(err, P4_EDIVERGED, "peer %d: round %d: the private model has "
                            "non-finite weights after its training diverged", r->self, round);
    if (rc != P4_OK)
        return p4_error_set(err, rc, "peer %d: cannot restore its own proxy", r->self);
    r->res->proxy_reverts++;
    r->from_peers = 0;
    p4_error_clear(err);
    return P4_OK;
}

static int one_round(run *r, int round, float *proxy, unsigned char *want, held **got,
                     p4_error *err)
{
    const p4_protocol_spec *sp = r->spec;
    p4_client *c = sp->peer->client;
    p4_local_mode mode = sp->method == P4_METHOD_LOCAL       ? P4_LOCAL_PRIVATE_ONLY
                       : sp->method == P4_METHOD_FEDAVG_DP ? P4_LOCAL_PROXY_ONLY
                                                             : P4_LOCAL_COTRAIN;
    compute_begin(r); /* a parked client (`p4 sim`) is unparked in here */
    int rc = keep_round_start(r, err);
    if (rc == P4_OK)
        rc = p4_client_local(c, mode, sp->cfg->local_epochs, err);
    int reverted = rc == P4_EDIVERGED && r->from_peers && r->own_proxy;
    if (reverted)
        rc = revert_proxy(r, round, err);
    r->private_start = NULL; /* a parked vector changes when the client parks */
    compute_end(r);
    if (rc == P4_OK && sp->hooks.trained)
        sp->hooks.trained(sp->hooks.user, r->self, round, reverted);
    if (rc != P4_OK || sp->method == P4_METHOD_LOCAL)
        return rc;
    if (sp->logits_mode)
        return exchange_logits(r, round, want, got, err);
    if ((rc = p4_client_get_proxy(c, proxy, r->proxy_size)) != P4_OK)
        return p4_error_set(err, rc, "peer %d: cannot read its proxy", r->self);
    memcpy(r->own_proxy, proxy, r->proxy_size * sizeof(float));
    if (poisons_messages(r) &&
        (rc = p4_attack_poison(sp->peer->attack, sp->peer->attack_strength, proxy,
                               r->initial_proxy, r->proxy_size, &r->attack_rng,
                               &r->attack_normal, err)) != P4_OK)
        return rc;
    /* Only the floats outside the frozen layers travel (proxy_share.h); the
     * aggregate goes back into this proxy, whose frozen layers stay its own. */
    float *shared = r->wire ? r->wire : proxy;
    if (r->wire)
        p4_proxy_share_pack(c, proxy, r->wire);
    if (p4_method_is_proxyfl(sp->method)) {
        rc = exchange_exponential(r, round, shared, r->wire_size, want, got, err);
    } else {
        rc = swap_with_group(r, P4_WIRE_PROXY, STEP_ROUND0 + round, shared, r->wire_size, want,
                             got, err);
        if (rc == P4_OK)
            rc = aggregate_proxies(r, shared, r->wire_size, got, err);
        free_got(got, r->n);
    }
    if (rc == P4_OK && r->wire)
        p4_proxy_share_unpack(c, r->wire, proxy);
    if (rc == P4_OK && (rc = p4_client_set_proxy(c, proxy, r->proxy_size)) != P4_OK)
        p4_error_set(err, rc, "peer %d: cannot set its proxy", r->self);
    return rc;
}

/* ---- admission ------------------------------------------------------------------ */

/* A faster peer's protocol message that arrived during the handshake: kept
 * for its step, as collect keeps messages for later steps. */
static void keep_for_later(void *user, p4_wire_message *m, int from)
{
    run *r = user;
    const p4_protocol_control *c = &r->spec->control;
    if (c->heard && from >= 0)
        c->heard(c->user, from);
    if (c->message && is_control(m->header.type)) { /* membership's own messages */
        p4_error why = {0};
        if (c->message(c->user, r, m, from, &why) != P4_OK && r->spec->log)
            fprintf(r->spec->log, "p4 peer %d: during admission: %s\n", r->self, why.message);
        p4_wire_message_clear(m);
        return;
    }
    const char *why = NULL;
    int type = m->header.type, round = m->header.round;
    held *h = hold(m, &why);
    if (h == NULL) {
        note(r, why, from, type, round);
        r->res->dropped++;
        return;
    }
    h->next = r->stash;
    r->stash = h;
}

/* Runs the admission handshake when the spec asks for one; afterwards
 * in_run[j] says whether peer j takes part. */
static int admit(run *r, p4_error *err)
{
    const p4_protocol_spec *sp = r->spec;
    memset(r->in_run, 1, (size_t)r->n);
    if (sp->handshake == NULL)
        return P4_OK;
    if (sp->handshake->self != r->self || sp->handshake->clients != r->n)
        return p4_error_set(err, P4_EINVAL, "protocol: the handshake is for node %d of %d, "
                            "this peer is %d of %d", sp->handshake->self,
                            sp->handshake->clients, r->self, r->n);
    uint64_t dropped_before = r->receiver.dropped;
    int rc = p4_handshake_run(sp->handshake, r->sender, &r->receiver, keep_for_later, r,
                              r->in_run, sp->handshake_stats, err);
    r->res->dropped += (int)(r->receiver.dropped - dropped_before);
    for (int j = 0; j < r->n && rc == P4_OK; j++)
        r->res->refused += !r->in_run[j];
    if (rc == P4_OK && r->n > 1 && r->res->refused == r->n - 1)
        rc = p4_error_set(err, P4_EPEER, "peer %d: admission refused all %d other members (see "
                          "the log for each one's reason): nobody to learn with", r->self,
                          r->n - 1);
    return rc;
}

/* ---- the run ------------------------------------------------------------------- */

static void tell_phase(const run *r, int phase, int round)
{
    if (r->spec->control.phase)
        r->spec->control.phase(r->spec->control.user, phase, round);
}

int p4_protocol_run(const p4_protocol_spec *sp, p4_protocol_result *res, p4_error *err)
{
    if (!sp || !sp->cfg || !sp->peer || !sp->peer->client || !sp->transport || !res ||
        !res->group_of || sp->clients < 1 || sp->peer->id < 0 || sp->peer->id >= sp->clients ||
        !(sp->timeout > 0) || (sp->logits_mode && (!sp->public_x || sp->public_n < 1)) ||
        (sp->resume_groups && (sp->start_round < 0 || sp->start_round > sp->cfg->rounds ||
                               sp->resume_ngroups < 1 || sp->resume_ngroups > sp->clients ||
                               sp->resume_proxy_reverts < 0 || sp->resume_krum_fallbacks < 0 ||
                               sp->resume_krum_smallest < 0)))
        return p4_error_set(err, P4_EINVAL, "protocol: bad arguments");
    run r = { .spec = sp, .res = res, .self = sp->peer->id, .n = sp->clients,
              .proxy_size = p4_client_proxy_size(sp->peer->client) };
    /* Kept when the proxy is shared (below one_round's local step). */
    int shares = sp->method != P4_METHOD_LOCAL && !sp->logits_mode;
    if (sp->resume_own_proxy && (!sp->resume_groups || !shares ||
                                 sp->resume_own_count != r.proxy_size))
        return p4_error_set(err, P4_EINVAL, "protocol: a resumed own proxy of %zu floats for a "
                            "%s of %zu floats%s", sp->resume_own_count,
                            shares ? "proxy" : "proxy that is not shared", r.proxy_size,
                            sp->resume_groups ? "" : " without resume_groups");
    res->dropped = res->missing = res->unreachable = res->refused = 0;
    res->stopped = res->rounds_done = res->resynced = 0;
    res->krum_fallbacks = res->krum_smallest = res->proxy_reverts = 0;
    const p4_protocol_control *ctl = &sp->control;
    p4_replay_guard *guard = NULL;
    int rc = p4_replay_guard_new(&guard, r.n, err);
    if (rc == P4_OK)
        rc = p4_sender_new(&r.sender, sp->transport, (uint32_t)r.self, sp->epoch, err);
    r.receiver = (p4_receiver){ .transport = sp->transport, .guard = guard, .log = sp->log,
                                .self_id = r.self };
    float *proxy = malloc(r.proxy_size * sizeof(float));
    unsigned char *want = malloc((size_t)r.n);
    r.waiting_for = malloc((size_t)r.n);
    held **got = calloc((size_t)r.n, sizeof *got);
    r.in_run = malloc((size_t)r.n);
    r.latest = malloc((size_t)r.n * sizeof *r.latest);
    r.past = malloc((size_t)r.n);
    r.epoch_of = calloc((size_t)r.n, sizeof *r.epoch_of);
    r.last.sent_to = calloc((size_t)r.n, 1);
    r.last.type = -1;
    if (shares && !(r.own_proxy = malloc(r.proxy_size * sizeof(float))) && rc == P4_OK)
        rc = p4_error_set(err, P4_ENOMEM, "protocol: out of memory");
    r.wire_size = p4_proxy_share_size(sp->peer->client);
    if (shares && r.wire_size < r.proxy_size && !(r.wire = malloc(r.wire_size * sizeof(float))) &&
        rc == P4_OK)
        rc = p4_error_set(err, P4_ENOMEM, "protocol: out of memory");
    for (int j = 0; r.latest && j < r.n; j++)
        r.latest[j] = -1;
    if (rc == P4_OK && (!proxy || !want || !got || !r.waiting_for || !r.in_run || !r.latest ||
                        !r.past || !r.epoch_of || !r.last.sent_to))
        rc = p4_error_set(err, P4_ENOMEM, "protocol: out of memory");
    if (rc == P4_OK)
        rc = admit(&r, err); /* before anything leaves this peer */
    if (rc == P4_OK && (poisons_messages(&r) || lies_in_grouping(&r))) {
        /* The attacker's noise is no secret: it is an attacker. */
        p4_ziggurat_init(&r.attack_normal);
        if (!(r.initial_proxy = malloc(r.proxy_size * sizeof(float))))
            rc = p4_error_set(err, P4_ENOMEM, "protocol: out of memory");
        else if ((rc = p4_client_get_proxy(sp->peer->client, r.initial_proxy, r.proxy_size)) != P4_OK ||
                 (rc = p4_rng_init_seeded(&r.attack_rng, sp->cfg->seed + (uint64_t)r.self,
                                          "attack-noise")) != P4_OK)
            p4_error_set(err, rc, "peer %d: cannot set up its attack", r.self);
    }
    /* The membership's start: the join (a node), or nothing (`p4 sim`). */
    int started = 0;
    if (rc == P4_OK && ctl->start) {
        rc = ctl->start(ctl->user, &r, err);
        started = 1;
    }
    if (rc == P4_OK && stop_requested(&r))
        rc = STOPPED;
    if (rc == P4_OK && sp->resume_groups) {
        memcpy(res->group_of, sp->resume_groups, (size_t)r.n * sizeof *res->group_of);
        res->ngroups = sp->resume_ngroups;
        res->rounds_done = sp->start_round;
        res->proxy_reverts = sp->resume_proxy_reverts;
        res->krum_fallbacks = sp->resume_krum_fallbacks;
        res->krum_smallest = sp->resume_krum_smallest;
        if (sp->resume_own_proxy) { /* the proxy it resumes with averaged peers' */
            memcpy(r.own_proxy, sp->resume_own_proxy, r.proxy_size * sizeof(float));
            r.from_peers = 1;
        }
    } else if (rc == P4_OK && sp->method == P4_METHOD_P4) {
        tell_phase(&r, P4_PHASE_WARMUP, -1);
        compute_begin(&r);
        rc = p4_client_warmup(sp->peer->client, sp->cfg->warmup_epochs, err);
        if (rc == P4_OK && (rc = p4_client_get_proxy(sp->peer->client, proxy, r.proxy_size)) != P4_OK)
            p4_error_set(err, rc, "peer %d: cannot read its proxy", r.self);
        compute_end(&r);
        memset(want, 1, (size_t)r.n);
        want[r.self] = 0;
        tell_phase(&r, P4_PHASE_GROUPING, -1);
        if (rc == P4_OK && stop_requested(&r))
            rc = STOPPED;
        if (rc == P4_OK)
            rc = group_peers(&r, proxy, want, got, err);
        if (rc == P4_OK && sp->hooks.checkpoint)
            rc = sp->hooks.checkpoint(sp->hooks.user, r.self, 0, res, NULL,
                                      err); /* the warm-up proxy: its own */
    } else if (rc == P4_OK) {
        baseline_groups(&r);
    }
    for (int round = sp->resume_groups ? sp->start_round : 0;
         rc == P4_OK && round < sp->cfg->rounds; round++) {
        if (stop_requested(&r)) {
            rc = STOPPED; /* between rounds: every finished round is recorded */
            break;
        }
        tell_phase(&r, P4_PHASE_TRAINING, round);
        rc = one_round(&r, round, proxy, want, got, err);
        double accuracy;
        if (rc == P4_OK && sp->hooks.round_done && (rc = evaluate(&r, &accuracy, err)) == P4_OK)
            sp->hooks.round_done(sp->hooks.user, r.self, round, accuracy);
        if (rc == P4_OK)
            res->rounds_done = round + 1;
        if (rc == P4_OK && sp->hooks.checkpoint)
            rc = sp->hooks.checkpoint(sp->hooks.user, r.self, round + 1, res,
                                      r.from_peers ? r.own_proxy : NULL, err);
    }
    if (rc == P4_OK)
        rc = evaluate(&r, &res->accuracy, err);
    if (rc == STOPPED) {
        res->stopped = 1;
        rc = P4_OK;
        if (sp->log)
            fprintf(sp->log, "p4 peer %d: stopped on request after %d of %d rounds\n", r.self,
                    res->rounds_done, sp->cfg->rounds);
    }
    tell_phase(&r, P4_PHASE_FINISHED, res->rounds_done);
    if (started && ctl->finish)
        ctl->finish(ctl->user, &r);
    while (r.stash) {
        held *m = r.stash;
        r.stash = m->next;
        held_free(&m);
    }
    free(proxy);
    free(want);
    free(r.waiting_for);
    free(got);
    free(r.in_run);
    free(r.latest);
    free(r.past);
    free(r.epoch_of);
    free(r.last.sent_to);
    free(r.last.values);
    p4_sender_destroy(&r.sender);
    p4_replay_guard_destroy(&guard);
    free(r.initial_proxy);
    free(r.own_proxy);
    free(r.wire);
    free(r.private_copy);
    return rc;
}
