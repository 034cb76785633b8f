/* progress.c: terminal progress bar; see progress.h. */
#include "common/progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double p4_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void p4_progress_init(p4_progress *p, const char *label)
{
    p->enabled = isatty(STDERR_FILENO);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->started = p4_now_seconds();
    p->last_percent = -1;
}

void p4_progress_update(void *user, long long done, long long total)
{
    p4_progress *p = user;
    if (p == NULL || !p->enabled || total <= 0)
        return;
    int percent = (int)(100 * done / total);
    if (percent == p->last_percent)
        return;
    p->last_percent = percent;
    char bar[31];
    int filled = percent * 30 / 100;
    memset(bar, '#', (size_t)filled);
    memset(bar + filled, '.', (size_t)(30 - filled));
    bar[30] = '\0';
    fprintf(stderr, "\r%s [%s] %3d%% %6.1fs", p->label, bar, percent,
            p4_now_seconds() - p->started);
    fflush(stderr);
}

void p4_progress_done(p4_progress *p)
{
    if (p != NULL && p->enabled && p->last_percent >= 0) {
        fprintf(stderr, "\r%*s\r", 80, "");
        fflush(stderr);
    }
}
