/* libFuzzer harness for image_decode (JPEG and PNG from memory, EXIF orientation included).
 * Any input must give RELAGE_OK with a consistent image, or a failure with a zeroed image
 * and an error text naming the input; never a crash, leak, hang or sanitizer report. A decoded
 * image is also resized and cropped, to run the geometry on odd shapes. Build and run: see
 * fuzz/README.md. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

#define FUZZ_MAX_PIXELS (1u << 16) /* keeps each run fast; larger headers must fail cleanly */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    image img = {0}, resized = {0}, cropped = {0};
    image_load_options opt = image_default_load_options();
    opt.max_pixels = FUZZ_MAX_PIXELS;
    if (image_decode(&img, data, size, "fuzz-input", &opt) != RELAGE_OK) {
        if (img.data || img.width || img.height) abort();
        if (!strstr(relage_last_error(), "fuzz-input")) abort();
        return 0;
    }
    if (!img.data || img.channels != 3 || img.width <= 0 || img.height <= 0 ||
        (uint64_t)img.width * (uint64_t)img.height > FUZZ_MAX_PIXELS)
        abort();
    if (image_resize_bilinear(&resized, &img, 1 + img.height % 37, 1 + img.width % 29) != RELAGE_OK)
        abort();
    if (image_crop(&cropped, &img, -3, img.height / 2, img.width, 5) != RELAGE_OK) abort();
    image_free(&cropped);
    image_free(&resized);
    image_free(&img);
    return 0;
}
