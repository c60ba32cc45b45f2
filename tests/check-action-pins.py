"""Every third-party action the workflows, action.yml and the docs use is pinned by full commit
SHA, with a `# vX.Y.Z` comment naming the release that commit is, and runs on node24 or newer.

GitHub cannot be reached from the tests, so the runtime comes from .github/action-runtimes.txt
(action@commit, tag, runs.using, read from the action's repository; see its header). A `uses:`
that is not in the table, whose comment names another tag than the table, or whose table entry
runs on an older runtime than node24 (node20, node16, ...) is a problem; so is a table entry
older than node24 that nothing uses.

usage: check-action-pins.py [--table FILE] ROOT
       (prints each problem, then "action pins: N uses of M actions checked, P problem(s)")
"""

import glob
import os
import re
import sys

USES = re.compile(r"uses:\s*([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)@([^\s#`'\"]+)(?:\s+#\s*(v[0-9][^\s`]*))?")
MIN_NODE = 24


def runtime_ok(using):
    """node24 or newer; composite and docker actions run no Node of their own."""
    m = re.fullmatch(r"node(\d+)", using)
    if m:
        return int(m.group(1)) >= MIN_NODE
    return using in ("composite", "docker")


def read_table(path):
    table = {}
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            if len(fields) < 3 or "@" not in fields[0]:
                raise SystemExit(f"{path}:{n}: expected 'action@commit tag runs.using', got {line!r}")
            table[fields[0]] = (fields[1], fields[2], n)
    return table


def files(root):
    out = glob.glob(os.path.join(root, ".github/workflows/*.yml"))
    out += [os.path.join(root, "action.yml"), os.path.join(root, "README.md")]
    for pattern in ("docs/*.md", "codebuild/*.md", "*-buildkite-plugin/*.md", "buildkite/*.md"):
        out += glob.glob(os.path.join(root, pattern))
    return sorted(f for f in out if os.path.isfile(f))


def main(argv):
    table_path = None
    if len(argv) >= 2 and argv[0] == "--table":
        table_path, argv = argv[1], argv[2:]
    root = argv[0]
    table = read_table(table_path or os.path.join(root, ".github/action-runtimes.txt"))
    problems = []
    used = set()
    uses = 0
    for path in files(root):
        rel = os.path.relpath(path, root)
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                for m in USES.finditer(line):
                    action, ref, tag = m.group(1), m.group(2), m.group(3)
                    if action.startswith("inspector-gate/"):
                        continue  # this action itself: the snippet check's
                    uses += 1
                    where = f"{rel}:{n}: {action}@{ref}"
                    if not re.fullmatch(r"[0-9a-f]{40}", ref):
                        problems.append(f"{where} is not pinned by a full commit SHA")
                        continue
                    key = f"{action}@{ref}"
                    used.add(key)
                    if key not in table:
                        problems.append(f"{where} is not in .github/action-runtimes.txt (add its tag and runs.using)")
                        continue
                    want_tag, using, _ = table[key]
                    if tag is None:
                        problems.append(f"{where} has no '# {want_tag}' comment")
                    elif tag != want_tag:
                        problems.append(f"{where} says {tag}, but that commit is {want_tag}")
                    if not runtime_ok(using):
                        problems.append(f"{where} ({want_tag}) runs on {using}, older than node{MIN_NODE}: pin a release on node{MIN_NODE}")
    for key, (tag, using, n) in table.items():
        if not runtime_ok(using) and key not in used:
            problems.append(f"action-runtimes.txt:{n}: {key} ({tag}) runs on {using}, older than node{MIN_NODE}")
    for p in problems:
        print(p)
    print(f"action pins: {uses} uses of {len(used)} actions checked, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
