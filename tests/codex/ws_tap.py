#!/usr/bin/env python3
"""Transparent WebSocket tap between codex and an exec-server.

Python 3 stdlib only. `ws_tap.py --upstream ws://IP:PORT --log FILE` listens
on 127.0.0.1:0, prints `ws://127.0.0.1:PORT` on stdout, relays every
connection byte for byte to the upstream and decodes the WebSocket frames in
both directions (no extensions are negotiated on this protocol), appending
each JSON-RPC message to FILE as {"conn":N,"dir":"c2s"|"s2c","msg":...}.

`ws_tap.py --log FILE --report` prints one line per request that was answered
with an error (grouped, with a count) after a histogram of the methods;
`--no-unimplemented` exits 1 when any request was answered -32601.

`--sandboxes METHOD` prints one line per METHOD request: its `path=` if it
has one, then the `sandbox` codex sent, summarised (`null`, or the permission
type, network, file-system entries sorted as `kind[/subpath]:access[:skip]`,
`cwd=` and `roots=`); the test compares it with the policy its mode must send. `--sandbox-types` prints one
line per process/start answer: its `sandboxType`, or `error CODE MESSAGE`.
"""
import argparse
import json
import os
import socket
import struct
import sys
import threading
from urllib.parse import urlparse

LOCK = threading.Lock()


def log_msg(path, conn, direction, payload):
    try:
        msg = json.loads(payload.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        msg = {"_raw": payload[:200].decode("utf-8", "replace")}
    with LOCK:
        with open(path, "a") as f:
            f.write(json.dumps({"conn": conn, "dir": direction, "msg": msg}) + "\n")


def pump(src, dst, conn, direction, path):
    buf = b""
    in_headers = True
    frag = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
            buf += data
            if in_headers:
                i = buf.find(b"\r\n\r\n")
                if i < 0:
                    continue
                buf = buf[i + 4:]
                in_headers = False
            while len(buf) >= 2:
                b0, b1 = buf[0], buf[1]
                opcode = b0 & 0x0F
                masked = b1 & 0x80
                n = b1 & 0x7F
                off = 2
                if n == 126:
                    if len(buf) < 4:
                        break
                    n = struct.unpack(">H", buf[2:4])[0]
                    off = 4
                elif n == 127:
                    if len(buf) < 10:
                        break
                    n = struct.unpack(">Q", buf[2:10])[0]
                    off = 10
                if masked:
                    off += 4
                if len(buf) < off + n:
                    break
                payload = buf[off:off + n]
                if masked:
                    key = buf[off - 4:off]
                    payload = bytes(c ^ key[j % 4] for j, c in enumerate(payload))
                buf = buf[off + n:]
                if opcode in (0, 1, 2):
                    frag += payload
                    if b0 & 0x80:
                        log_msg(path, conn, direction, frag)
                        frag = b""
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(upstream, path):
    u = urlparse(upstream)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(16)
    print("ws://127.0.0.1:%d" % lsock.getsockname()[1], flush=True)
    n = 0
    while True:
        c, _ = lsock.accept()
        n += 1
        try:
            s = socket.create_connection((u.hostname, u.port), timeout=10)
            s.settimeout(None)
        except OSError:
            c.close()
            continue
        for a, b, d in ((c, s, "c2s"), (s, c, "s2c")):
            threading.Thread(target=pump, args=(a, b, n, d, path),
                             daemon=True).start()


def report(path, fail_on_unimplemented=False):
    """Histogram of client methods, then the error answers grouped by
    (method, code, message) with a count and the first params seen. With
    fail_on_unimplemented, exit 1 when any request got -32601."""
    rows = load(path)
    reqs, counts = {}, {}
    # two passes: the relay threads may log an answer before its request
    for r in rows:
        m = r["msg"]
        if r["dir"] == "c2s" and isinstance(m, dict) and "method" in m:
            counts[m["method"]] = counts.get(m["method"], 0) + 1
            if "id" in m:
                reqs[(r["conn"], json.dumps(m["id"]))] = m
    groups = {}
    unimplemented = 0
    for r in rows:
        m = r["msg"]
        if r["dir"] != "s2c" or not isinstance(m, dict) or "error" not in m:
            continue
        q = reqs.get((r["conn"], json.dumps(m.get("id"))), {})
        e = m["error"] if isinstance(m["error"], dict) else {}
        if e.get("code") == -32601:
            unimplemented += 1
        key = (q.get("method", "?"), e.get("code"), e.get("message"))
        g = groups.setdefault(key, [0, q.get("params")])
        g[0] += 1
    print("requests: " + ", ".join("%s=%d" % kv for kv in sorted(counts.items())))
    for (meth, code, msg), (n, params) in groups.items():
        print("error x%d: %s -> %s %s; first params: %s" % (
            n, meth, code, json.dumps(msg), json.dumps(params)[:300]))
    return 1 if fail_on_unimplemented and unimplemented else 0


def load(path):
    try:
        return [json.loads(l) for l in open(path).read().splitlines()]
    except OSError:
        return []


def policy_entry(e):
    p = e.get("path") or {}
    if p.get("type") == "special":
        v = p.get("value") or {}
        where = v.get("kind", "?") + ("/" + v["subpath"] if v.get("subpath") else "")
    elif p.get("type") == "path":
        where = "path=" + str(p.get("path"))
    else:
        where = "%s=%s" % (p.get("type"), p.get("pattern"))
    skip = ":skip" if e.get("missing_path_behavior") == "skip" else ""
    return "%s:%s%s" % (where, e.get("access"), skip)


def policy_summary(sb):
    if not isinstance(sb, dict):
        return json.dumps(sb)
    perm = sb.get("permissions") or {}
    fs = perm.get("file_system") or {}
    entries = sorted(policy_entry(e) for e in fs.get("entries") or [])
    return "type=%s network=%s fs=%s entries=%s cwd=%s roots=%s" % (
        perm.get("type"), perm.get("network"), fs.get("type"),
        ",".join(entries), sb.get("cwd"), ",".join(sb.get("workspaceRoots") or []))


def sandboxes(path, method):
    for r in load(path):
        m = r["msg"]
        if r["dir"] == "c2s" and isinstance(m, dict) and m.get("method") == method:
            p = m.get("params") or {}
            where = "path=%s " % p["path"] if "path" in p else ""
            print(where + policy_summary(p.get("sandbox")))


def sandbox_types(path):
    rows = load(path)
    starts = {(r["conn"], json.dumps(r["msg"].get("id"))) for r in rows
              if r["dir"] == "c2s" and isinstance(r["msg"], dict)
              and r["msg"].get("method") == "process/start"}
    for r in rows:
        m = r["msg"]
        if r["dir"] != "s2c" or not isinstance(m, dict) or \
                (r["conn"], json.dumps(m.get("id"))) not in starts:
            continue
        if isinstance(m.get("result"), dict):
            print(m["result"].get("sandboxType"))
        else:
            e = m.get("error") or {}
            print("error %s %s" % (e.get("code"), json.dumps(e.get("message"))))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream")
    p.add_argument("--log", required=True)
    p.add_argument("--report", action="store_true")
    p.add_argument("--no-unimplemented", action="store_true",
                   help="quiet; exit 1 when a request was answered -32601")
    p.add_argument("--sandboxes", metavar="METHOD",
                   help="print the sandbox of each METHOD request, summarised")
    p.add_argument("--sandbox-types", action="store_true",
                   help="print the sandboxType (or error) of each process/start")
    a = p.parse_args()
    if a.sandboxes:
        sys.exit(sandboxes(a.log, a.sandboxes))
    if a.sandbox_types:
        sys.exit(sandbox_types(a.log))
    if a.no_unimplemented:
        with open(os.devnull, "w") as null:
            sys.stdout = null
            sys.exit(report(a.log, True))
    if a.report:
        sys.exit(report(a.log))
    serve(a.upstream, a.log)


if __name__ == "__main__":
    main()
