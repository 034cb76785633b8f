/* test_watchdog.h: a last-resort bound on a test that runs processes.
 *
 * ctest kills a test that overruns its TIMEOUT and shows only what the test
 * had printed, which for a hang is nothing.  The watchdog fires first: after
 * `seconds` it writes the phase the test had reached, the tail of every
 * watched log, SIGKILLs every watched process and ends the test with exit
 * status 1.  It runs from SIGALRM, so it also catches a test stuck inside
 * a blocking library call.  One watchdog per test process. */
#ifndef P4_TEST_WATCHDOG_H
#define P4_TEST_WATCHDOG_H

#include <sys/types.h>

#define TEST_WATCHDOG_MAX 8

/* Arms the watchdog for `seconds` (whole seconds, > 0); `name` (NULL: the
 * program's name) heads its report. */
void test_watchdog_start(const char *name, unsigned seconds);

/* Arms the watchdog like test_watchdog_start unless it is armed already:
 * for helpers that start processes in every test case of a program, since
 * ctest's TIMEOUT is for the whole program. */
void test_watchdog_ensure(const char *name, unsigned seconds);

/* Records the phase the test is in (a string literal or other string that
 * outlives the test), and writes it with the elapsed time on stderr, so a
 * timeout's output shows how far the test got. */
void test_watchdog_phase(const char *phase);

/* Watches process pid: SIGKILLed when the watchdog fires, and its log file
 * (may be NULL; the path is copied) has its tail written.  A log already
 * watched gets the new pid (a restarted node). */
void test_watchdog_watch(pid_t pid, const char *log);

/* Disarms the watchdog. */
void test_watchdog_stop(void);

#endif
