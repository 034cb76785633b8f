/* evidence_command.c: a token printed by an external command (a realm agent,
 * or tests' cca_token_issuer); see evidence.h.  The command runs without a
 * shell, with stdin from /dev/null and a deadline, and must exit 0. */
#define _GNU_SOURCE /* pipe2 */
#include "tee/cca/evidence_source.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tee/cca/hex.h"
#include "tee/cca/token.h"

extern char **environ;

#define MAX_WORDS 32

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the child's stdout until EOF, the size limit or the deadline. */
static int read_output(int fd, const char *command, int timeout_ms, uint8_t *buf, size_t cap,
                       size_t *used, p4_error *err)
{
    long long deadline = now_ms() + timeout_ms;
    *used = 0;
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return p4_error_set(err, P4_ETIMEOUT, "evidence command '%s' printed no complete token "
                                "within %d ms", command, timeout_ms);
        struct pollfd p = {fd, POLLIN, 0};
        int ready = poll(&p, 1, (int)left);
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            return p4_error_set(err, P4_EIO, "evidence command: poll: %s", strerror(errno));
        if (ready == 0)
            continue;
        ssize_t n = read(fd, buf + *used, cap - *used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return p4_error_set(err, P4_EIO, "evidence command: read: %s", strerror(errno));
        if (n == 0)
            return P4_OK;
        *used += (size_t)n;
        if (*used == cap)
            return p4_error_set(err, P4_EFORMAT, "evidence command '%s' printed more than %zu "
                                "bytes, more than any token", command, cap - 1);
    }
}

int p4_cca_command_get(p4_cca_evidence *self, const uint8_t challenge[64], uint8_t **token,
                       size_t *token_len, p4_error *err)
{
    char words[P4_CCA_EVIDENCE_TEXT_MAX];
    char hex[2 * 64 + 1];
    char *argv[MAX_WORDS + 2];
    int argc = 0;
    memcpy(words, self->command, sizeof words);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w != NULL;
         w = strtok_r(NULL, " ", &save)) {
        if (argc == MAX_WORDS)
            return p4_error_set(err, P4_EINVAL, "evidence command has more than %d words",
                                MAX_WORDS);
        argv[argc++] = w;
    }
    p4_hex_encode(challenge, 64, hex);
    argv[argc++] = hex;
    argv[argc] = NULL;

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        return p4_error_set(err, P4_EIO, "evidence command: pipe: %s", strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    pid_t pid;
    int spawned = posix_spawnp(&pid, argv[0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (spawned != 0) {
        close(fds[0]);
        return p4_error_set(err, P4_EIO, "evidence command '%s': cannot run: %s", argv[0],
                            strerror(spawned));
    }
    size_t cap = P4_CCA_TOKEN_MAX + 1, used = 0;
    uint8_t *buf = malloc(cap);
    int rc = buf ? read_output(fds[0], self->command, self->timeout_ms, buf, cap, &used, err)
                 : p4_error_set(err, P4_ENOMEM, "out of memory");
    close(fds[0]);
    if (rc != P4_OK)
        kill(pid, SIGKILL); /* our own child, which failed us */
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (rc == P4_OK && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        rc = WIFEXITED(status)
                 ? p4_error_set(err, P4_EIO, "evidence command '%s' exited with status %d",
                                self->command, WEXITSTATUS(status))
                 : p4_error_set(err, P4_EIO, "evidence command '%s' was killed by signal %d",
                                self->command, WTERMSIG(status));
    if (rc == P4_OK && used == 0)
        rc = p4_error_set(err, P4_EIO, "evidence command '%s' printed nothing", self->command);
    if (rc != P4_OK) {
        free(buf);
        return rc;
    }
    *token = buf;
    *token_len = used;
    return P4_OK;
}
