#!/usr/bin/env python3
"""Start gate processes at once and wait for them, bounded (scripts/bench-fanout).

Usage: run_gates.py SPEC.json OUT.json DEADLINE_SECONDS
SPEC: [{"args": [binary, "gate", ...], "env": {...}}, ...]. Every process is started at once and
waited for until the deadline; any still running then is killed by its PID (never by name) and
reported with code null. OUT: [{"code", "exit_at" (epoch seconds), "stdout", "stderr"}, ...].
"""
import json, os, subprocess, sys, tempfile, time

spec = json.load(open(sys.argv[1]))
deadline = time.time() + float(sys.argv[3])
procs = []
for s in spec:
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    env = dict(os.environ, **s.get("env", {}))
    procs.append((subprocess.Popen(s["args"], stdout=out, stderr=err, env=env), out, err))
results = [None] * len(procs)
pending = set(range(len(procs)))
while pending and time.time() < deadline:
    for i in list(pending):
        p = procs[i][0]
        if p.poll() is not None:
            results[i] = {"code": p.returncode, "exit_at": time.time()}
            pending.discard(i)
    time.sleep(0.01)
for i in pending:
    procs[i][0].kill()
    procs[i][0].wait()
    results[i] = {"code": None, "exit_at": None}
for i, (p, out, err) in enumerate(procs):
    out.seek(0)
    err.seek(0)
    results[i]["stdout"] = out.read().decode(errors="replace")
    results[i]["stderr"] = err.read().decode(errors="replace")
json.dump(results, open(sys.argv[2], "w"))
