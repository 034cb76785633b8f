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
 * then skips with a message: users' machines do not have shared/).  With
 * P4_REQUIRE_SHARED=1 in the environment (.ci/run sets it when ../shared is
 * there) a missing file fails the test instead: CI never skips it silently.
 * P4_TEST_SHARED_DIR, if set, replaces "../shared". */
const char *test_shared_path(const char *relative);

/* path if that installed data set (e.g. /usr/share/datasets/fashion-mnist)
 * or a file of it is readable, else NULL (the caller skips).  With P4_REQUIRE_DATASETS=1
 * (.ci/run, after scripts/install-deps installed them) a missing one fails
 * the test instead. */
const char *test_dataset_path(const char *path);

/* Makes a fresh private temporary directory; returns its path (static
 * storage per call slot is not shared: the string is heap-allocated and
 * freed by test_remove_tree). */
char *test_make_temp_dir(void);
/* rm -rf of a directory made by test_make_temp_dir; frees path.  With
 * P4_TEST_KEEP set in the environment the directory stays, for a post-mortem. */
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

/* Child processes and loopback ports, for the tests that run `p4`:
 * test_spawn runs argv[0] with stdout and stderr to files and returns its pid;
 * test_read_all returns a file's first MiB as text ("" if absent; free it);
 * test_free_port returns a free loopback TCP port (the kernel's pick,
 * released again). */
int test_spawn(char *const argv[], const char *out, const char *errfile);
char *test_read_all(const char *path);
int test_free_port(void);

/* The text of "key":<value> in json up to the next ",\"" (a value without
 * nested strings), into out; fails the test when the key is absent. */
void test_json_value(const char *json, const char *key, char *out, size_t size);

/* Skips are skips.  cmocka's skip() marks a test skipped but its program
 * still exits 0, which ctest would call a pass.  So every skip is counted
 * (skip() and TEST_SKIP below), and a test program's
 * `return cmocka_run_group_tests(...)` exits with:
 *   1                    if any test failed (failures always win),
 *   TEST_SKIP_EXIT_CODE  if none failed but any skipped, after running all,
 *   0                    if every test ran and passed.
 * tests/CMakeLists.txt gives ctest SKIP_RETURN_CODE 77, so a program that
 * could not run everything shows as "Skipped", never as "Passed". */
#define TEST_SKIP_EXIT_CODE 77

/* Counts one skipped test (called by skip()). */
void test_note_skip(void);
/* The exit status for a program whose groups had `failed` failures. */
int test_exit_status(int failed);

#undef skip
#define skip() (test_note_skip(), _skip(__FILE__, __LINE__))

#undef cmocka_run_group_tests
#define cmocka_run_group_tests(group_tests, group_setup, group_teardown)                      \
    test_exit_status(_cmocka_run_group_tests(#group_tests, group_tests,                       \
                                             sizeof(group_tests) / sizeof((group_tests)[0]), \
                                             group_setup, group_teardown))

/* Prints "SKIP: reason" and skips the current test. */
#define TEST_SKIP(reason)                                                     \
    do {                                                                      \
        print_message("SKIP: %s\n", (reason));                                \
        skip();                                                               \
    } while (0)

#endif
