"""Every snippet of the docs, validated the way its CI system would read it.

Snippets: the ```yaml / ```yml / ```sh blocks of README.md, docs/*.md, codebuild/README.md, the
Buildkite plugin's README (and the former buildkite/README.md), and the usage blocks in
action.yml's header (comment lines indented by three spaces or more).

- GitHub Actions workflows (a `jobs:` document, or a `steps:` list of `uses:`/`run:` steps,
  wrapped into a one-job workflow): action-validator (the workflow schema), and every
  `inspector-gate/inspector-gate@…` step's `with:` keys are inputs of action.yml.
- Buildkite pipelines (`steps:` with `label`/`plugins`/`command`): each inspector-gate plugin
  configuration against the plugin's plugin.yml schema (the validator of
  inspector-gate-buildkite-plugin/tests/check_readme.py).
- CloudFormation parameter sets (`aws cloudformation deploy … --parameter-overrides …` in a sh
  block): cfn-lint on codebuild/pipeline.yaml with those parameters (names, required ones,
  types, how the values resolve in the resources), and each value against the parameter's
  AllowedValues, AllowedPattern and length limits (which cfn-lint does not check).

References to inspector-gate itself are full commit SHAs, in one of two forms: the form that
works before any release (the action with `version: source`; the plugin at a SHA; the template
checked out at a SHA with `InspectorGateSourceRef` set to it), and the release form (the SHA
followed by a `# vX.Y.Z` comment, no `version: source`, no `InspectorGateSourceRef`). In each
file the first reference of each integration is the form that works before any release, and
every release form comes after one. A tag or branch reference is a problem.

usage: check-snippets.py ROOT   (needs .venv's cfn-lint and .tools/node's action-validator;
       prints each problem, then "snippets: N validated (…), P problem(s)")
"""

import glob
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile

import yaml

SHA = r"[0-9a-f]{40}"
RELEASE = r"#\s*v[0-9]+\.[0-9]+\.[0-9]+\S*\s*$"
ACTION_REF = re.compile(r"uses:\s*inspector-gate/inspector-gate@(\S+)(.*)$")
PLUGIN_REF = re.compile(r"-\s*(\S*inspector-gate(?:\.git)?/[A-Za-z0-9_.-]+)(?:#(\S+?))?:(.*)$")
CHECKOUT = re.compile(r"checkout --detach (\S+)(.*)$")


def markdown_blocks(path):
    """(line number, language, text) of each fenced block."""
    out = []
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^```(yaml|yml|sh)\s*$", lines[i])
        if m:
            start = i + 1
            j = start
            while j < len(lines) and lines[j] != "```":
                j += 1
            out.append((start + 1, "yaml" if m.group(1) != "sh" else "sh", "\n".join(lines[start:j]) + "\n"))
            i = j + 1
        else:
            i += 1
    return out


def action_header_blocks(path):
    """The usage blocks in action.yml's leading comment: runs of '#   …' lines."""
    out = []
    block, start = [], None
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.startswith("#"):
                break
            body = line.rstrip("\n")
            if body.startswith("#   ") and not re.match(r"^#   +('|source|path)", body):
                if start is None:
                    start = n
                block.append(body[4:])
            else:
                if block:
                    out.append((start, "yaml", "\n".join(block) + "\n"))
                block, start = [], None
    if block:
        out.append((start, "yaml", "\n".join(block) + "\n"))
    return [b for b in out if b[2].lstrip().startswith(("on:", "jobs:", "steps:"))]


def kind(doc):
    if not isinstance(doc, dict):
        return None
    if "jobs" in doc:
        return "github"
    steps = doc.get("steps")
    if not isinstance(steps, list):
        return None
    for step in steps:
        if isinstance(step, str) or (isinstance(step, dict) and ({"label", "plugins", "command", "wait"} & set(step))):
            return "buildkite"
    if all(isinstance(s, dict) and ({"uses", "run"} & set(s)) for s in steps):
        return "github"
    return None


class Checker:
    def __init__(self, root):
        self.root = root
        self.problems = []
        self.counts = {"github": 0, "buildkite": 0, "cloudformation": 0}
        with open(os.path.join(root, "action.yml"), encoding="utf-8") as fh:
            self.inputs = set(yaml.safe_load(fh)["inputs"])
        plugin_dir = os.path.join(root, "inspector-gate-buildkite-plugin")
        with open(os.path.join(plugin_dir, "plugin.yml"), encoding="utf-8") as fh:
            self.schema = yaml.safe_load(fh)["configuration"]
        spec = importlib.util.spec_from_file_location("check_readme", os.path.join(plugin_dir, "tests", "check_readme.py"))
        self.schema_lib = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.schema_lib)
        with open(os.path.join(root, "codebuild", "pipeline.yaml"), encoding="utf-8") as fh:
            self.template = yaml.load(fh, Loader=cfn_loader())
        self.validator = os.path.join(root, ".tools/node/node_modules/.bin/action-validator")
        self.cfn_lint = os.path.join(root, ".venv/bin/cfn-lint")
        self.tmp = tempfile.mkdtemp()

    def problem(self, where, text):
        self.problems.append(f"{where}: {text}")

    # ---- references to inspector-gate, in order ---------------------------------------------

    def references(self, where, text, doc, seen):
        """Check each inspector-gate reference's form; `seen` maps integration -> forms so far."""
        for n, line in enumerate(text.split("\n")):
            at = f"{where}+{n}"
            m = ACTION_REF.search(line)
            if m:
                ref, rest = m.group(1), m.group(2)
                if not re.fullmatch(SHA, ref):
                    self.problem(at, f"the action is referenced as @{ref}, not by a full commit SHA")
                    continue
                release = bool(re.search(RELEASE, rest))
                version = action_version_after(text, n)
                if release and version:
                    self.problem(at, "a release reference (# vX.Y.Z) with version: set")
                elif not release and version != "source":
                    self.problem(at, "a commit reference without version: source (it works only at a release commit: add '# vX.Y.Z')")
                self.order(at, seen, "action", release)
            m = PLUGIN_REF.search(line)
            if m and "buildkite" in m.group(1):
                loc, ref, rest = m.group(1), m.group(2), m.group(3)
                if not loc.endswith("inspector-gate-buildkite-plugin"):
                    self.problem(at, f"the plugin is referenced at {loc}: use …/inspector-gate-buildkite-plugin (its options cannot collide)")
                if loc.startswith("."):
                    continue  # vendored: the commit is the vendored one
                if ref is None or not re.fullmatch(SHA, ref):
                    self.problem(at, f"the plugin is referenced as #{ref}, not by a full commit SHA")
                    continue
                self.order(at, seen, "plugin", bool(re.search(RELEASE, rest)))
            m = CHECKOUT.search(line)
            if m:
                ref, rest = m.group(1), m.group(2)
                if not re.fullmatch(SHA, ref):
                    self.problem(at, f"the template is checked out at {ref}, not at a full commit SHA")
                    continue
                release = bool(re.search(RELEASE, rest))
                source_ref = re.search(r"InspectorGateSourceRef=(\S+)", text)
                if release and source_ref:
                    self.problem(at, "a release checkout that still builds from InspectorGateSourceRef")
                if not release and (not source_ref or source_ref.group(1) != ref):
                    self.problem(at, "a checkout before any release must set InspectorGateSourceRef to the same commit")
                self.order(at, seen, "codebuild", release)

    def order(self, at, seen, integration, release):
        forms = seen.setdefault(integration, [])
        if release and "today" not in forms:
            self.problem(at, f"the release form of the {integration} comes before the form that works before any release")
        forms.append("release" if release else "today")

    # ---- validators ---------------------------------------------------------------------

    def github(self, where, doc, text):
        path = os.path.join(self.tmp, f"workflow-{sum(self.counts.values())}.yml")
        with open(path, "w", encoding="utf-8") as fh:
            if "jobs" in doc:
                fh.write(text)  # as written (YAML 1.1 would read its `on:` as true)
            else:
                doc = {"jobs": {"snippet": {"runs-on": "ubuntu-latest", "steps": doc["steps"]}}}
                fh.write("on: push\n")
                yaml.safe_dump(doc, fh, sort_keys=False)
        run = subprocess.run([self.validator, path], capture_output=True, text=True)
        if run.returncode != 0:
            self.problem(where, "action-validator: " + (run.stdout + run.stderr).strip().replace("\n", " | "))
        for job in (doc.get("jobs") or {}).values():
            for step in job.get("steps") or []:
                uses = str(step.get("uses", ""))
                if uses.startswith("inspector-gate/inspector-gate@"):
                    for key in (step.get("with") or {}):
                        if key not in self.inputs:
                            self.problem(where, f"input {key!r} is not in action.yml")
        self.counts["github"] += 1

    def buildkite(self, where, doc, text):
        for step in doc.get("steps") or []:
            if not isinstance(step, dict):
                continue
            for plugin in step.get("plugins") or []:
                if not isinstance(plugin, dict):
                    continue
                for name, config in plugin.items():
                    if "inspector-gate" not in name:
                        continue
                    for error in self.schema_lib.validate(config, self.schema):
                        self.problem(where, f"plugin.yml: {error}")
        self.counts["buildkite"] += 1

    def cloudformation(self, where, text):
        for command in shell_commands(text):
            if command[:3] != ["aws", "cloudformation", "deploy"]:
                continue
            overrides = {}
            if "--parameter-overrides" in command:
                for arg in command[command.index("--parameter-overrides") + 1:]:
                    if arg.startswith("--"):
                        break
                    key, _, value = arg.partition("=")
                    overrides[key] = value
            template = command[command.index("--template-file") + 1]
            if os.path.basename(template) != "pipeline.yaml":
                self.problem(where, f"deploys {template}, not codebuild/pipeline.yaml")
                continue
            params = self.template["Parameters"]
            entries = []
            for key, value in overrides.items():
                p = params.get(key)
                if p is None:
                    self.problem(where, f"parameter {key} is not in pipeline.yaml")
                    continue
                for error in parameter_errors(key, value, p):
                    self.problem(where, error)
                typed = value.split(",") if p["Type"].startswith("List<") or p["Type"] == "CommaDelimitedList" else value
                entries.append({"ParameterKey": key, "ParameterValue": typed})
            path = os.path.join(self.tmp, f"parameters-{sum(self.counts.values())}.json")
            with open(path, "w", encoding="utf-8") as fh:
                json.dump(entries, fh)
            run = subprocess.run([self.cfn_lint, os.path.join(self.root, "codebuild", "pipeline.yaml"),
                                  "--parameter-files", path], capture_output=True, text=True)
            if run.returncode != 0:
                self.problem(where, "cfn-lint: " + (run.stdout + run.stderr).strip().replace("\n", " | "))
            self.counts["cloudformation"] += 1

    def snippet(self, where, lang, text, seen):
        if lang == "sh":
            if "aws cloudformation deploy" in text:
                self.references(where, text, None, seen)
                self.cloudformation(where, text)
            return
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            if "inspector-gate" in text:
                self.problem(where, f"not YAML: {e}".replace("\n", " "))
            return
        k = kind(doc)
        if k is None:
            return
        self.references(where, text, doc, seen)
        getattr(self, k)(where, doc, text)

    def run(self):
        files = [os.path.join(self.root, "README.md")]
        files += sorted(glob.glob(os.path.join(self.root, "docs", "*.md")))
        files += [os.path.join(self.root, p) for p in (
            "codebuild/README.md", "inspector-gate-buildkite-plugin/README.md", "buildkite/README.md")]
        for path in files:
            if not os.path.isfile(path):
                continue
            rel = os.path.relpath(path, self.root)
            seen = {}
            for line, lang, text in markdown_blocks(path):
                self.snippet(f"{rel}:{line}", lang, text, seen)
        seen = {}
        for line, lang, text in action_header_blocks(os.path.join(self.root, "action.yml")):
            self.snippet(f"action.yml:{line}", lang, text, seen)
        if not seen.get("action"):
            self.problem("action.yml", "its header has no usage snippet")
        for p in self.problems:
            print(p)
        total = sum(self.counts.values())
        print(f"snippets: {total} validated ({self.counts['github']} GitHub workflows, "
              f"{self.counts['buildkite']} Buildkite pipelines, {self.counts['cloudformation']} "
              f"CloudFormation parameter sets), {len(self.problems)} problem(s)")
        return 1 if self.problems or total == 0 else 0


def action_version_after(text, n):
    """The `version:` input of the step whose `uses:` is on line n (the lines below, same step)."""
    lines = text.split("\n")
    indent = len(lines[n]) - len(lines[n].lstrip(" -"))
    for line in lines[n + 1:]:
        stripped = line.strip()
        if not stripped:
            continue
        if line.lstrip().startswith("- ") and len(line) - len(line.lstrip()) < indent:
            break
        m = re.match(r"version:\s*(\S+)", stripped)
        if m:
            return m.group(1).strip("'\"")
        m = re.search(r"[{,]\s*version:\s*([^,}\s]+)", stripped)
        if m:
            return m.group(1).strip("'\"")
        if len(line) - len(line.lstrip()) < indent and not line.lstrip().startswith("with"):
            break
    return None


def shell_commands(text):
    """Each command of a sh block, as words (line continuations joined, comments dropped)."""
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.split("\n"):
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue
        if words:
            out.append(words)
    return out


def parameter_errors(key, value, p):
    errors = []
    if "AllowedValues" in p and value not in [str(v) for v in p["AllowedValues"]]:
        errors.append(f"{key}={value!r} is not one of {p['AllowedValues']}")
    values = value.split(",") if p["Type"].startswith("List<") or p["Type"] == "CommaDelimitedList" else [value]
    for v in values:
        if "AllowedPattern" in p and not re.fullmatch(p["AllowedPattern"], v):
            errors.append(f"{key}={v!r} does not match {p['AllowedPattern']}")
    if "MinLength" in p and len(value) < int(p["MinLength"]):
        errors.append(f"{key} is shorter than {p['MinLength']}")
    if "MaxLength" in p and len(value) > int(p["MaxLength"]):
        errors.append(f"{key} is longer than {p['MaxLength']}")
    return errors


def cfn_loader():
    """A YAML loader that reads CloudFormation's short-form tags (!Ref, !Sub, …) as plain data."""
    class Loader(yaml.SafeLoader):
        pass

    def construct(loader, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            return {suffix: loader.construct_scalar(node)}
        if isinstance(node, yaml.SequenceNode):
            return {suffix: loader.construct_sequence(node)}
        return {suffix: loader.construct_mapping(node)}

    Loader.add_multi_constructor("!", construct)
    return Loader


if __name__ == "__main__":
    sys.exit(Checker(sys.argv[1]).run())
