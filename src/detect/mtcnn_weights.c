/* Loading MTCNN from face-api.js's weights: mtcnn_model-weights_manifest.json (TensorFlow.js
 * format: an array of groups, each listing shard files and, in order, the tensors stored one
 * after another in those shards concatenated) and its float32 little-endian shards.
 *
 * face-api.js keeps TensorFlow's layouts: conv kernels (KH,KW,C,OC) and dense kernels (IC,OC).
 * Its networks, like the original Caffe/MATLAB MTCNN, see every image transposed (x before y),
 * so a kernel's first axis runs along x, and a dense layer's inputs are ordered (x, y, c) --
 * the order facenet-pytorch gets with permute(0, 3, 2, 1) before flattening. Both are
 * rearranged here into (OC,C,KH,KW), the dense layers becoming convolutions (mtcnn_net.h). This
 * reading, with RGB input, reproduces facenet-pytorch's detections to float rounding
 * (tests/test_mtcnn.c). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/status.h"
#include "detect/mtcnn.h"
#include "detect/mtcnn_net.h"

#define MANIFEST_NAME "mtcnn_model-weights_manifest.json"
#define MAX_MANIFEST_BYTES ((size_t)1 << 20)
#define MAX_SHARD_BYTES ((size_t)1 << 30)
#define MAX_DIMS 4

typedef struct manifest_tensor {
    const char *name; /* points into the parsed manifest */
    int ndim;
    int shape[MAX_DIMS];
    size_t offset; /* bytes into weight_source.data */
} manifest_tensor;

typedef struct weight_source {
    const char *dir;
    unsigned char *data; /* every group's shards, concatenated in manifest order */
    size_t size;
    manifest_tensor *tensors;
    size_t count;
} weight_source;

static float float_le(const unsigned char *p) {
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* Parses one manifest entry {"name", "shape", "dtype"}; *bytes receives its size. */
static relage_status parse_tensor(manifest_tensor *t, const cJSON *entry, const char *path,
                                  size_t *bytes) {
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(entry, "name");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(name) || !cJSON_IsArray(shape) || !cJSON_IsString(dtype))
        return relage_fail(RELAGE_ERR_FORMAT,
                           "%s: a weight entry lacks a string name, a shape array or a dtype",
                           path);
    t->name = name->valuestring;
    if (strcmp(dtype->valuestring, "float32") != 0)
        return relage_fail(RELAGE_ERR_UNSUPPORTED, "%s: %s has dtype %s (only float32)", path,
                           t->name, dtype->valuestring);
    if (cJSON_GetObjectItemCaseSensitive(entry, "quantization"))
        return relage_fail(RELAGE_ERR_UNSUPPORTED, "%s: %s is quantised (unsupported)", path,
                           t->name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > MAX_DIMS)
        return relage_fail(RELAGE_ERR_FORMAT, "%s: %s has %d dimensions (at most %d)", path,
                           t->name, ndim, MAX_DIMS);
    size_t numel = 1;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        const cJSON *v = cJSON_GetArrayItem(shape, d);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e7 ||
            v->valuedouble != (double)(int)v->valuedouble)
            return relage_fail(RELAGE_ERR_FORMAT, "%s: %s has a bad shape", path, t->name);
        t->shape[d] = (int)v->valuedouble;
        numel *= (size_t)t->shape[d];
        if (numel > MAX_SHARD_BYTES / 4)
            return relage_fail(RELAGE_ERR_FORMAT, "%s: %s is too large", path, t->name);
    }
    *bytes = numel * 4;
    return RELAGE_OK;
}

/* Appends the shard files of one group to src->data. */
static relage_status read_group_shards(weight_source *src, const cJSON *paths, const char *path,
                                       size_t expected) {
    relage_status st = RELAGE_OK;
    size_t begin = src->size;
    char shard_path[4096];
    const cJSON *p;
    cJSON_ArrayForEach(p, paths) {
        unsigned char *bytes = NULL;
        size_t size;
        if (!cJSON_IsString(p) || p->valuestring[0] == '\0' || p->valuestring[0] == '/' ||
            strstr(p->valuestring, ".."))
            return relage_fail(RELAGE_ERR_FORMAT,
                               "%s: shard paths must be relative names inside the folder", path);
        if ((size_t)snprintf(shard_path, sizeof shard_path, "%s/%s", src->dir, p->valuestring) >=
            sizeof shard_path)
            return relage_fail(RELAGE_ERR_INVALID_ARG, "%s: shard path too long", path);
        if ((st = file_read_all(shard_path, MAX_SHARD_BYTES, (char **)&bytes, &size)) != RELAGE_OK)
            return st;
        unsigned char *grown = realloc(src->data, src->size + size + 1);
        if (!grown) {
            free(bytes);
            return relage_fail(RELAGE_ERR_NOMEM, "%s: no memory", shard_path);
        }
        src->data = grown;
        memcpy(src->data + src->size, bytes, size);
        src->size += size;
        free(bytes);
    }
    if (src->size - begin < expected)
        return relage_fail(RELAGE_ERR_FORMAT,
                           "%s: short shard: the manifest lists %zu bytes of weights, the "
                           "shards hold %zu",
                           path, expected, src->size - begin);
    if (src->size - begin > expected)
        return relage_fail(RELAGE_ERR_FORMAT,
                           "%s: the shards hold %zu bytes, the manifest lists %zu", path,
                           src->size - begin, expected);
    return RELAGE_OK;
}

/* Reads the manifest (parsed into *json, which the tensor names point into) and its shards. */
static relage_status source_open(weight_source *src, cJSON **json, const char *dir) {
    relage_status st = RELAGE_OK;
    char path[4096];
    unsigned char *text = NULL;
    size_t size, capacity = 0;
    *json = NULL;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, MANIFEST_NAME) >= sizeof path)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "mtcnn: folder name too long: %s", dir);
    if ((st = file_read_text(path, MAX_MANIFEST_BYTES, (char **)&text, &size)) != RELAGE_OK)
        return st;
    *json = cJSON_Parse((const char *)text);
    if (!*json || !cJSON_IsArray(*json)) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: not a JSON array of weight groups", path);
        goto cleanup;
    }
    const cJSON *group;
    cJSON_ArrayForEach(group, *json) {
        const cJSON *paths = cJSON_GetObjectItemCaseSensitive(group, "paths");
        const cJSON *weights = cJSON_GetObjectItemCaseSensitive(group, "weights");
        if (!cJSON_IsArray(paths) || !cJSON_IsArray(weights)) {
            st = relage_fail(RELAGE_ERR_FORMAT, "%s: a group lacks \"paths\" or \"weights\"", path);
            goto cleanup;
        }
        size_t group_bytes = 0, base = src->size;
        const cJSON *entry;
        cJSON_ArrayForEach(entry, weights) {
            if (src->count == capacity) {
                capacity = capacity ? 2 * capacity : 64;
                manifest_tensor *grown = realloc(src->tensors, capacity * sizeof *grown);
                if (!grown) {
                    st = relage_fail(RELAGE_ERR_NOMEM, "%s: no memory", path);
                    goto cleanup;
                }
                src->tensors = grown;
            }
            manifest_tensor *t = &src->tensors[src->count];
            size_t bytes = 0;
            if ((st = parse_tensor(t, entry, path, &bytes)) != RELAGE_OK) goto cleanup;
            t->offset = base + group_bytes;
            group_bytes += bytes;
            src->count++;
        }
        if ((st = read_group_shards(src, paths, path, group_bytes)) != RELAGE_OK) goto cleanup;
    }

cleanup:
    free(text);
    return st;
}

static void source_close(weight_source *src, cJSON *json) {
    free(src->data);
    free(src->tensors);
    cJSON_Delete(json);
}

/* The tensor called name, checked to have the given shape (ndim entries). */
static relage_status find(const weight_source *src, const char *name, int ndim, const int *shape,
                          const unsigned char **data) {
    for (size_t i = 0; i < src->count; i++) {
        const manifest_tensor *t = &src->tensors[i];
        if (strcmp(t->name, name) != 0) continue;
        int same = t->ndim == ndim;
        for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
        if (!same) {
            char want[64] = "", got[64] = "";
            for (int d = 0; d < ndim; d++)
                snprintf(want + strlen(want), sizeof want - strlen(want), "%s%d", d ? "," : "",
                         shape[d]);
            for (int d = 0; d < t->ndim; d++)
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d", d ? "," : "",
                         t->shape[d]);
            return relage_fail(RELAGE_ERR_MISMATCH, "%s/%s: %s has shape [%s], expected [%s]",
                               src->dir, MANIFEST_NAME, name, got, want);
        }
        *data = src->data + t->offset;
        return RELAGE_OK;
    }
    return relage_fail(RELAGE_ERR_MISMATCH, "%s/%s: no tensor %s", src->dir, MANIFEST_NAME, name);
}

static relage_status load_vector(const weight_source *src, const char *name, float *dst, int n) {
    const unsigned char *data = NULL;
    relage_status st = find(src, name, 1, &n, &data);
    if (st != RELAGE_OK) return st;
    for (int i = 0; i < n; i++) dst[i] = float_le(data + 4 * (size_t)i);
    return RELAGE_OK;
}

/* Output channels [row0, row0 + rows) of l from prefix/weights (kx, ky, in, rows) and
 * prefix/bias. */
static relage_status load_conv(const weight_source *src, const char *prefix, mtcnn_conv *l,
                               int row0, int rows) {
    char name[128];
    const unsigned char *data = NULL;
    relage_status st;
    int k = l->k, shape[4] = {k, k, l->in, rows};
    snprintf(name, sizeof name, "%s/weights", prefix);
    if ((st = find(src, name, 4, shape, &data)) != RELAGE_OK) return st;
    for (int o = 0; o < rows; o++)
        for (int i = 0; i < l->in; i++)
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) {
                    size_t from = (((size_t)kx * k + ky) * l->in + i) * rows + o;
                    size_t to = (((size_t)(row0 + o) * l->in + i) * k + ky) * k + kx;
                    l->weight[to] = float_le(data + 4 * from);
                }
    snprintf(name, sizeof name, "%s/bias", prefix);
    return load_vector(src, name, l->bias + row0, rows);
}

/* Outputs [row0, row0 + rows) of the dense layer l (held as a k x k convolution of a
 * (in, k, k) map) from prefix/weights (in * k * k, rows) and prefix/bias: face-api's input order
 * (x, y, c) becomes (c, y, x). */
static relage_status load_dense(const weight_source *src, const char *prefix, mtcnn_conv *l,
                                int row0, int rows) {
    char name[128];
    const unsigned char *data = NULL;
    relage_status st;
    int k = l->k, C = l->in, n_in = C * k * k, shape[2] = {n_in, rows};
    snprintf(name, sizeof name, "%s/weights", prefix);
    if ((st = find(src, name, 2, shape, &data)) != RELAGE_OK) return st;
    for (int o = 0; o < rows; o++)
        for (int i = 0; i < n_in; i++) {
            int x = i / (k * C), y = i / C % k, c = i % C;
            l->weight[(size_t)(row0 + o) * n_in + (c * k + y) * k + x] =
                float_le(data + 4 * ((size_t)i * rows + o));
        }
    snprintf(name, sizeof name, "%s/bias", prefix);
    return load_vector(src, name, l->bias + row0, rows);
}

/* Sets every layer's sizes and points it into net->params (NULL: only counts); returns the
 * number of floats. */
static size_t layout(mtcnn *net, float *params) {
    /* in, out, k, PReLU */
    static const int pnet[4][4] = {{3, 10, 3, 1}, {10, 16, 3, 1}, {16, 32, 3, 1}, {32, 6, 1, 0}};
    static const int rnet[5][4] = {
        {3, 28, 3, 1}, {28, 48, 3, 1}, {48, 64, 2, 1}, {64, 128, 3, 1}, {128, 6, 1, 0}};
    static const int onet[6][4] = {{3, 32, 3, 1},   {32, 64, 3, 1},   {64, 64, 3, 1},
                                   {64, 128, 2, 1}, {128, 256, 3, 1}, {256, 16, 1, 0}};
    struct {
        mtcnn_conv *layers;
        const int (*spec)[4];
        int n;
    } nets[] = {{net->pnet, pnet, 4}, {net->rnet, rnet, 5}, {net->onet, onet, 6}};
    size_t used = 0;
#define TAKE(n)                                                                                    \
    (params ? params + (used += (size_t)(n)) - (size_t)(n) : (used += (size_t)(n), NULL))
    for (size_t g = 0; g < sizeof nets / sizeof *nets; g++)
        for (int i = 0; i < nets[g].n; i++) {
            mtcnn_conv *l = &nets[g].layers[i];
            const int *s = nets[g].spec[i];
            l->in = s[0];
            l->out = s[1];
            l->k = s[2];
            l->weight = TAKE(s[1] * s[0] * s[2] * s[2]);
            l->packed = TAKE(conv2d_direct_packed_floats(s[0], s[1], s[2]));
            l->bias = TAKE(s[1]);
            l->alpha = s[3] ? TAKE(s[1]) : NULL;
        }
#undef TAKE
    return used;
}

static relage_status load_all(mtcnn *net, const weight_source *src) {
    relage_status st = RELAGE_OK;
    char name[64];
    for (int i = 0; i < 3 && st == RELAGE_OK; i++) {
        snprintf(name, sizeof name, "pnet/conv%d", i + 1);
        st = load_conv(src, name, &net->pnet[i], 0, net->pnet[i].out);
        snprintf(name, sizeof name, "pnet/prelu%d_alpha", i + 1);
        if (st == RELAGE_OK) st = load_vector(src, name, net->pnet[i].alpha, net->pnet[i].out);
    }
    if (st == RELAGE_OK) st = load_conv(src, "pnet/conv4_1", &net->pnet[3], 0, 2);
    if (st == RELAGE_OK) st = load_conv(src, "pnet/conv4_2", &net->pnet[3], 2, 4);
    for (int net_i = 0; net_i < 2; net_i++) {
        const char *which = net_i ? "onet" : "rnet";
        mtcnn_conv *layers = net_i ? net->onet : net->rnet;
        int n_conv = net_i ? 4 : 3;
        for (int i = 0; i < n_conv && st == RELAGE_OK; i++) {
            snprintf(name, sizeof name, "%s/conv%d", which, i + 1);
            st = load_conv(src, name, &layers[i], 0, layers[i].out);
            snprintf(name, sizeof name, "%s/prelu%d_alpha", which, i + 1);
            if (st == RELAGE_OK) st = load_vector(src, name, layers[i].alpha, layers[i].out);
        }
        mtcnn_conv *fc1 = &layers[n_conv], *fc2 = &layers[n_conv + 1];
        snprintf(name, sizeof name, "%s/fc1", which);
        if (st == RELAGE_OK) st = load_dense(src, name, fc1, 0, fc1->out);
        snprintf(name, sizeof name, "%s/prelu%d_alpha", which, n_conv + 1);
        if (st == RELAGE_OK) st = load_vector(src, name, fc1->alpha, fc1->out);
        int rows[3] = {2, 4, 10}, row0 = 0;
        for (int j = 0; j < (net_i ? 3 : 2) && st == RELAGE_OK; j++) {
            snprintf(name, sizeof name, "%s/fc2_%d", which, j + 1);
            st = load_dense(src, name, fc2, row0, rows[j]);
            row0 += rows[j];
        }
    }
    return st;
}

relage_status mtcnn_load(mtcnn **out, const char *dir) {
    relage_status st = RELAGE_OK;
    weight_source src = {0};
    cJSON *json = NULL;
    mtcnn *net = NULL;
    if (!out) return relage_fail(RELAGE_ERR_INVALID_ARG, "mtcnn_load: out is NULL");
    *out = NULL;
    if (!dir) dir = getenv("RELAGE_MTCNN");
    if (!dir || !*dir)
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "mtcnn_load: no weights folder given and RELAGE_MTCNN is not set");
    src.dir = dir;
    if ((st = source_open(&src, &json, dir)) != RELAGE_OK) goto cleanup;
    net = calloc(1, sizeof *net);
    if (!net) {
        st = relage_fail(RELAGE_ERR_NOMEM, "mtcnn_load: no memory");
        goto cleanup;
    }
    size_t floats = layout(net, NULL);
    net->params = calloc(floats, sizeof(float));
    if (!net->params) {
        st = relage_fail(RELAGE_ERR_NOMEM, "mtcnn_load: no memory for %zu weights", floats);
        goto cleanup;
    }
    layout(net, net->params);
    if ((st = load_all(net, &src)) != RELAGE_OK) goto cleanup;
    mtcnn_conv *convs[] = {net->pnet, net->rnet, net->onet};
    int n_convs[] = {4, 5, 6};
    for (int g = 0; g < 3; g++)
        for (int i = 0; i < n_convs[g]; i++) {
            mtcnn_conv *l = &convs[g][i];
            conv2d_direct_pack(l->packed, l->weight, l->in, l->out, l->k);
        }
    net->backend = backend_ref();
    *out = net;
    net = NULL;

cleanup:
    source_close(&src, json);
    mtcnn_free(net);
    return st;
}

void mtcnn_free(mtcnn *net) {
    if (!net) return;
    free(net->params);
    free(net);
}
