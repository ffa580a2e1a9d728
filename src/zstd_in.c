/* Plain or zstd input, recognised by its magic number. */
#include "zstd_in.h"
#include "fdio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>
#include <zstd_errors.h>

/* Compressed bytes read at a time; the decoder takes any piece size. */
#define RAW_CHUNK (128u << 10)

enum { MODE_UNKNOWN, MODE_PLAIN, MODE_ZSTD };

struct rs_zin {
    int fd, tee;
    int mode;
    bool eof;
    int failed; /* the first error, returned again by every later read */
    rs_err ferr;
    char name[256];
    unsigned char peek[4]; /* the bytes read to decide the mode */
    size_t npeek, peek_pos;
    ZSTD_DStream *ds;
    unsigned char *in;
    size_t in_len, in_pos;
    /* The decoder's last answer that meant something: 0 exactly when the
     * input so far ends on a frame boundary. */
    size_t frame_left;
};

int rs_zin_open(rs_zin **out, int fd, const char *name, rs_err *err)
{
    rs_zin *z = calloc(1, sizeof *z);
    if (!z) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    z->fd = fd;
    z->tee = -1;
    snprintf(z->name, sizeof z->name, "%s", name);
    *out = z;
    return 0;
}

void rs_zin_close(rs_zin *z)
{
    if (!z)
        return;
    ZSTD_freeDStream(z->ds);
    free(z->in);
    free(z);
}

bool rs_zin_is_zstd(const rs_zin *z)
{
    return z->mode == MODE_ZSTD;
}

bool rs_zin_plain_drained(const rs_zin *z)
{
    return z->mode == MODE_PLAIN && z->peek_pos == z->npeek && z->tee < 0;
}

void rs_zin_set_tee(rs_zin *z, int fd)
{
    z->tee = fd;
}

/* One read(2) of raw bytes, copied to the tee; 0 at the end. */
static int raw_read(rs_zin *z, void *buf, size_t cap, size_t *got, rs_err *err)
{
    ssize_t n;
    do
        n = read(z->fd, buf, cap);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        snprintf(err->msg, sizeof err->msg, "%.300s: read failed: %s", z->name, strerror(errno));
        z->failed = RS_EIO;
        z->ferr = *err;
        return RS_EIO;
    }
    if (n > 0 && z->tee >= 0 && rs_fd_write_all(z->tee, buf, (size_t)n) != 0) {
        snprintf(err->msg, sizeof err->msg, "%.300s: cannot copy the input to a temp file: %s", z->name,
                 strerror(errno));
        return RS_EIO;
    }
    *got = (size_t)n;
    return 0;
}

static bool is_zstd_magic(const unsigned char *p)
{
    uint32_t m = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return m == ZSTD_MAGICNUMBER || (m & ZSTD_MAGIC_SKIPPABLE_MASK) == ZSTD_MAGIC_SKIPPABLE_START;
}

/* Reads the first four bytes (a pipe may give them one at a time). */
static int decide(rs_zin *z, rs_err *err)
{
    while (z->npeek < 4) {
        size_t got;
        int rc = raw_read(z, z->peek + z->npeek, 4 - z->npeek, &got, err);
        if (rc)
            return rc;
        if (got == 0) {
            z->eof = true;
            break;
        }
        z->npeek += got;
    }
    if (z->npeek < 4 || !is_zstd_magic(z->peek)) {
        z->mode = MODE_PLAIN;
        return 0;
    }
    z->ds = ZSTD_createDStream();
    z->in = malloc(RAW_CHUNK);
    if (!z->ds || !z->in) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    ZSTD_initDStream(z->ds);
    memcpy(z->in, z->peek, 4);
    z->in_len = 4;
    z->frame_left = 1; /* a magic number alone is a truncated frame */
    z->mode = MODE_ZSTD;
    return 0;
}

static int zfail(rs_zin *z, rs_err *err, const char *what)
{
    snprintf(err->msg, sizeof err->msg, "%.300s: corrupt zstd input: %s", z->name, what);
    z->failed = RS_EDATA;
    z->ferr = *err;
    return RS_EDATA;
}

static int zerror(rs_zin *z, rs_err *err, size_t code)
{
    if (ZSTD_getErrorCode(code) == ZSTD_error_frameParameter_windowTooLarge) {
        /* Not damage: frames made with --long need more than the default. */
        snprintf(err->msg, sizeof err->msg,
                 "%.300s: zstd input needs a window above the default limit of 128 MiB (made with --long?)",
                 z->name);
        z->failed = RS_EDATA;
        z->ferr = *err;
        return RS_EDATA;
    }
    return zfail(z, err, ZSTD_getErrorName(code));
}

static int zread(rs_zin *z, char *buf, size_t cap, size_t *got, rs_err *err)
{
    ZSTD_outBuffer out = {buf, cap, 0};
    for (;;) {
        if (z->in_pos == z->in_len && !z->eof) {
            size_t n;
            int rc = raw_read(z, z->in, RAW_CHUNK, &n, err);
            if (rc)
                return rc;
            z->in_len = n;
            z->in_pos = 0;
            if (n == 0)
                z->eof = true;
        }
        /* Called even without new input: the decoder may still hold output
         * that did not fit last time. */
        ZSTD_inBuffer in = {z->in, z->in_len, z->in_pos};
        size_t r = ZSTD_decompressStream(z->ds, &out, &in);
        if (ZSTD_isError(r))
            return zerror(z, err, r);
        /* Once a frame has ended, a call with no input only asks for the
         * next frame's header: that answer says nothing about truncation. */
        if (in.pos > z->in_pos || out.pos > 0 || r == 0)
            z->frame_left = r;
        z->in_pos = in.pos;
        if (out.pos > 0) {
            *got = out.pos;
            return 0;
        }
        if (z->in_pos == z->in_len && z->eof) {
            if (z->frame_left != 0)
                return zfail(z, err, "truncated (the last frame is incomplete)");
            *got = 0;
            return 0;
        }
    }
}

int rs_zin_read(rs_zin *z, char *buf, size_t cap, size_t *got, rs_err *err)
{
    *got = 0;
    if (z->failed) {
        *err = z->ferr;
        return z->failed;
    }
    if (z->mode == MODE_UNKNOWN) {
        int rc = decide(z, err);
        if (rc)
            return rc;
    }
    if (z->mode == MODE_ZSTD)
        return zread(z, buf, cap, got, err);
    if (z->peek_pos < z->npeek) {
        size_t n = z->npeek - z->peek_pos;
        if (n > cap)
            n = cap;
        memcpy(buf, z->peek + z->peek_pos, n);
        z->peek_pos += n;
        *got = n;
        /* Fill the rest too, so reads keep the sizes the caller asks for. */
        if (n < cap && !z->eof) {
            size_t more;
            int rc = raw_read(z, buf + n, cap - n, &more, err);
            if (rc)
                return rc;
            if (more == 0)
                z->eof = true;
            *got += more;
        }
        return 0;
    }
    if (z->eof)
        return 0;
    int rc = raw_read(z, buf, cap, got, err);
    if (rc == 0 && *got == 0)
        z->eof = true;
    return rc;
}

int rs_zin_blame(rs_zin *z, uint64_t limit, rs_err *err)
{
    if (z->mode != MODE_ZSTD || z->failed)
        return 0;
    char *scratch = malloc(RAW_CHUNK);
    if (!scratch)
        return 0;
    int rc = 0;
    for (uint64_t done = 0; done < limit;) {
        size_t got;
        rs_err e;
        rc = zread(z, scratch, RAW_CHUNK, &got, &e);
        if (rc == RS_EDATA)
            *err = e;
        if (rc || got == 0)
            break;
        done += got;
    }
    free(scratch);
    return rc == RS_EDATA ? RS_EDATA : 0;
}

int rs_zin_drain(rs_zin *z, rs_err *err)
{
    if (z->mode == MODE_UNKNOWN) {
        int rc = decide(z, err);
        if (rc)
            return rc;
    }
    char buf[65536];
    while (!z->eof) {
        size_t got;
        int rc = raw_read(z, buf, sizeof buf, &got, err);
        if (rc)
            return rc;
        if (got == 0)
            z->eof = true;
    }
    return 0;
}
