/* libFuzzer target: plan files (generate --plan) against the default data
 * set: anything but the plan `revops-stream plan` writes must be refused
 * with one line, never trusted or crash. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rs_settings s;
    static rs_vocab v;
    static int ready;
    rs_err err = {{0}};
    if (!ready) {
        rs_settings_init(&s);
        if (rs_vocab_builtin(&v, &err) != 0)
            abort();
        ready = 1;
    }
    rs_gen *g = NULL;
    int rc = rs_gen_create_planned(&g, &s, &v, 1, (const char *)data, size, &err);
    fuzz_check_error(rc, &err);
    if (rc == 0)
        rs_gen_free(g);
    return 0;
}
