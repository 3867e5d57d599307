/* relage serve: the HTTP service and web page (src/serve/server.h) until SIGINT or SIGTERM. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve/server.h"

static void serve_usage(FILE *out) {
    fprintf(
        out,
        "usage: relage serve [--model FILE] [OPTIONS]\n"
        "\n"
        "  --model FILE      model (default: $RELAGE_MODEL, else the default model, as in\n"
        "                    relage predict)\n"
        "  --host ADDR       IPv4 address to listen on (default 127.0.0.1)\n"
        "  --port N          port (default 8080; 0 picks a free one)\n"
        "  --threads N       predictions at once (default 2), each with its own model copy\n"
        "  --queue N         requests that may wait for a predictor (default 16); more get 503\n"
        "  --max-body BYTES  larger request bodies get 413 (default 20971520)\n"
        "  --max-pixels N    larger images get 413 (default 100000000)\n"
        "  --mtcnn DIR       MTCNN weights folder; --detector NAME as in relage predict\n"
        "  --largest         only the largest face; --flip averages with the mirror image\n"
        "  --precision NAME  fp32 (default) or bf16 (CPUs with AVX512-BF16 or AMX)\n"
        "\n"
        "POST /v1/predict (image body or multipart form; ?dist=1 adds the distributions),\n"
        "GET /healthz, GET /v1/model, and the web page at /.\n");
}

int cmd_serve(int argc, char **argv) {
    server_config cfg = server_default_config();
    cfg.model_path = cli_default_model();
    long value;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            serve_usage(stdout);
            return 0;
        } else if (strcmp(a, "--largest") == 0) {
            cfg.predictor.all_faces = 0;
        } else if (strcmp(a, "--flip") == 0) {
            cfg.predictor.flip = 1;
        } else if (a[0] == '-' && a[1] == '-' && v) {
            i++;
            if (strcmp(a, "--model") == 0)
                cfg.model_path = v;
            else if (strcmp(a, "--host") == 0)
                cfg.host = v;
            else if (strcmp(a, "--mtcnn") == 0)
                cfg.predictor.mtcnn_dir = v;
            else if (strcmp(a, "--detector") == 0)
                cfg.predictor.detector = v;
            else if (strcmp(a, "--precision") == 0)
                cfg.predictor.precision = v;
            else if (strcmp(a, "--port") == 0 && parse_int_option(a, v, 0, 65535, &value))
                cfg.port = (int)value;
            else if (strcmp(a, "--threads") == 0 && parse_int_option(a, v, 1, 256, &value))
                cfg.threads = (int)value;
            else if (strcmp(a, "--queue") == 0 && parse_int_option(a, v, 0, 100000, &value))
                cfg.queue = (int)value;
            else if (strcmp(a, "--max-body") == 0 && parse_int_option(a, v, 1, 2000000000L, &value))
                cfg.max_body = (size_t)value;
            else if (strcmp(a, "--max-pixels") == 0 &&
                     parse_int_option(a, v, 1, 1000000000L, &value))
                cfg.predictor.max_pixels = (uint64_t)value;
            else {
                if (strcmp(a, "--port") && strcmp(a, "--threads") && strcmp(a, "--queue") &&
                    strcmp(a, "--max-body") && strcmp(a, "--max-pixels"))
                    fprintf(stderr, "relage serve: unknown option '%s' (see --help)\n", a);
                return 2;
            }
        } else {
            fprintf(stderr, "relage serve: unexpected '%s' (see --help)\n", a);
            return 2;
        }
    }
    /* Wait for SIGINT/SIGTERM with them blocked in every thread the server starts. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    server *s = NULL;
    if (server_start(&s, &cfg) != RELAGE_OK) {
        fprintf(stderr, "relage serve: %s\n", relage_last_error());
        return 1;
    }
    fprintf(stderr, "relage serve: http://%s:%d/ (%d predictors, queue %d)\n", cfg.host,
            server_port(s), cfg.threads, cfg.queue);
    printf("listening on port %d\n", server_port(s));
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "relage serve: stopping (signal %d)\n", sig);
    server_stop(s);
    return 0;
}
