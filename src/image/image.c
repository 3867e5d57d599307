/* Decoding JPEG (libjpeg-turbo) and PNG (libpng) into 8-bit RGB as PIL's
 * Image.open(f).convert("RGB") does, then ImageOps.exif_transpose's rotation; image_alloc and
 * image_free. The rules chosen where formats leave room, each matching PIL 9.4 unless said:
 *   - JPEG: libjpeg's defaults (ISLOW IDCT, fancy upsampling), as PIL uses them; gray is
 *     replicated; 4-component (CMYK, and YCCK which libjpeg turns into CMYK) is always read with
 *     Adobe's inverted polarity, as PIL does whether or not the Adobe marker is present, then
 *     PIL's cmyk2rgb: R = (255 - K) - (C * (255 - K)) / 255, rounded as PIL's MULDIV255.
 *     A premature end of data (libjpeg's JWRN_JPEG_EOF warning, after which it would pad with
 *     gray) is a "truncated" error; other corrupt-data warnings are tolerated, as in PIL, and an
 *     error in the markers after the image data is an error, as in PIL. Unlike PIL, a baseline
 *     file that lacks only its final EOI marker decodes (see jpeg_emit_message).
 *     Over 500 progressive scans is an error (a decoding-time bomb).
 *   - PNG: alpha (an alpha channel or tRNS) is dropped, not composited; palette expanded; 1/2/4-bit
 *     gray scaled to 0..255; 16-bit samples keep their high byte. PIL differs on 16-bit gray
 *     only: it opens that as mode "I" and convert("RGB") clips values above 255 to white, which
 *     is not reproduced. Gamma, ICC profiles and text chunks are ignored.
 *   - EXIF Orientation 2..8 from the first "Exif" APP1 segment of a JPEG, or from a PNG eXIf
 *     chunk placed before the image data, is applied after decoding (PIL's exif_transpose; PIL
 *     also reads XMP's tiff:Orientation when EXIF has none, which is not done here).
 * Neither library ever prints: both get error and warning handlers that keep the message. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "image/image.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include <jerror.h>
#include <png.h>

#include "core/file.h"
#include "core/status.h"
#include "image/exif.h"

#define DEFAULT_MAX_PIXELS 100000000ull
#define JPEG_MAX_SCANS 500
#define PNG_MAX_DIMENSION 0x7fffffff /* libpng's own default is 1e6 per side; max_pixels rules */

image_load_options image_default_load_options(void) {
    image_load_options opt = {.max_pixels = DEFAULT_MAX_PIXELS, .apply_exif_orientation = 1};
    return opt;
}

relage_status image_alloc(image *out, int width, int height, int channels) {
    if (!out) return relage_fail(RELAGE_ERR_INVALID_ARG, "image_alloc: NULL image");
    *out = (image){0};
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3))
        return relage_fail(RELAGE_ERR_INVALID_ARG, "image_alloc: bad shape %dx%dx%d", width, height,
                           channels);
    if ((size_t)width > SIZE_MAX / (size_t)height / (size_t)channels)
        return relage_fail(RELAGE_ERR_TOO_LARGE, "image_alloc: %dx%dx%d is too large", width,
                           height, channels);
    out->data = calloc((size_t)width * (size_t)height * (size_t)channels, 1);
    if (!out->data)
        return relage_fail(RELAGE_ERR_NOMEM, "image_alloc: no memory for %dx%dx%d", width, height,
                           channels);
    out->width = width;
    out->height = height;
    out->channels = channels;
    return RELAGE_OK;
}

void image_free(image *img) {
    if (!img) return;
    free(img->data);
    *img = (image){0};
}

/* Checks a size read from a header before anything of that size is allocated: zero sides are
 * corrupt, more than max_pixels (or more than fits int sides and size_t bytes) is TOO_LARGE. */
static relage_status check_pixels(const char *name, uint64_t width, uint64_t height,
                                  uint64_t max_pixels) {
    if (width == 0 || height == 0)
        return relage_fail(RELAGE_ERR_FORMAT, "%s: image has zero size (%llux%llu)", name,
                           (unsigned long long)width, (unsigned long long)height);
    if (width > INT_MAX || height > INT_MAX || width * height > max_pixels ||
        width * height > SIZE_MAX / 8)
        return relage_fail(RELAGE_ERR_TOO_LARGE, "%s: %llux%llu pixels exceed the limit of %llu",
                           name, (unsigned long long)width, (unsigned long long)height,
                           (unsigned long long)max_pixels);
    return RELAGE_OK;
}

/* ---- JPEG ---- */

typedef struct jpeg_error_state {
    struct jpeg_error_mgr mgr; /* first, so that cinfo->err points at the whole state */
    jmp_buf jump;
    int truncated, too_many_scans;
    int eof_may_be_benign; /* reading the one Huffman scan: see jpeg_emit_message */
    int saw_eof;
    char message[JMSG_LENGTH_MAX];
} jpeg_error_state;

/* Everything the decoder changes lives here, outside the function that calls setjmp, so that
 * it is well defined after a longjmp. */
typedef struct jpeg_job {
    const unsigned char *data;
    size_t size;
    const char *name;
    const image_load_options *opt;
    struct jpeg_decompress_struct cinfo;
    jpeg_error_state err;
    struct jpeg_progress_mgr progress;
    int created;
    unsigned char *pixels; /* width * height * 3 */
    unsigned char *cmyk_row;
    int width, height, orientation;
} jpeg_job;

static void jpeg_error_exit(j_common_ptr cinfo) {
    jpeg_error_state *err = (jpeg_error_state *)cinfo->err;
    cinfo->err->format_message(cinfo, err->message);
    longjmp(err->jump, 1);
}

/* Warnings (level -1) are counted; the end of data stops decoding at once, rather than let
 * libjpeg pad the rest of the image with gray, with one exception. In a single-scan Huffman
 * image the decoder reads ahead, so a file that lacks only its EOI marker meets the end of
 * data while decoding the last MCUs; it is truncated only if the decoder then runs short of
 * bits, which libjpeg reports as JWRN_HIT_MARKER (the fake EOI it inserts). Progressive,
 * multi-scan and arithmetic-coded files cannot tell, so there the end of data is always
 * "truncated", as in PIL (which also refuses the missing EOI). Trace messages are dropped. */
static void jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
    jpeg_error_state *err = (jpeg_error_state *)cinfo->err;
    if (msg_level >= 0) return;
    cinfo->err->num_warnings++;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
        err->saw_eof = 1;
        if (!err->eof_may_be_benign) {
            err->truncated = 1;
            longjmp(err->jump, 1);
        }
    } else if (cinfo->err->msg_code == JWRN_HIT_MARKER && err->saw_eof) {
        err->truncated = 1;
        longjmp(err->jump, 1);
    }
}

static void jpeg_output_message(j_common_ptr cinfo) {
    (void)cinfo;
}

static void jpeg_progress(j_common_ptr cinfo) {
    jpeg_error_state *err = (jpeg_error_state *)cinfo->err;
    if (cinfo->is_decompressor && ((j_decompress_ptr)cinfo)->input_scan_number > JPEG_MAX_SCANS) {
        err->too_many_scans = 1;
        longjmp(err->jump, 1);
    }
}

/* PIL's MULDIV255: a * b / 255 rounded, exact for a, b in 0..255. */
static int muldiv255(int a, int b) {
    int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

/* One row of libjpeg's CMYK output (Adobe polarity: sample = 255 - ink) to RGB, as PIL's
 * unpack "CMYK;I" followed by cmyk2rgb. */
static void cmyk_row_to_rgb(unsigned char *rgb, const unsigned char *cmyk, int width) {
    for (int x = 0; x < width; x++, rgb += 3, cmyk += 4) {
        int not_k = cmyk[3]; /* 255 - K, K = 255 - sample */
        for (int c = 0; c < 3; c++) {
            int v = not_k - muldiv255(255 - cmyk[c], not_k);
            rgb[c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

static int jpeg_exif_orientation(j_decompress_ptr cinfo) {
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 5 && memcmp(m->data, "Exif", 5) == 0)
            return exif_orientation(m->data, m->data_length);
    }
    return 1;
}

static relage_status jpeg_decode_inner(jpeg_job *job) {
    j_decompress_ptr cinfo = &job->cinfo;
    relage_status st;
    int cmyk;
    if (setjmp(job->err.jump)) {
        if (job->err.truncated)
            return relage_fail(RELAGE_ERR_FORMAT, "%s: truncated JPEG (premature end of data)",
                               job->name);
        if (job->err.too_many_scans)
            return relage_fail(RELAGE_ERR_FORMAT, "%s: corrupt JPEG: more than %d scans", job->name,
                               JPEG_MAX_SCANS);
        if (job->err.mgr.msg_code == JERR_BAD_PRECISION &&
            (job->err.mgr.msg_parm.i[0] == 12 || job->err.mgr.msg_parm.i[0] == 16))
            return relage_fail(RELAGE_ERR_UNSUPPORTED, "%s: %d-bit JPEG is not supported",
                               job->name, job->err.mgr.msg_parm.i[0]);
        return relage_fail(RELAGE_ERR_FORMAT, "%s: corrupt JPEG: %s", job->name, job->err.message);
    }
    jpeg_create_decompress(cinfo);
    job->created = 1;
    job->progress.progress_monitor = jpeg_progress;
    cinfo->progress = &job->progress;
    jpeg_mem_src(cinfo, job->data, (unsigned long)job->size);
    jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(cinfo, TRUE);

    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo->out_color_space = JCS_RGB;
        cmyk = 0;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK;
        cmyk = 1;
        break;
    default:
        return relage_fail(RELAGE_ERR_UNSUPPORTED,
                           "%s: JPEG with %d components of unknown color space is not supported",
                           job->name, cinfo->num_components);
    }
    st = check_pixels(job->name, cinfo->image_width, cinfo->image_height, job->opt->max_pixels);
    if (st != RELAGE_OK) return st;
    job->orientation = job->opt->apply_exif_orientation ? jpeg_exif_orientation(cinfo) : 1;

    jpeg_start_decompress(cinfo);
    if (cinfo->output_components != (cmyk ? 4 : 3) || cinfo->output_width != cinfo->image_width ||
        cinfo->output_height != cinfo->image_height)
        return relage_fail(RELAGE_ERR_UNSUPPORTED, "%s: unexpected JPEG output layout", job->name);
    job->width = (int)cinfo->output_width;
    job->height = (int)cinfo->output_height;
    job->err.eof_may_be_benign = !jpeg_has_multiple_scans(cinfo) && !cinfo->arith_code;
    job->pixels = malloc((size_t)job->width * (size_t)job->height * 3);
    if (cmyk) job->cmyk_row = malloc((size_t)job->width * 4);
    if (!job->pixels || (cmyk && !job->cmyk_row))
        return relage_fail(RELAGE_ERR_NOMEM, "%s: no memory for %dx%d pixels", job->name,
                           job->width, job->height);
    while (cinfo->output_scanline < cinfo->output_height) {
        unsigned char *rgb = job->pixels + (size_t)cinfo->output_scanline * job->width * 3;
        JSAMPROW row = cmyk ? job->cmyk_row : rgb;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1)
            return relage_fail(RELAGE_ERR_FORMAT, "%s: truncated JPEG", job->name);
        if (cmyk) cmyk_row_to_rgb(rgb, job->cmyk_row, job->width);
    }
    /* The markers after the pixels are read to EOI, as PIL does: a damaged one there is an
     * error (PIL's "broken data stream"); a missing EOI alone is not, where eof_may_be_benign. */
    jpeg_finish_decompress(cinfo);
    job->err.eof_may_be_benign = 0;
    return RELAGE_OK;
}

static relage_status jpeg_decode(image *out, int *orientation, const unsigned char *data,
                                 size_t size, const char *name, const image_load_options *opt) {
    jpeg_job *job = calloc(1, sizeof *job);
    relage_status st;
    if (!job) return relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", name);
    job->data = data;
    job->size = size;
    job->name = name;
    job->opt = opt;
    job->cinfo.err = jpeg_std_error(&job->err.mgr);
    job->err.mgr.error_exit = jpeg_error_exit;
    job->err.mgr.emit_message = jpeg_emit_message;
    job->err.mgr.output_message = jpeg_output_message;
    st = jpeg_decode_inner(job);
    if (job->created) jpeg_destroy_decompress(&job->cinfo);
    if (st == RELAGE_OK) {
        out->width = job->width;
        out->height = job->height;
        out->channels = 3;
        out->data = job->pixels;
        *orientation = job->orientation;
    } else {
        free(job->pixels);
    }
    free(job->cmyk_row);
    free(job);
    return st;
}

/* ---- PNG ---- */

typedef struct png_job {
    const unsigned char *data;
    size_t size, offset;
    const char *name;
    const image_load_options *opt;
    png_structp png;
    png_infop info;
    int truncated;
    char message[256];
    unsigned char *pixels; /* width * height * channels as libpng delivers them */
    png_bytep *rows;
    int width, height, channels, orientation;
} png_job;

static void png_read_bytes(png_structp png, png_bytep out, size_t length) {
    png_job *job = png_get_io_ptr(png);
    if (length > job->size - job->offset) {
        job->truncated = 1;
        png_error(png, "unexpected end of data");
    }
    memcpy(out, job->data + job->offset, length);
    job->offset += length;
}

static void png_error_handler(png_structp png, png_const_charp message) {
    png_job *job = png_get_error_ptr(png);
    snprintf(job->message, sizeof job->message, "%s", message);
    png_longjmp(png, 1);
}

static void png_warning_handler(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

static relage_status png_decode_inner(png_job *job) {
    /* Chunks that cannot change the pixels we produce; skipping them saves inflating them. */
    static const png_byte ignored_chunks[] = "iCCP\0iTXt\0tEXt\0zTXt\0sPLT\0hIST\0";
    png_uint_32 width, height;
    int bit_depth, color_type, interlace;
    png_uint_32 exif_size = 0;
    png_bytep exif = NULL;
    relage_status st;
    if (setjmp(png_jmpbuf(job->png))) {
        if (job->truncated)
            return relage_fail(RELAGE_ERR_FORMAT, "%s: truncated PNG (unexpected end of data)",
                               job->name);
        return relage_fail(RELAGE_ERR_FORMAT, "%s: corrupt PNG: %s", job->name, job->message);
    }
    png_set_read_fn(job->png, job, png_read_bytes);
    png_set_user_limits(job->png, PNG_MAX_DIMENSION, PNG_MAX_DIMENSION);
    png_set_keep_unknown_chunks(job->png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
    png_set_keep_unknown_chunks(job->png, PNG_HANDLE_CHUNK_NEVER, ignored_chunks,
                                (int)(sizeof ignored_chunks / 5));
    png_read_info(job->png, job->info);
    png_get_IHDR(job->png, job->info, &width, &height, &bit_depth, &color_type, &interlace, NULL,
                 NULL);
    st = check_pixels(job->name, width, height, job->opt->max_pixels);
    if (st != RELAGE_OK) return st;
    job->orientation = 1;
    if (job->opt->apply_exif_orientation &&
        png_get_eXIf_1(job->png, job->info, &exif_size, &exif) != 0)
        job->orientation = exif_orientation(exif, exif_size);

    if (bit_depth == 16) png_set_strip_16(job->png); /* high byte, as PIL's "RGB;16B" */
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(job->png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(job->png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA)
        png_set_gray_to_rgb(job->png);
    png_set_interlace_handling(job->png);
    png_read_update_info(job->png, job->info);

    job->width = (int)width;
    job->height = (int)height;
    job->channels = png_get_channels(job->png, job->info);
    if ((job->channels != 3 && job->channels != 4) ||
        png_get_rowbytes(job->png, job->info) != (size_t)width * (size_t)job->channels)
        return relage_fail(RELAGE_ERR_UNSUPPORTED,
                           "%s: PNG (color type %d, bit depth %d) gives an unexpected layout",
                           job->name, color_type, bit_depth);
    job->pixels = malloc((size_t)width * height * (size_t)job->channels);
    job->rows = malloc(sizeof(png_bytep) * height);
    if (!job->pixels || !job->rows)
        return relage_fail(RELAGE_ERR_NOMEM, "%s: no memory for %ux%u pixels", job->name,
                           (unsigned)width, (unsigned)height);
    for (png_uint_32 y = 0; y < height; y++)
        job->rows[y] = job->pixels + (size_t)y * width * (size_t)job->channels;
    png_read_image(job->png, job->rows);
    /* No png_read_end: chunks after the image data cannot change the pixels. */
    return RELAGE_OK;
}

static relage_status png_decode(image *out, int *orientation, const unsigned char *data,
                                size_t size, const char *name, const image_load_options *opt) {
    png_job *job = calloc(1, sizeof *job);
    relage_status st;
    if (!job) return relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", name);
    job->data = data;
    job->size = size;
    job->name = name;
    job->opt = opt;
    job->png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, job, png_error_handler, png_warning_handler);
    if (job->png) job->info = png_create_info_struct(job->png);
    if (!job->png || !job->info) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: cannot create a PNG reader", name);
        goto cleanup;
    }
    st = png_decode_inner(job);
    if (st != RELAGE_OK) goto cleanup;
    if (job->channels == 4) { /* drop alpha, as PIL's convert("RGB") */
        size_t count = (size_t)job->width * (size_t)job->height;
        unsigned char *shrunk;
        for (size_t i = 0; i < count; i++) memmove(job->pixels + i * 3, job->pixels + i * 4, 3);
        shrunk = realloc(job->pixels, count * 3);
        if (shrunk) job->pixels = shrunk;
    }
    out->width = job->width;
    out->height = job->height;
    out->channels = 3;
    out->data = job->pixels;
    job->pixels = NULL;
    *orientation = job->orientation;
cleanup:
    if (job->png) png_destroy_read_struct(&job->png, job->info ? &job->info : NULL, NULL);
    free(job->rows);
    free(job->pixels);
    free(job);
    return st;
}

/* ---- orientation ---- */

/* Replaces img by the upright view EXIF orientation 2..8 describes, as PIL's exif_transpose:
 * 2 mirror left-right, 3 rotate 180, 4 mirror top-bottom, 5 transpose, 6 rotate 90 clockwise,
 * 7 transverse, 8 rotate 90 counter-clockwise. On failure img is unchanged. */
static relage_status apply_orientation(image *img, int orientation, const char *name) {
    int w = img->width, h = img->height, c = img->channels;
    int swap = orientation >= 5;
    int out_w = swap ? h : w, out_h = swap ? w : h;
    unsigned char *pixels;
    if (orientation < 2 || orientation > 8) return RELAGE_OK;
    pixels = malloc((size_t)w * (size_t)h * (size_t)c);
    if (!pixels) return relage_fail(RELAGE_ERR_NOMEM, "%s: no memory to rotate", name);
    for (int y = 0; y < out_h; y++) {
        for (int x = 0; x < out_w; x++) {
            int sx, sy;
            switch (orientation) {
            case 2:
                sx = w - 1 - x, sy = y;
                break;
            case 3:
                sx = w - 1 - x, sy = h - 1 - y;
                break;
            case 4:
                sx = x, sy = h - 1 - y;
                break;
            case 5:
                sx = y, sy = x;
                break;
            case 6:
                sx = y, sy = h - 1 - x;
                break;
            case 7:
                sx = w - 1 - y, sy = h - 1 - x;
                break;
            default:
                sx = w - 1 - y, sy = x;
                break;
            }
            memcpy(pixels + ((size_t)y * out_w + x) * c, img->data + ((size_t)sy * w + sx) * c,
                   (size_t)c);
        }
    }
    free(img->data);
    img->data = pixels;
    img->width = out_w;
    img->height = out_h;
    return RELAGE_OK;
}

/* ---- entry points ---- */

relage_status image_decode(image *out, const void *data, size_t size, const char *name,
                           const image_load_options *opt) {
    static const unsigned char png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    image_load_options defaults = image_default_load_options();
    const unsigned char *bytes = data;
    relage_status st;
    int orientation = 1;
    if (!name) name = "(memory)";
    if (!out) return relage_fail(RELAGE_ERR_INVALID_ARG, "%s: image_decode: NULL image", name);
    *out = (image){0};
    if (!data && size > 0)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "%s: image_decode: NULL data", name);
    if (!opt) opt = &defaults;
    if (size == 0) return relage_fail(RELAGE_ERR_FORMAT, "%s: empty file (0 bytes)", name);
    if (size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) {
        st = jpeg_decode(out, &orientation, bytes, size, name, opt);
    } else if (size >= 8 && memcmp(bytes, png_signature, 8) == 0) {
        st = png_decode(out, &orientation, bytes, size, name, opt);
    } else if (size < 8 && (memcmp(bytes, png_signature, size) == 0 ||
                            memcmp(bytes, "\xFF\xD8\xFF", size < 3 ? size : 3) == 0)) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: truncated image (%zu bytes)", name, size);
    } else {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: not a JPEG or PNG file", name);
    }
    if (st == RELAGE_OK) st = apply_orientation(out, orientation, name);
    if (st != RELAGE_OK) image_free(out);
    return st;
}

relage_status image_load(image *out, const char *path, const image_load_options *opt) {
    if (out) *out = (image){0};
    if (!out || !path) return relage_fail(RELAGE_ERR_INVALID_ARG, "image_load: NULL argument");
    char *bytes = NULL;
    size_t size = 0;
    relage_status st = file_read_all(path, SIZE_MAX - 1, &bytes, &size);
    if (st == RELAGE_OK) st = image_decode(out, bytes, size, path, opt);
    free(bytes);
    return st;
}
