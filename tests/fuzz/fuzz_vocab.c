/* libFuzzer target: the vocabulary loader. The first byte picks which file
 * of a vocabulary directory the rest becomes (a word list or regions.json). */
#include "fuzz_common.h"

#include <fcntl.h>
#include <sys/stat.h>

static const char *const files[] = {"first-names.txt", "last-names.txt", "nouns.txt", "company-suffixes.txt",
                                    "industries.txt",  "stages.txt",     "regions.json"};

static char dir[64];

static void remove_dir(void)
{
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/rs-fuzz-vocab.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir))
            abort();
        atexit(remove_dir);
    }
    if (size == 0)
        return 0;
    const char *name = files[data[0] % (sizeof files / sizeof *files)];
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, data + 1, size - 1) != (ssize_t)(size - 1))
        abort();
    close(fd);
    rs_err err = {{0}};
    rs_vocab v;
    memset(&v, 0, sizeof v);
    int rc = rs_vocab_load_dir(&v, dir, &err);
    fuzz_check_error(rc, &err);
    rs_vocab_free(&v);
    unlink(path);
    return 0;
}
