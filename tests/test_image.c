/* Tests for src/image against PIL 9.4 (fixtures in tests/fixtures/images, written by
 * tools/gen_image_fixtures.py and listed in its index.txt): decoding of every fixture (JPEG
 * within a small tolerance, PNG exactly), EXIF orientation, error cases (truncated, empty,
 * text, missing, pixel limit: right status, the file named, nothing on stderr), bilinear
 * resize (exactly PIL's), crop with padding, flip, to_tensor, warp_affine, PNG round trips
 * and drawing far outside the image. Maximum differences from PIL are printed. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "image/exif.h"
#include "image/image.h"
#include "test.h"

#define IMAGES RELAGE_FIXTURES "/images"
#define JPEG_TOLERANCE 2 /* libjpeg builds may differ in IDCT/upsampling rounding */

static char temp_dir[] = "/tmp/relage_image_XXXXXX";

static void fixture_path(char *out, size_t size, const char *name) {
    snprintf(out, size, "%s/%s", IMAGES, name);
}

/* Reads a whole file; NULL (and a failed check) if it cannot. */
static uint8_t *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    uint8_t *bytes = NULL;
    long length;
    *size = 0;
    if (f && fseek(f, 0, SEEK_END) == 0 && (length = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        bytes = malloc((size_t)length + 1);
        if (bytes && fread(bytes, 1, (size_t)length, f) == (size_t)length) {
            *size = (size_t)length;
        } else {
            free(bytes);
            bytes = NULL;
        }
    }
    if (f) fclose(f);
    if (!bytes) fprintf(stderr, "cannot read %s\n", path);
    CHECK(bytes != NULL);
    return bytes;
}

static uint8_t *read_fixture(const char *name, size_t expected_size) {
    char path[512];
    size_t size;
    uint8_t *bytes;
    fixture_path(path, sizeof path, name);
    bytes = read_file(path, &size);
    if (bytes && size != expected_size) {
        fprintf(stderr, "%s: %zu bytes, expected %zu\n", path, size, expected_size);
        CHECK(size == expected_size);
        free(bytes);
        return NULL;
    }
    return bytes;
}

/* Largest |a - b| over n bytes; prints the first mismatch beyond tolerance. */
static int max_abs_diff(const char *what, const uint8_t *a, const uint8_t *b, size_t n,
                        int tolerance) {
    int worst = 0, reported = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d > worst) worst = d;
        if (d > tolerance && !reported) {
            fprintf(stderr, "%s: byte %zu: got %d want %d\n", what, i, a[i], b[i]);
            reported = 1;
        }
    }
    return worst;
}

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- decoding ---- */

static void test_decode_fixtures(void) {
    char path[512], line[512];
    FILE *index;
    int cases = 0, jpeg_worst = 0;
    fixture_path(path, sizeof path, "index.txt");
    index = fopen(path, "r");
    CHECK(index != NULL);
    if (!index) return;
    while (fgets(line, sizeof line, index)) {
        char kind[32], file[128], reference[160];
        int width, height, tolerance, diff;
        image img = {0};
        uint8_t *want;
        size_t n;
        if (sscanf(line, "%31s %127s %d %d %159s", kind, file, &width, &height, reference) != 5 ||
            strncmp(kind, "decode", 6) != 0)
            continue;
        cases++;
        fixture_path(path, sizeof path, file);
        CHECK_OK(image_load(&img, path, NULL));
        CHECK_INT_EQ(img.width, width);
        CHECK_INT_EQ(img.height, height);
        CHECK_INT_EQ(img.channels, 3);
        n = (size_t)width * height * 3;
        want = read_fixture(reference, n);
        if (want && img.data && img.width == width && img.height == height) {
            tolerance = has_suffix(file, ".jpg") ? JPEG_TOLERANCE : 0;
            diff = max_abs_diff(file, img.data, want, n, tolerance);
            printf("decode %-24s %3dx%-3d max |relage - %s| = %d\n", file, width, height,
                   strcmp(kind, "decode") == 0 ? "PIL" : "reference", diff);
            CHECK(diff <= tolerance);
            if (tolerance) jpeg_worst = diff > jpeg_worst ? diff : jpeg_worst;
        }
        free(want);
        image_free(&img);
    }
    fclose(index);
    CHECK(cases >= 20);
    printf("decode: %d fixtures, JPEG max diff %d (tolerance %d), PNG exact\n", cases, jpeg_worst,
           JPEG_TOLERANCE);
}

/* exif6.jpg without applying the orientation: the stored 24x16 view, which rotated 90 degrees
 * clockwise is the default decode. */
static void test_orientation_option(void) {
    char path[512];
    image plain = {0}, upright = {0};
    image_load_options opt = image_default_load_options();
    opt.apply_exif_orientation = 0;
    fixture_path(path, sizeof path, "exif6.jpg");
    CHECK_OK(image_load(&plain, path, &opt));
    CHECK_OK(image_load(&upright, path, NULL));
    CHECK_INT_EQ(plain.width, 24);
    CHECK_INT_EQ(plain.height, 16);
    CHECK_INT_EQ(upright.width, 16);
    CHECK_INT_EQ(upright.height, 24);
    if (plain.data && upright.data && upright.width == 16) {
        int bad = 0;
        for (int y = 0; y < 24; y++)
            for (int x = 0; x < 16; x++)
                bad += memcmp(upright.data + (y * 16 + x) * 3, plain.data + ((15 - x) * 24 + y) * 3,
                              3) != 0;
        CHECK_INT_EQ(bad, 0);
    }
    image_free(&plain);
    image_free(&upright);
}

static void test_exif_parser(void) {
    /* II, IFD0 with two entries: 0x0110 then Orientation SHORT 6 */
    uint8_t le[] = {'E', 'x',  'i',  'f', 0, 0, 'I', 'I', 42, 0, 8, 0, 0, 0,    2,
                    0,   0x10, 0x01, 2,   0, 1, 0,   0,   0,  0, 0, 0, 0, 0x12, 0x01,
                    3,   0,    1,    0,   0, 0, 6,   0,   0,  0, 0, 0, 0, 0};
    /* MM, bare TIFF (PNG eXIf), Orientation LONG 8 */
    uint8_t be[] = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 4, 0, 0, 0, 1, 0, 0, 0, 8};
    uint8_t copy[sizeof le];
    CHECK_INT_EQ(exif_orientation(le, sizeof le), 6);
    CHECK_INT_EQ(exif_orientation(le + 6, sizeof le - 6), 6);
    CHECK_INT_EQ(exif_orientation(be, sizeof be), 8);
    CHECK_INT_EQ(exif_orientation(NULL, 100), 1);
    CHECK_INT_EQ(exif_orientation(le, 0), 1);
    /* every truncation of a valid payload is safe and gives 1 unless the entry is whole */
    for (size_t n = 0; n < sizeof le; n++) CHECK(exif_orientation(le, n) == (n >= 40 ? 6 : 1));
    memcpy(copy, le, sizeof le);
    copy[36] = 9; /* out of range */
    CHECK_INT_EQ(exif_orientation(copy, sizeof copy), 1);
    memcpy(copy, le, sizeof le);
    copy[32] = 2; /* count 2 */
    CHECK_INT_EQ(exif_orientation(copy, sizeof copy), 1);
    memcpy(copy, le, sizeof le);
    copy[30] = 7; /* type UNDEFINED */
    CHECK_INT_EQ(exif_orientation(copy, sizeof copy), 1);
    memcpy(copy, le, sizeof le);
    copy[10] = 0xF0; /* IFD0 offset far past the end */
    copy[13] = 0xFF;
    CHECK_INT_EQ(exif_orientation(copy, sizeof copy), 1);
    memcpy(copy, le, sizeof le);
    copy[14] = 0xFF; /* 65535 entries claimed, 2 present */
    copy[15] = 0xFF;
    CHECK_INT_EQ(exif_orientation(copy, sizeof copy), 6);
    memcpy(copy, le, sizeof le);
    copy[6] = 'X'; /* bad byte order mark */
    CHECK_INT_EQ(exif_orientation(copy, sizeof copy), 1);
}

/* A JPEG stored as YCCK (Adobe transform 2), which PIL cannot write: encoded here with
 * libjpeg from Adobe-inverted CMYK samples; decoded RGB must follow PIL's cmyk2rgb. */
static void test_ycck_jpeg(void) {
    enum { W = 16, H = 8 };
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    unsigned char samples[W * H * 4], *jpeg = NULL;
    unsigned long jpeg_size = 0;
    image img = {0};
    int worst = 0;
    for (int i = 0; i < W * H; i++) {
        samples[i * 4 + 0] = (unsigned char)(255 - (i * 7) % 256);
        samples[i * 4 + 1] = (unsigned char)(255 - (i * 3) % 200);
        samples[i * 4 + 2] = (unsigned char)(200 - i % 100);
        samples[i * 4 + 3] = (unsigned char)(255 - (i % 16) * 4);
    }
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, &jpeg, &jpeg_size);
    cinfo.image_width = W;
    cinfo.image_height = H;
    cinfo.input_components = 4;
    cinfo.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    jpeg_set_colorspace(&cinfo, JCS_YCCK);
    for (int c = 0; c < 4; c++)
        cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
    jpeg_set_quality(&cinfo, 100, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < H) {
        JSAMPROW row = samples + cinfo.next_scanline * W * 4;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    CHECK_OK(image_decode(&img, jpeg, jpeg_size, "ycck.jpg", NULL));
    if (img.data) {
        for (int i = 0; i < W * H; i++) {
            int not_k = samples[i * 4 + 3];
            for (int c = 0; c < 3; c++) {
                double want = not_k - (255 - samples[i * 4 + c]) * not_k / 255.0;
                int d = (int)fabs(img.data[i * 3 + c] - want);
                worst = d > worst ? d : worst;
            }
        }
        printf("decode YCCK JPEG (libjpeg, quality 100): max |relage - cmyk2rgb(input)| = %d\n",
               worst);
        CHECK(worst <= 4);
    }
    image_free(&img);
    free(jpeg);
}

/* A failing load: the status, a zeroed image, and an error text naming the file. */
static void check_load_fails(const char *path, const image_load_options *opt, relage_status status,
                             const char *fragment) {
    image img = {.width = 7, .data = NULL};
    CHECK_FAILS(image_load(&img, path, opt), status);
    CHECK(img.data == NULL && img.width == 0 && img.height == 0);
    if (!strstr(relage_last_error(), path) || !strstr(relage_last_error(), fragment)) {
        fprintf(stderr, "error text \"%s\" lacks \"%s\" or \"%s\"\n", relage_last_error(), path,
                fragment);
        CHECK(0);
    } else {
        printf("  %s\n", relage_last_error());
    }
}

static void test_decode_errors(void) {
    char path[512], log_path[512];
    image_load_options small = image_default_load_options();
    int saved_stderr, log_fd;
    struct stat log_info;
    image img = {0};
    uint8_t *bytes;
    size_t size;

    /* nothing may reach stderr: send it to a file for the duration */
    snprintf(log_path, sizeof log_path, "%s/stderr.txt", temp_dir);
    fflush(stderr);
    saved_stderr = dup(2);
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(saved_stderr >= 0 && log_fd >= 0);
    dup2(log_fd, 2);

    printf("error cases:\n");
    fixture_path(path, sizeof path, "truncated.jpg");
    check_load_fails(path, NULL, RELAGE_ERR_FORMAT, "truncated");
    fixture_path(path, sizeof path, "truncated.png");
    check_load_fails(path, NULL, RELAGE_ERR_FORMAT, "truncated");
    fixture_path(path, sizeof path, "empty.jpg");
    check_load_fails(path, NULL, RELAGE_ERR_FORMAT, "empty");
    fixture_path(path, sizeof path, "text.txt");
    check_load_fails(path, NULL, RELAGE_ERR_FORMAT, "not a JPEG or PNG");
    fixture_path(path, sizeof path, "missing.jpg");
    check_load_fails(path, NULL, RELAGE_ERR_IO, "No such file");
    check_load_fails(temp_dir, NULL, RELAGE_ERR_IO, "not a regular file");
    small.max_pixels = 45 * 31 - 1;
    fixture_path(path, sizeof path, "rgb.jpg");
    check_load_fails(path, &small, RELAGE_ERR_TOO_LARGE, "exceed the limit");
    small.max_pixels = 23 * 17 - 1;
    fixture_path(path, sizeof path, "rgb.png");
    check_load_fails(path, &small, RELAGE_ERR_TOO_LARGE, "exceed the limit");
    small.max_pixels = 23 * 17;
    CHECK_OK(image_load(&img, path, &small)); /* exactly at the limit */
    image_free(&img);

    /* every prefix of a JPEG or PNG fails cleanly, except those that lack only the final
     * marker (a baseline JPEG's EOI; a PNG's IEND chunk, which PIL does not need either), and
     * corrupted bytes never crash */
    for (int which = 0; which < 3; which++) {
        static const char *const files[3] = {"rgb.jpg", "rgb444_progressive.jpg", "rgb.png"};
        static const size_t final_marker[3] = {2, 0, 12};
        int unexpected = 0;
        fixture_path(path, sizeof path, files[which]);
        bytes = read_file(path, &size);
        for (size_t n = 0; bytes && n < size; n++) {
            relage_status st = image_decode(&img, bytes, n, "prefix", NULL);
            if (st == RELAGE_OK ? n < size - final_marker[which]
                                : img.data != NULL || !strstr(relage_last_error(), "prefix")) {
                if (!unexpected) fprintf(stderr, "%s: prefix of %zu bytes\n", files[which], n);
                unexpected++;
            }
            image_free(&img);
        }
        CHECK_INT_EQ(unexpected, 0);
        for (size_t i = 0; bytes && i < size; i += 3) {
            uint8_t saved = bytes[i];
            bytes[i] ^= 0x5A;
            if (image_decode(&img, bytes, size, "corrupt", NULL) != RELAGE_OK)
                CHECK(img.data == NULL);
            image_free(&img);
            bytes[i] = saved;
        }
        free(bytes);
    }
    /* a damaged marker after the image data is an error, as in PIL ("broken data stream") */
    fixture_path(path, sizeof path, "rgb.jpg");
    bytes = read_file(path, &size);
    uint8_t *marked = bytes ? malloc(size + 16) : NULL;
    if (marked) {
        /* valid: a comment after the image data, and bytes after EOI */
        memcpy(marked, bytes, size - 2);
        memcpy(marked + size - 2, "\xFF\xFE\x00\x05" "abc\xFF\xD9", 9);
        CHECK_OK(image_decode(&img, marked, size + 7, "comment", NULL));
        image_free(&img);
        memcpy(marked, bytes, size);
        memcpy(marked + size, "garbage", 7);
        CHECK_OK(image_decode(&img, marked, size + 7, "trailing", NULL));
        image_free(&img);
        memcpy(marked, bytes, size - 2);
        memcpy(marked + size - 2, "\xFF\x13\xFF\xD9", 4); /* 0x13 is no JPEG marker */
        CHECK_FAILS(image_decode(&img, marked, size + 2, "marked", NULL), RELAGE_ERR_FORMAT);
        CHECK(strstr(relage_last_error(), "Unsupported marker") != NULL && img.data == NULL);
        CHECK_OK(image_decode(&img, marked, size - 2, "no EOI", NULL)); /* the rest intact */
        image_free(&img);
    }
    free(marked);
    free(bytes);
    CHECK_FAILS(image_decode(&img, "\xFF\xD8", 2, "tiny", NULL), RELAGE_ERR_FORMAT);
    CHECK_FAILS(image_decode(NULL, "x", 1, "null", NULL), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(image_load(&img, NULL, NULL), RELAGE_ERR_INVALID_ARG);

    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    close(log_fd);
    CHECK(stat(log_path, &log_info) == 0 && log_info.st_size == 0);
    if (log_info.st_size != 0) { /* a library or a failed check wrote there: show it */
        FILE *log = fopen(log_path, "r");
        int ch;
        fprintf(stderr, "written to stderr during the error cases:\n");
        while (log && (ch = fgetc(log)) != EOF) fputc(ch, stderr);
        if (log) fclose(log);
    }
    unlink(log_path);
}

/* ---- geometry ---- */

static void test_resize_fixtures(void) {
    char path[512], line[512];
    FILE *index;
    int cases = 0;
    fixture_path(path, sizeof path, "index.txt");
    index = fopen(path, "r");
    CHECK(index != NULL);
    if (!index) return;
    while (fgets(line, sizeof line, index)) {
        char source[160], reference[160];
        int w, h, c, out_w, out_h, diff;
        image in = {0}, out = {0};
        uint8_t *want;
        if (sscanf(line, "resize %159s %d %d %d %159s %d %d", source, &w, &h, &c, reference, &out_w,
                   &out_h) != 7)
            continue;
        cases++;
        CHECK_OK(image_alloc(&in, w, h, c));
        want = read_fixture(reference, (size_t)out_w * out_h * c);
        if (in.data) {
            uint8_t *src = read_fixture(source, (size_t)w * h * c);
            if (src) memcpy(in.data, src, (size_t)w * h * c);
            free(src);
        }
        CHECK_OK(image_resize_bilinear(&out, &in, out_w, out_h));
        if (want && out.data) {
            diff = max_abs_diff(reference, out.data, want, (size_t)out_w * out_h * c, 0);
            printf("resize %3dx%-3d x%d -> %3dx%-3d max |relage - PIL| = %d\n", w, h, c, out_w,
                   out_h, diff);
            CHECK_INT_EQ(diff, 0);
        }
        free(want);
        image_free(&in);
        image_free(&out);
    }
    fclose(index);
    CHECK(cases >= 8);
}

static void test_resize_edges(void) {
    image in = {0}, out = {0};
    CHECK_OK(image_alloc(&in, 5, 4, 3));
    for (int i = 0; i < 5 * 4 * 3; i++) in.data[i] = (uint8_t)(i * 11);
    CHECK_OK(image_resize_bilinear(&out, &in, 5, 4)); /* same size: a copy */
    CHECK(out.data && memcmp(out.data, in.data, 60) == 0);
    image_free(&out);
    CHECK_OK(image_resize_bilinear(&out, &in, 1, 1));
    image_free(&out);
    CHECK_OK(image_resize_bilinear(&out, &in, 300, 2));
    image_free(&out);
    CHECK_FAILS(image_resize_bilinear(&out, &in, 0, 3), RELAGE_ERR_INVALID_ARG);
    CHECK(out.data == NULL);
    CHECK_FAILS(image_resize_bilinear(&out, NULL, 3, 3), RELAGE_ERR_INVALID_ARG);
    image_free(&in);
    image_free(NULL);
}

static image ramp_image(int w, int h, int channels) {
    image img = {0};
    CHECK_OK(image_alloc(&img, w, h, channels));
    for (int i = 0; img.data && i < w * h * channels; i++) img.data[i] = (uint8_t)(1 + i % 250);
    return img;
}

static void test_crop(void) {
    image in = ramp_image(6, 5, 3), out = {0};
    int bad = 0;
    CHECK_OK(image_crop(&out, &in, -2, 3, 7, 4)); /* past the left, right and bottom edges */
    for (int y = 0; out.data && y < 4; y++) {
        for (int x = 0; x < 7; x++) {
            int sx = x - 2, sy = y + 3;
            for (int c = 0; c < 3; c++) {
                int want = sx >= 0 && sx < 6 && sy < 5 ? in.data[(sy * 6 + sx) * 3 + c] : 0;
                bad += out.data[(y * 7 + x) * 3 + c] != want;
            }
        }
    }
    CHECK_INT_EQ(bad, 0);
    image_free(&out);
    CHECK_OK(image_crop(&out, &in, 100, -100, 3, 2)); /* entirely outside: all zero */
    CHECK(out.data && out.data[0] == 0 && out.data[17] == 0);
    image_free(&out);
    CHECK_OK(image_crop(&out, &in, INT_MIN, INT_MAX, 2, 2));
    image_free(&out);
    CHECK_OK(image_crop(&out, &in, 0, 0, 6, 5)); /* the whole image */
    CHECK(out.data && memcmp(out.data, in.data, 90) == 0);
    image_free(&out);
    CHECK_FAILS(image_crop(&out, &in, 0, 0, 0, 5), RELAGE_ERR_INVALID_ARG);
    image_free(&in);
}

static void test_flip(void) {
    image img = ramp_image(5, 3, 3), copy = {0};
    CHECK_OK(image_crop(&copy, &img, 0, 0, 5, 3));
    image_flip_horizontal(&img);
    CHECK(img.data && memcmp(img.data, copy.data + 4 * 3, 3) == 0);
    CHECK(img.data && memcmp(img.data + (2 * 5 + 1) * 3, copy.data + (2 * 5 + 3) * 3, 3) == 0);
    image_flip_horizontal(&img);
    CHECK(img.data && memcmp(img.data, copy.data, 45) == 0);
    image_flip_horizontal(NULL);
    image_free(&img);
    image_free(&copy);
}

static void test_to_tensor(void) {
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    image rgb = ramp_image(4, 3, 3), gray = ramp_image(4, 3, 1);
    float got[36], want[36];
    image_to_tensor(got, &rgb, mean, std);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 12; i++)
            want[c * 12 + i] = ((float)rgb.data[i * 3 + c] / 255.0f - mean[c]) / std[c];
    CHECK_ALLCLOSE("to_tensor rgb", got, want, 36, 0, 0);
    image_to_tensor(got, &gray, mean, std);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 12; i++)
            want[c * 12 + i] = ((float)gray.data[i] / 255.0f - mean[c]) / std[c];
    CHECK_ALLCLOSE("to_tensor gray", got, want, 36, 0, 0);
    CHECK_NEAR(got[0], (1.0 / 255.0 - 0.485) / 0.229, 1e-6);
    image_free(&rgb);
    image_free(&gray);
}

static void test_warp_affine(void) {
    image in = ramp_image(7, 6, 3), out = {0};
    const double identity[6] = {1, 0, 0, 0, 1, 0};
    const double shift[6] = {1, 0, 2, 0, 1, 3}; /* out(x, y) = in(x + 2, y + 3) */
    const double half[6] = {1, 0, 0.5, 0, 1, 0};
    const double nan_map[6] = {(double)NAN, 0, 0, 0, 1, 0};
    int bad = 0;
    CHECK_OK(image_warp_affine(&out, &in, identity, 7, 6));
    CHECK(out.data && memcmp(out.data, in.data, 7 * 6 * 3) == 0);
    image_free(&out);
    CHECK_OK(image_warp_affine(&out, &in, shift, 8, 5));
    for (int y = 0; out.data && y < 5; y++) {
        for (int x = 0; x < 8; x++) {
            int sx = x + 2, sy = y + 3;
            for (int c = 0; c < 3; c++) {
                int want = sx < 7 && sy < 6 ? in.data[(sy * 7 + sx) * 3 + c] : 0;
                bad += out.data[(y * 8 + x) * 3 + c] != want;
            }
        }
    }
    CHECK_INT_EQ(bad, 0);
    image_free(&out);
    CHECK_OK(image_warp_affine(&out, &in, half, 7, 1));
    if (out.data) {
        /* halfway between neighbours, rounded; the last column fades with the zero outside */
        CHECK_INT_EQ(out.data[0], (int)floor((in.data[0] + in.data[3]) / 2.0 + 0.5));
        CHECK_INT_EQ(out.data[6 * 3], (int)floor(in.data[6 * 3] / 2.0 + 0.5));
    }
    image_free(&out);
    CHECK_OK(image_warp_affine(&out, &in, nan_map, 3, 3));
    CHECK(out.data && out.data[0] == 0);
    image_free(&out);
    CHECK_FAILS(image_warp_affine(&out, &in, identity, 0, 3), RELAGE_ERR_INVALID_ARG);
    image_free(&in);
}

/* ---- output ---- */

static int count_dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    if (d) closedir(d);
    return n;
}

static void test_save_png(void) {
    char path[512], bad_path[512];
    image rgb = ramp_image(9, 7, 3), gray = ramp_image(5, 4, 1), back = {0};
    snprintf(path, sizeof path, "%s/out.png", temp_dir);
    CHECK_OK(image_save_png(&rgb, path));
    CHECK_OK(image_load(&back, path, NULL));
    CHECK(back.data && back.width == 9 && back.height == 7 &&
          memcmp(back.data, rgb.data, 9 * 7 * 3) == 0);
    image_free(&back);
    CHECK_OK(image_save_png(&gray, path)); /* replaces the file */
    CHECK_OK(image_load(&back, path, NULL));
    CHECK(back.data && back.width == 5 && back.height == 4);
    for (int i = 0; back.data && i < 20; i++) {
        CHECK(back.data[i * 3] == gray.data[i] && back.data[i * 3 + 2] == gray.data[i]);
    }
    image_free(&back);
    CHECK_INT_EQ(count_dir_entries(temp_dir), 1); /* no temporary file left */
    snprintf(bad_path, sizeof bad_path, "%s/no/such/dir/out.png", temp_dir);
    CHECK_FAILS(image_save_png(&rgb, bad_path), RELAGE_ERR_IO);
    CHECK(strstr(relage_last_error(), bad_path) != NULL);
    CHECK_FAILS(image_save_png(NULL, path), RELAGE_ERR_INVALID_ARG);
    unlink(path);
    image_free(&rgb);
    image_free(&gray);
}

static void test_draw(void) {
    const uint8_t red[3] = {255, 0, 0};
    image img = {0}, gray = {0};
    int lit = 0;
    CHECK_OK(image_alloc(&img, 40, 30, 3));
    CHECK_OK(image_alloc(&gray, 10, 10, 1));
    if (!img.data || !gray.data) return;
    image_draw_rect(&img, 5, 5, 20, 15, red, 2);
    CHECK(img.data[(5 * 40 + 10) * 3] == 255 && img.data[(6 * 40 + 10) * 3] == 255);
    CHECK(img.data[(7 * 40 + 10) * 3] == 0); /* inside the 2-pixel border */
    CHECK(img.data[(15 * 40 + 20) * 3] == 255 && img.data[(16 * 40 + 21) * 3] == 0);
    image_draw_disc(&img, 30, 20, 3, red);
    CHECK(img.data[(20 * 40 + 30) * 3] == 255 && img.data[(20 * 40 + 33) * 3] == 255);
    CHECK(img.data[(23 * 40 + 33) * 3] == 0);
    memset(img.data, 0, 40 * 30 * 3);
    image_draw_text(&img, 1, 1, "Age 42\n?", red, 1);
    for (int i = 0; i < 40 * 30; i++) lit += img.data[i * 3] == 255;
    CHECK(lit > 20);
    CHECK(img.data[(1 * 40 + 3) * 3] == 255); /* the apex of the 'A' */
    /* far outside, huge, degenerate: clipped, never a crash */
    image_draw_rect(&img, INT_MIN, INT_MIN, INT_MAX, INT_MAX, red, INT_MAX);
    image_draw_rect(&img, -100, -100, -50, -50, red, 3);
    image_draw_rect(&img, 1000, 5, 2000, 6, red, 0);
    image_draw_disc(&img, INT_MAX, INT_MIN, INT_MAX, red);
    image_draw_disc(&img, -5, -5, 7, red);
    image_draw_disc(&img, 10, 10, -1, red);
    image_draw_text(&img, INT_MAX - 3, INT_MIN, "far away\n\x01\xff", red, INT_MAX);
    image_draw_text(&img, -12, 25, "clipped text", red, 3);
    image_draw_text(&img, 0, 0, "", red, 1);
    image_draw_rect(NULL, 0, 0, 1, 1, red, 1);
    image_draw_text(&gray, 0, 0, "gray", red, 1);
    CHECK(gray.data[1 * 10 + 1] == 76); /* red's luma (PIL's weights) in the 'g' */
    image_free(&img);
    image_free(&gray);
}

int main(void) {
    if (!mkdtemp(temp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_decode_fixtures();
    test_orientation_option();
    test_exif_parser();
    test_ycck_jpeg();
    test_decode_errors();
    test_resize_fixtures();
    test_resize_edges();
    test_crop();
    test_flip();
    test_to_tensor();
    test_warp_affine();
    test_save_png();
    test_draw();
    rmdir(temp_dir);
    return test_summary("test_image");
}
