/* --output: connect to a listening peer, retrying with backoff while it is
 * not there yet, on a private libuv loop. The connected socket is then
 * handed back as a plain blocking descriptor: the generator writes to it
 * like to a pipe, so a slow peer simply blocks it (backpressure for free). */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define ATTEMPT_MS_ALONE 10000 /* one attempt without --connect-timeout */
#define BACKOFF_FIRST_MS 50
#define BACKOFF_MAX_MS 1000

typedef struct connector {
    uv_loop_t loop;
    uv_timer_t timer; /* the attempt's time limit, or the wait before the next */
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } sock;
    uv_connect_t req;
    uv_getaddrinfo_t resolve;
    const net_url *u;
    struct addrinfo *ai, *cur; /* tcp: resolved addresses, the one being tried */
    bool retrying;
    uint64_t deadline;         /* loop time (ms) after which no attempt starts */
    unsigned backoff_ms;
    bool timed_out;
    int last;                  /* libuv code of the last failure */
    const char *failed_step;   /* "resolve" or "connect" */
    int fd;                    /* the connection, -1 until connected */
} connector;

static void start_round(connector *c);

static void on_backoff_done(uv_timer_t *t)
{
    start_round(t->data);
}

static bool worth_retrying(int code)
{
    /* An unknown name too: a cluster's service name appears with its pods. */
    return code == UV_ECONNREFUSED || code == UV_ENOENT || code == UV_EAI_AGAIN || code == UV_EAI_NONAME ||
           code == UV_ECONNRESET ||
           code == UV_EHOSTUNREACH || code == UV_ENETUNREACH || code == UV_ECONNABORTED;
}

/* After a failed round: wait and try again while time is left, else stop. */
static void next_round_or_stop(connector *c)
{
    uint64_t now = uv_now(&c->loop);
    if (c->retrying && !c->timed_out && worth_retrying(c->last) && now < c->deadline) {
        /* The last wait ends at the deadline, with one more attempt. */
        uint64_t wait = c->deadline - now < c->backoff_ms ? c->deadline - now : c->backoff_ms;
        uv_timer_start(&c->timer, on_backoff_done, wait, 0);
        c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
    }
    /* else: nothing is pending, so uv_run returns with c->fd == -1 */
}

static void start_attempt(connector *c);

static void on_failed_close(uv_handle_t *h)
{
    connector *c = h->data;
    if (c->u->kind == NET_TCP && c->cur && c->cur->ai_next && !c->timed_out) {
        c->cur = c->cur->ai_next; /* the next address of the same name */
        start_attempt(c);
        return;
    }
    next_round_or_stop(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    connector *c = req->data;
    if (status == UV_ECANCELED) /* closed by on_attempt_timeout */
        return;
    uv_timer_stop(&c->timer);
    if (status == 0) {
        uv_os_fd_t fd;
        if (uv_fileno(&c->sock.handle, &fd) == 0 && (c->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) >= 0) {
            /* The generator writes with plain blocking write(2). */
            fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
            /* A Unix socket's default send buffer (about 200 KiB) wakes the
             * reader for every fifth of our 1 MiB writes; ask for 4 MiB (the
             * kernel caps it at net.core.wmem_max). TCP tunes its own. */
            if (c->u->kind == NET_UNIX) {
                int sz = 4 << 20;
                setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
            }
        } else {
            c->last = UV_EMFILE;
        }
        uv_close(&c->sock.handle, NULL);
        return;
    }
    c->last = c->timed_out ? UV_ETIMEDOUT : status;
    c->failed_step = "connect";
    uv_close(&c->sock.handle, on_failed_close);
}

/* The attempt's time is up: closing the socket cancels the connect. */
static void on_attempt_timeout(uv_timer_t *t)
{
    connector *c = t->data;
    c->timed_out = true;
    c->last = UV_ETIMEDOUT;
    c->failed_step = "connect";
    uv_close(&c->sock.handle, on_failed_close);
}

static void start_attempt(connector *c)
{
    int r;
    c->sock.handle.data = c;
    if (c->u->kind == NET_UNIX) {
        r = uv_pipe_init(&c->loop, &c->sock.pipe, 0);
        if (r == 0)
            uv_pipe_connect(&c->req, &c->sock.pipe, c->u->path, on_connect);
    } else {
        r = uv_tcp_init(&c->loop, &c->sock.tcp);
        if (r == 0 && (r = uv_tcp_connect(&c->req, &c->sock.tcp, c->cur->ai_addr, on_connect)) != 0) {
            c->last = r;
            c->failed_step = "connect";
            uv_close(&c->sock.handle, on_failed_close);
            return;
        }
    }
    if (r) { /* no handle to close */
        c->last = r;
        c->failed_step = "connect";
        return;
    }
    uint64_t now = uv_now(&c->loop);
    uint64_t limit = c->retrying ? (c->deadline > now ? c->deadline - now : 1) : ATTEMPT_MS_ALONE;
    uv_timer_start(&c->timer, on_attempt_timeout, limit, 0);
}

/* One round: resolve the name afresh (it may appear late, as in a cluster),
 * then try its addresses in turn. */
static void start_round(connector *c)
{
    if (c->u->kind == NET_TCP) {
        if (c->ai)
            uv_freeaddrinfo(c->ai);
        c->ai = c->cur = NULL;
        struct addrinfo hints;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_ADDRCONFIG;
        /* Without a callback libuv resolves synchronously. */
        int r = uv_getaddrinfo(&c->loop, &c->resolve, NULL, c->u->host, c->u->port, &hints);
        if (r) {
            c->last = r;
            c->failed_step = "resolve";
            next_round_or_stop(c);
            return;
        }
        c->ai = c->cur = c->resolve.addrinfo;
    }
    start_attempt(c);
}

int net_connect(const net_url *u, double retry_seconds, int *fd, rs_err *err)
{
    connector c;
    memset(&c, 0, sizeof c);
    c.u = u;
    c.fd = -1;
    c.retrying = retry_seconds > 0;
    c.backoff_ms = BACKOFF_FIRST_MS;
    c.req.data = &c;
    if (uv_loop_init(&c.loop)) {
        snprintf(err->msg, sizeof err->msg, "%s: cannot start an event loop", u->text);
        return RS_EIO;
    }
    uv_timer_init(&c.loop, &c.timer);
    c.timer.data = &c;
    c.deadline = uv_now(&c.loop) + (uint64_t)(retry_seconds * 1000);
    start_round(&c);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&c.timer, NULL);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_loop_close(&c.loop);
    if (c.ai)
        uv_freeaddrinfo(c.ai);
    if (c.fd >= 0) {
        *fd = c.fd;
        return 0;
    }
    char why[400];
    if (c.failed_step && strcmp(c.failed_step, "resolve") == 0)
        snprintf(why, sizeof why, "cannot resolve \"%s\": %s", u->host, uv_strerror(c.last));
    else
        snprintf(why, sizeof why, "cannot connect: %s", c.timed_out ? "timed out" : uv_strerror(c.last));
    if (c.retrying)
        snprintf(err->msg, sizeof err->msg, "%s: %s (kept trying for %g s)", u->text, why, retry_seconds);
    else
        snprintf(err->msg, sizeof err->msg, "%s: %s", u->text, why);
    return RS_EIO;
}

int net_finish_output(int fd, const char *name, rs_err *err)
{
    int rc = 0;
    shutdown(fd, SHUT_WR);
    for (int waited = 0; waited < NET_LINGER_MS;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 1000);
        if (r == 0) {
            waited += 1000;
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        char discard[16384];
        ssize_t n = r < 0 ? -1 : read(fd, discard, sizeof discard);
        if (n == 0)
            break; /* the peer's end of file: it has read everything */
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err->msg, sizeof err->msg, "%s: the peer reset the connection at the end of the stream (%s)",
                     name, uv_strerror(uv_translate_sys_error(errno)));
            rc = RS_EIO;
            break;
        }
    }
    if (close(fd) != 0 && !rc) {
        snprintf(err->msg, sizeof err->msg, "%s: %s", name, uv_strerror(uv_translate_sys_error(errno)));
        rc = RS_EIO;
    }
    return rc;
}
