#!/usr/bin/env python3
"""AWS's own request rules for the Python scripted servers (scripts/lib/timed_inspector.py).

botocore's own validator (botocore.validate.ParamValidator: required members, members the
shape does not have, types, minimum lengths and values) plus the rules it leaves to the
service (maximum lengths, list sizes and values, enum values), walked over the same shapes of
the venv's service-2.json. Paths are written as AWS writes them in a ValidationException
(`filterCriteria.ecrImageHash.1.member.value`, 1-based), so they compare with the Rust
scripted servers' validator (tests/e2e/support/model.rs).

As a program: reads JSON lines {"service", "operation", "body"} on stdin and prints, per line,
the sorted list of refused member paths as JSON (the conformance test's second opinion).
"""
import json
import re
import sys

import botocore.session
from botocore.validate import ParamValidator

_session = botocore.session.get_session()
_models = {}


def _model(service):
    if service not in _models:
        _models[service] = _session.get_service_model(service)
    return _models[service]


def _aws_path(name):
    """botocore's `a.b[0].c` as AWS writes it: `a.b.1.member.c`."""
    return re.sub(r"\[(\d+)\]", lambda m: f".{int(m.group(1)) + 1}.member", name)


def _beyond(shape, value, path, out):
    """The maximums and enums ParamValidator does not check."""
    ty = shape.type_name
    meta = shape.metadata
    if ty == "structure" and isinstance(value, dict) and not meta.get("document"):
        for k, v in value.items():
            if k in shape.members and v is not None:
                _beyond(shape.members[k], v, f"{path}.{k}" if path else k, out)
    elif ty == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            out.append((path, f"Member must have length less than or equal to {meta['max']}"))
        for i, v in enumerate(value):
            _beyond(shape.member, v, f"{path}.{i + 1}.member", out)
    elif ty == "map" and isinstance(value, dict):
        if "max" in meta and len(value) > meta["max"]:
            out.append((path, f"Member must have length less than or equal to {meta['max']}"))
        for k, v in value.items():
            _beyond(shape.key, k, f"{path}.{k}.key", out)
            _beyond(shape.value, v, f"{path}.{k}.value", out)
    elif ty == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            out.append((path, "Member must satisfy enum value set: [" + ", ".join(shape.enum) + "]"))
        if "max" in meta and len(value) > meta["max"]:
            out.append((path, f"Member must have length less than or equal to {meta['max']}"))
    elif ty in ("integer", "long", "double", "float") and isinstance(value, (int, float)):
        if "max" in meta and value > meta["max"]:
            out.append((path, f"Member must have value less than or equal to {meta['max']}"))


def refusals(service, operation, body):
    """Every (path, constraint) AWS would refuse `body` for, as the input of `operation`."""
    op = _model(service).operation_model(operation)
    shape = op.input_shape
    if shape is None:
        return []
    # Members bound to the URI, headers or query string are not in a JSON body.
    located = {n for n, m in shape.members.items() if m.serialization.get("location")}
    params = dict(body or {})
    for n in located:
        params.setdefault(n, "x")
    report = ParamValidator().validate(params, shape)
    out = [(_aws_path(name).lstrip("."), kind) for kind, name, _ in report._errors]
    # ParamValidator names a missing member by its parent; AWS names the member itself.
    fixed = []
    for (path, why), (kind, name, extra) in zip(out, report._errors):
        if kind == "missing required field":
            member = extra.get("required_name")
            path = f"{path}.{member}" if path else member
        elif kind == "unknown field":
            member = extra.get("unknown_param")
            path = f"{path}.{member}" if path else member
        fixed.append((path, why))
    _beyond(shape, params, "", fixed)
    return fixed


def message(found):
    """AWS's ValidationException message for `found` (from `refusals`)."""
    each = [f"Value at '{p}' failed to satisfy constraint: {c}" for p, c in found]
    s = "" if len(found) == 1 else "s"
    return f"{len(found)} validation error{s} detected: " + "; ".join(each)


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        found = refusals(req["service"], req["operation"], req.get("body"))
        print(json.dumps(sorted({p for p, _ in found})), flush=True)


if __name__ == "__main__":
    main()
