/* The final summary of a finished training run, DIR/summary.json, made from its config and its
 * per-epoch log: protocol, arch, head, seeds, recipe, epochs, the last epoch's validation and
 * test MAE and epsilon, the best validation MAE and its epoch, wall time of training (sum of the
 * epochs), mean training throughput, backend and the command. */
#ifndef RELAGE_TRAIN_SUMMARY_H
#define RELAGE_TRAIN_SUMMARY_H

#include "relage.h"
#include "train/trainer.h"

/* Reads cfg->out_dir/log.jsonl and writes cfg->out_dir/summary.json atomically. */
relage_status train_write_summary(const train_config *cfg);

/* The recipe in words, e.g. "rmsprop lr 0.0001 wd 0, step x0.1 at 10,15, 20 epochs, batch 30". */
void train_recipe_text(const train_config *cfg, char *text, size_t size);

#endif
