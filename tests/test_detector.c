/* The face policy: its text form, the whole-image fallback, margins and squares. */
#include <math.h>

#include "detect/detector.h"
#include "test.h"

static void test_format_parse(void) {
    face_policy p = face_policy_paper(), q;
    char text[64];
    face_policy_format(&p, text, sizeof text);
    CHECK(strcmp(text, "largest margin=0 square=0") == 0);
    p.all = 1, p.margin = 0.25f, p.square = 1;
    face_policy_format(&p, text, sizeof text);
    CHECK(strcmp(text, "all margin=0.25 square=1") == 0);
    CHECK_OK(face_policy_parse(text, &q));
    CHECK(q.all == 1 && q.margin == 0.25f && q.square == 1);
    CHECK_FAILS(face_policy_parse("biggest margin=0 square=0", &q), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(face_policy_parse("largest margin=-1 square=0", &q), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(face_policy_parse("largest margin=0 square=2", &q), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(face_policy_parse("largest margin=0 square=0 extra", &q), RELAGE_ERR_INVALID_ARG);
    CHECK_FAILS(face_policy_parse("", &q), RELAGE_ERR_INVALID_ARG);
}

static void test_apply(void) {
    face_detection faces[2] = {{{10, 20, 50, 100}, 0.99f, {{0}}}, {{0, 0, 10, 10}, 0.9f, {{0}}}};
    float r[4][4];
    int whole = -1;
    face_policy p = face_policy_paper();
    CHECK_INT_EQ(face_policy_apply(&p, NULL, 0, 640, 480, r, 4, &whole), 1);
    CHECK(whole == 1 && r[0][0] == 0 && r[0][1] == 0 && r[0][2] == 640 && r[0][3] == 480);
    CHECK_INT_EQ(face_policy_apply(&p, faces, 2, 640, 480, r, 4, &whole), 1);
    CHECK(whole == 0 && r[0][0] == 10 && r[0][3] == 100);
    p.all = 1;
    CHECK_INT_EQ(face_policy_apply(&p, faces, 2, 640, 480, r, 4, &whole), 2);
    CHECK_INT_EQ(face_policy_apply(&p, faces, 2, 640, 480, r, 1, &whole), 1);
    /* margin 0.25 of the larger side (80) = 20 on every side; square: side 120 around the
     * centre (30, 60) */
    p.margin = 0.25f;
    face_policy_apply(&p, faces, 1, 640, 480, r, 4, &whole);
    CHECK(r[0][0] == -10 && r[0][1] == 0 && r[0][2] == 70 && r[0][3] == 120);
    p.square = 1;
    face_policy_apply(&p, faces, 1, 640, 480, r, 4, &whole);
    CHECK(r[0][0] == -30 && r[0][1] == 0 && r[0][2] == 90 && r[0][3] == 120);
}

/* Cascade boxes as MTCNN's: the centre kept, 0.818 of the width, 1.019 of the height. */
static void test_as_mtcnn(void) {
    face_detection f[2] = {{.box = {100, 50, 200, 150}}, {.box = {0, 0, 10, 20}}};
    face_boxes_as_mtcnn(f, 2);
    CHECK_NEAR(f[0].box[0], 109.1, 1e-4);
    CHECK_NEAR(f[0].box[1], 49.05, 1e-4);
    CHECK_NEAR(f[0].box[2], 190.9, 1e-4);
    CHECK_NEAR(f[0].box[3], 150.95, 1e-4);
    CHECK_NEAR(f[1].box[0], 0.91, 1e-5);
    CHECK_NEAR(f[1].box[3], 20.19, 1e-4);
}

int main(void) {
    test_format_parse();
    test_apply();
    test_as_mtcnn();
    return test_summary("test_detector");
}
