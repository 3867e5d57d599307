/* relage: apparent-age estimation. Dispatches to one subcommand. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "relage.h"

#ifndef RELAGE_MODEL_INSTALLED
#define RELAGE_MODEL_INSTALLED "/usr/local/share/relage/relage-default.safetensors"
#endif
#ifndef RELAGE_MODEL_SOURCE
#define RELAGE_MODEL_SOURCE "models/relage-default.safetensors"
#endif

const char *cli_default_model(void) {
    const char *env = getenv("RELAGE_MODEL");
    struct stat st;
    if (env && *env) return env;
    if (stat(RELAGE_MODEL_INSTALLED, &st) == 0) return RELAGE_MODEL_INSTALLED;
    return RELAGE_MODEL_SOURCE;
}

static void usage(FILE *out) {
    fprintf(out,
            "relage %s: apparent-age estimation (Teh & Taylor, CRV 2019)\n"
            "\n"
            "usage: relage COMMAND [OPTIONS]\n"
            "\n"
            "commands:\n"
            "  predict   how old each face in images looks\n"
            "  serve     an HTTP service and web page for predictions\n"
            "  detect    find faces in images (MTCNN, or a cascade fallback)\n"
            "  prepare   detect and crop the faces of a dataset once, into a face cache\n"
            "  train     train a model on a face cache (the paper's recipe by default)\n"
            "  eval      MAE and epsilon-error of predictions, or of a model on a dataset\n"
            "  compare   models over seeds: mean, sd, Shapiro-Wilk, t-tests, figures\n"
            "  explain   the pair heat map of one face (the paper's Figure 8)\n"
            "  export    a model with 16-bit weights: the same model in half the size\n"
            "  bench     time the network's forward pass or training step on random data\n"
            "  version   print the version\n"
            "  help      print this help\n"
            "\n"
            "Run 'relage COMMAND --help' for a command's options.\n",
            relage_version());
}

int parse_int_option(const char *name, const char *text, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || !*text || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "relage: %s expects an integer in %ld..%ld, got '%s'\n", name, lo, hi,
                text ? text : "");
        return 0;
    }
    *out = v;
    return 1;
}

/* Standard streams that were closed when relage started are reopened, so that no file relage
 * opens takes their descriptor (printf would write into it): standard input and error on
 * /dev/null, standard output on /dev/full, so that what a command prints there fails below. */
static int stdout_was_closed;

static void reopen_closed_streams(void) {
    static const char *const DEVICE[3] = {"/dev/null", "/dev/full", "/dev/null"};
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
            /* the lowest free descriptor: fd; /dev/null where there is no /dev/full */
            if (open(DEVICE[fd], fd ? O_WRONLY : O_RDONLY) < 0) open("/dev/null", O_RDWR);
            if (fd == 1) stdout_was_closed = 1;
        }
}

/* Output that could not be written (a full disk, a closed stream) fails the command, which
 * would otherwise exit 0 with a truncated result. */
static int close_stdout(int rc) {
    errno = 0;
    if (ferror(stdout) | (fflush(stdout) != 0) | (fclose(stdout) != 0)) {
        fprintf(stderr, "relage: writing standard output: %s\n",
                stdout_was_closed ? "it is closed"
                : errno           ? strerror(errno)
                                  : "write error");
        return rc ? rc : 1;
    }
    return rc;
}

static int run(int argc, char **argv) {
    const char *cmd = argv[1];
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 1, argv + 1);
    if (strcmp(cmd, "predict") == 0) return cmd_predict(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0) return cmd_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "detect") == 0) return cmd_detect(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0) return cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "prepare") == 0) return cmd_prepare(argc - 1, argv + 1);
    if (strcmp(cmd, "train") == 0) return cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "explain") == 0) return cmd_explain(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0) return cmd_compare(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0) return cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("relage %s\n", relage_version());
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "relage: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}

int main(int argc, char **argv) {
    reopen_closed_streams();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    return close_stdout(run(argc, argv));
}
