"""Turn a CodeBuild buildspec (version 0.2) into one bash script that runs it the way CodeBuild
does: `env.variables` exported unless the project (the caller's environment) already sets them,
then each phase's commands in order in one shell instance, a failing command ending the build
(later phases skipped, as for install/pre_build/build). At the end, or at the failure, the
`env.exported-variables` are written to $BUILDSPEC_EXPORTS as NAME=VALUE lines.

usage: render_buildspec.py BUILDSPEC > script.sh
       render_buildspec.py --field BUILDSPEC PATH   (print a value, e.g. reports.inspector-gate.base-directory)
"""

import shlex
import sys

import yaml

PHASES = ("install", "pre_build", "build", "post_build")


def load(path):
    with open(path, encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    if str(spec.get("version")) != "0.2":
        raise SystemExit(f"{path}: version must be 0.2")
    if spec.get("env", {}).get("shell") not in (None, "bash"):
        raise SystemExit(f"{path}: only env.shell bash is simulated")
    return spec


def render(path):
    spec = load(path)
    env = spec.get("env", {})
    out = ["# generated from " + path, "__exports() {", "  : >\"$BUILDSPEC_EXPORTS\""]
    for name in env.get("exported-variables", []):
        out.append(f"  printf '%s=%s\\n' {shlex.quote(name)} \"${{{name}:-}}\" >>\"$BUILDSPEC_EXPORTS\"")
    out.append("}")
    for name, value in (env.get("variables") or {}).items():
        # Project environment variables take precedence over the buildspec's.
        out.append(f"if [ -z \"${{{name}+set}}\" ]; then export {name}={shlex.quote(str(value))}; fi")
    number = 0
    for phase in PHASES:
        commands = ((spec.get("phases") or {}).get(phase) or {}).get("commands") or []
        for command in commands:
            number += 1
            out.append(f"echo '[Container] Running command ({phase} {number})'")
            out.append(f"eval {shlex.quote(command)}")
            out.append(
                "__status=$?; if [ \"$__status\" -ne 0 ]; then "
                f"echo \"[Container] Command did not exit successfully ({phase} {number}), exit status $__status\"; "
                f"echo {shlex.quote(phase)} >\"$BUILDSPEC_FAILED_PHASE\"; __exports; exit 1; fi"
            )
    out.append("__exports")
    out.append("exit 0")
    return "\n".join(out) + "\n"


def field(path, dotted):
    node = load(path)
    for part in dotted.split("."):
        node = node[part]
    if isinstance(node, list):
        print("\n".join(str(x) for x in node))
    else:
        print(node)


if __name__ == "__main__":
    if sys.argv[1] == "--field":
        field(sys.argv[2], sys.argv[3])
    else:
        sys.stdout.write(render(sys.argv[1]))
