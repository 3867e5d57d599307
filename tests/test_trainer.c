/* Training end to end on a tiny synthetic face cache: the loss goes down, the run folder holds
 * config, log, model and state, and a run interrupted mid-epoch and resumed ends bit-identical to
 * an uninterrupted one with the same seed. */
#include <sys/stat.h>
#include <unistd.h>

#include "core/rng.h"
#include "data/face_cache.h"
#include "io/safetensors.h"
#include "test.h"
#include "train/run_config.h"
#include "train/trainer.h"

static char dir[] = "/tmp/relage-test-trainer-XXXXXX";

/* 48 crops of 40x40 whose brightness tells the age, so there is something to learn. */
static void make_cache(const char *path) {
    face_cache_info info;
    memset(&info, 0, sizeof info);
    info.size = 40;
    snprintf(info.policy, sizeof info.policy, "largest margin=0 square=0");
    snprintf(info.detector, sizeof info.detector, "none");
    snprintf(info.source, sizeof info.source, "synthetic");
    face_cache_writer *w = NULL;
    uint64_t done;
    CHECK_OK(face_cache_begin(&w, path, &info, 0, NULL, 0, &done));
    rng r;
    rng_seed(&r, 5);
    static uint8_t px[40 * 40 * 3];
    for (int i = 0; i < 48; i++) {
        face_entry e;
        memset(&e, 0, sizeof e);
        snprintf(e.name, sizeof e.name, "img%02d.png", i);
        e.mean = (float)(i * 2), e.std = 3.0f, e.real = e.mean, e.gender = e.race = -1;
        for (size_t k = 0; k < sizeof px; k++)
            px[k] = (uint8_t)(i * 5 + (int)(rng_next(&r) % 16));
        CHECK_OK(face_cache_append(w, &e, px));
    }
    CHECK_OK(face_cache_finish(w));
}

typedef struct stopper {
    volatile int *stop;
    int batches, stop_after;
} stopper;

static void on_progress(const train_progress *p, void *user) {
    stopper *s = user;
    (void)p;
    if (++s->batches == s->stop_after) *s->stop = 1;
}

static train_config tiny(const char *cache, const char *out) {
    train_config c = train_default_config();
    c.model.arch = RESNET18, c.model.width = 1.0f / 16, c.model.input = 32, c.model.seed = 3;
    c.optim.lr = 1e-3f;
    c.epochs = 3, c.batch = 8, c.seed = 11;
    c.schedule.milestones[0] = 2;
    c.train_cache = cache, c.val_cache = cache, c.out_dir = out;
    return c;
}

static size_t file_bytes(const char *path, unsigned char **data) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    rewind(fp);
    *data = calloc((size_t)n + 1, 1); /* NUL-terminated for text */
    size_t got = fread(*data, 1, (size_t)n, fp);
    fclose(fp);
    return got;
}

int main(void) {
    if (!mkdtemp(dir)) return 1;
    char cache[256], a[256], b[256], pa[300], pb[300];
    snprintf(cache, sizeof cache, "%s/faces.cache", dir);
    snprintf(a, sizeof a, "%s/run-a", dir);
    snprintf(b, sizeof b, "%s/run-b", dir);
    make_cache(cache);

    volatile int stop = 0;
    int stopped = 0;
    train_config ca = tiny(cache, a);
    CHECK_OK(train_run(&ca, NULL, &stop, &stopped));
    CHECK(!stopped);

    /* the same run, stopped after 7 batches (mid-epoch 2), then resumed */
    stopper s = {&stop, 0, 7};
    train_callbacks cb = {on_progress, NULL, &s};
    train_config cb_cfg = tiny(cache, b);
    CHECK_OK(train_run(&cb_cfg, &cb, &stop, &stopped));
    CHECK(stopped);
    stop = 0;
    cb_cfg.resume = 1;
    CHECK_OK(train_run(&cb_cfg, NULL, &stop, &stopped));
    CHECK(!stopped);

    snprintf(pa, sizeof pa, "%s/model.safetensors", a);
    snprintf(pb, sizeof pb, "%s/model.safetensors", b);
    unsigned char *da = NULL, *db = NULL;
    size_t na = file_bytes(pa, &da), nb = file_bytes(pb, &db);
    CHECK(na > 0 && na == nb);
    CHECK(na == nb && memcmp(da, db, na) == 0); /* bit-identical */
    free(da);
    free(db);

    /* the logs: three epochs, the loss went down, and the resumed run logged the same losses
     * (the interrupted epoch's running loss was saved with the state) */
    double loss[2][3] = {{0}};
    int lines[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        snprintf(pa, sizeof pa, "%s/log.jsonl", k ? b : a);
        FILE *fp = fopen(pa, "r");
        char line[512];
        while (fp && fgets(line, sizeof line, fp)) {
            const char *at = strstr(line, "\"train_loss\":");
            if (lines[k] < 3) loss[k][lines[k]] = at ? atof(at + 13) : 0;
            lines[k]++;
        }
        if (fp) fclose(fp);
    }
    CHECK_INT_EQ(lines[0], 3);
    CHECK_INT_EQ(lines[1], 3);
    for (int e = 0; e < 3; e++) CHECK(loss[0][e] == loss[1][e]);
    double first = loss[0][0], last = loss[0][2];
    CHECK(last < first);
    printf("train loss %.2f -> %.2f over 3 epochs; resumed run bit-identical\n", first, last);
    snprintf(pa, sizeof pa, "%s/config.json", a);
    CHECK(access(pa, R_OK) == 0);

    /* A folder holding a run is not started over; --resume with other settings is refused and
     * names them; neither touches the run's files. */
    unsigned char *before = NULL, *after = NULL;
    snprintf(pb, sizeof pb, "%s/model.safetensors", a);
    size_t n_before = file_bytes(pb, &before);
    train_config again = tiny(cache, a);
    CHECK_FAILS(train_run(&again, NULL, &stop, &stopped), RELAGE_ERR_INVALID_ARG);
    CHECK(strstr(relage_last_error(), "already holds a run") != NULL);
    again.resume = 1;
    again.optim.lr = 3e-3f;
    again.batch = 4;
    CHECK_FAILS(train_run(&again, NULL, &stop, &stopped), RELAGE_ERR_MISMATCH);
    CHECK(strstr(relage_last_error(), "lr 0.001 (this command: 0.003") != NULL);
    CHECK(strstr(relage_last_error(), "batch 8 (this command: 4)") != NULL);
    size_t n_after = file_bytes(pb, &after);
    CHECK(n_before > 0 && n_before == n_after && memcmp(before, after, n_before) == 0);
    free(before);
    free(after);

    /* seeds compare exactly, however large */
    train_config big = tiny(cache, a);
    big.seed = (uint64_t)1 << 40;
    snprintf(pa, sizeof pa, "%s/seed-run", dir);
    big.out_dir = pa;
    CHECK(mkdir(pa, 0777) == 0);
    CHECK_OK(run_config_write(&big));
    CHECK_OK(run_config_check(&big));
    big.seed++;
    CHECK_FAILS(run_config_check(&big), RELAGE_ERR_MISMATCH);
    CHECK(strstr(relage_last_error(), "seed 1099511627776 (this command: 1099511627777)") != NULL);

    /* config.json stays JSON whatever the paths hold */
    char quoted[256], run_q[256];
    snprintf(quoted, sizeof quoted, "%s/q\"c.cache", dir);
    snprintf(run_q, sizeof run_q, "%s/run-q", dir);
    CHECK(rename(cache, quoted) == 0);
    train_config cq = tiny(quoted, run_q);
    cq.epochs = 1;
    CHECK_OK(train_run(&cq, NULL, &stop, &stopped));
    snprintf(pa, sizeof pa, "%s/config.json", run_q);
    unsigned char *config = NULL;
    CHECK(file_bytes(pa, &config) > 0);
    CHECK(config && strstr((const char *)config, "q\\\"c.cache\",") != NULL);
    free(config);
    /* the finished run's summary */
    snprintf(pa, sizeof pa, "%s/summary.json", a);
    unsigned char *summary = NULL;
    size_t ns = file_bytes(pa, &summary);
    CHECK(ns > 0);
    if (summary) {
        const char *text = (const char *)summary;
        CHECK(strstr(text, "\"epochs\":3,") != NULL);
        CHECK(strstr(text, "\"arch\":\"resnet18\"") != NULL);
        CHECK(strstr(text, "\"recipe\":\"rmsprop lr ") != NULL);
        CHECK(strstr(text, "\"wall_s\":") != NULL && strstr(text, "\"val_mae\":") != NULL);
    }
    free(summary);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return test_summary("test_trainer");
}
