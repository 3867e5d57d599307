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
    int apply_exif_orientation; /* rotate/flip as EXIF Orientation (JPEG APP1, PNG eXIf) says */
} image_load_options;

/* max_pixels 100 megapixels, EXIF orientation applied. */
image_load_options image_default_load_options(void);

/* Decodes a JPEG or PNG file (recognised by its signature, not its name) into 3-channel RGB
 * with the pixels PIL's Image.open(f).convert("RGB") gives (then ImageOps.exif_transpose):
 * grayscale is replicated; CMYK/YCCK JPEG is read with Adobe's inverted polarity and converted
 * with PIL's formula; 16-bit PNG samples keep their high byte; palettes are expanded; alpha
 * (an alpha channel or tRNS) is dropped, not composited, as PIL does. PIL differs on 16-bit
 * gray PNG, which it clips to 255 instead, and refuses a baseline JPEG lacking only its final
 * EOI marker, which decodes here. See image.c for the exact rules. The EXIF
 * Orientation is applied when opt asks, so width and height may come out swapped.
 * Truncated, corrupt, zero-sized and non-image files, and images over max_pixels, are errors
 * naming the file: RELAGE_ERR_IO (cannot open or read), RELAGE_ERR_FORMAT (empty, not a JPEG
 * or PNG, corrupt, truncated), RELAGE_ERR_UNSUPPORTED (a valid image of a kind not handled,
 * e.g. 12-bit JPEG), RELAGE_ERR_TOO_LARGE (more than max_pixels, checked from the header before
 * any pixel buffer is allocated), RELAGE_ERR_NOMEM (no memory). Nothing is ever printed. opt may be NULL for
 * the defaults. */
relage_status image_load(image *out, const char *path, const image_load_options *opt);

/* The same from memory; name (NULL: "(memory)") is used in error messages. */
relage_status image_decode(image *out, const void *data, size_t size, const char *name,
                           const image_load_options *opt);

/* Allocates a zero-filled image; channels must be 1 or 3. RELAGE_ERR_INVALID_ARG for a bad
 * shape, RELAGE_ERR_NOMEM when the memory is not there. */
relage_status image_alloc(image *out, int width, int height, int channels);

/* Frees the pixels and zeroes the struct; accepts NULL and zeroed images. */
void image_free(image *img);

/* Resize with PIL's Image.resize(size, Image.BILINEAR) (antialiased when downscaling, as
 * torchvision's resize with antialias=True): the same algorithm and fixed-point arithmetic as
 * PIL 9.4, so the same uint8 values. RELAGE_ERR_INVALID_ARG for an empty image or size. */
relage_status image_resize_bilinear(image *out, const image *in, int width, int height);

/* The region [x, x+w) x [y, y+h), which may extend past the borders: outside pixels are 0.
 * RELAGE_ERR_INVALID_ARG when w or h is not positive. */
relage_status image_crop(image *out, const image *in, int x, int y, int w, int h);

/* Mirrors left-right in place; does nothing to NULL or empty images. */
void image_flip_horizontal(image *img);

/* out (3,H,W) float = (pixel / 255 - mean[c]) / std[c], computed in float32 as torchvision's
 * to_tensor + normalize; a gray image is read as RGB. out holds 3 * width * height floats. */
void image_to_tensor(float *out, const image *in, const float mean[3], const float std[3]);

/* out (width x height): out(x, y) = in(m[0] x + m[1] y + m[2], m[3] x + m[4] y + m[5]),
 * sampled bilinearly with integer coordinates at pixel centres (OpenCV's warpAffine with
 * WARP_INVERSE_MAP), neighbours outside the image counting as 0, rounded to nearest (for face
 * alignment). RELAGE_ERR_INVALID_ARG for an empty image or size. */
relage_status image_warp_affine(image *out, const image *in, const double m[6], int width,
                                int height);

/* Writes an 8-bit RGB or gray PNG atomically (temp file + fsync + rename); on failure
 * RELAGE_ERR_IO names path, and an existing file at path is left unchanged. */
relage_status image_save_png(const image *img, const char *path);

/* Drawing, clipped to the image (any int coordinates are safe): a rectangle outline with
 * inclusive corners, growing `thickness` pixels inwards; a filled disc; and text in an
 * embedded 5x7 bitmap font (printable ASCII, others drawn as '?', '\n' starts a new line),
 * each font pixel `scale` x `scale`. On a gray image the colour's luma is drawn. */
void image_draw_rect(image *img, int x1, int y1, int x2, int y2, const uint8_t rgb[3],
                     int thickness);
/* Filled rectangle [x1, x2] x [y1, y2] (inclusive, either order), and a line from (x1, y1) to
 * (x2, y2) of the given width (discs along the segment), both clipped. */
void image_fill_rect(image *img, int x1, int y1, int x2, int y2, const uint8_t rgb[3]);
void image_draw_line(image *img, int x1, int y1, int x2, int y2, const uint8_t rgb[3], int width);
void image_draw_disc(image *img, int cx, int cy, int radius, const uint8_t rgb[3]);
void image_draw_text(image *img, int x, int y, const char *text, const uint8_t rgb[3], int scale);

#endif
