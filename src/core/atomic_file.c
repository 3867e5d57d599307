/* Atomic file replacement (contract in atomic_file.h). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* realpath */
#endif

#include "core/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/status.h"

relage_status atomic_file_target(const char *path, char **target) {
    struct stat st;
    *target = NULL;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT) return relage_fail(RELAGE_ERR_IO, "%s: %s", path, strerror(errno));
        *target = strdup(path); /* a new file; open reports a missing folder */
    } else if (S_ISLNK(st.st_mode)) {
        *target = realpath(path, NULL);
        if (!*target)
            return relage_fail(RELAGE_ERR_IO, "%s: a symbolic link to nothing usable (%s)", path,
                               strerror(errno));
        if (stat(*target, &st) != 0 || !S_ISREG(st.st_mode)) {
            relage_status s = relage_fail(RELAGE_ERR_IO,
                                          "%s: links to %s, not a regular file, which relage "
                                          "would replace (write to a file, or redirect)",
                                          path, *target);
            free(*target);
            *target = NULL;
            return s;
        }
    } else if (!S_ISREG(st.st_mode)) {
        return relage_fail(RELAGE_ERR_IO,
                           "%s: not a regular file, which relage would replace (write to a file, "
                           "or redirect)",
                           path);
    } else {
        *target = strdup(path);
    }
    return *target ? RELAGE_OK : relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
}

relage_status atomic_file_begin(atomic_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    relage_status st = atomic_file_target(path, &f->path);
    if (st != RELAGE_OK) return st;
    size_t size = strlen(f->path) + sizeof ".tmp.XXXXXX";
    if (!(f->temp = malloc(size))) {
        atomic_file_abort(f);
        return relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
    }
    snprintf(f->temp, size, "%s.tmp.XXXXXX", f->path);
    int fd = mkstemp(f->temp);
    if (fd < 0) {
        st = relage_fail(RELAGE_ERR_IO, "%s: cannot create a file beside it: %s", path,
                         strerror(errno));
        free(f->temp);
        f->temp = NULL;
        atomic_file_abort(f);
        return st;
    }
    /* mkstemp makes it 0600: keep the replaced file's mode, else 0644 (best effort) */
    struct stat old;
    fchmod(fd, stat(f->path, &old) == 0 ? (old.st_mode & 07777) : 0644);
    if (!(f->fp = fdopen(fd, "wb"))) {
        st = relage_fail(RELAGE_ERR_IO, "%s: %s", f->temp, strerror(errno));
        close(fd);
        atomic_file_abort(f);
    }
    return st;
}

/* Makes a rename in path's folder durable. Best effort: some filesystems refuse to fsync a
 * folder, and the data itself is already on disk. */
static void sync_folder_of(const char *path) {
    const char *slash = strrchr(path, '/');
    char *folder = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    int fd = folder ? open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(folder);
}

relage_status atomic_file_commit(atomic_file *f) {
    relage_status st = RELAGE_OK;
    int failed = ferror(f->fp) || fflush(f->fp) != 0 || fsync(fileno(f->fp)) != 0;
    int saved = errno;
    if (fclose(f->fp) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    f->fp = NULL;
    if (failed) {
        st = relage_fail(RELAGE_ERR_IO, "%s: writing %s: %s", f->path, f->temp,
                         saved ? strerror(saved) : "write error");
    } else if (rename(f->temp, f->path) != 0) {
        st =
            relage_fail(RELAGE_ERR_IO, "%s: rename from %s: %s", f->path, f->temp, strerror(errno));
    } else {
        free(f->temp);
        f->temp = NULL; /* nothing left to remove */
        sync_folder_of(f->path);
    }
    atomic_file_abort(f);
    return st;
}

void atomic_file_abort(atomic_file *f) {
    if (f->fp) fclose(f->fp);
    if (f->temp) unlink(f->temp);
    free(f->temp);
    free(f->path);
    memset(f, 0, sizeof *f);
}
