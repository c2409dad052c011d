"""Cold start: each Lambda binary from exec to its first answered invocation, against a minimal
Lambda Runtime API on 127.0.0.1 (the authorizer including its JWKS fetch from a local issuer);
beside it, a Node 20 authorizer on aws-jwt-verify. Also each zipped artifact's size.

Usage: coldstart.py DATA_DIR RELEASE_DIR LAMBDA_ZIP_DIR AJV_MODULE RUNS DDB_ENDPOINT
Prints one JSON line per contender."""
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

data_dir, release_dir, zip_dir, ajv_module, runs, ddb = sys.argv[1:7]
ajv_module = os.path.abspath(ajv_module)
only = os.environ.get("COLDSTART_ONLY")
runs = int(runs)
meta = json.load(open(os.path.join(data_dir, "meta.json")))
jwks = open(os.path.join(data_dir, "jwks.json"), "rb").read()
token = json.load(open(os.path.join(data_dir, "tokens-ES256.json")))[0]
here = os.path.dirname(os.path.abspath(__file__))
fixture = json.load(open(os.path.join(here, "..", "authorizer", "tests", "data", "authorizer-request.json")))
# The token in the query string for the Node peer's authorizer, and in the subprotocol list, where
# wsauth's default deploy reads it.
fixture["queryStringParameters"]["token"] = token
fixture["multiValueQueryStringParameters"]["token"] = [token]
fixture["headers"]["Sec-WebSocket-Protocol"] = "wsauth, bearer." + token
fixture["multiValueHeaders"]["Sec-WebSocket-Protocol"] = ["wsauth, bearer." + token]
connect_event = json.load(open(os.path.join(here, "..", "connect", "tests", "data", "disconnect.json")))
message_event = json.load(open(os.path.join(here, "..", "routes", "tests", "data", "message.json")))
message_event["requestContext"]["routeKey"] = "ping"
message_event["body"] = '{"action":"ping"}'
message_event["requestContext"]["connectionId"] = "bench-ping-connection"  # bound by `wsauth-bench table`
push_event = {"op": "sendToUser", "userId": "nobody", "data": {"x": 1}}


class State:
    event = None
    answered = None
    started = None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path == "/.well-known/jwks.json":
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(jwks)))
            self.end_headers()
            self.wfile.write(jwks)
            return
        if self.path.endswith("/invocation/next"):
            if State.answered is not None:
                time.sleep(2)  # no second invocation: the process is killed first
                return
            body = json.dumps(State.event).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("lambda-runtime-aws-request-id", "req-1")
            self.send_header("lambda-runtime-deadline-ms", str(int(time.time() * 1000) + 30000))
            self.send_header("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(404)
        self.end_headers()

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(n) if n else b""
        if "/invocation/" in self.path:
            if State.answered is None:
                State.answered = (time.perf_counter(), self.path.rsplit("/", 1)[-1], body[:200])
            self.send_response(202)
            self.end_headers()
            return
        self.send_response(404)
        self.end_headers()


ThreadingHTTPServer.handle_error = lambda *a: None  # a killed process drops its connection
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()

base_env = {
    "PATH": os.environ.get("PATH", ""),
    "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
    "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_ENDPOINT_URL_DYNAMODB": ddb,
    "WSAUTH_TABLE": "wsauth-sessions",
    "WSAUTH_ISSUER": meta["issuer"],
    "WSAUTH_AUDIENCE": meta["audience"],
    "WSAUTH_JWKS_URL": f"http://127.0.0.1:{port}/.well-known/jwks.json",
    "WSAUTH_MANAGEMENT_ENDPOINT": "http://127.0.0.1:9/dev",
    "RUST_LOG": os.environ.get("COLDSTART_LOG", "warn"),
    "AJV_MODULE": ajv_module,
}


def one(cmd, event):
    State.event, State.answered = event, None
    t0 = time.perf_counter()
    err_path = os.path.join(os.path.dirname(data_dir), "coldstart-stderr.log")
    with open(err_path, "wb") as err:
        p = subprocess.Popen(cmd, env=base_env, stdout=subprocess.DEVNULL, stderr=err)
        deadline = t0 + 30
        while State.answered is None and time.perf_counter() < deadline and p.poll() is None:
            time.sleep(0.0005)
        p.kill()
        p.wait()
    if os.environ.get("COLDSTART_LOG"):
        sys.stderr.write(open(err_path).read()[-3000:])
    if State.answered is None:
        sys.stderr.write(f"{cmd[0]}: no answer; its stderr:\n{open(err_path).read()[-2000:]}\n")
        return None, None
    return (State.answered[0] - t0) * 1000, State.answered[1]


def zip_size(path):
    return os.path.getsize(path) if os.path.exists(path) else None


def node_zip_size():
    out = os.path.join(os.path.dirname(data_dir), "node-authorizer.zip")
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(os.path.join(here, "node", "authorizer.mjs"), "index.mjs")
        for dirpath, _, files in os.walk(ajv_module):
            for f in files:
                full = os.path.join(dirpath, f)
                z.write(full, os.path.join("node_modules", "aws-jwt-verify", os.path.relpath(full, ajv_module)))
    return os.path.getsize(out)


contenders = [
    ("wsauth authorizer", [os.path.join(release_dir, "authorizer")], fixture, zip_size(os.path.join(zip_dir, "authorizer", "bootstrap.zip"))),
    ("node20 aws-jwt-verify authorizer", ["node", os.path.join(here, "node", "authorizer.mjs")], fixture, node_zip_size()),
    ("wsauth connect ($disconnect)", [os.path.join(release_dir, "connect")], connect_event, zip_size(os.path.join(zip_dir, "connect", "bootstrap.zip"))),
    ("wsauth routes (ping)", [os.path.join(release_dir, "routes")], message_event, zip_size(os.path.join(zip_dir, "routes", "bootstrap.zip"))),
    ("wsauth push (sendToUser)", [os.path.join(release_dir, "push")], push_event, zip_size(os.path.join(zip_dir, "push", "bootstrap.zip"))),
]
for name, cmd, event, size in contenders:
    if only and only not in name:
        continue
    times, outcome = [], None
    for _ in range(runs):
        ms, outcome = one(cmd, event)
        if ms is not None:
            times.append(ms)
    print(json.dumps({
        "bench": "coldstart", "contender": name, "alg": "ES256",
        "median_ms": statistics.median(times) if times else None,
        "min_ms": min(times) if times else None, "runs": len(times),
        "outcome": outcome, "zip_bytes": size,
    }), flush=True)
server.shutdown()
