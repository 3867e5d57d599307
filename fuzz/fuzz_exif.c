/* libFuzzer harness for exif_orientation: any byte string must give a value in 1..8 without
 * reading out of bounds. Build and run: see fuzz/README.md. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "image/exif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int orientation = exif_orientation(data, size);
    if (orientation < 1 || orientation > 8) abort();
    return 0;
}
