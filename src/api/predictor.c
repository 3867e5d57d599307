/* The public predictor (include/relage.h): a model loaded from its file with the oneDNN
 * backend, the face detector and face policy its metadata records ("DETECTOR POLICY size=S"),
 * and per image: detect, crop each face as `relage prepare` did for training (face_crop at S),
 * the evaluation transform of the loader (resize S -> input, normalise), one batched forward
 * (with the mirrored faces when flip is on), and the summary of each age distribution. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/predictor_internal.h"
#include "core/status.h"
#include "data/loader.h"
#include "detect/detector.h"
#include "io/checkpoint.h"
#include "nn/loss.h"
#include "nn/resnet.h"
#include "relage.h"

struct relage_predictor {
    model *m;
    detector *det; /* NULL: the whole image is the face */
    int as_mtcnn;  /* the cascade stands in for MTCNN: its boxes are reshaped like MTCNN's */
    face_policy policy;
    int size; /* crop side before the evaluation transform */
    relage_predictor_options opt;
    float *input; /* (2 * max_faces, 3, S, S) */
    char notes[512];
};

relage_predictor_options relage_predictor_default_options(void) {
    relage_predictor_options o;
    memset(&o, 0, sizeof o);
    o.all_faces = 1;
    o.max_faces = 32;
    o.max_pixels = image_default_load_options().max_pixels;
    return o;
}

/* Splits the model's crop record "DETECTOR POLICY size=S" (policy: "largest|all margin=M
 * square=0|1"); an empty record (a model not trained on a face cache) means the paper's policy
 * with MTCNN at the model's input size. */
static relage_status parse_crop(const char *crop, int input, char *detector_name, size_t dsize,
                                face_policy *policy, int *size) {
    *policy = face_policy_paper();
    *size = input;
    if (!*crop) {
        snprintf(detector_name, dsize, "mtcnn");
        return RELAGE_OK;
    }
    const char *sp = strchr(crop, ' '), *sz = strstr(crop, " size=");
    if (!sp || !sz || sz < sp)
        return relage_fail(RELAGE_ERR_FORMAT,
                           "model crop record '%s' is not 'DETECTOR POLICY "
                           "size=S'",
                           crop);
    snprintf(detector_name, dsize, "%.*s", (int)(sp - crop), crop);
    char text[160];
    snprintf(text, sizeof text, "%.*s", (int)(sz - sp - 1), sp + 1);
    relage_status st = face_policy_parse(text, policy);
    if (st != RELAGE_OK) return st;
    char *end = NULL;
    long s = strtol(sz + 6, &end, 10);
    if (*end || s < 8 || s > 4096)
        return relage_fail(RELAGE_ERR_FORMAT, "model crop record '%s': bad size", crop);
    *size = (int)s;
    return RELAGE_OK;
}

static relage_status open_detector(relage_predictor *p, const char *trained, char *warning,
                                   size_t wsize) {
    int as_trained = !p->opt.detector || strcmp(p->opt.detector, "auto") == 0;
    const char *want = as_trained ? trained : p->opt.detector;
    *warning = '\0';
    if (strcmp(want, "none") == 0) return RELAGE_OK;
    detector_kind kind;
    if (detector_kind_parse(want, &kind) != RELAGE_OK || kind == DETECTOR_AUTO)
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "detector '%s': choose mtcnn, cascade, none, or auto (the model's own)",
                           want);
    if (kind == DETECTOR_MTCNN && as_trained && !detector_mtcnn_named(p->opt.mtcnn_dir) &&
        !detector_find_mtcnn(NULL)) {
        snprintf(warning, wsize,
                 "; warning: the model was trained on MTCNN crops but no MTCNN weights were "
                 "found (--mtcnn DIR or RELAGE_MTCNN; scripts/get-mtcnn-weights), so faces are "
                 "found with the cascade, their boxes reshaped like MTCNN's");
        kind = DETECTOR_CASCADE;
        p->as_mtcnn = 1;
    }
    return detector_open(&p->det, kind, p->opt.mtcnn_dir, NULL);
}

relage_status relage_predictor_create(relage_predictor **out, const char *model_path,
                                      const relage_predictor_options *opt) {
    if (!out) return relage_fail(RELAGE_ERR_INVALID_ARG, "predictor: NULL out");
    *out = NULL;
    relage_predictor *p = calloc(1, sizeof *p);
    if (!p) return relage_fail(RELAGE_ERR_NOMEM, "predictor: out of memory");
    p->opt = opt ? *opt : relage_predictor_default_options();
    if (!p->opt.max_pixels) p->opt.max_pixels = image_default_load_options().max_pixels;
    if (p->opt.max_faces < 1 || p->opt.max_faces > 1024 || p->opt.threads < 0) {
        free(p);
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "predictor: max_faces must be in 1..1024 and threads >= 0");
    }
    const backend *be = NULL;
    char trained[32], warning[300];
    int capacity = p->opt.max_faces * (p->opt.flip ? 2 : 1);
    relage_status st;
    if ((st = backend_select("dnnl", p->opt.precision ? p->opt.precision : "fp32", &be)) !=
            RELAGE_OK ||
        (st = checkpoint_open_model(&p->m, model_path, be, capacity)) != RELAGE_OK ||
        (st = parse_crop(p->m->crop, p->m->config.input, trained, sizeof trained, &p->policy,
                         &p->size)) != RELAGE_OK ||
        (st = open_detector(p, trained, warning, sizeof warning)) != RELAGE_OK)
        goto fail;
    const model_config cfg = p->m->config;
    p->input = malloc((size_t)capacity * 3 * cfg.input * cfg.input * sizeof(float));
    if (!p->input) {
        st = relage_fail(RELAGE_ERR_NOMEM, "predictor: out of memory");
        goto fail;
    }
    p->policy.all = p->opt.all_faces != 0;
    char policy[96];
    face_policy_format(&p->policy, policy, sizeof policy);
    snprintf(p->notes, sizeof p->notes, "%s %s %dx%d%s, detector %s, faces: %s size=%d, flip %s%s",
             resnet_arch_name(cfg.arch), head_kind_name(cfg.head), cfg.input, cfg.input,
             be->precision == PRECISION_BF16 ? " bf16" : "",
             p->det ? detector_kind_name(detector_kind_of(p->det)) : "none", policy, p->size,
             p->opt.flip ? "on" : "off", warning);
    *out = p;
    return RELAGE_OK;
fail:
    relage_fail_context(st, "predictor");
    relage_predictor_free(p);
    return st;
}

void relage_predictor_free(relage_predictor *p) {
    if (!p) return;
    model_free(p->m);
    detector_free(p->det);
    free(p->input);
    free(p);
}

const char *relage_predictor_notes(const relage_predictor *p) {
    return p ? p->notes : "";
}

void relage_result_free(relage_result *r) {
    if (!r) return;
    free(r->faces);
    memset(r, 0, sizeof *r);
}

static float clamp_age(float a) {
    return a < 0.0f ? 0.0f : a > 100.0f ? 100.0f : a;
}

/* The age at which the distribution's CDF reaches q, interpolated inside the class. */
static float percentile(const float *p, double q) {
    double cdf = 0;
    for (int c = 0; c < RELAGE_AGE_CLASSES; c++) {
        double next = cdf + (double)p[c];
        if (next >= q && p[c] > 0) return clamp_age((float)(c - 0.5 + (q - cdf) / (double)p[c]));
        cdf = next;
    }
    return 100.0f;
}

static void summarise(relage_face *f, const float *probs, float reg) {
    double e = 0, v = 0;
    for (int c = 0; c < RELAGE_AGE_CLASSES; c++) e += c * (double)probs[c];
    for (int c = 0; c < RELAGE_AGE_CLASSES; c++) v += (double)probs[c] * (c - e) * (c - e);
    memcpy(f->dist, probs, sizeof f->dist);
    f->age = clamp_age((float)e);
    f->spread = (float)sqrt(v);
    f->interval[0] = percentile(probs, 0.1);
    f->interval[1] = percentile(probs, 0.9);
    f->regression = clamp_age(reg);
}

static relage_status predict_faces(relage_predictor *p, const image *img, relage_result *out);

/* Predicts with the options' OpenMP thread count on this thread, restoring the caller's. */
static relage_status predict_image(relage_predictor *p, const image *img, relage_result *out) {
    int before = omp_get_max_threads();
    if (p->opt.threads > 0) omp_set_num_threads(p->opt.threads);
    relage_status st = predict_faces(p, img, out);
    if (p->opt.threads > 0) omp_set_num_threads(before);
    return st;
}

/* The faces of img as the model's training crops had them (none without a detector). */
static relage_status find_faces(const relage_predictor *p, const image *img, face_detection **faces,
                                size_t *n_faces) {
    *faces = NULL;
    *n_faces = 0;
    if (!p->det) return RELAGE_OK;
    relage_status st = detector_detect(p->det, img, faces, n_faces);
    if (st == RELAGE_OK && p->as_mtcnn) face_boxes_as_mtcnn(*faces, *n_faces);
    return st;
}

static relage_status predict_faces(relage_predictor *p, const image *img, relage_result *out) {
    memset(out, 0, sizeof *out);
    face_detection *faces = NULL;
    size_t n_faces = 0;
    relage_status st = find_faces(p, img, &faces, &n_faces);
    if (st != RELAGE_OK) return st;
    size_t cap = (size_t)p->opt.max_faces;
    float(*regions)[4] = malloc(cap * sizeof *regions);
    out->faces = calloc(cap, sizeof *out->faces);
    if (!regions || !out->faces) {
        st = relage_fail(RELAGE_ERR_NOMEM, "predictor: out of memory");
        goto done;
    }
    int whole = 1;
    size_t n = face_policy_apply(&p->policy, faces, n_faces, img->width, img->height, regions, cap,
                                 &whole);
    int input = p->m->config.input, flip = p->opt.flip != 0;
    size_t per = (size_t)3 * input * input;
    for (size_t k = 0; k < n && st == RELAGE_OK; k++) {
        image crop = {0};
        st = face_crop(&crop, img, regions[k], p->size);
        if (st == RELAGE_OK) st = loader_eval_image(p->input + k * per, &crop, input);
        if (st == RELAGE_OK && flip) {
            image_flip_horizontal(&crop);
            st = loader_eval_image(p->input + (n + k) * per, &crop, input);
        }
        image_free(&crop);
        relage_face *f = &out->faces[k];
        memcpy(f->box, regions[k], sizeof f->box);
        f->prob = whole ? NAN : faces[k].prob;
    }
    /* Batches are padded to a power of two (zero images, whose outputs are ignored; inference
     * treats each image alone) so that images with different numbers of faces share a few
     * backend plans instead of building one per count. */
    int used = (int)(n * (size_t)(flip + 1)), batch = 1;
    while (batch < used) batch *= 2;
    if (batch > p->m->capacity) batch = used;
    memset(p->input + (size_t)used * per, 0, (size_t)(batch - used) * per * sizeof(float));
    if (st != RELAGE_OK || (st = model_forward(p->m, p->input, batch, 0)) != RELAGE_OK) goto done;
    model_expected_age(p->m);
    for (size_t k = 0; k < n; k++) {
        float probs[RELAGE_AGE_CLASSES];
        float reg = p->m->reg[k];
        for (int c = 0; c < RELAGE_AGE_CLASSES; c++) {
            probs[c] = p->m->probs[k * AGE_CLASSES + (size_t)c];
            if (flip) probs[c] = 0.5f * (probs[c] + p->m->probs[(n + k) * AGE_CLASSES + (size_t)c]);
        }
        if (flip) reg = 0.5f * (reg + p->m->reg[n + k]);
        summarise(&out->faces[k], probs, reg);
    }
    out->n_faces = n;
    out->whole_image = whole;
    out->width = img->width;
    out->height = img->height;
done:
    free(faces);
    free(regions);
    if (st != RELAGE_OK) relage_result_free(out);
    return st;
}

/* The checks every prediction call starts with; out is zeroed when it can be. */
static relage_status check_call(const relage_predictor *p, relage_result *out) {
    if (out) memset(out, 0, sizeof *out);
    if (!p || !out) return relage_fail(RELAGE_ERR_INVALID_ARG, "predict: NULL predictor or result");
    return RELAGE_OK;
}

static image_load_options load_options(const relage_predictor *p) {
    image_load_options o = image_default_load_options();
    o.max_pixels = p->opt.max_pixels;
    return o;
}

relage_status relage_predict_file(relage_predictor *p, const char *path, relage_result *out) {
    relage_status st = check_call(p, out);
    if (st != RELAGE_OK) return st;
    image img = {0};
    image_load_options lo = load_options(p);
    st = image_load(&img, path, &lo);
    if (st == RELAGE_OK) st = predict_image(p, &img, out);
    image_free(&img);
    return st;
}

relage_status relage_predict_encoded(relage_predictor *p, const void *data, size_t size,
                                     const char *name, relage_result *out) {
    relage_status st = check_call(p, out);
    if (st != RELAGE_OK) return st;
    image img = {0};
    image_load_options lo = load_options(p);
    st = image_decode(&img, data, size, name, &lo);
    if (st == RELAGE_OK) st = predict_image(p, &img, out);
    image_free(&img);
    return st;
}

relage_status relage_predict_rgb(relage_predictor *p, const uint8_t *rgb, int width, int height,
                                 size_t stride, relage_result *out) {
    relage_status st = check_call(p, out);
    if (st != RELAGE_OK) return st;
    if (!rgb) return relage_fail(RELAGE_ERR_INVALID_ARG, "predict: NULL pixels");
    if (width < 1 || height < 1)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "predict: a %dx%d image", width, height);
    if (stride < (size_t)width * 3)
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "predict: stride %zu is less than 3 * width (%d)", stride, 3 * width);
    if ((uint64_t)width * (uint64_t)height > p->opt.max_pixels)
        return relage_fail(RELAGE_ERR_TOO_LARGE, "predict: %dx%d is over the limit of %llu pixels",
                           width, height, (unsigned long long)p->opt.max_pixels);
    image img = {0};
    st = image_alloc(&img, width, height, 3);
    if (st != RELAGE_OK) return st;
    for (int y = 0; y < height; y++)
        memcpy(img.data + (size_t)y * width * 3, rgb + (size_t)y * stride, (size_t)width * 3);
    st = predict_image(p, &img, out);
    image_free(&img);
    return st;
}

model *predictor_model(relage_predictor *p) {
    return p->m;
}

relage_status predictor_face_input(relage_predictor *p, const char *path, image *face,
                                   float *input) {
    image img = {0};
    face_detection *faces = NULL;
    size_t n_faces = 0;
    float region[4];
    int whole = 1;
    face_policy largest = p->policy;
    largest.all = 0;
    relage_status st = image_load(&img, path, NULL);
    if (st == RELAGE_OK) st = find_faces(p, &img, &faces, &n_faces);
    if (st == RELAGE_OK) {
        face_policy_apply(&largest, faces, n_faces, img.width, img.height, &region, 1, &whole);
        st = face_crop(face, &img, region, p->size);
    }
    if (st == RELAGE_OK) st = loader_eval_image(input, face, p->m->config.input);
    free(faces);
    image_free(&img);
    return st;
}
