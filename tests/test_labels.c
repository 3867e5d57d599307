/* Label readers: every CSV format, UTKFace and All-Age-Faces folders (malformed names reported,
 * not dropped silently), split files and missing images, on files written here; and the real
 * folders in ../shared/data when present (UTKFace: 23,708 files, 5 malformed names). */
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/labels.h"
#include "test.h"

static char dir[] = "/tmp/relage-test-labels-XXXXXX";

static const char *touch(const char *sub, const char *name, const char *text) {
    static char path[1024];
    char folder[512];
    snprintf(folder, sizeof folder, "%s/%s", dir, sub);
    mkdir(folder, 0777);
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *fp = fopen(path, "wb");
    if (text) fputs(text, fp);
    fclose(fp);
    return path;
}

static void test_csv_formats(void) {
    label_set l;
    CHECK_OK(label_set_read(&l, touch("csv", "c15.csv", "a.jpg;21;3.5\r\nb.jpg;40;0\r\n")));
    CHECK(l.n == 2 && l.items[0].mean == 21 && l.items[0].std == 3.5 && isnan(l.items[0].real));
    label_set_free(&l);
    CHECK_OK(label_set_read(&l, touch("csv", "imdb.csv", "path,age\nwiki/1.jpg,33\n")));
    CHECK(l.n == 1 && l.items[0].mean == 33 && isnan(l.items[0].std));
    label_set_free(&l);
    CHECK_OK(label_set_read(&l, touch("csv", "generic.csv", "x/1.png,12,2\nx/2.png,13,1\n")));
    CHECK(l.n == 2 && l.items[1].std == 1);
    label_set_free(&l);
    /* a mixed list: the vote spread (or real age) empty where it is unknown */
    CHECK_OK(label_set_read(&l, touch("csv", "mixed.csv",
                                      "path,age,std\nappa/1.jpg,23.2,5.5\nutk/2.jpg,40,\n"
                                      "utk/3.jpg,41, \n")));
    CHECK(l.n == 3 && l.items[0].std == 5.5 && isnan(l.items[1].std) && isnan(l.items[2].std) &&
          l.items[1].mean == 40);
    label_set_free(&l);
    CHECK_OK(label_set_read(&l, touch("csv", "utk.csv",
                                      "file,age,gender_0male_1female,race_0"
                                      "white\nx.jpg,30,1,3\n")));
    CHECK(l.n == 1 && l.items[0].gender == 1 && l.items[0].race == 3);
    label_set_free(&l);
    CHECK_FAILS(label_set_read(&l, touch("csv", "bad.csv", "a.jpg;21;3\nb.jpg;;3\n")),
                RELAGE_ERR_FORMAT);
    CHECK(strstr(relage_last_error(), "bad.csv:2") != NULL);
    CHECK_FAILS(label_set_read(&l, touch("csv", "empty.csv", "")), RELAGE_ERR_FORMAT);
}

static void test_folders(void) {
    static const char *const utk[] = {
        "25_0_1_20170116220224657.jpg.chip.jpg", "3_1_4_20170103230044589.jpg.chip.jpg",
        "24_0_1_20170116220224657 .jpg.chip.jpg", "39_1_20170116174525125.jpg.chip.jpg",
        "55_0_0_20170116232725357jpg.chip.jpg"};
    for (int i = 0; i < 5; i++) touch("utk", utk[i], NULL);
    char folder[512];
    snprintf(folder, sizeof folder, "%s/utk", dir);
    label_set l;
    label_report r;
    CHECK_OK(label_set_from_utkface(&l, folder, &r));
    CHECK_INT_EQ(l.n, 2);
    CHECK_INT_EQ(r.skipped, 3);
    CHECK(strstr(r.examples, "39_1_20170116174525125") != NULL);
    CHECK(l.n == 2 && l.items[0].mean == 25 && l.items[0].race == 1 && l.items[1].gender == 1);
    /* a split naming one known image and one unknown */
    const char *split = touch("split", "test.txt",
                              "3_1_4_20170103230044589.jpg.chip.jpg\n"
                              "9_9_9_nothing.jpg\n");
    CHECK_OK(label_set_keep_split(&l, split, &r));
    CHECK(l.n == 1 && l.items[0].mean == 3);
    CHECK_INT_EQ(r.skipped, 1);
    CHECK_INT_EQ(label_set_missing_images(&l, folder, &r), 0);
    CHECK_INT_EQ(label_set_missing_images(&l, dir, &r), 1);
    label_set_free(&l);

    touch("aaf", "00000A02.jpg", NULL);
    touch("aaf", "00001A61.jpg", NULL);
    touch("aaf", "notes.txt", NULL);
    snprintf(folder, sizeof folder, "%s/aaf", dir);
    CHECK_OK(label_set_from_aaf(&l, folder, &r));
    CHECK(l.n == 2 && l.items[1].mean == 61 && r.skipped == 1);
    label_set_keep_split(&l, touch("aaf_split", "train.txt", "00001A61.jpg 0\n"), &r);
    CHECK(l.n == 1 && strcmp(l.items[0].name, "00001A61.jpg") == 0);
    label_set_free(&l);
    CHECK_FAILS(label_set_from_aaf(&l, "/nonexistent-relage", &r), RELAGE_ERR_IO);
}

static void test_shared(void) {
    const char *utk = RELAGE_FIXTURES "/../../../shared/data/utkface";
    char images[512], split[512];
    snprintf(images, sizeof images, "%s/images", utk);
    snprintf(split, sizeof split, "%s/split_test.txt", utk);
    if (access(images, R_OK) != 0) {
        printf("skipped the shared UTKFace folder: %s not found\n", images);
        return;
    }
    label_set l;
    label_report r;
    CHECK_OK(label_set_from_utkface(&l, images, &r));
    CHECK_INT_EQ(l.n, 23703);
    CHECK_INT_EQ(r.skipped, 5);
    CHECK_OK(label_set_keep_split(&l, split, &r));
    CHECK_INT_EQ(l.n, 4702);
    CHECK_INT_EQ(label_set_missing_images(&l, images, &r), 0);
    printf("UTKFace: 23703 labelled, 5 malformed names skipped; test split %zu\n", l.n);
    label_set_free(&l);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    test_csv_formats();
    test_folders();
    test_shared();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("test_labels");
}
