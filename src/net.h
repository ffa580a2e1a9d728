/* Streaming over sockets (front end): socket addresses, connecting out
 * (--output) and serving every client its own stream (--listen). Sockets,
 * name resolution, timers and the server's event loop are libuv's. */
#ifndef RS_NET_H
#define RS_NET_H

#include "revops/revops.h"
#include "lineframe.h"

typedef enum net_kind { NET_TCP, NET_UNIX } net_kind;

/* A parsed tcp://HOST:PORT, tcp://[V6ADDR]:PORT or unix:PATH. */
typedef struct net_url {
    net_kind kind;
    char host[256]; /* tcp: name or address without brackets; "" = any (listen) */
    char port[6];   /* tcp: 0-65535 */
    char path[108]; /* unix: the socket file (sun_path's size) */
    char text[400]; /* as given, for messages */
} net_url;

/* Parses s; `option` names the option in the error message. Only a
 * listening address may leave the host out (any) or use port 0 (the
 * kernel picks one). */
int net_url_parse(const char *s, const char *option, bool listening, net_url *u, rs_err *err);

/* Connects to u and returns a blocking socket in *fd (caller closes).
 * retry_seconds > 0: keeps retrying, with backoff, while nobody listens yet
 * (refused, no socket file) for up to that long; 0: one attempt. Every
 * attempt gives up after the time left, or 10 s when not retrying. */
int net_connect(const net_url *u, double retry_seconds, int *fd, rs_err *err);

/* How long a finished stream waits for the peer to close its side. */
#define NET_LINGER_MS 30000

/* Ends a stream written to a connected socket: shuts down the sending side,
 * then reads and drops whatever the peer sends until it closes too (or
 * NET_LINGER_MS pass), and closes fd. Closing with unread input would make
 * the kernel reset the connection and drop the stream's unsent tail. A reset
 * before the peer's end of file is an error: it may not have everything. */
int net_finish_output(int fd, const char *name, rs_err *err);

typedef struct net_serve_options {
    unsigned max_clients; /* served at once; later ones wait to be accepted */
    bool once;            /* stop listening after the first client, exit when it is served */
    int zstd_level;       /* 0: plain; else each connection gets its own zstd stream */
    lineframe_options frame; /* --kafka-key, --rate: per connection (no progress) */
    bool quiet;           /* no "listening on" lines */
} net_serve_options;

/* Listens on u and streams rs_gen_run(g, go) to every client that connects,
 * each from its own thread into a bounded buffer that a slow reader drains.
 * Announces each listening address on stderr (unless quiet). Returns when --once's client
 * is done (its status), or on a setup error; otherwise runs until a signal
 * ends the process (the Unix socket file is removed then too). */
int net_serve(const net_url *u, const net_serve_options *so, rs_gen *g, const rs_gen_options *go, rs_err *err);

#endif
