/* MTCNN face detection (Zhang et al., 2016): a P-Net over an image pyramid proposes boxes, an
 * R-Net on 24x24 crops refines them and an O-Net on 48x48 crops scores them and places five
 * landmarks. The arithmetic follows facenet-pytorch 2.5.2 (detect_face and MTCNN.detect with
 * keep_all): area resampling, (x - 127.5) / 128, torchvision NMS between stages, 'Min' NMS at
 * the end, float32 box arithmetic, faces sorted by descending box area.
 *
 * Weights are face-api.js's (mtcnn_model-weights_manifest.json + its shards, the original Caffe
 * models by way of TensorFlow), read from a folder given to mtcnn_load or named by the
 * environment variable RELAGE_MTCNN; they are never copied into the repository.
 *
 * Thread-safety: a loaded mtcnn is read-only, and mtcnn_detect allocates its scratch per call,
 * so threads may share one mtcnn. mtcnn_detect itself runs on the OpenMP threads. */
#ifndef RELAGE_DETECT_MTCNN_H
#define RELAGE_DETECT_MTCNN_H

#include <stddef.h>

#include "image/image.h"
#include "relage.h"

typedef struct mtcnn mtcnn;

typedef struct mtcnn_params {
    /* Doubles because facenet-pytorch builds the pyramid in Python floats: 0.709f would move
     * some pyramid sizes by a pixel. */
    double min_face;    /* smallest face side searched, pixels; > 0 */
    double factor;      /* pyramid step; in (0, 1) */
    float threshold[3]; /* probability thresholds of P-, R- and O-Net; in [0, 1] */
} mtcnn_params;

typedef struct face_detection {
    float box[4];          /* x1, y1, x2, y2 in pixels; may extend past the image */
    float prob;            /* O-Net face probability */
    float landmarks[5][2]; /* (x, y) of left eye (image-left), right eye, nose, mouth left and
                              mouth right */
} face_detection;

/* min_face 20, factor 0.709, thresholds 0.6, 0.7, 0.7 (facenet-pytorch's defaults). */
mtcnn_params mtcnn_default_params(void);

/* Loads the three networks from dir (NULL: the folder named by $RELAGE_MTCNN), which holds
 * mtcnn_model-weights_manifest.json and the shard files it lists. On failure *out is NULL and
 * the error names the file: RELAGE_ERR_INVALID_ARG (no folder given or set), RELAGE_ERR_IO
 * (missing or unreadable file), RELAGE_ERR_FORMAT (malformed manifest, shards shorter than the
 * manifest says), RELAGE_ERR_MISMATCH (a tensor missing or of another shape),
 * RELAGE_ERR_UNSUPPORTED (a dtype other than float32, quantised weights), RELAGE_ERR_NOMEM. */
relage_status mtcnn_load(mtcnn **out, const char *dir);

/* Accepts NULL. */
void mtcnn_free(mtcnn *net);

/* Detects faces in an RGB or gray image (gray is read as RGB); params NULL means the defaults.
 * On success *faces (malloc'ed, the caller frees it; NULL when none) holds *n_faces faces sorted
 * by descending box area. On failure *faces is NULL, *n_faces 0: RELAGE_ERR_INVALID_ARG for a
 * bad image or parameters, RELAGE_ERR_NOMEM. */
relage_status mtcnn_detect(const mtcnn *net, const image *img, const mtcnn_params *params,
                           face_detection **faces, size_t *n_faces);

#endif
