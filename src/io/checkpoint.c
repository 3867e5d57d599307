/* Saving and loading model tensors by name through safetensors. Loading validates every
 * tensor before it copies any, so a failed load leaves the model as it was. */
#include "io/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/status.h"

static const char *const FORMAT = "relage-checkpoint";

/* Adds a float tensor, rounded to dtype (F16, BF16) where that is not F32. */
static relage_status add_float(safetensors_writer *w, const model *m, const model_tensor *t,
                               safetensors_dtype dtype) {
    const float *data = model_tensor_data(m, t);
    if (dtype == SAFETENSORS_F32)
        return safetensors_writer_add(w, t->name, dtype, t->ndim, t->shape, data);
    uint16_t *half = malloc((t->numel ? t->numel : 1) * sizeof *half);
    if (!half) return relage_fail(RELAGE_ERR_NOMEM, "no memory for tensor %s", t->name);
    safetensors_round_half(dtype, half, data, t->numel);
    relage_status st = safetensors_writer_add(w, t->name, dtype, t->ndim, t->shape, half);
    free(half);
    return st;
}

/* Fills w with the model's tensors and metadata; weights (2 or more dimensions) in dtype, the
 * rest (biases, BatchNorm, counters) as they are. */
static relage_status add_model(safetensors_writer *w, const model *m, safetensors_dtype dtype) {
    relage_status st = RELAGE_OK;
    for (size_t i = 0; i < m->n_tensors && st == RELAGE_OK; i++) {
        const model_tensor *t = &m->tensors[i];
        if (t->kind == TENSOR_COUNTER)
            st = safetensors_writer_add(w, t->name, SAFETENSORS_I64, 0, t->shape,
                                        &m->counters[t->offset]);
        else
            st = add_float(w, m, t, t->ndim >= 2 ? dtype : SAFETENSORS_F32);
    }
    const model_config *c = &m->config;
    char width[32], input[16], hidden[16];
    snprintf(width, sizeof width, "%.9g", (double)c->width);
    snprintf(input, sizeof input, "%d", c->input);
    snprintf(hidden, sizeof hidden, "%d", c->hidden);
    const char *meta[][2] = {
        {"format", FORMAT},
        {"relage_version", RELAGE_VERSION},
        {"arch", resnet_arch_name(c->arch)},
        {"head", head_kind_name(c->head)},
        {"width", width},
        {"input", input},
        {"hidden", hidden},
        {"rn_literal", c->rn_literal ? "1" : "0"},
        {"mean", "0.485,0.456,0.406"},
        {"std", "0.229,0.224,0.225"},
        {"crop", m->crop},
    };
    for (size_t i = 0; i < sizeof meta / sizeof meta[0] && st == RELAGE_OK; i++)
        st = safetensors_writer_set_metadata(w, meta[i][0], meta[i][1]);
    return st;
}

relage_status checkpoint_save(const model *m, const char *path) {
    return checkpoint_save_as(m, path, SAFETENSORS_F32);
}

relage_status checkpoint_save_as(const model *m, const char *path, safetensors_dtype weights) {
    if (weights == SAFETENSORS_I64)
        return relage_fail(RELAGE_ERR_INVALID_ARG, "%s: weights must be F32, F16 or BF16", path);
    safetensors_writer *w = safetensors_writer_new();
    if (!w) return relage_fail_context(RELAGE_ERR_NOMEM, "%s", path);
    relage_status st = add_model(w, m, weights);
    if (st == RELAGE_OK) st = safetensors_writer_save(w, path);
    safetensors_writer_free(w);
    return st;
}

relage_status checkpoint_save_state(const model *m, const optimizer *opt, const train_position *pos,
                                    const char *path) {
    safetensors_writer *w = safetensors_writer_new();
    if (!w) return relage_fail_context(RELAGE_ERR_NOMEM, "%s", path);
    relage_status st = add_model(w, m, SAFETENSORS_F32);
    int64_t shape[1] = {(int64_t)(2 * opt->n)};
    static const char *const KEYS[6] = {"train_epoch",    "train_next_sample",  "optimizer_step",
                                        "train_loss_sum", "train_loss_batches", "train_seconds"};
    char text[6][40];
    snprintf(text[0], sizeof text[0], "%d", pos->epoch);
    snprintf(text[1], sizeof text[1], "%llu", (unsigned long long)pos->next_sample);
    snprintf(text[2], sizeof text[2], "%ld", opt->step);
    snprintf(text[3], sizeof text[3], "%.17g", pos->loss_sum); /* round-trips exactly */
    snprintf(text[4], sizeof text[4], "%llu", (unsigned long long)pos->loss_batches);
    snprintf(text[5], sizeof text[5], "%.17g", pos->seconds);
    if (st == RELAGE_OK)
        st = safetensors_writer_add(w, "optimizer.state", SAFETENSORS_F32, 1, shape, opt->state);
    for (int i = 0; i < 6 && st == RELAGE_OK; i++)
        st = safetensors_writer_set_metadata(w, KEYS[i], text[i]);
    if (st == RELAGE_OK) st = safetensors_writer_save(w, path);
    safetensors_writer_free(w);
    return st;
}

relage_status checkpoint_load_state(model *m, optimizer *opt, train_position *pos,
                                    const char *path) {
    safetensors_file *f = NULL;
    relage_status st = safetensors_open(&f, path);
    if (st != RELAGE_OK) return st;
    const char *e = safetensors_metadata(f, "train_epoch");
    const char *n = safetensors_metadata(f, "train_next_sample");
    const char *s = safetensors_metadata(f, "optimizer_step");
    const char *ls = safetensors_metadata(f, "train_loss_sum");
    const char *lb = safetensors_metadata(f, "train_loss_batches");
    const char *sec = safetensors_metadata(f, "train_seconds");
    int64_t shape[1] = {(int64_t)(2 * opt->n)};
    if (!e || !n || !s) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: not a training state", path);
        goto cleanup;
    }
    checkpoint_report report;
    if ((st = checkpoint_load_from(m, f, "", 0, &report)) == RELAGE_OK && report.missing)
        st = relage_fail(RELAGE_ERR_MISMATCH, "%zu model tensors missing (%s)", report.missing,
                         report.missing_names);
    if (st != RELAGE_OK ||
        (st = safetensors_load_f32(f, "optimizer.state", 1, shape, opt->state)) != RELAGE_OK) {
        relage_fail_context(st, "%s", path);
        goto cleanup;
    }
    pos->epoch = atoi(e);
    pos->next_sample = strtoull(n, NULL, 10);
    pos->loss_sum = ls ? strtod(ls, NULL) : 0.0;
    pos->loss_batches = lb ? strtoull(lb, NULL, 10) : 0;
    pos->seconds = sec ? strtod(sec, NULL) : 0.0;
    opt->step = atol(s);
cleanup:
    safetensors_close(f);
    return st;
}

static relage_status parse_int(const safetensors_file *f, const char *path, const char *key,
                               int *out) {
    const char *v = safetensors_metadata(f, key);
    char *end = NULL;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || x < 0 || x > 1 << 20)
        return relage_fail(RELAGE_ERR_FORMAT, "%s: metadata %s is %s%s%s", path, key,
                           v ? "'" : "missing", v ? v : "", v ? "', not a count" : "");
    *out = (int)x;
    return RELAGE_OK;
}

relage_status checkpoint_read_config(const char *path, model_config *config) {
    safetensors_file *f = NULL;
    relage_status st = safetensors_open(&f, path);
    if (st != RELAGE_OK) return st;
    model_config c = model_default_config();
    const char *format = safetensors_metadata(f, "format");
    const char *arch = safetensors_metadata(f, "arch"), *head = safetensors_metadata(f, "head");
    const char *width = safetensors_metadata(f, "width");
    char *end = NULL;
    if (safetensors_find(f, "optimizer.state")) {
        st = relage_fail(RELAGE_ERR_FORMAT,
                         "%s: a training state (for relage train --resume); the model is the "
                         "run's model.safetensors",
                         path);
        goto cleanup;
    }
    if (!format || strcmp(format, FORMAT) != 0 || !arch || !head || !width) {
        st = relage_fail(RELAGE_ERR_FORMAT,
                         "%s: not a relage checkpoint (metadata format/arch/head/width missing)",
                         path);
        goto cleanup;
    }
    if ((st = resnet_arch_parse(arch, &c.arch)) != RELAGE_OK ||
        (st = head_kind_parse(head, &c.head)) != RELAGE_OK) {
        st = relage_fail_context(RELAGE_ERR_FORMAT, "%s", path);
        goto cleanup;
    }
    c.width = strtof(width, &end);
    if (*end || !(c.width > 0.0f)) {
        st = relage_fail(RELAGE_ERR_FORMAT, "%s: metadata width '%s' is not a number", path, width);
        goto cleanup;
    }
    int literal = 0;
    if ((st = parse_int(f, path, "input", &c.input)) != RELAGE_OK ||
        (st = parse_int(f, path, "hidden", &c.hidden)) != RELAGE_OK ||
        (st = parse_int(f, path, "rn_literal", &literal)) != RELAGE_OK)
        goto cleanup;
    c.rn_literal = literal;
    *config = c;
cleanup:
    safetensors_close(f);
    return st;
}

static void append_name(char *list, size_t size, const char *name) {
    size_t len = strlen(list);
    if (len + 4 >= size) return;
    if (len + strlen(name) + 6 >= size) {
        snprintf(list + len, size - len, "%s...", len ? ", " : "");
        list[size - 1] = '\0';
        return;
    }
    snprintf(list + len, size - len, "%s%s", len ? ", " : "", name);
}

static relage_status check_tensor(const model_tensor *t, const safetensors_tensor *s,
                                  const char *path) {
    int shape_ok = s->ndim == t->ndim;
    for (int d = 0; shape_ok && d < t->ndim; d++) shape_ok = s->shape[d] == t->shape[d];
    if (!shape_ok) {
        char want[64] = "", got[64] = "";
        for (int d = 0; d < t->ndim; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? "x" : "",
                     (long long)t->shape[d]);
        for (int d = 0; d < s->ndim && d < SAFETENSORS_MAX_DIMS; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? "x" : "",
                     (long long)s->shape[d]);
        return relage_fail(RELAGE_ERR_MISMATCH,
                           "%s: tensor %s has shape [%s], the model needs [%s]", path, t->name, got,
                           want);
    }
    int counter = t->kind == TENSOR_COUNTER;
    if (counter != (s->dtype == SAFETENSORS_I64))
        return relage_fail(RELAGE_ERR_MISMATCH, "%s: tensor %s must be %s", path, t->name,
                           counter ? "I64" : "F32, F16 or BF16");
    return RELAGE_OK;
}

relage_status checkpoint_load_from(model *m, const safetensors_file *file, const char *prefix,
                                   int strict, checkpoint_report *report) {
    checkpoint_report r;
    memset(&r, 0, sizeof r);
    const char *path = "checkpoint";
    size_t plen = strlen(prefix);
    char name[160];
    relage_status st = RELAGE_OK;
    for (int pass = 0; pass < 2 && st == RELAGE_OK; pass++) { /* 0: validate, 1: copy */
        for (size_t i = 0; i < m->n_tensors; i++) {
            const model_tensor *t = &m->tensors[i];
            snprintf(name, sizeof name, "%s%s", prefix, t->name);
            const safetensors_tensor *s = safetensors_find(file, name);
            if (!s) {
                if (pass == 0) {
                    r.missing++;
                    append_name(r.missing_names, sizeof r.missing_names, name);
                }
                continue;
            }
            size_t bad;
            if (pass == 0) {
                if ((st = check_tensor(t, s, path)) != RELAGE_OK) break;
                if (!safetensors_all_finite(file, s, &bad)) {
                    st = relage_fail(RELAGE_ERR_FORMAT,
                                     "tensor %s holds a NaN or an infinity (element %zu): a "
                                     "damaged file, or one saved from a training that diverged",
                                     name, bad);
                    break;
                }
                r.loaded++;
            } else if (t->kind == TENSOR_COUNTER) {
                st = safetensors_read_i64(file, s, &m->counters[t->offset], 1);
            } else {
                st = safetensors_read_f32(file, s, model_tensor_data(m, t), t->numel);
            }
            if (st != RELAGE_OK) break;
        }
        if (pass == 0 && st == RELAGE_OK) {
            for (size_t i = 0; i < safetensors_count(file); i++) {
                const char *fname = safetensors_at(file, i)->name;
                if (strncmp(fname, prefix, plen) != 0) continue;
                if (model_find_tensor(m, fname + plen)) continue;
                r.unexpected++;
                append_name(r.unexpected_names, sizeof r.unexpected_names, fname);
            }
            if (strict && (r.missing || r.unexpected))
                st = relage_fail(RELAGE_ERR_MISMATCH,
                                 "%zu tensors missing (%s), %zu unexpected (%s)", r.missing,
                                 r.missing ? r.missing_names : "none", r.unexpected,
                                 r.unexpected ? r.unexpected_names : "none");
        }
    }
    model_touch(m); /* pass 1 may have written part of the tensors even on failure */
    const char *crop = safetensors_metadata(file, "crop");
    if (st == RELAGE_OK && crop) snprintf(m->crop, sizeof m->crop, "%s", crop);
    if (report) *report = r;
    return st;
}

relage_status checkpoint_load(model *m, const char *path, int strict, checkpoint_report *report) {
    safetensors_file *f = NULL;
    relage_status st = safetensors_open(&f, path);
    if (st != RELAGE_OK) return st;
    st = checkpoint_load_from(m, f, "", strict, report);
    if (st != RELAGE_OK) relage_fail_context(st, "%s", path);
    safetensors_close(f);
    return st;
}

relage_status checkpoint_open_model(model **out, const char *path, const backend *be,
                                    int capacity) {
    *out = NULL;
    model_config cfg;
    model *m = NULL;
    relage_status st = checkpoint_read_config(path, &cfg);
    cfg.no_init = 1;
    if (st == RELAGE_OK && (st = model_create(&m, &cfg, be)) == RELAGE_OK &&
        (st = checkpoint_load(m, path, 1, NULL)) == RELAGE_OK &&
        (st = model_reserve(m, capacity)) == RELAGE_OK) {
        *out = m;
        return RELAGE_OK;
    }
    model_free(m);
    return st;
}
