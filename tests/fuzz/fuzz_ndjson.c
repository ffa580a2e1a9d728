/* libFuzzer target: the NDJSON stream reader over arbitrary bytes. */
#include "fuzz_common.h"
#include "record.h"
#include "pyjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fuzz_memfile(data, size, path);
    rs_err err = {{0}};
    rs_ndjson_reader *r;
    int rc = rs_ndjson_open(&r, path, &err);
    if (rc == 0) {
        /* Small reads: faster runs, and lines that cross many buffer ends. */
        rs_ndjson_set_chunk(r, 4096);
        rs_record rec;
        while ((rc = rs_ndjson_next(r, &rec, &err)) > 0)
            ;
        rs_ndjson_close(r);
    }
    fuzz_check_error(rc, &err);
    close(fd);
    return 0;
}
