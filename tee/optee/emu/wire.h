/* wire.h: the messages between the harness's Client API (the normal world)
 * and a TA process (the "secure world"), over a SOCK_SEQPACKET socket pair.
 * Memory references travel as memfds (SCM_RIGHTS), one per memref parameter
 * in parameter order; both sides map them, as OP-TEE maps shared memory.
 * The TA side treats every request as hostile: p4_emu_request_check. */
#ifndef P4_OPTEE_EMU_WIRE_H
#define P4_OPTEE_EMU_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define P4_EMU_MAGIC 0x70344545u /* "p4EE" */
#define P4_EMU_PARAMS 4

enum { P4_EMU_OPEN = 1, P4_EMU_INVOKE = 2, P4_EMU_CLOSE = 3 };

typedef struct {
    uint32_t a, b;      /* value parameters                              */
    uint64_t size;      /* memref: bytes the TA may use                  */
    uint64_t offset;    /* memref: where they start in the memfd         */
    uint32_t has_fd;    /* memref: 1 if a memfd carries it (else NULL)   */
    uint32_t pad;
} p4_emu_param;

typedef struct {
    uint32_t magic, kind, command, param_types; /* TEE_PARAM_TYPE_* nibbles */
    p4_emu_param params[P4_EMU_PARAMS];
} p4_emu_request;

typedef struct {
    uint32_t magic, result, origin, pad;
    p4_emu_param params[P4_EMU_PARAMS];
} p4_emu_reply;

/* Sends one message with up to P4_EMU_PARAMS fds; 0 or -1 (errno set). */
int p4_emu_send(int sock, const void *msg, size_t size, const int *fds, int nfds);
/* Receives one message of exactly `size` bytes and its fds (closing any
 * beyond max_fds).  Returns 1 on a message, 0 when the peer has gone, -1 on
 * a malformed message (wrong size, truncated fds) or error. */
int p4_emu_recv(int sock, void *msg, size_t size, int *fds, int max_fds, int *nfds);

/* 1 if the 4-bit type is a memref (5, 6, 7), 0 otherwise. */
int p4_emu_is_memref(uint32_t tee_type);
/* Checks a request as the TA side receives it: magic, kind, parameter types
 * (only TEE_PARAM_TYPE_* values), one fd per memref with has_fd, and
 * offset + size without overflow.  Returns 0 if well formed. */
int p4_emu_request_check(const p4_emu_request *r, int nfds);

#endif
