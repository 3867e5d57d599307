/* JSON lines reading (json_lines.h). */
#include "io/json_lines.h"

#include <stdlib.h>
#include <string.h>

#include "core/file.h"

relage_status json_lines_each(const char *path, size_t max_bytes,
                              relage_status (*each)(const cJSON *value, void *user), void *user) {
    char *text = NULL;
    size_t size = 0;
    relage_status st = file_read_all(path, max_bytes, &text, &size);
    /* lines by their ends, not by C strings: a NUL (what a crash can leave in an appended log)
     * spoils its own line only */
    for (size_t at = 0; st == RELAGE_OK && at < size;) {
        char *line = text + at, *end = memchr(line, '\n', size - at);
        size_t length = end ? (size_t)(end - line) : size - at;
        at += length + 1;
        line[length] = '\0';
        if (memchr(line, '\0', length)) continue;
        cJSON *value = cJSON_Parse(line);
        if (value) st = each(value, user);
        cJSON_Delete(value);
    }
    free(text);
    return st;
}
