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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/status.h"

/* 1 when st is the file behind this process's standard input, output or error: a path such as
 * /dev/stdout names it, and replacing it would pull the file from under the redirection. */
static int is_standard_stream(const struct stat *st) {
    for (int fd = 0; fd < 3; fd++) {
        struct stat s;
        if (fstat(fd, &s) == 0 && s.st_dev == st->st_dev && s.st_ino == st->st_ino) return 1;
    }
    return 0;
}

relage_status atomic_file_target(const char *path, char **target) {
    struct stat st;
    *target = NULL;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT) return relage_fail(RELAGE_ERR_IO, "%s: %s", path, strerror(errno));
        *target = strdup(path); /* a new file; creating it reports a missing folder */
        return *target ? RELAGE_OK : relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
    }
    int link = S_ISLNK(st.st_mode);
    if (link && stat(path, &st) != 0)
        return relage_fail(RELAGE_ERR_IO, "%s: a symbolic link to nothing (%s)", path,
                           strerror(errno));
    if (!S_ISREG(st.st_mode))
        return relage_fail(RELAGE_ERR_IO,
                           "%s: not a regular file (a device, a pipe or a folder), which relage "
                           "would replace; write to a file, or redirect standard output",
                           path);
    if (is_standard_stream(&st))
        return relage_fail(RELAGE_ERR_IO,
                           "%s: the file this process's standard output (or input) is, which "
                           "relage would replace; redirect standard output instead",
                           path);
    *target = link ? realpath(path, NULL) : strdup(path);
    if (!*target)
        return relage_fail(link ? RELAGE_ERR_IO : RELAGE_ERR_NOMEM, "%s: %s", path,
                           link ? strerror(errno) : "out of memory");
    return RELAGE_OK;
}

/* Creates path.tmp.XXXXXX exclusively with mode 0666 less the umask, as a plain open would
 * (mkstemp's 0600 would need the umask, which a process cannot read without changing). */
static int create_temp(char *temp, size_t size, const char *path) {
    static unsigned counter;
    unsigned seed = (unsigned)getpid() * 2654435761u ^ (unsigned)time(NULL);
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned n = seed + __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED) * 40503u;
        snprintf(temp, size, "%s.tmp.%06x", path, n & 0xFFFFFF);
        int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    errno = EEXIST;
    return -1;
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
    int fd = create_temp(f->temp, size, f->path);
    if (fd < 0) {
        st = relage_fail(RELAGE_ERR_IO, "%s: cannot create a file beside it: %s", path,
                         strerror(errno));
        free(f->temp);
        f->temp = NULL;
        atomic_file_abort(f);
        return st;
    }
    struct stat old; /* a file replaced keeps its mode (best effort) */
    if (stat(f->path, &old) == 0) fchmod(fd, old.st_mode & 07777);
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
    /* the first failure's cause: flushing what is buffered usually fails again as the earlier
     * write did (a full disk); an earlier error whose data is gone has no cause left */
    int failed = 0, saved = 0;
    if (fflush(f->fp) != 0) failed = 1, saved = errno;
    if (!failed && ferror(f->fp)) failed = 1;
    if (!failed && fsync(fileno(f->fp)) != 0) failed = 1, saved = errno;
    if (fclose(f->fp) != 0 && !failed) failed = 1, saved = errno;
    f->fp = NULL;
    if (failed) {
        st = relage_fail(RELAGE_ERR_IO, "%s: writing %s: %s", f->path, f->temp,
                         saved ? strerror(saved) : "a write failed");
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
