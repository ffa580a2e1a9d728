/* Units for socket addresses (net_url_parse): every accepted form with what
 * it yields, and each kind of bad address with its message; and for
 * net_connect's failures that need no peer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "net.h"

static void test_tcp_forms(void **state)
{
    net_url u;
    rs_err err;
    assert_int_equal(net_url_parse("tcp://127.0.0.1:9000", "--output", false, &u, &err), 0);
    assert_int_equal(u.kind, NET_TCP);
    assert_string_equal(u.host, "127.0.0.1");
    assert_string_equal(u.port, "9000");
    assert_string_equal(u.text, "tcp://127.0.0.1:9000");

    assert_int_equal(net_url_parse("tcp://[::1]:80", "--output", false, &u, &err), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.port, "80");

    assert_int_equal(net_url_parse("tcp://ingest.example.com:08080", "--output", false, &u, &err), 0);
    assert_string_equal(u.host, "ingest.example.com");
    assert_string_equal(u.port, "8080");

    /* Listening: any address, and port 0. */
    assert_int_equal(net_url_parse("tcp://:0", "--listen", true, &u, &err), 0);
    assert_string_equal(u.host, "");
    assert_string_equal(u.port, "0");
}

static void test_unix_forms(void **state)
{
    net_url u;
    rs_err err;
    assert_int_equal(net_url_parse("unix:/run/x.sock", "--listen", true, &u, &err), 0);
    assert_int_equal(u.kind, NET_UNIX);
    assert_string_equal(u.path, "/run/x.sock");
    assert_int_equal(net_url_parse("unix:rel.sock", "--output", false, &u, &err), 0);
    assert_string_equal(u.path, "rel.sock");
    char longest[5 + 107 + 1] = "unix:";
    memset(longest + 5, 'x', 107);
    longest[112] = '\0';
    assert_int_equal(net_url_parse(longest, "--output", false, &u, &err), 0);
    assert_int_equal(strlen(u.path), 107);
}

static void bad(const char *s, bool listening, const char *why)
{
    net_url u;
    rs_err err = {{0}};
    assert_int_equal(net_url_parse(s, listening ? "--listen" : "--output", listening, &u, &err), RS_EUSAGE);
    assert_non_null(strstr(err.msg, why));
    assert_non_null(strstr(err.msg, listening ? "--listen: " : "--output: "));
}

static void test_bad_addresses(void **state)
{
    bad("out.ndjson", false, "expected tcp://HOST:PORT or unix:PATH");
    bad("http://x:80", false, "expected tcp://HOST:PORT or unix:PATH");
    bad("tcp://x", false, "expected tcp://HOST:PORT");
    bad("tcp://x:", false, "port from 1 to 65535");
    bad("tcp://x:0", false, "port from 1 to 65535");
    bad("tcp://x:65536", false, "port from 1 to 65535");
    bad("tcp://x:-1", false, "port from 1 to 65535");
    bad("tcp://x:80a", false, "port from 1 to 65535");
    bad("tcp://x:123456", true, "port from 0 to 65535");
    bad("tcp://:80", false, "with a host");
    bad("tcp://::1:80", false, "in brackets");
    bad("tcp://[::1]80", false, "expected tcp://[IPV6]:PORT");
    bad("tcp://[::1", false, "expected tcp://[IPV6]:PORT");
    bad("tcp://[]:80", false, "empty IPv6 address");
    bad("tcp://user@x:80", false, "no path, user or query");
    bad("tcp://x/path:80", false, "no path, user or query");
    bad("unix:", true, "needs a socket path");
    char toolong[5 + 108 + 1] = "unix:";
    memset(toolong + 5, 'x', 108);
    toolong[113] = '\0';
    bad(toolong, false, "at most 107 bytes");
}

static void test_connect_failures(void **state)
{
    net_url u;
    rs_err err = {{0}};
    int fd = -1;
    assert_int_equal(net_url_parse("unix:/nonexistent-dir/x.sock", "--output", false, &u, &err), 0);
    assert_int_equal(net_connect(&u, 0, &fd, &err), RS_EIO);
    assert_string_equal(err.msg, "unix:/nonexistent-dir/x.sock: cannot connect: no such file or directory");
    assert_int_equal(fd, -1);
    assert_int_equal(net_connect(&u, 0.2, &fd, &err), RS_EIO);
    assert_string_equal(err.msg,
                        "unix:/nonexistent-dir/x.sock: cannot connect: no such file or directory (kept trying for 0.2 s)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_forms),
        cmocka_unit_test(test_unix_forms),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_connect_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
