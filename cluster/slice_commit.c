/* slice_commit.c: commit-then-reveal of warm-up slices; see slice_commit.h. */
#include "cluster/slice_commit.h"

#include <sodium.h>
#include <string.h>

static const char commit_tag[] = "p4 slice commitment v1";
static const char echo_tag[] = "p4 slice commitment echo v1";

static void put_u32(crypto_generichash_state *st, uint32_t v)
{
    uint8_t le[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
    crypto_generichash_update(st, le, sizeof le);
}

int p4_slice_commitment(int sender, const float *slice, size_t length,
                        uint8_t out[P4_SLICE_COMMIT_BYTES], p4_error *err)
{
    if (!out || (!slice && length > 0) || sender < 0 || length > UINT32_MAX)
        return p4_error_set(err, P4_EINVAL, "slice commitment: bad arguments (sender %d, "
                            "%zu values)", sender, length);
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, P4_SLICE_COMMIT_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)commit_tag, sizeof commit_tag);
    put_u32(&st, (uint32_t)sender);
    put_u32(&st, (uint32_t)length);
    uint8_t le[1024];
    for (size_t i = 0; i < length;) {
        size_t k = 0;
        for (; i < length && k + 4 <= sizeof le; i++, k += 4) {
            uint32_t bits;
            memcpy(&bits, &slice[i], sizeof bits);
            le[k] = (uint8_t)bits;
            le[k + 1] = (uint8_t)(bits >> 8);
            le[k + 2] = (uint8_t)(bits >> 16);
            le[k + 3] = (uint8_t)(bits >> 24);
        }
        crypto_generichash_update(&st, le, k);
    }
    if (crypto_generichash_final(&st, out, P4_SLICE_COMMIT_BYTES) != 0)
        return p4_error_set(err, P4_ECRYPTO, "slice commitment: hash failed");
    return P4_OK;
}

int p4_slice_commitment_opens(int sender, const float *slice, size_t length,
                              const uint8_t c[P4_SLICE_COMMIT_BYTES])
{
    uint8_t mine[P4_SLICE_COMMIT_BYTES];
    if (!c || p4_slice_commitment(sender, slice, length, mine, NULL) != P4_OK)
        return 0;
    return sodium_memcmp(mine, c, P4_SLICE_COMMIT_BYTES) == 0;
}

int p4_slice_commitment_echo(const uint8_t *commitments, const unsigned char *has, int n,
                             uint8_t out[P4_SLICE_COMMIT_BYTES], p4_error *err)
{
    if (!commitments || !has || !out || n < 1)
        return p4_error_set(err, P4_EINVAL, "commitment echo: bad arguments");
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, P4_SLICE_COMMIT_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)echo_tag, sizeof echo_tag);
    for (int j = 0; j < n; j++) {
        if (!has[j])
            continue;
        put_u32(&st, (uint32_t)j);
        crypto_generichash_update(&st, commitments + (size_t)j * P4_SLICE_COMMIT_BYTES,
                                  P4_SLICE_COMMIT_BYTES);
    }
    if (crypto_generichash_final(&st, out, P4_SLICE_COMMIT_BYTES) != 0)
        return p4_error_set(err, P4_ECRYPTO, "commitment echo: hash failed");
    return P4_OK;
}
