/* fuzz_wire.c: libFuzzer target for the peer message codec (cluster/wire.c).
 *
 * Whatever the bytes, decoding must return without crashing, reading out of
 * bounds or leaking, and an error must carry its code and a message.  When
 * the bytes decode, the format's canonical form is checked: the message
 * encodes back to exactly the input bytes, and those decode again to the
 * same header. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    p4_wire_message m;
    p4_error err;
    p4_error_clear(&err);
    int rc = p4_wire_decode(data, size, &m, &err);
    if (rc != P4_OK) {
        if (err.code != rc || err.message[0] == '\0')
            abort(); /* every refusal must say why */
        return 0;
    }
    uint8_t *again = NULL;
    size_t length = 0;
    if (p4_wire_encode_alloc(&m, &again, &length, &err) != P4_OK)
        abort(); /* accepted by the decoder, refused by the encoder */
    if (length != size || memcmp(again, data, size) != 0)
        abort(); /* not canonical: two encodings of one message */
    p4_wire_message twice;
    if (p4_wire_decode(again, length, &twice, &err) != P4_OK ||
        memcmp(&twice.header, &m.header, sizeof m.header) != 0)
        abort();
    p4_wire_message_clear(&twice);
    p4_wire_message_clear(&m);
    free(again);
    return 0;
}
