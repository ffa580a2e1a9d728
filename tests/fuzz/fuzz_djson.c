/* libFuzzer target: the streaming data.json reader over arbitrary bytes,
 * both passes (it rewinds for callers that read twice). */
#include "fuzz_common.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfile(data, size, path);
    rs_err err = {{0}};
    rs_djson_reader *r;
    int rc = rs_djson_open(&r, path, &err);
    if (rc == 0) {
        rs_record rec;
        for (int pass = 0; pass < 2 && rc == 0; pass++) {
            while ((rc = rs_djson_next(r, &rec, &err)) > 0)
                ;
            if (rc == 0 && pass == 0)
                rc = rs_djson_rewind(r, &err);
        }
        rs_djson_close(r);
    }
    fuzz_check_error(rc, &err);
    close(fd);
    return 0;
}
