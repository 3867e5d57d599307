/* Status codes and the thread-local error text behind relage_last_error(). */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char error_text[1024];

relage_status relage_fail(relage_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_text, sizeof error_text, fmt, ap);
    va_end(ap);
    return status;
}

relage_status relage_fail_context(relage_status status, const char *fmt, ...) {
    char prefix[256], old[sizeof error_text - sizeof prefix - 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_text, sizeof old - 1); /* truncates a long message, keeps the prefix */
    old[sizeof old - 1] = '\0';
    snprintf(error_text, sizeof error_text, "%s: %s", prefix, old);
    return status;
}

void relage_clear_error(void) {
    error_text[0] = '\0';
}

const char *relage_last_error(void) {
    return error_text;
}

const char *relage_status_string(relage_status status) {
    switch (status) {
    case RELAGE_OK:
        return "ok";
    case RELAGE_ERR_INVALID_ARG:
        return "invalid argument";
    case RELAGE_ERR_IO:
        return "i/o error";
    case RELAGE_ERR_FORMAT:
        return "format error";
    case RELAGE_ERR_MISMATCH:
        return "mismatch";
    case RELAGE_ERR_NOMEM:
        return "out of memory";
    case RELAGE_ERR_UNSUPPORTED:
        return "unsupported";
    case RELAGE_ERR_TOO_LARGE:
        return "too large";
    }
    return "unknown status";
}

const char *relage_version(void) {
    return RELAGE_VERSION;
}
