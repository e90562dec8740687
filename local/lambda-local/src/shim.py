# Lambda's Python runtime, offline: one warm sandbox for one function. Imports the handler file
# as Lambda's Python runtime does (awslambdaric's bootstrap) and serves invocations read from stdin.
#
# Started by lambda-local's sandbox (src/sandbox.rs) as
#   python3 -I -B -c "<this file>" SOURCE_FILE HANDLER FUNCTION_NAME MEMORY_MB RUNTIME
# SOURCE_FILE's code is run as /var/task/<module>.py (where Lambda puts it, so tracebacks name it
# as on AWS); HANDLER is Lambda's "module.function" (e.g. handler.handler).
#
# Protocol, one JSON line each way. In: {"requestId", "deadlineMs", "payload"} (payload: the Invoke
# request body as text). Out: {"body": base64 of the response body, "error": true when the body is
# Lambda's error document (X-Amz-Function-Error: Unhandled)}. Before the first request it writes
# {"ready": true}. Whatever the handler prints goes to stderr (Lambda: the function's log).
# Standard library only.

import base64
import decimal
import json
import linecache
import os
import sys
import time
import traceback
import types

TASK_ROOT = "/var/task"
# This shim's own code: run with `python3 -c`, its frames name "<string>".
SHIM_FILE = globals().get("__file__", "<string>")


def make_error(message, error_type, stack_trace, request_id):
    # awslambdaric's make_error: the document Lambda returns for a function error.
    return {
        "errorMessage": message if message else "",
        "errorType": error_type if error_type else "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def user_frames(tb):
    # The traceback as (file, line, function, text) tuples, this shim's own frames left out as
    # awslambdaric leaves out bootstrap.py's; plain tuples format without 3.11's caret lines.
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, frame in enumerate(frames):
        if frame[0] != SHIM_FILE:
            return frames[i:]
    return []


def exception_error(exc, request_id):
    return make_error(
        str(exc),
        type(exc).__name__,
        traceback.format_list(user_frames(exc.__traceback__)),
        request_id,
    )


class LambdaContext:
    # The context object a Python handler receives (the members awslambdaric's LambdaContext has).
    def __init__(self, request_id, deadline_ms, name, memory_mb):
        self.aws_request_id = request_id
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:%s:%s:function:%s" % (
            os.environ.get("AWS_REGION", "us-east-1"),
            os.environ.get("LAMBDA_LOCAL_ACCOUNT", "111111111111"),
            name,
        )
        self.memory_limit_in_mb = str(memory_mb)
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/" + name)
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(int(self._deadline_ms - time.time() * 1000), 0)


class Encoder(json.JSONEncoder):
    # awslambdaric's marshaller: a Decimal as a number (its digits as written, there; the nearest
    # int or float here, the standard library having no raw JSON); python3.12 and later keep
    # non-ASCII characters as they are.
    def default(self, obj):
        if isinstance(obj, decimal.Decimal):
            return int(obj) if obj == obj.to_integral_value() and "." not in str(obj) else float(obj)
        return super().default(obj)


def load_handler(source_file, handler):
    # Imports the handler's module as the runtime does; an error here is reported on every
    # invocation, as Lambda reports an Init error.
    module_name, _, function_name = handler.rpartition(".")
    path = os.path.join(TASK_ROOT, module_name.replace(".", "/") + ".py")
    with open(source_file, encoding="utf-8") as fh:
        source = fh.read()
    # Tracebacks read the source from linecache: give it the file's text under Lambda's path.
    linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    try:
        code = compile(source, path, "exec")
    except SyntaxError as e:
        return None, make_error(
            "Syntax error in module '%s': %s" % (module_name, e),
            "Runtime.UserCodeSyntaxError",
            [],
            None,
        )
    module = types.ModuleType(module_name)
    module.__file__ = path
    sys.modules[module_name] = module
    try:
        exec(code, module.__dict__)
    except Exception as e:
        return None, make_error(
            "Unable to import module '%s': %s" % (module_name, e),
            "Runtime.ImportModuleError",
            [],
            None,
        )
    fn = getattr(module, function_name, None)
    if fn is None:
        return None, make_error(
            "Handler '%s' missing on module '%s'" % (function_name, module_name),
            "Runtime.HandlerNotFound",
            [],
            None,
        )
    return fn, None


def invoke(fn, init_error, request, name, memory_mb, encoder):
    request_id = request["requestId"]
    if init_error is not None:
        return json.dumps(dict(init_error, requestId=request_id)).encode(), True
    try:
        event = json.loads(request["payload"])
    except ValueError as e:
        error = make_error("Unable to unmarshal input: %s" % e, "Runtime.UnmarshalError", [], request_id)
        return json.dumps(error).encode(), True
    context = LambdaContext(request_id, request["deadlineMs"], name, memory_mb)
    try:
        result = fn(event, context)
    except Exception as e:
        return json.dumps(exception_error(e, request_id)).encode(), True
    if isinstance(result, bytes):
        return result, False
    try:
        return encoder.encode(result).encode("utf-8"), False
    except Exception as e:
        error = make_error("Unable to marshal response: %s" % e, "Runtime.MarshalError", [], request_id)
        return json.dumps(error).encode(), True


def main():
    source_file, handler, name, memory_mb, runtime = sys.argv[1:6]
    # The protocol keeps the real stdout; the handler's prints go to stderr.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.path.insert(0, os.path.dirname(os.path.abspath(source_file)))
    version = tuple(int(p) for p in runtime.replace("python", "").split(".") if p.isdigit())
    encoder = Encoder(ensure_ascii=version < (3, 12))
    fn, init_error = load_handler(source_file, handler)
    channel.write('{"ready": true}\n')
    channel.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        body, error = invoke(fn, init_error, json.loads(line), name, memory_mb, encoder)
        reply = {"body": base64.b64encode(body).decode("ascii"), "error": error}
        channel.write(json.dumps(reply) + "\n")
        channel.flush()


if __name__ == "__main__":
    main()
