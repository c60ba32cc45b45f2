#!/usr/bin/env python3
"""A time-driven Inspector2 stand-in for scripts/bench-latency, bench-fanout and bench-org
(127.0.0.1 only).

Coverage says SCAN_IN_PROGRESS until DONE_AT seconds after start, then SUCCESSFUL with
lastScannedAt = the flip; the findings appear LATE seconds after the flip (findings arrive after
the status flips, as on AWS). THROTTLE_FIRST answers the first N calls with 429 + Retry-After.
Every other request (ECR) is forwarded to moto. Counts calls per operation and prints them as
JSON on SIGTERM/SIGINT to the file given as COUNTS.

Images: DIGEST (one image in app/web with 3 CRITICAL findings), or IMAGES, a JSON file
[{"digest", "repository", "critical": bool}, ...]: FINDINGS findings each (default 50), one
CRITICAL among them when "critical", the rest LOW/MEDIUM. OTHER_IMAGES (default 0): that many
more images in each repository of IMAGES, scanned long ago, each with its coverage row (as a
real repository holds its older pushes): a listing of a whole repository pages through them.

ACCOUNT_RATE (requests per second, 0 = unlimited) and ACCOUNT_BURST: the account's Inspector2
rate, a token bucket shared by every caller, as AWS throttles an account; a request over it is
answered 429 ThrottlingException ("throttled" in the counts) with Retry-After: 1.

As strict as AWS: each Inspector2 request is checked against botocore's service model
(model_check.py; a refusal is answered ValidationException with the member path and counted
under "refused", which scripts/bench-latency reports as a failure), every filter is applied
with Inspector's semantics (values of one list ORed, filters ANDed, NOT_EQUALS excludes), and
listings page with nextToken, never more than maxResults per page.
"""
import hashlib, json, os, signal, sys, threading, time, urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model_check  # noqa: E402

START = time.time()
DONE_AT = float(os.environ.get("DONE_AT", "60"))
LATE = float(os.environ.get("LATE", "2"))
MOTO = os.environ["MOTO_URL"]
THROTTLE_FIRST = int(os.environ.get("THROTTLE_FIRST", "0"))
COUNTS = os.environ["COUNTS"]
ACCOUNT_RATE = float(os.environ.get("ACCOUNT_RATE", "0"))
ACCOUNT_BURST = float(os.environ.get("ACCOUNT_BURST", "0")) or max(ACCOUNT_RATE, 1.0)
FINDINGS = int(os.environ.get("FINDINGS", "50"))
OTHER_IMAGES = int(os.environ.get("OTHER_IMAGES", "0"))
if os.environ.get("IMAGES"):
    with open(os.environ["IMAGES"]) as fh:
        IMAGES = json.load(fh)
else:
    IMAGES = [{"digest": os.environ["DIGEST"], "repository": "app/web", "critical": True, "legacy": True}]
counts = {}
lock = threading.Lock()
throttled = [0]
bucket = {"tokens": ACCOUNT_BURST, "at": time.time()}


def over_account_rate():
    """Take one token of the account's bucket; True when there is none (throttle)."""
    if ACCOUNT_RATE <= 0:
        return False
    with lock:
        now = time.time()
        bucket["tokens"] = min(ACCOUNT_BURST, bucket["tokens"] + (now - bucket["at"]) * ACCOUNT_RATE)
        bucket["at"] = now
        if bucket["tokens"] >= 1:
            bucket["tokens"] -= 1
            return False
        return True


def finding(n, i, img):
    """Finding i of image n: CRITICAL for the legacy image, one CRITICAL for a critical one."""
    digest, repo = img["digest"], img["repository"]
    if img.get("legacy"):
        sev = "CRITICAL"
    else:
        sev = "CRITICAL" if img.get("critical") and i == 0 else ("MEDIUM" if i % 2 else "LOW")
    return {"awsAccountId": "123456789012", "findingArn": f"arn:aws:inspector2:us-east-1:123456789012:finding/{n:04x}{i:04x}",
            "description": "d", "title": f"CVE-2024-{i:05d} - pkg{i}", "severity": sev, "status": "ACTIVE",
            "type": "PACKAGE_VULNERABILITY", "firstObservedAt": START, "lastObservedAt": START,
            "fixAvailable": "YES", "inspectorScore": 9.0 if sev == "CRITICAL" else 3.0,
            "packageVulnerabilityDetails": {"vulnerabilityId": f"CVE-2024-{i:05d}", "source": "NVD",
                "vulnerablePackages": [{"name": f"pkg{i}", "version": "1.0", "fixedInVersion": "1.1"}]},
            "resources": [{"type": "AWS_ECR_CONTAINER_IMAGE",
                           "id": f"arn:aws:ecr:us-east-1:123456789012:repository/{repo}/{digest}", "details": {"awsEcrContainerImage": {
                "imageHash": digest, "repositoryName": repo, "registry": "123456789012"}}}]}


BY_DIGEST = {}
for _n, _img in enumerate(IMAGES):
    BY_DIGEST.setdefault(_img["digest"], []).extend(
        finding(_n, i, _img) for i in range(3 if _img.get("legacy") else FINDINGS))


def candidates(criteria):
    """The findings a listing may match, in image order: only the listed digests' when the
    ecrImageHash filter is all EQUALS (every filter is still applied by `passes`)."""
    hashes = (criteria or {}).get("ecrImageHash")
    if hashes and all(h["comparison"] == "EQUALS" for h in hashes):
        wanted = {h["value"] for h in hashes}
        return [f for d, fs in BY_DIGEST.items() if d in wanted for f in fs]
    return [f for fs in BY_DIGEST.values() for f in fs]


def coverage_row(img, done):
    digest, repo = img["digest"], img["repository"]
    row = {"accountId": "123456789012", "resourceType": "AWS_ECR_CONTAINER_IMAGE",
           "resourceId": f"arn:aws:ecr:us-east-1:123456789012:repository/{repo}/{digest}",
           "scanType": "PACKAGE",
           "scanStatus": {"statusCode": "ACTIVE", "reason": "SUCCESSFUL" if done else "SCAN_IN_PROGRESS"},
           "resourceMetadata": {"ecrRepository": {"name": repo, "scanFrequency": "CONTINUOUS_SCAN"},
                                "ecrImage": {"tags": []}}}
    if done:
        row["lastScannedAt"] = START + DONE_AT
    return row


def other_rows():
    """The coverage rows of OTHER_IMAGES older images in each repository of IMAGES."""
    rows = []
    for repo in sorted({img["repository"] for img in IMAGES}):
        for i in range(OTHER_IMAGES):
            digest = "sha256:" + hashlib.sha256(f"{repo}/other/{i}".encode()).hexdigest()
            row = coverage_row({"digest": digest, "repository": repo}, True)
            row["lastScannedAt"] = START - 86400
            rows.append(row)
    return rows


OTHER_ROWS = other_rows()
OTHER_BY_REPO, OTHER_BY_ID = {}, {}
for _r in OTHER_ROWS:
    OTHER_BY_REPO.setdefault(_r["resourceMetadata"]["ecrRepository"]["name"], []).append(_r)
    OTHER_BY_ID[_r["resourceId"]] = _r


def coverage_candidates(criteria, done):
    """The rows a coverage listing may match, in a fixed order: the older images only of the
    named repositories or resource ids when that filter is all EQUALS (every filter is still
    applied by `passes`), so that paging through thousands of rows stays cheap here."""
    rows = [coverage_row(img, done) for img in IMAGES]
    def equals(key):
        fl = (criteria or {}).get(key)
        return sorted({f["value"] for f in fl}) if fl and all(f["comparison"] == "EQUALS" for f in fl) else None
    names, ids = equals("ecrRepositoryName"), equals("resourceId")
    if names is not None:
        return rows + [r for n in names for r in OTHER_BY_REPO.get(n, [])]
    if ids is not None:
        return rows + [OTHER_BY_ID[i] for i in ids if i in OTHER_BY_ID]
    return rows + OTHER_ROWS


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
            if throttle or over_account_rate():
                with lock:
                    counts["throttled"] = counts.get("throttled", 0) + 1
                return self.send(429, {"message": "Rate exceeded"},
                                 [("x-amzn-ErrorType", "ThrottlingException"), ("Retry-After", "1")])
            now = time.time() - START
            if self.path == "/coverage/list":
                done = now >= DONE_AT
                rows = coverage_candidates(req.get("filterCriteria"), done)
                rows = [r for r in rows if passes(req.get("filterCriteria"), r, COVERAGE_FIELDS)]
                return self.send(200, page(rows, req, "coveredResources"))
            found = candidates(req.get("filterCriteria")) if now >= DONE_AT + LATE else []
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
ThreadingHTTPServer.request_queue_size = 256  # 100 gates connect at once (bench-org)
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
print(f"start={START}", flush=True)
print(f"listening on http://127.0.0.1:{srv.server_address[1]}", flush=True)
srv.serve_forever()
