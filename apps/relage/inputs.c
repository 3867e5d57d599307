/* Expanding folders and list files into image paths; JSON and CSV output helpers. */
#include "inputs.h"

#include "api/result_json.h"
#include "relage.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

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

static int add_folder(input_list *list, const char *dir) {
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
            struct stat st;
            if (!path)
                ok = 0;
            else {
                snprintf(path, len, "%s/%s", dir, name);
                if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
                    ok = add_folder(list, path);
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

/* @LIST: one path per line (blank lines and '#' comments skipped), each added as above. */
static int add_list_file(input_list *list, const char *file) {
    FILE *fp = fopen(file, "r");
    if (!fp) {
        fprintf(stderr, "relage: cannot read list %s: %s\n", file, strerror(errno));
        return 0;
    }
    char line[4096];
    int ok = 1;
    while (ok && fgets(line, sizeof line, fp)) {
        size_t n = strcspn(line, "\r\n");
        line[n] = '\0';
        if (n && line[0] != '#') ok = input_list_add(list, line);
    }
    fclose(fp);
    return ok;
}

int input_list_add(input_list *list, const char *path) {
    if (path[0] == '@') return add_list_file(list, path + 1);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        size_t first = list->n;
        if (!add_folder(list, path)) return 0;
        qsort(list->paths + first, list->n - first, sizeof(char *), compare_names);
        return 1;
    }
    return push(list, path);
}

void input_list_free(input_list *list) {
    for (size_t i = 0; i < list->n; i++) free(list->paths[i]);
    free(list->paths);
    memset(list, 0, sizeof *list);
}

void drawn_path(char *out, size_t size, const char *dir, const char *path) {
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    const char *dot = strrchr(name, '.');
    int stem = dot && dot != name ? (int)(dot - name) : (int)strlen(name);
    snprintf(out, size, "%s/%.*s.png", dir, stem, name);
}

void report_image_error(const char *cmd, const char *path, int json) {
    if (json) {
        error_json_write(stdout, path, relage_last_error());
        printf("\n");
    }
    fprintf(stderr, "relage %s: %s\n", cmd, relage_last_error());
}
