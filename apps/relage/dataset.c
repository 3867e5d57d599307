/* Dataset options shared by prepare and eval: reading labels, splits and what is missing. */
#include "dataset.h"

#include <stdio.h>
#include <string.h>

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

int dataset_read(dataset_args *d, const char *cmd, label_set *labels, size_t *missing) {
    label_report report = {0};
    if (!d->images) d->images = d->utkface ? d->utkface : d->aaf;
    relage_status st = d->labels    ? label_set_read(labels, d->labels)
                       : d->utkface ? label_set_from_utkface(labels, d->utkface, &report)
                                    : label_set_from_aaf(labels, d->aaf, &report);
    if (st == RELAGE_OK && report.skipped)
        fprintf(stderr, "relage %s: %zu file names without a label skipped (%s)\n", cmd,
                report.skipped, report.examples);
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
