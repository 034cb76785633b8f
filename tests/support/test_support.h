/* test_support.h: small helpers shared by the cmocka tests.
 * Tests run with the repository root as working directory (see
 * tests/CMakeLists.txt), so relative paths like "configs/..." work. */
#ifndef P4_TEST_SUPPORT_H
#define P4_TEST_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* Path of ../shared/<relative> if that file exists, else NULL (the caller
 * then skips with a message: users' machines do not have shared/). */
const char *test_shared_path(const char *relative);

/* Makes a fresh private temporary directory; returns its path (static
 * storage per call slot is not shared: the string is heap-allocated and
 * freed by test_remove_tree). */
char *test_make_temp_dir(void);
/* rm -rf of a directory made by test_make_temp_dir; frees path. */
void test_remove_tree(char *path);

/* cmocka setup and teardown for a test whose state is a fresh temporary
 * directory: *state is its path (char *), removed afterwards. */
int test_temp_dir_setup(void **state);
int test_temp_dir_teardown(void **state);

/* out = dir/name; fails the test if that does not fit in size bytes. */
void test_path_in(const char *dir, const char *name, char *out, size_t size);

/* Writes n bytes to path; returns 0 on success. */
int test_write_file(const char *path, const void *data, size_t n);

/* Writes text to dir/name and returns that path in path (size bytes);
 * fails the test if either does not work. */
void test_write_text(const char *dir, const char *name, const char *text, char *path,
                     size_t size);

/* Prints "SKIP: reason" and skips the current test. */
#define TEST_SKIP(reason)                                                     \
    do {                                                                      \
        print_message("SKIP: %s\n", (reason));                                \
        skip();                                                               \
    } while (0)

#endif
