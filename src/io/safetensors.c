/* safetensors reader and writer (layout in safetensors.h).
 *
 * The reader reads the whole file into one buffer, parses the header with cJSON, copies what it
 * needs into a table of tensors sorted by data offset plus an index sorted by name, and drops the
 * JSON tree. Header numbers pass through doubles in cJSON, so each must be an integer in
 * [0, 2^53). Elements are decoded byte by byte as little-endian, which is right on any host and
 * for unaligned data; the writer likewise encodes host-order elements as little-endian. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "io/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "core/file.h"
#include "core/status.h"

#define MAX_HEADER_BYTES ((uint64_t)100 << 20)
#define JSON_INT_LIMIT ((uint64_t)1 << 53) /* doubles represent every integer below this */
#define METADATA_KEY "__metadata__"
#define SHAPE_TEXT_BYTES (SAFETENSORS_MAX_DIMS * 22 + 4)

struct safetensors_file {
    char *path;
    unsigned char *bytes; /* the whole file */
    const unsigned char *data;
    size_t data_size;
    safetensors_tensor *tensors; /* sorted by offset */
    size_t count;
    char *names; /* every tensor name, NUL-separated; tensors[i].name points in here */
    const safetensors_tensor **by_name;
    char **meta_keys;
    char **meta_values;
    size_t meta_count;
};

typedef struct writer_tensor {
    char *name;
    safetensors_dtype dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    size_t nbytes;
    unsigned char *bytes; /* little-endian */
} writer_tensor;

struct safetensors_writer {
    writer_tensor *tensors;
    size_t count, capacity;
    uint64_t data_size;
    char **meta_keys;
    char **meta_values;
    size_t meta_count, meta_capacity;
};

/* ---- dtypes and byte order ---- */

/* 0 for a value outside the enum. */
static size_t dtype_size(safetensors_dtype dtype) {
    switch (dtype) {
    case SAFETENSORS_F32:
        return 4;
    case SAFETENSORS_F16:
        return 2;
    case SAFETENSORS_BF16:
        return 2;
    case SAFETENSORS_I64:
        return 8;
    }
    return 0;
}

static const char *dtype_name(safetensors_dtype dtype) {
    switch (dtype) {
    case SAFETENSORS_F32:
        return "F32";
    case SAFETENSORS_F16:
        return "F16";
    case SAFETENSORS_BF16:
        return "BF16";
    case SAFETENSORS_I64:
        return "I64";
    }
    return "?";
}

/* Returns 0 if text names none of the supported dtypes. */
static int dtype_parse(const char *text, safetensors_dtype *out) {
    static const safetensors_dtype all[] = {SAFETENSORS_F32, SAFETENSORS_F16, SAFETENSORS_BF16,
                                            SAFETENSORS_I64};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        if (strcmp(text, dtype_name(all[i])) == 0) {
            *out = all[i];
            return 1;
        }
    }
    return 0;
}

static uint16_t load_le16(const unsigned char *p) {
    return (uint16_t)(p[0] | (unsigned)p[1] << 8);
}

static uint32_t load_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t load_le64(const unsigned char *p) {
    return (uint64_t)load_le32(p) | (uint64_t)load_le32(p + 4) << 32;
}

static void store_le(unsigned char *p, uint64_t value, size_t nbytes) {
    for (size_t i = 0; i < nbytes; i++) p[i] = (unsigned char)(value >> (8 * i));
}

static float f32_from_bits(uint32_t bits) {
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* IEEE binary16 to binary32, exact for every input including subnormals, infinities and NaNs
 * (the NaN payload is kept). */
static float f32_from_f16(uint16_t half) {
    uint32_t sign = (uint32_t)(half & 0x8000u) << 16;
    uint32_t exponent = (half >> 10) & 0x1fu;
    uint32_t mantissa = half & 0x3ffu;
    if (exponent == 0x1f) return f32_from_bits(sign | 0x7f800000u | mantissa << 13);
    if (exponent != 0) return f32_from_bits(sign | (exponent + 112) << 23 | mantissa << 13);
    if (mantissa == 0) return f32_from_bits(sign);
    /* Subnormal: mantissa * 2^-24; shift the leading one up to the implicit bit. */
    exponent = 113;
    while (!(mantissa & 0x400u)) {
        mantissa <<= 1;
        exponent--;
    }
    return f32_from_bits(sign | exponent << 23 | (mantissa & 0x3ffu) << 13);
}

static uint32_t bits_of(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

static uint16_t f16_from_f32(float value) {
    uint32_t x = bits_of(value), sign = (x >> 16) & 0x8000u, magnitude = x & 0x7fffffffu;
    if (magnitude > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | (magnitude >> 13 & 0x3ffu));
    if (magnitude >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* 65520 and up, infinity */
    if (magnitude >= 0x38800000u) { /* normal in F16 (2^-14 and up): rebias, round at bit 13 */
        uint32_t rounded = magnitude + 0xfffu + (magnitude >> 13 & 1u);
        return (uint16_t)(sign | (rounded - 0x38000000u) >> 13);
    }
    /* Subnormal or zero: a count of 2^-24 units; scaling by 2^24 is exact and nearbyintf rounds
     * half to even in the default rounding mode. 1024 units is the smallest normal, 0x400. */
    return (uint16_t)(sign | (uint32_t)nearbyintf(f32_from_bits(magnitude) * 16777216.0f));
}

static uint16_t bf16_from_f32(float value) {
    uint32_t x = bits_of(value);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(x >> 16 | 0x40u);
    return (uint16_t)((x + 0x7fffu + (x >> 16 & 1u)) >> 16);
}

void safetensors_round_half(safetensors_dtype dtype, uint16_t *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++)
        dst[i] = dtype == SAFETENSORS_BF16 ? bf16_from_f32(src[i]) : f16_from_f32(src[i]);
}

/* Writes "[d0, d1, ...]" into text, which holds SHAPE_TEXT_BYTES. */
static void format_shape(char *text, int ndim, const int64_t *shape) {
    size_t used = (size_t)snprintf(text, SHAPE_TEXT_BYTES, "[");
    for (int i = 0; i < ndim; i++)
        used += (size_t)snprintf(text + used, SHAPE_TEXT_BYTES - used, "%s%" PRId64, i ? ", " : "",
                                 shape[i]);
    snprintf(text + used, SHAPE_TEXT_BYTES - used, "]");
}

/* ---- reading ---- */

/* Reads a JSON integer in [0, 2^53) into *out. Returns NULL on success, else what is wrong. */
static const char *json_count(const cJSON *item, uint64_t *out) {
    if (!cJSON_IsNumber(item)) return "not a number";
    double value = item->valuedouble;
    if (!isfinite(value) || value != floor(value)) return "not an integer";
    if (value < 0) return "negative";
    if (value >= (double)JSON_INT_LIMIT) return "too large (2^53 or more)";
    *out = (uint64_t)value;
    return NULL;
}

/* Fills t (all but name) from one header entry; data_size bounds the offsets. */
static relage_status parse_entry(const char *path, const char *name, const cJSON *entry,
                                 size_t data_size, safetensors_tensor *t) {
    relage_status st = RELAGE_OK;
    const cJSON *dtype, *shape, *offsets, *item;
    const char *why;
    char shape_text[SHAPE_TEXT_BYTES];
    uint64_t bounds[2];
    size_t element_size;
    int i = 0;
    if (!cJSON_IsObject(entry)) {
        st =
            relage_fail(RELAGE_ERR_FORMAT, "%s: tensor %s: entry is not a JSON object", path, name);
        goto cleanup;
    }
    dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    if (!cJSON_IsString(dtype)) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: tensor %s: dtype missing or not a string", path,
                         name);
        goto cleanup;
    }
    if (!dtype_parse(dtype->valuestring, &t->dtype)) {
        st = relage_fail(RELAGE_ERR_UNSUPPORTED,
                         "%s: tensor %s: dtype %s unsupported (F32, F16, BF16, I64 only)", path,
                         name, dtype->valuestring);
        goto cleanup;
    }
    element_size = dtype_size(t->dtype);

    shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    if (!cJSON_IsArray(shape)) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: tensor %s: shape missing or not an array", path,
                         name);
        goto cleanup;
    }
    if (cJSON_GetArraySize(shape) > SAFETENSORS_MAX_DIMS) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: tensor %s: shape has %d dims, at most %d", path,
                         name, cJSON_GetArraySize(shape), SAFETENSORS_MAX_DIMS);
        goto cleanup;
    }
    t->numel = 1;
    cJSON_ArrayForEach(item, shape) {
        uint64_t dim = 0;
        if ((why = json_count(item, &dim))) {
            st = relage_fail(RELAGE_ERR_FORMAT, "%s: tensor %s: shape[%d] is %s", path, name, i,
                             why);
            goto cleanup;
        }
        t->shape[i++] = (int64_t)dim;
        t->ndim = i;
        if (dim > SIZE_MAX || (dim != 0 && t->numel > SIZE_MAX / dim)) {
            format_shape(shape_text, t->ndim, t->shape);
            st = relage_fail(RELAGE_ERR_FORMAT,
                             "%s: tensor %s: element count overflows at shape %s%s", path, name,
                             shape_text, t->ndim < cJSON_GetArraySize(shape) ? "..." : "");
            goto cleanup;
        }
        t->numel *= (size_t)dim;
    }
    format_shape(shape_text, t->ndim, t->shape);
    if (t->numel > SIZE_MAX / element_size) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: tensor %s: byte size of %s %s overflows", path,
                         name, dtype_name(t->dtype), shape_text);
        goto cleanup;
    }
    t->nbytes = t->numel * element_size;

    offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2) {
        st = relage_fail(RELAGE_ERR_FORMAT,
                         "%s: tensor %s: data_offsets missing or not an array of 2", path, name);
        goto cleanup;
    }
    for (i = 0; i < 2; i++) {
        if ((why = json_count(cJSON_GetArrayItem(offsets, i), &bounds[i]))) {
            st = relage_fail(RELAGE_ERR_FORMAT, "%s: tensor %s: data_offsets[%d] is %s", path, name,
                             i, why);
            goto cleanup;
        }
    }
    if (bounds[0] > bounds[1]) {
        st = relage_fail(RELAGE_ERR_FORMAT,
                         "%s: tensor %s: data_offsets [%" PRIu64 ", %" PRIu64 "] run backwards",
                         path, name, bounds[0], bounds[1]);
        goto cleanup;
    }
    if (bounds[1] > data_size) {
        st = relage_fail(RELAGE_ERR_FORMAT,
                         "%s: tensor %s: data_offsets end %" PRIu64
                         " lies beyond the %zu-byte data section (truncated file?)",
                         path, name, bounds[1], data_size);
        goto cleanup;
    }
    if (bounds[1] - bounds[0] != t->nbytes) {
        st = relage_fail(RELAGE_ERR_FORMAT,
                         "%s: tensor %s: data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64
                         " bytes but %s %s needs %zu",
                         path, name, bounds[0], bounds[1], bounds[1] - bounds[0],
                         dtype_name(t->dtype), shape_text, t->nbytes);
        goto cleanup;
    }
    t->offset = (size_t)bounds[0];
cleanup:
    return st;
}

/* Appends the string entries of a "__metadata__" object; the arrays have room for them. */
static relage_status parse_metadata(safetensors_file *file, const cJSON *metadata) {
    relage_status st = RELAGE_OK;
    const cJSON *item;
    if (!cJSON_IsObject(metadata)) {
        st =
            relage_fail(RELAGE_ERR_FORMAT, "%s: " METADATA_KEY " is not a JSON object", file->path);
        goto cleanup;
    }
    cJSON_ArrayForEach(item, metadata) {
        if (!cJSON_IsString(item)) {
            st = relage_fail(RELAGE_ERR_FORMAT,
                             "%s: " METADATA_KEY " value of key %s is not a string", file->path,
                             item->string);
            goto cleanup;
        }
        char *key = strdup(item->string), *value = strdup(item->valuestring);
        if (!key || !value) {
            free(key);
            free(value);
            st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory for metadata", file->path);
            goto cleanup;
        }
        file->meta_keys[file->meta_count] = key;
        file->meta_values[file->meta_count++] = value;
    }
cleanup:
    return st;
}

static int compare_by_offset(const void *a, const void *b) {
    const safetensors_tensor *x = a, *y = b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int compare_by_name(const void *a, const void *b) {
    const safetensors_tensor *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Rejects duplicate names and overlapping byte ranges; builds the name index. The tensors are
 * sorted by offset on return. */
static relage_status check_layout(safetensors_file *file) {
    relage_status st = RELAGE_OK;
    const safetensors_tensor *reacher = NULL; /* the tensor whose data ends furthest so far */
    size_t reach = 0;
    qsort(file->tensors, file->count, sizeof *file->tensors, compare_by_offset);
    for (size_t i = 0; i < file->count; i++) {
        const safetensors_tensor *t = &file->tensors[i];
        file->by_name[i] = t;
        if (t->nbytes == 0) continue;
        if (reacher && t->offset < reach) {
            st = relage_fail(RELAGE_ERR_FORMAT,
                             "%s: tensors %s and %s overlap (bytes [%zu, %zu) and [%zu, %zu))",
                             file->path, reacher->name, t->name, reacher->offset, reach, t->offset,
                             t->offset + t->nbytes);
            goto cleanup;
        }
        if (t->offset + t->nbytes > reach) {
            reach = t->offset + t->nbytes;
            reacher = t;
        }
    }
    qsort(file->by_name, file->count, sizeof *file->by_name, compare_by_name);
    for (size_t i = 1; i < file->count; i++) {
        if (strcmp(file->by_name[i - 1]->name, file->by_name[i]->name) == 0) {
            st = relage_fail(RELAGE_ERR_FORMAT, "%s: tensor %s appears twice", file->path,
                             file->by_name[i]->name);
            goto cleanup;
        }
    }
cleanup:
    return st;
}

/* Parses header (length bytes plus a NUL) into file->tensors and file->meta_*. */
static relage_status parse_header(safetensors_file *file, const char *header, size_t length) {
    relage_status st = RELAGE_OK;
    const char *end = NULL;
    const cJSON *item;
    size_t n_tensors = 0, n_metadata = 0, names_bytes = 0, names_used = 0;
    cJSON *root = cJSON_ParseWithOpts(header, &end, 0);
    if (!root) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: header is not valid JSON (error at byte %td)",
                         file->path, end ? end - header : (ptrdiff_t)0);
        goto cleanup;
    }
    for (const char *p = end; p < header + length; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = relage_fail(RELAGE_ERR_FORMAT,
                             "%s: header has stray bytes after the JSON at "
                             "byte %td",
                             file->path, p - header);
            goto cleanup;
        }
    }
    if (!cJSON_IsObject(root)) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: header is not a JSON object", file->path);
        goto cleanup;
    }

    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, METADATA_KEY) == 0) {
            n_metadata += (size_t)cJSON_GetArraySize(item);
        } else {
            n_tensors++;
            names_bytes += strlen(item->string) + 1;
        }
    }
    file->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *file->tensors);
    file->by_name = calloc(n_tensors ? n_tensors : 1, sizeof *file->by_name);
    file->names = malloc(names_bytes ? names_bytes : 1);
    file->meta_keys = calloc(n_metadata ? n_metadata : 1, sizeof *file->meta_keys);
    file->meta_values = calloc(n_metadata ? n_metadata : 1, sizeof *file->meta_values);
    if (!file->tensors || !file->by_name || !file->names || !file->meta_keys ||
        !file->meta_values) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory for %zu tensors", file->path,
                         n_tensors);
        goto cleanup;
    }

    cJSON_ArrayForEach(item, root) {
        if (strcmp(item->string, METADATA_KEY) == 0) {
            if ((st = parse_metadata(file, item)) != RELAGE_OK) goto cleanup;
            continue;
        }
        safetensors_tensor *t = &file->tensors[file->count];
        size_t name_bytes = strlen(item->string) + 1;
        memcpy(file->names + names_used, item->string, name_bytes);
        t->name = file->names + names_used;
        names_used += name_bytes;
        st = parse_entry(file->path, t->name, item, file->data_size, t);
        if (st != RELAGE_OK) goto cleanup;
        file->count++;
    }
    st = check_layout(file);
cleanup:
    cJSON_Delete(root);
    return st;
}

relage_status safetensors_open(safetensors_file **out, const char *path) {
    relage_status st = RELAGE_OK;
    safetensors_file *file = NULL;
    char *header = NULL;
    size_t size = 0;
    uint64_t header_length;
    if (!out || !path) {
        if (out) *out = NULL;
        return relage_fail(RELAGE_ERR_INVALID_ARG, "safetensors_open: NULL argument");
    }
    *out = NULL;
    file = calloc(1, sizeof *file);
    if (!file || !(file->path = strdup(path))) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    if ((st = file_read_all(path, SIZE_MAX - 1, (char **)&file->bytes, &size)) != RELAGE_OK)
        goto cleanup;
    if (size < 8) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: %zu bytes, too short for a safetensors file", path,
                         size);
        goto cleanup;
    }
    header_length = load_le64(file->bytes);
    if (header_length == 0) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: header length is 0", path);
        goto cleanup;
    }
    if (header_length > MAX_HEADER_BYTES) {
        st = relage_fail(RELAGE_ERR_FORMAT,
                         "%s: header length %" PRIu64 " exceeds the limit of %" PRIu64
                         " bytes (not a safetensors file?)",
                         path, header_length, MAX_HEADER_BYTES);
        goto cleanup;
    }
    if (header_length > size - 8) {
        st = relage_fail(RELAGE_ERR_FORMAT,
                         "%s: header length %" PRIu64
                         " exceeds the %zu bytes that follow it (truncated file?)",
                         path, header_length, size - 8);
        goto cleanup;
    }
    header = malloc((size_t)header_length + 1);
    if (!header) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: cannot allocate a %" PRIu64 "-byte header", path,
                         header_length);
        goto cleanup;
    }
    memcpy(header, file->bytes + 8, (size_t)header_length);
    header[header_length] = '\0';
    file->data = file->bytes + 8 + header_length;
    file->data_size = size - 8 - (size_t)header_length;
    st = parse_header(file, header, (size_t)header_length);
cleanup:
    free(header);
    if (st != RELAGE_OK) {
        safetensors_close(file);
        return st;
    }
    *out = file;
    return st;
}

void safetensors_close(safetensors_file *file) {
    if (!file) return;
    for (size_t i = 0; i < file->meta_count; i++) {
        free(file->meta_keys[i]);
        free(file->meta_values[i]);
    }
    free(file->meta_keys);
    free(file->meta_values);
    free(file->by_name);
    free(file->names);
    free(file->tensors);
    free(file->bytes);
    free(file->path);
    free(file);
}

size_t safetensors_count(const safetensors_file *file) {
    return file ? file->count : 0;
}

const safetensors_tensor *safetensors_at(const safetensors_file *file, size_t i) {
    return file && i < file->count ? &file->tensors[i] : NULL;
}

static int compare_name_key(const void *key, const void *element) {
    const safetensors_tensor *const *t = element;
    return strcmp(key, (*t)->name);
}

const safetensors_tensor *safetensors_find(const safetensors_file *file, const char *name) {
    if (!file || !name) return NULL;
    const safetensors_tensor *const *hit =
        bsearch(name, file->by_name, file->count, sizeof *file->by_name, compare_name_key);
    return hit ? *hit : NULL;
}

const char *safetensors_metadata(const safetensors_file *file, const char *key) {
    if (!file || !key) return NULL;
    for (size_t i = 0; i < file->meta_count; i++)
        if (strcmp(file->meta_keys[i], key) == 0) return file->meta_values[i];
    return NULL;
}

/* Checks that t is one of file's tensors and that dst can take its n elements. */
static relage_status check_read(const safetensors_file *file, const safetensors_tensor *t,
                                const void *dst, size_t n) {
    relage_status st = RELAGE_OK;
    uintptr_t distance;
    if (!file || !t) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "safetensors read: NULL file or tensor");
        goto cleanup;
    }
    /* Integer arithmetic, since comparing pointers into different objects is undefined. */
    distance = (uintptr_t)t - (uintptr_t)file->tensors;
    if (distance >= file->count * sizeof *t || distance % sizeof *t != 0) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "%s: tensor %s does not belong to this file",
                         file->path, t->name ? t->name : "(null)");
        goto cleanup;
    }
    if (n != t->numel) {
        st = relage_fail(RELAGE_ERR_MISMATCH,
                         "%s: tensor %s has %zu elements but the destination holds %zu", file->path,
                         t->name, t->numel, n);
        goto cleanup;
    }
    if (!dst && n > 0) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "%s: tensor %s: NULL destination", file->path,
                         t->name);
        goto cleanup;
    }
cleanup:
    return st;
}

relage_status safetensors_read_f32(const safetensors_file *file, const safetensors_tensor *t,
                                   float *dst, size_t n) {
    relage_status st = check_read(file, t, dst, n);
    const unsigned char *src;
    if (st != RELAGE_OK) goto cleanup;
    src = file->data + t->offset;
    switch (t->dtype) {
    case SAFETENSORS_F32:
        for (size_t i = 0; i < n; i++) dst[i] = f32_from_bits(load_le32(src + 4 * i));
        break;
    case SAFETENSORS_F16:
        for (size_t i = 0; i < n; i++) dst[i] = f32_from_f16(load_le16(src + 2 * i));
        break;
    case SAFETENSORS_BF16:
        for (size_t i = 0; i < n; i++)
            dst[i] = f32_from_bits((uint32_t)load_le16(src + 2 * i) << 16);
        break;
    case SAFETENSORS_I64:
        st = relage_fail(RELAGE_ERR_MISMATCH, "%s: tensor %s is I64, not a float tensor",
                         file->path, t->name);
        goto cleanup;
    }
cleanup:
    return st;
}

/* Whether a stored value has every exponent bit set (an infinity or a NaN): width 2 or 4 bytes,
 * mask the exponent bits. Scans in blocks without an early exit, which the compiler vectorises,
 * and looks for the first such value only inside a block that has one. */
static int any_all_ones(const unsigned char *src, size_t start, size_t end, int width,
                        uint32_t mask) {
    uint32_t hit = 0;
    if (width == 2)
        for (size_t i = start; i < end; i++) hit |= (load_le16(src + 2 * i) & mask) == mask;
    else
        for (size_t i = start; i < end; i++) hit |= (load_le32(src + 4 * i) & mask) == mask;
    return hit != 0;
}

int safetensors_all_finite(const safetensors_file *file, const safetensors_tensor *t, size_t *bad) {
    const unsigned char *src = file->data + t->offset;
    int width = t->dtype == SAFETENSORS_F32 ? 4 : 2;
    uint32_t mask = t->dtype == SAFETENSORS_F32    ? 0x7F800000u
                    : t->dtype == SAFETENSORS_F16  ? 0x7C00u
                    : t->dtype == SAFETENSORS_BF16 ? 0x7F80u
                                                   : 0;
    if (!mask) return 1;
    for (size_t block = 0; block < t->numel; block += 4096) {
        size_t end = block + 4096 < t->numel ? block + 4096 : t->numel;
        if (!any_all_ones(src, block, end, width, mask)) continue;
        for (size_t i = block;; i++) {
            if (any_all_ones(src, i, i + 1, width, mask)) {
                *bad = i;
                return 0;
            }
        }
    }
    return 1;
}

relage_status safetensors_read_i64(const safetensors_file *file, const safetensors_tensor *t,
                                   int64_t *dst, size_t n) {
    relage_status st = check_read(file, t, dst, n);
    const unsigned char *src;
    if (st != RELAGE_OK) goto cleanup;
    if (t->dtype != SAFETENSORS_I64) {
        st = relage_fail(RELAGE_ERR_MISMATCH, "%s: tensor %s is %s, not I64", file->path, t->name,
                         dtype_name(t->dtype));
        goto cleanup;
    }
    src = file->data + t->offset;
    for (size_t i = 0; i < n; i++) {
        uint64_t bits = load_le64(src + 8 * i);
        memcpy(&dst[i], &bits, sizeof bits); /* two's complement without a signed overflow */
    }
cleanup:
    return st;
}

relage_status safetensors_load_f32(const safetensors_file *file, const char *name, int ndim,
                                   const int64_t *shape, float *dst) {
    relage_status st = RELAGE_OK;
    const safetensors_tensor *t;
    char want[SHAPE_TEXT_BYTES], have[SHAPE_TEXT_BYTES];
    if (!file || !name || ndim < 0 || ndim > SAFETENSORS_MAX_DIMS || (ndim > 0 && !shape)) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "safetensors_load_f32 %s: bad argument",
                         name ? name : "(null)");
        goto cleanup;
    }
    t = safetensors_find(file, name);
    if (!t) {
        st = relage_fail(RELAGE_ERR_MISMATCH, "%s: tensor %s missing", file->path, name);
        goto cleanup;
    }
    if (t->ndim != ndim || (ndim > 0 && memcmp(t->shape, shape, (size_t)ndim * sizeof *shape))) {
        format_shape(want, ndim, shape);
        format_shape(have, t->ndim, t->shape);
        st = relage_fail(RELAGE_ERR_MISMATCH, "%s: tensor %s has shape %s, expected %s", file->path,
                         name, have, want);
        goto cleanup;
    }
    st = safetensors_read_f32(file, t, dst, t->numel);
cleanup:
    return st;
}

/* ---- writing ---- */

safetensors_writer *safetensors_writer_new(void) {
    safetensors_writer *w = calloc(1, sizeof *w);
    if (!w) relage_fail(RELAGE_ERR_NOMEM, "safetensors_writer_new: out of memory");
    return w;
}

void safetensors_writer_free(safetensors_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->count; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].bytes);
    }
    for (size_t i = 0; i < w->meta_count; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->tensors);
    free(w->meta_keys);
    free(w->meta_values);
    free(w);
}

relage_status safetensors_writer_add(safetensors_writer *w, const char *name,
                                     safetensors_dtype dtype, int ndim, const int64_t *shape,
                                     const void *data) {
    relage_status st = RELAGE_OK;
    writer_tensor *t;
    char *name_copy = NULL;
    unsigned char *bytes = NULL;
    const unsigned char *src = data;
    size_t element_size = dtype_size(dtype), numel = 1, nbytes;
    if (!w || !name || element_size == 0 || ndim < 0 || ndim > SAFETENSORS_MAX_DIMS ||
        (ndim > 0 && !shape)) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "safetensors_writer_add %s: bad argument",
                         name ? name : "(null)");
        goto cleanup;
    }
    if (strcmp(name, METADATA_KEY) == 0) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "safetensors: tensor name %s is reserved", name);
        goto cleanup;
    }
    for (size_t i = 0; i < w->count; i++) {
        if (strcmp(w->tensors[i].name, name) == 0) {
            st = relage_fail(RELAGE_ERR_INVALID_ARG, "safetensors: tensor %s added twice", name);
            goto cleanup;
        }
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            st = relage_fail(RELAGE_ERR_INVALID_ARG,
                             "safetensors: tensor %s: shape[%d] = %" PRId64 " is negative", name, i,
                             shape[i]);
            goto cleanup;
        }
        if ((uint64_t)shape[i] >= JSON_INT_LIMIT || (uint64_t)shape[i] > SIZE_MAX ||
            (shape[i] != 0 && numel > SIZE_MAX / (size_t)shape[i])) {
            st = relage_fail(RELAGE_ERR_NOMEM, "safetensors: tensor %s: absurd shape", name);
            goto cleanup;
        }
        numel *= (size_t)shape[i];
    }
    if (numel > SIZE_MAX / element_size || numel * element_size >= JSON_INT_LIMIT - w->data_size) {
        st = relage_fail(RELAGE_ERR_NOMEM, "safetensors: tensor %s: %zu elements are too many",
                         name, numel);
        goto cleanup;
    }
    nbytes = numel * element_size;
    if (!data && nbytes > 0) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "safetensors: tensor %s: NULL data", name);
        goto cleanup;
    }
    if (w->count == w->capacity) {
        size_t capacity = w->capacity ? 2 * w->capacity : 16;
        writer_tensor *grown = realloc(w->tensors, capacity * sizeof *grown);
        if (!grown) {
            st = relage_fail(RELAGE_ERR_NOMEM, "safetensors: tensor %s: out of memory", name);
            goto cleanup;
        }
        w->tensors = grown;
        w->capacity = capacity;
    }
    name_copy = strdup(name);
    bytes = malloc(nbytes ? nbytes : 1);
    if (!name_copy || !bytes) {
        st = relage_fail(RELAGE_ERR_NOMEM, "safetensors: tensor %s: cannot copy %zu bytes", name,
                         nbytes);
        goto cleanup;
    }
    for (size_t i = 0; i < numel; i++) {
        const unsigned char *element = src + i * element_size;
        uint64_t value;
        if (element_size == 2) {
            uint16_t v16;
            memcpy(&v16, element, sizeof v16);
            value = v16;
        } else if (element_size == 4) {
            uint32_t v32;
            memcpy(&v32, element, sizeof v32);
            value = v32;
        } else {
            memcpy(&value, element, sizeof value);
        }
        store_le(bytes + i * element_size, value, element_size);
    }
    t = &w->tensors[w->count++];
    memset(t, 0, sizeof *t);
    t->name = name_copy;
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim > 0) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->nbytes = nbytes;
    t->bytes = bytes;
    w->data_size += nbytes;
    name_copy = NULL;
    bytes = NULL;
cleanup:
    free(name_copy);
    free(bytes);
    return st;
}

relage_status safetensors_writer_set_metadata(safetensors_writer *w, const char *key,
                                              const char *value) {
    relage_status st = RELAGE_OK;
    char *key_copy = NULL, *value_copy = NULL;
    size_t i = 0;
    if (!w || !key || !value) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "safetensors_writer_set_metadata: NULL argument");
        goto cleanup;
    }
    while (i < w->meta_count && strcmp(w->meta_keys[i], key) != 0) i++;
    if (i == w->meta_count && w->meta_count == w->meta_capacity) {
        size_t capacity = w->meta_capacity ? 2 * w->meta_capacity : 8;
        char **keys = realloc(w->meta_keys, capacity * sizeof *keys);
        if (keys) w->meta_keys = keys;
        char **values = keys ? realloc(w->meta_values, capacity * sizeof *values) : NULL;
        if (values) w->meta_values = values;
        if (!keys || !values) {
            st = relage_fail(RELAGE_ERR_NOMEM, "safetensors: metadata %s: out of memory", key);
            goto cleanup;
        }
        w->meta_capacity = capacity;
    }
    value_copy = strdup(value);
    key_copy = i == w->meta_count ? strdup(key) : NULL;
    if (!value_copy || (i == w->meta_count && !key_copy)) {
        st = relage_fail(RELAGE_ERR_NOMEM, "safetensors: metadata %s: out of memory", key);
        goto cleanup;
    }
    if (i == w->meta_count) {
        w->meta_keys[w->meta_count++] = key_copy;
        w->meta_values[i] = NULL;
        key_copy = NULL;
    }
    free(w->meta_values[i]);
    w->meta_values[i] = value_copy;
    value_copy = NULL;
cleanup:
    free(key_copy);
    free(value_copy);
    return st;
}

/* The header JSON for w, from cJSON_PrintUnformatted (caller frees); NULL with the error set. */
static char *build_header(const safetensors_writer *w) {
    cJSON *root = cJSON_CreateObject(), *object;
    char *json = NULL, shape_text[SHAPE_TEXT_BYTES], offsets_text[48];
    uint64_t offset = 0;
    if (!root) goto cleanup;
    if (w->meta_count > 0) {
        if (!(object = cJSON_AddObjectToObject(root, METADATA_KEY))) goto cleanup;
        for (size_t i = 0; i < w->meta_count; i++)
            if (!cJSON_AddStringToObject(object, w->meta_keys[i], w->meta_values[i])) goto cleanup;
    }
    for (size_t i = 0; i < w->count; i++) {
        const writer_tensor *t = &w->tensors[i];
        /* Raw text keeps integers out of cJSON's double printing, which turns 1e15 into
         * "1e+15"; readers that parse into integers reject that. */
        size_t used = (size_t)snprintf(shape_text, sizeof shape_text, "[");
        for (int d = 0; d < t->ndim; d++)
            used += (size_t)snprintf(shape_text + used, sizeof shape_text - used, "%s%" PRId64,
                                     d ? "," : "", t->shape[d]);
        snprintf(shape_text + used, sizeof shape_text - used, "]");
        snprintf(offsets_text, sizeof offsets_text, "[%" PRIu64 ",%" PRIu64 "]", offset,
                 offset + t->nbytes);
        offset += t->nbytes;
        if (!(object = cJSON_AddObjectToObject(root, t->name)) ||
            !cJSON_AddStringToObject(object, "dtype", dtype_name(t->dtype)) ||
            !cJSON_AddRawToObject(object, "shape", shape_text) ||
            !cJSON_AddRawToObject(object, "data_offsets", offsets_text))
            goto cleanup;
    }
    json = cJSON_PrintUnformatted(root);
cleanup:
    if (!json) relage_fail(RELAGE_ERR_NOMEM, "safetensors: out of memory building the header");
    cJSON_Delete(root);
    return json;
}

relage_status safetensors_writer_save(const safetensors_writer *w, const char *path) {
    if (!w || !path)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "safetensors_writer_save: NULL argument");
    char *json = build_header(w);
    if (!json) return relage_fail_context(RELAGE_ERR_NOMEM, "%s", path);
    size_t json_length = strlen(json), padded_length = (json_length + 7) / 8 * 8;
    unsigned char size_field[8];
    store_le(size_field, padded_length, 8);
    atomic_file out;
    relage_status st = atomic_file_begin(&out, path);
    if (st == RELAGE_OK) {
        fwrite(size_field, 1, 8, out.fp);
        fwrite(json, 1, json_length, out.fp);
        for (size_t i = json_length; i < padded_length; i++) fputc(' ', out.fp);
        for (size_t i = 0; i < w->count; i++)
            fwrite(w->tensors[i].bytes, 1, w->tensors[i].nbytes, out.fp);
        st = atomic_file_commit(&out); /* checks every write above */
    }
    free(json);
    return st;
}
