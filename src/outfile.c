/* Buffered output to stdout or to an atomically renamed file. */
#include "outfile.h"
#include "cli.h"
#include "fdio.h"
#include "net.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <zstd.h>

#define OUT_CHUNK (1u << 20)

struct rs_out {
    int fd;
    char *path;     /* final path, NULL for stdout */
    char *tmp_path; /* temp file renamed to path on commit */
    bool in_place;  /* path is not a regular file: written directly */
    bool socket;    /* fd is a connected socket named by path */
    rs_write_fn sink; /* non-NULL: bytes go to sink(sink_ctx) instead of fd */
    void *sink_ctx;
    uint64_t written; /* bytes handed on, for messages */
    ZSTD_CCtx *zstd; /* non-NULL: buf holds compressed bytes */
    char *buf;
    size_t used;
    rs_err last;
};

static rs_out *out_new(rs_err *err)
{
    rs_out *o = calloc(1, sizeof *o);
    if (!o || !(o->buf = malloc(OUT_CHUNK))) {
        free(o);
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return NULL;
    }
    o->fd = -1;
    return o;
}

int rs_out_open_socket(rs_out **out, int fd, const char *name, rs_err *err)
{
    rs_out *o = out_new(err);
    if (!o || !(o->path = strdup(name))) {
        rs_out_abort(o);
        close(fd);
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    o->fd = fd;
    o->socket = true;
    *out = o;
    return 0;
}

int rs_out_open_sink(rs_out **out, const char *name, rs_write_fn sink, void *ctx, rs_err *err)
{
    rs_out *o = out_new(err);
    if (!o || !(o->path = strdup(name))) {
        rs_out_abort(o);
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    o->sink = sink;
    o->sink_ctx = ctx;
    *out = o;
    return 0;
}

int rs_out_open(rs_out **out, const char *path, rs_err *err)
{
    rs_out *o = out_new(err);
    if (!o)
        return RS_ENOMEM;
    if (path && !*path) {
        snprintf(err->msg, sizeof err->msg, "-o: empty path");
        free(o->buf);
        free(o);
        return RS_EUSAGE;
    }
    if (!path || strcmp(path, "-") == 0) {
        o->fd = STDOUT_FILENO;
        /* A bigger pipe buffer lets a reader on the other core keep up. */
        fcntl(o->fd, F_SETPIPE_SZ, (int)OUT_CHUNK);
        *out = o;
        return 0;
    }
    /* A device, FIFO or socket (/dev/null, a named pipe) is written in
     * place: renaming a temp file over it would replace the device. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        o->fd = open(path, O_WRONLY | O_CLOEXEC);
        if (o->fd < 0) {
            snprintf(err->msg, sizeof err->msg, "%s: cannot open: %s", path, strerror(errno));
            free(o->buf);
            free(o);
            return RS_EIO;
        }
        o->path = strdup(path);
        o->in_place = true;
        *out = o;
        return 0;
    }
    size_t n = strlen(path);
    o->path = strdup(path);
    o->tmp_path = malloc(n + 16);
    if (!o->path || !o->tmp_path) {
        rs_out_abort(o);
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    snprintf(o->tmp_path, n + 16, "%s.tmp.XXXXXX", path);
    /* No fatal signal between creating the temp file and registering it for
     * removal: one that came in between would leave it behind. */
    sigset_t fatal, old_mask;
    cli_fatal_signals(&fatal);
    pthread_sigmask(SIG_BLOCK, &fatal, &old_mask);
    o->fd = mkstemp(o->tmp_path);
    if (o->fd >= 0)
        cli_tempfile_add(o->tmp_path);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (o->fd < 0) {
        snprintf(err->msg, sizeof err->msg, "%s: cannot create: %s", path, strerror(errno));
        free(o->tmp_path);
        o->tmp_path = NULL;
        rs_out_abort(o);
        return RS_EIO;
    }
    /* mkstemp makes 0600; the file gets the mode a plain open would give
     * (0666 less the umask), or keeps the mode of the file it replaces. */
    mode_t mask = umask(0);
    umask(mask);
    struct stat old;
    fchmod(o->fd, stat(path, &old) == 0 ? (old.st_mode & 07777) : (0666 & ~mask));
    *out = o;
    return 0;
}

static const char *out_name(const rs_out *o)
{
    return o->path ? o->path : "stdout";
}

static int write_all(rs_out *o, const char *p, size_t len, rs_err *err)
{
    if (len == 0)
        return 0;
    if (o->sink) {
        int rc = o->sink(o->sink_ctx, p, len);
        if (rc)
            snprintf(err->msg, sizeof err->msg, "%s: stream ended", out_name(o));
        o->written += len;
        return rc;
    }
    if (rs_fd_write_all(o->fd, p, len) == 0) {
        o->written += len;
        return 0;
    }
    if (errno == EPIPE && !o->path) {
        snprintf(err->msg, sizeof err->msg, "stdout: reader closed the pipe");
        return RS_EPIPE;
    }
    if (o->socket && (errno == EPIPE || errno == ECONNRESET)) {
        snprintf(err->msg, sizeof err->msg, "%s: the peer closed the connection after %llu bytes (%s)",
                 out_name(o), (unsigned long long)o->written, uv_strerror(uv_translate_sys_error(errno)));
        return RS_EIO;
    }
    snprintf(err->msg, sizeof err->msg, "%s: write failed: %s", out_name(o), strerror(errno));
    return RS_EIO;
}

int rs_out_set_zstd(rs_out *o, int level, unsigned threads, rs_err *err)
{
    o->zstd = ZSTD_createCCtx();
    if (!o->zstd) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    size_t r = ZSTD_CCtx_setParameter(o->zstd, ZSTD_c_compressionLevel, level);
    /* A checksum per frame, so a damaged file fails to decode instead of
     * decoding to other data. */
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(o->zstd, ZSTD_c_checksumFlag, 1);
    /* zstd's frames are the same for any number of workers >= 1 (but not 0),
     * so even -j 1 uses one worker: the bytes never depend on -j. Each worker
     * holds its own window and tables, so at most two keep memory bounded.
     * Workers are a wish a libzstd built without them refuses. Small jobs
     * keep zstd's buffers small too. */
    if (!ZSTD_isError(r) &&
        !ZSTD_isError(ZSTD_CCtx_setParameter(o->zstd, ZSTD_c_nbWorkers, threads > 1 ? 2 : 1)))
        ZSTD_CCtx_setParameter(o->zstd, ZSTD_c_jobSize, 1 << 20);
    if (ZSTD_isError(r)) {
        snprintf(err->msg, sizeof err->msg, "zstd: %s", ZSTD_getErrorName(r));
        return RS_EUSAGE;
    }
    return 0;
}

/* Feeds input through the compressor; ZSTD_e_flush writes out everything
 * fed so far (the frame goes on), ZSTD_e_end finishes the frame. Compressed
 * bytes collect in o->buf and go out a chunk at a time. */
static int zstd_feed(rs_out *o, const char *buf, size_t len, ZSTD_EndDirective mode, rs_err *err)
{
    ZSTD_inBuffer in = {buf, len, 0};
    for (;;) {
        ZSTD_outBuffer out = {o->buf, OUT_CHUNK, o->used};
        size_t left = ZSTD_compressStream2(o->zstd, &out, &in, mode);
        o->used = out.pos;
        if (ZSTD_isError(left)) {
            snprintf(err->msg, sizeof err->msg, "zstd: %s", ZSTD_getErrorName(left));
            return RS_EIO;
        }
        if (o->used == OUT_CHUNK || (mode != ZSTD_e_continue && left == 0)) {
            int rc = write_all(o, o->buf, o->used, err);
            o->used = 0;
            if (rc)
                return rc;
        }
        if (mode != ZSTD_e_continue ? left == 0 : in.pos == in.size)
            return 0;
    }
}

bool rs_out_is_pipe(const rs_out *o)
{
    struct stat st;
    return o->fd >= 0 && !o->sink && !o->zstd && fstat(o->fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

int rs_out_write(rs_out *o, const char *buf, size_t len, rs_err *err)
{
    if (o->zstd)
        return zstd_feed(o, buf, len, ZSTD_e_continue, err);
    /* Big chunks from a caller's own buffer (the generator's 1 MiB chunks,
     * the worker threads' blocks of 200-500 KiB) skip the copy. */
    if (len >= OUT_CHUNK / 8) {
        int rc = write_all(o, o->buf, o->used, err);
        o->used = 0;
        return rc ? rc : write_all(o, buf, len, err);
    }
    if (o->used + len > OUT_CHUNK) {
        int rc = write_all(o, o->buf, o->used, err);
        o->used = 0;
        if (rc)
            return rc;
        if (len >= OUT_CHUNK)
            return write_all(o, buf, len, err);
    }
    memcpy(o->buf + o->used, buf, len);
    o->used += len;
    return 0;
}

int rs_out_write_cb(void *ctx, const char *buf, size_t len)
{
    rs_out *o = ctx;
    return rs_out_write(o, buf, len, &o->last);
}

int rs_out_flush(rs_out *o, rs_err *err)
{
    int rc = o->zstd ? zstd_feed(o, NULL, 0, ZSTD_e_flush, err) : write_all(o, o->buf, o->used, err);
    o->used = 0;
    return rc;
}

int rs_out_flush_cb(void *ctx)
{
    rs_out *o = ctx;
    return rs_out_flush(o, &o->last);
}

const rs_err *rs_out_last_error(const rs_out *o)
{
    return &o->last;
}

int rs_out_commit(rs_out *o, rs_err *err)
{
    int rc = o->zstd ? zstd_feed(o, NULL, 0, ZSTD_e_end, err) : write_all(o, o->buf, o->used, err);
    o->used = 0;
    if (rc == 0 && o->path && !o->sink) {
        if (o->socket) {
            rc = net_finish_output(o->fd, o->path, err);
        } else if (close(o->fd) != 0) {
            snprintf(err->msg, sizeof err->msg, "%s: write failed: %s", o->path, strerror(errno));
            rc = RS_EIO;
        }
        o->fd = -1;
        if (rc == 0 && o->tmp_path && rename(o->tmp_path, o->path) != 0) {
            snprintf(err->msg, sizeof err->msg, "%s: cannot rename into place: %s", o->path, strerror(errno));
            rc = RS_EIO;
        }
        if (rc == 0 && o->tmp_path) {
            cli_tempfile_remove(o->tmp_path);
            free(o->tmp_path);
            o->tmp_path = NULL;
        }
    }
    if (rc) {
        rs_out_abort(o);
        return rc;
    }
    ZSTD_freeCCtx(o->zstd);
    free(o->path);
    free(o->buf);
    free(o);
    return 0;
}

void rs_out_abort(rs_out *o)
{
    if (!o)
        return;
    if (o->path && o->fd >= 0 && !o->sink)
        close(o->fd);
    if (o->tmp_path) {
        unlink(o->tmp_path);
        cli_tempfile_remove(o->tmp_path);
    }
    ZSTD_freeCCtx(o->zstd);
    free(o->tmp_path);
    free(o->path);
    free(o->buf);
    free(o);
}
