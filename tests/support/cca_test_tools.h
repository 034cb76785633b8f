/* cca_test_tools.h: what the CCA tests share: reading a file whole, and
 * running tests/tools/cca_token_issuer (its path comes from P4_CCA_ISSUER,
 * which tests/CMakeLists.txt sets for every test_cca_* program). */
#ifndef P4_TEST_CCA_TEST_TOOLS_H
#define P4_TEST_CCA_TEST_TOOLS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/rng.h"
#include "support/test_support.h"
#include "tee/cca/hex.h"

/* Reads path whole into a malloc'd buffer; fails the test if it cannot. */
static inline uint8_t *cca_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 16, f);
    fclose(f);
    return buf;
}

static inline const char *cca_issuer(void)
{
    const char *issuer = getenv("P4_CCA_ISSUER");
    assert_non_null(issuer); /* set by tests/CMakeLists.txt */
    return issuer;
}

/* Runs "issuer args..." through the shell; returns its exit status. */
static inline int cca_run_issuer(const char *args)
{
    char command[4096];
    snprintf(command, sizeof command, "%s %s", cca_issuer(), args);
    int status = system(command);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Makes keys in dir and a token answering challenge (64 bytes) at
 * dir/name, with extra issuer options; returns the token (malloc'd). */
static inline uint8_t *cca_issue(const char *dir, const char *name, const uint8_t *challenge,
                                 const char *options, size_t *len)
{
    char hex[129], args[3072], path[1024];
    p4_hex_encode(challenge, 64, hex);
    test_path_in(dir, name, path, sizeof path);
    snprintf(args, sizeof args, "issue %s %s --out %s %s", dir, options ? options : "", path,
             hex);
    assert_int_equal(cca_run_issuer(args), 0);
    return cca_read_file(path, len);
}

/* n bytes from the OS-keyed generator (keys and nonces of test peers). */
static inline void cca_random_bytes(uint8_t *out, size_t n)
{
    p4_rng rng;
    assert_int_equal(p4_rng_init_secure(&rng), P4_OK);
    p4_rng_bytes(&rng, out, n);
    p4_rng_wipe(&rng);
}

/* An executable shell script dir/name running body (an evidence command
 * that replays a stored token, prints garbage, or logs its challenge). */
static inline void cca_write_script(const char *dir, const char *name, const char *body,
                                    char *path, size_t size)
{
    char text[2048];
    snprintf(text, sizeof text, "#!/bin/sh\n%s\n", body);
    test_write_text(dir, name, text, path, size);
    assert_int_equal(chmod(path, 0700), 0);
}

#endif
