/* A training run's config.json (run_config.h). */
#include "train/run_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "core/file.h"
#include "core/json_write.h"
#include "core/status.h"

static const char *schedule_name(lr_schedule_kind k) {
    return k == LR_STEP ? "step" : k == LR_COSINE ? "cosine" : "constant";
}

relage_status run_config_write(const train_config *c) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", c->out_dir);
    atomic_file out;
    relage_status st = atomic_file_begin(&out, path);
    if (st != RELAGE_OK) return st;
    FILE *f = out.fp;
    fprintf(f,
            "{\"relage_version\":\"%s\",\"arch\":\"%s\",\"head\":\"%s\",\"width\":%.9g,"
            "\"input\":%d,\"hidden\":%d,\"rn_literal\":%d,\"model_seed\":%llu,"
            "\"optimizer\":\"%s\",\"lr\":%.9g,\"weight_decay\":%.9g,\"momentum\":%.9g,"
            "\"schedule\":\"%s\",\"milestones\":[",
            RELAGE_VERSION, resnet_arch_name(c->model.arch), head_kind_name(c->model.head),
            (double)c->model.width, c->model.input, c->model.hidden, c->model.rn_literal,
            (unsigned long long)c->model.seed, c->optim.kind == OPTIM_RMSPROP ? "rmsprop" : "adamw",
            (double)c->optim.lr, (double)c->optim.weight_decay, (double)c->optim.momentum,
            schedule_name(c->schedule.kind));
    for (int i = 0; c->schedule.kind == LR_STEP && i < c->schedule.n_milestones; i++)
        fprintf(f, "%s%d", i ? "," : "", c->schedule.milestones[i]);
    fprintf(f, "],\"gamma\":%.9g,\"epochs\":%d,\"batch\":%d,\"seed\":%llu",
            (double)c->schedule.gamma, c->epochs, c->batch, (unsigned long long)c->seed);
    const char *keys[4] = {"train", "val", "test", "init"};
    const char *values[4] = {c->train_cache, c->val_cache, c->test_cache, c->init};
    for (int i = 0; i < 4; i++) {
        fprintf(f, ",\"%s\":", keys[i]);
        json_write_string(f, values[i] ? values[i] : "");
    }
    fprintf(f, ",\"backend\":");
    json_write_string(f, c->backend);
    fprintf(f, ",\"precision\":");
    json_write_string(f, c->precision);
    fprintf(f, "}\n");
    return atomic_file_commit(&out);
}

/* Appends "key: recorded R, now N" to the list of differences. */
static void differs(char *list, size_t size, const char *key, const char *recorded,
                    const char *now) {
    size_t len = strlen(list);
    snprintf(list + len, size - len, "%s%s %s (this command: %s)", len ? "; " : "", key, recorded,
             now);
}

static int same_number(double a, double b) {
    /* floats: files from relage 0.1.0 hold 6 significant digits */
    return fabs(a - b) <= 1e-5 * fmax(fabs(a), fabs(b));
}

relage_status run_config_check(const train_config *c) {
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", c->out_dir);
    size_t n = 0;
    char *text = NULL;
    relage_status st = file_read_text(path, 1 << 20, &text, &n);
    if (st != RELAGE_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", relage_last_error());
        return relage_fail(st, "%s (the run's settings, needed to resume it)", why);
    }
    cJSON *o = cJSON_ParseWithLength(text, n);
    free(text);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return relage_fail(RELAGE_ERR_FORMAT, "%s: not a JSON object", path);
    }
    char list[2048] = "", a[512], b[512];
    struct {
        const char *key;
        double now;
        int exact; /* integers (seeds up to 2^40 are exact in a double) */
    } numbers[] = {
        {"width", c->model.width, 0},
        {"input", c->model.input, 1},
        {"hidden", c->model.hidden, 1},
        {"rn_literal", c->model.rn_literal, 1},
        {"model_seed", (double)c->model.seed, 1},
        {"lr", c->optim.lr, 0},
        {"weight_decay", c->optim.weight_decay, 0},
        {"momentum", c->optim.momentum, 0},
        {"gamma", c->schedule.gamma, 0},
        {"epochs", c->epochs, 1},
        {"batch", c->batch, 1},
        {"seed", (double)c->seed, 1},
    };
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, numbers[i].key);
        if (cJSON_IsNumber(v) && (numbers[i].exact ? v->valuedouble == numbers[i].now
                                                   : same_number(v->valuedouble, numbers[i].now)))
            continue;
        snprintf(a, sizeof a, "%.*g", numbers[i].exact ? 17 : 7,
                 cJSON_IsNumber(v) ? v->valuedouble : (double)NAN);
        snprintf(b, sizeof b, "%.*g", numbers[i].exact ? 17 : 7, numbers[i].now);
        differs(list, sizeof list, numbers[i].key, cJSON_IsNumber(v) ? a : "(none)", b);
    }
    struct {
        const char *key, *now;
    } strings[] = {
        {"arch", resnet_arch_name(c->model.arch)},
        {"head", head_kind_name(c->model.head)},
        {"optimizer", c->optim.kind == OPTIM_RMSPROP ? "rmsprop" : "adamw"},
        {"schedule", schedule_name(c->schedule.kind)},
        {"train", c->train_cache},
        {"init", c->init}, /* only when given */
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (!strings[i].now) continue;
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, strings[i].key);
        const char *rec = cJSON_IsString(v) ? v->valuestring : NULL;
        if (rec && strcmp(rec, strings[i].now) == 0) continue;
        snprintf(a, sizeof a, "'%s'", rec ? rec : "(none)");
        snprintf(b, sizeof b, "'%s'", strings[i].now);
        differs(list, sizeof list, strings[i].key, a, b);
    }
    if (c->schedule.kind == LR_STEP) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "milestones");
        int same = cJSON_IsArray(v) && cJSON_GetArraySize(v) == c->schedule.n_milestones;
        for (int i = 0; same && i < c->schedule.n_milestones; i++) {
            const cJSON *x = cJSON_GetArrayItem(v, i);
            same = cJSON_IsNumber(x) && x->valuedouble == c->schedule.milestones[i];
        }
        if (!same) {
            char *rec = v ? cJSON_PrintUnformatted(v) : NULL;
            size_t len = 0;
            for (int i = 0; i < c->schedule.n_milestones; i++)
                len += (size_t)snprintf(b + len, sizeof b - len, "%s%d", i ? "," : "",
                                        c->schedule.milestones[i]);
            differs(list, sizeof list, "milestones", rec ? rec : "(none)", b);
            free(rec);
        }
    }
    cJSON_Delete(o);
    if (*list)
        return relage_fail(RELAGE_ERR_MISMATCH,
                           "%s: --resume must continue the run as it was started; it differs in "
                           "%s",
                           path, list);
    return RELAGE_OK;
}
