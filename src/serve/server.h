/* The HTTP service of `relage serve` on GNU libmicrohttpd:
 *   POST /v1/predict   an image body (image/jpeg, image/png, application/octet-stream) or a
 *                      multipart/form-data upload; answers the object `relage predict --json`
 *                      prints for one image (?dist=1 adds each face's 101 probabilities)
 *   GET  /healthz      {"status":"ok", ...}
 *   GET  /v1/model     what the model is (architecture, input, crop record, notes)
 *   GET  /             the web page (embedded; no external resources)
 * Errors are JSON {"error": TEXT} with 400 (bad image), 404, 405, 413 (body over max_body, or
 * an image over the pixel limit), 415 (other content types), 503 (every predictor busy and the
 * queue full) or 500.
 *
 * Concurrency: `threads` predictors (each with its own copy of the model) serve requests in
 * parallel; up to `queue` more requests wait for one; beyond that the answer is 503 at once. */
#ifndef RELAGE_SERVE_SERVER_H
#define RELAGE_SERVE_SERVER_H

#include <stddef.h>

#include "relage.h"

typedef struct server_config {
    const char *host; /* "127.0.0.1" */
    int port;         /* 8080; 0: any free port (see server_port) */
    int threads;      /* predictors working at once, >= 1 */
    int queue;        /* requests allowed to wait for a predictor, >= 0 */
    size_t max_body;  /* bytes; larger bodies get 413 */
    const char *model_path;
    relage_predictor_options predictor; /* threads is set from the machine's cores / threads */
} server_config;

/* host 127.0.0.1, port 8080, 2 threads, queue 16, max_body 20 MiB. */
server_config server_default_config(void);

typedef struct server server;

/* Loads the predictors and starts listening; on failure *out is NULL and the error says why
 * (a model that does not load, a port in use). */
relage_status server_start(server **out, const server_config *config);
int server_port(const server *s);
void server_stop(server *s);

#endif
