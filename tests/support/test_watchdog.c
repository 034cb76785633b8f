/* test_watchdog.c: see test_watchdog.h.  The report is written from a
 * signal handler with async-signal-safe calls only (write, open, read,
 * lseek, waitpid, kill, _exit); so the state is static, set before the
 * alarm. */
#define _GNU_SOURCE /* program_invocation_short_name */
#include "test_watchdog.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TAIL_BYTES 6000

static struct {
    int armed;
    const char *name;
    const char *volatile phase;
    struct timespec started;
    int count;
    pid_t pid[TEST_WATCHDOG_MAX];
    char log[TEST_WATCHDOG_MAX][1200];
} watchdog;

static void say(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(2, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void write_tail(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END);
    lseek(fd, size > TAIL_BYTES ? size - TAIL_BYTES : 0, SEEK_SET);
    char buf[1024];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0)
        if (write(2, buf, (size_t)r) != r)
            break;
    close(fd);
}

static void fire(int sig)
{
    (void)sig;
    say("\n");
    say(watchdog.name);
    say(": WATCHDOG: the test ran out of time in phase: ");
    say(watchdog.phase ? watchdog.phase : "(none)");
    say("\n");
    for (int i = 0; i < watchdog.count; i++) {
        /* only a child still running: a reaped one's pid may be anyone's now */
        int status;
        if (watchdog.pid[i] > 0 && waitpid(watchdog.pid[i], &status, WNOHANG) == 0)
            kill(watchdog.pid[i], SIGKILL);
        if (watchdog.log[i][0]) {
            say("---- tail of ");
            say(watchdog.log[i]);
            say(" ----\n");
            write_tail(watchdog.log[i]);
            say("\n");
        }
    }
    _exit(1);
}

/* Arms the alarm once per program (until test_watchdog_stop). */
static void arm(void)
{
    if (watchdog.armed)
        return;
    watchdog.name = program_invocation_short_name;
    watchdog.phase = "started";
    watchdog.count = 0;
    clock_gettime(CLOCK_MONOTONIC, &watchdog.started);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fire;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(TEST_WATCHDOG_SECONDS);
    watchdog.armed = 1;
}

void test_watchdog_phase(const char *phase)
{
    arm();
    watchdog.phase = phase;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double t = (double)(now.tv_sec - watchdog.started.tv_sec) +
               1e-9 * (double)(now.tv_nsec - watchdog.started.tv_nsec);
    fprintf(stderr, "%s: %7.1f s: %s\n", watchdog.name, t, phase);
}

void test_watchdog_watch(pid_t pid, const char *log)
{
    arm();
    for (int i = 0; log && i < watchdog.count; i++)
        if (strcmp(watchdog.log[i], log) == 0) {
            watchdog.pid[i] = pid;
            return;
        }
    int i = watchdog.count;
    if (i >= TEST_WATCHDOG_MAX) { /* full: take the slot of a child already reaped */
        for (i = 0; i < TEST_WATCHDOG_MAX; i++) {
            siginfo_t info;
            if (waitid(P_PID, (id_t)watchdog.pid[i], &info, WEXITED | WNOHANG | WNOWAIT) != 0)
                break;
        }
        if (i == TEST_WATCHDOG_MAX)
            return;
        watchdog.pid[i] = 0; /* the handler skips the slot while it changes */
    }
    watchdog.log[i][0] = '\0';
    if (log)
        snprintf(watchdog.log[i], sizeof watchdog.log[i], "%s", log);
    watchdog.pid[i] = pid;
    if (i == watchdog.count)
        watchdog.count = i + 1; /* last: the handler sees a whole entry */
}

void test_watchdog_stop(void)
{
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    watchdog.armed = 0;
}
