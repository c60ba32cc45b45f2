#!/usr/bin/env python3
"""A time-driven Inspector2 stand-in for scripts/bench-latency (127.0.0.1 only).

Coverage says SCAN_IN_PROGRESS until DONE_AT seconds after start, then SUCCESSFUL with
lastScannedAt = the flip; the findings appear LATE seconds after the flip (findings arrive after
the status flips, as on AWS). THROTTLE_FIRST answers the first N calls with 429 + Retry-After.
Every other request (ECR) is forwarded to moto. Counts calls per operation and prints them as
JSON on SIGTERM/SIGINT to the file given as COUNTS.

As strict as AWS: each Inspector2 request is checked against botocore's service model
(model_check.py; a refusal is answered ValidationException with the member path and counted
under "refused", which scripts/bench-latency reports as a failure), every filter is applied
with Inspector's semantics (values of one list ORed, filters ANDed, NOT_EQUALS excludes), and
listings page with nextToken, never more than maxResults per page.
"""
import json, os, signal, sys, threading, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_check  # noqa: E402

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
            "resources": [{"type": "AWS_ECR_CONTAINER_IMAGE",
                           "id": f"arn:aws:ecr:us-east-1:123456789012:repository/app/web/{DIGEST}", "details": {"awsEcrContainerImage": {
                "imageHash": DIGEST, "repositoryName": "app/web", "registry": "123456789012"}}}]}


def strings_pass(filters, values):
    """One string filter list: EQUALS/PREFIX values ORed, each NOT_EQUALS excludes."""
    positive = [f for f in filters if f["comparison"] in ("EQUALS", "PREFIX")]
    matched = any(v == f["value"] if f["comparison"] == "EQUALS" else v.startswith(f["value"])
                  for f in positive for v in values)
    excluded = any(v == f["value"] for f in filters if f["comparison"] == "NOT_EQUALS" for v in values)
    return (not positive or matched) and not excluded


FINDING_FIELDS = {
    "ecrImageHash": lambda f: [f["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"]],
    "ecrImageRepositoryName": lambda f: [f["resources"][0]["details"]["awsEcrContainerImage"]["repositoryName"]],
    "ecrImageRegistry": lambda f: [f["resources"][0]["details"]["awsEcrContainerImage"]["registry"]],
    "findingStatus": lambda f: [f["status"]],
    "severity": lambda f: [f["severity"]],
}
COVERAGE_FIELDS = {
    "resourceId": lambda r: [r["resourceId"]],
    "accountId": lambda r: [r["accountId"]],
    "ecrRepositoryName": lambda r: [r["resourceMetadata"]["ecrRepository"]["name"]],
    "resourceType": lambda r: [r["resourceType"]],
    "scanType": lambda r: [r["scanType"]],
}


def passes(criteria, item, fields):
    """Every filter of `criteria` (ANDed); a filter not emulated here raises KeyError."""
    return all(strings_pass(fl, fields[key](item)) for key, fl in (criteria or {}).items())


def page(items, req, key):
    """The page of `items` the request asks for: maxResults per page, an offset nextToken."""
    start = int(req.get("nextToken") or 0)
    size = req.get("maxResults") or 100
    out = {key: items[start:start + size]}
    if start + size < len(items):
        out["nextToken"] = str(start + size)
    return out


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
            req = json.loads(body or b"{}")
            op = "ListCoverage" if self.path == "/coverage/list" else "ListFindings"
            found = model_check.refusals("inspector2", op, req)
            if found:
                with lock:
                    counts["refused"] = counts.get("refused", 0) + 1
                print(f"refused {op}: {model_check.message(found)}", file=sys.stderr, flush=True)
                return self.send(400, {"message": model_check.message(found), "reason": "FIELD_VALIDATION_FAILED",
                                       "fields": [{"name": p, "message": c} for p, c in found]},
                                 [("x-amzn-ErrorType", "ValidationException")])
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
                       "resourceId": f"arn:aws:ecr:us-east-1:123456789012:repository/app/web/{DIGEST}",
                       "scanType": "PACKAGE",
                       "scanStatus": {"statusCode": "ACTIVE", "reason": "SUCCESSFUL" if done else "SCAN_IN_PROGRESS"},
                       "resourceMetadata": {"ecrRepository": {"name": "app/web", "scanFrequency": "CONTINUOUS_SCAN"},
                                            "ecrImage": {"tags": []}}}
                if done:
                    row["lastScannedAt"] = START + DONE_AT
                rows = [r for r in [row] if passes(req.get("filterCriteria"), r, COVERAGE_FIELDS)]
                return self.send(200, page(rows, req, "coveredResources"))
            found = [finding(i) for i in range(3)] if now >= DONE_AT + LATE else []
            found = [f for f in found if passes(req.get("filterCriteria"), f, FINDING_FIELDS)]
            return self.send(200, page(found, req, "findings"))
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
