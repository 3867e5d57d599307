/* Whole-file and whole-stream reads (src/core/file.c): contents with a NUL after them, the
 * byte limits (a file over it is a format error, a stream over it is too large), a pipe refused
 * without waiting, a NUL in a text file named by line, and errors that name the file. */
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/file.h"
#include "test.h"

static char dir[] = "/tmp/relage_test_file_XXXXXX";

static void write_file(const char *path, const char *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_INT_EQ(fwrite(bytes, 1, n, f), n);
    fclose(f);
}

static void test_read_all(void) {
    char path[256];
    snprintf(path, sizeof path, "%s/five", dir);
    write_file(path, "ab\0cd", 5);
    char *out = NULL;
    size_t size = 0;
    CHECK_OK(file_read_all(path, 5, &out, &size));
    CHECK_INT_EQ(size, 5);
    CHECK(out && memcmp(out, "ab\0cd", 6) == 0); /* the NUL after the last byte included */
    free(out);
    CHECK_FAILS(file_read_all(path, 4, &out, &size), RELAGE_ERR_FORMAT);
    CHECK(out == NULL && size == 0);
    CHECK(strstr(relage_last_error(), "five") != NULL);
    CHECK_FAILS(file_read_all(dir, 100, &out, &size), RELAGE_ERR_IO); /* a folder */
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK_FAILS(file_read_all(path, 100, &out, &size), RELAGE_ERR_IO);
    CHECK(strstr(relage_last_error(), "missing") != NULL);
    /* a pipe with no writer is refused at once, not waited on */
    snprintf(path, sizeof path, "%s/fifo", dir);
    CHECK(mkfifo(path, 0600) == 0);
    CHECK_FAILS(file_read_all(path, 100, &out, &size), RELAGE_ERR_IO);
    CHECK(strstr(relage_last_error(), "not a regular file") != NULL);
    unlink(path);
}

static void test_read_text(void) {
    char path[256];
    char *out = NULL;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/text", dir);
    write_file(path, "a,b\r\nc\0d\ne\n", 12);
    CHECK_FAILS(file_read_text(path, 100, &out, &size), RELAGE_ERR_FORMAT);
    CHECK(out == NULL && size == 0);
    CHECK(strstr(relage_last_error(), "text:2: a NUL byte") != NULL); /* file and line */
    write_file(path, "a,b\nc\n", 6);
    CHECK_OK(file_read_text(path, 100, &out, &size));
    CHECK(size == 6 && out && strcmp(out, "a,b\nc\n") == 0);
    free(out);
    unlink(path);
}

/* Writes n bytes of 'x' into a pipe from a child process, and reads the other end. */
static relage_status read_pipe(size_t n, size_t max_bytes, char **out, size_t *size) {
    int fds[2];
    if (pipe(fds) != 0) return RELAGE_ERR_IO;
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        char block[4096];
        memset(block, 'x', sizeof block);
        for (size_t done = 0; done < n;) {
            size_t k = n - done < sizeof block ? n - done : sizeof block;
            ssize_t w = write(fds[1], block, k);
            if (w <= 0) _exit(0); /* the reader stopped early */
            done += (size_t)w;
        }
        _exit(0);
    }
    close(fds[1]);
    relage_status st = file_read_fd(fds[0], "the pipe", max_bytes, out, size);
    close(fds[0]);
    while (waitpid(child, NULL, 0) < 0) {
    }
    return st;
}

static void test_read_fd(void) {
    char *out = NULL;
    size_t size = 0;
    /* several reads and buffer growths, exactly at the limit */
    CHECK_OK(read_pipe(300000, 300000, &out, &size));
    CHECK_INT_EQ(size, 300000);
    CHECK(out && out[0] == 'x' && out[299999] == 'x' && out[300000] == '\0');
    free(out);
    CHECK_FAILS(read_pipe(300001, 300000, &out, &size), RELAGE_ERR_TOO_LARGE);
    CHECK(out == NULL && size == 0);
    CHECK(strstr(relage_last_error(), "the pipe: more than the 300000 bytes") != NULL);
    CHECK_OK(read_pipe(72, SIZE_MAX, &out, &size)); /* no limit at all: no wrap-around */
    CHECK_INT_EQ(size, 72);
    free(out);
    CHECK_OK(read_pipe(0, 10, &out, &size)); /* empty: a valid, empty buffer */
    CHECK(out && size == 0 && out[0] == '\0');
    free(out);
    CHECK_FAILS(file_read_fd(-1, "no fd", 10, &out, &size), RELAGE_ERR_IO);
    CHECK(strstr(relage_last_error(), "no fd") != NULL);
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_read_all();
    test_read_text();
    test_read_fd();
    char path[256];
    snprintf(path, sizeof path, "%s/five", dir);
    unlink(path);
    rmdir(dir);
    return test_summary("test_file");
}
