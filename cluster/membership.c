/* membership.c: joining, the member list, heartbeats; see membership.h. */
#define _GNU_SOURCE /* open_memstream */
#include "cluster/membership.h"

#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/identity.h"
#include "cluster/wire.h"
#include "common/progress.h"
#include "common/rng.h"

typedef struct member {
    int known;                   /* endpoint and key known, bound in the transport */
    int listed;                  /* named by the config's peers                  */
    int ready;                   /* it knows us (listed in a static config, or we
                                    said HELLO): heartbeats and MEMBERS may go   */
    int ignored_logged;          /* "not admitted" said once                     */
    int confirmed;               /* it showed it knows us (so it admits our key) */
    int dialled_early;           /* we dialled it before it was confirmed        */
    char endpoint[P4_WIRE_MAX_ENDPOINT + 1];
    uint8_t key[32];
    int heard_ever;              /* a peer never heard is not yet up, not dead   */
    double last_heard;
    int down;                    /* reported silent since it was last heard      */
    int bye;                     /* said BYE                                     */
} member;

struct p4_membership {
    p4_membership_options o;
    char endpoint[P4_WIRE_MAX_ENDPOINT + 1];
    uint8_t key[32], digest[32];
    uint8_t (*admitted)[32];
    size_t admitted_count;
    member *m;                   /* clients entries; self included              */
    int known;
    pthread_mutex_t lock;        /* the heartbeat thread reads the list and times */
    p4_protocol_link *link;
    pthread_t thread;
    int thread_running;
    atomic_int quit, phase, round;
    int joining;                 /* in the start hook's join loop               */
};

static void say(const p4_membership *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const p4_membership *m, const char *fmt, ...)
{
    if (m->o.log == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(m->o.log, "p4 node %d: ", m->o.self);
    vfprintf(m->o.log, fmt, ap);
    fputc('\n', m->o.log);
    fflush(m->o.log);
    va_end(ap);
}

int p4_membership_new(p4_membership **out, const p4_membership_options *o, p4_error *err)
{
    if (out == NULL || o == NULL || o->transport == NULL || o->endpoint == NULL ||
        o->public_key == NULL || o->config_digest == NULL ||
        (o->admitted == NULL && o->admitted_count > 0))
        return p4_error_set(err, P4_EINVAL, "p4_membership_new: NULL argument");
    *out = NULL;
    if (o->clients < 1 || o->clients > P4_WIRE_MAX_NODES || o->self < 0 || o->self >= o->clients)
        return p4_error_set(err, P4_EINVAL, "membership: node %d of %d clients", o->self,
                            o->clients);
    if (!(o->heartbeat > 0) || !(o->dead_after > o->heartbeat) || !(o->join_timeout > 0))
        return p4_error_set(err, P4_EINVAL, "membership: heartbeat %g s, dead after %g s, join "
                            "timeout %g s (want 0 < heartbeat < dead_after, timeout > 0)",
                            o->heartbeat, o->dead_after, o->join_timeout);
    if (strlen(o->endpoint) == 0 || strlen(o->endpoint) > P4_WIRE_MAX_ENDPOINT)
        return p4_error_set(err, P4_EINVAL, "membership: endpoint missing or over %d bytes",
                            P4_WIRE_MAX_ENDPOINT);
    p4_membership *m = calloc(1, sizeof *m);
    if (m == NULL)
        return p4_error_set(err, P4_ENOMEM, "membership: no memory");
    m->m = calloc((size_t)o->clients, sizeof *m->m);
    m->admitted = calloc(o->admitted_count + (size_t)o->clients, sizeof *m->admitted);
    if (m->m == NULL || m->admitted == NULL) {
        free(m->m);
        free(m->admitted);
        free(m);
        return p4_error_set(err, P4_ENOMEM, "membership: no memory");
    }
    m->o = *o;
    m->o.admitted = NULL;
    if (o->admitted_count > 0)
        memcpy(m->admitted, o->admitted, o->admitted_count * sizeof *m->admitted);
    m->admitted_count = o->admitted_count;
    snprintf(m->endpoint, sizeof m->endpoint, "%s", o->endpoint);
    memcpy(m->key, o->public_key, 32);
    memcpy(m->digest, o->config_digest, 32);
    pthread_mutex_init(&m->lock, NULL);
    member *me = &m->m[o->self];
    me->known = me->ready = me->confirmed = 1;
    snprintf(me->endpoint, sizeof me->endpoint, "%s", o->endpoint);
    memcpy(me->key, o->public_key, 32);
    m->known = 1;
    atomic_store(&m->round, -1);
    *out = m;
    return P4_OK;
}

static void stop_heartbeats(p4_membership *m)
{
    if (m->thread_running) {
        atomic_store(&m->quit, 1);
        pthread_join(m->thread, NULL);
        m->thread_running = 0;
    }
}

void p4_membership_destroy(p4_membership **mp)
{
    if (mp == NULL || *mp == NULL)
        return;
    p4_membership *m = *mp;
    stop_heartbeats(m);
    pthread_mutex_destroy(&m->lock);
    free(m->m);
    free(m->admitted);
    free(m);
    *mp = NULL;
}

int p4_membership_complete(const p4_membership *m)
{
    return m != NULL && m->known == m->o.clients;
}

/* Every member known and confirmed: the join is over. */
static int joined(const p4_membership *m)
{
    if (!p4_membership_complete(m))
        return 0;
    for (int id = 0; id < m->o.clients; id++)
        if (!m->m[id].confirmed)
            return 0;
    return 1;
}

int p4_membership_known(const p4_membership *m)
{
    return m != NULL ? m->known : 0;
}

/* ---- learning members (caller holds the lock) ---------------------------------- */

static int is_admitted(const p4_membership *m, const uint8_t key[32])
{
    for (size_t i = 0; i < m->admitted_count; i++)
        if (memcmp(m->admitted[i], key, 32) == 0)
            return 1;
    return 0;
}

/* Binds id to endpoint and key; *changed when it was not known. */
static int learn(p4_membership *m, int id, const char *endpoint, const uint8_t key[32],
                 const char *how, int *changed, p4_error *err)
{
    member *p = &m->m[id];
    if (p->known && strcmp(p->endpoint, endpoint) == 0 && memcmp(p->key, key, 32) == 0)
        return P4_OK;
    p4_error why = {0};
    int rc = p4_transport_add_peer(m->o.transport, id, endpoint, key, &why);
    if (rc == P4_EPEER || rc == P4_EINVAL) {
        say(m, "cannot use member %d at %s (%s): %s", id, endpoint, how, why.message);
        return P4_OK; /* a bad entry is skipped, not fatal */
    }
    if (rc != P4_OK) {
        if (err)
            *err = why;
        return rc;
    }
    int fresh = !p->known;
    p->known = 1;
    p->dialled_early = !p->confirmed;
    snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    memcpy(p->key, key, 32);
    if (fresh) {
        m->known++;
        *changed = 1;
        char z85[P4_KEY_Z85_CHARS + 1];
        p4_key_to_z85(key, z85);
        say(m, "member %d at %s (key %s, %s); %d of %d members known", id, endpoint, z85, how,
            m->known, m->o.clients);
    } else {
        say(m, "member %d moved to %s (%s)", id, endpoint, how);
    }
    return P4_OK;
}

static int send_hello(p4_membership *m, p4_protocol_link *link, int to, p4_error *err)
{
    p4_wire_message msg;
    memset(&msg, 0, sizeof msg);
    msg.header.type = P4_WIRE_HELLO;
    msg.header.round = -1;
    p4_wire_hello *h = &msg.body.hello;
    h->node_id = (uint32_t)m->o.self;
    h->clients = (uint32_t)m->o.clients;
    memcpy(h->config_digest, m->digest, 32);
    snprintf(h->endpoint, sizeof h->endpoint, "%s", m->endpoint);
    memcpy(h->public_key, m->key, 32);
    /* The nonce is the attestation challenge (issue 13); no evidence yet. */
    p4_rng rng;
    if (p4_rng_init_secure(&rng) == P4_OK) {
        p4_rng_bytes(&rng, h->nonce, sizeof h->nonce);
        p4_rng_wipe(&rng);
    }
    int rc = p4_protocol_link_send(link, to, &msg, err);
    return rc == P4_EPEER ? P4_OK : rc; /* not up yet: ZeroMQ keeps trying */
}

/* The list as this node knows it. */
static int send_members(p4_membership *m, p4_protocol_link *link, int to, p4_error *err)
{
    p4_wire_member *entries = calloc((size_t)m->known, sizeof *entries);
    if (entries == NULL)
        return p4_error_set(err, P4_ENOMEM, "membership: no memory");
    uint32_t count = 0;
    for (int id = 0; id < m->o.clients; id++) {
        const member *p = &m->m[id];
        if (!p->known)
            continue;
        p4_wire_member *e = &entries[count++];
        e->id = (uint32_t)id;
        snprintf(e->endpoint, sizeof e->endpoint, "%s", p->endpoint);
        memcpy(e->public_key, p->key, 32);
    }
    p4_wire_message msg;
    memset(&msg, 0, sizeof msg);
    msg.header.type = P4_WIRE_MEMBERS;
    msg.header.round = -1;
    msg.body.members = (p4_wire_members){ entries, count };
    int rc = p4_protocol_link_send(link, to, &msg, err);
    free(entries);
    return rc == P4_EPEER ? P4_OK : rc;
}

/* After the list grew: everyone that knows us hears the new list. */
static int spread(p4_membership *m, p4_protocol_link *link, p4_error *err)
{
    int rc = P4_OK;
    for (int id = 0; id < m->o.clients && rc == P4_OK; id++)
        if (id != m->o.self && m->m[id].known && m->m[id].ready)
            rc = send_members(m, link, id, err);
    return rc;
}

/* Member id showed it knows this node.  While joining, a connection
 * dialled before then is dialled again (its first handshake may have been
 * refused for good), with a fresh HELLO. */
static int confirm(p4_membership *m, p4_protocol_link *link, int id, p4_error *err)
{
    member *p = &m->m[id];
    if (p->confirmed || !p->known)
        return P4_OK;
    p->confirmed = 1;
    if (!m->joining || !p->dialled_early || m->o.redial == NULL)
        return P4_OK;
    p->dialled_early = 0;
    int rc = m->o.redial(m->o.transport, id, err);
    return rc == P4_OK ? send_hello(m, link, id, err) : rc;
}

static int on_hello(p4_membership *m, p4_protocol_link *link, const p4_wire_hello *h,
                    p4_error *err)
{
    int id = (int)h->node_id;
    char z85[P4_KEY_Z85_CHARS + 1];
    p4_key_to_z85(h->public_key, z85);
    if ((int)h->clients != m->o.clients || memcmp(h->config_digest, m->digest, 32) != 0) {
        say(m, "refused HELLO from node %d (key %s): it runs another experiment (%u clients; "
            "its [data], [model], [dp], [p4] or [attack] differ from ours)", id, z85, h->clients);
        return P4_OK;
    }
    if (id == m->o.self) {
        say(m, "refused HELLO from key %s: it claims this node's own id %d", z85, id);
        return P4_OK;
    }
    member *p = &m->m[id];
    if (p->known && memcmp(p->key, h->public_key, 32) != 0) {
        say(m, "refused HELLO from key %s: member %d is known with another key", z85, id);
        return P4_OK;
    }
    int changed = 0;
    int rc = learn(m, id, h->endpoint, h->public_key, "said HELLO", &changed, err);
    if (rc != P4_OK || !m->m[id].known)
        return rc;
    m->m[id].ready = 1; /* it knows us: it just greeted us */
    if ((rc = confirm(m, link, id, err)) != P4_OK)
        return rc;
    if (changed)
        return spread(m, link, err); /* the newcomer included */
    return send_members(m, link, id, err);
}

static int on_members(p4_membership *m, p4_protocol_link *link, int from,
                      const p4_wire_members *list, p4_error *err)
{
    int changed = 0, rc = P4_OK;
    int vouched_ok = m->o.trust_bootstrap && m->m[from].listed;
    for (uint32_t i = 0; i < list->count && rc == P4_OK; i++)
        if ((int)list->entries[i].id == m->o.self &&
            memcmp(list->entries[i].public_key, m->key, 32) == 0)
            rc = confirm(m, link, from, err); /* it lists us: it knows us */
    for (uint32_t i = 0; i < list->count && rc == P4_OK; i++) {
        const p4_wire_member *e = &list->entries[i];
        int id = (int)e->id;
        if (id >= m->o.clients || id == m->o.self)
            continue;
        member *p = &m->m[id];
        if (p->known) {
            if (memcmp(p->key, e->public_key, 32) != 0 && !p->ignored_logged) {
                say(m, "peer %d lists member %d with another key than the one it has here; "
                    "kept ours", from, id);
                p->ignored_logged = 1;
            }
            continue;
        }
        char z85[P4_KEY_Z85_CHARS + 1];
        p4_key_to_z85(e->public_key, z85);
        if (!is_admitted(m, e->public_key)) {
            if (!vouched_ok) {
                if (!p->ignored_logged)
                    say(m, "ignored member %d (key %s) from peer %d's list: the key is not in "
                        "[node] peers or allow%s", id, z85, from,
                        m->o.trust_bootstrap ? ", and that peer is not a bootstrap peer"
                                             : " (and trust_bootstrap is off)");
                p->ignored_logged = 1;
                continue;
            }
            if (m->o.allow == NULL ||
                (rc = m->o.allow(m->o.transport, e->public_key, err)) != P4_OK)
                return rc != P4_OK ? rc
                                   : p4_error_set(err, P4_EUNSUPPORTED, "membership: this "
                                                  "transport cannot admit keys at run time");
            memcpy(m->admitted[m->admitted_count++], e->public_key, 32);
            say(m, "admitted key %s of member %d: bootstrap peer %d vouches for it "
                "(trust_bootstrap)", z85, id, from);
        }
        int learned = 0;
        rc = learn(m, id, e->endpoint, e->public_key, "listed by a member", &learned, err);
        if (rc == P4_OK && learned) {
            changed = 1;
            rc = send_hello(m, link, id, err); /* so that it binds our key to our id */
            p->ready = 1;
        }
    }
    if (rc == P4_OK && changed)
        rc = spread(m, link, err);
    return rc;
}

/* ---- the protocol's control hooks --------------------------------------------- */

static int control_message(void *user, p4_protocol_link *link, const p4_wire_message *msg,
                           int from, p4_error *err)
{
    p4_membership *m = user;
    int rc = P4_OK;
    pthread_mutex_lock(&m->lock);
    switch (msg->header.type) {
    case P4_WIRE_HELLO: rc = on_hello(m, link, &msg->body.hello, err); break;
    case P4_WIRE_MEMBERS:
        if (from >= 0 && from < m->o.clients)
            rc = on_members(m, link, from, &msg->body.members, err);
        break;
    case P4_WIRE_BYE:
        if (from >= 0 && from < m->o.clients && !m->m[from].bye) {
            m->m[from].bye = 1;
            say(m, "peer %d said BYE: it is left out until it is heard again", from);
        }
        break;
    default: break; /* HEARTBEAT: being heard is all it says */
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static void control_heard(void *user, int from)
{
    p4_membership *m = user;
    if (from < 0 || from >= m->o.clients)
        return;
    pthread_mutex_lock(&m->lock);
    member *p = &m->m[from];
    double now = p4_now_seconds();
    if (p->down)
        say(m, "peer %d is back after %.1f s of silence: it rejoins its group at the next "
            "exchange", from, now - p->last_heard);
    p->down = p->bye = 0;
    p->heard_ever = 1;
    p->last_heard = now;
    pthread_mutex_unlock(&m->lock);
}

static int control_silent(void *user, int peer, double *seconds)
{
    p4_membership *m = user;
    if (peer < 0 || peer >= m->o.clients)
        return 0;
    pthread_mutex_lock(&m->lock);
    member *p = &m->m[peer];
    double quiet = p4_now_seconds() - p->last_heard;
    /* Never heard: still starting (the exchange's timeout covers it). */
    int silent = p->known && p->heard_ever && (p->bye || quiet > m->o.dead_after);
    if (silent)
        p->down = 1;
    pthread_mutex_unlock(&m->lock);
    *seconds = quiet;
    return silent;
}

static void control_phase(void *user, int phase, int round)
{
    p4_membership *m = user;
    atomic_store(&m->phase, phase);
    atomic_store(&m->round, round < -1 ? -1 : round);
}

static void nap(double seconds)
{
    struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
    nanosleep(&ts, NULL);
}

/* Every `heartbeat` seconds, a HEARTBEAT to each member that knows us.  A
 * node that was itself stopped (SIGSTOP, a swapped-out VM) finds its clock
 * jumped: it then forgives its peers the silence it did not hear. */
static void *heartbeat_main(void *arg)
{
    p4_membership *m = arg;
    int n = m->o.clients;
    int *to = malloc((size_t)n * sizeof *to);
    double last = p4_now_seconds();
    while (to != NULL && !atomic_load(&m->quit)) {
        for (double slept = 0; slept < m->o.heartbeat && !atomic_load(&m->quit); slept += 0.05)
            nap(m->o.heartbeat - slept < 0.05 ? m->o.heartbeat - slept : 0.05);
        if (atomic_load(&m->quit))
            break;
        double now = p4_now_seconds();
        int count = 0;
        pthread_mutex_lock(&m->lock);
        if (now - last > m->o.heartbeat + m->o.dead_after / 2) {
            for (int id = 0; id < n; id++)
                m->m[id].last_heard = now;
            say(m, "this node itself was stalled for %.1f s: its peers' silence meanwhile is "
                "not held against them", now - last);
        }
        for (int id = 0; id < n; id++)
            if (id != m->o.self && m->m[id].known && m->m[id].ready)
                to[count++] = id;
        pthread_mutex_unlock(&m->lock);
        last = now;
        for (int i = 0; i < count; i++) {
            p4_wire_message msg;
            memset(&msg, 0, sizeof msg);
            msg.header.type = P4_WIRE_HEARTBEAT;
            msg.header.round = atomic_load(&m->round);
            msg.body.heartbeat.phase = (uint32_t)atomic_load(&m->phase);
            p4_protocol_link_send(m->link, to[i], &msg, NULL); /* a full queue: skip it */
        }
    }
    free(to);
    return NULL;
}

static int control_start(void *user, p4_protocol_link *link, p4_error *err)
{
    p4_membership *m = user;
    m->link = link;
    double start = p4_now_seconds();
    int rc = P4_OK;
    pthread_mutex_lock(&m->lock);
    for (int id = 0; id < m->o.clients; id++)
        m->m[id].last_heard = start;
    int static_list = p4_membership_complete(m);
    for (int id = 0; id < m->o.clients && rc == P4_OK; id++) {
        member *p = &m->m[id];
        if (id == m->o.self || !p->listed)
            continue;
        if (static_list) {
            p->ready = p->confirmed = 1; /* every config lists every member: nothing to say */
        } else {
            rc = send_hello(m, link, id, err);
            p->ready = 1;
        }
    }
    pthread_mutex_unlock(&m->lock);
    atomic_store(&m->phase, P4_PHASE_JOINING);
    if (rc == P4_OK && pthread_create(&m->thread, NULL, heartbeat_main, m) == 0)
        m->thread_running = 1;
    else if (rc == P4_OK)
        rc = p4_error_set(err, P4_ENET, "node %d: cannot start the heartbeat thread", m->o.self);
    if (rc != P4_OK || static_list)
        return rc;
    say(m, "joining: %d of %d members known; said HELLO to the listed peer(s)", m->known,
        m->o.clients);
    pthread_mutex_lock(&m->lock); /* the loop reads the list between messages */
    double deadline = start + m->o.join_timeout;
    m->joining = 1;
    while (!joined(m) && !p4_protocol_link_stopping(link)) {
        double now = p4_now_seconds();
        if (now >= deadline) {
            char missing[256] = "";
            size_t used = 0;
            for (int id = 0; id < m->o.clients && used < sizeof missing - 16; id++)
                if (!m->m[id].confirmed)
                    used += (size_t)snprintf(missing + used, sizeof missing - used, "%s%d",
                                             used ? ", " : "", id);
            m->joining = 0;
            pthread_mutex_unlock(&m->lock);
            return p4_error_set(err, P4_ETIMEOUT, "node %d: joined %d of %d members in %.0f s; "
                                "member(s) %s never answered (are they running, do they admit "
                                "this node's key, and are theirs in [node] allow?)", m->o.self,
                                m->known, m->o.clients, now - start, missing);
        }
        pthread_mutex_unlock(&m->lock);
        rc = p4_protocol_link_pump(link, now + 0.2 < deadline ? now + 0.2 : deadline, err);
        pthread_mutex_lock(&m->lock);
        if (rc != P4_OK && rc != P4_ETIMEOUT) {
            m->joining = 0;
            pthread_mutex_unlock(&m->lock);
            return rc;
        }
    }
    m->joining = 0;
    pthread_mutex_unlock(&m->lock);
    if (joined(m))
        say(m, "joined: all %d members known after %.1f s", m->o.clients,
            p4_now_seconds() - start);
    return P4_OK;
}

static void control_finish(void *user, p4_protocol_link *link)
{
    p4_membership *m = user;
    stop_heartbeats(m);
    /* BYE: the others stop waiting for this node at once. */
    for (int id = 0; id < m->o.clients; id++) {
        if (id == m->o.self || !m->m[id].known || !m->m[id].ready)
            continue;
        p4_wire_message msg;
        memset(&msg, 0, sizeof msg);
        msg.header.type = P4_WIRE_BYE;
        msg.header.round = atomic_load(&m->round);
        p4_protocol_link_send(link, id, &msg, NULL);
    }
    m->link = NULL;
}

void p4_membership_control(p4_membership *m, p4_protocol_control *c)
{
    if (m == NULL || c == NULL)
        return;
    *c = (p4_protocol_control){ .user = m, .start = control_start, .message = control_message,
                                .heard = control_heard, .silent = control_silent,
                                .phase = control_phase, .finish = control_finish };
}

int p4_membership_add_listed(p4_membership *m, int id, const char *endpoint,
                             const uint8_t key[32], p4_error *err)
{
    if (m == NULL || endpoint == NULL || key == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_membership_add_listed: NULL argument");
    if (id < 0 || id >= m->o.clients || id == m->o.self)
        return p4_error_set(err, P4_EINVAL, "membership: listed peer %d (node %d of %d)", id,
                            m->o.self, m->o.clients);
    pthread_mutex_lock(&m->lock);
    member *p = &m->m[id];
    int rc = p4_transport_add_peer(m->o.transport, id, endpoint, key, err);
    if (rc == P4_OK) {
        m->known += !p->known;
        p->known = p->listed = 1;
        snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
        memcpy(p->key, key, 32);
    }
    pthread_mutex_unlock(&m->lock);
    return rc;
}

/* ---- the experiment's digest ------------------------------------------------- */

int p4_membership_config_digest(const p4_config *cfg, uint8_t digest[32], p4_error *err)
{
    if (cfg == NULL || digest == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_membership_config_digest: NULL argument");
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    if (f == NULL)
        return p4_error_set(err, P4_ENOMEM, "config digest: no memory");
    int rc = p4_config_write(cfg, f, err);
    fclose(f);
    if (rc != P4_OK) {
        free(text);
        return rc;
    }
    /* Everything but comments, [node] and [tee], and file paths. */
    static const char *const paths[] = { "path = ", "cfg = ", "proxy_cfg = ", "state = " };
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    int skip_section = 0;
    for (char *line = text; line && *line;) {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line) : strlen(line);
        if (line[0] == '[')
            skip_section = strncmp(line, "[node]", 6) == 0 || strncmp(line, "[tee]", 5) == 0;
        int skip = skip_section || line[0] == ';';
        for (size_t i = 0; i < sizeof paths / sizeof paths[0] && !skip; i++)
            skip = strncmp(line, paths[i], strlen(paths[i])) == 0;
        if (!skip) {
            crypto_generichash_update(&st, (const unsigned char *)line, n);
            crypto_generichash_update(&st, (const unsigned char *)"\n", 1);
        }
        line = end ? end + 1 : NULL;
    }
    free(text);
    return crypto_generichash_final(&st, digest, 32) == 0
               ? P4_OK
               : p4_error_set(err, P4_ECRYPTO, "config digest: hash failed");
}
