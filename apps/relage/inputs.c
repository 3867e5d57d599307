/* Expanding folders and list files into image paths; JSON and CSV output helpers. */
#include "inputs.h"

#include "api/result_json.h"
#include "core/file.h"
#include "relage.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static int push(input_list *list, const char *path) {
    if (list->n == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 64;
        char **p = realloc(list->paths, cap * sizeof *p);
        if (!p) return 0;
        list->paths = p;
        list->cap = cap;
    }
    list->paths[list->n] = strdup(path);
    return list->paths[list->n++] != NULL;
}

static int is_image_name(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
                   strcasecmp(dot, ".png") == 0);
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A file by device and inode: the same file whatever the path. */
typedef struct file_id {
    dev_t dev;
    ino_t ino;
} file_id;

/* The folders being searched, from the top one down: a folder met again inside itself (through
 * a symbolic link) is skipped. */
typedef struct folder_chain {
    file_id id;
    const struct folder_chain *up;
} folder_chain;

static int add_folder(input_list *list, const char *dir, const folder_chain *up) {
    struct stat st;
    if (stat(dir, &st) != 0) {
        perror(dir);
        return 0;
    }
    folder_chain here = {{st.st_dev, st.st_ino}, up};
    for (const folder_chain *c = up; c; c = c->up)
        if (c->id.dev == here.id.dev && c->id.ino == here.id.ino) {
            fprintf(stderr, "relage: %s: skipped, a link back to a folder that holds it\n", dir);
            return 1;
        }
    struct dirent **entries = NULL;
    int n = scandir(dir, &entries, NULL, alphasort);
    if (n < 0) {
        perror(dir);
        return 0;
    }
    int ok = 1;
    for (int i = 0; i < n; i++) {
        const char *name = entries[i]->d_name;
        if (ok && name[0] != '.') {
            size_t len = strlen(dir) + strlen(name) + 2;
            char *path = malloc(len);
            if (!path)
                ok = 0;
            else {
                snprintf(path, len, "%s/%s", dir, name);
                if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                    ok = add_folder(list, path, &here);
                else if (is_image_name(name))
                    ok = push(list, path);
                free(path);
            }
        }
        free(entries[i]);
    }
    free(entries);
    return ok;
}

static int add(input_list *list, const char *path, int depth);

/* @LIST: one path per line (blank lines and '#' comments skipped), each added as above; lists
 * may name lists, 8 deep at most (deeper is taken for a list that names itself). */
static int add_list_file(input_list *list, const char *file, int depth) {
    struct stat st;
    int from_stdin = strcmp(file, "-") == 0;
    if (!from_stdin && stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr,
                "relage: @%s: a folder; a list is a file of paths (give a folder "
                "without the @)\n",
                file);
        return 0;
    }
    if (depth >= 8) {
        fprintf(stderr, "relage: @%s: lists nested more than 8 deep (does a list name itself?)\n",
                file);
        return 0;
    }
    FILE *fp = from_stdin ? stdin : fopen(file, "r");
    if (from_stdin) file = "standard input";
    if (!fp) {
        fprintf(stderr, "relage: cannot read list %s: %s\n", file, strerror(errno));
        return 0;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int ok = 1, number = 0;
    while (ok && (len = getline(&line, &cap, fp)) >= 0) {
        number++;
        char *path = line;
        if (memchr(line, '\0', (size_t)len)) {
            fprintf(stderr, "relage: %s:%d: a NUL byte (a list is a text file of paths)\n", file,
                    number);
            ok = 0;
            break;
        }
        if (number == 1 && strncmp(path, "\xEF\xBB\xBF", 3) == 0) path += 3; /* UTF-8 BOM */
        size_t n = strcspn(path, "\r\n");
        path[n] = '\0';
        if (n >= 4096) {
            fprintf(stderr, "relage: %s:%d: a line longer than 4095 bytes\n", file, number);
            ok = 0;
            break;
        }
        if (n && path[0] != '#') ok = add(list, path, depth + 1);
    }
    free(line);
    if (ok && ferror(fp)) {
        fprintf(stderr, "relage: reading list %s failed\n", file);
        ok = 0;
    }
    if (!from_stdin) fclose(fp);
    return ok;
}

static int add(input_list *list, const char *path, int depth) {
    if (strcmp(path, "-") == 0 || strcmp(path, "@-") == 0) {
        if (list->stdin_taken) {
            fprintf(stderr, "relage: standard input (\"-\" or \"@-\") can be given once only\n");
            return 0;
        }
        list->stdin_taken = 1;
        if (path[0] == '-' && isatty(STDIN_FILENO)) {
            fprintf(stderr, "relage: \"-\" is an image on standard input, which is a terminal "
                            "here: pipe or redirect one (relage predict - < photo.jpg)\n");
            return 0;
        }
        if (path[0] == '-') return push(list, path);
    }
    if (path[0] == '@') return add_list_file(list, path + 1, depth);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t first = list->n;
        if (!add_folder(list, path, NULL)) return 0;
        qsort(list->paths + first, list->n - first, sizeof(char *), compare_names);
        return 1;
    }
    return push(list, path);
}

int input_list_add(input_list *list, const char *path) {
    return add(list, path, 0);
}

void input_list_free(input_list *list) {
    for (size_t i = 0; i < list->n; i++) free(list->paths[i]);
    free(list->paths);
    memset(list, 0, sizeof *list);
}

int input_is_stdin(const char *path) {
    return strcmp(path, "-") == 0;
}

relage_status input_read_stdin(char **bytes, size_t *size) {
    return file_read_fd(STDIN_FILENO, "standard input", (size_t)1 << 30, bytes, size);
}

/* The inputs' files, sorted by this order, tell whether a name is one of them. */
static int compare_ids(const void *a, const void *b) {
    const file_id *x = a, *y = b;
    if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
    return (x->ino > y->ino) - (x->ino < y->ino);
}

/* A set of strings: open addressing over cap (a power of two) slots, FNV-1a. */
static size_t slot_of(char **slots, size_t cap, const char *s) {
    uint64_t h = 1469598103934665603u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) h = (h ^ *p) * 1099511628211u;
    size_t i = (size_t)h & (cap - 1);
    while (slots[i] && strcmp(slots[i], s) != 0) i = (i + 1) & (cap - 1);
    return i;
}

char **drawn_paths(const input_list *list, const char *dir, const char *cmd) {
    struct stat st;
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "relage %s: --draw %s: %s\n", cmd, dir, strerror(errno));
        return NULL;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "relage %s: --draw %s: not a folder\n", cmd, dir);
        return NULL;
    }
    size_t cap = 16, n_ids = 0;
    while (cap < 2 * list->n) cap *= 2;
    char **out = calloc(list->n + 1, sizeof *out), **taken = calloc(cap, sizeof *taken);
    file_id *ids = malloc((list->n + 1) * sizeof *ids);
    int ok = out && taken && ids;
    for (size_t i = 0; ok && i < list->n; i++)
        if (!input_is_stdin(list->paths[i]) && stat(list->paths[i], &st) == 0)
            ids[n_ids++] = (file_id){st.st_dev, st.st_ino};
    if (ok) qsort(ids, n_ids, sizeof *ids, compare_ids);
    for (size_t i = 0; ok && i < list->n; i++) {
        const char *path = list->paths[i], *name = strrchr(path, '/');
        name = input_is_stdin(path) ? "stdin" : name ? name + 1 : path;
        const char *dot = strrchr(name, '.');
        int stem = dot && dot != name ? (int)(dot - name) : (int)strlen(name);
        size_t size = strlen(dir) + (size_t)stem + 32;
        if (!(out[i] = malloc(size))) {
            ok = 0;
            break;
        }
        for (unsigned k = 1;; k++) {
            if (k == 1)
                snprintf(out[i], size, "%s/%.*s.png", dir, stem, name);
            else
                snprintf(out[i], size, "%s/%.*s-%u.png", dir, stem, name, k);
            size_t at = slot_of(taken, cap, out[i]);
            if (taken[at]) continue;
            file_id id;
            if (stat(out[i], &st) == 0 && (id = (file_id){st.st_dev, st.st_ino},
                                           bsearch(&id, ids, n_ids, sizeof *ids, compare_ids)))
                continue;
            taken[at] = out[i];
            break;
        }
    }
    free(taken);
    free(ids);
    if (!ok) {
        fprintf(stderr, "relage %s: out of memory\n", cmd);
        drawn_paths_free(out, list->n);
        return NULL;
    }
    return out;
}

void drawn_paths_free(char **paths, size_t n) {
    for (size_t i = 0; paths && i < n; i++) free(paths[i]);
    free(paths);
}

int same_file(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

int output_path_ok(const char *cmd, const char *flag, const char *out, const char *const *inputs,
                   int n) {
    struct stat o, in;
    const char *why = NULL;
    if (stat(out, &o) == 0) {
        if (S_ISDIR(o.st_mode)) why = "a folder, not a file";
        for (int i = 0; !why && i < n; i++)
            if (inputs[i] && stat(inputs[i], &in) == 0 && same_file(&in, &o))
                why = "also an input, which it would replace";
    } else {
        char *dir = strdup(out);
        if (!dir) {
            why = "out of memory";
        } else {
            char *slash = strrchr(dir, '/');
            if (slash == dir)
                slash[1] = '\0';
            else if (slash)
                *slash = '\0';
            if (slash && (stat(dir, &in) != 0 || !S_ISDIR(in.st_mode)))
                why = "its folder does not exist";
            free(dir);
        }
    }
    if (why) fprintf(stderr, "relage %s: %s %s: %s\n", cmd, flag, out, why);
    return why == NULL;
}

void report_image_error(const char *cmd, const char *path, int json) {
    if (json) {
        error_json_write(stdout, path, relage_last_error());
        printf("\n");
    }
    fprintf(stderr, "relage %s: %s\n", cmd, relage_last_error());
}
