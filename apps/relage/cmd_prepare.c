/* relage prepare: face detection and cropping once over a dataset, into a face cache
 * (src/data/face_cache.h) that training reads. Images are processed in parallel batches and the
 * cache is synced after each, so --resume continues an interrupted run; the finished file
 * appears atomically. Reports images without a face and images that could not be read. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/status.h"
#include "data/face_cache.h"
#include "data/labels.h"
#include "dataset.h"
#include "detect/detector.h"
#include "image/image.h"
#include "inputs.h"

enum { MAX_FACES = 16 };

static void prepare_usage(FILE *out) {
    fprintf(out, "usage: relage prepare (--labels FILE --images DIR | --utkface DIR | --aaf DIR)\n"
                 "                      --out CACHE [OPTIONS]\n"
                 "\n"
                 "  --labels FILE     labels in any format relage eval reads; names relative to\n"
                 "                    --images\n"
                 "  --utkface DIR     a UTKFace folder (ages, gender, race from the file names)\n"
                 "  --aaf DIR         an All-Age-Faces folder (ages from the file names)\n"
                 "  --split FILE      keep only the images named in this split file\n"
                 "  --out CACHE       the face cache to write\n"
                 "  --size N          crop side in pixels (default 256, the paper's resize)\n"
                 "  --detector NAME   auto (default), mtcnn, cascade, or none (whole images)\n"
                 "  --mtcnn DIR       MTCNN weights folder\n"
                 "  --all             every face (default: the largest, the paper's policy)\n"
                 "  --margin M        grow crops by M times the face's larger side (default 0)\n"
                 "  --square          square crops around the face's centre\n"
                 "  --resume          continue an interrupted run from its CACHE.partial (beside\n"
                 "                    the file a link at CACHE names)\n"
                 "  --threads N       threads (default: all cores)\n"
                 "  --quiet           no progress on stderr\n");
}

typedef struct prepared {
    face_entry entry[MAX_FACES];
    uint8_t *pixels; /* MAX_FACES crops */
    int n;
} prepared;

/* Loads, detects and crops one image into p; never fails: an unreadable image becomes one
 * FACE_UNREADABLE record. */
static void prepare_one(const detector *det, const face_policy *policy, const age_label *label,
                        const char *dir, int size, prepared *p) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, label->name);
    image img = {0};
    face_detection *faces = NULL;
    size_t n_faces = 0;
    float regions[MAX_FACES][4];
    int whole = 1;
    face_entry base;
    memset(&base, 0, sizeof base);
    snprintf(base.name, sizeof base.name, "%s", label->name);
    base.mean = (float)label->mean, base.std = (float)label->std, base.real = (float)label->real;
    base.gender = label->gender, base.race = label->race, base.prob = NAN;
    p->n = 1;
    if (image_load(&img, path, NULL) != RELAGE_OK ||
        (det && detector_detect(det, &img, &faces, &n_faces) != RELAGE_OK)) {
        p->entry[0] = base;
        p->entry[0].outcome = FACE_UNREADABLE;
        memset(p->pixels, 0, (size_t)size * size * 3);
        goto cleanup;
    }
    p->n = (int)face_policy_apply(policy, faces, n_faces, img.width, img.height, regions, MAX_FACES,
                                  &whole);
    for (int k = 0; k < p->n; k++) {
        face_entry *e = &p->entry[k];
        *e = base;
        e->outcome = whole ? FACE_WHOLE_IMAGE : FACE_FOUND;
        e->face_index = k;
        e->image_width = img.width, e->image_height = img.height;
        memcpy(e->region, regions[k], sizeof e->region);
        if (!whole) e->prob = faces[k].prob;
        image resized = {0};
        uint8_t *dst = p->pixels + (size_t)k * size * size * 3;
        if (face_crop(&resized, &img, regions[k], size) == RELAGE_OK)
            memcpy(dst, resized.data, (size_t)size * size * 3);
        else {
            e->outcome = FACE_UNREADABLE;
            memset(dst, 0, (size_t)size * size * 3);
        }
        image_free(&resized);
    }
cleanup:
    free(faces);
    image_free(&img);
}

int cmd_prepare(int argc, char **argv) {
    dataset_args data = {0};
    const char *out = NULL, *mtcnn_dir = NULL, *detector_name = "auto";
    long size = 256, threads = omp_get_num_procs();
    int resume = 0, quiet = 0;
    face_policy policy = face_policy_paper();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            prepare_usage(stdout);
            return 0;
        } else if (strcmp(a, "--resume") == 0) {
            resume = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--all") == 0) {
            policy.all = 1;
        } else if (strcmp(a, "--square") == 0) {
            policy.square = 1;
        } else if (!v || a[0] != '-') {
            fprintf(stderr, "relage prepare: unexpected '%s' (see --help)\n", a);
            return 2;
        } else {
            i++;
            if (dataset_option(&data, a, v))
                continue;
            else if (strcmp(a, "--out") == 0)
                out = v;
            else if (strcmp(a, "--mtcnn") == 0)
                mtcnn_dir = v;
            else if (strcmp(a, "--detector") == 0)
                detector_name = v;
            else if (strcmp(a, "--size") == 0) {
                if (!parse_int_option(a, v, 16, 4096, &size)) return 2;
            } else if (strcmp(a, "--threads") == 0) {
                if (!parse_int_option(a, v, 1, 1024, &threads)) return 2;
            } else if (strcmp(a, "--margin") == 0) {
                char *end = NULL;
                policy.margin = strtof(v, &end);
                if (end == v || *end || !(policy.margin >= 0.0f && policy.margin <= 10.0f)) {
                    fprintf(stderr, "relage prepare: --margin expects a number in [0, 10]\n");
                    return 2;
                }
            } else {
                fprintf(stderr, "relage prepare: unknown option '%s' (see --help)\n", a);
                return 2;
            }
        }
    }
    if (!out || dataset_sources(&data) != 1 || (data.labels && !data.images)) {
        fprintf(stderr, "relage prepare: needs --out and one of --labels (with --images), "
                        "--utkface or --aaf (see --help)\n");
        return 2;
    }
    const char *inputs[5] = {data.labels, data.split, data.images, data.utkface, data.aaf};
    if (!output_path_ok("prepare", "--out", out, inputs, 5)) return 2;
    static const char *const OUT_FLAG[1] = {"--out"};
    const char *outputs[1] = {out};
    data.outputs = outputs;
    data.flags = OUT_FLAG;
    data.n_outputs = 1;
    omp_set_num_threads((int)threads);

    int rc = 1;
    label_set labels = {0};
    size_t missing = 0;
    detector *det = NULL;
    face_cache_writer *w = NULL;
    prepared *batch = NULL;
    relage_status st = RELAGE_OK;
    if (!dataset_read(&data, "prepare", &labels, &missing)) return 1;
    if (missing) fprintf(stderr, "relage prepare: the missing images are recorded as unreadable\n");
    const char *images = data.images;
    face_cache_info info;
    memset(&info, 0, sizeof info);
    info.size = (uint32_t)size;
    face_policy_format(&policy, info.policy, sizeof info.policy);
    snprintf(info.source, sizeof info.source, "%s", images);
    if (strcmp(detector_name, "none") == 0) {
        snprintf(info.detector, sizeof info.detector, "none");
    } else {
        detector_kind kind;
        if ((st = detector_kind_parse(detector_name, &kind)) != RELAGE_OK ||
            (st = detector_open(&det, kind, mtcnn_dir, NULL)) != RELAGE_OK)
            goto fail;
        snprintf(info.detector, sizeof info.detector, "%s",
                 detector_kind_name(detector_kind_of(det)));
    }
    uint64_t done = 0;
    const char **names = malloc((labels.n + 1) * sizeof *names);
    if (!names) {
        st = relage_fail(RELAGE_ERR_NOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < labels.n; i++) names[i] = labels.items[i].name;
    st = face_cache_begin(&w, out, &info, resume, names, labels.n, &done);
    free(names);
    if (st != RELAGE_OK) goto fail;
    if (done)
        fprintf(stderr, "relage prepare: resuming after %llu images\n", (unsigned long long)done);
    else if (resume)
        fprintf(stderr, "relage prepare: nothing to resume (no partial cache, or no image done "
                        "in it); starting from the first image\n");

    enum { BATCH = 16 };
    batch = calloc(BATCH, sizeof *batch);
    for (int b = 0; batch && b < BATCH; b++)
        if (!(batch[b].pixels = malloc((size_t)MAX_FACES * size * size * 3))) {
            st = RELAGE_ERR_NOMEM;
            goto fail;
        }
    size_t counts[3] = {0};
    progress p;
    progress_start(&p, "prepare", "images", (long)labels.n, quiet);
    for (size_t start = (size_t)done; start < labels.n; start += BATCH) {
        int n = (int)(labels.n - start < BATCH ? labels.n - start : BATCH);
#pragma omp parallel for schedule(dynamic, 1)
        for (int b = 0; b < n; b++)
            prepare_one(det, &policy, &labels.items[start + (size_t)b], images, (int)size,
                        &batch[b]);
        for (int b = 0; b < n && st == RELAGE_OK; b++) {
            counts[batch[b].entry[0].outcome]++;
            for (int k = 0; k < batch[b].n && st == RELAGE_OK; k++)
                st = face_cache_append(w, &batch[b].entry[k],
                                       batch[b].pixels + (size_t)k * size * size * 3);
        }
        if (st == RELAGE_OK) st = face_cache_sync(w);
        if (st != RELAGE_OK) goto fail;
        progress_update(&p, (long)(start + (size_t)n));
    }
    progress_finish(&p, (long)labels.n);
    if (!done && counts[FACE_UNREADABLE] == labels.n) { /* a wrong --images, most likely */
        st = relage_fail(RELAGE_ERR_IO,
                         "none of the %zu images could be read from %s; no cache "
                         "written",
                         labels.n, images);
        face_cache_discard(w);
        w = NULL;
        goto fail;
    }
    st = face_cache_finish(w);
    w = NULL;
    if (st != RELAGE_OK) goto fail;
    printf("%s: %zu images%s: %zu with a face, %zu without (whole image), %zu unreadable; "
           "policy '%s', detector %s, %ldx%ld crops\n",
           out, labels.n - (size_t)done, done ? " (this run)" : "", counts[FACE_FOUND],
           counts[FACE_WHOLE_IMAGE], counts[FACE_UNREADABLE], info.policy, info.detector, size,
           size);
    rc = 0;
    goto cleanup;
fail:
    fprintf(stderr, "relage prepare: %s\n",
            st == RELAGE_ERR_NOMEM && !*relage_last_error() ? "out of memory"
                                                            : relage_last_error());
cleanup:
    face_cache_abandon(w);
    for (int b = 0; batch && b < 16; b++) free(batch[b].pixels);
    free(batch);
    detector_free(det);
    label_set_free(&labels);
    return rc;
}
