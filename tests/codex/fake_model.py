#!/usr/bin/env python3
"""Scripted fake Responses-API model for the codex real-client test.

Python 3 stdlib only. Listens on 127.0.0.1:0, prints the bound port as one
line on stdout, and answers POST /v1/responses with a server-sent-event
stream. Every request body it receives is appended (one JSON object per line)
to the log file given with --log, so the test can assert on what codex sent
back (function_call_output items and friends).

The script is stateless: each turn is chosen from the tool outputs already
present in the request's `input`, so retries replay the same step.

  step 1  exec_command  printf %s "$RINGEXEC_PROOF"           (call_proof)
  step 2  exec_command  tty=true  sh -c 'read l; echo got:$l' (call_pty)
  step 3  write_stdin   session_id from step 2, "LINE\n"     (call_write)
  step 4  exec_command  each probe of the --probes file, in order (its id)
  step 5  apply_patch   *** Add File: hello.txt               (call_patch)
  step 6  final assistant message

`--probes FILE` is a JSON list of {"id": CALL_ID, "cmd": SHELL_COMMAND}: the
test's sandbox probes (what a command may write or connect to), run between
the PTY session and the patch. Without it, step 4 is empty.

`fake_model.py --log FILE --output CALL_ID` prints what codex returned for
CALL_ID (the test's assertions use it).
"""
import argparse
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PTY_LINE = "ringexec-pty-line-42"
PATCH = ("*** Begin Patch\n*** Add File: hello.txt\n+hello from ringexec\n"
         "*** End Patch\n")

LOG_LOCK = threading.Lock()
ARGS = None
SEQ = [0]
PROBES = []


def outputs_by_call(body):
    """call_id -> output text, for every *_call_output item in input."""
    out = {}
    for item in body.get("input") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type", "").endswith("_call_output"):
            o = item.get("output")
            if isinstance(o, list):  # content items
                o = "".join(c.get("text", "") for c in o if isinstance(c, dict))
            elif isinstance(o, dict):
                o = o.get("content") or json.dumps(o)
            out[item.get("call_id")] = o if isinstance(o, str) else json.dumps(o)
    return out


def tool_kind(body, name):
    """'function' or 'custom' (freeform) for the named tool, or None."""
    for t in body.get("tools") or []:
        if t.get("name") == name:
            return t.get("type")
    return None


def fn_call(call_id, name, args):
    return {"type": "function_call", "id": "fc_" + call_id, "call_id": call_id,
            "name": name, "arguments": json.dumps(args), "status": "completed"}


def next_items(body):
    outs = outputs_by_call(body)
    if "call_proof" not in outs:
        return [fn_call("call_proof", "exec_command",
                        {"cmd": 'printf %s "$RINGEXEC_PROOF"',
                         "yield_time_ms": 10000})]
    if "call_pty" not in outs:
        return [fn_call("call_pty", "exec_command",
                        {"cmd": "sh -c 'read l; echo got:$l'", "tty": True,
                         "yield_time_ms": 1000})]
    if "call_write" not in outs:
        m = re.search(r"session ID (\d+)", outs["call_pty"]) or \
            re.search(r'"?session_id"?\s*[:=]\s*(\d+)', outs["call_pty"])
        sid = int(m.group(1)) if m else 0
        return [fn_call("call_write", "write_stdin",
                        {"session_id": sid, "chars": PTY_LINE + "\n",
                         "yield_time_ms": 3000})]
    for probe in PROBES:
        if probe["id"] not in outs:
            return [fn_call(probe["id"], "exec_command",
                            {"cmd": probe["cmd"], "yield_time_ms": 10000})]
    if "call_patch" not in outs:
        if tool_kind(body, "apply_patch") == "custom":
            return [{"type": "custom_tool_call", "id": "ctc_call_patch",
                     "call_id": "call_patch", "name": "apply_patch",
                     "input": PATCH, "status": "completed"}]
        return [fn_call("call_patch", "apply_patch", {"input": PATCH})]
    return [{"type": "message", "role": "assistant", "id": "msg_done",
             "status": "completed",
             "content": [{"type": "output_text", "text": "all done",
                          "annotations": []}]}]


def sse(event, data):
    data = dict(data)
    data["type"] = event
    return ("event: %s\ndata: %s\n\n" % (event, json.dumps(data))).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *a):
        sys.stderr.write("fake_model: " + (fmt % a) + "\n")

    def _json(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        if self.path.split("?")[0].rstrip("/").endswith("/models"):
            self._json(200, {"object": "list", "data": [], "models": []})
        else:
            self._json(404, {"error": {"message": "not found"}})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"_unparsed": raw.decode("utf-8", "replace"),
                    "_encoding": self.headers.get("Content-Encoding")}
        with LOG_LOCK:
            SEQ[0] += 1
            seq = SEQ[0]
            with open(ARGS.log, "a") as f:
                f.write(json.dumps({"seq": seq, "path": self.path,
                                    "body": body}) + "\n")
        if not self.path.split("?")[0].endswith("/responses") or \
                "_unparsed" in body:
            self._json(400, {"error": {"message": "unexpected request"}})
            return
        items = next_items(body)
        rid = "resp_%d" % seq
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        chunks = [sse("response.created",
                      {"response": {"id": rid, "object": "response",
                                    "status": "in_progress", "output": []}})]
        for i, it in enumerate(items):
            added = dict(it)
            if added["type"] == "function_call":
                added["arguments"] = ""
            chunks.append(sse("response.output_item.added",
                              {"output_index": i, "item": added}))
            chunks.append(sse("response.output_item.done",
                              {"output_index": i, "item": it}))
        usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": 15}
        chunks.append(sse("response.completed",
                          {"response": {"id": rid, "object": "response",
                                        "status": "completed", "output": items,
                                        "usage": usage}}))
        for c in chunks:
            self.wfile.write(c)
        self.wfile.flush()
        self.close_connection = True


def print_output(log, call_id):
    """Print the newest output codex sent back for call_id (exit 1: none)."""
    found = None
    try:
        with open(log) as f:
            for line in f:
                body = json.loads(line).get("body") or {}
                o = outputs_by_call(body).get(call_id)
                if o is not None:
                    found = o
    except OSError:
        pass
    if found is None:
        return 1
    sys.stdout.write(found)
    return 0


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True, help="JSONL file of request bodies")
    p.add_argument("--output", metavar="CALL_ID",
                   help="do not serve: print the output codex returned for "
                        "CALL_ID in the --log file (exit 1 when there is none)")
    p.add_argument("--probes", metavar="FILE",
                   help="JSON list of {id, cmd}: exec_command probes to run "
                        "after the PTY session, before the patch")
    ARGS = p.parse_args()
    if ARGS.probes:
        with open(ARGS.probes) as f:
            PROBES.extend(json.load(f))
    if ARGS.output:
        sys.exit(print_output(ARGS.log, ARGS.output))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
