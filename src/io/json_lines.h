/* JSON lines files (one JSON value per line), as relage train's log.jsonl is written. */
#ifndef RELAGE_IO_JSON_LINES_H
#define RELAGE_IO_JSON_LINES_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "relage.h"

/* Calls each(value, user) for every line of the file at path that parses as JSON, in order;
 * blank and unparsable lines (one holding a NUL byte among them) are skipped, the lines after
 * them still read. Stops at the first status each returns other than
 * RELAGE_OK and returns it; errors reading the file are file_read_all's (core/file.h). */
relage_status json_lines_each(const char *path, size_t max_bytes,
                              relage_status (*each)(const cJSON *value, void *user), void *user);

#endif
