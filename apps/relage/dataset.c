/* Dataset options shared by prepare and eval: reading labels, splits and what is missing. */
#include "dataset.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "inputs.h"

int dataset_option(dataset_args *d, const char *flag, const char *value) {
    const char **slot = strcmp(flag, "--labels") == 0    ? &d->labels
                        : strcmp(flag, "--images") == 0  ? &d->images
                        : strcmp(flag, "--utkface") == 0 ? &d->utkface
                        : strcmp(flag, "--aaf") == 0     ? &d->aaf
                        : strcmp(flag, "--split") == 0   ? &d->split
                                                         : NULL;
    if (slot) *slot = value;
    return slot != NULL;
}

int dataset_sources(const dataset_args *d) {
    return !!d->labels + !!d->utkface + !!d->aaf;
}

/* 1 when no output that exists is one of the labelled images in folder; else says which.
 * Each image is looked at once, and only when some output exists. */
static int outputs_not_images(const dataset_args *d, const char *cmd, const label_set *labels,
                              const char *folder) {
    struct stat out[8], image;
    int exists[8] = {0}, any = 0, n = d->n_outputs < 8 ? d->n_outputs : 8;
    for (int k = 0; k < n; k++)
        any |= exists[k] = d->outputs[k] && stat(d->outputs[k], &out[k]) == 0;
    for (size_t i = 0; any && folder && i < labels->n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", folder, labels->items[i].name);
        if (stat(path, &image) != 0) continue;
        for (int k = 0; k < n; k++)
            if (exists[k] && same_file(&image, &out[k])) {
                fprintf(stderr,
                        "relage %s: %s %s: an image of the dataset, which it would "
                        "replace\n",
                        cmd, d->flags[k], d->outputs[k]);
                return 0;
            }
    }
    return 1;
}

int dataset_read(dataset_args *d, const char *cmd, label_set *labels, size_t *missing) {
    label_report report = {0};
    if (!d->images) d->images = d->utkface ? d->utkface : d->aaf;
    relage_status st = d->labels    ? label_set_read(labels, d->labels)
                       : d->utkface ? label_set_from_utkface(labels, d->utkface, &report)
                                    : label_set_from_aaf(labels, d->aaf, &report);
    if (st == RELAGE_OK && report.skipped)
        fprintf(stderr, "relage %s: %zu file names without a label skipped (%s)\n", cmd,
                report.skipped, report.examples);
    if (st == RELAGE_OK && !outputs_not_images(d, cmd, labels, d->images)) {
        label_set_free(labels);
        return 0;
    }
    if (st == RELAGE_OK && d->split) {
        report = (label_report){0};
        st = label_set_keep_split(labels, d->split, &report);
        if (st == RELAGE_OK && report.skipped)
            fprintf(stderr, "relage %s: %zu names of %s have no label (%s)\n", cmd, report.skipped,
                    d->split, report.examples);
    }
    if (st != RELAGE_OK) {
        fprintf(stderr, "relage %s: %s\n", cmd, relage_last_error());
        label_set_free(labels);
        return 0;
    }
    *missing = d->images ? label_set_missing_images(labels, d->images, &report) : 0;
    if (*missing)
        fprintf(stderr, "relage %s: %zu labelled images are missing (%s)\n", cmd, *missing,
                report.examples);
    return 1;
}
