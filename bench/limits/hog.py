#!/usr/bin/env python3
"""bench/limits/hog.py — N clients that pipeline lookups to featd and never
read an answer (issue 12's "non-reading pipelining clients"). Each socket
writes GetOnlineFeatures frames (ENTITIES customer ids x every feature of
VIEW, hand-encoded protobuf) until featd stops reading it for a second or
closes it, then holds the connection open for HOLD seconds.

    hog.py PORT N VIEW ENTITIES HOLD
Prints one line: bytes sent per socket and how many featd closed.
"""
import socket, sys, time

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)

def field(num, wt, payload):
    if wt == 0:
        return varint(num << 3) + varint(payload)
    return varint(num << 3 | 2) + varint(len(payload)) + payload

def frame(view, entities, rid):
    col = field(1, 2, b"customer_id")
    for i in range(1, entities + 1):
        col += field(2, 2, field(3, 0, i))            # Value{int64_val}
    get = field(1, 2, (view + ":*").encode()) + field(2, 2, col)
    req = field(1, 0, rid) + field(2, 2, get)
    return len(req).to_bytes(4, "big") + req

def main():
    port, n, view, ent, hold = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
    f = frame(view, ent, 1)
    chunk = f * max(1, 65536 // len(f))
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        s.setblocking(False)
        socks.append([s, 0, 0.0, False, False])      # sock, sent, stuck_since, blocked, closed
    end = time.time() + 60
    while time.time() < end and any(not (x[3] or x[4]) for x in socks):
        for x in socks:
            if x[3] or x[4]:
                continue
            try:
                w = x[0].send(chunk)
                x[1] += w
                x[2] = 0.0
            except BlockingIOError:
                if x[2] == 0.0:
                    x[2] = time.time()
                elif time.time() - x[2] > 1.0:
                    x[3] = True
            except OSError:
                x[4] = True
        time.sleep(0.001)
    print("hog: %d sockets, sent %s bytes, %d closed by featd" %
          (n, "/".join(str(x[1]) for x in socks), sum(1 for x in socks if x[4])), flush=True)
    time.sleep(hold)

main()
