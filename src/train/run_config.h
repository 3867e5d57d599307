/* DIR/config.json, a training run's settings: written when the run starts, and checked when it
 * resumes, so that the file always describes the run that produced the folder. */
#ifndef RELAGE_TRAIN_RUN_CONFIG_H
#define RELAGE_TRAIN_RUN_CONFIG_H

#include "relage.h"
#include "train/trainer.h"

/* Writes cfg->out_dir/config.json atomically (strings escaped as JSON). */
relage_status run_config_write(const train_config *cfg);

/* For --resume: every setting that decides the run's result (architecture, head, sizes, seeds,
 * optimiser, learning rate and schedule, epochs, batch, the training cache, and --init when it
 * is given) must equal what config.json records, numbers to float precision; the validation and
 * test caches, backend, precision and thread count may change. A difference is
 * RELAGE_ERR_MISMATCH naming each setting with both values. */
relage_status run_config_check(const train_config *cfg);

#endif
