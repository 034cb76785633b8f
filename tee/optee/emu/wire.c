/* wire.c: see wire.h. */
#define _GNU_SOURCE
#include "tee/optee/emu/wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int p4_emu_send(int sock, const void *msg, size_t size, const int *fds, int nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * P4_EMU_PARAMS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = { (void *)msg, size };
    struct msghdr mh = { 0 };
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds < 0 || nfds > P4_EMU_PARAMS) {
        errno = EINVAL;
        return -1;
    }
    if (nfds > 0) {
        memset(&control, 0, sizeof control);
        mh.msg_control = control.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t n;
    do
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)size ? 0 : -1;
}

int p4_emu_recv(int sock, void *msg, size_t size, int *fds, int max_fds, int *nfds)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * P4_EMU_PARAMS)];
        struct cmsghdr align;
    } control;
    struct iovec iov = { msg, size };
    struct msghdr mh = { 0 };
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control.buf;
    mh.msg_controllen = sizeof control.buf;
    *nfds = 0;
    ssize_t n;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n == 0)
        return 0;
    if (n < 0)
        return errno == ECONNRESET ? 0 : -1;
    int bad = (size_t)n != size || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC));
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < count; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + sizeof(int) * (size_t)i, sizeof fd);
            if (*nfds < max_fds)
                fds[(*nfds)++] = fd;
            else {
                close(fd);
                bad = 1;
            }
        }
    }
    return bad ? -1 : 1;
}

int p4_emu_is_memref(uint32_t tee_type)
{
    return tee_type >= 5 && tee_type <= 7;
}

int p4_emu_request_check(const p4_emu_request *r, int nfds)
{
    if (r->magic != P4_EMU_MAGIC)
        return -1;
    if (r->kind != P4_EMU_OPEN && r->kind != P4_EMU_INVOKE && r->kind != P4_EMU_CLOSE)
        return -1;
    if (r->param_types >> 16)
        return -1;
    int want_fds = 0;
    for (int i = 0; i < P4_EMU_PARAMS; i++) {
        uint32_t t = (r->param_types >> (4 * i)) & 0xF;
        const p4_emu_param *p = &r->params[i];
        if (t == 4 || t > 7)
            return -1;
        if (!p4_emu_is_memref(t))
            continue;
        if (p->has_fd > 1 || p->offset > UINT64_MAX - p->size)
            return -1;
        want_fds += (int)p->has_fd;
    }
    return want_fds == nfds ? 0 : -1;
}
