/* Prediction results as JSON (result_json.h). */
#include "api/result_json.h"

#include "core/json_write.h"

static void face_json(FILE *out, const relage_face *f, int dist) {
    fprintf(out, "{\"box\":[%.1f,%.1f,%.1f,%.1f],\"prob\":", (double)f->box[0], (double)f->box[1],
            (double)f->box[2], (double)f->box[3]);
    json_write_number(out, (double)f->prob, 4);
    fprintf(out, ",\"age\":%.2f,\"spread\":%.2f,\"interval\":[%.1f,%.1f],\"regression\":%.2f",
            (double)f->age, (double)f->spread, (double)f->interval[0], (double)f->interval[1],
            (double)f->regression);
    if (dist) {
        fprintf(out, ",\"dist\":[");
        for (int c = 0; c < RELAGE_AGE_CLASSES; c++)
            fprintf(out, "%s%.5g", c ? "," : "", (double)f->dist[c]);
        fprintf(out, "]");
    }
    fprintf(out, "}");
}

void result_json_write(FILE *out, const char *image, const relage_result *r, int dist) {
    fprintf(out, "{\"image\":");
    json_write_string(out, image);
    fprintf(out, ",\"whole_image\":%s,\"width\":%d,\"height\":%d,\"faces\":[",
            r->whole_image ? "true" : "false", r->width, r->height);
    for (size_t i = 0; i < r->n_faces; i++) {
        if (i) fprintf(out, ",");
        face_json(out, &r->faces[i], dist);
    }
    fprintf(out, "]}");
}

void error_json_write(FILE *out, const char *image, const char *error) {
    fprintf(out, "{");
    if (image) {
        fprintf(out, "\"image\":");
        json_write_string(out, image);
        fprintf(out, ",");
    }
    fprintf(out, "\"error\":");
    json_write_string(out, error);
    fprintf(out, "}");
}
