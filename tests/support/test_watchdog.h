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
/* Below ctest's TIMEOUT (900 s, tests/CMakeLists.txt), which is for the
 * whole program: the watchdog is armed once per program, by the first call
 * of test_watchdog_watch or test_watchdog_phase, and its report is headed
 * by the program's name. */
#define TEST_WATCHDOG_SECONDS 840u

/* Records the phase the test is in (a string literal or other string that
 * outlives the test), and writes it with the elapsed time on stderr, so a
 * timeout's output shows how far the test got. */
void test_watchdog_phase(const char *phase);

/* Watches process pid: SIGKILLed when the watchdog fires, and its log file
 * (may be NULL; the path is copied) has its tail written.  A log already
 * watched gets the new pid (a restarted node). */
void test_watchdog_watch(pid_t pid, const char *log);

/* Disarms the watchdog (the next watch or phase arms it again). */
void test_watchdog_stop(void);

#endif
