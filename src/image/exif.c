/* EXIF Orientation parser (see exif.h). It walks only IFD0's entry table, never following
 * offsets beyond the one to IFD0, so it runs in O(entries) and cannot loop. */
#include "image/exif.h"

#include <string.h>

#define TIFF_TYPE_SHORT 3
#define TIFF_TYPE_LONG 4
#define TAG_ORIENTATION 0x0112
#define IFD_ENTRY_BYTES 12

static uint32_t read_u16(const uint8_t *p, int big_endian) {
    return big_endian ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
}

static uint32_t read_u32(const uint8_t *p, int big_endian) {
    return big_endian ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
                      : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int exif_orientation(const uint8_t *app1, size_t size) {
    const uint8_t *tiff = app1;
    size_t tiff_size = size, ifd_offset, entry_count;
    int big_endian;
    if (!app1) return 1;
    if (size >= 6 && memcmp(app1, "Exif\0\0", 6) == 0) {
        tiff += 6;
        tiff_size -= 6;
    }
    if (tiff_size < 8) return 1;
    if (memcmp(tiff, "II*\0", 4) == 0) {
        big_endian = 0;
    } else if (memcmp(tiff, "MM\0*", 4) == 0) {
        big_endian = 1;
    } else {
        return 1;
    }
    ifd_offset = read_u32(tiff + 4, big_endian);
    if (ifd_offset > tiff_size || tiff_size - ifd_offset < 2) return 1;
    entry_count = read_u16(tiff + ifd_offset, big_endian);
    /* Entries that would run past the end are ignored, as a truncated table. */
    if (entry_count > (tiff_size - ifd_offset - 2) / IFD_ENTRY_BYTES)
        entry_count = (tiff_size - ifd_offset - 2) / IFD_ENTRY_BYTES;
    for (size_t i = 0; i < entry_count; i++) {
        const uint8_t *entry = tiff + ifd_offset + 2 + i * IFD_ENTRY_BYTES;
        uint32_t type, count, value;
        if (read_u16(entry, big_endian) != TAG_ORIENTATION) continue;
        type = read_u16(entry + 2, big_endian);
        count = read_u32(entry + 4, big_endian);
        if (count != 1) return 1;
        if (type == TIFF_TYPE_SHORT) {
            value = read_u16(entry + 8, big_endian); /* left-justified in the value field */
        } else if (type == TIFF_TYPE_LONG) {
            value = read_u32(entry + 8, big_endian);
        } else {
            return 1;
        }
        return value >= 1 && value <= 8 ? (int)value : 1;
    }
    return 1;
}
