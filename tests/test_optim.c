/* Optimiser update rules and learning-rate schedules against PyTorch on a flat vector with
 * given gradients (tests/fixtures/layers.safetensors, case "optim"): RMSprop plain and with
 * momentum and weight decay, AdamW; MultiStepLR([10, 15], 0.1) and CosineAnnealingLR(30).
 * No network sits between the steps, so float32 rounding is all that differs: relative 1e-5. */
#include "fixture.h"
#include "nn/optim.h"

enum { N = 64 };

static void run(const safetensors_file *f, const char *tag, optim_config c) {
    float *p = fixture_get(f, NULL, "optim.param");
    optimizer *opt = NULL;
    CHECK_OK(optimizer_create(&opt, &c, N));
    for (int i = 0; i < 3; i++) {
        float *g = fixture_get(f, NULL, "optim.grad%d", i);
        optimizer_step(opt, p, g, c.lr);
        free(g);
    }
    CHECK_INT_EQ(opt->step, 3);
    fixture_check(f, p, N, 1e-5, 1e-7, "optim.%s", tag);
    optimizer_free(opt);
    free(p);
}

static void schedule(const safetensors_file *f, const char *tag, lr_schedule s, int epochs) {
    float got[32];
    for (int e = 0; e < epochs; e++) got[e] = lr_at_epoch(&s, 1e-3f, e);
    fixture_check(f, got, (size_t)epochs, 1e-6, 0, "optim.%s", tag);
}

int main(void) {
    safetensors_file *f = fixture_open("layers.safetensors");
    optim_config rms = optim_default_config(OPTIM_RMSPROP);
    rms.lr = 1e-2f;
    run(f, "rmsprop", rms);
    rms.momentum = 0.9f;
    rms.weight_decay = 1e-4f;
    run(f, "rmsprop_mwd", rms);
    optim_config adamw = optim_default_config(OPTIM_ADAMW);
    adamw.lr = 1e-2f;
    run(f, "adamw", adamw);
    schedule(f, "lr_step", lr_schedule_paper(), 20);
    lr_schedule cosine = {.kind = LR_COSINE, .total_epochs = 30};
    schedule(f, "lr_cosine", cosine, 30);
    safetensors_close(f);
    return test_summary("test_optim");
}
