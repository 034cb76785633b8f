/* tee_api_system.c: TEE_GenerateRandom (the kernel's CSPRNG) and TEE_Panic
 * (the TA instance ends: its process exits, and the client's session then
 * returns TEEC_ERROR_TARGET_DEAD). */
#define _GNU_SOURCE
#include "tee_internal_api.h"

#include <errno.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

void TEE_GenerateRandom(void *randomBuffer, size_t randomBufferLen)
{
    unsigned char *p = randomBuffer;
    while (randomBufferLen > 0) {
        ssize_t n = getrandom(p, randomBufferLen, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            TEE_Panic(TEE_ERROR_GENERIC); /* no randomness: nothing safe to do */
        }
        p += n;
        randomBufferLen -= (size_t)n;
    }
}

void TEE_Panic(TEE_Result panicCode)
{
    fprintf(stderr, "p4 TEE harness: TA panicked with code 0x%08x\n", (unsigned)panicCode);
    _exit(70);
}
