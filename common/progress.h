/* progress.h: a one-line progress bar on a terminal (stderr), silent
 * otherwise, so logs and pipes get only the per-epoch lines. */
#ifndef P4_COMMON_PROGRESS_H
#define P4_COMMON_PROGRESS_H

typedef struct p4_progress {
    int enabled;          /* stderr is a terminal */
    char label[48];
    double started;
    int last_percent;
} p4_progress;

void p4_progress_init(p4_progress *p, const char *label);
/* Matches p4_progress_fn (model/trainer.h): user is the p4_progress. */
void p4_progress_update(void *user, long long done, long long total);
/* Clears the bar line. */
void p4_progress_done(p4_progress *p);

/* Seconds on a monotonic clock. */
double p4_now_seconds(void);

#endif
