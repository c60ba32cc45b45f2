"""Turn a CodeBuild buildspec (version 0.2) into one bash script that runs it the way CodeBuild
does: `env.variables` exported unless the project (the caller's environment) already sets them,
then each phase's commands in order in one shell instance, a failing command ending the build
(later phases skipped, as for install/pre_build/build). At the end, or at the failure, the
`env.exported-variables` are written to $BUILDSPEC_EXPORTS as NAME=VALUE lines.

The buildspec is a file, or inline in codebuild/pipeline.yaml (a project's Source.BuildSpec);
for an inline one, --project-env prints the project's environment variables as CloudFormation
would set them (parameter defaults, stack name "teststack", account 123456789012, us-east-1).

usage: render_buildspec.py BUILDSPEC > script.sh
       render_buildspec.py --template TEMPLATE PROJECT > script.sh
       render_buildspec.py --project-env TEMPLATE PROJECT   (NAME=VALUE lines)
       render_buildspec.py --field BUILDSPEC PATH   (print a value, e.g. reports.inspector-gate.base-directory)
"""

import re
import shlex
import sys

import yaml

PHASES = ("install", "pre_build", "build", "post_build")
PSEUDO = {"AWS::StackName": "teststack", "AWS::Region": "us-east-1",
          "AWS::AccountId": "123456789012", "AWS::Partition": "aws"}


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"!" + suffix: value}


CfnLoader.add_multi_constructor("!", _tag)


def parse(text, where):
    spec = yaml.safe_load(text)
    if str(spec.get("version")) != "0.2":
        raise SystemExit(f"{where}: version must be 0.2")
    if spec.get("env", {}).get("shell") not in (None, "bash"):
        raise SystemExit(f"{where}: only env.shell bash is simulated")
    return spec


def load(path):
    with open(path, encoding="utf-8") as fh:
        return parse(fh.read(), path)


def project(template_path, name):
    with open(template_path, encoding="utf-8") as fh:
        template = yaml.load(fh, Loader=CfnLoader)
    return template, template["Resources"][name]["Properties"]


def resolve(value, template):
    """A project environment value as CloudFormation would resolve it with the defaults."""
    params = {k: str(v.get("Default", "")) for k, v in template["Parameters"].items()}
    if isinstance(value, str):
        return value
    if "!Ref" in value:
        return params.get(value["!Ref"], PSEUDO.get(value["!Ref"], ""))
    if "!Sub" in value:
        def name(m):
            ref = m.group(1)
            res = template["Resources"].get(ref, {})
            # !Ref of a KMS alias is its name (the stack's DecisionKeyAlias).
            if res.get("Type") == "AWS::KMS::Alias":
                return resolve(res["Properties"]["AliasName"], template)
            return params.get(ref, PSEUDO.get(ref, ""))
        return re.sub(r"\$\{([^}]+)\}", name, value["!Sub"])
    if value.get("!GetAtt") == "ImageRepository.RepositoryUri":
        return f"123456789012.dkr.ecr.us-east-1.amazonaws.com/{params['RepositoryName']}"
    raise SystemExit(f"cannot resolve {value}")


def render(spec, where):
    env = spec.get("env", {})
    out = ["# generated from " + where, "__exports() {", "  : >\"$BUILDSPEC_EXPORTS\""]
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


def field(spec, dotted):
    node = spec
    for part in dotted.split("."):
        node = node[part]
    if isinstance(node, list):
        print("\n".join(str(x) for x in node))
    else:
        print(node)


if __name__ == "__main__":
    if sys.argv[1] == "--field":
        field(load(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "--template":
        template, props = project(sys.argv[2], sys.argv[3])
        where = f"{sys.argv[2]} {sys.argv[3]}"
        sys.stdout.write(render(parse(props["Source"]["BuildSpec"], where), where))
    elif sys.argv[1] == "--project-env":
        template, props = project(sys.argv[2], sys.argv[3])
        for var in props["Environment"].get("EnvironmentVariables", []):
            print(f"{var['Name']}={resolve(var['Value'], template)}")
    else:
        sys.stdout.write(render(load(sys.argv[1]), sys.argv[1]))
