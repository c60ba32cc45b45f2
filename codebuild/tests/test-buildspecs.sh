#!/usr/bin/env bash
# Runs codebuild/buildspec.yml and the approval buildspec inline in codebuild/pipeline.yaml here,
# the way CodeBuild runs them (render_buildspec.py; the approval with its project's environment
# as CloudFormation sets it), with a stubbed CodeBuild environment (CODEBUILD_* variables),
# stubbed docker, curl, git and cargo, and a file-served release whose inspector-gate records
# every call and first hands the very same arguments (plus --dry-run) to the real binary,
# INSPECTOR_GATE_REAL_BIN: an argument the real CLI rejects fails the build, so the buildspecs
# cannot drift from the CLI (a renamed flag fails here). Also checks pipeline.yaml against the
# buildspecs.
#
# usage: INSPECTOR_GATE_REAL_BIN=target/debug/inspector-gate codebuild/tests/test-buildspecs.sh
#        (one line per case, then "codebuild: N passed, M failed")
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
codebuild=$(cd "$here/.." && pwd)
root=$(cd "$codebuild/.." && pwd)
# The repository's virtualenv (scripts/setup creates it, with PyYAML), or PYTHON when set: never
# whatever python3 is on PATH.
python=${PYTHON:-$root/.venv/bin/python}
if [[ ! -x $python ]]; then
  echo "codebuild: error: $python is missing: run scripts/setup (it creates $root/.venv)" >&2
  exit 1
fi

if [[ -z ${INSPECTOR_GATE_REAL_BIN:-} || ! -x ${INSPECTOR_GATE_REAL_BIN:-} ]]; then
  echo "codebuild: INSPECTOR_GATE_REAL_BIN must name a built inspector-gate (cargo build)" >&2
  exit 1
fi
INSPECTOR_GATE_REAL_BIN=$(cd "$(dirname "$INSPECTOR_GATE_REAL_BIN")" && pwd)/$(basename "$INSPECTOR_GATE_REAL_BIN")
export INSPECTOR_GATE_REAL_BIN

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# What the stubbed `docker save` writes: a real (tiny) docker-archive, since the real CLI's
# --dry-run reads its local inputs (a fake archive is refused before any AWS call).
"$root/scripts/make-image" "$work/oci" v1 --package zlib=1.2.13 >/dev/null
skopeo copy --quiet "oci:$work/oci:v1" "docker-archive:$work/image.tar:app:1.0"
export STUB_IMAGE="$work/image.tar"

version=$("$python" "$here/render_buildspec.py" --field "$codebuild/buildspec.yml" env.variables.INSPECTOR_GATE_VERSION)
case "$(uname -m)" in
  x86_64) target=x86_64-unknown-linux-musl ;;
  aarch64) target=aarch64-unknown-linux-musl ;;
  *) echo "codebuild: no release target for $(uname -m)"; exit 1 ;;
esac
asset="inspector-gate-$version-$target.tar.gz"
release_base="https://releases.example.invalid/download"

# --- the fake release: an inspector-gate that enforces the CLI contract -----------------------
mkdir -p "$work/pkg" "$work/release"
cat >"$work/pkg/inspector-gate" <<'GATE'
#!/usr/bin/env bash
set -euo pipefail
printf '%q ' "$@" | sed 's/ $//' >>"$GATE_LOG"
echo >>"$GATE_LOG"
if [[ ${1:-} == --version ]]; then exec "$INSPECTOR_GATE_REAL_BIN" --version; fi
[[ ${1:-} == gate ]] || { echo "stub: expected the gate command, got '${1:-}'" >&2; exit 2; }
if [[ ${2:-} == --help ]]; then
  # STUB_HELP=no-floor plays an inspector-gate that predates --policy-floor.
  if [[ ${STUB_HELP:-} == no-floor ]]; then echo "Usage: inspector-gate gate [OPTIONS]"; exit 0; fi
  exec "$INSPECTOR_GATE_REAL_BIN" gate --help
fi
{ echo "cwd=$PWD"; [[ -e .inspector-gate.toml ]] && echo "policy file in cwd"; } >>"$GATE_LOG.cwd"
env -u CODEBUILD_BUILD_ID -u INSPECTOR_GATE_CODEBUILD_ENV_FILE "$INSPECTOR_GATE_REAL_BIN" "$@" --dry-run >&2 ||
  { echo "stub: the real inspector-gate rejects these arguments (--dry-run exit $?)" >&2; exit 2; }
shift
declare -A value
images=0
while [[ $# -gt 0 ]]; do
  flag=$1
  shift
  case $flag in
    --image | --push-from | --tag | --policy | --max-critical | --max-high | --max-medium | \
      --max-low | --max-untriaged | --fail-on | --ignore | --timeout | --on-timeout | \
      --report-dir | --format | --approve | --pipeline-execution-id | --image-definitions | \
      --container-name | --image-detail | --baseline | --region | --profile | --role-arn | \
      --registry-url | --color)
      [[ $# -gt 0 && -n $1 ]] || { echo "stub: $flag needs a non-empty value" >&2; exit 2; }
      value[$flag]=$1
      [[ $flag == --image ]] && images=$((images + 1))
      shift
      ;;
    --ignore-unfixed | --baseline-optional | -q | -v | --dry-run) ;;
    *) echo "stub: unknown argument '$flag' (not in PRODUCT.md's gate options)" >&2; exit 2 ;;
  esac
done
[[ $images -gt 0 ]] || { echo "stub: no --image" >&2; exit 2; }
if [[ -n ${value[--approve]:-} && ! ${value[--approve]} =~ ^[^/]+/[^/]+/[^/]+$ ]]; then
  echo "stub: --approve must be PIPELINE/STAGE/ACTION, got '${value[--approve]}'" >&2
  exit 2
fi
if [[ -n ${value[--image-definitions]:-} && -z ${value[--container-name]:-} ]]; then
  echo "stub: --image-definitions needs --container-name" >&2
  exit 2
fi
code=${STUB_EXIT:-0}
case $code in 0) verdict=pass ;; 1) verdict=fail ;; 3) verdict=inconclusive ;; *) verdict=error ;; esac
digest=sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945
repo=${value[--image]%%[:@]*}
if [[ ${value[--image]} == *@* ]]; then repo=${value[--image]%@*}; fi
if [[ -n ${value[--report-dir]:-} ]]; then
  mkdir -p "${value[--report-dir]}"
  echo '<testsuites/>' >"${value[--report-dir]}/junit.xml"
  echo '{}' >"${value[--report-dir]}/report.json"
fi
if [[ $code -eq 0 && -n ${value[--image-definitions]:-} ]]; then
  printf '[{"name":"%s","imageUri":"%s@%s"}]\n' "${value[--container-name]}" "$repo" "$digest" >"${value[--image-definitions]}"
fi
if [[ $code -eq 0 && -n ${value[--image-detail]:-} ]]; then
  printf '{"ImageURI":"%s@%s"}\n' "$repo" "$digest" >"${value[--image-detail]}"
fi
if [[ -n ${INSPECTOR_GATE_CODEBUILD_ENV_FILE:-} && -n ${CODEBUILD_BUILD_ID:-} ]]; then
  printf 'IMAGE_DIGEST=%s\nIMAGE_URI=%s@%s\nGATE_VERDICT=%s\n' "$digest" "$repo" "$digest" "$verdict" \
    >"$INSPECTOR_GATE_CODEBUILD_ENV_FILE"
fi
exit "$code"
GATE
chmod +x "$work/pkg/inspector-gate"
tar -czf "$work/release/$asset" -C "$work/pkg" inspector-gate
good_sha=$(sha256sum "$work/release/$asset" | cut -d' ' -f1)

# --- stubs for the build environment ------------------------------------------------------------
mkdir -p "$work/stubs"
# aws: only `aws ssm get-parameter` of the stack's policy floor (AWS_STUB_FAIL=1: access denied).
cat >"$work/stubs/aws" <<'AWS'
#!/usr/bin/env bash
echo "aws $*" >>"$STUB_LOG"
[[ ${AWS_STUB_FAIL:-} != 1 ]] || { echo "An error occurred (AccessDeniedException)" >&2; exit 254; }
[[ "$*" == "ssm get-parameter --name /inspector-gate/teststack/policy-floor --query Parameter.Value --output text" ]] ||
  { echo "aws stub: unexpected call" >&2; exit 255; }
echo 'fail-on = "HIGH"'
AWS
chmod +x "$work/stubs/aws"
mkdir -p "$work/stubs"
cat >"$work/stubs/curl" <<CURL
#!/usr/bin/env bash
out= url=
while [[ \$# -gt 0 ]]; do
  case \$1 in --output) out=\$2; shift 2 ;; --retry) shift 2 ;; -*) shift ;; *) url=\$1; shift ;; esac
done
echo "curl \$url" >>"\$STUB_LOG"
[[ \$url == "$release_base/v$version/$asset" ]] || { echo "curl: (22) 404 \$url" >&2; exit 22; }
cp "$work/release/$asset" "\$out"
CURL
cat >"$work/stubs/docker" <<'DOCKER'
#!/usr/bin/env bash
echo "docker $*" >>"$STUB_LOG"
if [[ $1 == save ]]; then
  [[ $2 == --output ]] || exit 1
  cp "$STUB_IMAGE" "$3"
fi
DOCKER
# git and cargo for source builds: the "repository" is the fake release's stub.
cat >"$work/stubs/git" <<GIT
#!/usr/bin/env bash
dir=.
if [[ \$1 == -C ]]; then dir=\$2; shift 2; fi
case \$1 in
  init) mkdir -p "\$dir" ;;
  fetch) echo "git fetch \${*: -2}" >>"\$STUB_LOG" ;;
  checkout) cp "$work/pkg/inspector-gate" "\$dir/stub-gate" ;;
  rev-parse) echo 3f786850e387550fdab836ed7e6dc881de23001b ;;
  *) echo "git stub: unexpected \$*" >&2; exit 1 ;;
esac
GIT
cat >"$work/stubs/cargo" <<'CARGO'
#!/usr/bin/env bash
echo "cargo $*" >>"$STUB_LOG"
root= path=
while [[ $# -gt 0 ]]; do
  case $1 in --root) root=$2; shift 2 ;; --path) path=$2; shift 2 ;; *) shift ;; esac
done
mkdir -p "$root/bin"
cp "$path/stub-gate" "$root/bin/inspector-gate"
CARGO
chmod +x "$work/stubs/curl" "$work/stubs/docker" "$work/stubs/git" "$work/stubs/cargo"

passed=0
failed=0
fail() {
  touch "$work/case-failed"
  echo "    $*" >&2
  [[ -f ${out:-/nonexistent} ]] && sed 's/^/    | /' "$out" >&2
  return 1
}
expect_eq() { [[ $1 == "$2" ]] || fail "$3: expected [$2], got [$1]"; }
# check NAME FUNCTION — run one case in a subshell; any failed assertion (fail) fails it, even
# where bash ignores set -e (functions called from a condition).
check() {
  local name=$1
  shift
  rm -f "$work/case-failed"
  ("$@") || touch "$work/case-failed"
  if [[ -e $work/case-failed ]]; then
    failed=$((failed + 1))
    echo "not ok - $name"
  else
    passed=$((passed + 1))
    echo "ok - $name"
  fi
}

# run_buildspec FILE|PROJECT [SETUP] — run a buildspec file, or a project's buildspec inline in
# pipeline.yaml (with that project's environment as CloudFormation sets it), in a fresh source
# dir where SETUP (a function) may put the input artifact; sets $status, $src, $out, $exports.
run_buildspec() {
  src=$(mktemp -d "$work/src.XXXXXX")
  out="$src.log"
  exports="$src.exports"
  mkdir -p "$src.bin"
  : >"$src.project-env"
  local rendered=0
  if [[ -f $1 ]]; then
    "$python" "$here/render_buildspec.py" "$1" >"$src.sh" || rendered=$?
  else
    "$python" "$here/render_buildspec.py" --template "$codebuild/pipeline.yaml" "$1" >"$src.sh" || rendered=$?
    "$python" "$here/render_buildspec.py" --project-env "$codebuild/pipeline.yaml" "$1" >"$src.project-env" || rendered=$?
  fi
  # A buildspec that cannot be rendered is a failed build, never an empty successful one.
  if [[ $rendered -ne 0 ]]; then echo 'echo "render_buildspec.py failed"; exit 97' >"$src.sh"; fi
  if [[ -n ${2:-} ]]; then (cd "$src" && "$2"); fi
  status=0
  (
    cd "$src"
    # The project's environment (CloudFormation's values), then the test's overrides.
    while IFS= read -r line; do
      name=${line%%=*}
      # shellcheck disable=SC2163 # exports NAME=VALUE as written in the line
      [[ -n ${!name+set} ]] || export "$line"
    done <"$src.project-env"
    export PATH="$work/stubs:$src.bin:$PATH"
    export STUB_LOG="$src.calls" GATE_LOG="$src.gate"
    export BUILDSPEC_EXPORTS="$exports" BUILDSPEC_FAILED_PHASE="$src.failed"
    export INSPECTOR_GATE_INSTALL_DIR="$src.bin" INSPECTOR_GATE_CACHE_DIR="$work/build-cache"
    # The stubbed release server: honoured only in test mode (TEST_MODE=0 plays a real project).
    export INSPECTOR_GATE_RELEASE_BASE_URL="${RELEASE_BASE_URL:-$release_base}"
    if [[ ${TEST_MODE:-1} == 1 ]]; then export INSPECTOR_GATE_TEST_MODE=1; else unset INSPECTOR_GATE_TEST_MODE; fi
    export CODEBUILD_BUILD_ID="container-build-deploy-build:0f6f8a3c-1111-2222-3333-444455556666"
    export CODEBUILD_BUILD_ARN="arn:aws:codebuild:us-east-1:123456789012:build/$CODEBUILD_BUILD_ID"
    export CODEBUILD_BUILD_NUMBER=7 CODEBUILD_SRC_DIR="$src" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
    export CODEBUILD_INITIATOR=codepipeline/container-build-deploy
    export CODEBUILD_RESOLVED_SOURCE_VERSION=9fceb02d0ae598e95dc970b74767f19372d61af8
    export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=not-a-secret AWS_EC2_METADATA_DISABLED=true
    bash "$src.sh"
  ) >"$out" 2>&1 || status=$?
  touch "$src.gate" "$src.gate.cwd" "$src.calls" "$exports"
}

build_env() {
  export IMAGE_REPO_URI=123456789012.dkr.ecr.us-east-1.amazonaws.com/inspector-gate-images
  export CONTAINER_NAME=app INSPECTOR_GATE_SHA256=$good_sha STUB_EXIT=0
  unset IMAGE_URI PIPELINE_EXECUTION_ID
}

digest=sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945
repo=123456789012.dkr.ecr.us-east-1.amazonaws.com/inspector-gate-images

test_build_pass() {
  build_env
  run_buildspec "$codebuild/buildspec.yml"
  expect_eq "$status" 0 "build status"
  expect_eq "$(cat "$src.gate")" "--version
gate --push-from docker-archive:image.tar --image $repo:9fceb02d0ae5-7 --report-dir inspector-gate-reports --image-definitions imagedefinitions.json --container-name app --image-detail imageDetail.json" "inspector-gate calls"
  expect_eq "$(cat "$src.calls")" "curl $release_base/v$version/$asset
docker build --tag app:9fceb02d0ae5-7 .
docker save --output image.tar app:9fceb02d0ae5-7" "docker and curl calls"
  grep -q "warning: test mode: downloading from INSPECTOR_GATE_RELEASE_BASE_URL=$release_base" "$out" ||
    fail "the test-mode download URL override was not announced"
  expect_eq "$(cat "$exports")" "IMAGE_DIGEST=$digest
IMAGE_URI=$repo@$digest
GATE_VERDICT=pass" "exported variables"
  local base files
  base=$("$python" "$here/render_buildspec.py" --field "$codebuild/buildspec.yml" reports.inspector-gate.base-directory)
  files=$("$python" "$here/render_buildspec.py" --field "$codebuild/buildspec.yml" reports.inspector-gate.files)
  [[ -f $src/$base/$files ]] || fail "report group file $base/$files not written"
  expect_eq "$(cat "$src/imagedefinitions.json")" "[{\"name\":\"app\",\"imageUri\":\"$repo@$digest\"}]" "imagedefinitions.json"
  expect_eq "$(cat "$src/imageDetail.json")" "{\"ImageURI\":\"$repo@$digest\"}" "imageDetail.json"
}

test_build_violation_fails() {
  build_env
  export STUB_EXIT=1
  run_buildspec "$codebuild/buildspec.yml"
  expect_eq "$status" 1 "build status"
  expect_eq "$(cat "$src.failed")" build "failed phase"
  grep -q 'inspector-gate exit 1, verdict fail' "$out" || fail "verdict not reported"
  grep -qx 'GATE_VERDICT=fail' "$exports" || fail "GATE_VERDICT not exported"
  [[ ! -e $src/imagedefinitions.json ]] || fail "imagedefinitions.json written for a rejected image"
  [[ -f $src/inspector-gate-reports/junit.xml ]] || fail "no JUnit report for the report group"
}

test_build_inconclusive_fails() {
  build_env
  export STUB_EXIT=3
  run_buildspec "$codebuild/buildspec.yml"
  expect_eq "$status" 1 "build status"
  grep -qx 'GATE_VERDICT=inconclusive' "$exports" || fail "GATE_VERDICT not exported"
}

test_checksum_mismatch_refused() {
  build_env
  export INSPECTOR_GATE_SHA256=0000000000000000000000000000000000000000000000000000000000000000
  run_buildspec "$codebuild/buildspec.yml"
  expect_eq "$status" 1 "build status"
  expect_eq "$(cat "$src.failed")" install "failed phase"
  [[ ! -s $src.gate ]] || fail "the unverified binary ran"
  grep -q 'FAILED' "$out" || fail "no sha256sum failure in the log"
}

test_base_url_needs_test_mode() {
  # Outside test mode the download URL override is ignored, with a warning: the download goes to
  # GitHub releases (which the stubbed curl does not serve), so the install fails.
  build_env
  TEST_MODE=0 run_buildspec "$codebuild/buildspec.yml"
  expect_eq "$status" 1 "build status"
  expect_eq "$(cat "$src.failed")" install "failed phase"
  grep -q 'warning: INSPECTOR_GATE_RELEASE_BASE_URL is ignored outside' "$out" || fail "no warning"
  expect_eq "$(grep '^curl ' "$src.calls")" \
    "curl https://github.com/inspector-gate/inspector-gate/releases/download/v$version/$asset" "download URL"
  [[ ! -s $src.gate ]] || fail "a binary ran"
  # In test mode too, an override is https only.
  RELEASE_BASE_URL=http://releases.example.invalid/download run_buildspec "$codebuild/buildspec.yml"
  expect_eq "$status" 1 "build status (http override)"
  grep -q 'INSPECTOR_GATE_RELEASE_BASE_URL must be an https:// URL' "$out" || fail "http override not refused"
  ! grep -q '^curl ' "$src.calls" || fail "downloaded over http"
  return 0
}

test_unpinned_builds_from_source() {
  build_env
  unset INSPECTOR_GATE_SHA256
  rm -rf "$work/build-cache"
  run_buildspec "$codebuild/buildspec.yml"
  expect_eq "$status" 0 "build status"
  grep -q 'INSPECTOR_GATE_SHA256 is not set: building inspector-gate from https://github.com/inspector-gate/inspector-gate.git at main' "$out" ||
    fail "no message about the source build"
  local commit=3f786850e387550fdab836ed7e6dc881de23001b
  expect_eq "$(grep -E '^(git|curl) ' "$src.calls")" "git fetch https://github.com/inspector-gate/inspector-gate.git main" "fetch"
  grep -Eqx "cargo install --locked --path /[^ ]+ --root $work/build-cache/source-$commit --bin inspector-gate" "$src.calls" ||
    fail "no cargo install --locked of the fetched commit: $(cat "$src.calls")"
  grep -q '^gate --push-from' "$src.gate" || fail "the built gate did not run"
  # The next build finds it in the (CodeBuild local) cache: no cargo.
  run_buildspec "$codebuild/buildspec.yml"
  expect_eq "$status" 0 "second build status"
  grep -q '^cargo' "$src.calls" && fail "rebuilt despite the cache"
  grep -q "inspector-gate $commit found in the build cache, SHA-256 re-checked" "$out" || fail "cache not reported"
  local built="$work/build-cache/source-$commit"
  expect_eq "$(cat "$built/inspector-gate.sha256")" \
    "$(sha256sum "$built/bin/inspector-gate" | cut -d' ' -f1)  $commit" "build record"
  return 0
}

test_tampered_source_cache_rebuilt() {
  # A cached source build is re-hashed against its build record on every use: a binary changed
  # since (record and all: a record naming another commit) or one without a record is rebuilt.
  build_env
  unset INSPECTOR_GATE_SHA256
  rm -rf "$work/build-cache"
  local commit=3f786850e387550fdab836ed7e6dc881de23001b built
  built="$work/build-cache/source-$commit"
  run_buildspec "$codebuild/buildspec.yml"
  expect_eq "$status" 0 "first build"
  printf '\n# tampered\n' >>"$built/bin/inspector-gate"
  run_buildspec "$codebuild/buildspec.yml"
  expect_eq "$status" 0 "build after tampering"
  grep -q "warning: the cached build of $commit does not match the SHA-256 recorded" "$out" || fail "no warning"
  grep -q '^cargo install --locked' "$src.calls" || fail "not rebuilt"
  ! grep -q 'tampered' "$src.bin/inspector-gate" || fail "the tampered binary was installed"
  grep -q '^gate --push-from' "$src.gate" || fail "the rebuilt gate did not run"
  # A record re-written for the tampered binary but naming another commit does not vouch for it.
  printf '\n# tampered\n' >>"$built/bin/inspector-gate"
  echo "$(sha256sum "$built/bin/inspector-gate" | cut -d' ' -f1)  0000000000000000000000000000000000000000" >"$built/inspector-gate.sha256"
  run_buildspec "$codebuild/buildspec.yml"
  expect_eq "$status" 0 "build after a forged record"
  grep -q '^cargo install --locked' "$src.calls" || fail "not rebuilt after a forged record"
  ! grep -q 'tampered' "$src.bin/inspector-gate" || fail "the tampered binary was installed (forged record)"
  # No record at all (a cache from before records): rebuilt.
  rm -f "$built/inspector-gate.sha256"
  run_buildspec "$codebuild/buildspec.yml"
  expect_eq "$status" 0 "build without a record"
  grep -q '^cargo install --locked' "$src.calls" || fail "not rebuilt without a record"
  [[ -f $built/inspector-gate.sha256 ]] || fail "no record written"
}

# --- the approval project (buildspec inline in pipeline.yaml) ------------------------------------

approval_env() {
  build_env
  unset IMAGE_REPO_URI CONTAINER_NAME STUB_HELP AWS_STUB_FAIL
  export IMAGE_URI="$repo@$digest" PIPELINE_EXECUTION_ID=3f1c0a52-7d9e-4b1a-8e0c-5a2b6c9d1e7f
}

# The Build stage's output artifact: what the Deploy stage will deploy, plus a policy file the
# gated commit's build slipped in (it must not be read).
build_output() {
  printf '[{"name":"app","imageUri":"%s"}]\n' "${DEPLOYED_URI:-$repo@$digest}" >imagedefinitions.json
  printf 'fail-on = "INFORMATIONAL"\nignore = ["CVE-2024-0001"]\n' >.inspector-gate.toml
  mkdir -p inspector-gate-reports
  echo '<testsuites name="from the build"/>' >inspector-gate-reports/junit.xml
}

floor_supported() {
  "$INSPECTOR_GATE_REAL_BIN" gate --help 2>/dev/null | grep -q -- '--policy-floor'
}

test_approve() {
  approval_env
  run_buildspec ApprovalGateProject build_output
  expect_eq "$status" 0 "build status"
  local floor_args=
  if ! floor_supported; then floor_args=" --policy $(sed -n 's/^cwd=//p' "$src.gate.cwd")/floor.toml"; fi
  expect_eq "$(tail -n 1 "$src.gate")" "gate --image $repo@$digest$floor_args --approve container-build-deploy/Approve/ManualApproval --pipeline-execution-id 3f1c0a52-7d9e-4b1a-8e0c-5a2b6c9d1e7f --report-dir $src/approval-gate-reports" "gate call"
  local cwd
  cwd=$(sed -n 's/^cwd=//p' "$src.gate.cwd")
  [[ -n $cwd && $cwd != "$src" ]] || fail "the gate ran in the gated commit's files ($cwd)"
  ! grep -q 'policy file in cwd' "$src.gate.cwd" || fail "a policy file of the gated commit was in reach"
  grep -qx 'INSPECTOR_GATE_POLICY_FLOOR=ssm:/inspector-gate/teststack/policy-floor' "$src.project-env" ||
    fail "the project does not set the policy floor"
  local base
  base=$("$python" - "$codebuild/pipeline.yaml" <<'PY'
import sys, yaml
sys.path.insert(0, sys.argv[1].rsplit("/", 1)[0] + "/tests")
from render_buildspec import project, parse
_, props = project(sys.argv[1], "ApprovalGateProject")
print(parse(props["Source"]["BuildSpec"], "")["reports"]["inspector-gate"]["base-directory"])
PY
  )
  [[ -f $src/$base/junit.xml && $base != inspector-gate-reports ]] ||
    fail "the approval's report group reads $base, not its own reports"
}

test_approve_floor_fallback() {
  # An inspector-gate without --policy-floor: the floor is fetched from SSM and is the policy.
  approval_env
  export STUB_HELP=no-floor
  run_buildspec ApprovalGateProject build_output
  expect_eq "$status" 0 "build status"
  grep -qx 'aws ssm get-parameter --name /inspector-gate/teststack/policy-floor --query Parameter.Value --output text' "$src.calls" ||
    fail "the floor was not fetched"
  local cwd
  cwd=$(sed -n 's/^cwd=//p' "$src.gate.cwd")
  grep -q -- "--policy $cwd/floor.toml --approve" "$src.gate" || fail "the floor is not the policy: $(cat "$src.gate")"
  # The floor cannot be read: nothing approved, the gate never runs.
  export AWS_STUB_FAIL=1
  run_buildspec ApprovalGateProject build_output
  expect_eq "$status" 1 "status without a floor"
  grep -q "cannot apply the policy floor" "$out" || fail "no clear message without a floor"
  ! grep -q '^gate --image' "$src.gate" || fail "approved without a floor"
}

test_approve_baseline() {
  # Baseline set (the project's INSPECTOR_GATE_BASELINE): --baseline, and --baseline-optional
  # with BaselineOptional=true; unset (the default) passes neither (test_approve).
  approval_env
  export INSPECTOR_GATE_BASELINE=ecs:prod/web/app
  run_buildspec ApprovalGateProject build_output
  expect_eq "$status" 0 "build status"
  grep -qx 'INSPECTOR_GATE_BASELINE=' "$src.project-env" || fail "the template's default Baseline is not empty"
  grep -q -- " --baseline ecs:prod/web/app --approve " "$src.gate" || fail "no --baseline: $(cat "$src.gate")"
  ! grep -q -- '--baseline-optional' "$src.gate" || fail "--baseline-optional passed by default"
  grep -q 'baseline: ecs:prod/web/app' "$out" || fail "the baseline is not logged"
  export INSPECTOR_GATE_BASELINE_OPTIONAL=true
  run_buildspec ApprovalGateProject build_output
  expect_eq "$status" 0 "build status (optional)"
  grep -q -- " --baseline ecs:prod/web/app --baseline-optional --approve " "$src.gate" ||
    fail "no --baseline-optional: $(cat "$src.gate")"
}

test_api_rate() {
  # ApiRate reaches every project as INSPECTOR_GATE_API_RATE, which the real gate (the stub's
  # dry run) reads itself; its default is the gate's own default.
  local project default
  default=$(env -u INSPECTOR_GATE_API_RATE "$INSPECTOR_GATE_REAL_BIN" gate --image "$repo:1" --dry-run 2>/dev/null |
    sed -n 's/^api rate: \([0-9.]*\) requests\/s per service.*(default)$/\1/p')
  [[ -n $default ]] || fail "the gate's dry run names no default api rate"
  for project in ApprovalGateProject VerifyDecisionProject BuildProject; do
    "$python" "$here/render_buildspec.py" --project-env "$codebuild/pipeline.yaml" "$project" >"$work/$project.env"
    grep -qx "INSPECTOR_GATE_API_RATE=$default" "$work/$project.env" ||
      fail "$project does not set INSPECTOR_GATE_API_RATE to the gate's default $default: $(grep API_RATE "$work/$project.env")"
  done
  approval_env
  run_buildspec ApprovalGateProject build_output
  expect_eq "$status" 0 "build status"
  grep -q "^api rate: $default requests/s per service" "$out" || fail "the approval's gate did not plan with ApiRate's default"
  export INSPECTOR_GATE_API_RATE=0.5
  run_buildspec ApprovalGateProject build_output
  unset INSPECTOR_GATE_API_RATE
  expect_eq "$status" 0 "build status (0.5)"
  grep -q "^api rate: 0.5 requests/s per service" "$out" || fail "the approval's gate did not plan with ApiRate=0.5"
}

approval_refuses() {
  approval_env
  export DEPLOYED_URI=$1
  [[ -n ${2:-} ]] && export IMAGE_URI=$2
  run_buildspec ApprovalGateProject build_output
  unset DEPLOYED_URI
  expect_eq "$status" 1 "build status"
  expect_eq "$(cat "$src.failed")" build "failed phase"
  grep -q "$3" "$out" || fail "no clear message ($3)"
  ! grep -q '^gate --image' "$src.gate" || fail "the gate ran: $(cat "$src.gate")"
}
test_approve_refuses_other_repo() {
  approval_refuses "123456789012.dkr.ecr.us-east-1.amazonaws.com/elsewhere@$digest" "" "not an image of $repo pinned by digest"
}
test_approve_refuses_tag() {
  approval_refuses "$repo:latest" "" "not an image of $repo pinned by digest"
}
test_approve_refuses_export_mismatch() {
  approval_refuses "$repo@sha256:$(printf 'b%.0s' {1..64})" "$repo@$digest" "the build exported IMAGE_URI"
}
test_approve_refuses_missing_definitions() {
  approval_env
  run_buildspec ApprovalGateProject
  expect_eq "$status" 1 "build status"
  grep -q "cannot read the build's imagedefinitions.json" "$out" || fail "no clear message"
}

test_approve_reject_fails() {
  approval_env
  export STUB_EXIT=1
  run_buildspec ApprovalGateProject build_output
  expect_eq "$status" 1 "build status"
  [[ -f $src/approval-gate-reports/junit.xml ]] || fail "no JUnit report"
}

test_source_ref_from_project() {
  approval_env
  unset INSPECTOR_GATE_SHA256
  export INSPECTOR_GATE_SOURCE_REF=v9.9.9
  run_buildspec ApprovalGateProject build_output
  grep -qx 'git fetch https://github.com/inspector-gate/inspector-gate.git v9.9.9' "$src.calls" ||
    fail "the project's INSPECTOR_GATE_SOURCE_REF was not used"
  unset INSPECTOR_GATE_SOURCE_REF
}

test_pipeline_matches() {
  "$python" "$here/check_pipeline.py" "$root" >"$work/pipeline.out" 2>&1 || {
    out="$work/pipeline.out"
    fail "pipeline.yaml does not match the buildspecs"
  }
}

check "buildspec.yml: install (pinned, verified), build, push+gate, exports, reports, hand-off" test_build_pass
check "buildspec.yml: a violation fails the build, exports the verdict, no hand-off" test_build_violation_fails
check "buildspec.yml: inconclusive fails the build" test_build_inconclusive_fails
check "buildspec.yml: a checksum mismatch is refused in install" test_checksum_mismatch_refused
check "buildspec.yml: the download URL override only in test mode (warned), https only" test_base_url_needs_test_mode
check "buildspec.yml: no release pinned: built from source (cargo install --locked), cached with a build record" test_unpinned_builds_from_source
check "buildspec.yml: a cached source build that no longer matches its record is rebuilt, never run" test_tampered_source_cache_rebuilt
check "approval (inline): approves <pipeline>/Approve/ManualApproval for the deployed digest, outside the commit's files" test_approve
check "approval (inline): Baseline passes --baseline (and --baseline-optional) only when set" test_approve_baseline
check "all three projects: ApiRate (default: the gate's own) reaches the gate as INSPECTOR_GATE_API_RATE" test_api_rate
check "approval (inline): a gate without --policy-floor gets the SSM floor as its policy; no floor, no approval" test_approve_floor_fallback
check "approval (inline): refuses an image of another repository" test_approve_refuses_other_repo
check "approval (inline): refuses a deploy by tag" test_approve_refuses_tag
check "approval (inline): refuses when the exported IMAGE_URI is not what deploys" test_approve_refuses_export_mismatch
check "approval (inline): refuses without imagedefinitions.json" test_approve_refuses_missing_definitions
check "approval (inline): a rejection fails the action, its own reports written" test_approve_reject_fails
check "approval (inline): the project's source ref is the one built" test_source_ref_from_project
check "pipeline.yaml: IAM actions, stage/action names, variables and versions match" test_pipeline_matches

echo "codebuild: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
