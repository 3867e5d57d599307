/* The training loop: epochs of shuffled, augmented batches through model_train_step, validation,
 * logging and atomic state files. */
#include "train/trainer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/clock.h"
#include "core/status.h"
#include "data/face_cache.h"
#include "data/loader.h"
#include "eval/metrics.h"
#include "eval/model_eval.h"
#include "io/checkpoint.h"
#include "train/run_config.h"
#include "train/summary.h"

train_config train_default_config(void) {
    train_config c;
    memset(&c, 0, sizeof c);
    c.model = model_default_config();
    c.optim = optim_default_config(OPTIM_RMSPROP);
    c.optim.lr = 1e-4f;
    c.schedule = lr_schedule_paper();
    c.epochs = 20;
    c.batch = 30;
    c.seed = 1;
    c.backend = "dnnl";
    c.precision = "fp32";
    return c;
}

/* MAE and epsilon of the expected age over a whole evaluation set (epsilon over the images
 * whose labels have a vote spread); the predictions are kept in *keep if it is not NULL. */
static relage_status evaluate(model *m, loader *l, int batch, double *mae, double *eps,
                              prediction_set *keep) {
    label_set labels;
    prediction_set preds;
    relage_status st = model_eval_loader(m, l, 0, batch, &labels, &preds, NULL, NULL);
    if (st != RELAGE_OK) return st;
    double abs_sum = 0, eps_sum = 0;
    size_t eps_n = 0;
    for (size_t i = 0; i < preds.n; i++) {
        const age_label *a = &labels.items[i];
        abs_sum += fabs(preds.ages[i] - a->mean);
        if (!isnan(a->std)) {
            eps_sum += epsilon_error(preds.ages[i], a->mean, a->std);
            eps_n++;
        }
    }
    *mae = preds.n ? abs_sum / (double)preds.n : (double)NAN;
    *eps = eps_n ? eps_sum / (double)eps_n : (double)NAN;
    label_set_free(&labels);
    if (keep)
        *keep = preds;
    else
        prediction_set_free(&preds);
    return RELAGE_OK;
}

static void path_in(char *out, size_t size, const char *dir, const char *name) {
    snprintf(out, size, "%s/%s", dir, name);
}

static relage_status append_log(const char *dir, const epoch_result *r) {
    char path[4096];
    path_in(path, sizeof path, dir, "log.jsonl");
    FILE *fp = fopen(path, "a");
    if (!fp) return relage_fail(RELAGE_ERR_IO, "%s: %s", path, strerror(errno));
    char v[4][32]; /* JSON has no NaN */
    const double x[4] = {r->val_mae, r->val_eps, r->test_mae, r->test_eps};
    for (int i = 0; i < 4; i++) {
        if (isfinite(x[i]))
            snprintf(v[i], sizeof v[i], "%.4f", x[i]);
        else
            snprintf(v[i], sizeof v[i], "null");
    }
    fprintf(fp,
            "{\"epoch\":%d,\"lr\":%.3g,\"train_loss\":%.5f,\"val_mae\":%s,\"val_eps\":%s,"
            "\"test_mae\":%s,\"test_eps\":%s,\"seconds\":%.1f,\"img_per_s\":%.2f,"
            "\"eval_seconds\":%.1f}\n",
            r->epoch, r->lr, r->train_loss, v[0], v[1], v[2], v[3], r->seconds, r->img_per_s,
            r->eval_seconds);
    return fclose(fp) == 0 ? RELAGE_OK
                           : relage_fail(RELAGE_ERR_IO, "%s: %s", path, strerror(errno));
}

relage_status train_run(const train_config *cfg, const train_callbacks *cb, volatile int *stop,
                        int *stopped) {
    *stopped = 0;
    model *m = NULL;
    optimizer *opt = NULL;
    face_cache *train_cache = NULL, *val_cache = NULL, *test_cache = NULL;
    loader train = {0}, val = {0}, test = {0};
    prediction_set test_preds = {0}; /* of the last epoch */
    float *images = NULL, *ages = NULL;
    char state_path[4096], model_path[4096];
    relage_status st;
    if (cfg->batch < 1 || cfg->batch > 256 || cfg->epochs < 1)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "train: batch 1..256 and epochs >= 1");
    if (cfg->resume && (st = run_config_check(cfg)) != RELAGE_OK) return st;
    static const char *const RUN_FILES[] = {"log.jsonl", "state.safetensors", "model.safetensors",
                                            "summary.json"};
    for (int i = 0; !cfg->resume && i < 4; i++) {
        char p[4096];
        struct stat sb;
        path_in(p, sizeof p, cfg->out_dir, RUN_FILES[i]);
        if (stat(p, &sb) == 0)
            return relage_fail(RELAGE_ERR_INVALID_ARG,
                               "%s already holds a run (%s): continue it with --resume, or "
                               "choose another --out",
                               cfg->out_dir, RUN_FILES[i]);
    }
    path_in(state_path, sizeof state_path, cfg->out_dir, "state.safetensors");
    path_in(model_path, sizeof model_path, cfg->out_dir, "model.safetensors");
    const backend *be = NULL;
    if ((st = backend_select(cfg->backend, cfg->precision, &be)) != RELAGE_OK ||
        (st = model_create(&m, &cfg->model, be)) != RELAGE_OK ||
        (st = model_reserve(m, cfg->batch)) != RELAGE_OK ||
        (st = optimizer_create(&opt, &cfg->optim, m->n_params)) != RELAGE_OK ||
        (st = face_cache_open(&train_cache, cfg->train_cache)) != RELAGE_OK ||
        (st = loader_init(&train, train_cache, cfg->model.input, cfg->seed)) != RELAGE_OK)
        goto cleanup;
    if (cfg->val_cache && ((st = face_cache_open(&val_cache, cfg->val_cache)) != RELAGE_OK ||
                           (st = loader_init(&val, val_cache, cfg->model.input, 0)) != RELAGE_OK))
        goto cleanup;
    if (cfg->test_cache &&
        ((st = face_cache_open(&test_cache, cfg->test_cache)) != RELAGE_OK ||
         (st = loader_init(&test, test_cache, cfg->model.input, 0)) != RELAGE_OK))
        goto cleanup;
    if (train.n < (size_t)cfg->batch) {
        st = relage_fail(RELAGE_ERR_INVALID_ARG, "%s: %zu usable images, fewer than a batch of %d",
                         cfg->train_cache, train.n, cfg->batch);
        goto cleanup;
    }
    if (mkdir(cfg->out_dir, 0777) != 0 && errno != EEXIST) {
        st = relage_fail(RELAGE_ERR_IO, "%s: %s", cfg->out_dir, strerror(errno));
        goto cleanup;
    }
    train_position pos = {0};
    if (cfg->resume) {
        if ((st = checkpoint_load_state(m, opt, &pos, state_path)) != RELAGE_OK) goto cleanup;
    } else {
        if (cfg->init && (st = checkpoint_load(m, cfg->init, 0, NULL)) != RELAGE_OK) goto cleanup;
        if ((st = run_config_write(cfg)) != RELAGE_OK) goto cleanup;
    }
    /* The crop record comes from the training faces, whatever an --init checkpoint recorded. */
    const face_cache_info *faces = face_cache_info_of(train_cache);
    snprintf(m->crop, sizeof m->crop, "%s %s size=%u", faces->detector, faces->policy, faces->size);
    size_t in = (size_t)cfg->model.input, per = 3 * in * in;
    images = malloc((size_t)cfg->batch * per * sizeof(float));
    ages = malloc((size_t)cfg->batch * sizeof(float));
    if (!images || !ages) {
        st = relage_fail(RELAGE_ERR_NOMEM, "train: out of memory for a batch");
        goto cleanup;
    }
    /* Each epoch covers the largest whole number of batches (the remainder is dropped, as the
     * reference does). */
    size_t batches = train.n / (size_t)cfg->batch;
    for (int epoch = pos.epoch; epoch < cfg->epochs; epoch++) {
        float lr = lr_at_epoch(&cfg->schedule, cfg->optim.lr, epoch);
        loader_shuffle(&train, epoch);
        /* a resumed epoch continues its running loss and time; the rate shown (and the ETA)
         * counts only this process's batches, which the time before an interruption would skew */
        double t0 = clock_seconds() - pos.seconds, loss_sum = pos.loss_sum,
               t_here = clock_seconds();
        size_t loss_n = (size_t)pos.loss_batches, n_before = loss_n;
        for (size_t b = (size_t)(pos.next_sample / (uint64_t)cfg->batch); b < batches; b++) {
            if (*stop) {
                train_position here = {epoch, (uint64_t)(b * (size_t)cfg->batch), loss_sum,
                                       (uint64_t)loss_n, clock_seconds() - t0};
                st = checkpoint_save_state(m, opt, &here, state_path);
                *stopped = 1;
                goto cleanup;
            }
            age_loss l;
            if ((st = loader_train_batch(&train, epoch, b * (size_t)cfg->batch, cfg->batch, images,
                                         ages)) != RELAGE_OK ||
                (st = model_train_step(m, opt, images, ages, cfg->batch, lr, &l)) != RELAGE_OK)
                goto cleanup;
            if (!isfinite(l.total)) {
                st = relage_fail(RELAGE_ERR_INVALID_ARG,
                                 "train: the loss is %g at epoch %d "
                                 "batch %zu (learning rate too high?)",
                                 l.total, epoch + 1, b);
                goto cleanup;
            }
            loss_sum += l.total;
            loss_n++;
            if (cb && cb->progress) {
                double dt = clock_seconds() - t_here;
                train_progress p = {epoch,
                                    cfg->epochs,
                                    (b + 1) * (size_t)cfg->batch,
                                    batches * (size_t)cfg->batch,
                                    loss_sum / (double)loss_n,
                                    dt > 0 ? (double)((loss_n - n_before) * (size_t)cfg->batch) / dt
                                           : 0};
                cb->progress(&p, cb->user);
            }
        }
        pos = (train_position){0};
        double seconds = clock_seconds() - t0;
        epoch_result r = {.epoch = epoch + 1,
                          .lr = lr,
                          .train_loss = loss_n ? loss_sum / (double)loss_n : (double)NAN,
                          .val_mae = NAN,
                          .val_eps = NAN,
                          .test_mae = NAN,
                          .test_eps = NAN,
                          .seconds = seconds,
                          .img_per_s =
                              seconds > 0 ? (double)(loss_n * (size_t)cfg->batch) / seconds : 0};
        double t_eval = clock_seconds();
        if (cfg->val_cache &&
            (st = evaluate(m, &val, cfg->batch, &r.val_mae, &r.val_eps, NULL)) != RELAGE_OK)
            goto cleanup;
        if (cfg->test_cache &&
            (st = evaluate(m, &test, cfg->batch, &r.test_mae, &r.test_eps,
                           epoch + 1 == cfg->epochs ? &test_preds : NULL)) != RELAGE_OK)
            goto cleanup;
        r.eval_seconds = clock_seconds() - t_eval;
        if ((st = append_log(cfg->out_dir, &r)) != RELAGE_OK ||
            (st = checkpoint_save(m, model_path)) != RELAGE_OK ||
            (st = checkpoint_save_state(m, opt, &(train_position){epoch + 1, 0, 0, 0, 0},
                                        state_path)) != RELAGE_OK)
            goto cleanup;
        if (cb && cb->epoch) cb->epoch(&r, cb->user);
    }
    /* the finished model's per-image test predictions, for paired tests in relage compare */
    if ((st = train_write_summary(cfg)) == RELAGE_OK && test_preds.n) {
        char preds_path[4096];
        path_in(preds_path, sizeof preds_path, cfg->out_dir, "test_predictions.csv");
        st = prediction_set_write(&test_preds, preds_path, PRED_CSV);
    }
cleanup:
    free(images);
    free(ages);
    loader_free(&train);
    loader_free(&val);
    loader_free(&test);
    face_cache_close(train_cache);
    face_cache_close(val_cache);
    face_cache_close(test_cache);
    prediction_set_free(&test_preds);
    optimizer_free(opt);
    model_free(m);
    return st;
}
