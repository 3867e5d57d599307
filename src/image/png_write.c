/* image_save_png: an 8-bit RGB or gray PNG written with libpng as an atomic replacement
 * (core/atomic_file.h: a reader sees either the old file or the whole new one). libpng's errors are
 * caught (setjmp in a helper whose state lives outside it) and become RELAGE_ERR_IO naming the
 * path; nothing is printed. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <setjmp.h>
#include <stdio.h>

#include <png.h>

#include "core/atomic_file.h"
#include "core/status.h"
#include "image/image.h"

typedef struct png_write_job {
    const image *img;
    FILE *file;
    png_structp png;
    png_infop info;
    char message[256];
} png_write_job;

static void write_error_handler(png_structp png, png_const_charp message) {
    png_write_job *job = png_get_error_ptr(png);
    snprintf(job->message, sizeof job->message, "%s", message);
    png_longjmp(png, 1);
}

static void write_warning_handler(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;
}

/* Returns 0 on success, -1 with job->message set when libpng failed. */
static int png_write_inner(png_write_job *job) {
    const image *img = job->img;
    if (setjmp(png_jmpbuf(job->png))) return -1;
    png_init_io(job->png, job->file);
    png_set_IHDR(job->png, job->info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 img->channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(job->png, job->info);
    for (int y = 0; y < img->height; y++)
        png_write_row(job->png, img->data + (size_t)y * img->width * img->channels);
    png_write_end(job->png, job->info);
    return 0;
}

relage_status image_save_png(const image *img, const char *path) {
    if (!img || !img->data || img->width <= 0 || img->height <= 0 ||
        (img->channels != 1 && img->channels != 3) || !path)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "image_save_png %s: bad image or path",
                           path ? path : "(null)");
    atomic_file out;
    relage_status st = atomic_file_begin(&out, path);
    if (st != RELAGE_OK) return st;
    png_write_job job = {img, out.fp, NULL, NULL, ""};
    job.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job, write_error_handler,
                                      write_warning_handler);
    if (job.png) job.info = png_create_info_struct(job.png);
    if (!job.png || !job.info)
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: cannot create a PNG writer", path);
    else if (png_write_inner(&job) != 0)
        st = relage_fail(RELAGE_ERR_IO, "%s: writing PNG: %s", path, job.message);
    if (job.png) png_destroy_write_struct(&job.png, job.info ? &job.info : NULL);
    if (st != RELAGE_OK) {
        atomic_file_abort(&out);
        return st;
    }
    return atomic_file_commit(&out);
}
