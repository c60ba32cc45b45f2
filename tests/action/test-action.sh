#!/usr/bin/env bash
# Runs the GitHub Action (action.yml) here, with a simulated runner: temp GITHUB_OUTPUT,
# GITHUB_STEP_SUMMARY and GITHUB_PATH, RUNNER_OS/RUNNER_ARCH, a tool cache, and a file:// release
# holding a stub `inspector-gate` packed exactly like a real release asset, with its SHA-256 in
# a checksums file. Checks the outputs, the arguments the binary receives, exit-code
# propagation, the tool cache, and that a checksum mismatch or a missing pin is refused.
#
# usage: tests/action/test-action.sh      (prints one line per case and "N passed, M failed")
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=${PYTHON:-}
if [[ -z $python ]]; then
  if [[ -x $root/.venv/bin/python ]]; then python=$root/.venv/bin/python; else python=python3; fi
fi

# shellcheck source=SCRIPTDIR/../../scripts/action/lib.sh
. "$root/scripts/action/lib.sh"
version=$(ig_version)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The stub binary: records its arguments, writes what the real binary writes under GitHub
# Actions (outputs, step summary, reports) unless STUB_WRITES=0, exits with STUB_EXIT.
cat >"$work/inspector-gate" <<'STUB'
#!/usr/bin/env bash
set -euo pipefail
printf '%s\n' "$@" >"$STUB_ARGS"
code=${STUB_EXIT:-0}
report_dir=
for arg in "$@"; do
  case $arg in --report-dir=*) report_dir=${arg#--report-dir=} ;; esac
done
if [[ ${STUB_WRITES:-1} == 1 ]]; then
  case $code in 0) verdict=pass ;; 1) verdict=fail ;; 3) verdict=inconclusive ;; *) verdict=error ;; esac
  mkdir -p "$report_dir"
  echo '{"verdict":"'"$verdict"'"}' >"$report_dir/report.json"
  echo '{"version":"2.1.0","runs":[]}' >"$report_dir/report.sarif"
  echo '<testsuites/>' >"$report_dir/junit.xml"
  echo "## inspector-gate: $verdict" >"$report_dir/summary.md"
  digest=sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945
  {
    echo "verdict=$verdict"
    echo "digest=$digest"
    echo "image-uri=123456789012.dkr.ecr.us-east-1.amazonaws.com/app@$digest"
    echo "report-dir=$report_dir"
    echo "sarif=$report_dir/report.sarif"
  } >>"$GITHUB_OUTPUT"
  cat "$report_dir/summary.md" >>"$GITHUB_STEP_SUMMARY"
fi
exit "$code"
STUB
chmod +x "$work/inspector-gate"

release="$work/release"
for target in x86_64-unknown-linux-musl x86_64-pc-windows-msvc; do
  bash "$root/scripts/action/pack-release.sh" "$work/inspector-gate" "$release" "$target" >/dev/null
done
good_sums="$release/SHA256SUMS"

passed=0
failed=0

# A fresh simulated runner for each case.
new_runner() {
  runner=$(mktemp -d "$work/runner.XXXXXX")
  mkdir -p "$runner/temp" "$runner/cache"
  : >"$runner/summary"
  : >"$runner/path"
  export RUNNER_OS=Linux RUNNER_ARCH=X64 GITHUB_ACTIONS=true
  export RUNNER_TEMP="$runner/temp" RUNNER_TOOL_CACHE="$runner/cache"
  export GITHUB_STEP_SUMMARY="$runner/summary" GITHUB_PATH="$runner/path"
  export INSPECTOR_GATE_RELEASE_BASE_URL="file://$release"
  export INSPECTOR_GATE_CHECKSUMS_FILE="$good_sums"
  export STUB_ARGS="$runner/args" STUB_EXIT=0 STUB_WRITES=1
}

# run_action INPUTS_JSON — run the action; sets $code, $result (JSON file), $log (stderr+stdout).
run_action() {
  result="$runner/result.json"
  log="$runner/log"
  code=0
  "$python" "$root/tests/action/run_composite.py" "$root" "$1" "$result" >"$log" 2>&1 || code=$?
}

# out NAME — an action output from the last run.
out() {
  "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputs"].get(sys.argv[2], ""))' "$result" "$1"
}
failed_step() {
  "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["failed_step"] or "")' "$result"
}

fail() {
  touch "$work/case-failed"
  echo "    $*" >&2
  [[ -f ${log:-/nonexistent} ]] && sed 's/^/    | /' "$log" >&2
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

test_targets() {
  new_runner
  expect_eq "$(ig_target Linux X64)" x86_64-unknown-linux-musl "Linux X64"
  expect_eq "$(ig_target Linux ARM64)" aarch64-unknown-linux-musl "Linux ARM64"
  expect_eq "$(ig_target macOS X64)" x86_64-apple-darwin "macOS X64"
  expect_eq "$(ig_target macOS ARM64)" aarch64-apple-darwin "macOS ARM64"
  expect_eq "$(ig_target Windows X64)" x86_64-pc-windows-msvc "Windows X64"
  expect_eq "$(ig_asset 1.2.3 x86_64-pc-windows-msvc)" inspector-gate-1.2.3-x86_64-pc-windows-msvc.zip "zip asset"
  expect_eq "$(ig_asset 1.2.3 aarch64-apple-darwin)" inspector-gate-1.2.3-aarch64-apple-darwin.tar.gz "tarball asset"
  export RUNNER_OS=Windows RUNNER_ARCH=ARM64
  run_action '{"image": "app:1"}'
  expect_eq "$code" 2 "unsupported runner exit code"
  grep -q 'no inspector-gate release for runner Windows/ARM64' "$log" || fail "no clear message for an unsupported runner"
}

test_pass_outputs_and_args() {
  new_runner
  run_action '{
    "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0\n123456789012.dkr.ecr.us-east-1.amazonaws.com/worker@sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945",
    "push-from": "docker-archive:image.tar", "tag": "1.0, latest", "policy": ".inspector-gate.toml",
    "max-critical": "0", "max-high": "2", "max-medium": "10", "max-low": "50", "max-untriaged": "5",
    "fail-on": "HIGH", "ignore-unfixed": "true", "min-epss": "0.1", "min-inspector-score": "7.5",
    "exploit-available-only": "true", "ignore": "CVE-2023-0001\nGHSA-abcd-efgh-ijkl",
    "timeout": "20m", "on-timeout": "fail", "poll-interval": "10s", "settle": "30s",
    "report-dir": "'"$runner"'/reports", "format": "markdown",
    "approve": "pipe/Approve/ManualApproval", "pipeline-execution-id": "0123-abcd",
    "report-url": "https://github.com/o/r/actions/runs/1",
    "image-definitions": "imagedefinitions.json", "container-name": "web", "image-detail": "imageDetail.json",
    "region": "us-east-1", "profile": "ci", "role-arn": "arn:aws:iam::123456789012:role/gate",
    "registry-url": "http://127.0.0.1:5000", "quiet": "true", "verbose": "false", "color": "never",
    "dry-run": "true"
  }'
  expect_eq "$code" 0 "exit code"
  local digest=sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945
  expect_eq "$(out verdict)" pass "verdict"
  expect_eq "$(out digest)" "$digest" "digest"
  expect_eq "$(out image-uri)" "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@$digest" "image-uri"
  expect_eq "$(out report-dir)" "$runner/reports" "report-dir"
  expect_eq "$(out sarif)" "$runner/reports/report.sarif" "sarif"
  local expected
  expected=$(
    cat <<EOF
gate
--image=123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0
--image=123456789012.dkr.ecr.us-east-1.amazonaws.com/worker@$digest
--push-from=docker-archive:image.tar
--tag=1.0
--tag=latest
--policy=.inspector-gate.toml
--max-critical=0
--max-high=2
--max-medium=10
--max-low=50
--max-untriaged=5
--fail-on=HIGH
--ignore-unfixed
--min-epss=0.1
--min-inspector-score=7.5
--exploit-available-only
--ignore=CVE-2023-0001
--ignore=GHSA-abcd-efgh-ijkl
--timeout=20m
--on-timeout=fail
--poll-interval=10s
--settle=30s
--report-dir=$runner/reports
--format=markdown
--approve=pipe/Approve/ManualApproval
--pipeline-execution-id=0123-abcd
--report-url=https://github.com/o/r/actions/runs/1
--image-definitions=imagedefinitions.json
--container-name=web
--image-detail=imageDetail.json
--region=us-east-1
--profile=ci
--role-arn=arn:aws:iam::123456789012:role/gate
--registry-url=http://127.0.0.1:5000
-q
--color=never
--dry-run
EOF
  )
  expect_eq "$(cat "$STUB_ARGS")" "$expected" "arguments passed to inspector-gate"
  grep -qx '## inspector-gate: pass' "$GITHUB_STEP_SUMMARY" || fail "step summary not written"
  local tool_dir="$RUNNER_TOOL_CACHE/inspector-gate/$version/x64"
  [[ -f $tool_dir.complete && -x $tool_dir/inspector-gate ]] || fail "binary not cached in the tool cache layout"
  expect_eq "$(cat "$GITHUB_PATH")" "$tool_dir" "GITHUB_PATH entry"
}

test_defaults() {
  new_runner
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "exit code"
  expect_eq "$(cat "$STUB_ARGS")" $'gate\n--image=app:1\n--report-dir='"$RUNNER_TEMP/inspector-gate-reports" "default arguments"
}

# exit code N, with the binary writing its outputs: the action fails with N, outputs still set.
exit_propagates() {
  new_runner
  export STUB_EXIT=$1
  run_action '{"image": "app:1"}'
  expect_eq "$code" "$1" "exit code"
  expect_eq "$(failed_step)" gate "failing step"
  expect_eq "$(out verdict)" "$2" "verdict"
  [[ -n $(out digest) && -n $(out sarif) ]] || fail "outputs missing after exit $1"
}
test_exit_1() { exit_propagates 1 fail; }
test_exit_3() { exit_propagates 3 inconclusive; }

test_early_error_fallbacks() {
  new_runner
  export STUB_EXIT=4 STUB_WRITES=0
  run_action '{"image": "app:1"}'
  expect_eq "$code" 4 "exit code"
  expect_eq "$(out verdict)" error "fallback verdict"
  expect_eq "$(out report-dir)" "$RUNNER_TEMP/inspector-gate-reports" "fallback report-dir"
  expect_eq "$(out sarif)" "" "sarif when no report was written"
  grep -q 'Exited with code 4: runtime error' "$GITHUB_STEP_SUMMARY" || fail "no fallback step summary"
}

test_usage_error_exit_2() {
  new_runner
  export STUB_EXIT=2 STUB_WRITES=0
  run_action '{"image": "Not A Valid Ref"}'
  expect_eq "$code" 2 "exit code"
  expect_eq "$(out verdict)" error "verdict"
}

test_cache_reused() {
  new_runner
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "first run"
  export INSPECTOR_GATE_RELEASE_BASE_URL="file://$work/no-such-release"
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "second run (cached, no download)"
  grep -q 'found in the tool cache' "$log" || fail "cache not used"
}

test_checksum_mismatch_refused() {
  new_runner
  sed -E 's/^[0-9a-f]{64}/0000000000000000000000000000000000000000000000000000000000000000/' \
    "$good_sums" >"$runner/bad-sums"
  export INSPECTOR_GATE_CHECKSUMS_FILE="$runner/bad-sums"
  run_action '{"image": "app:1"}'
  [[ $code -ne 0 ]] || fail "a checksum mismatch was accepted"
  expect_eq "$(failed_step)" install "failing step"
  grep -q 'checksum mismatch for inspector-gate-'"$version"'-x86_64-unknown-linux-musl.tar.gz' "$log" ||
    fail "no checksum mismatch message"
  [[ ! -e $STUB_ARGS ]] || fail "the unverified binary was run"
  [[ -z $(find "$RUNNER_TOOL_CACHE" -name 'inspector-gate*' -type f) ]] || fail "the unverified binary was cached"
}

test_missing_pin_refused() {
  new_runner
  grep -v 'linux-musl' "$good_sums" >"$runner/sums" || true
  export INSPECTOR_GATE_CHECKSUMS_FILE="$runner/sums"
  run_action '{"image": "app:1"}'
  [[ $code -ne 0 ]] || fail "an unpinned asset was installed"
  grep -q 'no SHA-256 pinned for' "$log" || fail "no clear message for a missing pin"
  [[ ! -e $STUB_ARGS ]] || fail "the binary was run"
}

test_repo_checksums_refuse_unpublished() {
  # The repository's own pins (no release published yet, or the published ones) never match
  # the stub, so the action as shipped refuses it.
  new_runner
  unset INSPECTOR_GATE_CHECKSUMS_FILE
  run_action '{"image": "app:1"}'
  [[ $code -ne 0 ]] || fail "the stub release was accepted against .github/checksums.txt"
  [[ ! -e $STUB_ARGS ]] || fail "the binary was run"
}

test_stale_cache_after_repin() {
  new_runner
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "first run"
  # The cache entry records the asset's SHA-256; a different pin must not trust it.
  echo 1111111111111111111111111111111111111111111111111111111111111111 \
    >"$RUNNER_TOOL_CACHE/inspector-gate/$version/x64/.asset-sha256"
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "second run"
  grep -q '^downloading ' "$log" || fail "a cache entry from another pin was trusted"
}

test_inputs_are_not_evaluated() {
  new_runner
  # shellcheck disable=SC2016 # the point: these must never be expanded
  local evil='$(touch '"$runner"'/pwned);touch '"$runner"'/pwned2 `touch '"$runner"'/pwned3`'
  run_action "$("$python" -c 'import json,sys; print(json.dumps({"image": "app:1", "policy": sys.argv[1], "approve": "a\"b'"'"'c"}))' "$evil")"
  expect_eq "$code" 0 "exit code"
  [[ ! -e $runner/pwned && ! -e $runner/pwned2 && ! -e $runner/pwned3 ]] || fail "an input was executed"
  grep -qxF -- "--policy=$evil" "$STUB_ARGS" || fail "input not passed through literally"
  grep -qxF -- "--approve=a\"b'c" "$STUB_ARGS" || fail "quotes not passed through literally"
}

test_bad_boolean() {
  new_runner
  run_action '{"image": "app:1", "ignore-unfixed": "maybe"}'
  expect_eq "$code" 2 "exit code"
  grep -q "input 'ignore-unfixed' must be true or false" "$log" || fail "no clear message"
}

test_new_filter_inputs() {
  new_runner
  run_action '{"image": "app:1", "min-epss": "0.25", "exploit-available-only": "false"}'
  expect_eq "$code" 0 "exit code"
  grep -qxF -- "--min-epss=0.25" "$STUB_ARGS" || fail "min-epss did not reach the binary"
  ! grep -qxF -- "--exploit-available-only" "$STUB_ARGS" || fail "exploit-available-only false was passed"
  run_action '{"image": "app:1", "exploit-available-only": "sometimes"}'
  expect_eq "$code" 2 "bad exploit-available-only exit code"
  grep -q "input 'exploit-available-only' must be true or false" "$log" || fail "no clear message"
}

test_windows_zip() {
  new_runner
  export RUNNER_OS=Windows RUNNER_ARCH=X64
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "exit code"
  [[ -x $RUNNER_TOOL_CACHE/inspector-gate/$version/x64/inspector-gate.exe ]] || fail "inspector-gate.exe not installed"
  expect_eq "$(out verdict)" pass "verdict"
}

test_no_expressions_in_run() {
  # run_composite.py refuses `${{ }}` in run:, but say it here too, for the record.
  if "$python" - "$root/action.yml" <<'PY'; then return 0; else fail "expression inside run:"; fi
import sys, yaml
action = yaml.safe_load(open(sys.argv[1]))
bad = [s.get("name") for s in action["runs"]["steps"] if "${{" in s.get("run", "")]
sys.exit(1 if bad else 0)
PY
}

test_inputs_wired() {
  # Every input reaches run.sh as INPUT_<NAME> and run.sh reads every one of them.
  if "$python" - "$root/action.yml" "$root/scripts/action/run.sh" <<'PY'; then return 0; else fail "inputs not wired"; fi
import re, sys, yaml
action = yaml.safe_load(open(sys.argv[1]))
script = open(sys.argv[2]).read()
step = next(s for s in action["runs"]["steps"] if s.get("id") == "gate")
problems = []
for name in action["inputs"]:
    var = "INPUT_" + name.upper().replace("-", "_")
    if step["env"].get(var) != "${{ inputs.%s }}" % name:
        problems.append(f"{name}: env {var} is not ${{{{ inputs.{name} }}}}")
    if "${" + var + ":-}" not in script:
        problems.append(f"{name}: run.sh does not read {var}")
extra = {k for k in step["env"] if k.startswith("INPUT_")} - {
    "INPUT_" + n.upper().replace("-", "_") for n in action["inputs"]}
problems += [f"{k}: not an input" for k in sorted(extra)]
for name in ("verdict", "digest", "image-uri", "report-dir", "sarif"):
    if action["outputs"].get(name, {}).get("value") != "${{ steps.gate.outputs.%s }}" % name:
        problems.append(f"output {name} is not mapped from the gate step")
if problems:
    print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
}

test_pin_release() {
  # pin-release.sh on a copy of the files it edits: every pin moves together.
  local copy="$work/pin-copy" sums="$work/pin-sums" target
  mkdir -p "$copy/scripts" "$copy/buildkite/lib" "$copy/codebuild" "$copy/.github"
  cp -r "$root/scripts/action" "$copy/scripts/"
  cp "$root/.github/action-version" "$root/.github/checksums.txt" "$copy/.github/"
  cp "$root/buildkite/checksums.txt" "$copy/buildkite/"
  cp "$root/buildkite/lib/release.bash" "$copy/buildkite/lib/"
  cp "$root"/codebuild/*.yml "$root/codebuild/pipeline.yaml" "$copy/codebuild/"
  : >"$sums"
  for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin \
    aarch64-apple-darwin x86_64-pc-windows-msvc; do
    printf '%s  %s\n' "$(printf '%s' "$target" | sha256sum | cut -d' ' -f1)" "$(ig_asset 9.8.7 "$target")" >>"$sums"
  done
  bash "$copy/scripts/action/pin-release.sh" 9.8.7 "$sums" >/dev/null || fail "pin-release.sh failed"
  expect_eq "$(cat "$copy/.github/action-version")" 9.8.7 "action version"
  expect_eq "$(grep -vE '^#' "$copy/.github/checksums.txt")" "$(cat "$sums")" ".github/checksums.txt"
  expect_eq "$(grep -vE '^#' "$copy/buildkite/checksums.txt")" "$(cat "$sums")" "buildkite/checksums.txt"
  grep -q '^# SHA-256' "$copy/.github/checksums.txt" || fail "comment header lost"
  grep -qx 'INSPECTOR_GATE_VERSION="9.8.7"' "$copy/buildkite/lib/release.bash" || fail "Buildkite version not pinned"
  [[ $(grep -c '^    INSPECTOR_GATE_VERSION: "9.8.7"$' "$copy"/codebuild/buildspec*.yml | grep -c ':1$') -eq 2 ]] ||
    fail "buildspec versions not pinned"
  grep -A4 '^  InspectorGateVersion:' "$copy/codebuild/pipeline.yaml" | grep -qx '    Default: 9.8.7' ||
    fail "pipeline.yaml default not pinned"
  [[ -z $(find "$copy" -name '*.bak') ]] || fail "backup files left behind"
  # Incomplete release: refused, nothing changed.
  head -n 4 "$sums" >"$sums.short"
  bash "$copy/scripts/action/pin-release.sh" 9.9.9 "$sums.short" >/dev/null 2>&1 && fail "an incomplete SHA256SUMS was pinned"
  expect_eq "$(cat "$copy/.github/action-version")" 9.8.7 "version after a refused pin"
}

# With INSPECTOR_GATE_REAL_BIN (a built inspector-gate), the action-test workflow's cases run
# here too: the real binary, packed as a release, must pass a dry run and refuse an image
# reference without tag or digest (exit 2).
test_real_binary() {
  local real_release="$work/real-release"
  bash "$root/scripts/action/pack-release.sh" "$INSPECTOR_GATE_REAL_BIN" "$real_release" \
    x86_64-unknown-linux-musl >/dev/null || fail "cannot pack $INSPECTOR_GATE_REAL_BIN"
  new_runner
  export INSPECTOR_GATE_RELEASE_BASE_URL="file://$real_release"
  export INSPECTOR_GATE_CHECKSUMS_FILE="$real_release/SHA256SUMS"
  export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=x
  export AWS_EC2_METADATA_DISABLED=true
  run_action '{"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0", "fail-on": "HIGH", "dry-run": "true"}'
  expect_eq "$code" 0 "must-pass exit code"
  [[ -n $(out verdict) && $(out verdict) != fail && $(out verdict) != error ]] || fail "must-pass verdict $(out verdict)"
  run_action '{"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app", "dry-run": "true"}'
  expect_eq "$code" 2 "must-fail exit code"
  expect_eq "$(out verdict)" error "must-fail verdict"
}

check "targets: runner OS/arch to release asset" test_targets
check "pin-release.sh moves every pin together" test_pin_release
check "every input is wired to run.sh; outputs mapped from the gate step" test_inputs_wired
check "pass: every input becomes the right argument; outputs, summary, tool cache, PATH" test_pass_outputs_and_args
check "defaults: only the image and a report dir" test_defaults
check "exit 1 (violation) propagates with outputs set" test_exit_1
check "exit 3 (inconclusive) propagates with outputs set" test_exit_3
check "exit 4 before any output: fallback verdict, report-dir and summary" test_early_error_fallbacks
check "exit 2 (usage) propagates" test_usage_error_exit_2
check "tool cache reused without download" test_cache_reused
check "checksum mismatch refused, nothing run or cached" test_checksum_mismatch_refused
check "asset without a pinned checksum refused" test_missing_pin_refused
check "repository pins refuse a foreign release" test_repo_checksums_refuse_unpublished
check "cache entry from another pin is not trusted" test_stale_cache_after_repin
check "inputs are passed literally, never evaluated" test_inputs_are_not_evaluated
check "bad boolean input is a usage error" test_bad_boolean
check "min-epss reaches the binary; exploit-available-only is a strict boolean" test_new_filter_inputs
check "Windows runner: zip asset, inspector-gate.exe" test_windows_zip
check "no expressions inside run:" test_no_expressions_in_run
if [[ -n ${INSPECTOR_GATE_REAL_BIN:-} ]]; then
  check "real binary: dry run passes, a reference without tag or digest is exit 2" test_real_binary
else
  echo "skip - real binary cases (set INSPECTOR_GATE_REAL_BIN to run them)"
fi

echo "action: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
