/* error.c: the error record; see error.h. */
#include "common/error.h"

#include <stdarg.h>
#include <stdio.h>

int p4_error_set(p4_error *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

void p4_error_clear(p4_error *err)
{
    if (err != NULL) {
        err->code = P4_OK;
        err->message[0] = '\0';
    }
}

const char *p4_strerror(int code)
{
    switch (code) {
    case P4_OK: return "ok";
    case P4_EINVAL: return "invalid argument";
    case P4_ENOMEM: return "out of memory";
    case P4_EIO: return "input/output error";
    case P4_EFORMAT: return "malformed data";
    case P4_ECONFIG: return "configuration error";
    case P4_EBUDGET: return "privacy budget exhausted";
    case P4_ESTATE: return "state store error";
    case P4_ENET: return "network error";
    case P4_EMODEL: return "model error";
    case P4_ECRYPTO: return "cryptographic failure";
    case P4_EUNSUPPORTED: return "unsupported";
    case P4_ETIMEOUT: return "timed out";
    case P4_EPEER: return "peer error";
    case P4_EDIVERGED: return "training diverged";
    default: return "unknown error";
    }
}
