/* The relage command line: one cmd_* per subcommand, the only code that prints or exits. */
#ifndef RELAGE_CLI_H
#define RELAGE_CLI_H

#include <stdint.h>

int cmd_bench(int argc, char **argv);
int cmd_detect(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_prepare(int argc, char **argv);
int cmd_train(int argc, char **argv);

/* The model predict and serve use without --model: $RELAGE_MODEL, else the installed default
 * model, else the repository's. */
const char *cli_default_model(void);

/* Parses a whole decimal integer in [lo, hi] for option `name`; prints an error and returns 0
 * on failure. */
int parse_int_option(const char *name, const char *text, long lo, long hi, long *out);

/* Progress on stderr for long jobs: "label done/total rate unit/s ETA". Prints at most a few
 * times a second, and a final line on finish. Silent when quiet is set. */
typedef struct progress {
    const char *label, *unit;
    long total;
    double start, last_print;
    int quiet;
} progress;

void progress_start(progress *p, const char *label, const char *unit, long total, int quiet);

/* A duration for people: "42s", "12.5 min", "3.2 h"; "?" when unknown (NaN); buf of 16 bytes. */
const char *duration_text(double seconds, char buf[16]);
void progress_update(progress *p, long done);
void progress_finish(progress *p, long done);

#endif
