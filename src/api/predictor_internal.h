/* What relage's own tools need from a predictor beyond the public API: its model, and the
 * largest face of an image cropped and transformed exactly as prediction does (relage
 * explain). */
#ifndef RELAGE_API_PREDICTOR_INTERNAL_H
#define RELAGE_API_PREDICTOR_INTERNAL_H

#include "image/image.h"
#include "nn/resnet.h"
#include "relage.h"

model *predictor_model(relage_predictor *p);

/* The largest face (the whole image if none) as the crop the model's training used (face,
 * freed by the caller) and as network input (3, S, S) into input. */
relage_status predictor_face_input(relage_predictor *p, const char *path, image *face,
                                   float *input);

#endif
