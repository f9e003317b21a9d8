/* Adapts a GGUF model to a target-language tokenizer through libsalt's C API, then
 * evaluates the source and the result and prints the table `salt eval` prints.
 *
 *   cc -I include examples/c/adapt.c -L target/release -lsalt -Wl,-rpath,target/release
 *   ./a.out SOURCE.gguf PLM_DIR TRAIN.txt HELDOUT.txt OUT.gguf [MAX_TOKENS]
 *
 * Progress lines go to stderr; Ctrl-C would set the cancel flag in a real runtime (here
 * SALT_CANCEL_AFTER=N cancels at the N-th progress event, to show the flag works).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "salt.h"

struct state {
    salt_cancel *cancel;
    long events;
    long cancel_after;
};

static void on_progress(void *user, const char *stage, uint64_t done, uint64_t total,
                        const char *message) {
    struct state *s = user;
    s->events++;
    if (total == 0)
        fprintf(stderr, "[%s] %s\n", stage, message);
    if (s->cancel_after > 0 && s->events >= s->cancel_after)
        salt_cancel_set(s->cancel);
    (void)done;
}

/* JSON string escaping for paths (quotes and backslashes). */
static void put_json_str(char *dst, size_t cap, const char *src) {
    size_t n = 0;
    dst[n++] = '"';
    for (; *src && n + 3 < cap; src++) {
        if (*src == '"' || *src == '\\')
            dst[n++] = '\\';
        dst[n++] = *src;
    }
    dst[n++] = '"';
    dst[n] = 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s SOURCE.gguf PLM TRAIN.txt HELDOUT.txt OUT.gguf [MAX_TOKENS]\n",
                argv[0]);
        return 2;
    }
    char src[4096], plm[4096], train[4096], heldout[4096], out[4096];
    put_json_str(src, sizeof src, argv[1]);
    put_json_str(plm, sizeof plm, argv[2]);
    put_json_str(train, sizeof train, argv[3]);
    put_json_str(heldout, sizeof heldout, argv[4]);
    put_json_str(out, sizeof out, argv[5]);
    long max_tokens = argc > 6 ? atol(argv[6]) : 1000;

    struct state st = {salt_cancel_new(), 0, 0};
    const char *after = getenv("SALT_CANCEL_AFTER");
    if (after)
        st.cancel_after = atol(after);

    static char cfg[20000];
    snprintf(cfg, sizeof cfg,
             "{\"source\": %s, \"plm\": %s, \"out\": %s, \"trim_to\": %s, "
             "\"aux\": \"plm\", \"methods\": [\"focus\"], \"force\": true}",
             src, plm, out, train);
    char *result = NULL;
    salt_status rc = salt_transfer(cfg, on_progress, &st, st.cancel, &result);
    if (rc != SALT_OK) {
        fprintf(stderr, "salt_transfer: status %d: %s\n", (int)rc, salt_last_error());
        salt_cancel_free(st.cancel);
        return rc == SALT_CANCELLED ? 3 : 2;
    }
    salt_string_free(result);

    snprintf(cfg, sizeof cfg,
             "{\"models\": [%s, %s], \"text\": %s, \"max_tokens\": %ld}", src, out, heldout,
             max_tokens);
    char *table = NULL;
    rc = salt_eval(cfg, on_progress, &st, st.cancel, &table, NULL);
    if (rc != SALT_OK && rc != SALT_CHECK_FAILED) {
        fprintf(stderr, "salt_eval: status %d: %s\n", (int)rc, salt_last_error());
        salt_cancel_free(st.cancel);
        return 2;
    }
    fputs(table, stdout);
    salt_string_free(table);
    salt_cancel_free(st.cancel);
    return rc == SALT_OK ? 0 : 1;
}
