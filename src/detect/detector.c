/* The detector front end: choosing MTCNN or the cascade, and face regions. */
#include "detect/detector.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/status.h"

struct detector {
    detector_kind kind;
    mtcnn *mtcnn;
    cascade *cascade;
    mtcnn_params mtcnn_params;
    cascade_params cascade_params;
    char source[512];
};

static const char *const KIND_NAMES[] = {"auto", "mtcnn", "cascade"};

const char *detector_kind_name(detector_kind kind) {
    return KIND_NAMES[kind];
}

relage_status detector_kind_parse(const char *name, detector_kind *kind) {
    for (int i = 0; i < 3; i++)
        if (strcmp(name, KIND_NAMES[i]) == 0) {
            *kind = (detector_kind)i;
            return RELAGE_OK;
        }
    return relage_fail(RELAGE_ERR_INVALID_ARG,
                       "unknown detector '%s' (choose auto, mtcnn or cascade)", name);
}

static int has_manifest(const char *dir) {
    char path[600];
    struct stat st;
    snprintf(path, sizeof path, "%s/mtcnn_model-weights_manifest.json", dir);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *detector_find_mtcnn(const char *dir) {
    static _Thread_local char home_dir[512];
    if (dir) return has_manifest(dir) ? dir : NULL;
    const char *env = getenv("RELAGE_MTCNN");
    if (env && *env) return has_manifest(env) ? env : NULL;
    const char *home = getenv("HOME");
    if (!home) return NULL;
    snprintf(home_dir, sizeof home_dir, "%s/.local/share/relage/mtcnn", home);
    return has_manifest(home_dir) ? home_dir : NULL;
}

int detector_mtcnn_named(const char *dir) {
    const char *env = getenv("RELAGE_MTCNN");
    return dir || (env && *env);
}

relage_status detector_open(detector **out, detector_kind kind, const char *mtcnn_dir,
                            const char *cascade_xml) {
    *out = NULL;
    detector *d = calloc(1, sizeof *d);
    if (!d) return relage_fail(RELAGE_ERR_NOMEM, "detector: out of memory");
    d->mtcnn_params = mtcnn_default_params();
    d->cascade_params = cascade_default_params();
    const char *weights = detector_find_mtcnn(mtcnn_dir);
    relage_status st = RELAGE_OK;
    /* a folder given explicitly (the argument or RELAGE_MTCNN) must hold the weights: a typo
     * does not fall back silently */
    if (kind == DETECTOR_MTCNN ||
        (kind == DETECTOR_AUTO && (weights || detector_mtcnn_named(mtcnn_dir)))) {
        if (!weights) {
            st = relage_fail(RELAGE_ERR_IO,
                             "MTCNN weights not found in %s (get them with "
                             "scripts/get-mtcnn-weights, then use --mtcnn DIR or RELAGE_MTCNN)",
                             mtcnn_dir                ? mtcnn_dir
                             : getenv("RELAGE_MTCNN") ? getenv("RELAGE_MTCNN")
                                                      : "$RELAGE_MTCNN or "
                                                        "~/.local/share/relage/mtcnn");
            goto cleanup;
        }
        d->kind = DETECTOR_MTCNN;
        snprintf(d->source, sizeof d->source, "%s", weights);
        st = mtcnn_load(&d->mtcnn, weights);
    } else {
        const char *xml = cascade_xml ? cascade_xml : cascade_default_path();
        d->kind = DETECTOR_CASCADE;
        snprintf(d->source, sizeof d->source, "%s", xml);
        st = cascade_load(&d->cascade, xml);
    }
cleanup:
    if (st != RELAGE_OK) {
        detector_free(d);
        return st;
    }
    *out = d;
    return RELAGE_OK;
}

void detector_free(detector *d) {
    if (!d) return;
    mtcnn_free(d->mtcnn);
    cascade_free(d->cascade);
    free(d);
}

detector_kind detector_kind_of(const detector *d) {
    return d->kind;
}

const char *detector_source(const detector *d) {
    return d->source;
}

mtcnn_params *detector_mtcnn_params(detector *d) {
    return d->kind == DETECTOR_MTCNN ? &d->mtcnn_params : NULL;
}

cascade_params *detector_cascade_params(detector *d) {
    return d->kind == DETECTOR_CASCADE ? &d->cascade_params : NULL;
}

relage_status detector_detect(const detector *d, const image *img, face_detection **faces,
                              size_t *n_faces) {
    *faces = NULL;
    *n_faces = 0;
    if (d->kind == DETECTOR_MTCNN)
        return mtcnn_detect(d->mtcnn, img, &d->mtcnn_params, faces, n_faces);
    float(*boxes)[4] = NULL;
    size_t n = 0;
    relage_status st = cascade_detect(d->cascade, img, &d->cascade_params, &boxes, &n);
    if (st != RELAGE_OK) return st;
    face_detection *out = n ? calloc(n, sizeof *out) : NULL;
    if (n && !out) {
        free(boxes);
        return relage_fail(RELAGE_ERR_NOMEM, "detector: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(out[i].box, boxes[i], sizeof out[i].box);
        out[i].prob = NAN;
        for (int k = 0; k < 5; k++) out[i].landmarks[k][0] = out[i].landmarks[k][1] = NAN;
    }
    free(boxes);
    *faces = out;
    *n_faces = n;
    return RELAGE_OK;
}

void face_boxes_as_mtcnn(face_detection *faces, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float *b = faces[i].box;
        float cx = 0.5f * (b[0] + b[2]), cy = 0.5f * (b[1] + b[3]);
        float hw = 0.5f * 0.818f * (b[2] - b[0]), hh = 0.5f * 1.019f * (b[3] - b[1]);
        b[0] = cx - hw;
        b[1] = cy - hh;
        b[2] = cx + hw;
        b[3] = cy + hh;
    }
}

void face_region(const float box[4], float margin, int square, float region[4]) {
    float w = box[2] - box[0], h = box[3] - box[1], side = w > h ? w : h;
    float grow = margin * side;
    region[0] = box[0] - grow;
    region[1] = box[1] - grow;
    region[2] = box[2] + grow;
    region[3] = box[3] + grow;
    if (square) {
        float cx = 0.5f * (region[0] + region[2]), cy = 0.5f * (region[1] + region[3]);
        float half = 0.5f * (side + 2.0f * grow);
        region[0] = cx - half;
        region[1] = cy - half;
        region[2] = cx + half;
        region[3] = cy + half;
    }
}

face_policy face_policy_paper(void) {
    face_policy p = {0, 0.0f, 0};
    return p;
}

void face_policy_format(const face_policy *p, char *text, size_t size) {
    snprintf(text, size, "%s margin=%g square=%d", p->all ? "all" : "largest", (double)p->margin,
             p->square ? 1 : 0);
}

relage_status face_policy_parse(const char *text, face_policy *p) {
    char which[16] = "";
    float margin = 0.0f;
    int square = 0, used = 0;
    if (sscanf(text, "%15s margin=%f square=%d%n", which, &margin, &square, &used) != 3 ||
        text[used] != '\0' || (strcmp(which, "largest") != 0 && strcmp(which, "all") != 0) ||
        !(margin >= 0.0f && margin <= 10.0f) || (square != 0 && square != 1))
        return relage_fail(RELAGE_ERR_INVALID_ARG,
                           "face policy '%s': expected 'largest|all margin=M square=0|1'", text);
    p->all = strcmp(which, "all") == 0;
    p->margin = margin;
    p->square = square;
    return RELAGE_OK;
}

size_t face_policy_apply(const face_policy *p, const face_detection *faces, size_t n_faces,
                         int width, int height, float (*regions)[4], size_t max_regions,
                         int *whole_image) {
    *whole_image = n_faces == 0;
    if (max_regions == 0) return 0;
    if (n_faces == 0) {
        regions[0][0] = regions[0][1] = 0.0f;
        regions[0][2] = (float)width;
        regions[0][3] = (float)height;
        return 1;
    }
    size_t n = p->all ? n_faces : 1;
    if (n > max_regions) n = max_regions;
    for (size_t i = 0; i < n; i++) face_region(faces[i].box, p->margin, p->square, regions[i]);
    return n;
}

relage_status face_crop(image *out, const image *img, const float region[4], int size) {
    int x = (int)lroundf(region[0]), y = (int)lroundf(region[1]);
    int w = (int)lroundf(region[2]) - x, h = (int)lroundf(region[3]) - y;
    image crop = {0};
    relage_status st = image_crop(&crop, img, x, y, w < 1 ? 1 : w, h < 1 ? 1 : h);
    if (st == RELAGE_OK) st = image_resize_bilinear(out, &crop, size, size);
    image_free(&crop);
    return st;
}
