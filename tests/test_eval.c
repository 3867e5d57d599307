/* Evaluation: the epsilon-error and its sigma = 0 rule, label and prediction files in each
 * format (written here), bad rows named by line, and the known answer: face-api's predictions
 * on the 1,177 APPA-REAL dev faces give MAE 5.929, epsilon 0.4509, real-age MAE 7.748 (skipped
 * when ../shared is absent). */
#include <math.h>
#include <unistd.h>

#include "eval/metrics.h"
#include "test.h"

static char dir[] = "/tmp/relage-test-eval-XXXXXX";

static const char *write_file(const char *name, const char *text) {
    static char path[4][256];
    static int at;
    at = (at + 1) % 4;
    snprintf(path[at], sizeof path[at], "%s/%s", dir, name);
    FILE *fp = fopen(path[at], "wb");
    fputs(text, fp);
    fclose(fp);
    return path[at];
}

static void test_epsilon(void) {
    CHECK_NEAR(epsilon_error(30, 30, 5), 0.0, 1e-15);
    CHECK_NEAR(epsilon_error(35, 30, 5), 1.0 - exp(-0.5), 1e-15);
    CHECK_NEAR(epsilon_error(30, 30, 0), 0.0, 0);
    CHECK_NEAR(epsilon_error(30.001, 30, 0), 1.0, 0);
}

static void test_formats(void) {
    label_set l;
    prediction_set p;
    eval_result r;
    /* APPA-REAL, CRLF, with a blank line */
    CHECK_OK(label_set_read(&l, write_file("appa.csv",
                                           "file_name,num_ratings,apparent_age_avg,apparent_age_"
                                           "std,real_age\r\na.jpg,38,20.5,4,19\r\n\r\nb.jpg,"
                                           "40,60,0,65\r\n")));
    CHECK_INT_EQ(l.n, 2);
    CHECK(l.n == 2 && l.items[1].std == 0 && l.items[1].real == 65);
    CHECK_OK(prediction_set_read(&p, write_file("p.csv", "file_name,predicted_age\n"
                                                         "dir/a.jpg,22.5\nb.jpg,60\nc.jpg,1\n")));
    CHECK_OK(eval_predictions(&l, &p, 0, &r));
    CHECK_INT_EQ(r.n, 2);
    CHECK_INT_EQ(r.n_extra, 1);
    CHECK_NEAR(r.mae, 1.0, 1e-12);
    CHECK_NEAR(r.eps, (1.0 - exp(-4.0 / 32.0)) / 2.0, 1e-12);
    CHECK_NEAR(r.mae_real, (3.5 + 5.0) / 2.0, 1e-12);
    size_t match[2];
    CHECK_OK(eval_match(&l, &p, match)); /* a.jpg by its base name, b.jpg exactly */
    CHECK(match[0] == 0 && match[1] == 1);
    prediction_set_free(&p);
    label_set_free(&l);
    /* ChaLearn 2015: image;mean;std without a header; a missing prediction */
    CHECK_OK(label_set_read(&l, write_file("c15.csv", "x.jpg;30;5\ny.jpg;40;2\n")));
    CHECK_OK(prediction_set_read(&p, write_file("p2.csv", "image,age\nx.jpg,30\n")));
    CHECK_OK(eval_predictions(&l, &p, 0, &r));
    CHECK(r.n == 1 && r.n_missing == 1 && r.eps == 0.0);
    CHECK_OK(eval_match(&l, &p, match));
    CHECK(match[0] == 0 && match[1] == EVAL_NO_MATCH);
    CHECK_OK(eval_predictions(&l, &p, 1, &r));
    CHECK_NEAR(r.eps, 0.5, 1e-15); /* the missing one counts 1 over both labels */
    prediction_set_free(&p);
    label_set_free(&l);
    /* ChaLearn 2016 header, quoted names */
    CHECK_OK(label_set_read(&l, write_file("c16.csv", "image,mean,stdv\n\"a,b.jpg\",10,1\n")));
    CHECK(l.n == 1 && strcmp(l.items[0].name, "a,b.jpg") == 0);
    label_set_free(&l);
    /* bad rows name the file and line */
    CHECK_FAILS(label_set_read(&l, write_file("bad.csv", "image,mean,stdv\na.jpg,10,1\nb.jpg,"
                                                         "ten,1\n")),
                RELAGE_ERR_FORMAT);
    CHECK(strstr(relage_last_error(), "bad.csv:3") != NULL);
    CHECK_FAILS(prediction_set_read(&p, write_file("nohead.csv", "a.jpg,3\n")), RELAGE_ERR_FORMAT);
    CHECK_FAILS(label_set_read(&l, write_file("quote.csv", "image,mean\n\"a.jpg,3\n")),
                RELAGE_ERR_FORMAT);
    CHECK_FAILS(label_set_read(&l, "/nonexistent/labels.csv"), RELAGE_ERR_IO);
    /* ages out of range, hexadecimal, a name labelled twice, a byte-order mark */
    CHECK_FAILS(label_set_read(&l, write_file("big.csv", "path,age\na.jpg,3e10\n")),
                RELAGE_ERR_FORMAT);
    CHECK(strstr(relage_last_error(), "big.csv:2: an age or spread outside 0..150") != NULL);
    CHECK_FAILS(label_set_read(&l, write_file("neg.csv", "a.jpg;30;-1\n")), RELAGE_ERR_FORMAT);
    CHECK_FAILS(label_set_read(&l, write_file("hex.csv", "path,age\na.jpg,0x1f\n")),
                RELAGE_ERR_FORMAT);
    CHECK_FAILS(label_set_read(&l, write_file("twice.csv", "path,age\na.jpg,3\nb.jpg,4\n"
                                                           "\na.jpg,5\n")),
                RELAGE_ERR_FORMAT);
    CHECK(strstr(relage_last_error(), "twice.csv:5: a.jpg is labelled again (first at line 2)") !=
          NULL);
    CHECK_OK(label_set_read(&l, write_file("bom.csv", "\xEF\xBB\xBFpath,age\na.jpg,3\n")));
    CHECK(l.n == 1 && l.items[0].mean == 3);
    label_set_free(&l);
    /* APPA-REAL's per-vote files: each image's votes become its mean and sample sd */
    CHECK_OK(label_set_read(&l, write_file("votes.csv",
                                           "file_name,real_age,apparent_age,"
                                           "worker_age,worker_gender\n"
                                           "b.jpg,30,20,40,male\na.jpg,5,4,30,female\n"
                                           "b.jpg,30,24,22,female\nb.jpg,30,28,50,male\n")));
    CHECK_INT_EQ(l.n, 2);
    if (l.n == 2) {
        CHECK(strcmp(l.items[0].name, "b.jpg") == 0 && strcmp(l.items[1].name, "a.jpg") == 0);
        CHECK_NEAR(l.items[0].mean, 24.0, 1e-12);
        CHECK_NEAR(l.items[0].std, 4.0, 1e-12);
        CHECK(l.items[0].real == 30 && l.items[1].mean == 4 && l.items[1].std == 0);
    }
    label_set_free(&l);
    /* predictions: a name twice; ambiguous base names; one prediction for two labels */
    CHECK_FAILS(prediction_set_read(&p, write_file("p2x.csv", "file_name,predicted_age\n"
                                                              "a.jpg,3\na.jpg,4\n")),
                RELAGE_ERR_FORMAT);
    CHECK(strstr(relage_last_error(), "p2x.csv:3: a second prediction for a.jpg") != NULL);
    CHECK_OK(label_set_read(&l, write_file("l2.csv", "path,age\na.jpg,3\nx/b.jpg,4\n")));
    CHECK_OK(prediction_set_read(&p, write_file("amb.csv", "file_name,predicted_age\n"
                                                           "y/a.jpg,3\nz/a.jpg,4\n")));
    size_t m2[2];
    CHECK_FAILS(eval_match(&l, &p, m2), RELAGE_ERR_FORMAT);
    CHECK(strstr(relage_last_error(), "both end in a.jpg") != NULL);
    prediction_set_free(&p);
    CHECK_OK(prediction_set_read(&p, write_file("two.csv", "file_name,predicted_age\nb.jpg,3\n")));
    label_set_free(&l);
    CHECK_OK(label_set_read(&l, write_file("l3.csv", "path,age\nx/b.jpg,3\ny/b.jpg,4\n")));
    CHECK_FAILS(eval_match(&l, &p, m2), RELAGE_ERR_FORMAT);
    CHECK(strstr(relage_last_error(), "matches the labels x/b.jpg and y/b.jpg") != NULL);
    prediction_set_free(&p);
    label_set_free(&l);
}

static void test_known_answer(void) {
    const char *pred =
        RELAGE_FIXTURES "/../../../shared/reference/faceapi_appa_dev_predictions.csv";
    const char *lab = RELAGE_FIXTURES "/../../../shared/data/appa-real/labels/gt_avg_test.csv";
    if (access(pred, R_OK) != 0 || access(lab, R_OK) != 0) {
        printf("skipped the known answer: %s or %s not found\n", pred, lab);
        return;
    }
    label_set l;
    prediction_set p;
    eval_result r;
    CHECK_OK(label_set_read(&l, lab));
    CHECK_OK(prediction_set_read(&p, pred));
    CHECK_OK(eval_predictions(&l, &p, 0, &r));
    CHECK_INT_EQ(r.n, 1177);
    CHECK_NEAR(r.mae, 5.929, 5e-4);
    CHECK_NEAR(r.eps, 0.4509, 5e-5);
    CHECK_NEAR(r.mae_real, 7.748, 5e-4);
    printf("face-api on APPA-REAL dev faces: n %zu, MAE %.4f, epsilon %.4f, real-age MAE %.4f\n",
           r.n, r.mae, r.eps, r.mae_real);
    prediction_set_free(&p);
    label_set_free(&l);
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    test_epsilon();
    test_formats();
    test_known_answer();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("test_eval");
}
