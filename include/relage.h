/* relage: apparent-age estimation (Teh & Taylor, CRV 2019) in C11.
 *
 * Public API, read top to bottom:
 *   1. Status codes and error text: every function that can fail returns a relage_status;
 *      the details of the last failure on the calling thread are in relage_last_error().
 *   2. Version.
 *
 * Thread-safety: the error text is thread-local; nothing here holds global mutable state.
 * The library never prints and never exits. */
#ifndef RELAGE_H
#define RELAGE_H

#ifdef __cplusplus
extern "C" {
#endif

#define RELAGE_VERSION "0.1.0"

typedef enum relage_status {
    RELAGE_OK = 0,
    RELAGE_ERR_INVALID_ARG, /* a caller passed a value outside the contract */
    RELAGE_ERR_IO,          /* open, read, write or rename failed */
    RELAGE_ERR_FORMAT,      /* a file is malformed, truncated or of the wrong kind */
    RELAGE_ERR_MISMATCH,    /* a file is well formed but does not fit (shape, dtype, name) */
    RELAGE_ERR_NOMEM,       /* an allocation failed or a size is absurd */
    RELAGE_ERR_UNSUPPORTED, /* valid, but not implemented here */
} relage_status;

/* Text of the last failure on this thread ("" if none). Valid until the next failing call. */
const char *relage_last_error(void);

/* Short constant name of a status, e.g. "format error". */
const char *relage_status_string(relage_status status);

/* The library version, RELAGE_VERSION of the build that is linked. */
const char *relage_version(void);

#ifdef __cplusplus
}
#endif
#endif
