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

typedef struct detector detector;

/* Opens a detector. DETECTOR_AUTO takes MTCNN when detector_find_mtcnn(mtcnn_dir) finds
 * weights, else the cascade at cascade_xml (NULL: the opencv-data default). Failure names what
 * was looked for; *out is NULL. */
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

/* The crop region of a face box: grown by margin times the box's larger side on every side
 * (0 keeps the box), then made square around its centre (side = the larger side) if square. */
void face_region(const float box[4], float margin, int square, float region[4]);

#endif
