"""Check codebuild/pipeline.yaml against the buildspecs and the gate's IAM contract.

- InspectorGatePolicy grants exactly the actions inspector-gate calls (no more, no fewer);
- the CodeBuild projects' buildspec paths exist;
- the approval the gate answers (buildspec-approve.yml: "$PIPELINE/Approve/ManualApproval") is
  the template's Approve stage's Manual approval action, and PutApprovalResult is scoped to it;
- every #{BuildVariables.X} the pipeline uses is exported by buildspec.yml, and the variables
  the ApprovalGate action passes are the ones buildspec-approve.yml reads;
- the ECS deploy reads a file buildspec.yml puts in its artifacts;
- the inspector-gate version is the same in the template and both buildspecs.

usage: check_pipeline.py REPO_ROOT
"""

import json
import os
import re
import sys

import yaml

GATE_ACTIONS = {
    "ecr:GetAuthorizationToken", "ecr:BatchGetImage",
    "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload", "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload", "ecr:PutImage", "ecr:GetRegistryScanningConfiguration",
    "ecr:BatchGetRepositoryScanningConfiguration", "ecr:DescribeImageScanFindings",
    "inspector2:ListCoverage", "inspector2:ListFindings", "codepipeline:GetPipelineState",
    "codepipeline:ListActionExecutions", "codepipeline:GetPipelineExecution",
    "codepipeline:PutApprovalResult",
}


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


def text(value):
    """A string for a plain or !Sub value."""
    if isinstance(value, dict) and "!Sub" in value:
        return value["!Sub"] if isinstance(value["!Sub"], str) else value["!Sub"][0]
    return value if isinstance(value, str) else json.dumps(value)


def main():
    root = sys.argv[1]
    cb = os.path.join(root, "codebuild")
    with open(os.path.join(cb, "pipeline.yaml"), encoding="utf-8") as fh:
        template = yaml.load(fh, Loader=CfnLoader)
    with open(os.path.join(cb, "buildspec.yml"), encoding="utf-8") as fh:
        build = yaml.safe_load(fh)
    with open(os.path.join(cb, "buildspec-approve.yml"), encoding="utf-8") as fh:
        approve_text = fh.read()
    approve = yaml.safe_load(approve_text)
    resources = template["Resources"]
    problems = []

    # IAM: exactly the gate's actions.
    granted = set()
    for statement in resources["InspectorGatePolicy"]["Properties"]["PolicyDocument"]["Statement"]:
        actions = statement["Action"]
        granted |= set([actions] if isinstance(actions, str) else actions)
    for action in sorted(GATE_ACTIONS - granted):
        problems.append(f"InspectorGatePolicy lacks {action}")
    for action in sorted(granted - GATE_ACTIONS):
        problems.append(f"InspectorGatePolicy grants {action}, which the gate does not call")

    # Buildspec paths.
    for name, res in resources.items():
        if res["Type"] == "AWS::CodeBuild::Project":
            spec = res["Properties"]["Source"].get("BuildSpec")
            if not spec or not os.path.isfile(os.path.join(root, spec)):
                problems.append(f"{name}: BuildSpec {spec!r} is not a file in the repository")

    stages = {s["Name"]: s for s in resources["Pipeline"]["Properties"]["Stages"]}
    m = re.search(r'--approve "\$PIPELINE/([^/"]+)/([^/"]+)"', approve_text)
    if not m:
        problems.append("buildspec-approve.yml: no --approve \"$PIPELINE/STAGE/ACTION\"")
    else:
        stage, action = m.groups()
        actions = {a["Name"]: a for a in stages.get(stage, {}).get("Actions", [])}
        kind = actions.get(action, {}).get("ActionTypeId", {})
        if (kind.get("Category"), kind.get("Provider")) != ("Approval", "Manual"):
            problems.append(f"pipeline has no Manual approval action {stage}/{action}")
        scoped = [s for s in resources["InspectorGatePolicy"]["Properties"]["PolicyDocument"]["Statement"]
                  if "codepipeline:PutApprovalResult" in s["Action"]]
        if not scoped or not text(scoped[0]["Resource"]).endswith(f"/{stage}/{action}"):
            problems.append(f"PutApprovalResult is not scoped to {stage}/{action}")

    # Variables.
    exported = set(build["env"]["exported-variables"])
    namespaces = {a.get("Namespace"): a["Name"] for s in stages.values() for a in s["Actions"]}
    build_ns = [ns for ns, name in namespaces.items() if name == "BuildAndGate"]
    if build_ns != ["BuildVariables"]:
        problems.append("the BuildAndGate action's namespace must be BuildVariables")
    used = set(re.findall(r"#\{BuildVariables\.([A-Za-z0-9_]+)\}", json.dumps(template)))
    for var in sorted(used - exported):
        problems.append(f"pipeline uses #{{BuildVariables.{var}}} but buildspec.yml does not export it")
    gate_action = next(a for a in stages["Approve"]["Actions"] if a["Name"] == "ApprovalGate")
    passed = {v["name"] for v in json.loads(gate_action["Configuration"]["EnvironmentVariables"])}
    for var in ("IMAGE_URI", "PIPELINE_EXECUTION_ID"):
        if var not in passed:
            problems.append(f"ApprovalGate does not pass {var}")
        if f"${var}" not in approve_text and f"${{{var}}}" not in approve_text:
            problems.append(f"buildspec-approve.yml does not read {var}")

    # Deploy input.
    deploy = stages["Deploy"]["Actions"][0]["Configuration"]["FileName"]
    if deploy not in build["artifacts"]["files"]:
        problems.append(f"ECS deploy reads {deploy}, which buildspec.yml does not put in its artifacts")

    # Versions.
    versions = {
        "pipeline.yaml InspectorGateVersion": str(template["Parameters"]["InspectorGateVersion"]["Default"]),
        "buildspec.yml": str(build["env"]["variables"]["INSPECTOR_GATE_VERSION"]),
        "buildspec-approve.yml": str(approve["env"]["variables"]["INSPECTOR_GATE_VERSION"]),
    }
    if len(set(versions.values())) != 1:
        problems.append(f"inspector-gate versions differ: {versions}")

    for problem in problems:
        print(problem)
    print(f"pipeline.yaml: {len(granted)} gate IAM actions, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
