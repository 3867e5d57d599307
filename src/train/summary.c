/* Run summaries (summary.h). */
#include "train/summary.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/json_write.h"
#include "core/status.h"
#include "io/json_lines.h"

void train_recipe_text(const train_config *c, char *text, size_t size) {
    const char *opt = c->optim.kind == OPTIM_RMSPROP ? "rmsprop" : "adamw";
    char sched[96];
    if (c->schedule.kind == LR_STEP) {
        int n = snprintf(sched, sizeof sched, "step x%g at", (double)c->schedule.gamma);
        for (int i = 0; i < c->schedule.n_milestones && n < (int)sizeof sched - 8; i++)
            n += snprintf(sched + n, sizeof sched - (size_t)n, "%s%d", i ? "," : " ",
                          c->schedule.milestones[i]);
    } else {
        snprintf(sched, sizeof sched, "%s", c->schedule.kind == LR_COSINE ? "cosine" : "constant");
    }
    snprintf(text, size, "%s lr %g wd %g, %s, %d epochs, batch %d, crop %d", opt,
             (double)c->optim.lr, (double)c->optim.weight_decay, sched, c->epochs, c->batch,
             c->model.input);
}

static double number(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
}

static const char *const KEYS[4] = {"val_mae", "val_eps", "test_mae", "test_eps"};

/* What the summary takes from the log: totals, the best validation epoch, the last metrics. */
typedef struct log_totals {
    double wall, images, best, last[4];
    int best_epoch, epochs;
} log_totals;

static relage_status add_epoch(const cJSON *o, void *totals) {
    log_totals *t = totals;
    double s = number(o, "seconds"), r = number(o, "img_per_s"), v = number(o, "val_mae");
    if (isfinite(s)) t->wall += s;
    if (isfinite(s) && isfinite(r)) t->images += s * r;
    if (isfinite(v) && v < t->best) t->best = v, t->best_epoch = (int)number(o, "epoch");
    for (int k = 0; k < 4; k++) t->last[k] = number(o, KEYS[k]);
    t->epochs++;
    return RELAGE_OK;
}

relage_status train_write_summary(const train_config *c) {
    char path[4096];
    snprintf(path, sizeof path, "%s/log.jsonl", c->out_dir);
    log_totals t = {0, 0, INFINITY, {NAN, NAN, NAN, NAN}, 0, 0};
    relage_status st = json_lines_each(path, (size_t)64 << 20, add_epoch, &t);
    if (st != RELAGE_OK) return st;
    snprintf(path, sizeof path, "%s/summary.json", c->out_dir);
    atomic_file out;
    if ((st = atomic_file_begin(&out, path)) != RELAGE_OK) return st;
    FILE *f = out.fp;
    char recipe[256];
    train_recipe_text(c, recipe, sizeof recipe);
    fprintf(f, "{\"protocol\":");
    json_write_string(f, c->protocol ? c->protocol : "");
    fprintf(f,
            ",\"arch\":\"%s\",\"head\":\"%s\",\"width\":%g,\"input\":%d,\"seed\":%llu,"
            "\"model_seed\":%llu,\"recipe\":",
            resnet_arch_name(c->model.arch), head_kind_name(c->model.head), (double)c->model.width,
            c->model.input, (unsigned long long)c->seed, (unsigned long long)c->model.seed);
    json_write_string(f, recipe);
    fprintf(f, ",\"epochs\":%d", t.epochs);
    for (int k = 0; k < 4; k++) {
        fprintf(f, ",\"%s\":", KEYS[k]);
        json_write_number(f, t.last[k], 4);
    }
    fprintf(f, ",\"best_val_mae\":");
    json_write_number(f, isfinite(t.best) ? t.best : (double)NAN, 4);
    fprintf(f, ",\"best_val_epoch\":%d,\"wall_s\":%.1f,\"train_img_per_s\":", t.best_epoch, t.wall);
    json_write_number(f, t.wall > 0 ? t.images / t.wall : (double)NAN, 2);
    fprintf(f, ",\"backend\":\"%s\",\"precision\":\"%s\",\"relage_version\":\"%s\",\"command\":",
            c->backend, c->precision, RELAGE_VERSION);
    json_write_string(f, c->command ? c->command : "");
    fprintf(f, "}\n");
    return atomic_file_commit(&out);
}
