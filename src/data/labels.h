/* Age labels of a dataset, read from the formats age-estimation data comes in:
 *   APPA-REAL gt_avg_*.csv    file_name,num_ratings,apparent_age_avg,apparent_age_std,real_age
 *   ChaLearn LAP 2016         image,mean,stdv (header)
 *   ChaLearn LAP 2015         image;mean;std (semicolon, integer mean, no header)
 *   IMDB-WIKI / generic CSV   path,age[,std] with or without a header
 *   UTKFace                   a folder of AGE_GENDER_RACE_DATE.jpg.chip.jpg (or its labels.csv)
 *   All-Age-Faces             a folder of NNNNNAxx.jpg, xx the age (or its labels.csv)
 * and the official split files (one name per line, optionally followed by more fields). Nothing
 * is dropped silently: bad rows are errors naming file and line; malformed file names, names
 * in a split without a label and missing images are counted and named in a report. */
#ifndef RELAGE_DATA_LABELS_H
#define RELAGE_DATA_LABELS_H

#include <stddef.h>

#include "relage.h"

typedef struct age_label {
    char *name;             /* as the label file or folder gives it */
    double mean, std, real; /* apparent (or real) age; std and real NAN when unknown */
    int gender, race;       /* dataset codes, -1 when unknown */
} age_label;

typedef struct label_set {
    age_label *items;
    size_t n;
} label_set;

/* What a reader skipped: how many, and the first few names. */
typedef struct label_report {
    size_t skipped;
    char examples[256];
} label_report;

enum { MAX_AGE = 150 }; /* ages and vote spreads outside 0..MAX_AGE are errors in a label file */

/* A label CSV in any of the formats above (delimiter and header detected; a UTF-8 byte-order
 * mark skipped). Bad rows, ages outside 0..MAX_AGE and names labelled twice are
 * RELAGE_ERR_FORMAT naming the file and line. */
relage_status label_set_read(label_set *labels, const char *path);

/* A UTKFace or All-Age-Faces folder: ages (and UTKFace's gender and race) from the file names.
 * Files whose names do not parse are skipped and reported. */
relage_status label_set_from_utkface(label_set *labels, const char *folder, label_report *report);
relage_status label_set_from_aaf(label_set *labels, const char *folder, label_report *report);

/* Keeps the labels named in a split file, in the split's order; names of the split that have
 * no label are reported. An empty split file is RELAGE_ERR_FORMAT. */
relage_status label_set_keep_split(label_set *labels, const char *split_path, label_report *report);

/* Counts the labels whose image folder/name is not a readable file, and names the first few. */
size_t label_set_missing_images(const label_set *labels, const char *folder, label_report *report);

void label_set_free(label_set *labels);

#endif
