/* error.h: p4's error codes and the error record every fallible call fills.
 *
 * Every public function returns an int: P4_OK (0) on success, a negative
 * P4_E* code on failure.  Functions that can say more take a `p4_error *`
 * (which may be NULL) and write a one-line, human-readable message into it
 * naming the file, line, offset or key at fault, in the style
 * "path:offset: what went wrong". */
#ifndef P4_COMMON_ERROR_H
#define P4_COMMON_ERROR_H

#include <stddef.h>

enum {
    P4_OK = 0,
    P4_EINVAL = -1,    /* a bad argument or value                         */
    P4_ENOMEM = -2,    /* an allocation failed                            */
    P4_EIO = -3,       /* a file could not be opened, read or written     */
    P4_EFORMAT = -4,   /* a file or message is malformed or truncated     */
    P4_ECONFIG = -5,   /* a config file is wrong                          */
    P4_EBUDGET = -6,   /* the privacy budget would be exceeded            */
    P4_ESTATE = -7,    /* the node's state store failed or is inconsistent*/
    P4_ENET = -8,      /* a transport or peer failure                     */
    P4_EMODEL = -9,    /* a model definition or weights file is wrong     */
    P4_ECRYPTO = -10,  /* a cryptographic primitive or check failed       */
    P4_EUNSUPPORTED = -11, /* asked for something this build cannot do    */
    P4_ETIMEOUT = -12, /* a deadline passed before the awaited event       */
    P4_EPEER = -13,    /* a peer is unknown, unreachable, backed up, or
                          sent something it must not (replay, wrong id)   */
    P4_EDIVERGED = -14 /* a training step met a non-finite loss or
                          per-example gradient norm; nothing was released */
};

#define P4_ERROR_MESSAGE_MAX 512

typedef struct p4_error {
    int code;
    char message[P4_ERROR_MESSAGE_MAX];
} p4_error;

/* Records code and a printf-style message in err (if err is not NULL) and
 * returns code, so callers can write `return p4_error_set(err, ...)`. */
int p4_error_set(p4_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Resets err to "no error". */
void p4_error_clear(p4_error *err);

/* A short constant name for a code ("invalid argument", ...). */
const char *p4_strerror(int code);

#endif
