"""Check codebuild/pipeline.yaml: the gate's IAM contract, the separation that keeps the commit
being gated from approving itself, deletability, and consistency with buildspec.yml.

- the three gate policies together grant exactly the actions inspector-gate calls; PutApprovalResult
  is scoped to the Approve/ManualApproval action the approval buildspec answers;
- BuildRole (runs the commit's own buildspec) can push but has no codepipeline action at all;
  ApprovalRole can approve but has no push action and cannot write artifacts;
- the approval project's buildspec is inline (not a path into the gated source), gates the
  BuildOutput artifact (what the Deploy stage deploys) and both projects set
  INSPECTOR_GATE_POLICY_FLOOR to the stack's SSM parameter, which both roles may only read;
- the optional Baseline (ecs:CLUSTER/SERVICE) reaches only the approval: its project passes
  --baseline only when the parameter is set, and GateBaselinePolicy (ecs:DescribeServices,
  ecs:ListTasks, ecs:DescribeTasks, scoped to that service and cluster) exists only then and is
  attached to ApprovalRole only;
- both buildspecs install inspector-gate with the same commands;
- buildspec.yml tags commit + build number (Retry with IMMUTABLE tags);
- report groups delete their reports, the repository is emptied on delete;
- every #{BuildVariables.X} the pipeline uses is exported by buildspec.yml; the ECS deploy reads
  a file buildspec.yml puts in its artifacts; versions agree;
- the signed decision: DecisionKey is an ECC_NIST_P256 SIGN_VERIFY key whose policy lets only
  ApprovalRole sign and VerifyRole read the public key; the approval project signs with it
  (INSPECTOR_GATE_ATTEST) and may push only through GateAttestPolicy (the .att tag); the Deploy
  stage runs VerifyDecision (inline buildspec: inspector-gate verify --key the same key, --regate,
  --policy-floor) before its deploy, which (ECS or EKS, by DeployTarget) reads only what the
  verify step wrote from the approved BuildOutput.

usage: check_pipeline.py REPO_ROOT
"""

import json
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from render_buildspec import CfnLoader  # noqa: E402

READ = {"ecr:BatchGetImage", "ecr:GetRegistryScanningConfiguration",
        "ecr:BatchGetRepositoryScanningConfiguration", "ecr:DescribeImageScanFindings",
        "inspector2:ListCoverage", "inspector2:ListFindings",
        # --image on an index: a child's config blob is read when its media type alone cannot
        # say whether it runs (src/aws/ecr.rs, oci::classify).
        "ecr:GetDownloadUrlForLayer"}
PUSH = {"ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"}
APPROVE = {"codepipeline:GetPipeline", "codepipeline:GetPipelineState", "codepipeline:ListActionExecutions",
           "codepipeline:GetPipelineExecution", "codepipeline:PutApprovalResult"}
GATE_ACTIONS = READ | PUSH | APPROVE
# --baseline ecs:CLUSTER/SERVICE: what the service runs (src/aws/ecs.rs).
BASELINE = {"ecs:DescribeServices", "ecs:ListTasks", "ecs:DescribeTasks"}
# Reading the policy floor is the stack's addition, not a gate API call.
FLOOR = {"ssm:GetParameter"}


def text(value):
    """A string for a plain or !Sub value."""
    if isinstance(value, dict) and "!Sub" in value:
        return value["!Sub"] if isinstance(value["!Sub"], str) else value["!Sub"][0]
    return value if isinstance(value, str) else json.dumps(value)


def statements(policy_document):
    for st in policy_document["Statement"]:
        actions = st["Action"]
        yield st, set([actions] if isinstance(actions, str) else actions)


def managed_policy_names(props):
    """The managed policies a role attaches: !Ref NAME, or !If [COND, !Ref NAME, !Ref AWS::NoValue]
    (counted as attached: the role gets it whenever COND holds)."""
    names = []
    for ref in props.get("ManagedPolicyArns", []):
        if "!If" in ref:
            _, yes, no = ref["!If"]
            names += [r["!Ref"] for r in (yes, no) if r.get("!Ref") != "AWS::NoValue"]
        else:
            names.append(ref["!Ref"])
    return names


def role_actions(resources, role):
    """Every action a role gets, from its managed policies (by !Ref) and inline policies."""
    props = resources[role]["Properties"]
    out = {}
    for name in managed_policy_names(props):
        for st, actions in statements(resources[name]["Properties"]["PolicyDocument"]):
            for a in actions:
                out.setdefault(a, []).append(text(st["Resource"]))
    for pol in props.get("Policies", []):
        for st, actions in statements(pol["PolicyDocument"]):
            for a in actions:
                out.setdefault(a, []).append(text(st["Resource"]))
    return out


def branches(action):
    """An action, or both branches of !If [COND, A, B] (AWS::NoValue left out)."""
    if isinstance(action, dict) and "!If" in action:
        _, yes, no = action["!If"]
        return [a for a in (yes, no) if not (isinstance(a, dict) and a.get("!Ref") == "AWS::NoValue")]
    return [action]


def install_commands(spec):
    return spec["phases"]["install"]["commands"]


def main():
    root = sys.argv[1]
    cb = os.path.join(root, "codebuild")
    with open(os.path.join(cb, "pipeline.yaml"), encoding="utf-8") as fh:
        template = yaml.load(fh, Loader=CfnLoader)
    with open(os.path.join(cb, "buildspec.yml"), encoding="utf-8") as fh:
        build = yaml.safe_load(fh)
    resources = template["Resources"]
    problems = []

    # Registry-wide scanning is never set by the stack: the resource replaces every other
    # repository's rules (codebuild/README.md has the command that merges instead).
    for name, res in resources.items():
        if res.get("Type") == "AWS::ECR::RegistryScanningConfiguration":
            problems.append(f"{name} replaces the registry's whole scanning configuration")
    if "ConfigureRegistryScanning" in template.get("Parameters", {}):
        problems.append("the ConfigureRegistryScanning parameter is back")

    # The gate's actions, exactly, across the three policies.
    granted = set()
    for name in ("GateReadPolicy", "GatePushPolicy", "GateApprovePolicy", "GateAttestPolicy", "GateVerifyPolicy"):
        for _, actions in statements(resources[name]["Properties"]["PolicyDocument"]):
            granted |= actions
    for action in sorted(GATE_ACTIONS - granted):
        problems.append(f"the gate policies lack {action}")
    for action in sorted(granted - GATE_ACTIONS - FLOOR):
        problems.append(f"the gate policies grant {action}, which the gate does not call")

    # Separation of duties.
    projects = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::CodeBuild::Project"}
    build_role = projects["BuildProject"]["ServiceRole"]["!GetAtt"].split(".")[0]
    approval_role = projects["ApprovalGateProject"]["ServiceRole"]["!GetAtt"].split(".")[0]
    if build_role == approval_role:
        problems.append("the build and approval projects share a role")
    b_actions = role_actions(resources, build_role)
    a_actions = role_actions(resources, approval_role)
    # The approval may push only to store the signed decision (GateAttestPolicy: the .att tag).
    attest_push = set()
    for _, actions in statements(resources["GateAttestPolicy"]["Properties"]["PolicyDocument"]):
        attest_push |= actions
    if "GateAttestPolicy" not in managed_policy_names(resources[approval_role]["Properties"]):
        problems.append(f"{approval_role} does not attach GateAttestPolicy (it cannot store the signed decision)")
    if "GateAttestPolicy" in managed_policy_names(resources[build_role]["Properties"]):
        problems.append(f"{build_role} attaches GateAttestPolicy")
    own = dict(a_actions)
    for a in attest_push:
        own.pop(a, None)
    a_push_elsewhere = PUSH & set(own) - {"ecr:GetAuthorizationToken"}
    for action in sorted(a for a in b_actions if a.startswith("codepipeline:")):
        problems.append(f"{build_role} (runs the gated commit's buildspec) may call {action}")
    for action in sorted(a for a in b_actions if a.startswith("ecs:")):
        problems.append(f"{build_role} (runs the gated commit's buildspec) may call {action}")
    for action in sorted(a_push_elsewhere):
        problems.append(f"{approval_role} may push ({action}) other than through GateAttestPolicy")
    for action in ("s3:PutObject", "s3:DeleteObject", "ssm:PutParameter"):
        if action in a_actions:
            problems.append(f"{approval_role} may call {action}")
    for role, actions in ((build_role, b_actions), (approval_role, a_actions)):
        for action in sorted(READ - set(actions)):
            problems.append(f"{role} cannot read the scan ({action})")
        if any(a.startswith("ssm:") and a != "ssm:GetParameter" for a in actions):
            problems.append(f"{role} may change SSM parameters")
    for action in sorted(PUSH - set(b_actions)):
        problems.append(f"{build_role} cannot push ({action})")
    for action in sorted(APPROVE - set(a_actions)):
        problems.append(f"{approval_role} cannot approve ({action})")
    scoped = a_actions.get("codepipeline:PutApprovalResult", [])
    if scoped != ["arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${PipelineName}/Approve/ManualApproval"]:
        problems.append(f"PutApprovalResult is not scoped to this pipeline's Approve/ManualApproval: {scoped}")
    floor_arn = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/inspector-gate/${AWS::StackName}/policy-floor"
    for role, actions in ((build_role, b_actions), (approval_role, a_actions)):
        if actions.get("ssm:GetParameter") != [floor_arn]:
            problems.append(f"{role} does not read exactly the policy floor parameter")

    # The baseline: only the approval reads the service, only when Baseline is set, scoped.
    params = template["Parameters"]
    if str(params.get("Baseline", {}).get("Default", None)) != "":
        problems.append("the Baseline parameter is missing or not empty by default")
    conditions = template.get("Conditions", {})
    if conditions.get("HasBaseline") != {"!Not": [{"!Equals": [{"!Ref": "Baseline"}, ""]}]}:
        problems.append("no HasBaseline condition (Baseline is not empty)")
    baseline_policy = resources.get("GateBaselinePolicy", {})
    if baseline_policy.get("Condition") != "HasBaseline":
        problems.append("GateBaselinePolicy does not exist only when Baseline is set")
    else:
        granted_b = set()
        for st, actions in statements(baseline_policy["Properties"]["PolicyDocument"]):
            granted_b |= actions
            resource = text(st["Resource"])
            if actions & {"ecs:DescribeServices"} and ":service/${ClusterName}/${ServiceName}" not in resource:
                problems.append(f"ecs:DescribeServices is not scoped to the baseline service: {resource}")
            if actions & {"ecs:DescribeTasks"} and ":task/${ClusterName}/*" not in resource:
                problems.append(f"ecs:DescribeTasks is not scoped to the baseline cluster's tasks: {resource}")
            if actions & {"ecs:ListTasks"} and resource == "*":
                cluster = text(st.get("Condition", {}).get("ArnEquals", {}).get("ecs:cluster", ""))
                if ":cluster/${ClusterName}" not in cluster:
                    problems.append("ecs:ListTasks on * is not limited to the baseline cluster (ecs:cluster)")
        if granted_b != BASELINE:
            problems.append(f"GateBaselinePolicy grants {sorted(granted_b)}, not {sorted(BASELINE)}")
    for name, res in resources.items():
        if res["Type"] == "AWS::IAM::Role" and "GateBaselinePolicy" in managed_policy_names(res["Properties"]):
            if name != approval_role:
                problems.append(f"{name} gets GateBaselinePolicy (only {approval_role} may read the baseline service)")
            elif {"!If": ["HasBaseline", {"!Ref": "GateBaselinePolicy"}, {"!Ref": "AWS::NoValue"}]} not in res["Properties"]["ManagedPolicyArns"]:
                problems.append(f"{name} attaches GateBaselinePolicy unconditionally")
    if "GateBaselinePolicy" not in managed_policy_names(resources[approval_role]["Properties"]):
        problems.append(f"{approval_role} cannot read the baseline service")
    approval_env = {v["Name"]: v["Value"] for v in projects["ApprovalGateProject"]["Environment"]["EnvironmentVariables"]}
    if approval_env.get("INSPECTOR_GATE_BASELINE") != {"!Ref": "Baseline"}:
        problems.append("ApprovalGateProject does not set INSPECTOR_GATE_BASELINE from the Baseline parameter")
    build_env = {v["Name"] for v in projects["BuildProject"]["Environment"]["EnvironmentVariables"]}
    if "INSPECTOR_GATE_BASELINE" in build_env:
        problems.append("BuildProject sets INSPECTOR_GATE_BASELINE (its role may not read ECS)")

    # The approval project: inline buildspec, the deploy artifact, the floor.
    approval = projects["ApprovalGateProject"]
    inline = approval["Source"].get("BuildSpec", "")
    if "\n" not in inline or "version: 0.2" not in inline:
        problems.append("the approval buildspec is not inline in the template")
        approve_spec = {}
    else:
        approve_spec = yaml.safe_load(inline)
    if os.path.isfile(os.path.join(root, projects["BuildProject"]["Source"]["BuildSpec"])) is False:
        problems.append("BuildProject's buildspec is not a file in the repository")
    floor_param = resources["PolicyFloorParameter"]["Properties"]["Name"]
    for name, props in projects.items():
        env = {v["Name"]: v["Value"] for v in props["Environment"]["EnvironmentVariables"]}
        if text(env.get("INSPECTOR_GATE_POLICY_FLOOR", "")) != "ssm:" + text(floor_param):
            problems.append(f"{name} does not set INSPECTOR_GATE_POLICY_FLOOR to the stack's SSM parameter")
    if approve_spec and install_commands(approve_spec) != install_commands(build):
        problems.append("the approval buildspec installs inspector-gate differently from buildspec.yml")
    if approve_spec and not re.search(
            r'if \[ -n "\$\{INSPECTOR_GATE_BASELINE:-\}" \]; then\n(.*\n)*?\s*BASELINE_ARGS=\(--baseline "\$\{INSPECTOR_GATE_BASELINE\}"\)', inline):
        problems.append("the approval buildspec does not pass --baseline when (and only when) INSPECTOR_GATE_BASELINE is set")
    if approve_spec and '"${BASELINE_ARGS[@]}"' not in inline:
        problems.append("the approval's gate command does not take BASELINE_ARGS")
    if approve_spec and "${CODEBUILD_SRC_DIR}/imagedefinitions.json" not in inline:
        problems.append("the approval buildspec does not gate the deploy's imagedefinitions.json")

    stages = {s["Name"]: s for s in resources["Pipeline"]["Properties"]["Stages"]}
    for st in stages.values():
        st["Actions"] = [b for a in st["Actions"] for b in branches(a)]
    m = re.search(r'--approve "\$PIPELINE/([^/"]+)/([^/"]+)"', inline)
    if not m:
        problems.append("approval buildspec: no --approve \"$PIPELINE/STAGE/ACTION\"")
    else:
        stage, action = m.groups()
        actions = {a["Name"]: a for a in stages.get(stage, {}).get("Actions", [])}
        kind = actions.get(action, {}).get("ActionTypeId", {})
        if (kind.get("Category"), kind.get("Provider")) != ("Approval", "Manual"):
            problems.append(f"pipeline has no Manual approval action {stage}/{action}")
        if not scoped or not scoped[0].endswith(f"/{stage}/{action}"):
            problems.append(f"PutApprovalResult is not scoped to {stage}/{action}")
    gate_action = next(a for a in stages["Approve"]["Actions"] if a["Name"] == "ApprovalGate")
    deploy_actions = [a for a in stages["Deploy"]["Actions"] if a["ActionTypeId"]["Category"] == "Deploy"]
    verify_action = next((a for a in stages["Deploy"]["Actions"] if a["Name"] == "VerifyDecision"), None)
    deploy = next((a for a in deploy_actions if a["ActionTypeId"]["Provider"] == "ECS"), deploy_actions[0])
    if {a["ActionTypeId"]["Provider"] for a in deploy_actions} != {"ECS", "EKS"}:
        problems.append("the Deploy stage does not deploy to ECS or EKS by DeployTarget")
    if verify_action is None:
        problems.append("the Deploy stage has no VerifyDecision action")
    else:
        approved = gate_action["InputArtifacts"][0]["Name"]
        if verify_action["Configuration"].get("PrimarySource", verify_action["InputArtifacts"][0]["Name"]) != approved:
            problems.append("VerifyDecision does not verify the artifact ApprovalGate approved")
        out = [o["Name"] for o in verify_action.get("OutputArtifacts", [])]
        for d in deploy_actions:
            if [i["Name"] for i in d["InputArtifacts"]] != out:
                problems.append(f"{d['Name']} does not deploy what VerifyDecision verified ({out})")
            if d.get("RunOrder", 1) <= verify_action.get("RunOrder", 1):
                problems.append(f"{d['Name']} does not run after VerifyDecision")
        eks = next((a for a in deploy_actions if a["ActionTypeId"]["Provider"] == "EKS"), {})
        if eks and "ManifestFiles" not in eks.get("Configuration", {}):
            problems.append("the EKS deploy has no ManifestFiles")
    passed = {v["name"] for v in json.loads(gate_action["Configuration"]["EnvironmentVariables"])}
    for var in ("IMAGE_URI", "PIPELINE_EXECUTION_ID"):
        if var not in passed:
            problems.append(f"ApprovalGate does not pass {var}")
        if f"${var}" not in inline and f"${{{var}" not in inline:
            problems.append(f"the approval buildspec does not read {var}")

    # Retry-safe tags, deletable stack.
    tag_cmd = next((c for c in build["phases"]["pre_build"]["commands"] if c.startswith("IMAGE_TAG=")), "")
    if "CODEBUILD_BUILD_NUMBER" not in tag_cmd or "CODEBUILD_RESOLVED_SOURCE_VERSION" not in tag_cmd:
        problems.append(f"buildspec.yml's IMAGE_TAG is not commit + build number: {tag_cmd}")
    for name, res in resources.items():
        if res["Type"] == "AWS::CodeBuild::ReportGroup" and res["Properties"].get("DeleteReports") is not True:
            problems.append(f"{name}: DeleteReports is not true (the stack could not be deleted)")
        if res["Type"] == "AWS::ECR::Repository" and res["Properties"].get("EmptyOnDelete") is not True:
            problems.append(f"{name}: EmptyOnDelete is not true (the stack could not be deleted)")

    # Variables and the deploy file.
    exported = set(build["env"]["exported-variables"])
    namespaces = {a.get("Namespace"): a["Name"] for s in stages.values() for a in s["Actions"]}
    if [ns for ns, name in namespaces.items() if name == "BuildAndGate"] != ["BuildVariables"]:
        problems.append("the BuildAndGate action's namespace must be BuildVariables")
    used = set(re.findall(r"#\{BuildVariables\.([A-Za-z0-9_]+)\}", json.dumps(template)))
    for var in sorted(used - exported):
        problems.append(f"pipeline uses #{{BuildVariables.{var}}} but buildspec.yml does not export it")
    filename = deploy["Configuration"]["FileName"]
    if filename not in build["artifacts"]["files"]:
        problems.append(f"ECS deploy reads {filename}, which buildspec.yml does not put in its artifacts")

    # The signed decision: who signs, who verifies, and that the deploy checks it.
    key = resources.get("DecisionKey", {}).get("Properties", {})
    if (key.get("KeySpec"), key.get("KeyUsage")) != ("ECC_NIST_P256", "SIGN_VERIFY"):
        problems.append("DecisionKey is not an ECC_NIST_P256 SIGN_VERIFY key")
    signers, verifiers = [], []
    for st in key.get("KeyPolicy", {}).get("Statement", []):
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        principal = st["Principal"].get("AWS")
        who = principal["!GetAtt"].split(".")[0] if isinstance(principal, dict) and "!GetAtt" in principal else text(principal)
        if any(a in ("kms:Sign", "kms:*") for a in actions):
            signers.append(who)
        if any(a in ("kms:GetPublicKey", "kms:Get*", "kms:*") for a in actions):
            verifiers.append(who)
    if signers != [approval_role]:
        problems.append(f"DecisionKey's policy lets {signers} sign, not only {approval_role}")
    verify_project = projects.get("VerifyDecisionProject")
    if verify_project is None:
        problems.append("no VerifyDecisionProject")
    else:
        verify_role = verify_project["ServiceRole"]["!GetAtt"].split(".")[0]
        if verify_role not in verifiers:
            problems.append(f"{verify_role} may not read DecisionKey's public key")
        v_actions = role_actions(resources, verify_role)
        for action in sorted(a for a in v_actions if a.startswith("codepipeline:") or a.startswith("kms:Sign")):
            problems.append(f"{verify_role} may call {action}")
        for action in sorted(PUSH & set(v_actions) - {"ecr:GetAuthorizationToken"}):
            problems.append(f"{verify_role} may push ({action})")
        for action in sorted(READ - set(v_actions)):
            problems.append(f"{verify_role} cannot read the scan for --regate ({action})")
        v_inline = verify_project["Source"].get("BuildSpec", "")
        v_spec = yaml.safe_load(v_inline) if "\n" in v_inline else {}
        if not v_spec or install_commands(v_spec) != install_commands(build):
            problems.append("the verify buildspec is not inline or installs inspector-gate differently")
        for needle in ('inspector-gate verify "$uri" --key "${INSPECTOR_GATE_VERIFY_KEY}"', "--regate",
                       '--policy-floor "${INSPECTOR_GATE_POLICY_FLOOR}"', '--max-age "${DECISION_MAX_AGE}"'):
            if needle not in v_inline:
                problems.append(f"the verify buildspec does not run {needle}")
        v_env = {v["Name"]: v["Value"] for v in verify_project["Environment"]["EnvironmentVariables"]}
        a_env = {v["Name"]: v["Value"] for v in projects["ApprovalGateProject"]["Environment"]["EnvironmentVariables"]}
        if text(a_env.get("INSPECTOR_GATE_ATTEST", "")) != "awskms:///${DecisionKeyAlias}":
            problems.append("ApprovalGateProject does not sign with DecisionKey (INSPECTOR_GATE_ATTEST)")
        if text(v_env.get("INSPECTOR_GATE_VERIFY_KEY", "")) != text(a_env.get("INSPECTOR_GATE_ATTEST", "")):
            problems.append("VerifyDecisionProject verifies with another key than the approval signs with")
    for role in (build_role,):
        if any(a.startswith("kms:") for a in b_actions):
            problems.append(f"{role} (runs the gated commit's buildspec) may call KMS")

    versions = {
        "pipeline.yaml InspectorGateVersion": str(template["Parameters"]["InspectorGateVersion"]["Default"]),
        "buildspec.yml": str(build["env"]["variables"]["INSPECTOR_GATE_VERSION"]),
    }
    if len(set(versions.values())) != 1:
        problems.append(f"inspector-gate versions differ: {versions}")

    for problem in problems:
        print(problem)
    print(f"pipeline.yaml: {len(granted)} gate IAM actions, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
