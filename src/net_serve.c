/* --listen: one libuv loop accepts clients and writes to them; each client
 * has a producer thread that runs the generator into that client's own
 * small pool of chunks. The producer waits for a free chunk, so a client
 * that reads slowly slows only its own generation, and no client ever has
 * more than CHUNKS_PER_CLIENT * CHUNK_BYTES buffered. */
#include "net.h"
#include "cli.h"
#include "outfile.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#define CHUNK_BYTES (512u << 10)
#define CHUNKS_PER_CLIENT 4 /* at most 2 MiB buffered per client */
#define MAX_LISTENERS 8
#define BACKLOG 128

typedef union net_handle {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
} net_handle;

typedef struct client client;

typedef struct chunk {
    struct chunk *next;
    uv_write_t req;
    client *owner;
    size_t len;
    char data[CHUNK_BYTES];
} chunk;

typedef struct server server;

typedef struct listener {
    net_handle sock;
    server *srv;
    bool pending; /* a connection waits for a free client slot */
} listener;

struct client {
    net_handle sock;
    uv_async_t wake; /* producer -> loop: chunks ready, or finished */
    uv_shutdown_t shutdown;
    uv_timer_t linger; /* after our end of stream: the wait for the client's */
    server *srv;
    char peer[80];
    pthread_t thread;
    chunk *all[CHUNKS_PER_CLIENT];
    unsigned nall;
    chunk *filling; /* producer only: the chunk being filled */

    /* Shared between the producer and the loop, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t room;            /* a chunk came back, or cancel */
    chunk *free_list;
    chunk *ready_head, *ready_tail; /* full chunks not yet given to uv_write */
    bool cancel;                    /* the loop asks the producer to stop */
    bool produced;                  /* the producer has finished */
    int gen_rc;
    rs_err gen_err;

    /* Loop thread only. */
    unsigned in_flight;
    int sock_err; /* first read/write error */
    uint64_t sent;
    bool finishing;
    bool shut_down; /* our end of stream has been sent */
    bool peer_eof;  /* the client has closed its sending side */
    bool closing;
    bool slot_freed; /* no longer counted in server.active */
    int closes_pending;
};

struct server {
    uv_loop_t loop;
    const net_url *u;
    const net_serve_options *so;
    rs_gen *g;
    const rs_gen_options *go;
    listener listeners[MAX_LISTENERS];
    unsigned nlisteners;
    bool listening;
    bool own_path; /* the Unix socket file is ours to remove */
    unsigned active;
    int once_status; /* --once: how the one client's stream ended */
    rs_err once_err; /* and its one error line, printed by the caller */
};

/* ---- producer thread ---- */

/* Hands the filled chunk to the loop. */
static void hand_over(client *c)
{
    pthread_mutex_lock(&c->mu);
    c->filling->next = NULL;
    if (c->ready_tail)
        c->ready_tail->next = c->filling;
    else
        c->ready_head = c->filling;
    c->ready_tail = c->filling;
    pthread_mutex_unlock(&c->mu);
    c->filling = NULL;
    uv_async_send(&c->wake);
}

/* Takes a free chunk, allocating up to the pool size, else waits for the
 * loop to return one. NULL when cancelled or out of memory. */
static chunk *take_chunk(client *c, int *rc)
{
    pthread_mutex_lock(&c->mu);
    while (!c->cancel && !c->free_list && c->nall == CHUNKS_PER_CLIENT)
        pthread_cond_wait(&c->room, &c->mu);
    chunk *ch = NULL;
    if (c->cancel) {
        *rc = RS_EIO;
    } else if (c->free_list) {
        ch = c->free_list;
        c->free_list = ch->next;
    } else if ((ch = malloc(sizeof *ch)) != NULL) {
        ch->owner = c;
        c->all[c->nall++] = ch;
    } else {
        *rc = RS_ENOMEM;
    }
    pthread_mutex_unlock(&c->mu);
    if (ch)
        ch->len = 0;
    return ch;
}

/* rs_write_fn for the client's rs_out: copies into chunks. */
static int client_sink(void *ctx, const char *buf, size_t len)
{
    client *c = ctx;
    while (len > 0) {
        int rc = 0;
        if (!c->filling && !(c->filling = take_chunk(c, &rc)))
            return rc;
        size_t n = CHUNK_BYTES - c->filling->len;
        if (n > len)
            n = len;
        memcpy(c->filling->data + c->filling->len, buf, n);
        c->filling->len += n;
        buf += n;
        len -= n;
        if (c->filling->len == CHUNK_BYTES)
            hand_over(c);
    }
    return 0;
}

/* --rate's flush: the rs_out's bytes, then the chunk being filled, go to
 * the loop at once. */
typedef struct client_out {
    client *c;
    rs_out *out;
} client_out;

static int client_flush(void *ctx)
{
    client_out *co = ctx;
    int rc = rs_out_flush_cb(co->out);
    if (!rc && co->c->filling && co->c->filling->len)
        hand_over(co->c);
    return rc;
}

static void *produce(void *arg)
{
    client *c = arg;
    server *s = c->srv;
    rs_err err = {{0}};
    rs_out *out;
    lineframe *f = NULL;
    const lineframe_options *fo = &s->so->frame;
    int rc = rs_out_open_sink(&out, c->peer, client_sink, c, &err);
    if (!rc) {
        if (s->so->zstd_level)
            rc = rs_out_set_zstd(out, s->so->zstd_level, s->go->threads, &err);
        if (!rc && (fo->kafka_key || fo->rate > 0)) {
            client_out co = {c, out};
            if (!(rc = lineframe_open(&f, fo, rs_out_write_cb, out, client_flush, &co, &err))) {
                rc = rs_gen_run(s->g, s->go, lineframe_write_cb, f, &err);
                int frc = lineframe_finish(f, rc == 0);
                if (!rc && frc)
                    err = *lineframe_error(f);
                rc = rc ? rc : frc;
                lineframe_free(f);
            }
        } else if (!rc) {
            /* client_sink copies into the client's buffers, which the loop
             * thread drains: as with a pipe, each worker copying its own
             * blocks was faster (-j 2, one client: 7-13%). */
            rs_gen_options go = *s->go;
            go.sink_is_pipe = !s->so->zstd_level;
            rc = rs_gen_run(s->g, &go, rs_out_write_cb, out, &err);
        }
        if (rc == RS_EIO)
            err = *rs_out_last_error(out);
        if (rc)
            rs_out_abort(out);
        else
            rc = rs_out_commit(out, &err);
    }
    if (!rc && c->filling && c->filling->len)
        hand_over(c);
    pthread_mutex_lock(&c->mu);
    c->produced = true;
    c->gen_rc = rc;
    c->gen_err = err;
    pthread_mutex_unlock(&c->mu);
    uv_async_send(&c->wake);
    return NULL;
}

/* ---- loop thread ---- */

static void accept_waiting(server *s);

static void give_back(client *c, chunk *ch)
{
    pthread_mutex_lock(&c->mu);
    ch->next = c->free_list;
    c->free_list = ch;
    pthread_cond_signal(&c->room);
    pthread_mutex_unlock(&c->mu);
}

static void human_bytes(uint64_t n, char out[32])
{
    if (n < 10000)
        snprintf(out, 32, "%llu bytes", (unsigned long long)n);
    else
        snprintf(out, 32, "%.1f MB", (double)n / 1e6);
}

/* The client's socket failed: one line, and its producer stops. */
static void fail_client(client *c, int code)
{
    if (!c->sock_err) {
        c->sock_err = code;
        char sent[32];
        human_bytes(c->sent, sent);
        if (c->srv->so->once)
            snprintf(c->srv->once_err.msg, sizeof c->srv->once_err.msg, "client %s: disconnected after %s sent: %s",
                     c->peer, sent, uv_strerror(code));
        else
            cli_error("client %s: disconnected after %s sent: %s", c->peer, sent, uv_strerror(code));
    }
    pthread_mutex_lock(&c->mu);
    c->cancel = true;
    pthread_cond_broadcast(&c->room);
    pthread_mutex_unlock(&c->mu);
}

static void on_client_closed(uv_handle_t *h)
{
    client *c = h->data;
    if (--c->closes_pending)
        return;
    server *s = c->srv;
    if (s->so->once)
        s->once_status = c->sock_err ? RS_EIO : c->gen_rc;
    for (unsigned i = 0; i < c->nall; i++)
        free(c->all[i]);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->room);
    bool counted = !c->slot_freed;
    free(c);
    if (counted) {
        s->active--;
        accept_waiting(s);
    }
}

static void close_client(client *c)
{
    if (c->closing)
        return;
    c->closing = true;
    c->closes_pending = 3;
    uv_close(&c->sock.handle, on_client_closed);
    uv_close((uv_handle_t *)&c->wake, on_client_closed);
    uv_close((uv_handle_t *)&c->linger, on_client_closed);
}

static void on_linger_timeout(uv_timer_t *t)
{
    close_client(t->data);
}

/* Our end of stream is out. Closing now, with input from the client still
 * unread, would reset the connection and drop the stream's unsent tail; so
 * wait for the client's own end of file (on_read) for a while. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
    client *c = req->data;
    if (status < 0 && status != UV_ECANCELED)
        fail_client(c, status);
    c->shut_down = true;
    if (status < 0 || c->peer_eof) {
        close_client(c);
        return;
    }
    /* The stream is out: the wait holds neither buffers (every write is
     * done, the producer joined) nor a --max-clients slot. */
    for (unsigned i = 0; i < c->nall; i++)
        free(c->all[i]);
    c->nall = 0;
    uv_timer_start(&c->linger, on_linger_timeout, NET_LINGER_MS, 0);
    c->slot_freed = true;
    c->srv->active--;
    accept_waiting(c->srv);
}

/* Ends the client once its producer is done and, unless the socket failed,
 * everything produced has been written. */
static void maybe_finish(client *c)
{
    if (c->finishing)
        return;
    pthread_mutex_lock(&c->mu);
    bool produced = c->produced, ready = c->ready_head != NULL;
    pthread_mutex_unlock(&c->mu);
    if (!produced || (!c->sock_err && (ready || c->in_flight)))
        return;
    c->finishing = true;
    pthread_join(c->thread, NULL);
    if (c->gen_rc && !c->sock_err) {
        if (c->srv->so->once)
            c->srv->once_err = c->gen_err;
        else
            cli_error("client %s: %s", c->peer, c->gen_err.msg);
    }
    if (!c->gen_rc && !c->sock_err) {
        c->shutdown.data = c;
        if (uv_shutdown(&c->shutdown, &c->sock.stream, on_shutdown) == 0)
            return;
    }
    /* Closing cancels writes still queued; their callbacks run first. */
    close_client(c);
}

static void on_written(uv_write_t *req, int status)
{
    chunk *ch = req->data;
    client *c = ch->owner;
    c->in_flight--;
    if (status == 0)
        c->sent += ch->len;
    else if (status != UV_ECANCELED)
        fail_client(c, status);
    give_back(c, ch);
    maybe_finish(c);
}

static void on_wake(uv_async_t *a)
{
    client *c = a->data;
    if (c->finishing)
        return;
    pthread_mutex_lock(&c->mu);
    chunk *list = c->ready_head;
    c->ready_head = c->ready_tail = NULL;
    pthread_mutex_unlock(&c->mu);
    while (list) {
        chunk *ch = list;
        list = ch->next;
        int r = UV_ECANCELED;
        if (!c->sock_err) {
            uv_buf_t b = uv_buf_init(ch->data, (unsigned)ch->len);
            ch->req.data = ch;
            r = uv_write(&ch->req, &c->sock.stream, &b, 1, on_written);
        }
        if (r == 0) {
            c->in_flight++;
        } else {
            if (r != UV_ECANCELED)
                fail_client(c, r);
            give_back(c, ch);
        }
    }
    maybe_finish(c);
}

/* Whatever a client sends is read and dropped: unread input would make the
 * kernel reset the connection at close, losing the stream's tail. */
static void alloc_discard(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char discard[64 << 10];
    *buf = uv_buf_init(discard, sizeof discard);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    client *c = stream->data;
    if (nread >= 0)
        return;
    uv_read_stop(stream);
    if (nread == UV_EOF) /* before our end: it only closed its sending side */
        c->peer_eof = true;
    else /* a reset even after our end: it may not have had everything */
        fail_client(c, (int)nread);
    if (c->shut_down)
        close_client(c);
    else
        maybe_finish(c);
}

static void peer_name(client *c, unsigned serial)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[64] = "";
    if (c->srv->u->kind == NET_TCP && uv_tcp_getpeername(&c->sock.tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
            snprintf(c->peer, sizeof c->peer, "[%s]:%d", ip, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
            snprintf(c->peer, sizeof c->peer, "%s:%d", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
        }
    } else {
        snprintf(c->peer, sizeof c->peer, "#%u on %s", serial, c->srv->u->text);
    }
}

static void stop_listening(server *s)
{
    if (!s->listening)
        return;
    s->listening = false;
    for (unsigned i = 0; i < s->nlisteners; i++)
        uv_close(&s->listeners[i].sock.handle, NULL);
    if (s->own_path) {
        s->own_path = false;
        unlink(s->u->path);
        cli_tempfile_remove(s->u->path);
    }
}

static void accept_client(listener *l)
{
    static unsigned serial;
    server *s = l->srv;
    client *c = calloc(1, sizeof *c);
    if (!c) {
        cli_error("%s: out of memory accepting a client", s->u->text);
        uv_stop(&s->loop);
        return;
    }
    c->srv = s;
    c->sock.handle.data = c;
    c->wake.data = c;
    int r = s->u->kind == NET_TCP ? uv_tcp_init(&s->loop, &c->sock.tcp) : uv_pipe_init(&s->loop, &c->sock.pipe, 0);
    if (r) {
        free(c);
        cli_error("%s: cannot accept: %s", s->u->text, uv_strerror(r));
        return;
    }
    s->active++;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->room, NULL);
    if ((r = uv_accept(&l->sock.stream, &c->sock.stream)) != 0) {
        cli_error("%s: cannot accept: %s", s->u->text, uv_strerror(r));
        c->closes_pending = 1;
        c->finishing = c->closing = true;
        uv_close(&c->sock.handle, on_client_closed);
        return;
    }
    peer_name(c, ++serial);
    if (s->so->once)
        stop_listening(s);
    uv_async_init(&s->loop, &c->wake, on_wake);
    uv_timer_init(&s->loop, &c->linger);
    c->linger.data = c;
    if ((r = pthread_create(&c->thread, NULL, produce, c)) != 0) {
        if (s->so->once)
            snprintf(s->once_err.msg, sizeof s->once_err.msg, "client %s: cannot start a thread: %s", c->peer,
                     strerror(r));
        else
            cli_error("client %s: cannot start a thread: %s", c->peer, strerror(r));
        c->sock_err = UV_EAGAIN;
        c->finishing = true;
        close_client(c);
        return;
    }
    uv_read_start(&c->sock.stream, alloc_discard, on_read);
}

static void accept_waiting(server *s)
{
    for (unsigned i = 0; i < s->nlisteners && s->listening; i++) {
        listener *l = &s->listeners[i];
        if (l->pending && s->active < s->so->max_clients) {
            l->pending = false;
            accept_client(l);
        }
    }
}

static void on_connection(uv_stream_t *stream, int status)
{
    listener *l = stream->data;
    server *s = l->srv;
    if (status < 0) { /* e.g. out of descriptors: the client is dropped */
        cli_error("%s: accept failed: %s", s->u->text, uv_strerror(status));
        return;
    }
    if (!s->listening)
        return;
    /* Not accepting now makes libuv stop watching this listener until
     * uv_accept: the connection waits in the kernel's backlog. */
    if (s->active >= s->so->max_clients) {
        l->pending = true;
        return;
    }
    accept_client(l);
}

/* ---- setup ---- */

static void announce(server *s, listener *l)
{
    if (s->so->quiet)
        return;
    if (s->u->kind == NET_UNIX) {
        cli_error("listening on unix:%s", s->u->path);
        return;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[64] = "?";
    if (uv_tcp_getsockname(&l->sock.tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
        cli_error("listening on tcp://[%s]:%d", ip, ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
        cli_error("listening on tcp://%s:%d", ip, ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
}

static int listen_tcp(server *s, rs_err *err)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    uv_getaddrinfo_t req;
    int r = uv_getaddrinfo(&s->loop, &req, NULL, s->u->host[0] ? s->u->host : NULL, s->u->port, &hints);
    if (r) {
        snprintf(err->msg, sizeof err->msg, "%s: cannot resolve \"%s\": %s", s->u->text, s->u->host, uv_strerror(r));
        return RS_EIO;
    }
    /* Every address of the name (localhost: ::1 and 127.0.0.1), except
     * that port 0 takes the first only: each would get another port. */
    for (struct addrinfo *a = req.addrinfo; a && s->nlisteners < MAX_LISTENERS; a = a->ai_next) {
        listener *l = &s->listeners[s->nlisteners];
        l->srv = s;
        l->sock.handle.data = l;
        if ((r = uv_tcp_init(&s->loop, &l->sock.tcp)) != 0)
            break;
        s->nlisteners++;
        r = uv_tcp_bind(&l->sock.tcp, a->ai_addr, a->ai_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
        if (r == 0)
            r = uv_listen(&l->sock.stream, BACKLOG, on_connection);
        if (r)
            break;
        if (strcmp(s->u->port, "0") == 0)
            break;
    }
    uv_freeaddrinfo(req.addrinfo);
    if (r) {
        snprintf(err->msg, sizeof err->msg, "%s: cannot listen: %s", s->u->text, uv_strerror(r));
        return RS_EIO;
    }
    /* Announced only once every address listens: whoever waits for the
     * line can connect. */
    for (unsigned i = 0; i < s->nlisteners; i++)
        announce(s, &s->listeners[i]);
    return 0;
}

/* A socket file nobody listens on is left from a server that died; one
 * that answers belongs to a live server. */
static bool stale_socket(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
        return false;
    /* Non-blocking: a live server with a full backlog must not hang us. */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    bool refused = connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno == ECONNREFUSED;
    close(fd);
    return refused;
}

static bool parent_exists(const char *path)
{
    char dir[sizeof ((net_url *)0)->path];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return true;
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    struct stat st;
    return stat(dir, &st) == 0;
}

static int listen_unix(server *s, rs_err *err)
{
    listener *l = &s->listeners[0];
    l->srv = s;
    l->sock.handle.data = l;
    int r = uv_pipe_init(&s->loop, &l->sock.pipe, 0);
    if (r == 0)
        s->nlisteners = 1;
    if (r == 0 && (r = uv_pipe_bind(&l->sock.pipe, s->u->path)) == UV_EADDRINUSE && stale_socket(s->u->path)) {
        unlink(s->u->path);
        r = uv_pipe_bind(&l->sock.pipe, s->u->path);
    }
    if (r == UV_EADDRINUSE) {
        struct stat st;
        bool sock = lstat(s->u->path, &st) == 0 && S_ISSOCK(st.st_mode);
        snprintf(err->msg, sizeof err->msg, "%s: cannot listen: %s", s->u->text,
                 sock ? "another server is listening there" : "the path exists and is not a socket");
        return RS_EIO;
    }
    if (r == 0) {
        s->own_path = true;
        cli_tempfile_add(s->u->path); /* a fatal signal removes it */
        r = uv_listen(&l->sock.stream, BACKLOG, on_connection);
    }
    if (r == UV_EACCES && !parent_exists(s->u->path))
        r = UV_ENOENT; /* libuv reports a missing directory as EACCES */
    if (r) {
        snprintf(err->msg, sizeof err->msg, "%s: cannot listen: %s", s->u->text, uv_strerror(r));
        return RS_EIO;
    }
    announce(s, l);
    return 0;
}

int net_serve(const net_url *u, const net_serve_options *so, rs_gen *g, const rs_gen_options *go, rs_err *err)
{
    server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return RS_ENOMEM;
    }
    s->u = u;
    s->so = so;
    s->g = g;
    s->go = go;
    s->listening = true;
    int rc = uv_loop_init(&s->loop);
    if (rc) {
        free(s);
        snprintf(err->msg, sizeof err->msg, "%s: cannot start an event loop: %s", u->text, uv_strerror(rc));
        return RS_EIO;
    }
    rc = u->kind == NET_TCP ? listen_tcp(s, err) : listen_unix(s, err);
    if (rc)
        stop_listening(s);
    else
        uv_run(&s->loop, UV_RUN_DEFAULT);
    stop_listening(s);
    uv_run(&s->loop, UV_RUN_DEFAULT); /* the closes */
    if (!rc && so->once) {
        rc = s->once_status;
        *err = s->once_err;
    }
    uv_loop_close(&s->loop);
    free(s);
    return rc;
}
