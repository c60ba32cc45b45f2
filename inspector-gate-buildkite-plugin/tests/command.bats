#!/usr/bin/env bats
# The plugin's command hook, against stubs of inspector-gate, buildkite-agent and curl that
# record every call: the tests assert the exact calls, in order.

load helpers/stubs

HOOK="$BATS_TEST_DIRNAME/../hooks/command"
PREFIX=BUILDKITE_PLUGIN_INSPECTOR_GATE
IMAGE=123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0
DIGEST=sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945
URI=123456789012.dkr.ecr.us-east-1.amazonaws.com/app@$DIGEST
VERSION=$(sed -n 's/^INSPECTOR_GATE_VERSION="\(.*\)"$/\1/p' "$BATS_TEST_DIRNAME/../lib/release.bash")
CARGO_VERSION=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$BATS_TEST_DIRNAME/../../Cargo.toml" | head -n 1)
# The step (BUILDKITE_LABEL below) and the image, as the plugin names them in meta-data keys,
# report paths and annotation contexts.
STEP=shield-gate
ISLUG=123456789012.dkr.ecr.us-east-1.amazonaws.com-app-1.0
DIR=inspector-gate-reports/$STEP/$ISLUG

# What the fake gate does: write its reports and hand-off file like the real one, exit
# $GATE_EXIT. GATE_WRITES=0: exit before writing anything (usage/runtime errors).
GATE_BODY='
if [[ ${1:-} == --version ]]; then echo "inspector-gate ${GATE_VERSION:?}"; exit 0; fi
code=${GATE_EXIT:-0}
if [[ ${GATE_WRITES:-1} == 1 ]]; then
  dir=
  for arg in "$@"; do case $arg in --report-dir=*) dir=${arg#--report-dir=} ;; esac; done
  mkdir -p "$dir"
  case $code in 0) verdict=pass ;; 1) verdict=fail ;; *) verdict=inconclusive ;; esac
  printf "## inspector-gate: %s\n" "$verdict" >"$dir/summary.md"
  echo "{}" >"$dir/report.json"
  printf "IMAGE_DIGEST=%s\nIMAGE_URI=%s\nGATE_VERDICT=%s\n" "${GATE_DIGEST:-}" "${GATE_URI:-}" "$verdict" \
    >"$INSPECTOR_GATE_CODEBUILD_ENV_FILE"
fi
exit "$code"'

AGENT_BODY='if [[ $1 == annotate ]]; then cat >"$BATS_TEST_TMPDIR/annotation.md"; fi'

setup() {
  stub_setup
  while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep "^BUILDKITE_PLUGIN_" || true)
  export GATE_DIGEST=$DIGEST GATE_URI=$URI GATE_EXIT=0 GATE_WRITES=1 GATE_VERSION=$CARGO_VERSION
  export INSPECTOR_GATE_CACHE_DIR="$BATS_TEST_TMPDIR/cache" INSPECTOR_GATE_TEST_MODE=1
  unset INSPECTOR_GATE_CHECKSUMS_FILE INSPECTOR_GATE_RELEASE_BASE_URL
  stub buildkite-agent "$AGENT_BODY"
  export BUILDKITE_LABEL=":shield: gate"
  unset BUILDKITE_STEP_KEY BUILDKITE_STEP_ID
  cd "$BATS_TEST_TMPDIR"
}

# The meta-data calls of a gate run on $IMAGE that wrote its hand-off file.
meta_calls() {
  printf '%s\n' \
    "buildkite-agent meta-data set inspector-gate:$STEP:verdict $1" \
    "buildkite-agent meta-data set inspector-gate:$STEP:digest $DIGEST" \
    "buildkite-agent meta-data set inspector-gate:$STEP:image-uri $URI" \
    "buildkite-agent meta-data set inspector-gate:$STEP:$ISLUG:image-uri $URI" \
    "buildkite-agent meta-data set inspector-gate:$STEP:$ISLUG:digest $DIGEST"
}

# The fake gate on PATH, and the plugin asked to use it (a binary on PATH is used only then).
gate_on_path() {
  stub inspector-gate "$GATE_BODY"
  export ${PREFIX}_VERSION=path
}

context=inspector-gate-$STEP-$ISLUG

@test "pass: runs the gate, annotates success, sets meta-data, uploads the reports, exits 0" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_FAIL_ON=HIGH

  run "$HOOK"

  [ "$status" -eq 0 ]
  assert_calls \
    "inspector-gate --version" \
    "inspector-gate gate --image=$IMAGE --fail-on=HIGH --report-dir=$DIR" \
    "buildkite-agent annotate --style success --context $context" \
    "$(meta_calls pass)" \
    "buildkite-agent artifact upload $DIR/\\*"
  [ "$(cat "$BATS_TEST_TMPDIR/annotation.md")" = "## inspector-gate: pass" ]
}

@test "every option is mapped to its gate flag; arrays become repeated flags" {
  gate_on_path
  export ${PREFIX}_IMAGE_0=$IMAGE
  export ${PREFIX}_IMAGE_1=123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:2
  export ${PREFIX}_PUSH_FROM_0=docker-archive:image.tar ${PREFIX}_PUSH_FROM_1=docker-archive:worker.tar
  export ${PREFIX}_TAG_0=1.0 ${PREFIX}_TAG_1=stable
  export ${PREFIX}_POLICY=.inspector-gate.toml ${PREFIX}_POLICY_FLOOR=ssm:/ci/inspector-gate/floor
  export ${PREFIX}_MAX_CRITICAL=0 ${PREFIX}_MAX_HIGH=1 ${PREFIX}_MAX_MEDIUM=5 ${PREFIX}_MAX_LOW=20
  export ${PREFIX}_MAX_INFORMATIONAL=100
  export ${PREFIX}_MAX_UNTRIAGED=3 ${PREFIX}_FAIL_ON=CRITICAL ${PREFIX}_IGNORE_UNFIXED=true
  export ${PREFIX}_MIN_EPSS=0.1 ${PREFIX}_MIN_INSPECTOR_SCORE=7.5 ${PREFIX}_EXPLOIT_AVAILABLE_ONLY=true
  export ${PREFIX}_IGNORE_0=CVE-2024-0001 ${PREFIX}_IGNORE_1=GHSA-xxxx-yyyy-zzzz
  export ${PREFIX}_VEX_0=vex/app.openvex.json ${PREFIX}_VEX_1=vendor.openvex.json
  export ${PREFIX}_TIMEOUT=20m ${PREFIX}_ON_TIMEOUT=pass ${PREFIX}_REPORT_DIR=out/reports
  export ${PREFIX}_POLL_INTERVAL=10s ${PREFIX}_SETTLE=30s
  export ${PREFIX}_FORMAT=json ${PREFIX}_APPROVE=pipe/Approve/ManualApproval
  export ${PREFIX}_PIPELINE_EXECUTION_ID=exec-1 ${PREFIX}_IMAGE_DEFINITIONS=imagedefinitions.json
  export ${PREFIX}_REPORT_URL=https://buildkite.com/acme/app/builds/42
  export ${PREFIX}_CONTAINER_NAME=web ${PREFIX}_IMAGE_DETAIL=imageDetail.json
  export ${PREFIX}_BASELINE=ecs:prod/web ${PREFIX}_BASELINE_OPTIONAL=true
  export ${PREFIX}_REGION=eu-west-1 ${PREFIX}_PROFILE=ci
  export ${PREFIX}_ROLE_ARN=arn:aws:iam::123456789012:role/gate ${PREFIX}_ROLE_EXTERNAL_ID=ext-1
  export ${PREFIX}_API_RATE=0.5
  export ${PREFIX}_REGISTRY_URL=http://127.0.0.1:5000 ${PREFIX}_INSECURE_REGISTRY=true
  export ${PREFIX}_QUIET=true ${PREFIX}_VERBOSE=true
  export ${PREFIX}_COLOR=never ${PREFIX}_DRY_RUN=true
  export ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false

  run "$HOOK"

  [ "$status" -eq 0 ]
  # Two images, one URI in the hand-off: no per-image keys (nothing to pair them by).
  assert_calls \
    "inspector-gate --version" \
    "inspector-gate gate --image=$IMAGE --image=123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:2 --push-from=docker-archive:image.tar --push-from=docker-archive:worker.tar --tag=1.0 --tag=stable --policy=.inspector-gate.toml --policy-floor=ssm:/ci/inspector-gate/floor --max-critical=0 --max-high=1 --max-medium=5 --max-low=20 --max-informational=100 --max-untriaged=3 --fail-on=CRITICAL --ignore-unfixed --min-epss=0.1 --min-inspector-score=7.5 --exploit-available-only --ignore=CVE-2024-0001 --ignore=GHSA-xxxx-yyyy-zzzz --vex=vex/app.openvex.json --vex=vendor.openvex.json --timeout=20m --on-timeout=pass --poll-interval=10s --settle=30s --report-dir=out/reports --format=json --approve=pipe/Approve/ManualApproval --pipeline-execution-id=exec-1 --report-url=https://buildkite.com/acme/app/builds/42 --image-definitions=imagedefinitions.json --container-name=web --image-detail=imageDetail.json --baseline=ecs:prod/web --baseline-optional --region=eu-west-1 --profile=ci --role-arn=arn:aws:iam::123456789012:role/gate --role-external-id=ext-1 --api-rate=0.5 --registry-url=http://127.0.0.1:5000 --insecure-registry -q -v --color=never --dry-run" \
    "$(meta_calls pass | head -n 3)"
}

@test "finding filters, wait tuning and the approval link map to their exact gate flags" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false
  export ${PREFIX}_MIN_EPSS=0.25 ${PREFIX}_MIN_INSPECTOR_SCORE=9 ${PREFIX}_EXPLOIT_AVAILABLE_ONLY=true
  export ${PREFIX}_POLL_INTERVAL=15s ${PREFIX}_SETTLE=1m
  export ${PREFIX}_APPROVE=pipe/Approve/ManualApproval ${PREFIX}_REPORT_URL='https://ci.example/b?id=1&x=2'

  run "$HOOK"

  [ "$status" -eq 0 ]
  assert_calls \
    "inspector-gate --version" \
    "inspector-gate gate --image=$IMAGE --min-epss=0.25 --min-inspector-score=9 --exploit-available-only --poll-interval=15s --settle=1m --report-dir=$DIR --approve=pipe/Approve/ManualApproval --report-url=https://ci.example/b\\?id=1\\&x=2" \
    "$(meta_calls pass)"
}

@test "exploit-available-only false is passed as =false; not a boolean is a usage error" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_EXPLOIT_AVAILABLE_ONLY=false ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false

  run "$HOOK"

  [ "$status" -eq 0 ]
  grep -qx "inspector-gate gate --image=$IMAGE --exploit-available-only=false --report-dir=$DIR" "$STUB_LOG"

  : >"$STUB_LOG"
  export ${PREFIX}_EXPLOIT_AVAILABLE_ONLY=maybe
  run "$HOOK"

  [ "$status" -eq 2 ]
  [[ $output == *"option exploit-available-only must be true or false"* ]]
  assert_no_calls
}

@test "ignore-unfixed and exploit-available-only set to false override the policy file (=false); unset passes nothing" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false
  export ${PREFIX}_IGNORE_UNFIXED=false ${PREFIX}_EXPLOIT_AVAILABLE_ONLY=FALSE

  run "$HOOK"

  [ "$status" -eq 0 ]
  assert_calls \
    "inspector-gate --version" \
    "inspector-gate gate --image=$IMAGE --ignore-unfixed=false --exploit-available-only=false --report-dir=$DIR" \
    "$(meta_calls pass)"

  : >"$STUB_LOG"
  unset ${PREFIX}_IGNORE_UNFIXED ${PREFIX}_EXPLOIT_AVAILABLE_ONLY
  run "$HOOK"

  [ "$status" -eq 0 ]
  grep -qx "inspector-gate gate --image=$IMAGE --report-dir=$DIR" "$STUB_LOG"
}

@test "policy-floor, max-informational and baseline map to their flags; baseline-optional and insecure-registry are strict booleans" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false
  export ${PREFIX}_POLICY_FLOOR=s3://ci-policies/inspector-gate/floor.toml ${PREFIX}_MAX_INFORMATIONAL=0
  export ${PREFIX}_BASELINE=ecs:prod/web/app ${PREFIX}_BASELINE_OPTIONAL=false
  export ${PREFIX}_INSECURE_REGISTRY=false

  run "$HOOK"

  [ "$status" -eq 0 ]
  grep -qx "inspector-gate gate --image=$IMAGE --policy-floor=s3://ci-policies/inspector-gate/floor.toml --max-informational=0 --report-dir=$DIR --baseline=ecs:prod/web/app" "$STUB_LOG"

  : >"$STUB_LOG"
  export ${PREFIX}_BASELINE_OPTIONAL=sometimes
  run "$HOOK"

  [ "$status" -eq 2 ]
  [[ $output == *"option baseline-optional must be true or false"* ]]
  assert_no_calls

  export ${PREFIX}_BASELINE_OPTIONAL=true ${PREFIX}_INSECURE_REGISTRY=maybe
  run "$HOOK"

  [ "$status" -eq 2 ]
  [[ $output == *"option insecure-registry must be true or false"* ]]
  assert_no_calls
}

@test "violation: annotation style error, verdict fail, exits 1" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE GATE_EXIT=1

  run "$HOOK"

  [ "$status" -eq 1 ]
  assert_calls \
    "inspector-gate --version" \
    "inspector-gate gate --image=$IMAGE --report-dir=$DIR" \
    "buildkite-agent annotate --style error --context $context" \
    "$(meta_calls fail)" \
    "buildkite-agent artifact upload $DIR/\\*"
  [[ $output == *"^^^ +++"* ]]
}

@test "inconclusive: annotation style warning, exits 3 (for soft_fail exit_status 3)" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE GATE_EXIT=3

  run "$HOOK"

  [ "$status" -eq 3 ]
  assert_calls \
    "inspector-gate --version" \
    "inspector-gate gate --image=$IMAGE --report-dir=$DIR" \
    "buildkite-agent annotate --style warning --context $context" \
    "$(meta_calls inconclusive)" \
    "buildkite-agent artifact upload $DIR/\\*"
}

@test "runtime error before any report: error annotation from the exit code, exits 4" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE GATE_EXIT=4 GATE_WRITES=0

  run "$HOOK"

  [ "$status" -eq 4 ]
  assert_calls \
    "inspector-gate --version" \
    "inspector-gate gate --image=$IMAGE --report-dir=$DIR" \
    "buildkite-agent annotate --style error --context $context" \
    "buildkite-agent meta-data set inspector-gate:$STEP:verdict error"
  grep -q 'Exited with code 4 (error)' "$BATS_TEST_TMPDIR/annotation.md"
}

@test "the annotation context names the images, one per gated set" {
  gate_on_path
  export ${PREFIX}_IMAGE_0='repo/a:1' ${PREFIX}_IMAGE_1='repo/b@sha256:abc' ${PREFIX}_UPLOAD_ARTIFACTS=false

  run "$HOOK"

  [ "$status" -eq 0 ]
  grep -qx "buildkite-agent annotate --style success --context inspector-gate-$STEP-repo-a-1-repo-b-sha256-abc" "$STUB_LOG"
}

@test "the hand-off file is read literally, never sourced" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false
  export GATE_DIGEST='$(touch pwned)'

  run "$HOOK"

  [ "$status" -eq 0 ]
  [ ! -e pwned ]
  grep -qxF "buildkite-agent meta-data set inspector-gate:$STEP:digest \\\$\\(touch\\ pwned\\)" "$STUB_LOG"
}

@test "a failing buildkite-agent does not change the gate's exit code" {
  gate_on_path
  stub buildkite-agent 'exit 1'
  export ${PREFIX}_IMAGE=$IMAGE GATE_EXIT=0

  run "$HOOK"

  [ "$status" -eq 0 ]
}

@test "missing image and push-from: usage error, exit 2, nothing run" {
  gate_on_path
  export ${PREFIX}_FAIL_ON=HIGH

  run "$HOOK"

  [ "$status" -eq 2 ]
  [[ $output == *"+++ "*"set 'image'"* ]]
  assert_no_calls
}

@test "attest maps to --attest KEY" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false \
    ${PREFIX}_ATTEST=awskms:///alias/inspector-gate

  run "$HOOK"

  [ "$status" -eq 0 ]
  grep -qx "inspector-gate gate --image=$IMAGE --report-dir=$DIR --attest=awskms:///alias/inspector-gate" "$STUB_LOG"
}

@test "soft-fail maps to --soft-fail and is a strict boolean" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false ${PREFIX}_SOFT_FAIL=true

  run "$HOOK"

  [ "$status" -eq 0 ]
  grep -qx "inspector-gate gate --image=$IMAGE --report-dir=$DIR --soft-fail" "$STUB_LOG"

  : >"$STUB_LOG"
  export ${PREFIX}_SOFT_FAIL=later
  run "$HOOK"

  [ "$status" -eq 2 ]
  [[ $output == *"option soft-fail must be true or false"* ]]
  assert_no_calls
}

@test "a boolean option that is not a boolean: usage error, exit 2, nothing run" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_UPLOAD_ARTIFACTS=sometimes

  run "$HOOK"

  [ "$status" -eq 2 ]
  [[ $output == *"option upload-artifacts must be true or false"* ]]
  assert_no_calls
}

# A fake release: the gate stub packed as the release asset for this agent, and its checksum.
make_release() {
  local target asset
  export GATE_VERSION=$VERSION
  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) target=x86_64-unknown-linux-musl ;;
    Linux/aarch64) target=aarch64-unknown-linux-musl ;;
    Darwin/x86_64) target=x86_64-apple-darwin ;;
    Darwin/arm64) target=aarch64-apple-darwin ;;
    *) skip "no release target for this machine" ;;
  esac
  asset="inspector-gate-$VERSION-$target.tar.gz"
  mkdir -p "$BATS_TEST_TMPDIR/pkg" "$BATS_TEST_TMPDIR/release"
  stub_write "$BATS_TEST_TMPDIR/pkg" inspector-gate "$GATE_BODY"
  tar -czf "$BATS_TEST_TMPDIR/release/$asset" -C "$BATS_TEST_TMPDIR/pkg" inspector-gate
  RELEASE_ASSET=$asset
  RELEASE_TARGET=$target
  RELEASE_URL="https://github.com/inspector-gate/inspector-gate/releases/download/v$VERSION/$asset"
  printf '%s  %s\n' "$(sha256sum "$BATS_TEST_TMPDIR/release/$asset" | cut -d' ' -f1)" "$asset" \
    >"$BATS_TEST_TMPDIR/checksums.txt"
  export INSPECTOR_GATE_CHECKSUMS_FILE="$BATS_TEST_TMPDIR/checksums.txt"
  # curl: serve the fake asset for the one URL it should be asked for.
  stub curl '
out= url=
while [[ $# -gt 0 ]]; do
  case $1 in --output) out=$2; shift 2 ;; --*) shift ;; *) url=$1; shift ;; esac
done
[[ $url == "'"$RELEASE_URL"'" ]] || { echo "curl: (22) 404 for $url" >&2; exit 22; }
cp "'"$BATS_TEST_TMPDIR/release/$asset"'" "$out"'
}

curl_call() {
  # The temp directory's name is random: match the --output path's shape, not its name.
  sed -E "s#--output [^ ]*/$RELEASE_ASSET #--output TMP/$RELEASE_ASSET #" "$STUB_LOG" >"$STUB_LOG.norm"
  mv "$STUB_LOG.norm" "$STUB_LOG"
}

@test "not on PATH: downloads the pinned release with curl, verifies it, caches it" {
  make_release
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false

  run "$HOOK"

  [ "$status" -eq 0 ]
  curl_call
  assert_calls \
    "curl --fail --silent --show-error --location --proto =https --proto-redir =https --retry 3 --connect-timeout 20 --max-time 300 --output TMP/$RELEASE_ASSET $RELEASE_URL" \
    "inspector-gate --version" \
    "inspector-gate gate --image=$IMAGE --report-dir=$DIR" \
    "$(meta_calls pass)"

  # Second run: from the cache, re-hashed, no download.
  : >"$STUB_LOG"
  run "$HOOK"
  [ "$status" -eq 0 ]
  [ "$(grep -c '^curl ' "$STUB_LOG")" -eq 0 ]
  [[ $output == *"cached asset re-verified against its SHA-256 pin"* ]]
  grep -q '^inspector-gate gate ' "$STUB_LOG"
}

@test "a cached asset that no longer matches its pin is never run: downloaded again" {
  make_release
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false
  run "$HOOK"
  [ "$status" -eq 0 ]
  printf 'x' >>"$INSPECTOR_GATE_CACHE_DIR/$VERSION/$RELEASE_TARGET/$RELEASE_ASSET"
  : >"$STUB_LOG"

  run "$HOOK"

  [ "$status" -eq 0 ]
  [[ $output == *"cached $RELEASE_ASSET does not match its SHA-256 pin"* ]]
  [ "$(grep -c '^curl ' "$STUB_LOG")" -eq 1 ]
  [ "$(sha256sum "$INSPECTOR_GATE_CACHE_DIR/$VERSION/$RELEASE_TARGET/$RELEASE_ASSET" | cut -d' ' -f1)" = \
    "$(cut -d' ' -f1 "$INSPECTOR_GATE_CHECKSUMS_FILE")" ]
}

@test "outside test mode a local checksums file is ignored" {
  make_release
  unset INSPECTOR_GATE_TEST_MODE
  stub cargo 'exit 99'
  export ${PREFIX}_IMAGE=$IMAGE

  run "$HOOK"

  # The plugin's own checksums.txt decides: it pins nothing here, so a source build (which the
  # stubbed cargo fails): exit 4, and the fake release is never downloaded.
  [ "$status" -eq 4 ]
  [[ $output == *"warning: inspector-gate: INSPECTOR_GATE_CHECKSUMS_FILE is ignored outside this plugin's tests"* ]]
  [[ $output == *"cargo install --locked --path"*"failed"* ]]
  ! grep -q '^curl ' "$STUB_LOG"
}

@test "outside test mode a release mirror (INSPECTOR_GATE_RELEASE_BASE_URL) is ignored: GitHub releases, with a warning" {
  make_release
  unset INSPECTOR_GATE_TEST_MODE
  # The plugin's own checksums.txt decides now: give it the fake release's pin.
  mkdir -p "$BATS_TEST_TMPDIR/plugin"
  cp -r "$BATS_TEST_DIRNAME/../hooks" "$BATS_TEST_DIRNAME/../lib" "$BATS_TEST_TMPDIR/plugin/"
  cp "$INSPECTOR_GATE_CHECKSUMS_FILE" "$BATS_TEST_TMPDIR/plugin/checksums.txt"
  unset INSPECTOR_GATE_CHECKSUMS_FILE
  export INSPECTOR_GATE_RELEASE_BASE_URL=https://mirror.example/releases ${PREFIX}_IMAGE=$IMAGE
  export ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false

  run "$BATS_TEST_TMPDIR/plugin/hooks/command"

  [ "$status" -eq 0 ]
  [[ $output == *"warning: inspector-gate: INSPECTOR_GATE_RELEASE_BASE_URL is ignored outside this plugin's tests"* ]]
  curl_call
  [ "$(grep '^curl ' "$STUB_LOG")" = "curl --fail --silent --show-error --location --proto =https --proto-redir =https --retry 3 --connect-timeout 20 --max-time 300 --output TMP/$RELEASE_ASSET $RELEASE_URL" ]
}

@test "test mode: a release mirror is used with a warning, and only over https" {
  make_release
  export INSPECTOR_GATE_RELEASE_BASE_URL=http://mirror.example/releases ${PREFIX}_IMAGE=$IMAGE

  run "$HOOK"

  [ "$status" -eq 2 ]
  [[ $output == *"INSPECTOR_GATE_RELEASE_BASE_URL must be an https:// URL"* ]]
  assert_no_calls

  export INSPECTOR_GATE_RELEASE_BASE_URL=https://mirror.example/releases
  run "$HOOK"

  [ "$status" -eq 4 ]
  [[ $output == *"warning: inspector-gate: test mode: downloading from INSPECTOR_GATE_RELEASE_BASE_URL=https://mirror.example/releases"* ]]
  [[ $output == *"warning: inspector-gate: test mode: SHA-256 pins from INSPECTOR_GATE_CHECKSUMS_FILE="* ]]
  [[ $output == *"download of https://mirror.example/releases/v$VERSION/$RELEASE_ASSET failed"* ]]
}

@test "checksum mismatch: refused with a +++ error, exit 4, nothing run" {
  make_release
  printf '%s  %s\n' 0000000000000000000000000000000000000000000000000000000000000000 "$RELEASE_ASSET" \
    >"$INSPECTOR_GATE_CHECKSUMS_FILE"
  export ${PREFIX}_IMAGE=$IMAGE

  run "$HOOK"

  [ "$status" -eq 4 ]
  [[ $output == *"+++ :rotating_light: inspector-gate: checksum mismatch for $RELEASE_ASSET"* ]]
  curl_call
  assert_calls \
    "curl --fail --silent --show-error --location --proto =https --proto-redir =https --retry 3 --connect-timeout 20 --max-time 300 --output TMP/$RELEASE_ASSET $RELEASE_URL" \
    "buildkite-agent annotate --style error --context $context"
  [[ $(cat "$BATS_TEST_TMPDIR/annotation.md") == *"could not be installed (exit 4):"*"checksum mismatch for $RELEASE_ASSET"* ]]
  [ -z "$(ls -A "$INSPECTOR_GATE_CACHE_DIR" 2>/dev/null)" ]
}

# read_only DIR COMMAND... — run COMMAND with DIR unwritable: a read-only bind mount in a
# mount namespace of its own when root (whom permissions do not stop), else chmod.
read_only() {
  local dir=$1 status=0
  shift
  if [[ $(id -u) -eq 0 ]]; then
    unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"' \
      sh "$dir" "$@" || status=$?
  else
    chmod -R a-w "$dir"
    "$@" || status=$?
    chmod -R u+w "$dir"
  fi
  return "$status"
}

# tampered_asset — replace the cached release asset with a well-formed one whose binary, if it
# ever ran, would leave $BATS_TEST_TMPDIR/tampered-ran behind and pass.
tampered_asset() {
  mkdir -p "$BATS_TEST_TMPDIR/evil"
  stub_write "$BATS_TEST_TMPDIR/evil" inspector-gate \
    "touch '$BATS_TEST_TMPDIR/tampered-ran'
$GATE_BODY"
  tar -czf "$INSPECTOR_GATE_CACHE_DIR/$VERSION/$RELEASE_TARGET/$RELEASE_ASSET" -C "$BATS_TEST_TMPDIR/evil" inspector-gate
}

@test "a tampered cached asset with an unwritable cache directory is never run: exit 4, annotated" {
  if [[ $(id -u) -eq 0 ]] && ! unshare -m true 2>/dev/null; then skip "root without mount namespaces"; fi
  make_release
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_UPLOAD_ARTIFACTS=false
  run "$HOOK"
  [ "$status" -eq 0 ]
  tampered_asset
  : >"$STUB_LOG"
  rm -f "$BATS_TEST_TMPDIR/annotation.md"

  run read_only "$INSPECTOR_GATE_CACHE_DIR" "$HOOK"

  echo "$output"
  [ "$status" -eq 4 ]
  [ ! -e "$BATS_TEST_TMPDIR/tampered-ran" ]
  ! grep -q '^inspector-gate ' "$STUB_LOG"
  [[ $output == *"cached $RELEASE_ASSET does not match its SHA-256 pin: downloading it again"* ]]
  [[ $output == *"+++ :rotating_light: inspector-gate: cannot store the verified $RELEASE_ASSET in the cache directory $INSPECTOR_GATE_CACHE_DIR/$VERSION/$RELEASE_TARGET"* ]]
  [ "$(grep -c '^curl ' "$STUB_LOG")" -eq 1 ]
  grep -qx "buildkite-agent annotate --style error --context $context" "$STUB_LOG"
  [[ $(cat "$BATS_TEST_TMPDIR/annotation.md") == *"could not be installed (exit 4):"*"cannot store the verified $RELEASE_ASSET"* ]]

  # Writable again: the verified download replaces the tampered entry and runs.
  : >"$STUB_LOG"
  run "$HOOK"
  [ "$status" -eq 0 ]
  [ ! -e "$BATS_TEST_TMPDIR/tampered-ran" ]
  grep -q '^inspector-gate gate ' "$STUB_LOG"
}

@test "a command of the install that fails unexpectedly stops it: exit 4 naming the command, nothing run" {
  make_release
  export ${PREFIX}_IMAGE=$IMAGE
  # Defined last: the other stubs were made executable with the real chmod.
  stub chmod 'exit 1'

  run "$HOOK"

  echo "$output"
  [ "$status" -eq 4 ]
  [[ $output == *"+++ :rotating_light: inspector-gate: installing inspector-gate failed: \`chmod +x "* ]]
  [[ $output == *"exited with 1"* ]]
  ! grep -q '^inspector-gate ' "$STUB_LOG"
  grep -qx "buildkite-agent annotate --style error --context $context" "$STUB_LOG"
}

@test "a binary that changed after it was installed is never run: exit 4" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false
  # The install hashes the binary; replace it the moment its version has been checked.
  stub_write "$STUB_BIN" inspector-gate '
if [[ ${1:-} == --version ]]; then
  echo "inspector-gate $GATE_VERSION"
  printf "#!/bin/sh\ntouch %s/replaced-ran\n" "$BATS_TEST_TMPDIR" >"$0"
  exit 0
fi
exit 0'

  run "$HOOK"

  echo "$output"
  [ "$status" -eq 4 ]
  [[ $output == *"$STUB_BIN/inspector-gate changed after it was installed"*"refusing to run it"* ]]
  [ ! -e "$BATS_TEST_TMPDIR/replaced-ran" ]
  assert_calls "inspector-gate --version"
}

# A fake cargo: `cargo install ... --root DIR` "builds" the gate stub into DIR/bin.
fake_cargo() {
  stub cargo '
root=
while [[ $# -gt 0 ]]; do case $1 in --root) root=$2; shift 2 ;; *) shift ;; esac; done
mkdir -p "$root/bin"
cp "'"$BATS_TEST_TMPDIR"'/pkg/inspector-gate" "$root/bin/inspector-gate"'
}

# snapshot_repo — a copy of the plugin next to a snapshot of the sources it builds (Cargo.toml,
# Cargo.lock, src/), so the source cache key does not move while the real tree is being edited;
# sets SNAPSHOT (its root) and SNAPSHOT_HOOK.
snapshot_repo() {
  local root
  root=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
  SNAPSHOT="$BATS_TEST_TMPDIR/repo"
  mkdir -p "$SNAPSHOT/buildkite"
  cp -r "$root/Cargo.toml" "$root/Cargo.lock" "$root/src" "$SNAPSHOT/"
  cp -r "$BATS_TEST_DIRNAME/../hooks" "$BATS_TEST_DIRNAME/../lib" "$SNAPSHOT/buildkite/"
  SNAPSHOT_HOOK="$SNAPSHOT/buildkite/hooks/command"
}

@test "no release pinned: built from the repository's source with cargo install --locked, then cached" {
  make_release
  : >"$INSPECTOR_GATE_CHECKSUMS_FILE"
  fake_cargo
  snapshot_repo
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false

  run "$SNAPSHOT_HOOK"

  [ "$status" -eq 0 ]
  local src=$SNAPSHOT
  sed -E "s#--root [^ ]*/source-build\.[A-Za-z0-9]+ #--root BUILD #" "$STUB_LOG" >"$STUB_LOG.norm"
  mv "$STUB_LOG.norm" "$STUB_LOG"
  assert_calls \
    "cargo install --locked --path $src --root BUILD --bin inspector-gate" \
    "inspector-gate --version" \
    "inspector-gate gate --image=$IMAGE --report-dir=$DIR" \
    "$(meta_calls pass)"
  [[ $output == *"pins no release (checksums.txt lists no $RELEASE_ASSET): building inspector-gate from $src"* ]]
  # What runs is a fresh copy of the build, not the cache entry itself.
  [[ $output == *"inspector-gate $CARGO_VERSION (built from source: "* ]]
  [[ $output != *"(built from source: $INSPECTOR_GATE_CACHE_DIR/"* ]]
  # The build record: the binary's SHA-256 and the source key the entry is named after.
  local entry record
  entry=$(echo "$INSPECTOR_GATE_CACHE_DIR"/source-*)
  record=$(cat "$entry/inspector-gate.sha256")
  [[ $record =~ ^([0-9a-f]{64})\ \ ([0-9a-f]{64})$ ]]
  [ "${BASH_REMATCH[1]}" = "$(sha256sum "$entry/bin/inspector-gate" | cut -d' ' -f1)" ]
  [ "$(basename "$entry")" = "source-${BASH_REMATCH[2]:0:16}" ]

  # The next job finds the build in the cache: no cargo.
  : >"$STUB_LOG"
  run "$SNAPSHOT_HOOK"
  [ "$status" -eq 0 ]
  ! grep -q '^cargo ' "$STUB_LOG"
  [[ $output == *"found in the source cache"*"SHA-256 re-checked against its build record"* ]]
}

@test "a cached source build that no longer matches its build record is rebuilt, never run" {
  make_release
  : >"$INSPECTOR_GATE_CHECKSUMS_FILE"
  fake_cargo
  snapshot_repo
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false
  run "$SNAPSHOT_HOOK"
  [ "$status" -eq 0 ]
  local entry
  entry=$(echo "$INSPECTOR_GATE_CACHE_DIR"/source-*)
  [ -f "$entry/bin/inspector-gate" ]

  # The binary changed after the build: rebuilt.
  printf '\ntouch "%s/tampered-ran"\n' "$BATS_TEST_TMPDIR" >>"$entry/bin/inspector-gate"
  : >"$STUB_LOG"
  run "$SNAPSHOT_HOOK"
  [ "$status" -eq 0 ]
  [[ $output == *"does not match the SHA-256 recorded when it was built"* ]]
  [ "$(grep -c '^cargo install' "$STUB_LOG")" -eq 1 ]
  [ ! -e "$BATS_TEST_TMPDIR/tampered-ran" ]
  ! grep -q tampered-ran "$entry/bin/inspector-gate"

  # A record forged for a tampered binary but naming other sources does not vouch for it.
  printf '\ntouch "%s/tampered-ran"\n' "$BATS_TEST_TMPDIR" >>"$entry/bin/inspector-gate"
  printf '%s  %064d\n' "$(sha256sum "$entry/bin/inspector-gate" | cut -d' ' -f1)" 0 >"$entry/inspector-gate.sha256"
  : >"$STUB_LOG"
  run "$SNAPSHOT_HOOK"
  [ "$status" -eq 0 ]
  [ "$(grep -c '^cargo install' "$STUB_LOG")" -eq 1 ]
  [ ! -e "$BATS_TEST_TMPDIR/tampered-ran" ]

  # No record at all: rebuilt.
  rm -f "$entry/inspector-gate.sha256"
  : >"$STUB_LOG"
  run "$SNAPSHOT_HOOK"
  [ "$status" -eq 0 ]
  [ "$(grep -c '^cargo install' "$STUB_LOG")" -eq 1 ]
  [ -f "$entry/inspector-gate.sha256" ]
}

@test "version: source builds the plugin's own source even when a release is pinned" {
  make_release
  fake_cargo
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_VERSION=source ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false

  run "$HOOK"

  [ "$status" -eq 0 ]
  [[ $output == *"version: source: building inspector-gate from"* ]]
  ! grep -q '^curl ' "$STUB_LOG"
  grep -q '^cargo install --locked' "$STUB_LOG"
}

@test "no release pinned and no cargo on the agent: exit 2 with what to do" {
  make_release
  : >"$INSPECTOR_GATE_CHECKSUMS_FILE"
  export ${PREFIX}_IMAGE=$IMAGE
  if PATH=/usr/bin:/bin command -v cargo >/dev/null; then skip "cargo is installed system-wide"; fi

  run "$HOOK"

  [ "$status" -eq 2 ]
  [[ $output == *"building it from source needs Rust (cargo) on the agent"* ]]
  assert_no_calls
}

@test "no release pinned and no source (a copy of the plugin directory alone): exit 2" {
  make_release
  : >"$INSPECTOR_GATE_CHECKSUMS_FILE"
  fake_cargo
  mkdir -p "$BATS_TEST_TMPDIR/alone/plugin"
  cp -r "$BATS_TEST_DIRNAME/../hooks" "$BATS_TEST_DIRNAME/../lib" "$BATS_TEST_TMPDIR/alone/plugin/"
  export ${PREFIX}_IMAGE=$IMAGE

  run "$BATS_TEST_TMPDIR/alone/plugin/hooks/command"

  [ "$status" -eq 2 ]
  [[ $output == *"pins no release"*"has no source next to it to build"* ]]
  assert_no_calls
}

@test "an inspector-gate on PATH is not used unless version: path asks for it" {
  make_release
  stub inspector-gate 'touch "$BATS_TEST_TMPDIR/path-binary-ran"; exit 97'
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false

  run "$HOOK"

  [ "$status" -eq 0 ]
  [ ! -e "$BATS_TEST_TMPDIR/path-binary-ran" ]
  [[ $output == *"$STUB_BIN/inspector-gate (on the agent's PATH) is not used: set the plugin option version: path"* ]]
  [[ $output == *"inspector-gate $VERSION (release $VERSION, SHA-256 verified: "* ]]
  [ "$(grep -c '^curl ' "$STUB_LOG")" -eq 1 ]

  # Asked for: used, its version checked and logged.
  rm -f "$STUB_BIN/inspector-gate"
  gate_on_path
  : >"$STUB_LOG"
  run "$HOOK"
  [ "$status" -eq 0 ]
  [[ $output == *"inspector-gate $VERSION (from PATH: $STUB_BIN/inspector-gate)"* ]]
  ! grep -q '^curl ' "$STUB_LOG"
}

@test "version: path without inspector-gate on PATH, or an unknown version: exit 2, nothing run" {
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_VERSION=path

  run "$HOOK"

  [ "$status" -eq 2 ]
  [[ $output == *"version: path, but there is no inspector-gate on the agent's PATH"* ]]
  assert_no_calls

  export ${PREFIX}_VERSION=latest
  run "$HOOK"
  [ "$status" -eq 2 ]
  [[ $output == *"option version must be unset (the release this plugin pins), source or path, not 'latest'"* ]]
  assert_no_calls
}

@test "on PATH: the version is checked; another major.minor is refused, exit 2" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE GATE_VERSION=99.0.0

  run "$HOOK"

  [ "$status" -eq 2 ]
  [[ $output == *"inspector-gate 99.0.0 (from PATH) does not match this plugin's version $CARGO_VERSION"* ]]
  assert_calls "inspector-gate --version"
}

@test "options are read under the plugin's own name (BUILDKITE_PLUGIN_INSPECTOR_GATE_*), never another plugin's" {
  gate_on_path
  # inspector-gate-buildkite-plugin/ (the agent drops the suffix): INSPECTOR_GATE.
  export BUILDKITE_PLUGIN_NAME=INSPECTOR_GATE ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_FAIL_ON=HIGH
  export ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false
  # Another plugin of the step, kept in a directory named buildkite: its options are not ours.
  export BUILDKITE_PLUGIN_BUILDKITE_FAIL_ON=LOW BUILDKITE_PLUGIN_BUILDKITE_IMAGE=other:1
  export BUILDKITE_PLUGIN_BUILDKITE_DRY_RUN=true

  run "$HOOK"

  [ "$status" -eq 0 ]
  grep -qx "inspector-gate gate --image=$IMAGE --fail-on=HIGH --report-dir=$DIR" "$STUB_LOG"
  [[ $output != *"deprecated plugin location"* ]]
}

@test "the former location (buildkite/, BUILDKITE_PLUGIN_BUILDKITE_*) still works, with a deprecation warning" {
  gate_on_path
  # From the repository's buildkite directory (or a vendored directory of that name).
  export BUILDKITE_PLUGIN_NAME=BUILDKITE BUILDKITE_PLUGIN_BUILDKITE_IMAGE=$IMAGE
  export BUILDKITE_PLUGIN_BUILDKITE_FAIL_ON=HIGH BUILDKITE_PLUGIN_BUILDKITE_ANNOTATE=false
  export BUILDKITE_PLUGIN_BUILDKITE_UPLOAD_ARTIFACTS=false BUILDKITE_PLUGIN_BUILDKITE_VERSION=path

  run "$BATS_TEST_DIRNAME/../../buildkite/hooks/command"

  [ "$status" -eq 0 ]
  grep -qx "inspector-gate gate --image=$IMAGE --fail-on=HIGH --report-dir=$DIR" "$STUB_LOG"
  [[ $output == *"warning: inspector-gate: deprecated plugin location: the options arrive as BUILDKITE_PLUGIN_BUILDKITE_*"*"inspector-gate-buildkite-plugin#<commit>"*"until v0.2.0"* ]]

  # The same through the plugin's own hook (a vendored copy named buildkite).
  : >"$STUB_LOG"
  run "$HOOK"
  [ "$status" -eq 0 ]
  grep -qx "inspector-gate gate --image=$IMAGE --fail-on=HIGH --report-dir=$DIR" "$STUB_LOG"
  [[ $output == *"deprecated plugin location"* ]]
}

@test "download failure: exit 4 with the URL" {
  make_release
  export INSPECTOR_GATE_RELEASE_BASE_URL=https://mirror.invalid/releases
  export ${PREFIX}_IMAGE=$IMAGE

  run "$HOOK"

  [ "$status" -eq 4 ]
  [[ $output == *"download of https://mirror.invalid/releases/v$VERSION/$RELEASE_ASSET failed"* ]]
}

@test "several images: the gate's shell-quoted values are unquoted, not evaluated" {
  export ${PREFIX}_VERSION=path
  stub inspector-gate '
if [[ $1 == --version ]]; then echo "inspector-gate $GATE_VERSION"; exit 0; fi
printf "%s\n" "IMAGE_DIGEST='"'"'sha256:aa sha256:bb'"'"'" "IMAGE_URI='"'"'r@sha256:aa it'"'"'\\'"'"''"'"'s'"'"'" "GATE_VERDICT=pass" \
  >"$INSPECTOR_GATE_CODEBUILD_ENV_FILE"'
  export ${PREFIX}_IMAGE_0=repo/a:1 ${PREFIX}_IMAGE_1=repo/b:1 ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false

  run "$HOOK"

  [ "$status" -eq 0 ]
  assert_calls \
    "inspector-gate --version" \
    "inspector-gate gate --image=repo/a:1 --image=repo/b:1 --report-dir=inspector-gate-reports/$STEP/repo-a-1-repo-b-1" \
    "buildkite-agent meta-data set inspector-gate:$STEP:verdict pass" \
    "buildkite-agent meta-data set inspector-gate:$STEP:digest sha256:aa\\ sha256:bb" \
    "buildkite-agent meta-data set inspector-gate:$STEP:image-uri r@sha256:aa\\ it\\'s" \
    "buildkite-agent meta-data set inspector-gate:$STEP:repo-a-1:image-uri r@sha256:aa" \
    "buildkite-agent meta-data set inspector-gate:$STEP:repo-a-1:digest sha256:aa" \
    "buildkite-agent meta-data set inspector-gate:$STEP:repo-b-1:image-uri it\\'s" \
    "buildkite-agent meta-data set inspector-gate:$STEP:repo-b-1:digest sha256:bb"
}

@test "pass without a summary (dry run): a short success annotation" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE GATE_WRITES=0 ${PREFIX}_DRY_RUN=true

  run "$HOOK"

  [ "$status" -eq 0 ]
  grep -q 'Passed (no summary was written' "$BATS_TEST_TMPDIR/annotation.md"
  grep -qx "buildkite-agent annotate --style success --context $context" "$STUB_LOG"
}

@test "meta-data keys are namespaced by step: two gate steps in one build never overwrite each other" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false

  export BUILDKITE_STEP_KEY=gate-web
  run "$HOOK"
  [ "$status" -eq 0 ]
  export BUILDKITE_STEP_KEY= BUILDKITE_LABEL=":shield: gate the worker"
  run "$HOOK"
  [ "$status" -eq 0 ]

  grep -qx "buildkite-agent meta-data set inspector-gate:gate-web:verdict pass" "$STUB_LOG"
  grep -qx "buildkite-agent meta-data set inspector-gate:gate-web:$ISLUG:image-uri $URI" "$STUB_LOG"
  grep -qx "buildkite-agent meta-data set inspector-gate:shield-gate-the-worker:verdict pass" "$STUB_LOG"
  # Every key names its step.
  ! grep -E '^buildkite-agent meta-data set inspector-gate[^:]' "$STUB_LOG"
  [[ $output == *"meta-data inspector-gate:shield-gate-the-worker:image-uri=$URI"* ]]
}

@test "the hand-off file is uploaded with the reports" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE

  run "$HOOK"

  [ "$status" -eq 0 ]
  grep -qxF "buildkite-agent artifact upload $DIR/\\*" "$STUB_LOG"
  grep -qx "IMAGE_URI=$URI" "$DIR/inspector-gate.env"
  grep -qx "GATE_VERDICT=pass" "$DIR/inspector-gate.env"
}

@test "exit 2/3/4: the gate's error line is in the annotation" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE GATE_EXIT=4 GATE_WRITES=0
  stub inspector-gate '
if [[ $1 == --version ]]; then echo "inspector-gate $GATE_VERSION"; exit 0; fi
echo "waiting for the scan" >&2
echo "error: ECR denied ecr:BatchGetImage on app (add it to the role)" >&2
exit 4'

  run "$HOOK"

  [ "$status" -eq 4 ]
  grep -qF '**inspector-gate exited with 4 (error):** `ECR denied ecr:BatchGetImage on app (add it to the role)`' \
    "$BATS_TEST_TMPDIR/annotation.md"
  [[ $output == *"error: ECR denied"* ]] # still in the log, live
}

@test "inconclusive with a summary: the cause line first, then the summary" {
  export ${PREFIX}_VERSION=path
  stub inspector-gate '
if [[ $1 == --version ]]; then echo "inspector-gate $GATE_VERSION"; exit 0; fi
for arg in "$@"; do case $arg in --report-dir=*) dir=${arg#--report-dir=} ;; esac; done
mkdir -p "$dir"; echo "## inspector-gate: inconclusive" >"$dir/summary.md"
echo "error: the scan of sha256:aa did not finish within 30m" >&2
exit 3'
  export ${PREFIX}_IMAGE=$IMAGE

  run "$HOOK"

  [ "$status" -eq 3 ]
  [ "$(head -n 1 "$BATS_TEST_TMPDIR/annotation.md")" = '**inspector-gate exited with 3 (inconclusive):** `the scan of sha256:aa did not finish within 30m`' ]
  grep -qx '## inspector-gate: inconclusive' "$BATS_TEST_TMPDIR/annotation.md"
}

@test "default report dirs: one per step and image set, emptied first; a chosen one is left alone" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_ANNOTATE=false
  mkdir -p "$DIR" && echo stale >"$DIR/stale.txt"

  run "$HOOK"

  [ "$status" -eq 0 ]
  [ ! -e "$DIR/stale.txt" ]
  export ${PREFIX}_IMAGE=123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:2
  run "$HOOK"
  [ -f "$DIR/summary.md" ] # the first run's reports survive the second
  [ -f "inspector-gate-reports/$STEP/123456789012.dkr.ecr.us-east-1.amazonaws.com-worker-2/summary.md" ]

  mkdir -p mine && echo keep >mine/keep.txt
  export ${PREFIX}_REPORT_DIR=mine
  run "$HOOK"
  [ -f mine/keep.txt ]
}

@test "credentials in a registry URL are not logged; the gate still gets them" {
  gate_on_path
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_REGISTRY_URL=https://ci-user:s3cr3t@registry.example:5000
  export ${PREFIX}_ANNOTATE=false ${PREFIX}_UPLOAD_ARTIFACTS=false

  run "$HOOK"

  [ "$status" -eq 0 ]
  [[ $output == *"--registry-url=https://registry.example:5000"* ]]
  [[ $output != *s3cr3t* ]]
  grep -qF -- "--registry-url=https://ci-user:s3cr3t@registry.example:5000" "$STUB_LOG"
}

@test "the real binary: a dry run passes (with api-rate); an image without tag is exit 2 with its error in the annotation" {
  [[ -x ${INSPECTOR_GATE_REAL_BIN:-} ]] || {
    echo "set INSPECTOR_GATE_REAL_BIN to a built inspector-gate (tests/integrations.sh does)" >&2
    return 1
  }
  ln -s "$INSPECTOR_GATE_REAL_BIN" "$STUB_BIN/inspector-gate"
  export ${PREFIX}_VERSION=path
  export AWS_ACCESS_KEY_ID=AKIDTESTTESTTESTTEST AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
  export ${PREFIX}_IMAGE=$IMAGE ${PREFIX}_FAIL_ON=HIGH ${PREFIX}_DRY_RUN=true ${PREFIX}_API_RATE=0.5

  run "$HOOK"

  [ "$status" -eq 0 ]
  [[ $output == *"inspector-gate $CARGO_VERSION (from PATH: "* ]]
  # The rate reaches the real CLI, which accepts it and plans with it.
  [[ $output == *"api rate: 0.5 requests/s per service"* ]]
  grep -qx "buildkite-agent annotate --style success --context $context" "$STUB_LOG"
  grep -qx "buildkite-agent meta-data set inspector-gate:$STEP:verdict pass" "$STUB_LOG"

  : >"$STUB_LOG"
  export ${PREFIX}_IMAGE=123456789012.dkr.ecr.us-east-1.amazonaws.com/app
  run "$HOOK"

  [ "$status" -eq 2 ]
  grep -q '^\*\*inspector-gate exited with 2 (error):\*\* `bad image reference' "$BATS_TEST_TMPDIR/annotation.md"
  grep -qx "buildkite-agent meta-data set inspector-gate:$STEP:verdict error" "$STUB_LOG"
}
