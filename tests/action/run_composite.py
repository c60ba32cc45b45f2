"""Run a composite action's steps the way the GitHub runner does, on this machine.

A small stand-in for the runner, enough for tests/action/test-action.sh: it reads action.yml,
applies input defaults, evaluates the few expressions the action uses
(`${{ inputs.X }}`, `${{ steps.ID.outputs.X }}`, `${{ runner.os }}`, `${{ runner.arch }}`, and
in `if:` one comparison `A == 'x'` / `A != 'x'`), gives each step its own GITHUB_OUTPUT file,
runs `shell: bash` steps as `bash --noprofile --norc -eo pipefail FILE` with
GITHUB_ACTION_PATH set, stops at the first failing step, and maps the action's outputs.
Any other expression is an error, so the action cannot silently depend on something this
test does not exercise.

`uses: actions/cache/restore@<sha>` and `actions/cache/save@<sha>` are simulated with a
directory per key under $ACTION_SIM_CACHE (restore on an exact key match; a saved key is never
overwritten); no other `uses:` is.

usage: run_composite.py ACTION_DIR INPUTS_JSON RESULT_JSON
The caller's environment (RUNNER_*, GITHUB_STEP_SUMMARY, GITHUB_PATH, …) is passed through.
RESULT_JSON gets {"exit_code", "failed_step", "outputs", "steps"}; the exit code is also ours.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def parse_output_file(path):
    """Parse a GITHUB_OUTPUT file: `name=value` and `name<<DELIM` … `DELIM` blocks."""
    out = {}
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            value = []
            while i < len(lines) and lines[i] != delim:
                value.append(lines[i])
                i += 1
            if i >= len(lines):
                raise SystemExit(f"unterminated heredoc output {name!r} in {path}")
            i += 1
            out[name] = "\n".join(value)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
        else:
            raise SystemExit(f"malformed output line {line!r} in {path}")
    return out


def value_of(expr, inputs, steps):
    m = re.fullmatch(r"inputs\.([A-Za-z0-9_-]+)", expr)
    if m:
        if m.group(1) not in inputs:
            raise SystemExit(f"expression refers to undeclared input: {expr}")
        return inputs[m.group(1)]
    m = re.fullmatch(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)", expr)
    if m:
        return steps.get(m.group(1), {}).get(m.group(2), "")
    m = re.fullmatch(r"runner\.(os|arch)", expr)
    if m:
        return os.environ["RUNNER_" + m.group(1).upper()]
    raise SystemExit(f"unsupported expression in action.yml: ${{{{ {expr} }}}}")


def evaluate(text, inputs, steps):
    return EXPR.sub(lambda match: value_of(match.group(1), inputs, steps), str(text))


def condition(text, inputs, steps):
    """An `if:`: comparisons `A == 'x'` / `A != 'x'` joined by `&&` (GitHub compares strings
    case-insensitively)."""
    m = EXPR.fullmatch(text.strip())
    expr = m.group(1) if m else text.strip()
    result = True
    for part in expr.split("&&"):
        m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*(==|!=)\s*'([^']*)'\s*", part)
        if not m:
            raise SystemExit(f"unsupported if: {text!r}")
        equal = value_of(m.group(1), inputs, steps).lower() == m.group(3).lower()
        result = result and (equal if m.group(2) == "==" else not equal)
    return result


def cache_step(step, inputs, steps):
    """Simulate actions/cache/restore and actions/cache/save: one directory per key."""
    m = re.fullmatch(r"actions/cache/(restore|save)@[0-9a-f]{40}", step["uses"])
    if not m:
        raise SystemExit(f"`uses: {step['uses']}` is not simulated")
    with_ = {k: evaluate(v, inputs, steps) for k, v in (step.get("with") or {}).items()}
    path, key = with_.get("path", ""), with_.get("key", "")
    if not path or not key or "\n" in path:
        raise SystemExit(f"{step['uses']} needs one path and a key, got {with_}")
    store = os.path.join(os.environ["ACTION_SIM_CACHE"], re.sub(r"[^A-Za-z0-9._-]", "_", key))
    if m.group(1) == "restore":
        if os.path.isdir(store):
            shutil.rmtree(path, ignore_errors=True)
            shutil.copytree(store, path, symlinks=True)
            print(f"[sim] cache restored from key {key}", flush=True)
            return {"cache-hit": "true", "cache-primary-key": key}
        print(f"[sim] cache miss for key {key}", flush=True)
        return {"cache-hit": "false", "cache-primary-key": key}
    if not os.path.isdir(path):
        raise SystemExit(f"actions/cache/save: {path} does not exist")
    if not os.path.isdir(store):  # a key is immutable once saved, as on GitHub
        shutil.copytree(path, store, symlinks=True)
        print(f"[sim] cache saved under key {key}", flush=True)
    return {}


def main():
    action_dir, inputs_json, result_json = sys.argv[1:4]
    with open(os.path.join(action_dir, "action.yml"), encoding="utf-8") as fh:
        action = yaml.safe_load(fh)
    given = json.loads(inputs_json)
    declared = action.get("inputs") or {}
    unknown = set(given) - set(declared)
    if unknown:
        raise SystemExit(f"inputs not declared by action.yml: {sorted(unknown)}")
    inputs = {}
    for name, spec in declared.items():
        default = (spec or {}).get("default", "")
        inputs[name] = str(given.get(name, default if default is not None else ""))
    if action["runs"]["using"] != "composite":
        raise SystemExit("not a composite action")

    steps = {}
    result = {"exit_code": 0, "failed_step": None, "outputs": {}, "steps": steps, "skipped": []}
    tmp = tempfile.mkdtemp(prefix="run-composite-")
    for index, step in enumerate(action["runs"]["steps"]):
        step_id = step.get("id", f"__step{index}")
        if "if" in step and not condition(str(step["if"]), inputs, steps):
            result["skipped"].append(step_id)
            continue
        if "uses" in step:
            steps[step_id] = cache_step(step, inputs, steps)
            continue
        if step.get("shell") != "bash":
            raise SystemExit(f"step {step_id}: only `shell: bash` is simulated")
        if EXPR.search(step["run"]):
            raise SystemExit(f"step {step_id}: an expression inside `run:` (script injection risk)")
        env = dict(os.environ)
        for key, value in (step.get("env") or {}).items():
            env[key] = evaluate(value, inputs, steps)
        env["GITHUB_ACTION_PATH"] = os.path.abspath(action_dir)
        output_file = os.path.join(tmp, f"output-{index}")
        open(output_file, "w").close()
        env["GITHUB_OUTPUT"] = output_file
        script = os.path.join(tmp, f"step-{index}.sh")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(step["run"])
        code = subprocess.call(["bash", "--noprofile", "--norc", "-eo", "pipefail", script], env=env)
        steps[step_id] = parse_output_file(output_file)
        if code != 0:
            result["exit_code"] = code
            result["failed_step"] = step_id
            break

    for name, spec in (action.get("outputs") or {}).items():
        result["outputs"][name] = evaluate(spec["value"], inputs, steps)
    with open(result_json, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=2)
    return result["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
