/* relage serve's HTTP service (server.h) on libmicrohttpd: one thread per connection (bounded
 * by a connection limit), bodies gathered up to max_body, a pool of predictors guarded by a
 * mutex and a condition variable with a bounded number of waiters. */
#include "serve/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/predictor_internal.h"
#include "api/result_json.h"
#include "core/json_write.h"
#include "core/status.h"
#include "serve/page.h"

/* An idle connection is closed after CONNECTION_TIMEOUT_S, so that clients holding sockets
 * open without sending cannot keep the connection slots for long. */
enum { CONNECTION_LIMIT = 256, CONNECTION_TIMEOUT_S = 15 };

struct server {
    server_config cfg;
    struct MHD_Daemon *daemon;
    relage_predictor **pool;
    int *busy;
    int n_pool, waiting;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *model_json; /* GET /v1/model's answer */
};

server_config server_default_config(void) {
    server_config c;
    memset(&c, 0, sizeof c);
    c.host = "127.0.0.1";
    c.port = 8080;
    c.threads = 2;
    c.queue = 16;
    c.max_body = (size_t)20 << 20;
    c.predictor = relage_predictor_default_options();
    return c;
}

/* ---- predictor pool ---- */

/* A free predictor's index, waiting if the queue has room; -1 when overloaded. */
static int acquire(server *s) {
    pthread_mutex_lock(&s->lock);
    int at = -1;
    for (;;) {
        for (int i = 0; i < s->n_pool && at < 0; i++)
            if (!s->busy[i]) at = i;
        if (at >= 0 || s->waiting >= s->cfg.queue) break;
        s->waiting++;
        pthread_cond_wait(&s->freed, &s->lock);
        s->waiting--;
    }
    if (at >= 0) s->busy[at] = 1;
    pthread_mutex_unlock(&s->lock);
    return at;
}

static void release(server *s, int at) {
    pthread_mutex_lock(&s->lock);
    s->busy[at] = 0;
    pthread_cond_signal(&s->freed);
    pthread_mutex_unlock(&s->lock);
}

/* ---- requests ---- */

typedef struct request {
    char *body;
    size_t size, cap;
    int too_large, no_memory, answered, multipart; /* no_memory: the body could not be held */
    int part; /* multipart: 0 before the image field, 1 in it, 2 after it (later fields ignored) */
    char field[128]; /* the image field's name and file name, to tell when another field starts */
    char name[128];
    struct MHD_PostProcessor *post;
} request;

static int append(request *r, const char *data, size_t n, size_t max) {
    if (n == 0) return 1; /* an empty multipart field comes with data NULL */
    if (r->size + n > max) {
        r->too_large = 1;
        return 0;
    }
    if (r->size + n > r->cap) {
        size_t cap = r->cap ? r->cap : 65536;
        while (cap < r->size + n) cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) {
            r->no_memory = 1;
            return 0;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->size, data, n);
    r->size += n;
    return 1;
}

typedef struct post_ctx {
    request *r;
    size_t max;
} post_ctx;

static post_ctx *post_of(request *r); /* below: the post processor's context lives after r */

/* Multipart: the first field that carries a file (or is named "image") is the image; every
 * other field is ignored. A field's data comes in pieces, the first at offset 0. */
static enum MHD_Result on_post(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size) {
    post_ctx *p = cls;
    request *r = p->r;
    (void)kind, (void)content_type, (void)transfer_encoding;
    char field[128];
    snprintf(field, sizeof field, "%s\n%s", key ? key : "", filename ? filename : "");
    if (off == 0 && r->part == 1 && (r->size > 0 || strcmp(field, r->field) != 0))
        r->part = 2; /* the image field has ended */
    if (r->part == 2) return MHD_YES;
    if (r->part == 0) {
        if (off != 0 || (!filename && (!key || strcmp(key, "image") != 0))) return MHD_YES;
        r->part = 1;
        memcpy(r->field, field, sizeof field);
        snprintf(r->name, sizeof r->name, "%s", filename ? filename : "image");
    }
    return append(r, data, size, p->max) ? MHD_YES : MHD_NO;
}

/* Queues body (freed by libmicrohttpd) with its type, and an Allow header when allow is set. */
static enum MHD_Result respond_with(struct MHD_Connection *c, unsigned status, const char *type,
                                    char *body, size_t size, const char *allow) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        size, body, body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type,
                               char *body, size_t size) {
    return respond_with(c, status, type, body, size, NULL);
}

static enum MHD_Result respond_json(struct MHD_Connection *c, unsigned status, char *json,
                                    size_t size) {
    return respond(c, status, "application/json", json, size);
}

static enum MHD_Result respond_error_allow(struct MHD_Connection *c, unsigned status,
                                           const char *text, const char *allow) {
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) return MHD_NO;
    error_json_write(f, NULL, text);
    fputc('\n', f);
    fclose(f);
    return respond_with(c, status, "application/json", buf, size, allow);
}

static enum MHD_Result respond_error(struct MHD_Connection *c, unsigned status, const char *text) {
    return respond_error_allow(c, status, text, NULL);
}

static unsigned status_of(relage_status st) {
    switch (st) {
    case RELAGE_ERR_TOO_LARGE:
        return MHD_HTTP_CONTENT_TOO_LARGE;
    case RELAGE_ERR_NOMEM:
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    case RELAGE_ERR_UNSUPPORTED:
        return MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
    case RELAGE_ERR_FORMAT:
    case RELAGE_ERR_IO:
    case RELAGE_ERR_INVALID_ARG:
    case RELAGE_ERR_MISMATCH:
        return MHD_HTTP_BAD_REQUEST;
    default:
        return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

static enum MHD_Result predict(server *s, struct MHD_Connection *c, request *r) {
    if (r->too_large) {
        char text[96];
        snprintf(text, sizeof text, "the body is over the limit of %zu bytes", s->cfg.max_body);
        return respond_error(c, MHD_HTTP_CONTENT_TOO_LARGE, text);
    }
    if (r->no_memory)
        return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the server is out of memory");
    if (r->size == 0)
        return respond_error(c, MHD_HTTP_BAD_REQUEST,
                             r->multipart ? "no image in the multipart/form-data body (an empty or "
                                            "missing file field, or a body cut short)"
                                          : "empty body: send an image");
    int at = acquire(s);
    if (at < 0)
        return respond_error(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                             "overloaded: every predictor is busy and the queue is full");
    relage_result res;
    const char *name = r->name[0] ? r->name : "upload";
    relage_status st = relage_predict_encoded(s->pool[at], r->body, r->size, name, &res);
    char error[512];
    if (st != RELAGE_OK) snprintf(error, sizeof error, "%s", relage_last_error());
    release(s, at);
    if (st != RELAGE_OK) return respond_error(c, status_of(st), error);
    const char *dist = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "dist");
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        relage_result_free(&res);
        return respond_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    int with_dist = dist && (strcmp(dist, "1") == 0 || strcasecmp(dist, "true") == 0 ||
                             strcasecmp(dist, "yes") == 0);
    result_json_write(f, name, &res, with_dist);
    fputc('\n', f);
    fclose(f);
    relage_result_free(&res);
    return respond_json(c, MHD_HTTP_OK, buf, size);
}

/* The media type, case-insensitive, before any parameters (";..."), spaces allowed around. */
static int content_type_is(const char *type, const char *want) {
    size_t n = strlen(want);
    if (!type) return 0;
    while (*type == ' ' || *type == '\t') type++;
    if (strncasecmp(type, want, n) != 0) return 0;
    type += n;
    while (*type == ' ' || *type == '\t') type++;
    return *type == '\0' || *type == ';';
}

/* First call of a POST /v1/predict: refuse early what cannot succeed (413, 415). */
static enum MHD_Result begin_upload(server *s, struct MHD_Connection *c, request *r) {
    const char *type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *length = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (length && strtoull(length, NULL, 10) > s->cfg.max_body) {
        r->too_large = r->answered = 1;
        return predict(s, c, r);
    }
    if (content_type_is(type, "multipart/form-data")) {
        post_ctx *p = post_of(r);
        p->r = r;
        p->max = s->cfg.max_body;
        r->multipart = 1;
        r->post = MHD_create_post_processor(c, 65536, on_post, p);
        if (!r->post)
            return respond_error(c, MHD_HTTP_BAD_REQUEST, "malformed multipart/form-data");
        return MHD_YES;
    }
    if (content_type_is(type, "image/jpeg") || content_type_is(type, "image/png") ||
        content_type_is(type, "application/octet-stream"))
        return MHD_YES;
    char text[256];
    snprintf(text, sizeof text,
             "content type '%s' is not supported: send image/jpeg, image/png, "
             "application/octet-stream or multipart/form-data",
             type ? type : "(none)");
    r->answered = 1;
    return respond_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, text);
}

typedef struct request_block {
    request r;
    post_ctx post;
} request_block;

static post_ctx *post_of(request *r) {
    return &((request_block *)r)->post;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **state) {
    server *s = cls;
    (void)version;
    int is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    int is_get = strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(url, "/v1/predict") == 0 && is_post) {
        request *r = *state;
        if (!r) {
            request_block *b = calloc(1, sizeof *b);
            if (!b) return MHD_NO;
            *state = &b->r;
            return begin_upload(s, c, &b->r);
        }
        if (r->answered) { /* refused on the first call */
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (*upload_data_size) {
            if (!r->too_large && !r->no_memory) {
                if (r->multipart)
                    MHD_post_process(r->post, upload_data, *upload_data_size);
                else
                    append(r, upload_data, *upload_data_size, s->cfg.max_body);
            }
            *upload_data_size = 0;
            return MHD_YES;
        }
        return predict(s, c, r);
    }
    if (!is_get) {
        int known = strcmp(url, "/healthz") == 0 || strcmp(url, "/v1/model") == 0 ||
                    strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0;
        int predict_url = strcmp(url, "/v1/predict") == 0;
        if (!known && !predict_url) return respond_error(c, MHD_HTTP_NOT_FOUND, "not found");
        return respond_error_allow(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed",
                                   predict_url ? "POST" : "GET, HEAD");
    }
    if (strcmp(url, "/healthz") == 0) {
        char *buf = malloc(160);
        if (!buf) return MHD_NO;
        pthread_mutex_lock(&s->lock);
        int busy = 0;
        for (int i = 0; i < s->n_pool; i++) busy += s->busy[i];
        int n =
            snprintf(buf, 160, "{\"status\":\"ok\",\"predictors\":%d,\"busy\":%d,\"waiting\":%d}\n",
                     s->n_pool, busy, s->waiting);
        pthread_mutex_unlock(&s->lock);
        return respond_json(c, MHD_HTTP_OK, buf, (size_t)n);
    }
    if (strcmp(url, "/v1/model") == 0) {
        char *buf = strdup(s->model_json);
        return buf ? respond_json(c, MHD_HTTP_OK, buf, strlen(buf)) : MHD_NO;
    }
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
        char *buf = malloc(serve_page_size);
        if (!buf) return MHD_NO;
        memcpy(buf, serve_page, serve_page_size);
        return respond(c, MHD_HTTP_OK, "text/html; charset=utf-8", buf, serve_page_size);
    }
    if (strcmp(url, "/v1/predict") == 0)
        return respond_error_allow(c, MHD_HTTP_METHOD_NOT_ALLOWED, "use POST", "POST");
    return respond_error(c, MHD_HTTP_NOT_FOUND, "not found");
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode code) {
    request *r = *state;
    (void)cls, (void)c, (void)code;
    if (!r) return;
    if (r->post) MHD_destroy_post_processor(r->post);
    free(r->body);
    free(r);
    *state = NULL;
}

static relage_status describe_model(server *s) {
    model *m = predictor_model(s->pool[0]);
    size_t size = 0;
    FILE *f = open_memstream(&s->model_json, &size);
    if (!f) return relage_fail(RELAGE_ERR_NOMEM, "serve: out of memory");
    fprintf(f, "{\"model\":");
    json_write_string(f, s->cfg.model_path);
    fprintf(f, ",\"arch\":\"%s\",\"head\":\"%s\",\"input\":%d,\"width\":%g,\"crop\":",
            resnet_arch_name(m->config.arch), head_kind_name(m->config.head), m->config.input,
            (double)m->config.width);
    json_write_string(f, m->crop);
    fprintf(f, ",\"notes\":");
    json_write_string(f, relage_predictor_notes(s->pool[0]));
    fprintf(f,
            ",\"relage_version\":\"%s\",\"ages\":\"0..100\",\"outputs\":[\"age\",\"spread\","
            "\"interval\",\"regression\",\"dist\"]}\n",
            relage_version());
    return fclose(f) == 0 ? RELAGE_OK : relage_fail(RELAGE_ERR_NOMEM, "serve: out of memory");
}

relage_status server_start(server **out, const server_config *config) {
    *out = NULL;
    if (config->threads < 1 || config->threads > 256 || config->queue < 0 || config->port < 0 ||
        config->port > 65535 || config->max_body < 1)
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "serve: threads 1..256, queue >= 0, port 0..65535, max body >= 1");
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)config->port);
    if (inet_pton(AF_INET, config->host, &addr.sin_addr) != 1)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "serve: host '%s' is not an IPv4 address",
                           config->host);
    server *s = calloc(1, sizeof *s);
    if (!s) return relage_fail(RELAGE_ERR_NOMEM, "serve: out of memory");
    s->cfg = *config;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->freed, NULL);
    s->pool = calloc((size_t)config->threads, sizeof *s->pool);
    s->busy = calloc((size_t)config->threads, sizeof *s->busy);
    relage_status st = RELAGE_OK;
    if (!s->pool || !s->busy) st = relage_fail(RELAGE_ERR_NOMEM, "serve: out of memory");
    relage_predictor_options opt = config->predictor;
    int cores = omp_get_num_procs();
    opt.threads = cores / config->threads > 0 ? cores / config->threads : 1;
    for (int i = 0; i < config->threads && st == RELAGE_OK; i++) {
        st = relage_predictor_create(&s->pool[i], config->model_path, &opt);
        if (st == RELAGE_OK) s->n_pool++;
    }
    if (st != RELAGE_OK || (st = describe_model(s)) != RELAGE_OK) goto fail;
    s->daemon = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)config->port,
        NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    if (!s->daemon) {
        st = relage_fail(RELAGE_ERR_IO, "serve: cannot listen on %s:%d (in use, or not allowed)",
                         config->host, config->port);
        goto fail;
    }
    *out = s;
    return RELAGE_OK;
fail:
    server_stop(s);
    return st;
}

int server_port(const server *s) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : s->cfg.port;
}

void server_stop(server *s) {
    if (!s) return;
    if (s->daemon) MHD_stop_daemon(s->daemon);
    for (int i = 0; i < s->n_pool; i++) relage_predictor_free(s->pool[i]);
    free(s->pool);
    free(s->busy);
    free(s->model_json);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->freed);
    free(s);
}
