/* The prepared-face cache: one file holding, for every image of a dataset, its label, where the
 * face came from (detector, region, probability, or why there is none) and a fixed-size RGB crop,
 * so that training reads faces without decoding or detecting again.
 *
 * Layout (little-endian): a 512-byte header (magic "RLGFACE1", version, crop size, record count,
 * the face policy, detector and source as text), then count records, each a 256-byte entry
 * followed by size * size * 3 bytes of RGB. Records are appended to PATH.partial as they are
 * made, so an interrupted run resumes where it stopped; finishing writes the count and renames
 * the file over PATH. */
#ifndef RELAGE_DATA_FACE_CACHE_H
#define RELAGE_DATA_FACE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "relage.h"

typedef enum face_outcome {
    FACE_FOUND = 0,       /* a detected face, cropped by the policy */
    FACE_WHOLE_IMAGE = 1, /* no face found: the whole image (the paper's fallback) */
    FACE_UNREADABLE = 2,  /* the image could not be read: pixels are zero, skip it */
} face_outcome;

typedef struct face_entry {
    char name[176];        /* the image's name in the labels */
    float mean, std, real; /* std, real NAN when unknown */
    int32_t gender, race;  /* -1 when unknown */
    int32_t outcome;       /* face_outcome */
    float region[4];       /* the crop in image pixels, x1 y1 x2 y2 */
    float prob;            /* detection probability (NAN: none or not given) */
    int32_t face_index;    /* which face of the image, 0 = the largest */
    int32_t image_width, image_height;
    char reserved[24];
} face_entry;

typedef struct face_cache_info {
    uint32_t size;     /* crops are size x size RGB */
    uint64_t count;    /* records */
    char policy[64];   /* face_policy_format() text */
    char detector[64]; /* "mtcnn", "cascade" or "none" */
    char source[256];  /* where the images came from */
} face_cache_info;

/* ---- writing ---- */

typedef struct face_cache_writer face_cache_writer;

/* Starts PATH.partial (beside the file a link at PATH names; a PATH that is not a regular file
 * is refused: core/atomic_file.h). With resume, an existing PATH.partial whose header matches info (size,
 * policy, detector, source) and whose images are the first of names[0..n_names) in that order
 * (the images the caller will write) is continued: *images_done receives the number of images
 * whose records are complete; the records of the last image there (which may lack faces) and a
 * torn record are dropped, so that image is made again. Images are counted by records with
 * face_index 0. A partial made with other settings or from other images is RELAGE_ERR_MISMATCH
 * saying what differs, and is left as it is. Without resume, PATH.partial starts afresh. */
relage_status face_cache_begin(face_cache_writer **out, const char *path,
                               const face_cache_info *info, int resume, const char *const *names,
                               size_t n_names, uint64_t *images_done);
/* Appends one record; pixels is size*size*3 bytes. Records reach the disk by face_cache_sync. */
relage_status face_cache_append(face_cache_writer *w, const face_entry *entry,
                                const uint8_t *pixels);
relage_status face_cache_sync(face_cache_writer *w);
/* Writes the count, syncs, and renames PATH.partial to PATH; frees the writer either way. */
relage_status face_cache_finish(face_cache_writer *w);
/* Closes without finishing: PATH.partial stays for a resume. Accepts NULL. */
void face_cache_abandon(face_cache_writer *w);
/* Closes without finishing and removes PATH.partial (nothing worth resuming). Accepts NULL. */
void face_cache_discard(face_cache_writer *w);

/* ---- reading ---- */

typedef struct face_cache face_cache;

/* Opens a finished cache and checks its header and size. RELAGE_ERR_FORMAT for anything else,
 * naming the file. */
relage_status face_cache_open(face_cache **out, const char *path);
const face_cache_info *face_cache_info_of(const face_cache *c);
/* Entry i (< count), and its pixels copied into dst (size*size*3 bytes). An entry whose ages
 * are outside 0..150 (or not a number where they must be known) or whose outcome is unknown is
 * RELAGE_ERR_FORMAT naming the record. */
relage_status face_cache_entry(const face_cache *c, uint64_t i, face_entry *entry);
relage_status face_cache_pixels(const face_cache *c, uint64_t i, uint8_t *dst);
void face_cache_close(face_cache *c);

#endif
