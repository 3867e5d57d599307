/* Model checkpoints as safetensors files with PyTorch's state_dict names, so that a torchvision
 * or timm ResNet state_dict saved as safetensors loads as a backbone and our files load in
 * PyTorch. The "__metadata__" records what is needed to rebuild the model and its input:
 * format ("relage-checkpoint"), relage_version, arch, head, width, input, hidden, rn_literal,
 * mean, std (comma-separated, RGB) and crop (how the training faces were made: detector, face
 * policy and crop size, as model.crop says; empty when unknown). */
#ifndef RELAGE_IO_CHECKPOINT_H
#define RELAGE_IO_CHECKPOINT_H

#include <stddef.h>

#include "io/safetensors.h"
#include "nn/optim.h"
#include "nn/resnet.h"
#include "relage.h"

/* Missing (in the model, not in the file) and unexpected (in the file, not in the model)
 * tensors of a load; names lists them comma-separated, truncated with "..." when long. */
typedef struct checkpoint_report {
    size_t loaded, missing, unexpected;
    char missing_names[512];
    char unexpected_names[512];
} checkpoint_report;

/* Writes every tensor of the model (parameters, running statistics, num_batches_tracked) and
 * the metadata, atomically: on failure an existing file at path is left unchanged. */
relage_status checkpoint_save(const model *m, const char *path);

/* The same with the weights (tensors of 2 or more dimensions: convolutions, fully connected
 * layers) rounded to F16 or BF16 (safetensors_round_half), for a smaller file; biases,
 * BatchNorm parameters and statistics stay F32. Loading reads either. */
relage_status checkpoint_save_as(const model *m, const char *path, safetensors_dtype weights);

/* Where a training run stands: the epoch to run next (0-based), its first sample not yet
 * trained on, and the running loss and time of that epoch's batches already done, so that a
 * resumed epoch logs the same loss as an uninterrupted one. */
typedef struct train_position {
    int epoch;
    uint64_t next_sample;
    double loss_sum;
    uint64_t loss_batches;
    double seconds;
} train_position;

/* A training state: the checkpoint plus the optimiser's state and step and the position.
 * Written atomically. */
relage_status checkpoint_save_state(const model *m, const optimizer *opt, const train_position *pos,
                                    const char *path);

/* Loads a state written by checkpoint_save_state into m, opt and pos (m and opt built with the
 * same configuration); RELAGE_ERR_MISMATCH if they differ. States written before the running
 * loss was recorded load with a zero running loss. */
relage_status checkpoint_load_state(model *m, optimizer *opt, train_position *pos,
                                    const char *path);

/* Reads the metadata of a relage checkpoint into a model configuration (which
 * model_create then builds). RELAGE_ERR_FORMAT if the file is not a relage checkpoint. */
relage_status checkpoint_read_config(const char *path, model_config *config);

/* A model ready for inference from a relage checkpoint: its configuration from the metadata,
 * built on backend be without random initialisation, every tensor loaded (strict), room for
 * capacity images. On failure *out is NULL and the error names the file. */
relage_status checkpoint_open_model(model **out, const char *path, const backend *be, int capacity);

/* Loads the tensors of file whose names are prefix + the model's names. A tensor of the wrong
 * shape or dtype is always an error naming it (RELAGE_ERR_MISMATCH), and the model is then
 * left unchanged. With strict, any missing or unexpected tensor is an error too; without,
 * they are only counted in report (which may be NULL), e.g. to load a torchvision backbone,
 * whose fc.* is unexpected and whose heads are missing. The "crop" metadata, if any, becomes
 * m->crop. */
relage_status checkpoint_load_from(model *m, const safetensors_file *file, const char *prefix,
                                   int strict, checkpoint_report *report);

/* Opens path and loads it with no prefix. */
relage_status checkpoint_load(model *m, const char *path, int strict, checkpoint_report *report);

#endif
