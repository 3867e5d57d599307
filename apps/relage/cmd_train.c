/* relage train: the paper's recipe on a face cache made by relage prepare, every choice an
 * option. A progress line per batch (images/s, running loss, ETA), a line per epoch; Ctrl-C
 * saves the state and exits, and --resume continues exactly. */
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/clock.h"
#include "train/trainer.h"

static volatile int interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends at once */
}

static void train_usage(FILE *out) {
    fprintf(out,
            "usage: relage train --train CACHE [--val CACHE] --out DIR [OPTIONS]\n"
            "\n"
            "  --train CACHE       face cache from relage prepare (training images)\n"
            "  --val CACHE         validation cache: MAE and epsilon after each epoch\n"
            "  --test CACHE        test cache, evaluated and logged after each epoch too\n"
            "  --protocol NAME     recorded in DIR/summary.json, e.g. utk128\n"
            "  --out DIR           run folder: config.json, log.jsonl, model and state files\n"
            "  --arch NAME         resnet18, resnet34, resnet50 (default resnet50)\n"
            "  --head NAME         base, rn, rng (default base); --rn-literal; --hidden N\n"
            "  --width W           channel width multiplier (default 1)\n"
            "  --input N           crop the network sees, >= 32 (default 224)\n"
            "  --optimizer NAME    rmsprop (default) or adamw\n"
            "  --lr X              learning rate (default 1e-4)\n"
            "  --weight-decay X    (default 0 for RMSprop, 1e-2 for AdamW); --momentum X\n"
            "  --schedule NAME     step (default, x0.1 at --milestones 10,15) or cosine\n"
            "  --epochs N          (default 20); --batch N (default 30)\n"
            "  --seed N            data order and augmentation (default 1); --model-seed N\n"
            "  --init CHECKPOINT   start from a checkpoint (relage's or a torchvision ResNet's\n"
            "                      safetensors: missing and unexpected tensors are reported)\n"
            "  --resume            continue DIR/state.safetensors\n"
            "  --threads N         threads (default: all cores)\n"
            "  --backend NAME      dnnl (default: oneDNN) or ref (plain C, the oracle)\n"
            "  --precision NAME    fp32 (default) or bf16 (the trunk on dnnl, on CPUs with\n"
            "                      AVX512-BF16 or AMX; fp32 master weights; refused elsewhere)\n"
            "  --quiet             no progress\n");
}

typedef struct progress_state {
    int quiet;
    double last;
    double eval_seconds; /* the last epoch's evaluations, for the run's ETA (0: none yet) */
} progress_state;

/* ETAs of the epoch and of the run: the images left at this process's rate, plus one
 * evaluation per epoch left as long as the last one took. */
static void on_progress(const train_progress *p, void *user) {
    progress_state *s = user;
    double now = clock_seconds();
    if (s->quiet || (now - s->last < 0.5 && p->done < p->total)) return;
    s->last = now;
    double rate = p->img_per_s > 0 ? p->img_per_s : (double)NAN,
           left = (double)(p->total - p->done);
    double epochs_after = (double)(p->epochs - p->epoch - 1);
    double run =
        (left + epochs_after * (double)p->total) / rate + (epochs_after + 1) * s->eval_seconds;
    char e[16], r[16];
    fprintf(stderr, "%sepoch %d/%d %zu/%zu images, %.1f img/s, loss %.3f, ETA %s, run %s%s",
            isatty(STDERR_FILENO) ? "\r" : "", p->epoch + 1, p->epochs, p->done, p->total,
            p->img_per_s, p->running_loss, duration_text(left / rate, e), duration_text(run, r),
            isatty(STDERR_FILENO) ? "  " : "\n");
}

static void on_epoch(const epoch_result *r, void *user) {
    progress_state *s = user;
    s->eval_seconds = r->eval_seconds;
    if (!s->quiet && isatty(STDERR_FILENO)) fprintf(stderr, "\n");
    printf("epoch %d: lr %.3g, train loss %.4f", r->epoch, r->lr, r->train_loss);
    if (!isnan(r->val_mae)) printf(", val MAE %.4f", r->val_mae);
    if (!isnan(r->val_eps)) printf(", val epsilon %.4f", r->val_eps);
    if (!isnan(r->test_mae)) printf(", test MAE %.4f", r->test_mae);
    if (!isnan(r->test_eps)) printf(", test epsilon %.4f", r->test_eps);
    printf(", %.1fs, %.1f img/s\n", r->seconds, r->img_per_s);
    fflush(stdout);
}

static int parse_float(const char *name, const char *v, float lo, float hi, float *out) {
    char *end = NULL;
    float x = strtof(v, &end);
    if (end == v || *end || !(x >= lo && x <= hi)) {
        fprintf(stderr, "relage train: %s expects a number in [%g, %g], got '%s'\n", name,
                (double)lo, (double)hi, v);
        return 0;
    }
    *out = x;
    return 1;
}

int cmd_train(int argc, char **argv) {
    train_config c = train_default_config();
    long value, threads = omp_get_num_procs();
    int quiet = 0, wd_set = 0, milestones_set = 0;
    float wd = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            train_usage(stdout);
            return 0;
        } else if (strcmp(a, "--resume") == 0) {
            c.resume = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--rn-literal") == 0) {
            c.model.rn_literal = 1;
        } else if (!v) {
            fprintf(stderr, "relage train: %s needs a value, or is not an option (see --help)\n",
                    a);
            return 2;
        } else {
            i++;
            int ok = 1;
            if (strcmp(a, "--train") == 0)
                c.train_cache = v;
            else if (strcmp(a, "--val") == 0)
                c.val_cache = v;
            else if (strcmp(a, "--test") == 0)
                c.test_cache = v;
            else if (strcmp(a, "--protocol") == 0)
                c.protocol = v;
            else if (strcmp(a, "--out") == 0)
                c.out_dir = v;
            else if (strcmp(a, "--init") == 0)
                c.init = v;
            else if (strcmp(a, "--arch") == 0)
                ok = resnet_arch_parse(v, &c.model.arch) == RELAGE_OK;
            else if (strcmp(a, "--head") == 0)
                ok = head_kind_parse(v, &c.model.head) == RELAGE_OK;
            else if (strcmp(a, "--width") == 0)
                ok = parse_float(a, v, 1e-3f, 8, &c.model.width);
            else if (strcmp(a, "--lr") == 0)
                ok = parse_float(a, v, 0, 10, &c.optim.lr);
            else if (strcmp(a, "--momentum") == 0)
                ok = parse_float(a, v, 0, 1, &c.optim.momentum);
            else if (strcmp(a, "--weight-decay") == 0)
                ok = wd_set = parse_float(a, v, 0, 1, &wd);
            else if (strcmp(a, "--input") == 0) {
                if ((ok = parse_int_option(a, v, 32, 4096, &value))) c.model.input = (int)value;
            } else if (strcmp(a, "--hidden") == 0) {
                if ((ok = parse_int_option(a, v, 1, 65536, &value))) c.model.hidden = (int)value;
            } else if (strcmp(a, "--epochs") == 0) {
                if ((ok = parse_int_option(a, v, 1, 10000, &value))) c.epochs = (int)value;
            } else if (strcmp(a, "--batch") == 0) {
                if ((ok = parse_int_option(a, v, 1, 256, &value))) c.batch = (int)value;
            } else if (strcmp(a, "--seed") == 0) {
                if ((ok = parse_int_option(a, v, 0, 1L << 40, &value))) c.seed = (uint64_t)value;
            } else if (strcmp(a, "--model-seed") == 0) {
                if ((ok = parse_int_option(a, v, 0, 1L << 40, &value)))
                    c.model.seed = (uint64_t)value;
            } else if (strcmp(a, "--threads") == 0)
                ok = parse_int_option(a, v, 1, 1024, &threads);
            else if (strcmp(a, "--precision") == 0)
                c.precision = v;
            else if (strcmp(a, "--backend") == 0) {
                c.backend = v;
            } else if (strcmp(a, "--optimizer") == 0) {
                if (strcmp(v, "adamw") == 0 || strcmp(v, "rmsprop") == 0) {
                    float lr = c.optim.lr;
                    c.optim = optim_default_config(v[0] == 'a' ? OPTIM_ADAMW : OPTIM_RMSPROP);
                    c.optim.lr = lr;
                } else {
                    fprintf(stderr, "relage train: --optimizer is rmsprop or adamw\n");
                    return 2;
                }
            } else if (strcmp(a, "--schedule") == 0) {
                if (strcmp(v, "cosine") == 0)
                    c.schedule.kind = LR_COSINE;
                else if (strcmp(v, "step") == 0)
                    c.schedule.kind = LR_STEP;
                else {
                    fprintf(stderr, "relage train: --schedule is step or cosine\n");
                    return 2;
                }
            } else if (strcmp(a, "--milestones") == 0) {
                int n = 0, at = 0, used;
                while (n < 8 && sscanf(v + at, "%d%n", &c.schedule.milestones[n], &used) == 1) {
                    n++;
                    at += used;
                    if (v[at] != ',' || !v[at + 1]) break; /* "10," stays unparsed: refused */
                    at++;
                }
                ok = n > 0 && v[at] == '\0' && c.schedule.milestones[0] >= 1;
                for (int k = 1; k < n; k++)
                    ok = ok && c.schedule.milestones[k] > c.schedule.milestones[k - 1];
                c.schedule.n_milestones = n;
                milestones_set = 1;
                if (!ok) {
                    fprintf(stderr,
                            "relage train: --milestones takes up to 8 increasing epochs "
                            ">= 1, e.g. 10,15; got '%s'\n",
                            v);
                    return 2;
                }
            } else {
                fprintf(stderr, "relage train: unknown option '%s' (see --help)\n", a);
                return 2;
            }
            if (!ok) {
                if (*relage_last_error())
                    fprintf(stderr, "relage train: %s\n", relage_last_error());
                return 2;
            }
        }
    }
    if (!c.train_cache || !c.out_dir) {
        fprintf(stderr, "relage train: needs --train CACHE and --out DIR (see --help)\n");
        return 2;
    }
    if (milestones_set && c.schedule.kind != LR_STEP) {
        fprintf(stderr, "relage train: --milestones belongs to --schedule step\n");
        return 2;
    }
    if (wd_set) c.optim.weight_decay = wd;
    c.schedule.total_epochs = c.epochs;
    /* the command as typed, for summary.json */
    char command[4096];
    size_t used = 0;
    command[0] = '\0';
    for (int i = 0; i < argc && used + 2 < sizeof command; i++) {
        int n =
            snprintf(command + used, sizeof command - used, "%s%s", i ? " " : "relage ", argv[i]);
        if (n < 0) break;
        used += (size_t)n < sizeof command - used ? (size_t)n : sizeof command - used - 1;
    }
    c.command = command;
    omp_set_num_threads((int)threads);
    progress_state ps = {quiet, 0, 0};
    train_callbacks cb = {on_progress, on_epoch, &ps};
    signal(SIGINT, on_sigint);
    int stopped = 0;
    relage_status st = train_run(&c, &cb, &interrupted, &stopped);
    const char *end_bar = !quiet && isatty(STDERR_FILENO) ? "\n" : ""; /* after a \r line */
    if (st != RELAGE_OK) {
        fprintf(stderr, "%srelage train: %s\n", end_bar, relage_last_error());
        return 1;
    }
    if (stopped) {
        fprintf(stderr,
                "%srelage train: interrupted; state saved in %s/state.safetensors "
                "(continue with --resume)\n",
                end_bar, c.out_dir);
        return 130;
    }
    printf("model: %s/model.safetensors, log: %s/log.jsonl\n", c.out_dir, c.out_dir);
    return 0;
}
