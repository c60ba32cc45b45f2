#!/usr/bin/env bash
# Runs codebuild/buildspec.yml and codebuild/buildspec-approve.yml here, the way CodeBuild runs
# them (render_buildspec.py), with a stubbed CodeBuild environment (CODEBUILD_* variables),
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
python=${PYTHON:-}
if [[ -z $python ]]; then
  if [[ -x $root/.venv/bin/python ]]; then python=$root/.venv/bin/python; else python=python3; fi
fi

if [[ -z ${INSPECTOR_GATE_REAL_BIN:-} || ! -x ${INSPECTOR_GATE_REAL_BIN:-} ]]; then
  echo "codebuild: INSPECTOR_GATE_REAL_BIN must name a built inspector-gate (cargo build)" >&2
  exit 1
fi
INSPECTOR_GATE_REAL_BIN=$(cd "$(dirname "$INSPECTOR_GATE_REAL_BIN")" && pwd)/$(basename "$INSPECTOR_GATE_REAL_BIN")
export INSPECTOR_GATE_REAL_BIN

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

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
      --container-name | --image-detail | --region | --profile | --role-arn | --registry-url | --color)
      [[ $# -gt 0 && -n $1 ]] || { echo "stub: $flag needs a non-empty value" >&2; exit 2; }
      value[$flag]=$1
      [[ $flag == --image ]] && images=$((images + 1))
      shift
      ;;
    --ignore-unfixed | -q | -v | --dry-run) ;;
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
  echo fake-image >"$3"
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

# run_buildspec FILE — run a buildspec in a fresh source dir; sets $status, $src, $out, $exports.
run_buildspec() {
  src=$(mktemp -d "$work/src.XXXXXX")
  out="$src.log"
  exports="$src.exports"
  mkdir -p "$src.bin"
  "$python" "$here/render_buildspec.py" "$1" >"$src.sh"
  status=0
  (
    cd "$src"
    export PATH="$work/stubs:$src.bin:$PATH"
    export STUB_LOG="$src.calls" GATE_LOG="$src.gate"
    export BUILDSPEC_EXPORTS="$exports" BUILDSPEC_FAILED_PHASE="$src.failed"
    export INSPECTOR_GATE_INSTALL_DIR="$src.bin" INSPECTOR_GATE_CACHE_DIR="$work/build-cache"
    export INSPECTOR_GATE_RELEASE_BASE_URL="$release_base"
    export CODEBUILD_BUILD_ID="container-build-deploy-build:0f6f8a3c-1111-2222-3333-444455556666"
    export CODEBUILD_BUILD_ARN="arn:aws:codebuild:us-east-1:123456789012:build/$CODEBUILD_BUILD_ID"
    export CODEBUILD_BUILD_NUMBER=7 CODEBUILD_SRC_DIR="$src" AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
    export CODEBUILD_INITIATOR=codepipeline/container-build-deploy
    export CODEBUILD_RESOLVED_SOURCE_VERSION=9fceb02d0ae598e95dc970b74767f19372d61af8
    export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=not-a-secret AWS_EC2_METADATA_DISABLED=true
    bash "$src.sh"
  ) >"$out" 2>&1 || status=$?
  touch "$src.gate" "$src.calls" "$exports"
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
gate --push-from docker-archive:image.tar --image $repo:9fceb02d0ae5 --report-dir inspector-gate-reports --image-definitions imagedefinitions.json --container-name app --image-detail imageDetail.json" "inspector-gate calls"
  expect_eq "$(cat "$src.calls")" "curl $release_base/v$version/$asset
docker build --tag app:9fceb02d0ae5 .
docker save --output image.tar app:9fceb02d0ae5" "docker and curl calls"
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
  grep -q "inspector-gate $commit found in the build cache" "$out" || fail "cache not reported"
  return 0
}

test_source_ref_from_project() {
  build_env
  unset INSPECTOR_GATE_SHA256
  export INSPECTOR_GATE_SOURCE_REF=v9.9.9
  run_buildspec "$codebuild/buildspec-approve.yml"
  grep -qx 'git fetch https://github.com/inspector-gate/inspector-gate.git v9.9.9' "$src.calls" ||
    fail "the project's INSPECTOR_GATE_SOURCE_REF was not used"
  unset INSPECTOR_GATE_SOURCE_REF
}

test_approve() {
  build_env
  export IMAGE_URI="$repo@$digest" PIPELINE_EXECUTION_ID=3f1c0a52-7d9e-4b1a-8e0c-5a2b6c9d1e7f
  run_buildspec "$codebuild/buildspec-approve.yml"
  expect_eq "$status" 0 "build status"
  expect_eq "$(tail -n 1 "$src.gate")" "gate --image $repo@$digest --approve container-build-deploy/Approve/ManualApproval --pipeline-execution-id 3f1c0a52-7d9e-4b1a-8e0c-5a2b6c9d1e7f --report-dir inspector-gate-reports" "gate call"
}

test_approve_reject_fails() {
  build_env
  export IMAGE_URI="$repo@$digest" PIPELINE_EXECUTION_ID=x STUB_EXIT=1
  run_buildspec "$codebuild/buildspec-approve.yml"
  expect_eq "$status" 1 "build status"
  [[ -f $src/inspector-gate-reports/junit.xml ]] || fail "no JUnit report"
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
check "buildspec.yml: no release pinned: built from source (cargo install --locked), cached" test_unpinned_builds_from_source
check "buildspec-approve.yml: the project's source ref is the one built" test_source_ref_from_project
check "buildspec-approve.yml: approves <pipeline>/Approve/ManualApproval for this execution" test_approve
check "buildspec-approve.yml: a rejection fails the action, reports still written" test_approve_reject_fails
check "pipeline.yaml: IAM actions, stage/action names, variables and versions match" test_pipeline_matches

echo "codebuild: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
