#!/usr/bin/env python3
"""A time-driven Inspector2 stand-in for scripts/bench-latency (127.0.0.1 only).

Coverage says SCAN_IN_PROGRESS until DONE_AT seconds after start, then SUCCESSFUL with
lastScannedAt = the flip; the findings appear LATE seconds after the flip (findings arrive after
the status flips, as on AWS). THROTTLE_FIRST answers the first N calls with 429 + Retry-After.
Every other request (ECR) is forwarded to moto. Counts calls per operation and prints them as
JSON on SIGTERM/SIGINT to the file given as COUNTS.
"""
import json, os, signal, sys, threading, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

START = time.time()
DONE_AT = float(os.environ.get("DONE_AT", "60"))
LATE = float(os.environ.get("LATE", "2"))
DIGEST = os.environ["DIGEST"]
MOTO = os.environ["MOTO_URL"]
THROTTLE_FIRST = int(os.environ.get("THROTTLE_FIRST", "0"))
COUNTS = os.environ["COUNTS"]
counts = {}
lock = threading.Lock()
throttled = [0]


def finding(i):
    return {"awsAccountId": "123456789012", "findingArn": f"arn:aws:inspector2:us-east-1:123456789012:finding/{i:08x}",
            "description": "d", "title": f"CVE-2024-{i:05d} - pkg{i}", "severity": "CRITICAL", "status": "ACTIVE",
            "type": "PACKAGE_VULNERABILITY", "firstObservedAt": START, "lastObservedAt": START,
            "fixAvailable": "YES", "inspectorScore": 9.0,
            "packageVulnerabilityDetails": {"vulnerabilityId": f"CVE-2024-{i:05d}", "source": "NVD",
                "vulnerablePackages": [{"name": f"pkg{i}", "version": "1.0", "fixedInVersion": "1.1"}]},
            "resources": [{"type": "AWS_ECR_CONTAINER_IMAGE", "id": "x", "details": {"awsEcrContainerImage": {
                "imageHash": DIGEST, "repositoryName": "app/web", "registry": "123456789012"}}}]}


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def send(self, code, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        op = self.headers.get("X-Amz-Target", "").split(".")[-1] or self.path
        with lock:
            counts[op] = counts.get(op, 0) + 1
        if self.path in ("/coverage/list", "/findings/list"):
            with lock:
                throttle = throttled[0] < THROTTLE_FIRST
                throttled[0] += throttle
            if throttle:
                return self.send(429, {"message": "Rate exceeded"},
                                 [("x-amzn-ErrorType", "ThrottlingException"), ("Retry-After", "1")])
            now = time.time() - START
            if self.path == "/coverage/list":
                done = now >= DONE_AT
                row = {"accountId": "123456789012", "resourceType": "AWS_ECR_CONTAINER_IMAGE",
                       "resourceId": "r", "scanType": "PACKAGE",
                       "scanStatus": {"statusCode": "ACTIVE", "reason": "SUCCESSFUL" if done else "SCAN_IN_PROGRESS"}}
                if done:
                    row["lastScannedAt"] = START + DONE_AT
                return self.send(200, {"coveredResources": [row]})
            found = [finding(i) for i in range(3)] if now >= DONE_AT + LATE else []
            return self.send(200, {"findings": found})
        req = urllib.request.Request(MOTO + self.path, data=body, method="POST",
                                     headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
        try:
            with urllib.request.urlopen(req) as r:
                code, data, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            code, data, hdrs = e.code, e.read(), e.headers
        self.send_response(code)
        for k, v in hdrs.items():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def stop(*_):
    with open(COUNTS, "w") as f:
        json.dump(counts, f)
    os._exit(0)


signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(f"listening on http://127.0.0.1:{srv.server_address[1]}", flush=True)
srv.serve_forever()
