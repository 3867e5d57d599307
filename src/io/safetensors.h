/* Reading and writing Hugging Face safetensors files.
 *
 * Layout: u64 little-endian N, then N bytes of JSON mapping each tensor name to
 * {"dtype", "shape", "data_offsets": [begin, end]} (plus an optional "__metadata__" object of
 * strings), then the data section; offsets are relative to its start. Tensor data is
 * little-endian and row-major. Only F32, F16, BF16 and I64 are supported.
 *
 * The reader loads and validates the whole file on open, so later reads cannot fail on I/O; the
 * writer saves atomically (temp file, fsync, rename). */
#ifndef RELAGE_IO_SAFETENSORS_H
#define RELAGE_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "relage.h"

typedef enum safetensors_dtype {
    SAFETENSORS_F32,
    SAFETENSORS_F16,
    SAFETENSORS_BF16,
    SAFETENSORS_I64,
} safetensors_dtype;

#define SAFETENSORS_MAX_DIMS 8

typedef struct safetensors_tensor {
    const char *name;
    safetensors_dtype dtype;
    int ndim; /* 0 for a scalar, whose numel is 1 */
    int64_t shape[SAFETENSORS_MAX_DIMS];
    size_t numel;
    size_t offset; /* offset into the file's data section */
    size_t nbytes;
} safetensors_tensor;

/* ---- reading ---- */

typedef struct safetensors_file safetensors_file;

/* Reads and validates the whole file: sizes, JSON, dtypes, shapes, offsets within the data
 * section, sizes matching shapes, no overlapping tensors, no duplicate names, string metadata.
 * Gaps between tensors and trailing bytes after the last one are allowed.
 * On failure *out is NULL and the error text names the file (and the tensor at fault):
 * RELAGE_ERR_IO for open/read failures, RELAGE_ERR_FORMAT for a malformed or truncated file,
 * RELAGE_ERR_UNSUPPORTED for a dtype other than the four above, RELAGE_ERR_NOMEM when an
 * allocation fails. */
relage_status safetensors_open(safetensors_file **out, const char *path);

/* Frees the file and every tensor and string it handed out. Accepts NULL. */
void safetensors_close(safetensors_file *file);

size_t safetensors_count(const safetensors_file *file);

/* The i-th tensor in order of data offsets (file order); NULL if i >= count. Valid until close. */
const safetensors_tensor *safetensors_at(const safetensors_file *file, size_t i);

/* The tensor called name, or NULL if absent. Valid until close. */
const safetensors_tensor *safetensors_find(const safetensors_file *file, const char *name);

/* The "__metadata__" value for key, or NULL if absent. Valid until close. */
const char *safetensors_metadata(const safetensors_file *file, const char *key);

/* Copies tensor t of file into dst[0..n) as float32, converting F16 and BF16 exactly.
 * An I64 tensor, or n != t->numel, is RELAGE_ERR_MISMATCH naming the tensor; a NULL argument
 * or a tensor that does not lie in this file's data is RELAGE_ERR_INVALID_ARG. dst is untouched
 * on failure. */
relage_status safetensors_read_f32(const safetensors_file *file, const safetensors_tensor *t,
                                   float *dst, size_t n);

/* 1 when every value of a float tensor is finite (I64: always); else 0 and *bad, the first
 * element that is not. Reads the stored bits, converts nothing. */
int safetensors_all_finite(const safetensors_file *file, const safetensors_tensor *t, size_t *bad);

/* Copies an I64 tensor into int64_t as safetensors_read_f32 copies floats; any other dtype is
 * RELAGE_ERR_MISMATCH. */
relage_status safetensors_read_i64(const safetensors_file *file, const safetensors_tensor *t,
                                   int64_t *dst, size_t n);

/* Finds name, checks its shape equals shape[0..ndim) exactly and reads it as float32 into dst,
 * which must hold the product of the dims. A missing name is RELAGE_ERR_MISMATCH
 * "PATH: tensor NAME missing"; a different shape is RELAGE_ERR_MISMATCH naming both shapes. */
relage_status safetensors_load_f32(const safetensors_file *file, const char *name, int ndim,
                                   const int64_t *shape, float *dst);

/* ---- writing ---- */

/* Rounds src[0..n) to dtype (F16 or BF16) to nearest, ties to even, into dst as bit patterns:
 * F16 subnormals are kept, magnitudes from 65520 up become infinities, NaNs stay (quiet) NaNs.
 * Reading the result with safetensors_read_f32 gives the rounded values back exactly. */
void safetensors_round_half(safetensors_dtype dtype, uint16_t *dst, const float *src, size_t n);

typedef struct safetensors_writer safetensors_writer;

/* An empty writer; NULL with the error set (RELAGE_ERR_NOMEM) if allocation fails. */
safetensors_writer *safetensors_writer_new(void);

/* Adds a tensor whose data holds numel elements of dtype in host byte order (float for F32,
 * uint16_t bit patterns for F16/BF16, int64_t for I64). The data is copied, so the caller may
 * free it at once. A duplicate or reserved ("__metadata__") name, ndim outside [0, 8], a negative
 * dim or NULL data with numel > 0 is RELAGE_ERR_INVALID_ARG; sizes beyond 2^53 bytes are
 * RELAGE_ERR_NOMEM. The writer is unchanged on failure. */
relage_status safetensors_writer_add(safetensors_writer *w, const char *name,
                                     safetensors_dtype dtype, int ndim, const int64_t *shape,
                                     const void *data);

/* Sets (or replaces) a "__metadata__" entry; both strings are copied. */
relage_status safetensors_writer_set_metadata(safetensors_writer *w, const char *key,
                                              const char *value);

/* Writes the file as an atomic replacement (core/atomic_file.h: a temporary file beside it,
 * fsync, rename; a link is followed, a path that is not a regular file refused). On failure
 * (RELAGE_ERR_IO with the cause, or RELAGE_ERR_NOMEM) the old file at path is untouched and the
 * temporary file removed. The header is padded with spaces to a multiple of 8 bytes; tensors
 * follow in insertion order, contiguous. */
relage_status safetensors_writer_save(const safetensors_writer *w, const char *path);

/* Accepts NULL. */
void safetensors_writer_free(safetensors_writer *w);

#endif
