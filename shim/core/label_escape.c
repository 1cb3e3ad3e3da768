/* Label and JSON string escaping (see label_escape.h). */
#include "label_escape.h"

void ck_label_escape(char *out, size_t cap, const char *s) {
    size_t n = 0;
    for (; *s != '\0' && n + 3 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\\' || ch == '"') {
            out[n++] = '\\';
            out[n++] = (char)ch;
        } else if (ch == '\n') {
            out[n++] = '\\';
            out[n++] = 'n';
        } else {
            out[n++] = ch < 0x20 ? ' ' : (char)ch;
        }
    }
    out[n] = '\0';
}
