/* Viola-Jones face detection with OpenCV's Haar cascades: the fallback detector when the MTCNN
 * weights are absent. Reads the new-style cascade XML that OpenCV's traincascade writes
 * (<opencv_storage><cascade type_id="opencv-cascade-classifier">, stageType BOOST, featureType
 * HAAR), e.g. Debian's opencv-data haarcascade_frontalface_default.xml, and detects as OpenCV
 * 4.x's CascadeClassifier::detectMultiScale does (flags 0, no OpenCL): the image is scaled down
 * with OpenCV's bit-exact bilinear resize, the 24x24 (or whatever the file says) window slides
 * over each scaled image, and the hits are grouped with groupRectangles (eps 0.2). On the
 * example images the raw hits and the grouped boxes equal OpenCV 4.6's exactly.
 *
 * Boxes are [x1, y1, x2, y2] in pixels of the input image, x2 = x + width (exclusive). */
#ifndef RELAGE_DETECT_CASCADE_H
#define RELAGE_DETECT_CASCADE_H

#include <stddef.h>

#include "image/image.h"
#include "relage.h"

typedef struct cascade cascade;

typedef struct cascade_params {
    double scale_factor; /* > 1: each scale is the previous one times this (OpenCV's 1.1) */
    int min_neighbors;   /* a group needs more than this many raw hits; 0 returns raw hits */
    int min_size;        /* smallest window side in input pixels; 0 for none */
    int max_size;        /* largest window side in input pixels; 0 for the image size */
} cascade_params;

/* scale_factor 1.1, min_neighbors 3, min_size 0, max_size 0: OpenCV's defaults. */
cascade_params cascade_default_params(void);

/* Debian's opencv-data path of haarcascade_frontalface_default.xml (may not exist). */
const char *cascade_default_path(void);

/* Reads a cascade XML file. Errors name the file and, for malformed content, the line:
 * RELAGE_ERR_IO (cannot read), RELAGE_ERR_FORMAT (not XML, truncated, missing or malformed
 * elements, counts that disagree, indices out of range), RELAGE_ERR_UNSUPPORTED (well formed
 * but not handled: old-style "opencv-haar-classifier" files, LBP/HOG features, tilted Haar
 * features), RELAGE_ERR_NOMEM. *out is NULL on failure. */
relage_status cascade_load(cascade **out, const char *xml_path);

/* Accepts NULL. */
void cascade_free(cascade *c);

/* The detection window the cascade was trained on (24 x 24 for the frontal face cascades). */
void cascade_window_size(const cascade *c, int *width, int *height);

/* Detects in an RGB (3-channel) or gray (1-channel) image; RGB is converted to gray as OpenCV's
 * cvtColor does (fixed point 0.299 R + 0.587 G + 0.114 B, rounded). p may be NULL for the
 * defaults. On success *boxes holds *n boxes sorted by descending area (ties: top, then left),
 * or is NULL when *n is 0; the caller frees it with free(). On failure *boxes is NULL and *n 0:
 * RELAGE_ERR_INVALID_ARG (bad image or parameters), RELAGE_ERR_NOMEM. Uses OpenMP threads. */
relage_status cascade_detect(const cascade *c, const image *img, const cascade_params *p,
                             float (**boxes)[4], size_t *n);

#endif
