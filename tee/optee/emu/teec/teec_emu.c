/* teec_emu.c: the harness's TEE Client API.  A session is a TA process
 * (<ta_dir>/<uuid>.ta, spawned with the harness's argv contract, see
 * tee/optee/emu/tee/ta_process.c) connected by a SOCK_SEQPACKET socket pair;
 * memory references cross as memfds mapped on both sides.  A TA process
 * that ends (TEE_Panic, a crash) makes its session return
 * TEEC_ERROR_TARGET_DEAD, as OP-TEE does. */
#define _GNU_SOURCE
#include "tee_client_api.h"
#include "tee_client_emu.h"
#include "tee/optee/emu/wire.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P4_TEEC_EMU_DEFAULT_TA_DIR
#define P4_TEEC_EMU_DEFAULT_TA_DIR "."
#endif

extern char **environ;

static int copy_path(char *dst, size_t size, const char *src)
{
    int n = snprintf(dst, size, "%s", src);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

TEEC_Result TEEC_InitializeContext(const char *name, TEEC_Context *context)
{
    (void)name; /* one TEE: the harness */
    if (!context)
        return TEEC_ERROR_BAD_PARAMETERS;
    memset(context, 0, sizeof *context);
    if (copy_path(context->imp.ta_dir, sizeof context->imp.ta_dir, P4_TEEC_EMU_DEFAULT_TA_DIR))
        return TEEC_ERROR_GENERIC;
    context->imp.ta_memory_mib = 10;
    context->imp.initialized = 1;
    return TEEC_SUCCESS;
}

TEEC_Result p4_teec_emu_configure(TEEC_Context *context, const char *ta_dir,
                                  const char *storage_dir, uint32_t ta_memory_mib)
{
    if (!context || !context->imp.initialized || !storage_dir || ta_memory_mib == 0 ||
        ta_memory_mib > 4096)
        return TEEC_ERROR_BAD_PARAMETERS;
    if (ta_dir && copy_path(context->imp.ta_dir, sizeof context->imp.ta_dir, ta_dir))
        return TEEC_ERROR_BAD_PARAMETERS;
    if (copy_path(context->imp.storage_dir, sizeof context->imp.storage_dir, storage_dir))
        return TEEC_ERROR_BAD_PARAMETERS;
    context->imp.ta_memory_mib = ta_memory_mib;
    return TEEC_SUCCESS;
}

void TEEC_FinalizeContext(TEEC_Context *context)
{
    if (context)
        context->imp.initialized = 0;
}

/* A memfd of `size` bytes (at least one page's worth of address), mapped. */
static TEEC_Result memfd_map(size_t size, int *fd_out, void **map_out)
{
    int fd = memfd_create("p4-teec-shm", MFD_CLOEXEC);
    if (fd < 0)
        return TEEC_ERROR_OUT_OF_MEMORY;
    size_t len = size ? size : 1;
    if (ftruncate(fd, (off_t)len) != 0) {
        close(fd);
        return TEEC_ERROR_OUT_OF_MEMORY;
    }
    void *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        close(fd);
        return TEEC_ERROR_OUT_OF_MEMORY;
    }
    *fd_out = fd;
    *map_out = map;
    return TEEC_SUCCESS;
}

static TEEC_Result shared_memory_new(TEEC_Context *context, TEEC_SharedMemory *shm,
                                     int registered)
{
    if (!context || !context->imp.initialized || !shm)
        return TEEC_ERROR_BAD_PARAMETERS;
    if ((shm->flags & ~(TEEC_MEM_INPUT | TEEC_MEM_OUTPUT)) || shm->flags == 0 ||
        shm->size > TEEC_CONFIG_SHAREDMEM_MAX_SIZE || (registered && !shm->buffer && shm->size))
        return TEEC_ERROR_BAD_PARAMETERS;
    TEEC_Result r = memfd_map(shm->size, &shm->imp.memfd, &shm->imp.mapping);
    if (r != TEEC_SUCCESS)
        return r;
    shm->imp.registered = registered;
    if (!registered)
        shm->buffer = shm->imp.mapping;
    return TEEC_SUCCESS;
}

TEEC_Result TEEC_RegisterSharedMemory(TEEC_Context *context, TEEC_SharedMemory *sharedMem)
{
    /* The caller's buffer cannot be mapped into the TA process, so a memfd
     * shadows it and is synchronised around each invocation. */
    return shared_memory_new(context, sharedMem, 1);
}

TEEC_Result TEEC_AllocateSharedMemory(TEEC_Context *context, TEEC_SharedMemory *sharedMem)
{
    return shared_memory_new(context, sharedMem, 0);
}

void TEEC_ReleaseSharedMemory(TEEC_SharedMemory *sharedMem)
{
    if (!sharedMem || !sharedMem->imp.mapping)
        return;
    munmap(sharedMem->imp.mapping, sharedMem->size ? sharedMem->size : 1);
    close(sharedMem->imp.memfd);
    if (!sharedMem->imp.registered)
        sharedMem->buffer = NULL;
    sharedMem->imp.mapping = NULL;
    sharedMem->imp.memfd = -1;
}

/* What one invocation sends for its parameters and must undo afterwards. */
typedef struct {
    p4_emu_request req;
    int fds[P4_EMU_PARAMS];
    int nfds;
    int temp_fd[P4_EMU_PARAMS];      /* temporary memrefs' memfds */
    void *temp_map[P4_EMU_PARAMS];
    size_t temp_len[P4_EMU_PARAMS];
} marshalled;

static void marshalled_release(marshalled *m)
{
    for (int i = 0; i < P4_EMU_PARAMS; i++)
        if (m->temp_map[i]) {
            munmap(m->temp_map[i], m->temp_len[i]);
            close(m->temp_fd[i]);
            m->temp_map[i] = NULL;
        }
}

static int is_input(uint32_t t)
{
    return t == TEEC_VALUE_INPUT || t == TEEC_VALUE_INOUT || t == TEEC_MEMREF_TEMP_INPUT ||
           t == TEEC_MEMREF_TEMP_INOUT || t == TEEC_MEMREF_PARTIAL_INPUT ||
           t == TEEC_MEMREF_PARTIAL_INOUT;
}

static int is_output(uint32_t t)
{
    return t == TEEC_VALUE_OUTPUT || t == TEEC_VALUE_INOUT || t == TEEC_MEMREF_TEMP_OUTPUT ||
           t == TEEC_MEMREF_TEMP_INOUT || t == TEEC_MEMREF_PARTIAL_OUTPUT ||
           t == TEEC_MEMREF_PARTIAL_INOUT;
}

/* The direction flags a memref of type t needs from its shared memory. */
static uint32_t whole_flags(const TEEC_SharedMemory *shm)
{
    return shm->flags & (TEEC_MEM_INPUT | TEEC_MEM_OUTPUT);
}

static TEEC_Result marshal(TEEC_Operation *op, marshalled *m, uint64_t *bytes)
{
    memset(m, 0, sizeof *m);
    m->req.magic = P4_EMU_MAGIC;
    if (!op)
        return TEEC_SUCCESS;
    for (int i = 0; i < P4_EMU_PARAMS; i++) {
        uint32_t t = TEEC_PARAM_TYPE_GET(op->paramTypes, i);
        TEEC_Parameter *p = &op->params[i];
        p4_emu_param *w = &m->req.params[i];
        uint32_t tee_type = 0;
        switch (t) {
        case TEEC_NONE:
            break;
        case TEEC_VALUE_INPUT: case TEEC_VALUE_OUTPUT: case TEEC_VALUE_INOUT:
            tee_type = t;
            if (is_input(t)) {
                w->a = p->value.a;
                w->b = p->value.b;
                *bytes += 8;
            }
            break;
        case TEEC_MEMREF_TEMP_INPUT: case TEEC_MEMREF_TEMP_OUTPUT: case TEEC_MEMREF_TEMP_INOUT:
            tee_type = t;
            w->size = p->tmpref.size;
            if (!p->tmpref.buffer)
                break; /* a NULL buffer asks the TA for a size */
            if (p->tmpref.size > TEEC_CONFIG_SHAREDMEM_MAX_SIZE)
                return TEEC_ERROR_BAD_PARAMETERS;
            if (memfd_map(p->tmpref.size, &m->temp_fd[i], &m->temp_map[i]) != TEEC_SUCCESS)
                return TEEC_ERROR_OUT_OF_MEMORY;
            m->temp_len[i] = p->tmpref.size ? p->tmpref.size : 1;
            if (is_input(t)) {
                memcpy(m->temp_map[i], p->tmpref.buffer, p->tmpref.size);
                *bytes += p->tmpref.size;
            }
            w->has_fd = 1;
            m->fds[m->nfds++] = m->temp_fd[i];
            break;
        case TEEC_MEMREF_WHOLE: case TEEC_MEMREF_PARTIAL_INPUT:
        case TEEC_MEMREF_PARTIAL_OUTPUT: case TEEC_MEMREF_PARTIAL_INOUT: {
            TEEC_SharedMemory *shm = p->memref.parent;
            if (!shm || !shm->imp.mapping)
                return TEEC_ERROR_BAD_PARAMETERS;
            uint32_t need = t == TEEC_MEMREF_WHOLE ? whole_flags(shm)
                          : (uint32_t)((is_input(t) ? TEEC_MEM_INPUT : 0) |
                                       (is_output(t) ? TEEC_MEM_OUTPUT : 0));
            if ((need & shm->flags) != need)
                return TEEC_ERROR_BAD_PARAMETERS;
            size_t offset = t == TEEC_MEMREF_WHOLE ? 0 : p->memref.offset;
            size_t size = t == TEEC_MEMREF_WHOLE ? shm->size : p->memref.size;
            if (offset > shm->size || size > shm->size - offset)
                return TEEC_ERROR_BAD_PARAMETERS;
            tee_type = need == (TEEC_MEM_INPUT | TEEC_MEM_OUTPUT) ? 7u
                     : need == TEEC_MEM_INPUT ? 5u : 6u;
            if (shm->imp.registered && (need & TEEC_MEM_INPUT))
                memcpy((char *)shm->imp.mapping + offset, (char *)shm->buffer + offset, size);
            if (need & TEEC_MEM_INPUT)
                *bytes += size;
            w->size = size;
            w->offset = offset;
            w->has_fd = 1;
            m->fds[m->nfds++] = shm->imp.memfd;
            break;
        }
        default:
            return TEEC_ERROR_BAD_PARAMETERS;
        }
        m->req.param_types |= tee_type << (4 * i);
    }
    return TEEC_SUCCESS;
}

/* Copies outputs back into the operation (values and sizes always; memory
 * contents only on success, as the TA wrote them). */
static void unmarshal(TEEC_Operation *op, marshalled *m, const p4_emu_reply *rep,
                      uint64_t *bytes)
{
    if (!op)
        return;
    for (int i = 0; i < P4_EMU_PARAMS; i++) {
        uint32_t t = TEEC_PARAM_TYPE_GET(op->paramTypes, i);
        TEEC_Parameter *p = &op->params[i];
        const p4_emu_param *w = &rep->params[i];
        if (t == TEEC_VALUE_OUTPUT || t == TEEC_VALUE_INOUT) {
            p->value.a = w->a;
            p->value.b = w->b;
            *bytes += 8;
        } else if (t == TEEC_MEMREF_TEMP_OUTPUT || t == TEEC_MEMREF_TEMP_INOUT) {
            size_t n = w->size < p->tmpref.size ? (size_t)w->size : p->tmpref.size;
            if (rep->result == TEEC_SUCCESS && m->temp_map[i]) {
                memcpy(p->tmpref.buffer, m->temp_map[i], n);
                *bytes += n;
            }
            p->tmpref.size = (size_t)w->size;
        } else if (t == TEEC_MEMREF_WHOLE || t == TEEC_MEMREF_PARTIAL_OUTPUT ||
                   t == TEEC_MEMREF_PARTIAL_INOUT) {
            TEEC_SharedMemory *shm = p->memref.parent;
            size_t offset = t == TEEC_MEMREF_WHOLE ? 0 : p->memref.offset;
            size_t avail = t == TEEC_MEMREF_WHOLE ? shm->size : p->memref.size;
            int out = t == TEEC_MEMREF_WHOLE ? (shm->flags & TEEC_MEM_OUTPUT) != 0 : 1;
            if (out && rep->result == TEEC_SUCCESS) {
                size_t n = w->size < avail ? (size_t)w->size : avail;
                if (shm->imp.registered)
                    memcpy((char *)shm->buffer + offset, (char *)shm->imp.mapping + offset, n);
                *bytes += n;
            }
            if (out)
                p->memref.size = (size_t)w->size;
        }
    }
}

static void session_reap(TEEC_Session *s)
{
    if (s->imp.socket >= 0)
        close(s->imp.socket);
    s->imp.socket = -1;
    if (s->imp.pid > 0) {
        int status;
        while (waitpid(s->imp.pid, &status, 0) < 0 && errno == EINTR)
            ;
    }
    s->imp.pid = 0;
    s->imp.dead = 1;
}

static void set_origin(uint32_t *origin, uint32_t value)
{
    if (origin)
        *origin = value;
}

/* One round trip; a TA that has gone makes the session dead. */
static TEEC_Result exchange(TEEC_Session *s, uint32_t kind, uint32_t command,
                            TEEC_Operation *op, uint32_t *origin)
{
    marshalled m;
    TEEC_Context *c = s->imp.context;
    TEEC_Result r = marshal(op, &m, &c->imp.bytes_in);
    if (r != TEEC_SUCCESS) {
        marshalled_release(&m);
        set_origin(origin, TEEC_ORIGIN_API);
        return r;
    }
    m.req.kind = kind;
    m.req.command = command;
    p4_emu_reply rep;
    int fds[P4_EMU_PARAMS], nfds = 0, got = -1;
    if (p4_emu_send(s->imp.socket, &m.req, sizeof m.req, m.fds, m.nfds) == 0)
        got = p4_emu_recv(s->imp.socket, &rep, sizeof rep, fds, P4_EMU_PARAMS, &nfds);
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    if (got != 1 || nfds != 0 || rep.magic != P4_EMU_MAGIC) {
        marshalled_release(&m);
        session_reap(s);
        set_origin(origin, TEEC_ORIGIN_TEE);
        return TEEC_ERROR_TARGET_DEAD;
    }
    unmarshal(op, &m, &rep, &c->imp.bytes_out);
    marshalled_release(&m);
    set_origin(origin, rep.origin);
    return rep.result;
}

static void uuid_text(const TEEC_UUID *u, char out[37])
{
    snprintf(out, 37, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", u->timeLow,
             u->timeMid, u->timeHiAndVersion, u->clockSeqAndNode[0], u->clockSeqAndNode[1],
             u->clockSeqAndNode[2], u->clockSeqAndNode[3], u->clockSeqAndNode[4],
             u->clockSeqAndNode[5], u->clockSeqAndNode[6], u->clockSeqAndNode[7]);
}

/* Spawns <ta_dir>/<uuid>.ta with fd 3 its end of the socket pair and its
 * storage <storage_dir>/<uuid>, made here if missing. */
static TEEC_Result spawn_ta(TEEC_Context *c, const TEEC_UUID *uuid, int *sock, int *pid)
{
    char name[37], path[600], storage[600], mib[16];
    uuid_text(uuid, name);
    if (snprintf(path, sizeof path, "%s/%s.ta", c->imp.ta_dir, name) >= (int)sizeof path ||
        snprintf(storage, sizeof storage, "%s/%s", c->imp.storage_dir, name) >= (int)sizeof storage)
        return TEEC_ERROR_BAD_PARAMETERS;
    if (access(path, X_OK) != 0)
        return TEEC_ERROR_ITEM_NOT_FOUND;
    if (mkdir(storage, 0700) != 0 && errno != EEXIST)
        return TEEC_ERROR_GENERIC;
    snprintf(mib, sizeof mib, "%u", c->imp.ta_memory_mib);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return TEEC_ERROR_COMMUNICATION;
    if (sv[1] == 3) { /* dup2(3, 3) would keep close-on-exec */
        int moved = fcntl(sv[1], F_DUPFD_CLOEXEC, 4);
        close(sv[1]);
        sv[1] = moved;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    char *argv[] = { path, "3", mib, storage, NULL };
    pid_t child;
    int rc = sv[1] < 0 ? -1 : posix_spawn(&child, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (sv[1] >= 0)
        close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return TEEC_ERROR_ITEM_NOT_FOUND;
    }
    *sock = sv[0];
    *pid = child;
    return TEEC_SUCCESS;
}

TEEC_Result TEEC_OpenSession(TEEC_Context *context, TEEC_Session *session,
                             const TEEC_UUID *destination, uint32_t connectionMethod,
                             const void *connectionData, TEEC_Operation *operation,
                             uint32_t *returnOrigin)
{
    set_origin(returnOrigin, TEEC_ORIGIN_API);
    if (!context || !context->imp.initialized || !session || !destination)
        return TEEC_ERROR_BAD_PARAMETERS;
    if (connectionMethod != TEEC_LOGIN_PUBLIC || connectionData)
        return TEEC_ERROR_NOT_SUPPORTED; /* the harness knows no identities */
    if (context->imp.storage_dir[0] == '\0')
        return TEEC_ERROR_BAD_STATE; /* p4_teec_emu_configure first */
    memset(session, 0, sizeof *session);
    session->imp.socket = -1;
    TEEC_Result r = spawn_ta(context, destination, &session->imp.socket, &session->imp.pid);
    if (r != TEEC_SUCCESS) {
        set_origin(returnOrigin, TEEC_ORIGIN_TEE);
        return r;
    }
    session->imp.context = context;
    r = exchange(session, P4_EMU_OPEN, 0, operation, returnOrigin);
    if (r != TEEC_SUCCESS && !session->imp.dead)
        session_reap(session); /* the TA process ends when its socket closes */
    return r;
}

void TEEC_CloseSession(TEEC_Session *session)
{
    if (!session || session->imp.context == NULL)
        return;
    if (!session->imp.dead)
        (void)exchange(session, P4_EMU_CLOSE, 0, NULL, NULL);
    session_reap(session);
    session->imp.context = NULL;
}

/* P4_TEEC_EMU_COMMAND_LOG=<file>: each invoked command's id appended as a
 * line (O_APPEND: several processes may share the file), so a test can see
 * which commands crossed during a run of p4. */
static void log_command(uint32_t command)
{
    const char *path = getenv("P4_TEEC_EMU_COMMAND_LOG");
    if (!path || !*path)
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    char line[16];
    int len = snprintf(line, sizeof line, "0x%x\n", (unsigned)command);
    if (len > 0 && write(fd, line, (size_t)len) != len) {
        /* a test reading the log sees the line missing */
    }
    close(fd);
}

TEEC_Result TEEC_InvokeCommand(TEEC_Session *session, uint32_t commandID,
                               TEEC_Operation *operation, uint32_t *returnOrigin)
{
    log_command(commandID);
    set_origin(returnOrigin, TEEC_ORIGIN_API);
    if (!session || !session->imp.context)
        return TEEC_ERROR_BAD_PARAMETERS;
    if (session->imp.dead) {
        set_origin(returnOrigin, TEEC_ORIGIN_TEE);
        return TEEC_ERROR_TARGET_DEAD;
    }
    if (operation)
        operation->started = 1;
    return exchange(session, P4_EMU_INVOKE, commandID, operation, returnOrigin);
}

void p4_teec_emu_traffic(const TEEC_Context *context, uint64_t *bytes_in, uint64_t *bytes_out)
{
    if (bytes_in)
        *bytes_in = context ? context->imp.bytes_in : 0;
    if (bytes_out)
        *bytes_out = context ? context->imp.bytes_out : 0;
}

void TEEC_RequestCancellation(TEEC_Operation *operation)
{
    (void)operation; /* the harness's TAs run each command to its end */
}
