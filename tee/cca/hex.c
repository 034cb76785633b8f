/* hex.c: see hex.h. */
#include "tee/cca/hex.h"

#include <string.h>

static int digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int p4_hex_decode(const char *hex, const char *what, uint8_t *out, size_t cap, size_t *len,
                  p4_error *err)
{
    if (hex == NULL || what == NULL || out == NULL || len == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_hex_decode: NULL argument");
    size_t n = strlen(hex);
    if (n % 2 != 0)
        return p4_error_set(err, P4_EINVAL, "%s: %zu hex digits; want an even number", what, n);
    if (n / 2 > cap)
        return p4_error_set(err, P4_EINVAL, "%s: %zu bytes of hex; at most %zu fit", what,
                            n / 2, cap);
    for (size_t i = 0; i < n; i += 2) {
        int hi = digit(hex[i]), lo = digit(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return p4_error_set(err, P4_EINVAL, "%s: '%c' at position %zu is not a hex digit",
                                what, hi < 0 ? hex[i] : hex[i + 1], hi < 0 ? i : i + 1);
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return P4_OK;
}

void p4_hex_encode(const uint8_t *bytes, size_t n, char *out)
{
    static const char DIGITS[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = DIGITS[bytes[i] >> 4];
        out[2 * i + 1] = DIGITS[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}
