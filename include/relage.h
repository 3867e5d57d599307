/* relage: apparent-age estimation (Teh & Taylor, CRV 2019) in C11.
 *
 * Public API, read top to bottom:
 *   1. Status codes and error text: every function that can fail returns a relage_status;
 *      the details of the last failure on the calling thread are in relage_last_error().
 *   2. Version.
 *   3. Prediction: a predictor made from a model file (and face-detector weights) says how old
 *      each face in an image looks.
 *
 * Thread-safety: the error text is thread-local; nothing here holds global mutable state. A
 * predictor is used by one thread at a time: make one per thread (each holds its own weights
 * and buffers), or serialise calls on a shared one. The library never prints and never exits.
 *
 * Example (error checks shortened):
 *
 *     relage_predictor *p;
 *     if (relage_predictor_create(&p, "model.safetensors", NULL) != RELAGE_OK)
 *         fprintf(stderr, "%s\n", relage_last_error());
 *     relage_result r;
 *     if (relage_predict_file(p, "photo.jpg", &r) == RELAGE_OK) {
 *         for (size_t i = 0; i < r.n_faces; i++)
 *             printf("face %zu: %.1f years\n", i, r.faces[i].age);
 *         relage_result_free(&r);
 *     }
 *     relage_predictor_free(p);
 *
 * Build against the installed library with `pkg-config --cflags --libs relage` (the shared
 * librelage.so; add -Wl,-rpath,$(pkg-config --variable=libdir relage) unless its folder is known
 * to the loader), or link librelage.a (README.md). */
#ifndef RELAGE_H
#define RELAGE_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. Status codes and error text ---- */

typedef enum relage_status {
    RELAGE_OK = 0,
    RELAGE_ERR_INVALID_ARG, /* a caller passed a value outside the contract */
    RELAGE_ERR_IO,          /* open, read, write or rename failed */
    RELAGE_ERR_FORMAT,      /* a file is malformed, truncated or of the wrong kind */
    RELAGE_ERR_MISMATCH,    /* a file is well formed but does not fit (shape, dtype, name) */
    RELAGE_ERR_NOMEM,       /* an allocation failed */
    RELAGE_ERR_UNSUPPORTED, /* valid, but not implemented here */
    RELAGE_ERR_TOO_LARGE,   /* an input is over a limit (max_pixels, or beyond what fits memory
                               sizes at all): the input's fault, not the machine's */
} relage_status;

/* Text of the last failure on this thread ("" if none). Valid until the next failing call. */
const char *relage_last_error(void);

/* Short constant name of a status, e.g. "format error". */
const char *relage_status_string(relage_status status);

/* ---- 2. Version ---- */

#define RELAGE_VERSION "0.1.0"

/* The library version, RELAGE_VERSION of the build that is linked. */
const char *relage_version(void);

/* ---- 3. Prediction ---- */

#include <stddef.h>
#include <stdint.h>

#define RELAGE_AGE_CLASSES 101 /* ages 0..100 */

typedef struct relage_predictor relage_predictor;

/* Start from relage_predictor_default_options() (or pass NULL) and change what you need: the
 * "(default)" values below are that function's; a zeroed struct is not the defaults (its
 * max_faces 0 is refused with RELAGE_ERR_INVALID_ARG, its all_faces 0 keeps the largest face). */
typedef struct relage_predictor_options {
    const char *mtcnn_dir; /* MTCNN weights folder (an error if it lacks them); NULL:
                              $RELAGE_MTCNN, then ~/.local/share/relage/mtcnn */
    const char *detector;  /* NULL or "auto": the one the model was trained with; "mtcnn", "cascade"
                              (OpenCV's frontal-face cascade from opencv-data), "none" (the whole
                              image is the face); a model trained on MTCNN crops falls back to the
                              cascade when no MTCNN weights are found, and says so in
                              relage_predictor_notes */
    int threads;           /* OpenMP threads of each prediction call; 0: every core */
    int all_faces;         /* 1 (default): every face, largest first; 0: the largest only */
    int flip;              /* 1: average with the mirrored face (test-time augmentation) */
    int max_faces;         /* at most this many faces per image (default 32) */
    const char *precision; /* NULL or "fp32"; "bf16": the network's trunk in bf16, on CPUs with
                              AVX512-BF16 or AMX only (RELAGE_ERR_UNSUPPORTED elsewhere) */
    uint64_t max_pixels;   /* larger images are refused with RELAGE_ERR_TOO_LARGE before any
                              decoding or copying; 0: 100 megapixels */
} relage_predictor_options;

/* Defaults: detector as trained, every core, every face, no flip, 32 faces, 100 megapixels. */
relage_predictor_options relage_predictor_default_options(void);

/* Loads a relage model file (safetensors with relage metadata) and opens the face detector its
 * metadata names. opt may be NULL (the defaults). On failure *out is NULL. */
relage_status relage_predictor_create(relage_predictor **out, const char *model_path,
                                      const relage_predictor_options *opt);
void relage_predictor_free(relage_predictor *p);

/* One line on what the predictor does, e.g. "resnet18 base 112x112, detector mtcnn, faces:
 * all margin=0 square=0 size=128, flip off", and any warning (a detector other than the
 * model's). */
const char *relage_predictor_notes(const relage_predictor *p);

typedef struct relage_face {
    float box[4];      /* x1, y1, x2, y2 in image pixels; the whole image when no face was found */
    float prob;        /* detection probability; NAN for the cascade or the whole image */
    float age;         /* expected age E = sum_c c p_c, in 0..100 */
    float spread;      /* sqrt(sum_c p_c (c - E)^2) */
    float interval[2]; /* 10th and 90th percentiles of the age distribution */
    float regression;  /* the regression output, clamped to 0..100 */
    float dist[RELAGE_AGE_CLASSES]; /* p_c */
} relage_face;

typedef struct relage_result {
    relage_face *faces; /* largest first */
    size_t n_faces;     /* >= 1: with no face found, the whole image is one entry */
    int whole_image;    /* no face was found */
    int width, height;  /* of the image, after EXIF orientation */
} relage_result;

/* Predicts on an image file (JPEG or PNG), on encoded bytes in memory (name is for messages),
 * or on packed RGB pixels (stride bytes per row, >= 3 * width). On failure *out is empty. */
relage_status relage_predict_file(relage_predictor *p, const char *path, relage_result *out);
relage_status relage_predict_encoded(relage_predictor *p, const void *data, size_t size,
                                     const char *name, relage_result *out);
relage_status relage_predict_rgb(relage_predictor *p, const uint8_t *rgb, int width, int height,
                                 size_t stride, relage_result *out);
void relage_result_free(relage_result *r);

#ifdef __cplusplus
}
#endif
#endif
