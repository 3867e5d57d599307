/* The prepared-face cache file: header, fixed-size records, resumable append, atomic finish. */
#define _FILE_OFFSET_BITS 64
#include "data/face_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/status.h"

_Static_assert(sizeof(face_entry) == 256, "face_entry is 256 bytes on disk");

enum { HEADER_BYTES = 512, VERSION = 1 };
static const char MAGIC[8] = {'R', 'L', 'G', 'F', 'A', 'C', 'E', '1'};

typedef struct disk_header {
    char magic[8];
    uint32_t version, size;
    uint64_t count;
    char policy[64], detector[64], source[256];
    char reserved[HEADER_BYTES - 408];
} disk_header;
_Static_assert(sizeof(disk_header) == HEADER_BYTES, "header is 512 bytes on disk");

static uint64_t record_bytes(uint32_t size) {
    return sizeof(face_entry) + (uint64_t)size * size * 3;
}

static void header_from_info(disk_header *h, const face_cache_info *info, uint64_t count) {
    memset(h, 0, sizeof *h);
    memcpy(h->magic, MAGIC, sizeof MAGIC);
    h->version = VERSION;
    h->size = info->size;
    h->count = count;
    snprintf(h->policy, sizeof h->policy, "%s", info->policy);
    snprintf(h->detector, sizeof h->detector, "%s", info->detector);
    snprintf(h->source, sizeof h->source, "%s", info->source);
}

static int header_valid(const disk_header *h) {
    return memcmp(h->magic, MAGIC, sizeof MAGIC) == 0 && h->version == VERSION && h->size > 0 &&
           h->size <= 4096 && memchr(h->policy, 0, sizeof h->policy) &&
           memchr(h->detector, 0, sizeof h->detector) && memchr(h->source, 0, sizeof h->source);
}

struct face_cache_writer {
    FILE *fp;
    char *path, *partial;
    face_cache_info info;
    uint64_t count;
};

relage_status face_cache_begin(face_cache_writer **out, const char *path,
                               const face_cache_info *info, int resume, const char *const *names,
                               size_t n_names, uint64_t *images_done) {
    uint64_t *done = images_done;
    *out = NULL;
    *done = 0;
    if (info->size == 0 || info->size > 4096)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "face cache: crop size %u", info->size);
    face_cache_writer *w = calloc(1, sizeof *w);
    if (!w) return relage_fail(RELAGE_ERR_NOMEM, "face cache: out of memory");
    /* the file finish replaces: path, or what a link names; never a device or a pipe */
    relage_status st = atomic_file_target(path, &w->path);
    if (st != RELAGE_OK) goto fail;
    size_t len = strlen(w->path);
    if (!(w->partial = malloc(len + 9))) {
        st = relage_fail(RELAGE_ERR_NOMEM, "face cache: out of memory");
        goto fail;
    }
    snprintf(w->partial, len + 9, "%s.partial", w->path);
    w->info = *info;
    disk_header h;
    if (resume && (w->fp = fopen(w->partial, "r+b"))) {
        struct stat sb;
        if (fread(&h, sizeof h, 1, w->fp) != 1 || !header_valid(&h) || fstat(fileno(w->fp), &sb)) {
            st = relage_fail(RELAGE_ERR_FORMAT, "%s: not a face cache to resume", w->partial);
            goto fail;
        }
        const char *differs = h.size != info->size                      ? "crop size"
                              : strcmp(h.policy, info->policy) != 0     ? "face policy"
                              : strcmp(h.detector, info->detector) != 0 ? "detector"
                              : strcmp(h.source, info->source) != 0     ? "source"
                                                                        : NULL;
        if (differs) {
            st = relage_fail(RELAGE_ERR_MISMATCH,
                             "%s: made with another %s; remove it or run without --resume",
                             w->partial, differs);
            goto fail;
        }
        uint64_t records = ((uint64_t)sb.st_size - HEADER_BYTES) / record_bytes(info->size);
        uint64_t images = 0, last_start = 0;
        for (uint64_t r = 0; r < records; r++) {
            face_entry e;
            off_t at = (off_t)(HEADER_BYTES + r * record_bytes(info->size));
            if (pread(fileno(w->fp), &e, sizeof e, at) != (ssize_t)sizeof e) break;
            if (e.face_index == 0) {
                e.name[sizeof e.name - 1] = '\0';
                if (images >= n_names || strncmp(e.name, names[images], sizeof e.name - 1) != 0) {
                    st = relage_fail(RELAGE_ERR_MISMATCH,
                                     "%s: made from other images (its image %llu is %s, now %s); "
                                     "remove it or run without --resume",
                                     w->partial, (unsigned long long)images + 1, e.name,
                                     images < n_names ? names[images] : "past the last");
                    goto fail;
                }
                images++;
                last_start = r;
            }
        }
        /* drop the last image's records: it may be short of faces */
        records = images ? last_start : 0;
        images = images ? images - 1 : 0;
        off_t keep = (off_t)(HEADER_BYTES + records * record_bytes(info->size));
        if (ftruncate(fileno(w->fp), keep) != 0 || fseeko(w->fp, keep, SEEK_SET) != 0) {
            st = relage_fail(RELAGE_ERR_IO, "%s: %s", w->partial, strerror(errno));
            goto fail;
        }
        w->count = records;
        *done = images;
    } else {
        if (!(w->fp = fopen(w->partial, "w+b"))) {
            st = relage_fail(RELAGE_ERR_IO, "%s: %s", w->partial, strerror(errno));
            goto fail;
        }
        header_from_info(&h, info, 0);
        if (fwrite(&h, sizeof h, 1, w->fp) != 1) {
            st = relage_fail(RELAGE_ERR_IO, "%s: %s", w->partial, strerror(errno));
            goto fail;
        }
    }
    *out = w;
    return RELAGE_OK;
fail:
    face_cache_abandon(w);
    return st;
}

relage_status face_cache_append(face_cache_writer *w, const face_entry *entry,
                                const uint8_t *pixels) {
    size_t n = (size_t)w->info.size * w->info.size * 3;
    if (fwrite(entry, sizeof *entry, 1, w->fp) != 1 || fwrite(pixels, 1, n, w->fp) != n)
        return relage_fail(RELAGE_ERR_IO, "%s: %s", w->partial, strerror(errno));
    w->count++;
    return RELAGE_OK;
}

relage_status face_cache_sync(face_cache_writer *w) {
    if (fflush(w->fp) != 0 || fsync(fileno(w->fp)) != 0)
        return relage_fail(RELAGE_ERR_IO, "%s: %s", w->partial, strerror(errno));
    return RELAGE_OK;
}

relage_status face_cache_finish(face_cache_writer *w) {
    disk_header h;
    header_from_info(&h, &w->info, w->count);
    relage_status st = RELAGE_OK;
    if (fseeko(w->fp, 0, SEEK_SET) != 0 || fwrite(&h, sizeof h, 1, w->fp) != 1 ||
        (st = face_cache_sync(w)) != RELAGE_OK || fclose(w->fp) != 0) {
        if (st == RELAGE_OK) st = relage_fail(RELAGE_ERR_IO, "%s: %s", w->partial, strerror(errno));
        w->fp = NULL;
        face_cache_abandon(w);
        return st;
    }
    w->fp = NULL;
    if (rename(w->partial, w->path) != 0)
        st = relage_fail(RELAGE_ERR_IO, "%s: %s", w->path, strerror(errno));
    face_cache_abandon(w);
    return st;
}

void face_cache_discard(face_cache_writer *w) {
    if (w && w->fp) {
        fclose(w->fp);
        w->fp = NULL;
    }
    if (w && w->partial) unlink(w->partial);
    face_cache_abandon(w);
}

void face_cache_abandon(face_cache_writer *w) {
    if (!w) return;
    if (w->fp) fclose(w->fp);
    free(w->path);
    free(w->partial);
    free(w);
}

struct face_cache {
    int fd;
    char *path;
    face_cache_info info;
};

relage_status face_cache_open(face_cache **out, const char *path) {
    *out = NULL;
    face_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        return relage_fail(RELAGE_ERR_NOMEM, "face cache: out of memory");
    }
    relage_status st = RELAGE_OK;
    disk_header h;
    struct stat sb;
    c->fd = open(path, O_RDONLY); /* the first step: every failure below has an fd or -1 */
    if (c->fd < 0) {
        st = relage_fail(RELAGE_ERR_IO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    if (pread(c->fd, &h, sizeof h, 0) != (ssize_t)sizeof h || !header_valid(&h) ||
        fstat(c->fd, &sb) != 0) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: not a relage face cache", path);
        goto fail;
    }
    if (h.count > ((uint64_t)1 << 40) / record_bytes(h.size)) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: the header promises %llu records: damaged", path,
                         (unsigned long long)h.count);
        goto fail;
    }
    uint64_t want = HEADER_BYTES + h.count * record_bytes(h.size);
    if ((uint64_t)sb.st_size != want) {
        st = relage_fail(RELAGE_ERR_FORMAT,
                         "%s: %llu bytes, the header promises %llu records "
                         "(%llu bytes): truncated or unfinished",
                         path, (unsigned long long)sb.st_size, (unsigned long long)h.count,
                         (unsigned long long)want);
        goto fail;
    }
    c->info.size = h.size;
    c->info.count = h.count;
    memcpy(c->info.policy, h.policy, sizeof h.policy);
    memcpy(c->info.detector, h.detector, sizeof h.detector);
    memcpy(c->info.source, h.source, sizeof h.source);
    *out = c;
    return RELAGE_OK;
fail:
    face_cache_close(c);
    return st;
}

const face_cache_info *face_cache_info_of(const face_cache *c) {
    return &c->info;
}

static relage_status read_at(const face_cache *c, uint64_t i, void *dst, size_t n, uint64_t skip) {
    if (i >= c->info.count)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "%s: record %llu of %llu", c->path,
                           (unsigned long long)i, (unsigned long long)c->info.count);
    off_t at = (off_t)(HEADER_BYTES + i * record_bytes(c->info.size) + skip);
    if (pread(c->fd, dst, n, at) != (ssize_t)n)
        return relage_fail(RELAGE_ERR_IO, "%s: short read at record %llu", c->path,
                           (unsigned long long)i);
    return RELAGE_OK;
}

/* An age in 0..150 (NaN allowed where unknown). */
static int age_ok(float v, int may_be_unknown) {
    return (isnan(v) && may_be_unknown) || (v >= 0.0f && v <= 150.0f);
}

relage_status face_cache_entry(const face_cache *c, uint64_t i, face_entry *entry) {
    relage_status st = read_at(c, i, entry, sizeof *entry, 0);
    if (st != RELAGE_OK) return st;
    entry->name[sizeof entry->name - 1] = '\0';
    /* labels as the label readers accept them (data/labels.h): a damaged or foreign record is
     * named here, not met later as a NaN loss */
    if (!age_ok(entry->mean, 0) || !age_ok(entry->std, 1) || !age_ok(entry->real, 1) ||
        entry->outcome < FACE_FOUND || entry->outcome > FACE_UNREADABLE)
        return relage_fail(RELAGE_ERR_FORMAT,
                           "%s: record %llu (%s): age %g, spread %g, real age %g, outcome %d: "
                           "not a label relage writes (ages 0..150)",
                           c->path, (unsigned long long)i, entry->name, (double)entry->mean,
                           (double)entry->std, (double)entry->real, (int)entry->outcome);
    return RELAGE_OK;
}

relage_status face_cache_pixels(const face_cache *c, uint64_t i, uint8_t *dst) {
    return read_at(c, i, dst, (size_t)c->info.size * c->info.size * 3, sizeof(face_entry));
}

void face_cache_close(face_cache *c) {
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    free(c->path);
    free(c);
}
