/* The face cache: a round trip, resuming after an interruption (the last image is redone),
 * settings that do not match a partial file, and truncated or foreign files. */
#include <math.h>
#include <unistd.h>

#include "data/face_cache.h"
#include "test.h"

enum { SIZE = 8, PIXELS = SIZE * SIZE * 3 };

static face_entry entry(const char *name, int face, float age) {
    face_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.name, sizeof e.name, "%s", name);
    e.mean = age, e.std = NAN, e.real = age, e.gender = e.race = -1;
    e.face_index = face, e.prob = 0.9f;
    return e;
}

static face_cache_info info_of(const char *detector) {
    face_cache_info info;
    memset(&info, 0, sizeof info);
    info.size = SIZE;
    snprintf(info.policy, sizeof info.policy, "all margin=0 square=0");
    snprintf(info.detector, sizeof info.detector, "%s", detector);
    snprintf(info.source, sizeof info.source, "/data");
    return info;
}

int main(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/relage-test-cache-%d", (int)getpid());
    char partial[80];
    snprintf(partial, sizeof partial, "%s.partial", path);
    uint8_t px[PIXELS], got[PIXELS];
    face_cache_info info = info_of("mtcnn");
    uint64_t done = 99;

    /* an interrupted run: image a (2 faces), b (1 face), c (1 of its 2 faces) */
    face_cache_writer *w = NULL;
    CHECK_OK(face_cache_begin(&w, path, &info, 0, NULL, 0, &done));
    CHECK_INT_EQ(done, 0);
    const char *names[4] = {"a.jpg", "a.jpg", "b.jpg", "c.jpg"};
    const int faces[4] = {0, 1, 0, 0};
    for (int i = 0; i < 4; i++) {
        memset(px, i + 1, sizeof px);
        face_entry e = entry(names[i], faces[i], 10.0f * (float)i);
        CHECK_OK(face_cache_append(w, &e, px));
    }
    CHECK_OK(face_cache_sync(w));
    face_cache_abandon(w);
    FILE *fp = fopen(partial, "ab"); /* and a torn record */
    fwrite("torn", 1, 4, fp);
    fclose(fp);

    /* other settings refuse to resume it */
    face_cache_info other = info_of("cascade");
    const char *images[3] = {"a.jpg", "b.jpg", "c.jpg"}, *others[3] = {"a.jpg", "x.jpg", "c.jpg"};
    CHECK_FAILS(face_cache_begin(&w, path, &other, 1, images, 3, &done), RELAGE_ERR_MISMATCH);
    CHECK(strstr(relage_last_error(), "detector") != NULL);
    /* and so do other images (a label list changed between the runs) */
    CHECK_FAILS(face_cache_begin(&w, path, &info, 1, others, 3, &done), RELAGE_ERR_MISMATCH);
    CHECK(strstr(relage_last_error(), "image 2 is b.jpg, now x.jpg") != NULL);

    /* resuming: a and b are done, c is dropped and redone */
    CHECK_OK(face_cache_begin(&w, path, &info, 1, images, 3, &done));
    CHECK_INT_EQ(done, 2);
    for (int k = 0; k < 2; k++) {
        memset(px, 7 + k, sizeof px);
        face_entry e = entry("c.jpg", k, 30.0f);
        CHECK_OK(face_cache_append(w, &e, px));
    }
    CHECK_OK(face_cache_finish(w));
    CHECK(access(partial, F_OK) != 0);

    face_cache *c = NULL;
    CHECK_OK(face_cache_open(&c, path));
    if (c) {
        const face_cache_info *in = face_cache_info_of(c);
        CHECK_INT_EQ(in->count, 5);
        CHECK(strcmp(in->detector, "mtcnn") == 0 && strcmp(in->policy, info.policy) == 0);
        face_entry e;
        CHECK_OK(face_cache_entry(c, 4, &e));
        CHECK(strcmp(e.name, "c.jpg") == 0 && e.face_index == 1 && isnan(e.std));
        CHECK_OK(face_cache_pixels(c, 4, got));
        CHECK(got[0] == 8 && got[PIXELS - 1] == 8);
        CHECK_OK(face_cache_pixels(c, 2, got));
        CHECK(got[0] == 3);
        CHECK_FAILS(face_cache_entry(c, 5, &e), RELAGE_ERR_INVALID_ARG);
        face_cache_close(c);
    }

    /* a truncated cache and a foreign file */
    fp = fopen(path, "r+b");
    CHECK(fp && ftruncate(fileno(fp), 700) == 0);
    if (fp) fclose(fp);
    CHECK_FAILS(face_cache_open(&c, path), RELAGE_ERR_FORMAT);
    CHECK(strstr(relage_last_error(), "truncated") != NULL);
    fp = fopen(path, "wb");
    fputs("not a cache at all, but long enough to hold a header? no.", fp);
    fclose(fp);
    CHECK_FAILS(face_cache_open(&c, path), RELAGE_ERR_FORMAT);
    CHECK_FAILS(face_cache_open(&c, "/nonexistent/cache"), RELAGE_ERR_IO);
    unlink(path);
    return test_summary("test_face_cache");
}
