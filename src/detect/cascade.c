/* Haar cascade loading (a small XML reader of our own) and detection as OpenCV 4.x's
 * CascadeClassifier::detectMultiScale (modules/objdetect/src/cascadedetect.cpp).
 *
 * Conventions pinned to OpenCV, each of which changes which windows fire:
 *   - gray = (9798 R + 19235 G + 3735 B + 2^14) >> 15 (cvtColor BGR2GRAY on 8 bits);
 *   - scales: factor = scale_factor^k in double, stored as float; a scale is used while the
 *     window cvRound(24 factor) fits the image and max_size, skipped while under min_size;
 *   - the image (not the window) is scaled, to cvRound(size / factor), with resize's
 *     INTER_LINEAR_EXACT (Q8 coefficients, Q8 horizontal pass, Q16 vertical pass, rounded);
 *   - integral and squared integral as 32-bit integers (the squares wrap; window differences
 *     are exact); variance normalisation on the inner window (1, 1, W-2, H-2):
 *     nf = sqrt(area * sqsum - sum^2), inv_nf = (float)(1 / nf); windows with nf <= 0 or
 *     area * inv_nf >= 0.1 (nearly flat) are rejected;
 *   - a feature is sum_i w_i rectsum_i in float times inv_nf, compared with the node
 *     threshold; leaf values are summed in double; a stage threshold is the file's minus 1e-5;
 *   - step 2 pixels of the scaled image while factor < 2, else 1, and one more step in x
 *     after a window that fails the first stage;
 *   - a hit is (cvRound(x f), cvRound(y f), cvRound(W f), cvRound(H f)) in float;
 *   - groupRectangles(eps 0.2): classes of similar rectangles, rounded means, classes with at
 *     most min_neighbors members dropped, then boxes inside a stronger box dropped;
 *   - finally boxes are clipped to the image (CascadeClassifier::detectMultiScale's
 *     clipObjects). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include "detect/cascade.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/file.h"
#include "core/status.h"

#define DEFAULT_CASCADE_PATH "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml"
#define MAX_FILE_BYTES ((size_t)256 << 20)
#define XML_MAX_DEPTH 64
#define MAX_WINDOW_SIDE 256       /* window area * 255^2 must fit the 32-bit squared integral */
#define MAX_SCALES 10000          /* refuses a scale_factor so close to 1 that it would crawl */
#define STAGE_THRESHOLD_EPS 1e-5f /* OpenCV's THRESHOLD_EPS */
#define GROUP_EPS 0.2

/* ---- the cascade ---- */

typedef struct haar_rect {
    int x, y, w, h;
    float weight;
} haar_rect;

typedef struct haar_feature {
    haar_rect rect[3]; /* unused rectangles have weight 0 */
} haar_feature;

/* A child > 0 is the index of a node within the tree; one <= 0 is the leaf -child. */
typedef struct tree_node {
    int feature;
    int child[2]; /* [0] (left) when the value is below the threshold, [1] (right) otherwise */
    float threshold;
} tree_node;

typedef struct weak_tree {
    int first_node, node_count, first_leaf;
} weak_tree;

typedef struct stage {
    int first_tree, tree_count;
    float threshold; /* the file's minus STAGE_THRESHOLD_EPS */
} stage;

typedef struct stump {
    int feature;
    float threshold;
    float leaf[2]; /* [0] when the value is below the threshold, [1] otherwise */
} stump;

struct cascade {
    int window_width, window_height;
    stage *stages;
    int stage_count;
    weak_tree *trees;
    int tree_count;
    tree_node *nodes;
    int node_count;
    float *leaves;
    int leaf_count;
    haar_feature *features;
    int feature_count;
    stump *stumps; /* one per tree when every tree is a single node, else NULL */
};

cascade_params cascade_default_params(void) {
    cascade_params p = {1.1, 3, 0, 0};
    return p;
}

const char *cascade_default_path(void) {
    return DEFAULT_CASCADE_PATH;
}

void cascade_free(cascade *c) {
    if (!c) return;
    free(c->stages);
    free(c->trees);
    free(c->nodes);
    free(c->leaves);
    free(c->features);
    free(c->stumps);
    free(c);
}

void cascade_window_size(const cascade *c, int *width, int *height) {
    *width = c ? c->window_width : 0;
    *height = c ? c->window_height : 0;
}

/* ---- reading the file ---- */

/* ---- a small XML reader: elements, attributes, text; comments, <?...?> and <!...> skipped.
 * Enough for OpenCV's FileStorage output; entities and CDATA are not decoded. ---- */

typedef struct xml_node {
    const char *name;
    size_t name_len;
    const char *text; /* the content of an element without child elements, else empty */
    size_t text_len;
    const char *type_id; /* the type_id attribute, or NULL */
    size_t type_id_len;
    size_t offset; /* of the '<' that opens it, for line numbers */
    int first_child, last_child, next_sibling, child_count;
} xml_node;

typedef struct xml_doc {
    const char *path;
    const char *buf;
    size_t size;
    xml_node *nodes;
    int count, capacity;
} xml_doc;

static int line_of(const xml_doc *d, size_t offset) {
    int line = 1;
    for (size_t i = 0; i < offset && i < d->size; i++) line += d->buf[i] == '\n';
    return line;
}

/* Fails with "path: line N: message". */
static relage_status fail_at(const xml_doc *d, relage_status status, size_t offset, const char *fmt,
                             ...) __attribute__((format(printf, 4, 5)));
static relage_status fail_at(const xml_doc *d, relage_status status, size_t offset, const char *fmt,
                             ...) {
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return relage_fail(status, "%s: line %d: %s", d->path, line_of(d, offset), message);
}

static int is_space(char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int is_name_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '-' || ch == '.' || ch == ':';
}

static int starts_with(const char *p, const char *end, const char *prefix) {
    size_t n = strlen(prefix);
    return (size_t)(end - p) >= n && memcmp(p, prefix, n) == 0;
}

/* First occurrence of needle in [p, end), or NULL. */
static const char *find_text(const char *p, const char *end, const char *needle) {
    size_t n = strlen(needle);
    for (; (size_t)(end - p) >= n; p++)
        if (memcmp(p, needle, n) == 0) return p;
    return NULL;
}

static int name_is(const xml_node *node, const char *name) {
    size_t n = strlen(name);
    return node->name_len == n && memcmp(node->name, name, n) == 0;
}

static relage_status xml_add_node(xml_doc *d, int parent, int *out) {
    if (d->count == d->capacity) {
        if (d->capacity > INT_MAX / 2)
            return relage_fail(RELAGE_ERR_FORMAT, "%s: too many XML elements", d->path);
        int capacity = d->capacity ? 2 * d->capacity : 1024;
        xml_node *nodes = realloc(d->nodes, (size_t)capacity * sizeof *nodes);
        if (!nodes)
            return relage_fail(RELAGE_ERR_NOMEM, "%s: cannot allocate %d XML elements", d->path,
                               capacity);
        d->nodes = nodes;
        d->capacity = capacity;
    }
    int index = d->count++;
    xml_node *node = &d->nodes[index];
    memset(node, 0, sizeof *node);
    node->first_child = node->last_child = node->next_sibling = -1;
    if (parent >= 0) {
        xml_node *up = &d->nodes[parent];
        if (up->last_child >= 0)
            d->nodes[up->last_child].next_sibling = index;
        else
            up->first_child = index;
        up->last_child = index;
        up->child_count++;
    }
    *out = index;
    return RELAGE_OK;
}

/* Builds the element tree of d->buf; node 0 is the root element. */
static relage_status xml_parse(xml_doc *d) {
    relage_status st = RELAGE_OK;
    const char *begin = d->buf, *end = d->buf + d->size, *p = begin;
    int stack[XML_MAX_DEPTH];
    int depth = 0, have_root = 0;
    while (p < end) {
        if (*p != '<') {
            const char *text = p;
            while (p < end && *p != '<') p++;
            if (depth == 0) {
                for (const char *q = text; q < p; q++) {
                    if (!is_space(*q)) {
                        st = fail_at(d, RELAGE_ERR_FORMAT, (size_t)(q - begin),
                                     "text outside the root element (not an XML file?)");
                        goto cleanup;
                    }
                }
            }
            continue;
        }
        size_t at = (size_t)(p - begin);
        if (starts_with(p, end, "<!--")) {
            const char *q = find_text(p + 4, end, "-->");
            if (!q) {
                st = fail_at(d, RELAGE_ERR_FORMAT, at, "unterminated comment (truncated file?)");
                goto cleanup;
            }
            p = q + 3;
            continue;
        }
        if (starts_with(p, end, "<![CDATA[")) {
            st = fail_at(d, RELAGE_ERR_FORMAT, at, "CDATA sections are not expected here");
            goto cleanup;
        }
        if (starts_with(p, end, "<?") || starts_with(p, end, "<!")) {
            const char *q = starts_with(p, end, "<?") ? find_text(p + 2, end, "?>")
                                                      : memchr(p, '>', (size_t)(end - p));
            if (!q) {
                st = fail_at(d, RELAGE_ERR_FORMAT, at, "unterminated declaration");
                goto cleanup;
            }
            p = q + (*q == '?' ? 2 : 1);
            continue;
        }
        int closing = p + 1 < end && p[1] == '/';
        const char *name = p + 1 + closing, *q = name;
        while (q < end && is_name_char(*q)) q++;
        size_t name_len = (size_t)(q - name);
        if (name_len == 0) {
            st = fail_at(d, RELAGE_ERR_FORMAT, at, "expected a tag name after '<'");
            goto cleanup;
        }
        if (closing) {
            while (q < end && is_space(*q)) q++;
            if (q >= end || *q != '>') {
                st = fail_at(d, RELAGE_ERR_FORMAT, at, "unterminated closing tag </%.*s",
                             (int)name_len, name);
                goto cleanup;
            }
            if (depth == 0) {
                st = fail_at(d, RELAGE_ERR_FORMAT, at, "</%.*s> closes nothing", (int)name_len,
                             name);
                goto cleanup;
            }
            xml_node *node = &d->nodes[stack[depth - 1]];
            if (node->name_len != name_len || memcmp(node->name, name, name_len) != 0) {
                st = fail_at(d, RELAGE_ERR_FORMAT, at, "</%.*s> closes <%.*s> of line %d",
                             (int)name_len, name, (int)node->name_len, node->name,
                             line_of(d, node->offset));
                goto cleanup;
            }
            if (node->child_count == 0)
                node->text_len = (size_t)(p - node->text);
            else
                node->text_len = 0;
            depth--;
            p = q + 1;
            continue;
        }
        if (depth == 0 && have_root) {
            st = fail_at(d, RELAGE_ERR_FORMAT, at, "a second root element <%.*s>", (int)name_len,
                         name);
            goto cleanup;
        }
        if (depth == XML_MAX_DEPTH) {
            st = fail_at(d, RELAGE_ERR_FORMAT, at, "elements nested deeper than %d", XML_MAX_DEPTH);
            goto cleanup;
        }
        int index = -1;
        st = xml_add_node(d, depth ? stack[depth - 1] : -1, &index);
        if (st != RELAGE_OK) goto cleanup;
        xml_node *node = &d->nodes[index];
        node->name = name;
        node->name_len = name_len;
        node->offset = at;
        int empty = 0;
        for (;;) { /* attributes */
            while (q < end && is_space(*q)) q++;
            if (q < end && *q == '>') break;
            if (q + 1 < end && q[0] == '/' && q[1] == '>') {
                empty = 1;
                q++;
                break;
            }
            const char *attr = q;
            while (q < end && is_name_char(*q)) q++;
            size_t attr_len = (size_t)(q - attr);
            while (q < end && is_space(*q)) q++;
            if (attr_len == 0 || q >= end || *q != '=') {
                st = fail_at(d, RELAGE_ERR_FORMAT, at, "malformed attribute in <%.*s>",
                             (int)name_len, name);
                goto cleanup;
            }
            q++;
            while (q < end && is_space(*q)) q++;
            if (q >= end || (*q != '"' && *q != '\'')) {
                st = fail_at(d, RELAGE_ERR_FORMAT, at, "unquoted attribute value in <%.*s>",
                             (int)name_len, name);
                goto cleanup;
            }
            const char *value = q + 1;
            const char *value_end = memchr(value, *q, (size_t)(end - value));
            if (!value_end) {
                st = fail_at(d, RELAGE_ERR_FORMAT, at, "unterminated attribute value in <%.*s>",
                             (int)name_len, name);
                goto cleanup;
            }
            if (attr_len == 7 && memcmp(attr, "type_id", 7) == 0) {
                node->type_id = value;
                node->type_id_len = (size_t)(value_end - value);
            }
            q = value_end + 1;
        }
        if (q >= end) {
            st = fail_at(d, RELAGE_ERR_FORMAT, at, "unterminated tag <%.*s (truncated file?)",
                         (int)name_len, name);
            goto cleanup;
        }
        p = q + 1;
        if (empty) {
            node->text = p;
            node->text_len = 0;
            if (depth == 0) have_root = 1;
        } else {
            node->text = p; /* the length is set when it closes */
            stack[depth++] = index;
            have_root = 1;
        }
    }
    if (depth > 0) {
        const xml_node *node = &d->nodes[stack[depth - 1]];
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: truncated: <%.*s> of line %d is not closed",
                         d->path, (int)node->name_len, node->name, line_of(d, node->offset));
        goto cleanup;
    }
    if (!have_root) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: no XML element (empty or not an XML file)",
                         d->path);
        goto cleanup;
    }
cleanup:
    return st;
}

/* The first child of node called name, or -1. */
static int xml_child(const xml_doc *d, int node, const char *name) {
    for (int i = d->nodes[node].first_child; i >= 0; i = d->nodes[i].next_sibling)
        if (name_is(&d->nodes[i], name)) return i;
    return -1;
}

static relage_status need_child(const xml_doc *d, int node, const char *name, int *out) {
    *out = xml_child(d, node, name);
    if (*out >= 0) return RELAGE_OK;
    const xml_node *n = &d->nodes[node];
    return fail_at(d, RELAGE_ERR_FORMAT, n->offset, "<%.*s> has no <%s>", (int)n->name_len, n->name,
                   name);
}

/* Reads whitespace-separated numbers from an element's text. */
typedef struct number_reader {
    const xml_doc *doc;
    const xml_node *node;
    const char *p, *end;
} number_reader;

static number_reader numbers_of(const xml_doc *d, int node) {
    number_reader r = {d, &d->nodes[node], d->nodes[node].text,
                       d->nodes[node].text + d->nodes[node].text_len};
    return r;
}

/* Sets *got to 0 at the end of the text, else parses one finite number. */
static relage_status next_number(number_reader *r, double *value, int *got) {
    while (r->p < r->end && is_space(*r->p)) r->p++;
    *got = 0;
    if (r->p >= r->end) return RELAGE_OK;
    const char *token = r->p;
    while (r->p < r->end && !is_space(*r->p)) r->p++;
    size_t len = (size_t)(r->p - token);
    char text[64];
    char *stop = NULL;
    if (len < sizeof text) {
        memcpy(text, token, len);
        text[len] = '\0';
        *value = strtod(text, &stop);
    }
    if (len >= sizeof text || stop != text + len || !isfinite(*value))
        return fail_at(r->doc, RELAGE_ERR_FORMAT, (size_t)(token - r->doc->buf),
                       "<%.*s>: '%.*s' is not a finite number", (int)r->node->name_len,
                       r->node->name, (int)(len < 40 ? len : 40), token);
    *got = 1;
    return RELAGE_OK;
}

/* Reads exactly count numbers and nothing more. */
static relage_status read_numbers(const xml_doc *d, int node, double *values, int count) {
    number_reader r = numbers_of(d, node);
    const xml_node *n = &d->nodes[node];
    for (int i = 0; i < count; i++) {
        int got;
        relage_status st = next_number(&r, &values[i], &got);
        if (st != RELAGE_OK) return st;
        if (!got)
            return fail_at(d, RELAGE_ERR_FORMAT, n->offset, "<%.*s> has %d numbers, expected %d",
                           (int)n->name_len, n->name, i, count);
    }
    double extra;
    int got;
    relage_status st = next_number(&r, &extra, &got);
    if (st != RELAGE_OK) return st;
    if (got)
        return fail_at(d, RELAGE_ERR_FORMAT, n->offset, "<%.*s> has more than %d numbers",
                       (int)n->name_len, n->name, count);
    return RELAGE_OK;
}

static int is_int_in(double v, int lo, int hi) {
    return v == floor(v) && v >= lo && v <= hi;
}

/* The text of child `name` as one integer in [lo, hi]. */
static relage_status read_int_child(const xml_doc *d, int node, const char *name, int lo, int hi,
                                    int *out) {
    int child;
    double v;
    relage_status st = need_child(d, node, name, &child);
    if (st == RELAGE_OK) st = read_numbers(d, child, &v, 1);
    if (st != RELAGE_OK) return st;
    if (!is_int_in(v, lo, hi))
        return fail_at(d, RELAGE_ERR_FORMAT, d->nodes[child].offset,
                       "<%s> is %g, expected an integer in [%d, %d]", name, v, lo, hi);
    *out = (int)v;
    return RELAGE_OK;
}

/* Whether the child `name` has exactly the text word (surrounding spaces ignored). */
static relage_status check_word_child(const xml_doc *d, int node, const char *name,
                                      const char *word, relage_status mismatch_status) {
    int child;
    relage_status st = need_child(d, node, name, &child);
    if (st != RELAGE_OK) return st;
    const xml_node *n = &d->nodes[child];
    const char *t = n->text, *e = n->text + n->text_len;
    while (t < e && is_space(*t)) t++;
    while (e > t && is_space(e[-1])) e--;
    if ((size_t)(e - t) != strlen(word) || memcmp(t, word, (size_t)(e - t)) != 0)
        return fail_at(d, mismatch_status, n->offset, "<%s> is '%.*s'; only %s is supported", name,
                       (int)(e - t < 40 ? e - t : 40), t, word);
    return RELAGE_OK;
}

/* Grows *array to hold need elements. */
static relage_status grow(void **array, int *capacity, int need, size_t elem, const char *path) {
    if (need <= *capacity) return RELAGE_OK;
    if (need > INT_MAX / 2)
        return relage_fail(RELAGE_ERR_FORMAT, "%s: too many cascade elements", path);
    int capacity_new = *capacity ? *capacity : 256;
    while (capacity_new < need) capacity_new *= 2;
    void *grown = realloc(*array, (size_t)capacity_new * elem);
    if (!grown) return relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
    *array = grown;
    *capacity = capacity_new;
    return RELAGE_OK;
}

static relage_status read_features(const xml_doc *d, int features_node, cascade *c) {
    relage_status st = RELAGE_OK;
    int count = d->nodes[features_node].child_count;
    if (count == 0) {
        st = fail_at(d, RELAGE_ERR_FORMAT, d->nodes[features_node].offset, "<features> is empty");
        goto cleanup;
    }
    c->features = calloc((size_t)count, sizeof *c->features);
    if (!c->features) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", d->path);
        goto cleanup;
    }
    c->feature_count = count;
    int fi = 0;
    for (int f = d->nodes[features_node].first_child; f >= 0; f = d->nodes[f].next_sibling, fi++) {
        int rects, tilted = xml_child(d, f, "tilted");
        if (tilted >= 0) {
            double flag;
            st = read_numbers(d, tilted, &flag, 1);
            if (st != RELAGE_OK) goto cleanup;
            if (flag != 0) {
                st = fail_at(d, RELAGE_ERR_UNSUPPORTED, d->nodes[f].offset,
                             "feature %d is tilted; tilted Haar features are not supported", fi);
                goto cleanup;
            }
        }
        st = need_child(d, f, "rects", &rects);
        if (st != RELAGE_OK) goto cleanup;
        int nrects = d->nodes[rects].child_count;
        if (nrects < 1 || nrects > 3) {
            st = fail_at(d, RELAGE_ERR_FORMAT, d->nodes[rects].offset,
                         "feature %d has %d rectangles, expected 1 to 3", fi, nrects);
            goto cleanup;
        }
        int ri = 0;
        for (int r = d->nodes[rects].first_child; r >= 0; r = d->nodes[r].next_sibling, ri++) {
            double v[5];
            st = read_numbers(d, r, v, 5);
            if (st != RELAGE_OK) goto cleanup;
            int ok = is_int_in(v[0], 0, c->window_width) && is_int_in(v[1], 0, c->window_height) &&
                     is_int_in(v[2], 0, c->window_width) && is_int_in(v[3], 0, c->window_height) &&
                     v[0] + v[2] <= c->window_width && v[1] + v[3] <= c->window_height;
            if (!ok) {
                st = fail_at(d, RELAGE_ERR_FORMAT, d->nodes[r].offset,
                             "feature %d rectangle %g %g %g %g lies outside the %dx%d window", fi,
                             v[0], v[1], v[2], v[3], c->window_width, c->window_height);
                goto cleanup;
            }
            haar_rect *hr = &c->features[fi].rect[ri];
            hr->x = (int)v[0];
            hr->y = (int)v[1];
            hr->w = (int)v[2];
            hr->h = (int)v[3];
            hr->weight = (float)v[4];
        }
    }
cleanup:
    return st;
}

/* Reads <stages>; features must be read already (node feature indices are checked). */
static relage_status read_stages(const xml_doc *d, int stages_node, int max_weak_count,
                                 cascade *c) {
    relage_status st = RELAGE_OK;
    int tree_capacity = 0, node_capacity = 0, leaf_capacity = 0;
    double *values = NULL;
    int values_capacity = 0;
    int stage_count = d->nodes[stages_node].child_count;
    if (stage_count == 0) {
        st = fail_at(d, RELAGE_ERR_FORMAT, d->nodes[stages_node].offset, "<stages> is empty");
        goto cleanup;
    }
    c->stages = calloc((size_t)stage_count, sizeof *c->stages);
    if (!c->stages) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", d->path);
        goto cleanup;
    }
    c->stage_count = stage_count;
    int si = 0;
    for (int s = d->nodes[stages_node].first_child; s >= 0; s = d->nodes[s].next_sibling, si++) {
        int weak_node, weak_count, threshold_node;
        double threshold;
        st = read_int_child(d, s, "maxWeakCount", 1, INT_MAX, &weak_count);
        if (st != RELAGE_OK) goto cleanup;
        st = need_child(d, s, "stageThreshold", &threshold_node);
        if (st == RELAGE_OK) st = read_numbers(d, threshold_node, &threshold, 1);
        if (st == RELAGE_OK) st = need_child(d, s, "weakClassifiers", &weak_node);
        if (st != RELAGE_OK) goto cleanup;
        if (d->nodes[weak_node].child_count != weak_count ||
            (max_weak_count > 0 && weak_count > max_weak_count)) {
            st = fail_at(d, RELAGE_ERR_FORMAT, d->nodes[weak_node].offset,
                         "stage %d has %d weak classifiers but maxWeakCount %d (cascade %d)", si,
                         d->nodes[weak_node].child_count, weak_count, max_weak_count);
            goto cleanup;
        }
        stage *sg = &c->stages[si];
        sg->first_tree = c->tree_count;
        sg->tree_count = weak_count;
        sg->threshold = (float)threshold - STAGE_THRESHOLD_EPS;
        for (int w = d->nodes[weak_node].first_child; w >= 0; w = d->nodes[w].next_sibling) {
            int internal, leaf_node, count = 0, got;
            st = need_child(d, w, "internalNodes", &internal);
            if (st == RELAGE_OK) st = need_child(d, w, "leafValues", &leaf_node);
            if (st != RELAGE_OK) goto cleanup;
            number_reader r = numbers_of(d, internal);
            for (;;) {
                double v;
                st = next_number(&r, &v, &got);
                if (st != RELAGE_OK) goto cleanup;
                if (!got) break;
                st = grow((void **)&values, &values_capacity, count + 1, sizeof *values, d->path);
                if (st != RELAGE_OK) goto cleanup;
                values[count++] = v;
            }
            if (count == 0 || count % 4 != 0) {
                st = fail_at(d, RELAGE_ERR_FORMAT, d->nodes[internal].offset,
                             "stage %d: <internalNodes> has %d numbers, expected 4 per node "
                             "(left right featureIdx threshold)",
                             si, count);
                goto cleanup;
            }
            int node_count = count / 4;
            st = grow((void **)&c->trees, &tree_capacity, c->tree_count + 1, sizeof *c->trees,
                      d->path);
            if (st == RELAGE_OK)
                st = grow((void **)&c->nodes, &node_capacity, c->node_count + node_count,
                          sizeof *c->nodes, d->path);
            if (st == RELAGE_OK)
                st = grow((void **)&c->leaves, &leaf_capacity, c->leaf_count + node_count + 1,
                          sizeof *c->leaves, d->path);
            if (st != RELAGE_OK) goto cleanup;
            weak_tree *tree = &c->trees[c->tree_count++];
            tree->first_node = c->node_count;
            tree->node_count = node_count;
            tree->first_leaf = c->leaf_count;
            for (int k = 0; k < node_count; k++) {
                const double *v = &values[4 * k];
                /* A child node comes after its parent, so every walk down a tree ends. */
                int ok = is_int_in(v[0], -node_count, node_count - 1) &&
                         is_int_in(v[1], -node_count, node_count - 1) && (v[0] <= 0 || v[0] > k) &&
                         (v[1] <= 0 || v[1] > k) && is_int_in(v[2], 0, c->feature_count - 1);
                if (!ok) {
                    st = fail_at(d, RELAGE_ERR_FORMAT, d->nodes[internal].offset,
                                 "stage %d: node '%g %g %g' is out of range (%d nodes, %d "
                                 "features)",
                                 si, v[0], v[1], v[2], node_count, c->feature_count);
                    goto cleanup;
                }
                tree_node *node = &c->nodes[c->node_count++];
                node->child[0] = (int)v[0];
                node->child[1] = (int)v[1];
                node->feature = (int)v[2];
                node->threshold = (float)v[3];
            }
            r = numbers_of(d, leaf_node);
            for (int k = 0; k <= node_count; k++) {
                double v;
                st = next_number(&r, &v, &got);
                if (st != RELAGE_OK) goto cleanup;
                if (!got) break;
                c->leaves[c->leaf_count++] = (float)v;
            }
            double extra;
            st = next_number(&r, &extra, &got);
            if (st != RELAGE_OK) goto cleanup;
            if (c->leaf_count - tree->first_leaf != node_count + 1 || got) {
                st = fail_at(d, RELAGE_ERR_FORMAT, d->nodes[leaf_node].offset,
                             "stage %d: <leafValues> must hold %d values for %d nodes", si,
                             node_count + 1, node_count);
                goto cleanup;
            }
        }
    }
cleanup:
    free(values);
    return st;
}

/* Flattens a cascade of one-node trees into stumps, the common and fast case. */
static relage_status make_stumps(cascade *c, const char *path) {
    for (int t = 0; t < c->tree_count; t++)
        if (c->trees[t].node_count != 1) return RELAGE_OK;
    c->stumps = malloc((size_t)c->tree_count * sizeof *c->stumps);
    if (!c->stumps) return relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", path);
    for (int t = 0; t < c->tree_count; t++) {
        const tree_node *node = &c->nodes[c->trees[t].first_node];
        const float *leaf = &c->leaves[c->trees[t].first_leaf];
        /* The children are 0 or -1 here: leaf 0 or leaf 1. */
        stump s = {node->feature, node->threshold, {leaf[-node->child[0]], leaf[-node->child[1]]}};
        c->stumps[t] = s;
    }
    return RELAGE_OK;
}

relage_status cascade_load(cascade **out, const char *xml_path) {
    relage_status st = RELAGE_OK;
    char *text = NULL;
    size_t size = 0;
    xml_doc doc = {0};
    cascade *c = NULL;
    if (!out || !xml_path) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "cascade_load: NULL argument");
        goto cleanup;
    }
    *out = NULL;
    st = file_read_text(xml_path, MAX_FILE_BYTES, &text, &size);
    if (st != RELAGE_OK) goto cleanup;
    doc.path = xml_path;
    doc.buf = text;
    doc.size = size;
    st = xml_parse(&doc);
    if (st != RELAGE_OK) goto cleanup;
    if (!name_is(&doc.nodes[0], "opencv_storage")) {
        st = fail_at(&doc, RELAGE_ERR_FORMAT, doc.nodes[0].offset,
                     "root element is <%.*s>, expected <opencv_storage>",
                     (int)doc.nodes[0].name_len, doc.nodes[0].name);
        goto cleanup;
    }
    int root = xml_child(&doc, 0, "cascade");
    if (root < 0) {
        /* Old-style files name the root child after the cascade, with this type_id. */
        int first = doc.nodes[0].first_child;
        if (first >= 0 && doc.nodes[first].type_id &&
            doc.nodes[first].type_id_len == strlen("opencv-haar-classifier") &&
            memcmp(doc.nodes[first].type_id, "opencv-haar-classifier", 22) == 0)
            st = fail_at(&doc, RELAGE_ERR_UNSUPPORTED, doc.nodes[first].offset,
                         "old-style cascade (opencv-haar-classifier) is not supported; "
                         "only the new opencv-cascade-classifier format is");
        else
            st = need_child(&doc, 0, "cascade", &root);
        goto cleanup;
    }
    const xml_node *cn = &doc.nodes[root];
    if (cn->type_id && !(cn->type_id_len == strlen("opencv-cascade-classifier") &&
                         memcmp(cn->type_id, "opencv-cascade-classifier", cn->type_id_len) == 0)) {
        st = fail_at(&doc, RELAGE_ERR_UNSUPPORTED, cn->offset,
                     "<cascade type_id=\"%.*s\">, expected opencv-cascade-classifier",
                     (int)(cn->type_id_len < 60 ? cn->type_id_len : 60), cn->type_id);
        goto cleanup;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        st = relage_fail(RELAGE_ERR_NOMEM, "%s: out of memory", xml_path);
        goto cleanup;
    }
    st = check_word_child(&doc, root, "stageType", "BOOST", RELAGE_ERR_UNSUPPORTED);
    if (st == RELAGE_OK)
        st = check_word_child(&doc, root, "featureType", "HAAR", RELAGE_ERR_UNSUPPORTED);
    if (st == RELAGE_OK)
        st = read_int_child(&doc, root, "height", 3, MAX_WINDOW_SIDE, &c->window_height);
    if (st == RELAGE_OK)
        st = read_int_child(&doc, root, "width", 3, MAX_WINDOW_SIDE, &c->window_width);
    if (st != RELAGE_OK) goto cleanup;
    int max_weak_count = 0, params, stage_num = -1, node;
    if ((params = xml_child(&doc, root, "stageParams")) >= 0 &&
        xml_child(&doc, params, "maxWeakCount") >= 0) {
        st = read_int_child(&doc, params, "maxWeakCount", 1, INT_MAX, &max_weak_count);
        if (st != RELAGE_OK) goto cleanup;
    }
    if ((params = xml_child(&doc, root, "featureParams")) >= 0 &&
        xml_child(&doc, params, "maxCatCount") >= 0) {
        int max_cat_count;
        st = read_int_child(&doc, params, "maxCatCount", 0, 0, &max_cat_count);
        if (st != RELAGE_OK) goto cleanup;
    }
    if (xml_child(&doc, root, "stageNum") >= 0) {
        st = read_int_child(&doc, root, "stageNum", 1, INT_MAX, &stage_num);
        if (st != RELAGE_OK) goto cleanup;
    }
    st = need_child(&doc, root, "features", &node);
    if (st == RELAGE_OK) st = read_features(&doc, node, c);
    if (st == RELAGE_OK) st = need_child(&doc, root, "stages", &node);
    if (st == RELAGE_OK) st = read_stages(&doc, node, max_weak_count, c);
    if (st != RELAGE_OK) goto cleanup;
    if (stage_num >= 0 && stage_num != c->stage_count) {
        st = fail_at(&doc, RELAGE_ERR_FORMAT, doc.nodes[node].offset,
                     "<stageNum> says %d stages but <stages> holds %d", stage_num, c->stage_count);
        goto cleanup;
    }
    st = make_stumps(c, xml_path);
    if (st != RELAGE_OK) goto cleanup;
    *out = c;
    c = NULL;
cleanup:
    cascade_free(c);
    free(doc.nodes);
    free(text);
    return st;
}

/* ---- detection ----
 *
 * The work is split into tasks of BAND_ROWS window rows of one scale. A task resamples just
 * the rows of the scaled image its windows cover and integrates them from its first row: every
 * rectangle sum is a difference within one band, so it equals the whole-image integral's
 * exactly. Tasks run in parallel with their own buffers; their hits are concatenated in task
 * order, so the result does not depend on the thread count. */

#define BAND_ROWS 32 /* even, so every band starts on the step-2 grid */

/* Rectangle sums as offsets from a window's top-left corner in an integral image. */
typedef struct feature_offsets {
    int ofs[3][4];
    float weight[3];
} feature_offsets;

typedef struct int_rect {
    int x, y, w, h;
} int_rect;

/* One scale: the scaled image size and the resampling tables of INTER_LINEAR_EXACT. */
typedef struct scale_plan {
    float factor;
    int width, height; /* of the scaled image */
    int xlo, xhi, ylo, yhi;
    int *xofs, *yofs;  /* width, height */
    uint16_t *xc, *yc; /* Q8 weight pairs: 2 width, 2 height */
} scale_plan;

typedef struct band_task {
    int scale;  /* index into the plans */
    int y0, y1; /* window rows [y0, y1) of the scaled image */
} band_task;

typedef struct hit_list {
    int_rect *rects;
    size_t count, capacity;
} hit_list;

/* Per-thread buffers, sized for the widest scaled image. */
typedef struct band_buffers {
    uint8_t *pixels;       /* rows of the scaled image, stride = plan width */
    uint32_t *sum, *sqsum; /* integrals with a zero first row and column, stride `stride` */
    uint16_t *hline;       /* two horizontally resampled rows */
} band_buffers;

/* OpenCV's cvRound for float and double: round half to even (the default FP mode). */
static int round_float(float v) {
    return (int)lrintf(v);
}

static int round_double(double v) {
    return (int)lrint(v);
}

static void sum_offsets(int ofs[4], int x, int y, int w, int h, int stride) {
    ofs[0] = x + stride * y;
    ofs[1] = x + w + stride * y;
    ofs[2] = x + stride * (y + h);
    ofs[3] = x + w + stride * (y + h);
}

static int32_t rect_sum(const uint32_t *p, const int ofs[4]) {
    /* Unsigned wrap-around: exact for the difference, which fits in 31 bits. */
    return (int32_t)(p[ofs[0]] - p[ofs[1]] - p[ofs[2]] + p[ofs[3]]);
}

static float feature_value(const feature_offsets *f, const uint32_t *p) {
    float value =
        f->weight[0] * (float)rect_sum(p, f->ofs[0]) + f->weight[1] * (float)rect_sum(p, f->ofs[1]);
    if (f->weight[2] != 0.0f) value += f->weight[2] * (float)rect_sum(p, f->ofs[2]);
    return value;
}

/* 1 if the window at p passes every stage, -1 if its variance is too low, else -(the stage
 * that rejected it), so 0 means the first stage did (OpenCV's runAt). */
static int run_window(const cascade *c, const feature_offsets *features, const int norm_ofs[4],
                      double norm_area, const uint32_t *sum, const uint32_t *sqsum) {
    int32_t valsum = rect_sum(sum, norm_ofs);
    uint32_t valsqsum =
        sqsum[norm_ofs[0]] - sqsum[norm_ofs[1]] - sqsum[norm_ofs[2]] + sqsum[norm_ofs[3]];
    double nf = norm_area * (double)valsqsum - (double)valsum * (double)valsum;
    if (!(nf > 0.0)) return -1;
    float inv_nf = (float)(1.0 / sqrt(nf));
    if (!(norm_area * (double)inv_nf < 1e-1)) return -1;
    if (c->stumps) {
        const stump *s = c->stumps;
        for (int si = 0; si < c->stage_count; si++) {
            double stage_sum = 0.0;
            int n = c->stages[si].tree_count;
            for (int t = 0; t < n; t++, s++) {
                float value = feature_value(&features[s->feature], sum) * inv_nf;
                /* An index rather than a branch: the comparison is unpredictable. */
                stage_sum += (double)s->leaf[!(value < s->threshold)];
            }
            if (stage_sum < (double)c->stages[si].threshold) return -si;
        }
        return 1;
    }
    for (int si = 0; si < c->stage_count; si++) {
        const stage *sg = &c->stages[si];
        double stage_sum = 0.0;
        for (int t = sg->first_tree; t < sg->first_tree + sg->tree_count; t++) {
            const weak_tree *tree = &c->trees[t];
            const tree_node *nodes = &c->nodes[tree->first_node];
            int idx = 0;
            do {
                const tree_node *node = &nodes[idx];
                float value = feature_value(&features[node->feature], sum) * inv_nf;
                idx = node->child[!(value < node->threshold)];
            } while (idx > 0);
            stage_sum += (double)c->leaves[tree->first_leaf - idx];
        }
        if (stage_sum < (double)sg->threshold) return -si;
    }
    return 1;
}

/* Coefficients of OpenCV's INTER_LINEAR_EXACT along one axis: dst d reads src ofs[d] and
 * ofs[d]+1 with Q8 weights c[2d], c[2d+1]; d < *lo repeats src 0, d >= *hi the last. */
static void linear_exact_coeffs(int src_size, int dst_size, int *ofs, uint16_t *c, int *lo,
                                int *hi) {
    double inv_scale = (double)dst_size / (double)src_size;
    double scale = 1.0 / inv_scale;
    *lo = 0;
    *hi = dst_size;
    for (int d = 0; d < dst_size; d++) {
        double f = scale * ((double)d + 0.5) - 0.5;
        int i = (int)floor(f);
        ofs[d] = 0;
        c[2 * d] = 256;
        c[2 * d + 1] = 0;
        if (i >= 0 && src_size > 1) {
            if (i < src_size - 1) {
                int c1 = (int)lrint((f - (double)i) * 256.0);
                ofs[d] = i;
                c[2 * d + 1] = (uint16_t)c1;
                c[2 * d] = (uint16_t)(256 - c1);
            } else {
                ofs[d] = src_size - 1;
                if (d < *hi) *hi = d;
            }
        } else if (d + 1 > *lo) {
            *lo = d + 1;
        }
    }
}

/* One source row resampled horizontally, in Q8 (value * 256). */
static void hline_exact(const uint8_t *src, const scale_plan *s, uint16_t *out) {
    int d = 0, w = s->width;
    for (; d < s->xlo && d < w; d++) out[d] = (uint16_t)(src[0] << 8);
    for (; d < s->xhi; d++) {
        const uint8_t *px = src + s->xofs[d];
        out[d] = (uint16_t)(s->xc[2 * d] * px[0] + s->xc[2 * d + 1] * px[1]);
    }
    uint16_t last = (uint16_t)(src[s->xofs[w - 1]] << 8);
    for (; d < w; d++) out[d] = last;
}

/* Row y of the scaled image as cv::resize(gray, ..., INTER_LINEAR_EXACT) makes it (a copy
 * when the size is unchanged): Q8 horizontal pass, Q16 vertical pass, rounded. */
static void resize_row(const uint8_t *gray, int gw, int gh, const scale_plan *s, int y,
                       uint16_t *hline, uint8_t *out) {
    if (s->width == gw && s->height == gh) {
        memcpy(out, gray + (size_t)y * (size_t)gw, (size_t)gw);
        return;
    }
    int w = s->width;
    if (y < s->ylo || y >= s->yhi) {
        /* Above the first or below the last source row: that row, rounded from Q8. */
        hline_exact(gray + (size_t)(y < s->ylo ? 0 : gh - 1) * (size_t)gw, s, hline);
        for (int x = 0; x < w; x++) out[x] = (uint8_t)((hline[x] + 128u) >> 8);
        return;
    }
    const uint8_t *src = gray + (size_t)s->yofs[y] * (size_t)gw;
    hline_exact(src, s, hline);
    hline_exact(src + gw, s, hline + w);
    uint32_t c0 = s->yc[2 * y], c1 = s->yc[2 * y + 1];
    for (int x = 0; x < w; x++)
        out[x] = (uint8_t)((hline[x] * c0 + hline[w + x] * c1 + 32768u) >> 16);
}

/* Integral and squared integral (32-bit, wrapping) of rows x cols pixels. */
static void integrals(const uint8_t *pixels, int cols, int rows, uint32_t *sum, uint32_t *sqsum,
                      size_t stride) {
    memset(sum, 0, ((size_t)cols + 1) * sizeof *sum);
    memset(sqsum, 0, ((size_t)cols + 1) * sizeof *sqsum);
    for (int y = 0; y < rows; y++) {
        const uint8_t *row = pixels + (size_t)y * (size_t)cols;
        uint32_t *s = sum + (size_t)(y + 1) * stride, *q = sqsum + (size_t)(y + 1) * stride;
        uint32_t run = 0, sq_run = 0;
        s[0] = q[0] = 0;
        for (int x = 0; x < cols; x++) {
            uint32_t v = row[x];
            run += v;
            sq_run += v * v;
            s[x + 1] = s[x + 1 - stride] + run;
            q[x + 1] = q[x + 1 - stride] + sq_run;
        }
    }
}

static int push_hit(hit_list *list, int_rect r) {
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 16;
        int_rect *grown = realloc(list->rects, capacity * sizeof *grown);
        if (!grown) return 0;
        list->rects = grown;
        list->capacity = capacity;
    }
    list->rects[list->count++] = r;
    return 1;
}

/* Runs the windows of one band; returns 0 when out of memory. */
static int run_band(const cascade *c, const uint8_t *gray, int gw, int gh, const scale_plan *s,
                    const band_task *task, const feature_offsets *features, const int norm_ofs[4],
                    double norm_area, size_t stride, band_buffers *buf, hit_list *hits) {
    int rows = task->y1 - 1 + c->window_height - task->y0;
    if (task->y0 + rows > s->height) rows = s->height - task->y0;
    for (int r = 0; r < rows; r++)
        resize_row(gray, gw, gh, s, task->y0 + r, buf->hline,
                   buf->pixels + (size_t)r * (size_t)s->width);
    integrals(buf->pixels, s->width, rows, buf->sum, buf->sqsum, stride);
    int work_w = s->width + 1 - c->window_width;
    int step = s->factor >= 2.0f ? 1 : 2;
    int win_w = round_float((float)c->window_width * s->factor);
    int win_h = round_float((float)c->window_height * s->factor);
    for (int y = task->y0; y < task->y1; y += step) {
        size_t row = (size_t)(y - task->y0) * stride;
        for (int x = 0; x < work_w; x += step) {
            int verdict = run_window(c, features, norm_ofs, norm_area, buf->sum + row + x,
                                     buf->sqsum + row + x);
            if (verdict > 0) {
                int_rect r = {round_float((float)x * s->factor), round_float((float)y * s->factor),
                              win_w, win_h};
                if (!push_hit(hits, r)) return 0;
            }
            if (verdict == 0) x += step; /* rejected by the first stage: skip one more */
        }
    }
    return 1;
}

static relage_status to_gray(const image *img, uint8_t **out) {
    size_t count = (size_t)img->width * (size_t)img->height;
    uint8_t *gray = malloc(count);
    if (!gray) return relage_fail(RELAGE_ERR_NOMEM, "cascade: cannot allocate %zu bytes", count);
    if (img->channels == 1) {
        memcpy(gray, img->data, count);
    } else {
        for (size_t i = 0; i < count; i++) {
            const uint8_t *p = img->data + 3 * i;
            gray[i] = (uint8_t)((9798u * p[0] + 19235u * p[1] + 3735u * p[2] + 16384u) >> 15);
        }
    }
    *out = gray;
    return RELAGE_OK;
}

/* OpenCV's SimilarRects. */
static int similar_rects(const int_rect *a, const int_rect *b, double eps) {
    double delta = eps * (double)((a->w < b->w ? a->w : b->w) + (a->h < b->h ? a->h : b->h)) * 0.5;
    return fabs((double)(a->x - b->x)) <= delta && fabs((double)(a->y - b->y)) <= delta &&
           fabs((double)(a->x + a->w - b->x - b->w)) <= delta &&
           fabs((double)(a->y + a->h - b->y - b->h)) <= delta;
}

static int find_root(int *parent, int i) {
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    return i;
}

/* OpenCV's groupRectangles(rects, group_threshold, eps) in place; *n is updated. */
static relage_status group_rectangles(int_rect *rects, size_t *n, int group_threshold, double eps) {
    relage_status st = RELAGE_OK;
    size_t count = *n, classes = 0, kept = 0;
    int *parent = NULL, *label = NULL, *weight = NULL;
    int_rect *mean = NULL;
    if (group_threshold <= 0 || count == 0) goto cleanup;
    if (count > INT_MAX) {
        st = relage_fail(RELAGE_ERR_NOMEM, "cascade: %zu raw detections", count);
        goto cleanup;
    }
    parent = malloc(count * sizeof *parent);
    label = malloc(count * sizeof *label);
    weight = calloc(count, sizeof *weight);
    mean = calloc(count, sizeof *mean);
    if (!parent || !label || !weight || !mean) {
        st = relage_fail(RELAGE_ERR_NOMEM, "cascade: cannot group %zu detections", count);
        goto cleanup;
    }
    for (size_t i = 0; i < count; i++) parent[i] = (int)i;
    for (size_t i = 0; i < count; i++)
        for (size_t j = i + 1; j < count; j++)
            if (similar_rects(&rects[i], &rects[j], eps)) {
                int a = find_root(parent, (int)i), b = find_root(parent, (int)j);
                if (a != b) parent[b] = a;
            }
    /* Classes numbered in order of first appearance, as cv::partition does. */
    for (size_t i = 0; i < count; i++) label[i] = -1;
    for (size_t i = 0; i < count; i++) {
        int root = find_root(parent, (int)i);
        if (label[root] < 0) label[root] = (int)classes++;
        int cls = label[root];
        mean[cls].x += rects[i].x;
        mean[cls].y += rects[i].y;
        mean[cls].w += rects[i].w;
        mean[cls].h += rects[i].h;
        weight[cls]++;
    }
    for (size_t k = 0; k < classes; k++) {
        float s = 1.0f / (float)weight[k];
        mean[k].x = round_float((float)mean[k].x * s);
        mean[k].y = round_float((float)mean[k].y * s);
        mean[k].w = round_float((float)mean[k].w * s);
        mean[k].h = round_float((float)mean[k].h * s);
    }
    for (size_t i = 0; i < classes; i++) {
        const int_rect *r1 = &mean[i];
        int n1 = weight[i];
        if (n1 <= group_threshold) continue;
        size_t j;
        for (j = 0; j < classes; j++) {
            int n2 = weight[j];
            if (j == i || n2 <= group_threshold) continue;
            const int_rect *r2 = &mean[j];
            int dx = round_double((double)r2->w * eps), dy = round_double((double)r2->h * eps);
            if (r1->x >= r2->x - dx && r1->y >= r2->y - dy && r1->x + r1->w <= r2->x + r2->w + dx &&
                r1->y + r1->h <= r2->y + r2->h + dy && (n2 > (n1 > 3 ? n1 : 3) || n1 < 3))
                break;
        }
        if (j == classes) rects[kept++] = *r1;
    }
    *n = kept;
cleanup:
    free(parent);
    free(label);
    free(weight);
    free(mean);
    return st;
}

static int compare_by_area(const void *pa, const void *pb) {
    const int_rect *a = pa, *b = pb;
    long long area_a = (long long)a->w * a->h, area_b = (long long)b->w * b->h;
    if (area_a != area_b) return area_a > area_b ? -1 : 1;
    if (a->y != b->y) return a->y < b->y ? -1 : 1;
    if (a->x != b->x) return a->x < b->x ? -1 : 1;
    return 0;
}

/* The scales OpenCV's detectMultiScale uses, with their resampling tables, and the band tasks
 * over them. Returns RELAGE_OK with *plan_count 0 when no window fits. */
static relage_status plan_scales(const cascade *c, int gw, int gh, const cascade_params *p,
                                 scale_plan **plans_out, int *plan_count, band_task **tasks_out,
                                 size_t *task_count) {
    relage_status st = RELAGE_OK;
    scale_plan *plans = NULL;
    band_task *tasks = NULL;
    int count = 0, capacity = 0, iterations = 0;
    size_t ntasks = 0;
    int max_w = p->max_size ? p->max_size : gw, max_h = p->max_size ? p->max_size : gh;
    for (double factor = 1.0;; factor *= p->scale_factor) {
        double fw = (double)c->window_width * factor, fh = (double)c->window_height * factor;
        if (fw > (double)gw + 1.0 || fh > (double)gh + 1.0) break; /* also keeps lrint in range */
        int win_w = round_double(fw), win_h = round_double(fh);
        if (win_w > max_w || win_h > max_h || win_w > gw || win_h > gh) break;
        if (++iterations > MAX_SCALES) {
            st = relage_fail(RELAGE_ERR_INVALID_ARG,
                             "cascade_detect: scale_factor %.17g needs more than %d scales",
                             p->scale_factor, MAX_SCALES);
            goto cleanup;
        }
        if (win_w < p->min_size || win_h < p->min_size) continue;
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            scale_plan *grown = realloc(plans, (size_t)capacity * sizeof *plans);
            if (!grown) {
                st = relage_fail(RELAGE_ERR_NOMEM, "cascade_detect: out of memory");
                goto cleanup;
            }
            plans = grown;
        }
        scale_plan *s = &plans[count++];
        memset(s, 0, sizeof *s);
        s->factor = (float)factor;
        s->width = round_float((float)gw / s->factor);
        s->height = round_float((float)gh / s->factor);
        int work_h = s->height + 1 - c->window_height;
        if (s->width + 1 - c->window_width > 0 && work_h > 0)
            ntasks += (size_t)((work_h + BAND_ROWS - 1) / BAND_ROWS);
    }
    for (int k = 0; k < count; k++) {
        scale_plan *s = &plans[k];
        if (s->width <= 0 || s->height <= 0) continue;
        s->xofs = malloc((size_t)s->width * sizeof *s->xofs);
        s->yofs = malloc((size_t)s->height * sizeof *s->yofs);
        s->xc = malloc((size_t)s->width * 2 * sizeof *s->xc);
        s->yc = malloc((size_t)s->height * 2 * sizeof *s->yc);
        if (!s->xofs || !s->yofs || !s->xc || !s->yc) {
            st = relage_fail(RELAGE_ERR_NOMEM, "cascade_detect: out of memory");
            goto cleanup;
        }
        linear_exact_coeffs(gw, s->width, s->xofs, s->xc, &s->xlo, &s->xhi);
        linear_exact_coeffs(gh, s->height, s->yofs, s->yc, &s->ylo, &s->yhi);
    }
    if (ntasks) {
        tasks = malloc(ntasks * sizeof *tasks);
        if (!tasks) {
            st = relage_fail(RELAGE_ERR_NOMEM, "cascade_detect: out of memory");
            goto cleanup;
        }
    }
    size_t t = 0;
    for (int k = 0; k < count; k++) {
        const scale_plan *s = &plans[k];
        int work_h = s->height + 1 - c->window_height;
        if (s->width + 1 - c->window_width <= 0 || work_h <= 0) continue;
        for (int y0 = 0; y0 < work_h; y0 += BAND_ROWS) {
            band_task task = {k, y0, y0 + BAND_ROWS < work_h ? y0 + BAND_ROWS : work_h};
            tasks[t++] = task;
        }
    }
    *plans_out = plans;
    *plan_count = count;
    *tasks_out = tasks;
    *task_count = ntasks;
    plans = NULL;
    tasks = NULL;
cleanup:
    if (plans)
        for (int k = 0; k < count; k++) {
            free(plans[k].xofs);
            free(plans[k].yofs);
            free(plans[k].xc);
            free(plans[k].yc);
        }
    free(plans);
    free(tasks);
    return st;
}

relage_status cascade_detect(const cascade *c, const image *img, const cascade_params *p,
                             float (**boxes)[4], size_t *n) {
    relage_status st = RELAGE_OK;
    cascade_params params = p ? *p : cascade_default_params();
    uint8_t *gray = NULL;
    scale_plan *plans = NULL;
    int plan_count = 0;
    band_task *tasks = NULL;
    size_t task_count = 0;
    hit_list *hits = NULL;
    feature_offsets *features = NULL;
    int_rect *rects = NULL;
    size_t rect_count = 0;
    float(*result)[4] = NULL;
    int out_of_memory = 0;
    if (boxes) *boxes = NULL;
    if (n) *n = 0;
    if (!c || !img || !boxes || !n) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "cascade_detect: NULL argument");
        goto cleanup;
    }
    if (!img->data || img->width <= 0 || img->height <= 0 ||
        (img->channels != 1 && img->channels != 3)) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG,
                         "cascade_detect: image %dx%d with %d channels (need 1 or 3, and pixels)",
                         img->width, img->height, img->channels);
        goto cleanup;
    }
    if (!(params.scale_factor > 1.0) || !isfinite(params.scale_factor) ||
        params.min_neighbors < 0 || params.min_size < 0 || params.max_size < 0) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG,
                         "cascade_detect: scale_factor %g (must be > 1), min_neighbors %d, "
                         "min_size %d, max_size %d (must be >= 0)",
                         params.scale_factor, params.min_neighbors, params.min_size,
                         params.max_size);
        goto cleanup;
    }
    st = plan_scales(c, img->width, img->height, &params, &plans, &plan_count, &tasks, &task_count);
    if (st != RELAGE_OK || task_count == 0) goto cleanup;
    st = to_gray(img, &gray);
    if (st != RELAGE_OK) goto cleanup;

    /* The first scale's image is the widest; every band integral uses its stride. */
    int widest = plans[0].width;
    size_t stride = (size_t)widest + 1;
    features = malloc((size_t)c->feature_count * sizeof *features);
    hits = calloc(task_count, sizeof *hits);
    if (!features || !hits) {
        st = relage_fail(RELAGE_ERR_NOMEM, "cascade_detect: out of memory");
        goto cleanup;
    }
    for (int f = 0; f < c->feature_count; f++) {
        for (int r = 0; r < 3; r++) {
            const haar_rect *hr = &c->features[f].rect[r];
            sum_offsets(features[f].ofs[r], hr->x, hr->y, hr->w, hr->h, (int)stride);
            features[f].weight[r] = hr->weight;
        }
    }
    int norm_ofs[4];
    sum_offsets(norm_ofs, 1, 1, c->window_width - 2, c->window_height - 2, (int)stride);
    double norm_area = (double)(c->window_width - 2) * (double)(c->window_height - 2);
    size_t band_rows = (size_t)BAND_ROWS + (size_t)c->window_height;

#pragma omp parallel
    {
        band_buffers buf;
        buf.pixels = malloc(band_rows * (size_t)widest);
        buf.sum = malloc((band_rows + 1) * stride * sizeof *buf.sum);
        buf.sqsum = malloc((band_rows + 1) * stride * sizeof *buf.sqsum);
        buf.hline = malloc(2 * (size_t)widest * sizeof *buf.hline);
        int ok = buf.pixels && buf.sum && buf.sqsum && buf.hline;
#pragma omp for schedule(dynamic, 1)
        for (size_t t = 0; t < task_count; t++) {
            if (!ok) continue;
            const band_task *task = &tasks[t];
            if (!run_band(c, gray, img->width, img->height, &plans[task->scale], task, features,
                          norm_ofs, norm_area, stride, &buf, &hits[t]))
                ok = 0;
        }
        if (!ok) {
#pragma omp atomic write
            out_of_memory = 1;
        }
        free(buf.pixels);
        free(buf.sum);
        free(buf.sqsum);
        free(buf.hline);
    }
    if (out_of_memory) {
        st = relage_fail(RELAGE_ERR_NOMEM, "cascade_detect: out of memory in a detection thread");
        goto cleanup;
    }

    for (size_t t = 0; t < task_count; t++) rect_count += hits[t].count;
    if (rect_count == 0) goto cleanup;
    rects = malloc(rect_count * sizeof *rects);
    if (!rects) {
        st = relage_fail(RELAGE_ERR_NOMEM, "cascade_detect: %zu detections", rect_count);
        goto cleanup;
    }
    rect_count = 0;
    for (size_t t = 0; t < task_count; t++) {
        if (hits[t].count) memcpy(rects + rect_count, hits[t].rects, hits[t].count * sizeof *rects);
        rect_count += hits[t].count;
    }
    st = group_rectangles(rects, &rect_count, params.min_neighbors, GROUP_EPS);
    if (st != RELAGE_OK) goto cleanup;
    size_t kept =
        0; /* clipped to the image, empty ones dropped (CascadeClassifier's clipObjects) */
    for (size_t i = 0; i < rect_count; i++) {
        int x1 = rects[i].x > 0 ? rects[i].x : 0, y1 = rects[i].y > 0 ? rects[i].y : 0;
        int x2 = rects[i].x + rects[i].w, y2 = rects[i].y + rects[i].h;
        if (x2 > img->width) x2 = img->width;
        if (y2 > img->height) y2 = img->height;
        if (x2 > x1 && y2 > y1) rects[kept++] = (int_rect){x1, y1, x2 - x1, y2 - y1};
    }
    rect_count = kept;
    if (rect_count == 0) goto cleanup;
    qsort(rects, rect_count, sizeof *rects, compare_by_area);
    result = malloc(rect_count * sizeof *result);
    if (!result) {
        st = relage_fail(RELAGE_ERR_NOMEM, "cascade_detect: out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < rect_count; i++) {
        result[i][0] = (float)rects[i].x;
        result[i][1] = (float)rects[i].y;
        result[i][2] = (float)(rects[i].x + rects[i].w);
        result[i][3] = (float)(rects[i].y + rects[i].h);
    }
    *boxes = result;
    *n = rect_count;
cleanup:
    free(gray);
    if (plans)
        for (int k = 0; k < plan_count; k++) {
            free(plans[k].xofs);
            free(plans[k].yofs);
            free(plans[k].xc);
            free(plans[k].yc);
        }
    free(plans);
    free(tasks);
    if (hits)
        for (size_t t = 0; t < task_count; t++) free(hits[t].rects);
    free(hits);
    free(features);
    free(rects);
    return st;
}
