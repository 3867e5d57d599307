/* Face detection front end: one handle over MTCNN (when its weights are found) and the
 * Viola-Jones cascade (the fallback that needs only Debian's opencv-data), and the paper's face
 * policy: the largest face, or the whole image when none is found; all faces sorted by area,
 * a margin and a square crop on request. */
#ifndef RELAGE_DETECT_DETECTOR_H
#define RELAGE_DETECT_DETECTOR_H

#include <stddef.h>

#include "detect/cascade.h"
#include "detect/mtcnn.h"
#include "image/image.h"
#include "relage.h"

typedef enum detector_kind { DETECTOR_AUTO, DETECTOR_MTCNN, DETECTOR_CASCADE } detector_kind;

/* "auto", "mtcnn", "cascade". */
const char *detector_kind_name(detector_kind kind);
relage_status detector_kind_parse(const char *name, detector_kind *kind);

/* The MTCNN weights folder: dir if given, else $RELAGE_MTCNN, else
 * $HOME/.local/share/relage/mtcnn; NULL when the chosen folder lacks the manifest. The string
 * is static (or dir itself). */
const char *detector_find_mtcnn(const char *dir);

/* 1 when a weights folder was named: dir, or a non-empty $RELAGE_MTCNN. A named folder must hold
 * the weights; only the home default may be absent. */
int detector_mtcnn_named(const char *dir);

typedef struct detector detector;

/* Opens a detector. DETECTOR_AUTO takes MTCNN when detector_find_mtcnn(mtcnn_dir) finds
 * weights, else the cascade at cascade_xml (NULL: the opencv-data default); a named folder
 * (detector_mtcnn_named) without weights is an error, not a fall-back. Failure names what was looked for;
 * *out is NULL. */
relage_status detector_open(detector **out, detector_kind kind, const char *mtcnn_dir,
                            const char *cascade_xml);
void detector_free(detector *d);

/* The detector in use (never DETECTOR_AUTO) and where its model came from. */
detector_kind detector_kind_of(const detector *d);
const char *detector_source(const detector *d);

/* Parameters of the detector in use, to adjust before detect (the other is NULL). */
mtcnn_params *detector_mtcnn_params(detector *d);
cascade_params *detector_cascade_params(detector *d);

/* Faces sorted by descending box area; *faces is malloc'ed (NULL when none). Cascade faces
 * have prob NAN and landmarks NAN: that detector gives neither. */
relage_status detector_detect(const detector *d, const image *img, face_detection **faces,
                              size_t *n_faces);

/* Cascade boxes reshaped to where MTCNN puts the box of the same face, for a model trained on
 * MTCNN crops when only the cascade is at hand: the same centre, 0.818 of the width and 1.019
 * of the height (medians over 145 All-Age-Faces photos of ../shared/data/detect where both
 * detectors found the face; on the other 145 the median IoU with MTCNN's box rises from 0.763
 * to 0.847). */
void face_boxes_as_mtcnn(face_detection *faces, size_t n);

/* The crop region of a face box: grown by margin times the box's larger side on every side
 * (0 keeps the box), then made square around its centre (side = the larger side) if square. */
void face_region(const float box[4], float margin, int square, float region[4]);

/* The pixels of a crop region (face_region's, or face_policy_apply's), rounded to whole pixels
 * and at least 1x1, resized to size x size (PIL bilinear): how faces are cut out for training
 * and prediction alike. Parts outside the image are black. */
relage_status face_crop(image *out, const image *img, const float region[4], int size);

/* Which faces an image contributes and how each is cropped. Its text form, e.g.
 * "largest margin=0 square=0", is recorded with prepared data and in model files so that
 * training and prediction crop alike. */
typedef struct face_policy {
    int all;      /* 0: the largest face only (the paper), 1: every face, by area */
    float margin; /* face_region's margin, >= 0 */
    int square;   /* face_region's square */
} face_policy;

/* The paper's: the largest face, the detector's box as it is. */
face_policy face_policy_paper(void);

/* "largest|all margin=M square=0|1"; the parse accepts exactly what format writes (fields in
 * that order) and fails with RELAGE_ERR_INVALID_ARG otherwise. */
void face_policy_format(const face_policy *p, char *text, size_t size);
relage_status face_policy_parse(const char *text, face_policy *p);

/* Applies the policy to faces sorted by area (as the detectors return them) in an image of
 * width x height: writes up to max_regions crop regions and returns their number. With no face
 * the whole image is the one region and *whole_image is set (else cleared). */
size_t face_policy_apply(const face_policy *p, const face_detection *faces, size_t n_faces,
                         int width, int height, float (*regions)[4], size_t max_regions,
                         int *whole_image);

#endif
