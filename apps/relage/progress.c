/* Progress lines on stderr: done/total, rate and ETA, redrawn in place on a terminal. */
#include <stdio.h>
#include <unistd.h>

#include "cli.h"
#include "core/clock.h"

void progress_start(progress *p, const char *label, const char *unit, long total, int quiet) {
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->start = p->last_print = clock_seconds();
    p->quiet = quiet;
}

const char *duration_text(double seconds, char buf[16]) {
    if (!(seconds >= 0 && seconds < 1e9)) /* no rate yet */
        snprintf(buf, 16, "?");
    else if (seconds < 100)
        snprintf(buf, 16, "%.0fs", seconds);
    else if (seconds < 6000)
        snprintf(buf, 16, "%.1f min", seconds / 60);
    else
        snprintf(buf, 16, "%.1f h", seconds / 3600);
    return buf;
}

static void print_line(const progress *p, long done, double t, const char *end) {
    double elapsed = t - p->start, rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
    char e[16], r[16];
    fprintf(stderr, "%s%s %ld/%ld %s, %.2f %s/s, elapsed %s, ETA %s%s",
            isatty(STDERR_FILENO) ? "\r" : "", p->label, done, p->total, p->unit, rate, p->unit,
            duration_text(elapsed, e), duration_text(eta, r), end);
    fflush(stderr);
}

void progress_update(progress *p, long done) {
    double t = clock_seconds();
    if (p->quiet || t - p->last_print < (isatty(STDERR_FILENO) ? 0.2 : 5.0)) return;
    p->last_print = t;
    print_line(p, done, t, isatty(STDERR_FILENO) ? "" : "\n");
}

void progress_finish(progress *p, long done) {
    if (!p->quiet) print_line(p, done, clock_seconds(), "\n");
}
