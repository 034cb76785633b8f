/* fuzz_cca_settings.c: libFuzzer target for the CCA [tee] settings parser
 * (INI through libinih, hex allowlists).  Input: the file's bytes.  A
 * rejection must carry a message; accepted settings must hold only values
 * of the sizes the parser promises. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tee/cca/settings.h"

static void check_list(const p4_cca_allowlist *list, size_t exact)
{
    if (list->count > P4_CCA_ALLOWLIST_MAX)
        __builtin_trap();
    for (size_t i = 0; i < list->count; i++) {
        size_t n = list->items[i].len;
        if (exact ? n != exact : (n != 32 && n != 48 && n != 64))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *f = fmemopen((void *)data, size, "r");
    if (f == NULL)
        return 0;
    p4_cca_settings s;
    p4_error err;
    p4_error_clear(&err);
    int rc = p4_cca_settings_load_stream(f, "dir/fuzz.ini", &s, &err);
    fclose(f);
    if (rc != P4_OK) {
        if (err.code != rc || err.message[0] == '\0')
            __builtin_trap();
        return 0;
    }
    check_list(&s.policy.initial_measurements, 0);
    check_list(&s.policy.personalization_values, 64);
    check_list(&s.policy.sw_components, 0);
    if (strcmp(s.evidence, "configfs-tsm") != 0 && strcmp(s.evidence, "command") != 0)
        __builtin_trap();
    return 0;
}
