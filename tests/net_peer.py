#!/usr/bin/env python3
"""A real socket peer for the socket tests, standard library only.

  net_peer.py read URL OUT            read one stream into OUT
  net_peer.py many URL N              N clients at once; prints each stream's sha256
  net_peer.py slow URL SECONDS        read 4 KiB every 2 ms for SECONDS, then reset
  net_peer.py reset-after URL BYTES   read BYTES, then reset the connection
  net_peer.py serve-reset URL BYTES   accept one connection (prints "ready"),
                                      read BYTES, then reset it
  net_peer.py talk URL                a client that keeps sending while it
                                      reads its stream; prints the sha256
  net_peer.py serve-talk URL          the same as a server for one connection
                                      (prints "ready PORT" first)
  net_peer.py full-backlog PATH       a Unix listener whose backlog is full and
                                      that never accepts; prints "ready", then
                                      waits for stdin to close
URL is tcp://HOST:PORT, tcp://[V6]:PORT or unix:PATH.
"""
import hashlib
import socket
import struct
import sys
import threading
import time


def parse(url):
    if url.startswith("unix:"):
        return socket.AF_UNIX, url[5:]
    hostport = url[len("tcp://"):]
    host, _, port = hostport.rpartition(":")
    if host.startswith("["):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, (host, int(port))


def connect(url):
    family, addr = parse(url)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.connect(addr)
    return s


def reset(s):
    # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def read_all(s, sink):
    while True:
        b = s.recv(1 << 20)
        if not b:
            return
        sink(b)


def talk(s):
    """Reads s to its end while another thread keeps sending to it."""
    stop = []

    def chatter():
        try:
            while not stop:
                s.sendall(b"hello\n" * 1000)
                time.sleep(0.001)
        except OSError:
            pass

    t = threading.Thread(target=chatter, daemon=True)
    t.start()
    h = hashlib.sha256()
    try:
        read_all(s, h.update)
    except OSError as e:
        print("error: %s" % e)
    stop.append(1)
    print(h.hexdigest(), flush=True)
    s.close()


def listen_one(url):
    family, addr = parse(url)
    srv = socket.socket(family, socket.SOCK_STREAM)
    if family != socket.AF_UNIX:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(addr)
    srv.listen(1)
    port = srv.getsockname()[1] if family != socket.AF_UNIX else 0
    print("ready %d" % port, flush=True)
    return srv


def main():
    mode, url = sys.argv[1], sys.argv[2]
    if mode == "read":
        s = connect(url)
        with open(sys.argv[3], "wb") as f:
            read_all(s, f.write)
        s.close()
    elif mode == "many":
        n = int(sys.argv[3])
        digests = [None] * n
        socks = [connect(url) for _ in range(n)]  # all connected before any reads

        def one(i):
            h = hashlib.sha256()
            read_all(socks[i], h.update)
            socks[i].close()
            digests[i] = h.hexdigest()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("\n".join(digests))
    elif mode == "slow":
        s = connect(url)
        end = time.monotonic() + float(sys.argv[3])
        got = 0
        while time.monotonic() < end:
            b = s.recv(4096)
            if not b:
                break
            got += len(b)
            time.sleep(0.002)
        reset(s)
        print(got)
    elif mode == "reset-after":
        s = connect(url)
        want, got = int(sys.argv[3]), 0
        while got < want:
            b = s.recv(min(65536, want - got))
            if not b:
                break
            got += len(b)
        reset(s)
    elif mode == "talk":
        talk(connect(url))
    elif mode == "serve-talk":
        srv = listen_one(url)
        c, _ = srv.accept()
        talk(c)
        srv.close()
    elif mode == "full-backlog":
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(url)
        srv.listen(0)
        clients = []
        while True:
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.setblocking(False)
            try:
                c.connect(url)
            except BlockingIOError:
                break
            clients.append(c)
        print("ready", flush=True)
        sys.stdin.read()
    elif mode == "serve-reset":
        srv = listen_one(url)
        c, _ = srv.accept()
        want, got = int(sys.argv[3]), 0
        while got < want:
            b = c.recv(min(65536, want - got))
            if not b:
                break
            got += len(b)
        reset(c)
        srv.close()
    else:
        sys.exit("net_peer.py: unknown mode " + mode)


if __name__ == "__main__":
    main()
