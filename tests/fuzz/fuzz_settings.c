/* libFuzzer target: the settings file parser (NAME = VALUE lines and
 * Python settings.py), then the checks a loaded file goes through. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfile(data, size, path);
    rs_err err = {{0}};
    rs_settings s;
    rs_settings_init(&s);
    int rc = rs_settings_load_file(&s, path, &err);
    fuzz_check_error(rc, &err);
    if (rc == 0) {
        rc = rs_settings_check(&s, &err);
        fuzz_check_error(rc, &err);
    }
    rs_settings_free(&s);
    close(fd);
    return 0;
}
