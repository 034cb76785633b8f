/* json.h: writing JSON values to a stream (p4 only ever writes JSON; the
 * only JSON it reads is LEAF's, with yajl). */
#ifndef P4_COMMON_JSON_H
#define P4_COMMON_JSON_H

#include <stdio.h>

/* Writes s as a JSON string literal, escaping quotes, backslashes and
 * control characters. */
void p4_json_string(FILE *out, const char *s);
/* Writes a number; non-finite values (which JSON lacks) become null. */
void p4_json_number(FILE *out, double v);

#endif
