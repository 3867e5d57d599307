/* Whole-file reads with the checks every caller needs. */
#include "core/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"

relage_status file_read_all(const char *path, size_t max_bytes, char **out, size_t *out_size) {
    relage_status st = RELAGE_OK;
    char *buffer = NULL;
    size_t size = 0, got = 0;
    struct stat info;
    *out = NULL;
    *out_size = 0;
    /* O_NONBLOCK: opening a pipe with no writer must not wait (it is refused below); reads of a
     * regular file ignore it */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        st = relage_fail(RELAGE_ERR_IO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (fstat(fd, &info) != 0) {
        st = relage_fail(RELAGE_ERR_IO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!S_ISREG(info.st_mode)) {
        st = relage_fail(RELAGE_ERR_IO, "%s: not a regular file", path);
        goto cleanup;
    }
    if ((uintmax_t)info.st_size > max_bytes || (uintmax_t)info.st_size >= SIZE_MAX) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: %jd bytes, more than the %zu allowed", path,
                         (intmax_t)info.st_size, max_bytes);
        goto cleanup;
    }
    size = (size_t)info.st_size;
    buffer = malloc(size + 1);
    if (!buffer) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: cannot allocate %zu bytes", path, size + 1);
        goto cleanup;
    }
    while (got < size) {
        ssize_t n = read(fd, buffer + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            st = relage_fail(RELAGE_ERR_IO, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (n == 0) break; /* the file shrank since fstat; the caller parses what is there */
        got += (size_t)n;
    }
    buffer[got] = '\0';
    *out = buffer;
    *out_size = got;
    buffer = NULL;
cleanup:
    if (fd >= 0) close(fd);
    free(buffer);
    return st;
}

relage_status file_read_text(const char *path, size_t max_bytes, char **out, size_t *size) {
    relage_status st = file_read_all(path, max_bytes, out, size);
    const char *nul = st == RELAGE_OK ? memchr(*out, '\0', *size) : NULL;
    if (!nul) return st;
    size_t line = 1;
    for (const char *p = *out; p < nul; p++) line += *p == '\n';
    free(*out);
    *out = NULL;
    *size = 0;
    return relage_fail(RELAGE_ERR_FORMAT, "%s:%zu: a NUL byte (not a text file?)", path, line);
}

relage_status file_read_fd(int fd, const char *name, size_t max_bytes, char **out,
                           size_t *out_size) {
    char *buffer = NULL;
    size_t cap = 0, got = 0;
    *out = NULL;
    *out_size = 0;
    if (max_bytes > SIZE_MAX - 2) max_bytes = SIZE_MAX - 2; /* room for one byte over and the NUL */
    for (;;) {
        if (got + 1 >= cap) { /* cap stops at max_bytes + 2: one byte over the limit, the NUL */
            size_t grow = cap ? 2 * cap : 65536;
            if (grow > max_bytes + 2) grow = max_bytes + 2;
            char *p = realloc(buffer, grow);
            if (!p) {
                free(buffer);
                return relage_fail(RELAGE_ERR_NOMEM, "%s: cannot allocate %zu bytes", name, grow);
            }
            buffer = p;
            cap = grow;
        }
        ssize_t n = read(fd, buffer + got, cap - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            free(buffer);
            return relage_fail(RELAGE_ERR_IO, "%s: %s", name, strerror(errno));
        }
        if (n == 0) break;
        got += (size_t)n;
        if (got > max_bytes) {
            free(buffer);
            return relage_fail(RELAGE_ERR_TOO_LARGE, "%s: more than the %zu bytes allowed", name,
                               max_bytes);
        }
    }
    buffer[got] = '\0';
    *out = buffer;
    *out_size = got;
    return RELAGE_OK;
}
