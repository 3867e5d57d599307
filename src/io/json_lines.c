/* JSON lines reading (json_lines.h). */
#include "io/json_lines.h"

#include <stdlib.h>
#include <string.h>

#include "core/file.h"

relage_status json_lines_each(const char *path, size_t max_bytes,
                              relage_status (*each)(const cJSON *value, void *user), void *user) {
    char *text = NULL, *save = NULL;
    size_t size = 0;
    relage_status st = file_read_all(path, max_bytes, &text, &size);
    for (char *line = st == RELAGE_OK ? strtok_r(text, "\n", &save) : NULL; line && st == RELAGE_OK;
         line = strtok_r(NULL, "\n", &save)) {
        cJSON *value = cJSON_Parse(line);
        if (value) st = each(value, user);
        cJSON_Delete(value);
    }
    free(text);
    return st;
}
