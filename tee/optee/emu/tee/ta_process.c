/* ta_process.c: main() of a harness TA process: the "secure world" side.
 *
 * argv: <fd of its socket> <heap MiB> <storage directory>, as
 * tee/optee/emu/teec/teec_emu.c spawns it.  It runs TA_CreateEntryPoint,
 * then serves one session: OPEN, INVOKEs, CLOSE.  Every request is checked
 * before the TA sees it (the normal world may send anything); memory
 * references are the client's memfds, mapped here for the call only.
 * The process ends when the session closes, the client goes away, the open
 * fails, or the TA panics. */
#define _GNU_SOURCE
#include "tee_internal_api.h"
#include "tee/optee/emu/tee/ta_runtime.h"
#include "tee/optee/emu/wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ORIGIN_TEE 3u
#define ORIGIN_TRUSTED_APP 4u

typedef struct {
    TEE_Param params[P4_EMU_PARAMS];
    void *map[P4_EMU_PARAMS];
    size_t map_len[P4_EMU_PARAMS];
} mapped_params;

static void unmap_params(mapped_params *m)
{
    for (int i = 0; i < P4_EMU_PARAMS; i++)
        if (m->map[i])
            munmap(m->map[i], m->map_len[i]);
}

/* Builds the TA's parameters from a checked request, mapping its memfds. */
static TEE_Result map_params(const p4_emu_request *req, const int *fds, mapped_params *m)
{
    memset(m, 0, sizeof *m);
    int next_fd = 0;
    for (int i = 0; i < P4_EMU_PARAMS; i++) {
        uint32_t t = TEE_PARAM_TYPE_GET(req->param_types, i);
        const p4_emu_param *w = &req->params[i];
        if (t == TEE_PARAM_TYPE_VALUE_INPUT || t == TEE_PARAM_TYPE_VALUE_INOUT) {
            m->params[i].value.a = w->a;
            m->params[i].value.b = w->b;
        }
        if (!p4_emu_is_memref(t))
            continue;
        m->params[i].memref.size = (size_t)w->size;
        if (!w->has_fd)
            continue;
        int fd = fds[next_fd++];
        struct stat st;
        if (fstat(fd, &st) != 0 || st.st_size <= 0 || w->offset > (uint64_t)st.st_size ||
            w->size > (uint64_t)st.st_size - w->offset)
            return TEE_ERROR_BAD_PARAMETERS;
        int prot = t == TEE_PARAM_TYPE_MEMREF_INPUT ? PROT_READ : PROT_READ | PROT_WRITE;
        void *map = mmap(NULL, (size_t)st.st_size, prot, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
            return TEE_ERROR_OUT_OF_MEMORY;
        m->map[i] = map;
        m->map_len[i] = (size_t)st.st_size;
        m->params[i].memref.buffer = (char *)map + w->offset;
    }
    return TEE_SUCCESS;
}

static void reply(int sock, TEE_Result result, uint32_t origin, uint32_t types,
                  const TEE_Param *params)
{
    p4_emu_reply rep;
    memset(&rep, 0, sizeof rep);
    rep.magic = P4_EMU_MAGIC;
    rep.result = result;
    rep.origin = origin;
    for (int i = 0; params && i < P4_EMU_PARAMS; i++) {
        uint32_t t = TEE_PARAM_TYPE_GET(types, i);
        if (t == TEE_PARAM_TYPE_VALUE_OUTPUT || t == TEE_PARAM_TYPE_VALUE_INOUT) {
            rep.params[i].a = params[i].value.a;
            rep.params[i].b = params[i].value.b;
        } else if (t == TEE_PARAM_TYPE_MEMREF_OUTPUT || t == TEE_PARAM_TYPE_MEMREF_INOUT) {
            rep.params[i].size = params[i].memref.size;
        }
    }
    if (p4_emu_send(sock, &rep, sizeof rep, NULL, 0) != 0)
        _exit(0); /* the client has gone: nothing to answer */
}

static int parse_args(int argc, char **argv, int *sock, unsigned long *mib)
{
    if (argc != 4)
        return -1;
    char *end;
    errno = 0;
    long fd = strtol(argv[1], &end, 10);
    if (errno || *end || fd < 0 || fd > 1 << 20)
        return -1;
    *mib = strtoul(argv[2], &end, 10);
    if (errno || *end || *mib == 0 || *mib > 4096)
        return -1;
    *sock = (int)fd;
    return 0;
}

int main(int argc, char **argv)
{
    int sock;
    unsigned long mib;
    if (parse_args(argc, argv, &sock, &mib) != 0) {
        fprintf(stderr, "usage: %s <socket fd> <heap MiB 1..4096> <storage dir>\n"
                        "(a TA of p4's TEE harness; the Client API starts it)\n", argv[0]);
        return 2;
    }
    p4_ta_runtime_set_heap_limit((size_t)mib << 20);
    p4_ta_runtime_set_storage_dir(argv[3]);

    TEE_Result created = TA_CreateEntryPoint();
    void *session = NULL;
    int open = 0;
    for (;;) {
        p4_emu_request req;
        int fds[P4_EMU_PARAMS], nfds = 0;
        int got = p4_emu_recv(sock, &req, sizeof req, fds, P4_EMU_PARAMS, &nfds);
        if (got == 0)
            break;
        if (got < 0 || p4_emu_request_check(&req, nfds) != 0) {
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
            reply(sock, TEE_ERROR_BAD_PARAMETERS, ORIGIN_TEE, 0, NULL);
            continue;
        }
        if (req.kind == P4_EMU_CLOSE) {
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
            reply(sock, TEE_SUCCESS, ORIGIN_TEE, 0, NULL);
            break;
        }
        if ((req.kind == P4_EMU_OPEN) == open || created != TEE_SUCCESS) {
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
            reply(sock, created != TEE_SUCCESS ? created : TEE_ERROR_BAD_STATE, ORIGIN_TEE, 0,
                  NULL);
            if (created != TEE_SUCCESS)
                break;
            continue;
        }
        mapped_params m;
        TEE_Result r = map_params(&req, fds, &m);
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        uint32_t origin = ORIGIN_TEE;
        if (r == TEE_SUCCESS) {
            origin = ORIGIN_TRUSTED_APP;
            if (req.kind == P4_EMU_OPEN)
                r = TA_OpenSessionEntryPoint(req.param_types, m.params, &session);
            else
                r = TA_InvokeCommandEntryPoint(session, req.command, req.param_types, m.params);
        }
        reply(sock, r, origin, req.param_types, m.params);
        unmap_params(&m);
        if (req.kind == P4_EMU_OPEN) {
            if (r != TEE_SUCCESS)
                break; /* a refused open ends the instance */
            open = 1;
        }
    }
    if (open)
        TA_CloseSessionEntryPoint(session);
    if (created == TEE_SUCCESS)
        TA_DestroyEntryPoint();
    return 0;
}
