/* tcp://HOST:PORT, tcp://[V6ADDR]:PORT and unix:PATH. */
#include "net.h"

#include <stdio.h>
#include <string.h>

static int bad(const char *option, const char *s, const char *why, rs_err *err)
{
    snprintf(err->msg, sizeof err->msg, "%s: %s, got \"%.200s\"", option, why, s);
    return RS_EUSAGE;
}

static int parse_port(const char *p, bool listening, char out[6])
{
    size_t n = strlen(p);
    if (n == 0 || n > 5 || strspn(p, "0123456789") != n)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (p[i] - '0');
    if (v > 65535 || (v == 0 && !listening))
        return -1;
    snprintf(out, 6, "%ld", v);
    return 0;
}

int net_url_parse(const char *s, const char *option, bool listening, net_url *u, rs_err *err)
{
    memset(u, 0, sizeof *u);
    snprintf(u->text, sizeof u->text, "%s", s);
    if (strncmp(s, "unix:", 5) == 0) {
        const char *path = s + 5;
        u->kind = NET_UNIX;
        if (!*path)
            return bad(option, s, "unix: needs a socket path", err);
        if (strlen(path) >= sizeof u->path)
            return bad(option, s, "a Unix socket path has at most 107 bytes", err);
        memcpy(u->path, path, strlen(path) + 1);
        return 0;
    }
    if (strncmp(s, "tcp://", 6) != 0)
        return bad(option, s, "expected tcp://HOST:PORT or unix:PATH (-o writes files)", err);
    u->kind = NET_TCP;
    const char *h = s + 6, *colon;
    size_t hlen;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close || close[1] != ':')
            return bad(option, s, "expected tcp://[IPV6]:PORT", err);
        h++;
        hlen = (size_t)(close - h);
        colon = close + 1;
        if (hlen == 0)
            return bad(option, s, "empty IPv6 address", err);
        if (!memchr(h, ':', hlen))
            return bad(option, s, "brackets are for IPv6 addresses only", err);
    } else {
        colon = strrchr(h, ':');
        if (!colon)
            return bad(option, s, "expected tcp://HOST:PORT", err);
        hlen = (size_t)(colon - h);
        if (memchr(h, ':', hlen))
            return bad(option, s, "an IPv6 address goes in brackets, as tcp://[::1]:PORT", err);
    }
    if (hlen >= sizeof u->host)
        return bad(option, s, "host name too long", err);
    if (hlen == 0 && !listening)
        return bad(option, s, "expected tcp://HOST:PORT with a host", err);
    memcpy(u->host, h, hlen);
    u->host[hlen] = '\0';
    if (strpbrk(u->host, "/?#@ ") || strpbrk(colon + 1, "/?#"))
        return bad(option, s, "expected tcp://HOST:PORT (no path, user or query)", err);
    if (parse_port(colon + 1, listening, u->port))
        return bad(option, s, listening ? "expected a port from 0 to 65535" : "expected a port from 1 to 65535", err);
    return 0;
}
