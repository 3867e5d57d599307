/* The one EXIF field the image loader needs: Orientation (tag 0x0112 in IFD0). */
#ifndef RELAGE_IMAGE_EXIF_H
#define RELAGE_IMAGE_EXIF_H

#include <stddef.h>
#include <stdint.h>

/* The EXIF Orientation, 1..8, from an EXIF payload: either a JPEG APP1 segment's data
 * ("Exif\0\0" followed by a TIFF structure) or a bare TIFF structure as in a PNG eXIf chunk.
 * The TIFF header may be little- ("II*\0") or big-endian ("MM\0*"); the tag must be in IFD0,
 * of type SHORT or LONG with count 1, and the first such entry counts. Returns 1 (upright)
 * when the tag is absent, malformed or out of range, and when app1 is NULL. Every read is
 * bounds-checked against size, so any byte string is safe input. */
int exif_orientation(const uint8_t *app1, size_t size);

#endif
