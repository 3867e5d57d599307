/* Atomic file replacement (src/core/atomic_file.c): the new contents replace the old whole, the
 * old file's mode is kept and a new one gets 0666 less the umask, a symbolic link survives with
 * the file it names replaced, paths that are not regular files (a pipe, a link to one, a link to
 * nothing, a folder) and the file standard output is redirected to are refused and left as
 * they were, an abandoned write leaves the old file and no temporary file, and a
 * missing folder is an error naming the path. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"
#include "test.h"

static char dir[] = "/tmp/relage_test_atomic_XXXXXX";

static void path_in(char *path, size_t size, const char *name) {
    snprintf(path, size, "%s/%s", dir, name);
}

static void write_text(const char *path, const char *text) {
    atomic_file f;
    CHECK_OK(atomic_file_begin(&f, path));
    if (!f.fp) return;
    fputs(text, f.fp);
    CHECK_OK(atomic_file_commit(&f));
}

static int has_text(const char *path, const char *text) {
    char got[64] = "";
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = '\0';
    fclose(f);
    return strcmp(got, text) == 0;
}

/* How many entries the test folder holds (no temporary file may be left). */
static int entries(void) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char file[256], link[256], fifo[256], fifo_link[256], dangling[256], path[256];
    path_in(file, sizeof file, "out.txt");
    path_in(link, sizeof link, "link.txt");
    path_in(fifo, sizeof fifo, "fifo");
    path_in(fifo_link, sizeof fifo_link, "fifo_link");
    path_in(dangling, sizeof dangling, "dangling");

    mode_t saved_mask = umask(027);
    write_text(file, "one"); /* a new file: 0666 less the umask, as open gives */
    umask(saved_mask);
    struct stat st;
    CHECK(has_text(file, "one") && stat(file, &st) == 0 && (st.st_mode & 0777) == 0640);
    chmod(file, 0600);
    write_text(file, "two"); /* replaced; its mode kept */
    CHECK(has_text(file, "two") && stat(file, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK_INT_EQ(entries(), 1);

    CHECK(symlink("out.txt", link) == 0); /* through a link: the link stays */
    write_text(link, "three");
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode) && has_text(file, "three"));

    CHECK(mkfifo(fifo, 0600) == 0 && symlink("fifo", fifo_link) == 0 &&
          symlink("nothing", dangling) == 0);
    atomic_file f;
    CHECK_FAILS(atomic_file_begin(&f, fifo), RELAGE_ERR_IO);
    CHECK(strstr(relage_last_error(), "not a regular file") != NULL && f.fp == NULL);
    CHECK_FAILS(atomic_file_begin(&f, fifo_link), RELAGE_ERR_IO);
    CHECK(strstr(relage_last_error(), "not a regular file") != NULL);
    CHECK_FAILS(atomic_file_begin(&f, dangling), RELAGE_ERR_IO);
    CHECK(strstr(relage_last_error(), "dangling: a symbolic link to nothing") != NULL);
    CHECK_FAILS(atomic_file_begin(&f, dir), RELAGE_ERR_IO); /* a folder */
    CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));   /* all left as they were */
    CHECK(lstat(dangling, &st) == 0 && S_ISLNK(st.st_mode));

    /* the file standard output is redirected to, named through a link (/dev/stdout) */
    path_in(path, sizeof path, "stdout_link");
    fflush(stdout);
    int saved_stdout = dup(1), fd = open(file, O_WRONLY | O_APPEND);
    CHECK(saved_stdout >= 0 && fd >= 0 && dup2(fd, 1) == 1);
    CHECK(symlink("/proc/self/fd/1", path) == 0);
    relage_status redirected = atomic_file_begin(&f, path);
    dup2(saved_stdout, 1);
    close(saved_stdout);
    close(fd);
    CHECK_INT_EQ(redirected, RELAGE_ERR_IO);
    CHECK(strstr(relage_last_error(), "standard output") != NULL && has_text(file, "three"));
    unlink(path);

    CHECK_OK(atomic_file_begin(&f, file)); /* abandoned: the old file stays, no temporary */
    if (f.fp) fputs("never", f.fp);
    atomic_file_abort(&f);
    CHECK(has_text(file, "three"));
    CHECK_INT_EQ(entries(), 5);
    atomic_file_abort(&f); /* safe twice */

    path_in(path, sizeof path, "no/such/folder.txt");
    CHECK_FAILS(atomic_file_begin(&f, path), RELAGE_ERR_IO);
    CHECK(strstr(relage_last_error(), "folder.txt") != NULL);

    unlink(link);
    unlink(fifo_link);
    unlink(dangling);
    unlink(fifo);
    unlink(file);
    rmdir(dir);
    return test_summary("test_atomic_file");
}
