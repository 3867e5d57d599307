/* Haar cascade detector: a tiny hand-written cascade (parser and detection path, always run),
 * malformed files (clear errors, no crash), and, when Debian's opencv-data and
 * shared/examples are present, OpenCV's frontal face cascade on the example images. The expected
 * boxes and raw hit counts were produced by OpenCV 4.6.0 (Debian python3-opencv):
 *   cv2.CascadeClassifier(xml).detectMultiScale(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), 1.1, n)
 * astronaut.png: n=3 -> [[177, 66, 95, 95]], n=0 -> 47 boxes; coffee.png: none, 2 raw;
 * chelsea.png: none, 7 raw. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "detect/cascade.h"
#include "image/image.h"
#include "test.h"

/* shared/ lies beside the repository (as test_mtcnn.c finds it). */
#define EXAMPLES RELAGE_FIXTURES "/../../../shared/examples"

static char tmp_dir[200];
static char written[64][64]; /* names written in tmp_dir, removed at the end */
static int written_count;

static int file_exists(const char *path) {
    return access(path, R_OK) == 0;
}

/* Writes text (len bytes) to tmp_dir/name; returns the path in a static buffer. */
static const char *write_temp(const char *name, const char *text, size_t len) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    int known = 0;
    for (int i = 0; i < written_count; i++) known |= strcmp(written[i], name) == 0;
    if (!known && written_count < 64) snprintf(written[written_count++], 64, "%s", name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fwrite(text, 1, len, f);
    fclose(f);
    return path;
}

/* One stage, one weak classifier on feature 0: value = 2 * sum(right half) - sum(window), i.e.
 * right minus left. Fires where the right half is brighter. The tree form is the same
 * classifier as a two-node tree, to exercise the general path. */
static const char *mini_stump =
    "<?xml version=\"1.0\"?>\n"
    "<!-- a hand-made cascade -->\n"
    "<opencv_storage>\n"
    "<cascade type_id=\"opencv-cascade-classifier\"><stageType>BOOST</stageType>\n"
    "  <featureType>HAAR</featureType>\n"
    "  <height>24</height>\n"
    "  <width>24</width>\n"
    "  <stageParams>\n"
    "    <maxWeakCount>1</maxWeakCount></stageParams>\n"
    "  <featureParams>\n"
    "    <maxCatCount>0</maxCatCount></featureParams>\n"
    "  <stageNum>1</stageNum>\n"
    "  <stages>\n"
    "    <_>\n"
    "      <maxWeakCount>1</maxWeakCount>\n"
    "      <stageThreshold>0.</stageThreshold>\n"
    "      <weakClassifiers>\n"
    "        <_>\n"
    "          <internalNodes>\n"
    "            0 -1 0 0.</internalNodes>\n"
    "          <leafValues>\n"
    "            -1. 1.</leafValues></_></weakClassifiers></_></stages>\n"
    "  <features>\n"
    "    <_>\n"
    "      <rects>\n"
    "        <_>\n"
    "          0 0 24 24 -1.</_>\n"
    "        <_>\n"
    "          12 0 12 24 2.</_></rects></_></features></cascade>\n"
    "</opencv_storage>\n";

/* Replaces the first occurrence of from in text by to; the result is malloc'ed. */
static char *replace(const char *text, const char *from, const char *to) {
    const char *at = strstr(text, from);
    if (!at) {
        fprintf(stderr, "fixture bug: '%s' not found\n", from);
        exit(1);
    }
    size_t head = (size_t)(at - text), from_len = strlen(from), to_len = strlen(to);
    char *out = malloc(strlen(text) - from_len + to_len + 1);
    memcpy(out, text, head);
    memcpy(out + head, to, to_len);
    strcpy(out + head + to_len, at + from_len);
    return out;
}

/* A 96x48 image, dark left half and bright right half (or mirrored), with a little texture so
 * that no window is flat. */
static image edge_image(int bright_right) {
    image img = {0};
    if (image_alloc(&img, 96, 48, 3) != RELAGE_OK) exit(1);
    for (int y = 0; y < img.height; y++)
        for (int x = 0; x < img.width; x++) {
            int right = x >= img.width / 2;
            int v = (right == bright_right ? 200 : 40) + ((x * 7 + y * 13) % 11);
            for (int ch = 0; ch < 3; ch++) img.data[(y * img.width + x) * 3 + ch] = (uint8_t)v;
        }
    return img;
}

static size_t detect_count(const cascade *c, const image *img, int min_neighbors) {
    cascade_params p = cascade_default_params();
    p.min_neighbors = min_neighbors;
    float(*boxes)[4] = NULL;
    size_t n = 0;
    CHECK_OK(cascade_detect(c, img, &p, &boxes, &n));
    free(boxes);
    return n;
}

static void test_mini_cascade(void) {
    cascade *stumps = NULL, *tree = NULL;
    const char *path = write_temp("mini.xml", mini_stump, strlen(mini_stump));
    CHECK_OK(cascade_load(&stumps, path));
    char *tree_text =
        replace(mini_stump, "0 -1 0 0.</internalNodes>", "1 0 0 0. -1 -2 0 -1e30</internalNodes>");
    char *tree_text2 = replace(tree_text, "-1. 1.</leafValues>", "1. -1. -1.</leafValues>");
    path = write_temp("mini_tree.xml", tree_text2, strlen(tree_text2));
    CHECK_OK(cascade_load(&tree, path));
    free(tree_text);
    free(tree_text2);
    if (!stumps || !tree) goto cleanup;
    int w, h;
    cascade_window_size(stumps, &w, &h);
    CHECK_INT_EQ(w, 24);
    CHECK_INT_EQ(h, 24);

    image bright_right = edge_image(1), bright_left = edge_image(0);
    size_t hits_right = detect_count(stumps, &bright_right, 0);
    size_t hits_left = detect_count(stumps, &bright_left, 0);
    printf("edge cascade: %zu raw hits with the bright half right, %zu left\n", hits_right,
           hits_left);
    CHECK(hits_right > 0);
    CHECK(hits_right > hits_left);
    CHECK_INT_EQ(detect_count(tree, &bright_right, 0), hits_right);
    CHECK_INT_EQ(detect_count(tree, &bright_left, 0), hits_left);
    /* Grouping keeps fewer boxes than the raw hits, each backed by more than 3. */
    CHECK(detect_count(stumps, &bright_right, 3) < hits_right);

    /* A gray image gives the same as the RGB one it was made from (all channels equal). */
    image gray = {0};
    CHECK_OK(image_alloc(&gray, bright_right.width, bright_right.height, 1));
    for (int i = 0; i < gray.width * gray.height; i++) gray.data[i] = bright_right.data[3 * i];
    CHECK_INT_EQ(detect_count(stumps, &gray, 0), hits_right);

    /* Smaller than the window: no scale fits, no boxes, no error. */
    image tiny = {0};
    CHECK_OK(image_alloc(&tiny, 23, 40, 3));
    CHECK_INT_EQ(detect_count(stumps, &tiny, 0), 0);

    /* Bad arguments. */
    cascade_params p = cascade_default_params();
    float(*boxes)[4] = NULL;
    size_t n = 7;
    p.scale_factor = 1.0;
    CHECK_FAILS(cascade_detect(stumps, &bright_right, &p, &boxes, &n), RELAGE_ERR_INVALID_ARG);
    CHECK(boxes == NULL && n == 0);
    p.scale_factor = 1.0000001;
    CHECK_FAILS(cascade_detect(stumps, &bright_right, &p, &boxes, &n), RELAGE_ERR_INVALID_ARG);
    p = cascade_default_params();
    p.min_neighbors = -1;
    CHECK_FAILS(cascade_detect(stumps, &bright_right, &p, &boxes, &n), RELAGE_ERR_INVALID_ARG);
    image four = bright_right;
    four.channels = 4;
    CHECK_FAILS(cascade_detect(stumps, &four, NULL, &boxes, &n), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(cascade_detect(NULL, &bright_right, NULL, &boxes, &n), RELAGE_ERR_INVALID_ARG);
    image_free(&bright_right);
    image_free(&bright_left);
    image_free(&gray);
    image_free(&tiny);
cleanup:
    cascade_free(stumps);
    cascade_free(tree);
    cascade_free(NULL);
}

/* Loading text written to name must fail with status and an error naming the file and
 * containing needle. */
static void expect_load_error(const char *name, const char *text, size_t len, relage_status status,
                              const char *needle) {
    const char *path = write_temp(name, text, len);
    cascade *c = (cascade *)&c; /* must come back NULL */
    relage_status st = cascade_load(&c, path);
    test_checks++;
    if (st != status || c != NULL || !strstr(relage_last_error(), path) ||
        !strstr(relage_last_error(), needle)) {
        test_failures++;
        fprintf(stderr, "%s: got %s '%s', expected %s with '%s'\n", name, relage_status_string(st),
                relage_last_error(), relage_status_string(status), needle);
    }
    if (st == RELAGE_OK) cascade_free(c);
}

static void expect_mutation_error(const char *name, const char *from, const char *to,
                                  relage_status status, const char *needle) {
    char *text = replace(mini_stump, from, to);
    expect_load_error(name, text, strlen(text), status, needle);
    free(text);
}

static void test_malformed(void) {
    const relage_status F = RELAGE_ERR_FORMAT, U = RELAGE_ERR_UNSUPPORTED;
    const char *no_cascade = "<opencv_storage></opencv_storage>";
    const char *old_root = "<opencv_storage><haar type_id=\"opencv-haar-classifier\"></haar>"
                           "</opencv_storage>";
    expect_load_error("empty.xml", "", 0, F, "no XML element");
    expect_load_error("text.xml", "hello", 5, F, "not an XML file");
    expect_load_error("other_root.xml", "<a></a>", 7, F, "expected <opencv_storage>");
    expect_load_error("no_cascade.xml", no_cascade, strlen(no_cascade), F, "has no <cascade>");
    expect_load_error("truncated.xml", mini_stump, strlen(mini_stump) / 2, F, "truncated");
    expect_mutation_error("no_stages.xml", "<stages>", "<stagez>", F, "</stages> closes <stagez>");
    char *no_stages = replace(mini_stump, "<stages>", "<stagez>");
    char *no_stages2 = replace(no_stages, "</_></stages>", "</_></stagez>");
    expect_load_error("no_stages2.xml", no_stages2, strlen(no_stages2), F, "has no <stages>");
    free(no_stages);
    free(no_stages2);
    expect_mutation_error("stage_num.xml", "<stageNum>1<", "<stageNum>2<", F,
                          "<stageNum> says 2 stages");
    expect_mutation_error("weak_count.xml", "<maxWeakCount>1</maxWeakCount>\n      <stageT",
                          "<maxWeakCount>3</maxWeakCount>\n      <stageT", F,
                          "1 weak classifiers but maxWeakCount 3");
    expect_mutation_error("feature_idx.xml", "0 -1 0 0.</internalNodes>",
                          "0 -1 5 0.</internalNodes>", F, "out of range");
    expect_mutation_error("node_count.xml", "0 -1 0 0.</internalNodes>", "0 -1 0</internalNodes>",
                          F, "expected 4 per node");
    expect_mutation_error("leaves.xml", "-1. 1.</leafValues>", "-1. 1. 3.</leafValues>", F,
                          "must hold 2 values");
    expect_mutation_error("not_number.xml", "-1. 1.</leafValues>", "-1. abc</leafValues>", F,
                          "'abc' is not a finite number");
    expect_mutation_error("nan.xml", "-1. 1.</leafValues>", "-1. nan</leafValues>", F,
                          "not a finite number");
    expect_mutation_error("rect.xml", "12 0 12 24 2.", "13 0 12 24 2.", F, "outside the 24x24");
    expect_mutation_error("rect_short.xml", "12 0 12 24 2.", "12 0 12 2.", F,
                          "has 4 numbers, expected 5");
    expect_mutation_error("width.xml", "<width>24<", "<width>0<", F, "<width> is 0");
    expect_mutation_error("tag.xml", "</featureType>", "</featuretype>", F,
                          "</featuretype> closes <featureType>");
    expect_mutation_error("attr.xml", "type_id=\"opencv-cascade-classifier\"", "type_id=", F,
                          "unquoted attribute");
    expect_mutation_error("lbp.xml", "<featureType>HAAR", "<featureType>LBP", U,
                          "only HAAR is supported");
    expect_mutation_error("tilted.xml", "2.</_></rects>", "2.</_></rects><tilted>1</tilted>", U,
                          "tilted");
    expect_mutation_error("old_style.xml", "<cascade type_id=\"opencv-cascade-classifier\">",
                          "<cascade type_id=\"opencv-haar-classifier\">", U,
                          "expected opencv-cascade-classifier");
    expect_load_error("old_root.xml", old_root, strlen(old_root), U, "old-style cascade");

    /* Every truncation of a valid file fails cleanly until the root element closes. */
    size_t full = strlen(mini_stump),
           root_end = (size_t)(strstr(mini_stump, "</opencv_storage>") - mini_stump) +
                      strlen("</opencv_storage>");
    int wrong = 0;
    for (size_t len = 0; len < full; len++) {
        const char *path = write_temp("cut.xml", mini_stump, len);
        cascade *c = NULL;
        relage_status st = cascade_load(&c, path);
        if ((len < root_end) != (st == RELAGE_ERR_FORMAT) || (st == RELAGE_OK) != (c != NULL)) {
            if (wrong++ < 3)
                fprintf(stderr, "cut at %zu: %s '%s'\n", len, relage_status_string(st),
                        relage_last_error());
        }
        cascade_free(c);
    }
    CHECK_INT_EQ(wrong, 0);

    cascade *c = NULL;
    CHECK_FAILS(cascade_load(&c, "/nonexistent/cascade.xml"), RELAGE_ERR_IO);
    CHECK(strstr(relage_last_error(), "/nonexistent/cascade.xml") != NULL);
    CHECK_FAILS(cascade_load(&c, tmp_dir), RELAGE_ERR_IO); /* a directory */
}

/* Intersection over union of two [x1, y1, x2, y2] boxes. */
static double iou(const float a[4], const float b[4]) {
    double ix = fmin((double)a[2], (double)b[2]) - fmax((double)a[0], (double)b[0]);
    double iy = fmin((double)a[3], (double)b[3]) - fmax((double)a[1], (double)b[1]);
    if (ix <= 0 || iy <= 0) return 0;
    double inter = ix * iy;
    double area_a = (double)(a[2] - a[0]) * (double)(a[3] - a[1]);
    double area_b = (double)(b[2] - b[0]) * (double)(b[3] - b[1]);
    return inter / (area_a + area_b - inter);
}

/* Detects with min_neighbors 3 and 0; returns the grouped boxes (caller frees). */
static float (*detect_example(const cascade *c, const char *name, size_t *n, size_t *raw))[4] {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", EXAMPLES, name);
    image img = {0};
    float(*boxes)[4] = NULL, (*raw_boxes)[4] = NULL;
    *n = *raw = 0;
    CHECK_OK(image_load(&img, path, NULL));
    if (!img.data) return NULL;
    cascade_params p = cascade_default_params();
    double t0 = clock_seconds();
    CHECK_OK(cascade_detect(c, &img, &p, &boxes, n));
    double t1 = clock_seconds();
    p.min_neighbors = 0;
    CHECK_OK(cascade_detect(c, &img, &p, &raw_boxes, raw));
    printf("%s (%dx%d): %zu face(s), %zu raw hits, %.1f ms\n", name, img.width, img.height, *n,
           *raw, (t1 - t0) * 1e3);
    for (size_t i = 0; i < *n; i++)
        printf("  [%g, %g, %g, %g]\n", (double)boxes[i][0], (double)boxes[i][1],
               (double)boxes[i][2], (double)boxes[i][3]);
    free(raw_boxes);
    image_free(&img);
    return boxes;
}

static void test_opencv_examples(void) {
    const char *xml = cascade_default_path();
    if (!file_exists(xml)) {
        printf("skipping the OpenCV cascade checks: %s is absent (Debian package opencv-data)\n",
               xml);
        return;
    }
    const char *names[] = {"astronaut.png", "coffee.png", "chelsea.png"};
    for (size_t i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", EXAMPLES, names[i]);
        if (!file_exists(path)) {
            printf("skipping the example images: %s is absent\n", path);
            return;
        }
    }
    cascade *c = NULL;
    CHECK_OK(cascade_load(&c, xml));
    if (!c) return;

    size_t n, raw;
    float(*boxes)[4] = detect_example(c, "astronaut.png", &n, &raw);
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(raw, 47);
    if (n >= 1) {
        const float opencv[4] = {177, 66, 177 + 95, 66 + 95};
        const float face[4] = {170, 60, 260, 180}; /* Eileen Collins' face, by eye */
        CHECK_ALLCLOSE("astronaut box vs OpenCV", boxes[0], opencv, 4, 0, 0);
        CHECK(iou(boxes[0], face) > 0.5);
    }
    free(boxes);

    boxes = detect_example(c, "coffee.png", &n, &raw);
    CHECK_INT_EQ(n, 0);
    CHECK_INT_EQ(raw, 2);
    free(boxes);

    /* The cat: OpenCV's frontal face cascade has 7 raw hits, none survives grouping. */
    boxes = detect_example(c, "chelsea.png", &n, &raw);
    CHECK_INT_EQ(n, 0);
    CHECK_INT_EQ(raw, 7);
    free(boxes);

    /* A truncated copy of the real file. */
    FILE *f = fopen(xml, "rb");
    if (f) {
        static char text[1 << 20];
        size_t len = fread(text, 1, sizeof text, f);
        fclose(f);
        expect_load_error("real_truncated.xml", text, len * 3 / 5, RELAGE_ERR_FORMAT, "truncated");
    }
    cascade_free(c);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base || strlen(base) > 150) base = "/tmp";
    snprintf(tmp_dir, sizeof tmp_dir, "%s/relage_cascade_XXXXXX", base);
    if (!mkdtemp(tmp_dir)) {
        fprintf(stderr, "cannot create a temporary directory\n");
        return 1;
    }
    test_mini_cascade();
    test_malformed();
    test_opencv_examples();

    for (int i = 0; i < written_count; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%.63s", tmp_dir, written[i]);
        unlink(path);
    }
    if (rmdir(tmp_dir) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
    return test_summary("test_cascade");
}
