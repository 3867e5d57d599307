/* Images: decoding JPEG and PNG into 8-bit RGB with well-kept libraries (libjpeg-turbo,
 * libpng), resampling exactly as PIL does, geometry (crop with padding, flip, affine warp),
 * conversion to a normalised float tensor, PNG output and simple drawing.
 *
 * Pixels are row-major and interleaved: data[(y * width + x) * channels + c], channels 3 (RGB)
 * or 1 (gray). Functions that produce an image allocate out->data; the caller frees it with
 * image_free(). On failure an output image is left zeroed ({0}) and the error text names the
 * file (or the `name` given for a memory buffer). */
#ifndef RELAGE_IMAGE_H
#define RELAGE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "relage.h"

typedef struct image {
    int width, height, channels;
    uint8_t *data;
} image;

typedef struct image_load_options {
    uint64_t max_pixels;        /* refuse larger images from the header, before decoding */
    int apply_exif_orientation; /* JPEG: rotate/flip as EXIF Orientation says */
} image_load_options;

/* max_pixels 100 megapixels, EXIF orientation applied. */
image_load_options image_default_load_options(void);

/* Decodes a JPEG or PNG file (recognised by its signature, not its name) into 3-channel RGB:
 * grayscale is replicated, CMYK/YCCK JPEG converted, 16-bit PNG reduced, palette expanded,
 * alpha composited over black... (see image.c for the exact rules). Truncated, corrupt,
 * zero-sized and non-image files, and images over max_pixels, are errors naming the file:
 * RELAGE_ERR_IO (cannot read), RELAGE_ERR_FORMAT (not an image, corrupt, truncated),
 * RELAGE_ERR_UNSUPPORTED (a valid image of a kind not handled), RELAGE_ERR_NOMEM (too many
 * pixels or no memory). opt may be NULL for the defaults. */
relage_status image_load(image *out, const char *path, const image_load_options *opt);

/* The same from memory; name is used in error messages. */
relage_status image_decode(image *out, const void *data, size_t size, const char *name,
                           const image_load_options *opt);

/* Allocates a zero-filled image. */
relage_status image_alloc(image *out, int width, int height, int channels);

/* Frees the pixels and zeroes the struct; accepts NULL and zeroed images. */
void image_free(image *img);

/* Resize with PIL's Image.resize(size, Image.BILINEAR) (antialiased when downscaling, as
 * torchvision's resize with antialias=True): within +-1 of PIL on every uint8 value. */
relage_status image_resize_bilinear(image *out, const image *in, int width, int height);

/* The region [x, x+w) x [y, y+h), which may extend past the borders: outside pixels are 0. */
relage_status image_crop(image *out, const image *in, int x, int y, int w, int h);

/* Mirrors left-right in place. */
void image_flip_horizontal(image *img);

/* out (C,H,W) float = (pixel / 255 - mean[c]) / std[c]; a gray image is read as RGB. */
void image_to_tensor(float *out, const image *in, const float mean[3], const float std[3]);

/* out (width x height): out(x, y) = in(m[0] x + m[1] y + m[2], m[3] x + m[4] y + m[5]),
 * sampled bilinearly at pixel centres, 0 outside (for face alignment). */
relage_status image_warp_affine(image *out, const image *in, const double m[6], int width,
                                int height);

/* Writes an 8-bit RGB or gray PNG atomically (temp file + rename); RELAGE_ERR_IO names path. */
relage_status image_save_png(const image *img, const char *path);

/* Drawing, clipped to the image: a rectangle outline, a filled disc, and text in an embedded
 * 5x7 bitmap font (printable ASCII), each pixel `scale` x `scale`. */
void image_draw_rect(image *img, int x1, int y1, int x2, int y2, const uint8_t rgb[3],
                     int thickness);
void image_draw_disc(image *img, int cx, int cy, int radius, const uint8_t rgb[3]);
void image_draw_text(image *img, int x, int y, const char *text, const uint8_t rgb[3],
                     int scale);

#endif
