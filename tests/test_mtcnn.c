/* Tests for src/detect/mtcnn.
 *
 * Always: loading crafted face-api.js weight folders (a valid one, then a missing folder,
 * missing or malformed manifest, short and long shards, a missing tensor, a wrong shape, a
 * quantised or non-float32 tensor, the RELAGE_MTCNN variable), argument checks, and a run of
 * all three stages on synthetic weights whose outputs are known (every cell a face), on RGB and
 * gray images and with one or two threads.
 *
 * With the shared data (RELAGE_MTCNN or ../shared/models/mtcnn/face-api-tfjs, and
 * ../shared/data/detect next to the repository): every photo of shared/data/detect/images
 * against the detections of facenet-pytorch 2.5.2 in mtcnn_reference.json; faces match at IoU
 * >= 0.7, and precision, recall, median IoU, landmark error (relative to the reference
 * inter-ocular distance) and probability differences are printed and checked. Without that
 * data the comparison is skipped with a message and the test passes. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <cjson/cJSON.h>
#include <dirent.h>
#include <omp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/clock.h"
#include "detect/mtcnn.h"
#include "image/image.h"
#include "test.h"

#define SHARED RELAGE_FIXTURES "/../../../shared"
#define SHARED_WEIGHTS SHARED "/models/mtcnn/face-api-tfjs"
#define SHARED_DETECT SHARED "/data/detect"
#define MANIFEST "mtcnn_model-weights_manifest.json"
#define SHARD "mtcnn_model-shard1"

static char temp_dir[] = "/tmp/relage_mtcnn_XXXXXX";

/* ---- crafted weight folders ---- */

typedef struct tensor_spec {
    const char *name;
    int ndim, shape[4];
} tensor_spec;

/* face-api.js's MTCNN manifest, in its order. */
static const tensor_spec SPECS[] = {
    {"pnet/conv1/weights", 4, {3, 3, 3, 10}},
    {"pnet/conv1/bias", 1, {10}},
    {"pnet/prelu1_alpha", 1, {10}},
    {"pnet/conv2/weights", 4, {3, 3, 10, 16}},
    {"pnet/conv2/bias", 1, {16}},
    {"pnet/prelu2_alpha", 1, {16}},
    {"pnet/conv3/weights", 4, {3, 3, 16, 32}},
    {"pnet/conv3/bias", 1, {32}},
    {"pnet/prelu3_alpha", 1, {32}},
    {"pnet/conv4_1/weights", 4, {1, 1, 32, 2}},
    {"pnet/conv4_1/bias", 1, {2}},
    {"pnet/conv4_2/weights", 4, {1, 1, 32, 4}},
    {"pnet/conv4_2/bias", 1, {4}},
    {"rnet/conv1/weights", 4, {3, 3, 3, 28}},
    {"rnet/conv1/bias", 1, {28}},
    {"rnet/prelu1_alpha", 1, {28}},
    {"rnet/conv2/weights", 4, {3, 3, 28, 48}},
    {"rnet/conv2/bias", 1, {48}},
    {"rnet/prelu2_alpha", 1, {48}},
    {"rnet/conv3/weights", 4, {2, 2, 48, 64}},
    {"rnet/conv3/bias", 1, {64}},
    {"rnet/prelu3_alpha", 1, {64}},
    {"rnet/fc1/weights", 2, {576, 128}},
    {"rnet/fc1/bias", 1, {128}},
    {"rnet/prelu4_alpha", 1, {128}},
    {"rnet/fc2_1/weights", 2, {128, 2}},
    {"rnet/fc2_1/bias", 1, {2}},
    {"rnet/fc2_2/weights", 2, {128, 4}},
    {"rnet/fc2_2/bias", 1, {4}},
    {"onet/conv1/weights", 4, {3, 3, 3, 32}},
    {"onet/conv1/bias", 1, {32}},
    {"onet/prelu1_alpha", 1, {32}},
    {"onet/conv2/weights", 4, {3, 3, 32, 64}},
    {"onet/conv2/bias", 1, {64}},
    {"onet/prelu2_alpha", 1, {64}},
    {"onet/conv3/weights", 4, {3, 3, 64, 64}},
    {"onet/conv3/bias", 1, {64}},
    {"onet/prelu3_alpha", 1, {64}},
    {"onet/conv4/weights", 4, {2, 2, 64, 128}},
    {"onet/conv4/bias", 1, {128}},
    {"onet/prelu4_alpha", 1, {128}},
    {"onet/fc1/weights", 2, {1152, 256}},
    {"onet/fc1/bias", 1, {256}},
    {"onet/prelu5_alpha", 1, {256}},
    {"onet/fc2_1/weights", 2, {256, 2}},
    {"onet/fc2_1/bias", 1, {2}},
    {"onet/fc2_2/weights", 2, {256, 4}},
    {"onet/fc2_2/bias", 1, {4}},
    {"onet/fc2_3/weights", 2, {256, 10}},
    {"onet/fc2_3/bias", 1, {10}},
};
enum { N_SPECS = sizeof SPECS / sizeof *SPECS };

static size_t spec_numel(const tensor_spec *t) {
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

/* How a crafted folder departs from a valid one. */
typedef struct craft {
    const char *skip;      /* tensor left out of the manifest (and the shard) */
    const char *reshape;   /* tensor whose first dimension is one larger (data included) */
    const char *quantised; /* tensor given a "quantization" entry */
    const char *dtype;     /* tensor given dtype int32 */
    long shard_delta;      /* bytes added to (or cut from) the shard */
    const char *manifest;  /* manifest text to write instead, or NULL */
    int no_shard;          /* write no shard file */
} craft;

/* Synthetic weights: zero everywhere except the class-1 logit biases of the three networks,
 * which are 5, so every cell and crop is a face with probability 1 / (1 + e^-5). */
static float synthetic_value(const char *name, size_t i) {
    int face_bias = strcmp(name, "pnet/conv4_1/bias") == 0 ||
                    strcmp(name, "rnet/fc2_1/bias") == 0 || strcmp(name, "onet/fc2_1/bias") == 0;
    return face_bias && i == 1 ? 5.0f : 0.0f;
}

static void write_text(const char *dir, const char *name, const char *text, size_t size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK(fwrite(text, 1, size, f) == size);
    CHECK(fclose(f) == 0);
}

/* Makes temp_dir/name holding a manifest and shard as c says; returns the folder. */
static const char *make_folder(const char *name, const craft *c) {
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", temp_dir, name);
    CHECK(mkdir(dir, 0700) == 0);
    char *manifest = malloc(1 << 16);
    size_t len = 0, cap = 1 << 16, bytes = 0;
    len +=
        (size_t)snprintf(manifest + len, cap - len, "[{\"paths\": [\"" SHARD "\"], \"weights\": [");
    unsigned char *shard = malloc(4 << 20);
    int first = 1;
    for (int i = 0; i < N_SPECS; i++) {
        tensor_spec t = SPECS[i];
        if (c->skip && strcmp(c->skip, t.name) == 0) continue;
        if (c->reshape && strcmp(c->reshape, t.name) == 0) t.shape[0]++;
        len += (size_t)snprintf(manifest + len, cap - len, "%s{\"name\": \"%s\", \"shape\": [",
                                first ? "" : ", ", t.name);
        for (int d = 0; d < t.ndim; d++)
            len += (size_t)snprintf(manifest + len, cap - len, "%s%d", d ? ", " : "", t.shape[d]);
        const char *dtype = c->dtype && strcmp(c->dtype, t.name) == 0 ? "int32" : "float32";
        len += (size_t)snprintf(manifest + len, cap - len, "], \"dtype\": \"%s\"%s}", dtype,
                                c->quantised && strcmp(c->quantised, t.name) == 0
                                    ? ", \"quantization\": {\"dtype\": \"uint8\"}"
                                    : "");
        first = 0;
        for (size_t k = 0; k < spec_numel(&t); k++) {
            float v = synthetic_value(t.name, k);
            uint32_t u;
            memcpy(&u, &v, sizeof u);
            for (int b = 0; b < 4; b++) shard[bytes++] = (unsigned char)(u >> (8 * b));
        }
    }
    len += (size_t)snprintf(manifest + len, cap - len, "]}]");
    if (c->manifest)
        write_text(dir, MANIFEST, c->manifest, strlen(c->manifest));
    else
        write_text(dir, MANIFEST, manifest, len);
    if (c->shard_delta > 0) memset(shard + bytes, 0, (size_t)c->shard_delta);
    if (!c->no_shard) write_text(dir, SHARD, (const char *)shard, bytes + (size_t)c->shard_delta);
    free(manifest);
    free(shard);
    return dir;
}

/* Removes temp_dir: its folders, each holding at most a manifest and a shard. */
static void remove_tree(void) {
    DIR *top = opendir(temp_dir);
    CHECK(top != NULL);
    if (!top) return;
    struct dirent *e;
    while ((e = readdir(top)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[1024];
        const char *files[] = {MANIFEST, SHARD};
        for (int i = 0; i < 2; i++) {
            snprintf(path, sizeof path, "%s/%s/%s", temp_dir, e->d_name, files[i]);
            unlink(path);
        }
        snprintf(path, sizeof path, "%s/%s", temp_dir, e->d_name);
        CHECK(rmdir(path) == 0);
    }
    closedir(top);
    CHECK(rmdir(temp_dir) == 0);
}

static void test_load_errors(void) {
    mtcnn *net = (mtcnn *)1;
    craft ok = {0};
    CHECK_OK(mtcnn_load(&net, make_folder("valid", &ok)));
    mtcnn_free(net);

    CHECK_FAILS(mtcnn_load(&net, "/nonexistent/relage-mtcnn"), RELAGE_ERR_IO);
    CHECK(net == NULL);
    printf("missing folder: %s\n", relage_last_error());

    craft c = {0};
    c.manifest = "[{\"paths\": [\"" SHARD "\"], \"weights\": [";
    CHECK_FAILS(mtcnn_load(&net, make_folder("truncated_json", &c)), RELAGE_ERR_FORMAT);
    c.manifest = "{\"weights\": []}";
    CHECK_FAILS(mtcnn_load(&net, make_folder("not_array", &c)), RELAGE_ERR_FORMAT);
    c.manifest = "[{\"paths\": [\"../" SHARD "\"], \"weights\": []}]";
    CHECK_FAILS(mtcnn_load(&net, make_folder("escaping_path", &c)), RELAGE_ERR_FORMAT);

    craft no_shard = {.no_shard = 1};
    CHECK_FAILS(mtcnn_load(&net, make_folder("no_shard", &no_shard)), RELAGE_ERR_IO);
    craft short_shard = {.shard_delta = -4};
    CHECK_FAILS(mtcnn_load(&net, make_folder("short_shard", &short_shard)), RELAGE_ERR_FORMAT);
    printf("short shard: %s\n", relage_last_error());
    CHECK(strstr(relage_last_error(), "short") != NULL);
    craft long_shard = {.shard_delta = 8};
    CHECK_FAILS(mtcnn_load(&net, make_folder("long_shard", &long_shard)), RELAGE_ERR_FORMAT);
    craft skip = {.skip = "rnet/fc1/weights"};
    CHECK_FAILS(mtcnn_load(&net, make_folder("missing_tensor", &skip)), RELAGE_ERR_MISMATCH);
    CHECK(strstr(relage_last_error(), "rnet/fc1/weights") != NULL);
    craft reshape = {.reshape = "onet/conv2/weights"};
    CHECK_FAILS(mtcnn_load(&net, make_folder("wrong_shape", &reshape)), RELAGE_ERR_MISMATCH);
    printf("wrong shape: %s\n", relage_last_error());
    craft quantised = {.quantised = "pnet/conv1/bias"};
    CHECK_FAILS(mtcnn_load(&net, make_folder("quantised", &quantised)), RELAGE_ERR_UNSUPPORTED);
    craft dtype = {.dtype = "pnet/conv1/bias"};
    CHECK_FAILS(mtcnn_load(&net, make_folder("int32", &dtype)), RELAGE_ERR_UNSUPPORTED);
    CHECK(net == NULL);

    /* The folder from the environment. */
    char *saved = getenv("RELAGE_MTCNN") ? strdup(getenv("RELAGE_MTCNN")) : NULL;
    char valid[512];
    snprintf(valid, sizeof valid, "%s/valid", temp_dir);
    setenv("RELAGE_MTCNN", valid, 1);
    CHECK_OK(mtcnn_load(&net, NULL));
    mtcnn_free(net);
    unsetenv("RELAGE_MTCNN");
    CHECK_FAILS(mtcnn_load(&net, NULL), RELAGE_ERR_INVALID_ARG);
    if (saved) setenv("RELAGE_MTCNN", saved, 1);
    free(saved);
    CHECK_FAILS(mtcnn_load(NULL, valid), RELAGE_ERR_INVALID_ARG);
    mtcnn_free(NULL);
}

/* ---- synthetic detection ---- */

/* A deterministic textured image. */
static image make_image(int width, int height, int channels) {
    image img = {width, height, channels, malloc((size_t)width * height * channels)};
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            for (int c = 0; c < channels; c++)
                img.data[((size_t)y * width + x) * channels + c] =
                    (uint8_t)((x * 7 + y * 13 + (x * y) % 31) & 0xff);
    return img;
}

static void test_synthetic(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/valid", temp_dir);
    mtcnn *net = NULL;
    CHECK_OK(mtcnn_load(&net, dir));
    if (!net) return;
    mtcnn_params p = mtcnn_default_params();
    CHECK(p.min_face == 20.0 && p.factor == 0.709 && p.threshold[0] == 0.6f &&
          p.threshold[1] == 0.7f && p.threshold[2] == 0.7f);

    image rgb = make_image(150, 110, 3), gray = make_image(150, 110, 1);
    for (size_t i = 0; i < (size_t)150 * 110; i++) memset(rgb.data + 3 * i, gray.data[i], 3);
    face_detection *faces = NULL, *faces_gray = NULL, *faces_1 = NULL;
    size_t n = 0, n_gray = 0, n_1 = 0;
    CHECK_OK(mtcnn_detect(net, &rgb, NULL, &faces, &n));
    CHECK_OK(mtcnn_detect(net, &gray, &p, &faces_gray, &n_gray));
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK_OK(mtcnn_detect(net, &rgb, NULL, &faces_1, &n_1));
    omp_set_num_threads(threads);
    printf("synthetic weights, 150x110: %zu faces\n", n);
    CHECK(n > 1);
    CHECK_INT_EQ(n_gray, n);
    CHECK_INT_EQ(n_1, n);
    if (n_gray == n) CHECK(memcmp(faces, faces_gray, n * sizeof *faces) == 0);
    if (n_1 == n) CHECK(memcmp(faces, faces_1, n * sizeof *faces) == 0);
    /* Every output is its bias: probability 1 / (1 + e^-5), no box regression, landmarks at the
     * O-Net crop's corner (x1 - 1, y1 - 1), squares sorted by descending area. */
    for (size_t i = 0; i < n; i++) {
        const face_detection *f = &faces[i];
        CHECK_NEAR(f->prob, 1.0 / (1.0 + exp(-5.0)), 1e-6);
        CHECK_NEAR(f->box[2] - f->box[0], f->box[3] - f->box[1], 1e-3);
        for (int k = 0; k < 5; k++) {
            CHECK_NEAR(f->landmarks[k][0], f->box[0] - 1.0f, 1e-3);
            CHECK_NEAR(f->landmarks[k][1], f->box[1] - 1.0f, 1e-3);
        }
        if (i > 0) {
            float a0 = (faces[i - 1].box[2] - faces[i - 1].box[0]) *
                       (faces[i - 1].box[3] - faces[i - 1].box[1]);
            CHECK(a0 >= (f->box[2] - f->box[0]) * (f->box[3] - f->box[1]));
        }
    }
    free(faces);
    free(faces_gray);
    free(faces_1);

    /* Thresholds above the probability: no faces, no error. */
    p.threshold[2] = 0.999f;
    CHECK_OK(mtcnn_detect(net, &rgb, &p, &faces, &n));
    CHECK(n == 0 && faces == NULL);
    /* Images too small for the pyramid (12 pixels at 12 / min_face) have no faces. */
    image tiny = make_image(19, 40, 3);
    CHECK_OK(mtcnn_detect(net, &tiny, NULL, &faces, &n));
    CHECK(n == 0 && faces == NULL);
    image_free(&tiny);

    /* Argument checks. */
    p = mtcnn_default_params();
    image bad = rgb;
    bad.channels = 2;
    CHECK_FAILS(mtcnn_detect(net, &bad, &p, &faces, &n), RELAGE_ERR_INVALID_ARG);
    bad = rgb;
    bad.data = NULL;
    CHECK_FAILS(mtcnn_detect(net, &bad, &p, &faces, &n), RELAGE_ERR_INVALID_ARG);
    p.factor = 1.0;
    CHECK_FAILS(mtcnn_detect(net, &rgb, &p, &faces, &n), RELAGE_ERR_INVALID_ARG);
    p = mtcnn_default_params();
    p.min_face = 0.0;
    CHECK_FAILS(mtcnn_detect(net, &rgb, &p, &faces, &n), RELAGE_ERR_INVALID_ARG);
    p = mtcnn_default_params();
    p.threshold[1] = NAN;
    CHECK_FAILS(mtcnn_detect(net, &rgb, &p, &faces, &n), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(mtcnn_detect(NULL, &rgb, NULL, &faces, &n), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(mtcnn_detect(net, &rgb, NULL, NULL, &n), RELAGE_ERR_INVALID_ARG);
    CHECK(faces == NULL && n == 0);

    image_free(&rgb);
    image_free(&gray);
    mtcnn_free(net);
}

/* ---- the reference detections of facenet-pytorch ---- */

static double iou(const float *a, const float *b) {
    double xx1 = fmax(a[0], b[0]), yy1 = fmax(a[1], b[1]);
    double xx2 = fmin(a[2], b[2]), yy2 = fmin(a[3], b[3]);
    double inter = fmax(0.0, xx2 - xx1) * fmax(0.0, yy2 - yy1);
    double area_a = ((double)a[2] - (double)a[0]) * ((double)a[3] - (double)a[1]);
    double area_b = ((double)b[2] - (double)b[0]) * ((double)b[3] - (double)b[1]);
    return inter / (area_a + area_b - inter);
}

static int by_value(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

static double median(double *v, size_t n) {
    if (n == 0) return (double)NAN;
    qsort(v, n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Reads the reference face i of one image; returns 0 if malformed. */
static int reference_face(const cJSON *face, face_detection *out) {
    const cJSON *box = cJSON_GetObjectItemCaseSensitive(face, "box");
    const cJSON *prob = cJSON_GetObjectItemCaseSensitive(face, "prob");
    const cJSON *lm = cJSON_GetObjectItemCaseSensitive(face, "landmarks");
    if (cJSON_GetArraySize(box) != 4 || !cJSON_IsNumber(prob) || cJSON_GetArraySize(lm) != 5)
        return 0;
    for (int k = 0; k < 4; k++) out->box[k] = (float)cJSON_GetArrayItem(box, k)->valuedouble;
    out->prob = (float)prob->valuedouble;
    for (int k = 0; k < 5; k++) {
        const cJSON *pt = cJSON_GetArrayItem(lm, k);
        if (cJSON_GetArraySize(pt) != 2) return 0;
        for (int j = 0; j < 2; j++)
            out->landmarks[k][j] = (float)cJSON_GetArrayItem(pt, j)->valuedouble;
    }
    return 1;
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *text = NULL;
    long n;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        text = malloc((size_t)n + 1);
        if (text && fread(text, 1, (size_t)n, f) != (size_t)n) {
            free(text);
            text = NULL;
        }
        if (text) text[n] = '\0';
    }
    fclose(f);
    return text;
}

static void test_reference(void) {
    const char *weights = getenv("RELAGE_MTCNN") ? getenv("RELAGE_MTCNN") : SHARED_WEIGHTS;
    char manifest[1024];
    snprintf(manifest, sizeof manifest, "%s/" MANIFEST, weights);
    char *text = read_text(SHARED_DETECT "/mtcnn_reference.json");
    if (!text || access(manifest, R_OK) != 0) {
        printf("test_mtcnn: SKIPPED the comparison with facenet-pytorch: %s or %s is missing\n",
               manifest, SHARED_DETECT "/mtcnn_reference.json");
        free(text);
        return;
    }
    cJSON *ref = cJSON_Parse(text);
    const cJSON *detections = cJSON_GetObjectItemCaseSensitive(ref, "detections");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(ref, "image_meta");
    CHECK(cJSON_IsObject(detections) && cJSON_IsObject(meta));
    mtcnn *net = NULL;
    CHECK_OK(mtcnn_load(&net, weights));
    if (!net || !cJSON_IsObject(detections)) goto cleanup;

    size_t images = 0, n_ref = 0, n_det = 0, n_match = 0, within = 0, cap = 4096;
    double *ious = malloc(cap * sizeof *ious), *lm_err = malloc(cap * sizeof *lm_err);
    double max_dprob = 0.0, seconds = 0.0, seconds_small = 0.0, seconds_large = 0.0;
    size_t small = 0, large = 0;
    const cJSON *entry;
    cJSON_ArrayForEach(entry, detections) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", SHARED_DETECT, entry->string);
        image img = {0};
        CHECK_OK(image_load(&img, path, NULL));
        if (!img.data) continue;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(meta, entry->string);
        const cJSON *mw = cJSON_GetObjectItemCaseSensitive(m, "width");
        const cJSON *mh = cJSON_GetObjectItemCaseSensitive(m, "height");
        CHECK(cJSON_IsNumber(mw) && (int)mw->valuedouble == img.width);
        CHECK(cJSON_IsNumber(mh) && (int)mh->valuedouble == img.height);
        face_detection *faces = NULL;
        size_t n = 0;
        double t0 = clock_seconds();
        CHECK_OK(mtcnn_detect(net, &img, NULL, &faces, &n));
        double dt = clock_seconds() - t0;
        seconds += dt;
        if (img.width >= 1000 || img.height >= 1000) {
            seconds_large += dt;
            large++;
        } else {
            seconds_small += dt;
            small++;
        }
        images++;
        n_det += n;
        unsigned char *used = calloc(n ? n : 1, 1);
        const cJSON *face;
        cJSON_ArrayForEach(face, entry) {
            face_detection want;
            if (!reference_face(face, &want)) {
                CHECK(!"malformed reference face");
                continue;
            }
            n_ref++;
            size_t best = n;
            double best_iou = 0.0;
            for (size_t d = 0; d < n; d++) {
                double v = used[d] ? 0.0 : iou(want.box, faces[d].box);
                if (v > best_iou) {
                    best_iou = v;
                    best = d;
                }
            }
            if (best == n || best_iou < 0.7) {
                printf("%s: reference face [%.1f %.1f %.1f %.1f] p=%.4f not found\n", entry->string,
                       (double)want.box[0], (double)want.box[1], (double)want.box[2],
                       (double)want.box[3], (double)want.prob);
                continue;
            }
            used[best] = 1;
            const face_detection *got = &faces[best];
            double iod = hypot((double)want.landmarks[0][0] - (double)want.landmarks[1][0],
                               (double)want.landmarks[0][1] - (double)want.landmarks[1][1]);
            double err = 0.0;
            for (int k = 0; k < 5; k++)
                err += hypot((double)want.landmarks[k][0] - (double)got->landmarks[k][0],
                             (double)want.landmarks[k][1] - (double)got->landmarks[k][1]);
            double dprob = fabs((double)want.prob - (double)got->prob);
            if (n_match == cap) {
                cap *= 2;
                ious = realloc(ious, cap * sizeof *ious);
                lm_err = realloc(lm_err, cap * sizeof *lm_err);
            }
            ious[n_match] = best_iou;
            lm_err[n_match] = err / 5.0 / iod;
            n_match++;
            within += dprob <= 0.02;
            max_dprob = fmax(max_dprob, dprob);
        }
        for (size_t d = 0; d < n; d++)
            if (!used[d])
                printf("%s: extra face [%.1f %.1f %.1f %.1f] p=%.4f\n", entry->string,
                       (double)faces[d].box[0], (double)faces[d].box[1], (double)faces[d].box[2],
                       (double)faces[d].box[3], (double)faces[d].prob);
        free(used);
        free(faces);
        image_free(&img);
    }
    double recall = n_ref ? (double)n_match / n_ref : 0.0;
    double precision = n_det ? (double)n_match / n_det : 0.0;
    double min_iou = n_match ? ious[0] : (double)NAN;
    for (size_t i = 0; i < n_match; i++) min_iou = fmin(min_iou, ious[i]);
    double med_iou = median(ious, n_match), med_lm = median(lm_err, n_match);
    double max_lm = n_match ? lm_err[n_match - 1] : (double)NAN;
    double frac_prob = n_match ? (double)within / n_match : 0.0;
    printf("facenet-pytorch reference: %zu images, %zu reference faces, %zu detected, %zu "
           "matched (IoU >= 0.7)\n",
           images, n_ref, n_det, n_match);
    printf("  recall %.4f, precision %.4f, IoU median %.6f min %.6f\n", recall, precision, med_iou,
           min_iou);
    printf("  landmark error / inter-ocular distance: median %.2e, max %.2e\n", med_lm, max_lm);
    printf("  |prob - reference|: %.4f of matched faces within 0.02, max %.2e\n", frac_prob,
           max_dprob);
    printf("  detection time with %d threads: %.1f ms per photo under 1000 px (%zu), %.1f ms per "
           "larger photo (%zu), %.2f s in all\n",
           omp_get_max_threads(), small ? 1e3 * seconds_small / small : 0.0, small,
           large ? 1e3 * seconds_large / large : 0.0, large, seconds);
    CHECK(images > 0);
    CHECK(recall >= 0.98);
    CHECK(precision >= 0.98);
    CHECK(med_iou >= 0.95);
    CHECK(med_lm <= 0.03);
    CHECK(frac_prob >= 0.98);
    free(ious);
    free(lm_err);

cleanup:
    mtcnn_free(net);
    cJSON_Delete(ref);
    free(text);
}

int main(void) {
    CHECK(mkdtemp(temp_dir) != NULL);
    test_load_errors();
    test_synthetic();
    remove_tree();
    test_reference();
    return test_summary("test_mtcnn");
}
