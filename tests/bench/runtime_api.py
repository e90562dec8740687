#!/usr/bin/env python3
"""A minimal local Lambda Runtime API (2018-06-01) that measures a bootstrap binary per cold start.

For each iteration it spawns the bootstrap with AWS_LAMBDA_RUNTIME_API pointing here and records:
  init_ms         spawn -> its first GET /runtime/invocation/next has arrived (Lambda's Init phase)
  first_event_ms  event written to that GET -> POST .../response or .../error has arrived
  rss_kb          the process's peak RSS (VmHWM of /proc/PID/status, read after the first event)
then stops it (SIGKILL: Lambda freezes the sandbox and later kills it; shutdown is not measured).

One thread, one selector, raw sockets and one clock (time.monotonic_ns): a threaded Python HTTP
server added ~4 ms of GIL hand-offs to every figure. The floor of this harness (spawn + exec +
connect + GET of a 16 KB C client, tests/bench/floor.c) is ~0.8 ms on the project machine.

  python3 tests/bench/runtime_api.py --bootstrap target/lambda/build-failed-header/bootstrap \
      --event events/functions/build-failed-header.json --iterations 20 [--env K=V ...] [--json]
"""
import argparse
import json
import os
import selectors
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid

NEXT = "/2018-06-01/runtime/invocation/next"
PREFIX = "/2018-06-01/runtime/"


def parse_requests(buf):
    """Complete HTTP/1.1 requests at the front of buf -> ([(method, path, body)], rest)."""
    out = []
    while True:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return out, buf
        head = buf[:end].decode("latin-1").split("\r\n")
        method, path, _ = head[0].split(" ", 2)
        length = 0
        for line in head[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        if len(buf) < end + 4 + length:
            return out, buf
        out.append((method, path, buf[end + 4:end + 4 + length]))
        buf = buf[end + 4 + length:]


def response(code, body=b"", headers=None):
    reason = {200: "OK", 202: "Accepted", 404: "Not Found"}[code]
    lines = [f"HTTP/1.1 {code} {reason}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def vm_hwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def one_cold_start(args, listener, body, env):
    request_id = str(uuid.uuid4())
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, None)
    bufs = {}
    first_get = delivered = done = None
    kind, out = "timeout", b""
    log = tempfile.TemporaryFile() if args.show_logs else None
    actions = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)]
    for fd in (1, 2):  # Lambda sends both to CloudWatch Logs
        actions.append((os.POSIX_SPAWN_DUP2, log.fileno(), fd) if log
                       else (os.POSIX_SPAWN_OPEN, fd, "/dev/null", os.O_WRONLY, 0))
    # posix_spawn (vfork-like), not fork: no copy of this process's page tables in init_ms.
    t0 = time.monotonic_ns()
    pid = os.posix_spawn(args.bootstrap, [args.bootstrap], env, file_actions=actions)
    deadline = time.monotonic() + args.timeout
    exited = None
    while done is None and time.monotonic() < deadline:
        # A bootstrap that exits (crash, missing config) must not cost the whole timeout.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            exited = True
            kind = "exited"
            break
        for key, _ in sel.select(timeout=min(0.05, max(0.0, deadline - time.monotonic()))):
            if key.data is None:
                conn, _ = listener.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sel.register(conn, selectors.EVENT_READ, "conn")
                bufs[conn] = b""
                continue
            conn = key.fileobj
            chunk = conn.recv(1 << 20)
            now = time.monotonic_ns()
            if not chunk:
                sel.unregister(conn)
                conn.close()
                bufs.pop(conn, None)
                continue
            reqs, bufs[conn] = parse_requests(bufs[conn] + chunk)
            for method, path, req_body in reqs:
                if method == "GET" and path == NEXT:
                    if first_get is None:
                        first_get = now
                        conn.sendall(response(200, body, {
                            "Content-Type": "application/json",
                            "Lambda-Runtime-Aws-Request-Id": request_id,
                            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30_000),
                            "Lambda-Runtime-Invoked-Function-Arn":
                                f"arn:aws:lambda:us-east-1:111111111111:function:{env['AWS_LAMBDA_FUNCTION_NAME']}",
                            "Lambda-Runtime-Trace-Id":
                                "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1",
                        }))
                        delivered = time.monotonic_ns()
                    # A later GET (the next event) is parked: the sandbox is frozen here.
                elif method == "POST" and path.startswith(PREFIX):
                    conn.sendall(response(202, b'{"status":"OK"}'))
                    tail = path[len(PREFIX):].split("/")
                    if tail == ["init", "error"]:
                        kind, out, done = "init_error", req_body, now
                    elif len(tail) == 3 and tail[0] == "invocation" and tail[2] in ("response", "error"):
                        kind, out, done = tail[2], req_body, now
                else:
                    conn.sendall(response(404))
    rss = None if exited else vm_hwm_kb(pid)
    if not exited:
        os.kill(pid, signal.SIGKILL)
        os.wait4(pid, 0)
    for conn in list(bufs):
        sel.unregister(conn)
        conn.close()
    sel.close()
    result = {
        "outcome": kind,
        "init_ms": (first_get - t0) / 1e6 if first_get else None,
        "first_event_ms": (done - delivered) / 1e6 if (done and delivered) else None,
        "rss_kb": rss,
    }
    try:
        doc = json.loads(out) if out else None
    except ValueError:
        doc = out.decode(errors="replace")
    if kind in ("error", "init_error"):
        result["errorType"] = doc.get("errorType") if isinstance(doc, dict) else None
        result["errorMessage"] = (doc.get("errorMessage") or "")[:300] if isinstance(doc, dict) else None
    elif kind == "response":
        result["response"] = doc
    if log:
        log.seek(0)
        result["logs"] = log.read().decode(errors="replace")[-3000:]
        log.close()
    return result


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--event", required=True, help="JSON file delivered as the first event")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--first-index", type=int, default=0, help="suffix of the first --unique value")
    ap.add_argument("--unique", action="append", default=[],
                    help="top-level string field made unique per iteration (VALUE-i), e.g. attemptId")
    ap.add_argument("--env", action="append", default=[], help="K=V added to the function's environment")
    ap.add_argument("--name", default=None, help="AWS_LAMBDA_FUNCTION_NAME (default: the bootstrap's folder)")
    ap.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for one invocation")
    ap.add_argument("--show-logs", action="store_true", help="keep the function's stdout+stderr in the results")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    body = open(args.event, "rb").read()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    name = args.name or os.path.basename(os.path.dirname(os.path.abspath(args.bootstrap)))
    # What the Lambda service sets (plus --env): no HOME, so no ~/.aws profile to read.
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/25/[$LATEST]bench",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "LAMBDA_TASK_ROOT": os.path.dirname(os.path.abspath(args.bootstrap)),
        "_HANDLER": "bootstrap",
        # Lambda injects the role's session credentials as environment variables.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }
    for kv in args.env:
        k, _, v = kv.partition("=")
        env[k] = v

    def event(i):
        if not args.unique:
            return body
        doc = json.loads(body)
        for key in args.unique:
            doc[key] = f"{doc[key]}-{i}"
        return json.dumps(doc).encode()

    runs = [one_cold_start(args, listener, event(args.first_index + i), env) for i in range(args.iterations)]
    listener.close()
    summary = {
        "function": name,
        "iterations": len(runs),
        "outcomes": sorted({r["outcome"] + (":" + str(r.get("errorType")) if "errorType" in r else "") for r in runs}),
        "init_ms_median": median(r["init_ms"] for r in runs),
        "init_ms_max": max((r["init_ms"] for r in runs if r["init_ms"] is not None), default=None),
        "first_event_ms_median": median(r["first_event_ms"] for r in runs),
        "rss_kb_median": median(r["rss_kb"] for r in runs),
        "rss_kb_max": max((r["rss_kb"] for r in runs if r["rss_kb"] is not None), default=None),
        "bootstrap_bytes": os.path.getsize(args.bootstrap),
        "example": runs[0],
        "failed": sum(r["outcome"] not in ("response", "error") for r in runs),
        "first_failure": next((r for r in runs if r["outcome"] not in ("response", "error")), None),
        "runs": [{k: r.get(k) for k in ("outcome", "errorType", "init_ms", "first_event_ms", "rss_kb")} for r in runs],
    }
    print(json.dumps(summary) if args.json else json.dumps(summary, indent=2))
    # A function that never reached the Runtime API measured nothing.
    return 0 if summary["init_ms_median"] is not None else 1


if __name__ == "__main__":
    sys.exit(main())
