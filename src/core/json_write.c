/* JSON output helpers (json_write.h). */
#include "core/json_write.h"

#include <math.h>

/* Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF), or 0. */
static int utf8_length(const unsigned char *p) {
    int n = p[0] < 0x80                    ? 1
            : p[0] >= 0xC2 && p[0] <= 0xDF ? 2
            : (p[0] & 0xF0) == 0xE0        ? 3
            : p[0] >= 0xF0 && p[0] <= 0xF4 ? 4
                                           : 0;
    for (int i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] > 0x9F) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] > 0x8F))
        return 0;
    return n;
}

void json_write_string(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        int n = utf8_length(p);
        if (n == 0) { /* JSON text is UTF-8: a byte that is not becomes U+FFFD */
            fputs("\\ufffd", out);
            continue;
        }
        if (n > 1) {
            fwrite(p, 1, (size_t)n, out);
            p += n - 1;
            continue;
        }
        switch (*p) {
        case '"':
            fputs("\\\"", out);
            break;
        case '\\':
            fputs("\\\\", out);
            break;
        case '\n':
            fputs("\\n", out);
            break;
        case '\r':
            fputs("\\r", out);
            break;
        case '\t':
            fputs("\\t", out);
            break;
        default:
            if (*p < 0x20)
                fprintf(out, "\\u%04x", *p);
            else
                fputc(*p, out);
        }
    }
    fputc('"', out);
}

void json_write_number(FILE *out, double value, int decimals) {
    if (isfinite(value))
        fprintf(out, "%.*f", decimals, value);
    else
        fputs("null", out);
}
