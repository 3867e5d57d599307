/* Internal side of relage_status: setting the thread-local error text. */
#ifndef RELAGE_CORE_STATUS_H
#define RELAGE_CORE_STATUS_H

#include "relage.h"

/* Formats the error text for this thread and returns status, so that a failure reads
 * `return relage_fail(RELAGE_ERR_IO, "%s: %s", path, strerror(errno));`. */
relage_status relage_fail(relage_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prefixes the current error text with "prefix: " and returns status unchanged. */
relage_status relage_fail_context(relage_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void relage_clear_error(void);

#endif
