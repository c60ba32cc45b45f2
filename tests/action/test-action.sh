#!/usr/bin/env bash
# Runs the GitHub Action (action.yml) here, with a simulated runner (run_composite.py): temp
# GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and GITHUB_PATH, RUNNER_OS/RUNNER_ARCH, a tool cache, a
# simulated actions/cache, and releases served from file:// (test mode) or from a loopback
# https server with its own CA (the https-only inputs, outside test mode).
#
# The stub `inspector-gate` packed as the release records its arguments and plays the exit
# code and outputs a case asks for, but first hands the very same arguments (plus --dry-run)
# to the real binary, INSPECTOR_GATE_REAL_BIN: an argument the real CLI rejects fails the
# case, so a renamed flag cannot pass here. The last cases run the real binary itself as the
# release, from PATH, and through its own usage errors.
#
# usage: INSPECTOR_GATE_REAL_BIN=target/debug/inspector-gate tests/action/test-action.sh
#        (prints one line per case and "action: N passed, M failed"; ACTION_TESTS=REGEX runs
#        only the cases whose name matches)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# The repository's virtualenv (scripts/setup creates it, with PyYAML), or PYTHON when set: never
# whatever python3 is on PATH.
python=${PYTHON:-$root/.venv/bin/python}
if [[ ! -x $python ]]; then
  echo "action: error: $python is missing: run scripts/setup (it creates $root/.venv)" >&2
  exit 1
fi
real_bin=${INSPECTOR_GATE_REAL_BIN:-}
if [[ -z $real_bin || ! -x $real_bin ]]; then
  echo "action: INSPECTOR_GATE_REAL_BIN must name a built inspector-gate (cargo build; got '${real_bin}')" >&2
  exit 1
fi
real_bin=$(cd "$(dirname "$real_bin")" && pwd)/$(basename "$real_bin")
export INSPECTOR_GATE_REAL_BIN=$real_bin

# shellcheck source=SCRIPTDIR/../../scripts/action/lib.sh
. "$root/scripts/action/lib.sh"
version=$(ig_version)
cargo_version=$(ig_cargo_version)

work=$(mktemp -d)
cleanup() {
  local pid
  # Servers started by cases (each case runs in a subshell and stops its own; this is the net).
  if [[ -f $work/pids ]]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$work/pids"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=AKIDTESTTESTTESTTEST AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true

# The stub binary. Real CLI check first (without the GitHub environment, so the real binary
# writes no outputs of its own), then: record the arguments, write what the real binary writes
# under GitHub Actions (outputs, step summary, reports) unless STUB_WRITES=0, print
# STUB_STDERR on stderr, exit with STUB_EXIT.
cat >"$work/inspector-gate" <<'STUB'
#!/usr/bin/env bash
set -euo pipefail
if [[ ${1:-} == --version ]]; then
  echo "inspector-gate ${STUB_VERSION:?}"
  exit 0
fi
if ! env -u GITHUB_ACTIONS -u GITHUB_OUTPUT -u GITHUB_STEP_SUMMARY \
  "$INSPECTOR_GATE_REAL_BIN" "$@" --dry-run >"$STUB_ARGS.real" 2>&1; then
  echo "stub: the real inspector-gate rejects these arguments:" >&2
  cat "$STUB_ARGS.real" >&2
  exit 2
fi
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
if [[ -n ${STUB_STDERR:-} ]]; then printf '%s\n' "$STUB_STDERR" >&2; fi
exit "$code"
STUB
chmod +x "$work/inspector-gate"

# A real (tiny) docker-archive for the inputs that name one: the real CLI's --dry-run reads its
# local inputs (a missing or fake archive is exit 2/4 before any AWS call).
"$root/scripts/make-image" "$work/oci" v1 --package zlib=1.2.13 >/dev/null
skopeo copy --quiet "oci:$work/oci:v1" "docker-archive:$work/image.tar:app:1.0"

release="$work/release"
for target in x86_64-unknown-linux-musl x86_64-pc-windows-msvc; do
  bash "$root/scripts/action/pack-release.sh" "$work/inspector-gate" "$release" "$target" >/dev/null
done
good_sums="$release/SHA256SUMS"
linux_asset=$(ig_asset "$version" x86_64-unknown-linux-musl)

passed=0
failed=0

# A fresh simulated runner for each case (test mode: the file:// release and its checksums).
new_runner() {
  runner=$(mktemp -d "$work/runner.XXXXXX")
  mkdir -p "$runner/temp" "$runner/cache" "$runner/actions-cache"
  : >"$runner/summary"
  : >"$runner/path"
  export RUNNER_OS=Linux RUNNER_ARCH=X64 GITHUB_ACTIONS=true
  export RUNNER_TEMP="$runner/temp" RUNNER_TOOL_CACHE="$runner/cache"
  export ACTION_SIM_CACHE="$runner/actions-cache"
  export GITHUB_STEP_SUMMARY="$runner/summary" GITHUB_PATH="$runner/path"
  export INSPECTOR_GATE_TEST_MODE=1
  export INSPECTOR_GATE_RELEASE_BASE_URL="file://$release"
  export INSPECTOR_GATE_CHECKSUMS_FILE="$good_sums"
  export STUB_ARGS="$runner/args" STUB_EXIT=0 STUB_WRITES=1 STUB_VERSION=$version STUB_STDERR=
}

# run_action INPUTS_JSON — run the action (ACTION_DIR, default this checkout); sets $code,
# $result (JSON file), $log (stderr+stdout). RUN_UNDER names a command (a function of this
# script) that runs the simulator, e.g. with a directory made read-only.
run_action() {
  result="$runner/result.json"
  log="$runner/log"
  code=0
  rm -f "$STUB_ARGS"
  ${RUN_UNDER:+$RUN_UNDER} "$python" "$root/tests/action/run_composite.py" "${ACTION_DIR:-$root}" "$1" "$result" >"$log" 2>&1 || code=$?
}

# action_copy SUMS — a copy of the action whose .github/checksums.txt is the file SUMS (the
# pins the action ships), so a case outside test mode does not depend on what this commit pins,
# with a snapshot of the sources (a source key that does not move while this tree is edited);
# sets ACTION_DIR.
action_copy() {
  ACTION_DIR=$(mktemp -d "$work/action.XXXXXX")
  mkdir -p "$ACTION_DIR/scripts" "$ACTION_DIR/.github"
  cp "$root/action.yml" "$root/Cargo.toml" "$root/Cargo.lock" "$ACTION_DIR/"
  cp -r "$root/src" "$ACTION_DIR/"
  cp -r "$root/scripts/action" "$ACTION_DIR/scripts/"
  cp "$root/.github/action-version" "$ACTION_DIR/.github/"
  cp "$1" "$ACTION_DIR/.github/checksums.txt"
  export ACTION_DIR
}

# out NAME — an action output from the last run; step_out STEP NAME — a step's output.
out() {
  "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["outputs"].get(sys.argv[2], ""))' "$result" "$1"
}
step_out() {
  "$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"].get(sys.argv[2], {}).get(sys.argv[3], ""))' "$result" "$1" "$2"
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
expect_log() { grep -qF -- "$1" "$log" || fail "log lacks: $1"; }

# check NAME FUNCTION — run one case in a subshell; any failed assertion (fail) fails it, even
# where bash ignores set -e (functions called from a condition).
check() {
  local name=$1
  shift
  # ACTION_TESTS=REGEX runs only the cases whose name matches (while working on one).
  if [[ -n ${ACTION_TESTS:-} && ! $name =~ $ACTION_TESTS ]]; then return 0; fi
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

# ---- release install ---------------------------------------------------------------------

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
  expect_log 'no inspector-gate release for runner Windows/ARM64'
}

test_pass_outputs_and_args() {
  new_runner
  local reports="$runner/reports"
  : >"$work/policy.toml"
  printf '%s' '{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://openvex.dev/docs/example/vex-1", "author": "Platform Security", "timestamp": "2026-11-30T00:00:00Z", "version": 1, "statements": []}' >"$work/app.openvex.json"
  run_action '{
    "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0",
    "push-from": "docker-archive:'"$work/image.tar"'", "tag": "1.0, latest", "policy": "'"$work/policy.toml"'",
    "policy-floor": "ssm:/ci/inspector-gate/floor",
    "max-critical": "0", "max-high": "2", "max-medium": "10", "max-low": "50",
    "max-informational": "100", "max-untriaged": "5",
    "fail-on": "HIGH", "ignore-unfixed": "true", "min-epss": "0.1", "min-inspector-score": "7.5",
    "exploit-available-only": "true", "ignore": "CVE-2023-0001\nGHSA-abcd-efgh-ijkl",
    "vex": "'"$work/app.openvex.json"'",
    "timeout": "20m", "on-timeout": "fail", "poll-interval": "10s", "settle": "30s",
    "report-dir": "'"$reports"'", "format": "markdown",
    "approve": "pipe/Approve/ManualApproval", "pipeline-execution-id": "0123-abcd",
    "report-url": "https://github.com/o/r/actions/runs/1",
    "image-definitions": "imagedefinitions.json", "container-name": "web", "image-detail": "imageDetail.json",
    "baseline": "ecs:prod/web", "baseline-optional": "true",
    "region": "us-east-1", "profile": "ci", "role-arn": "arn:aws:iam::123456789012:role/gate",
    "role-external-id": "ext-1", "api-rate": "0.5",
    "registry-url": "http://127.0.0.1:5000", "insecure-registry": "true",
    "quiet": "true", "verbose": "false", "color": "never",
    "dry-run": "true"
  }'
  expect_eq "$code" 0 "exit code"
  local digest=sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945
  expect_eq "$(out verdict)" pass "verdict"
  expect_eq "$(out digest)" "$digest" "digest"
  expect_eq "$(out image-uri)" "123456789012.dkr.ecr.us-east-1.amazonaws.com/app@$digest" "image-uri"
  expect_eq "$(out report-dir)" "$reports" "report-dir"
  expect_eq "$(out sarif)" "$reports/report.sarif" "sarif"
  local expected
  expected=$(
    cat <<EOF
gate
--image=123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0
--push-from=docker-archive:$work/image.tar
--tag=1.0
--tag=latest
--policy=$work/policy.toml
--policy-floor=ssm:/ci/inspector-gate/floor
--max-critical=0
--max-high=2
--max-medium=10
--max-low=50
--max-informational=100
--max-untriaged=5
--fail-on=HIGH
--ignore-unfixed
--min-epss=0.1
--min-inspector-score=7.5
--exploit-available-only
--ignore=CVE-2023-0001
--ignore=GHSA-abcd-efgh-ijkl
--vex=$work/app.openvex.json
--timeout=20m
--on-timeout=fail
--poll-interval=10s
--settle=30s
--report-dir=$reports
--format=markdown
--approve=pipe/Approve/ManualApproval
--pipeline-execution-id=0123-abcd
--report-url=https://github.com/o/r/actions/runs/1
--image-definitions=imagedefinitions.json
--container-name=web
--image-detail=imageDetail.json
--baseline=ecs:prod/web
--baseline-optional
--region=us-east-1
--profile=ci
--role-arn=arn:aws:iam::123456789012:role/gate
--role-external-id=ext-1
--api-rate=0.5
--registry-url=http://127.0.0.1:5000
--insecure-registry
-q
--color=never
--dry-run
EOF
  )
  expect_eq "$(cat "$STUB_ARGS" 2>/dev/null)" "$expected" "arguments passed to inspector-gate"
  grep -qx '## inspector-gate: pass' "$GITHUB_STEP_SUMMARY" || fail "step summary not written"
  local tool_dir="$RUNNER_TOOL_CACHE/inspector-gate/$version/x64"
  [[ -f $tool_dir/$linux_asset ]] || fail "the verified asset is not kept in the tool cache"
  local bin
  bin=$(step_out install bin)
  [[ -x $bin && $bin == "$RUNNER_TEMP"/inspector-gate-bin.*/inspector-gate ]] || fail "bin output [$bin]"
  expect_eq "$(cat "$GITHUB_PATH")" "$(dirname "$bin")" "GITHUB_PATH entry"
  expect_eq "$(step_out install version)" "$version" "version output"
  expect_log "inspector-gate $version (release $version, SHA-256 verified: $bin)"
  # The test-mode overrides work, and say so.
  expect_log "::warning title=inspector-gate action::test mode: SHA-256 pins from INSPECTOR_GATE_CHECKSUMS_FILE=$good_sums"
  expect_log "::warning title=inspector-gate action::test mode: downloading from INSPECTOR_GATE_RELEASE_BASE_URL=file://$release"
}

test_defaults() {
  new_runner
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "exit code"
  local dir
  dir=$(out report-dir)
  [[ $dir == "$RUNNER_TEMP"/inspector-gate-reports.* && -d $dir ]] || fail "default report dir [$dir]"
  expect_eq "$(cat "$STUB_ARGS")" $'gate\n--image=app:1\n--report-dir='"$dir" "default arguments"
}

test_image_list() {
  new_runner
  local digest=sha256:4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945
  run_action '{"image": "app:1\n  worker@'"$digest"', cron:2\n", "report-dir": "'"$runner/r"'"}'
  expect_eq "$code" 0 "exit code"
  expect_eq "$(cat "$STUB_ARGS")" "gate
--image=app:1
--image=worker@$digest
--image=cron:2
--report-dir=$runner/r" "one --image per list item"
}

test_push_from_list() {
  new_runner
  ln -s "$work/image.tar" "$runner/worker build, v2.tar"
  run_action '{"image": "api:1\nworker:1", "push-from": "docker-archive:'"$work"'/image.tar\r\n  \ndocker-archive:'"$runner"'/worker build, v2.tar\n", "report-dir": "'"$runner/r"'"}'
  expect_eq "$code" 0 "exit code"
  expect_eq "$(cat "$STUB_ARGS")" "gate
--image=api:1
--image=worker:1
--push-from=docker-archive:$work/image.tar
--push-from=docker-archive:$runner/worker build, v2.tar
--report-dir=$runner/r" "one --push-from per line, commas and blanks kept"
}

test_two_uses_do_not_share_reports() {
  new_runner
  run_action '{"image": "app:1"}'
  local first
  first=$(out report-dir)
  run_action '{"image": "worker:1"}'
  [[ -n $first && $(out report-dir) != "$first" ]] || fail "two uses share the default report dir $first"
  grep -qx '{"verdict":"pass"}' "$first/report.json" || fail "the first use's reports were overwritten"
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

test_early_error_cause_in_summary() {
  new_runner
  export STUB_EXIT=4 STUB_WRITES=0
  export STUB_STDERR=$'::error title=inspector-gate::ECR denied ecr:BatchGetImage on app\nerror: ECR denied ecr:BatchGetImage on app (add it to the role)'
  run_action '{"image": "app:1"}'
  expect_eq "$code" 4 "exit code"
  expect_eq "$(out verdict)" error "fallback verdict"
  [[ $(out report-dir) == "$RUNNER_TEMP"/inspector-gate-reports.* ]] || fail "fallback report-dir"
  expect_eq "$(out sarif)" "" "sarif when no report was written"
  grep -q 'Exited with code 4: runtime error' "$GITHUB_STEP_SUMMARY" || fail "no fallback step summary"
  # shellcheck disable=SC2016 # literal backticks: Markdown
  grep -qF 'Cause: `ECR denied ecr:BatchGetImage on app (add it to the role)`' "$GITHUB_STEP_SUMMARY" ||
    fail "the cause is not in the step summary: $(cat "$GITHUB_STEP_SUMMARY")"
  # The binary's own ::error line is the only one: the action adds none for a gate exit code.
  expect_eq "$(grep -c '^::error' "$log")" 1 "::error lines"
  expect_log 'error: ECR denied'
}

test_usage_error_exit_2() {
  new_runner
  export STUB_EXIT=2 STUB_WRITES=0
  run_action '{"image": "Not A Valid Ref"}'
  expect_eq "$code" 2 "exit code"
  expect_eq "$(out verdict)" error "verdict"
}

test_cache_rehashed_every_use() {
  new_runner
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "first run"
  # No release to download from: only the cached asset can serve the second run.
  export INSPECTOR_GATE_RELEASE_BASE_URL="file://$work/no-such-release"
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "second run (cached, no download)"
  expect_log 'cached asset re-verified'
  # A cached asset that no longer matches the pin is never used, marker or not.
  local cached="$RUNNER_TOOL_CACHE/inspector-gate/$version/x64/$linux_asset"
  printf 'x' >>"$cached"
  run_action '{"image": "app:1"}'
  # Not run from the cache: downloaded again, which fails here (no release to download from).
  expect_eq "$code" 4 "exit code with a tampered cached asset"
  expect_eq "$(failed_step)" install "failing step"
  expect_log "cached $linux_asset does not match its SHA-256 pin"
  expect_log "download of file://$work/no-such-release/v$version/$linux_asset failed"
  [[ ! -e $STUB_ARGS ]] || fail "the tampered binary was run"
  # With the release reachable again, it is downloaded afresh.
  export INSPECTOR_GATE_RELEASE_BASE_URL="file://$release"
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "run after re-download"
  expect_log 'downloading file://'
}

# read_only_cache COMMAND... — run COMMAND with the tool cache ($RUNNER_TOOL_CACHE) unwritable:
# a read-only bind mount in a mount namespace of its own when root (whom permissions do not
# stop), else chmod.
read_only_cache() {
  local dir=$RUNNER_TOOL_CACHE status=0
  if [[ $(id -u) -eq 0 ]]; then
    # shellcheck disable=SC2016 # the inner sh expands them
    unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && exec "$@"' \
      sh "$dir" "$@" || status=$?
  else
    chmod -R a-w "$dir"
    "$@" || status=$?
    chmod -R u+w "$dir"
  fi
  return "$status"
}

test_tampered_cache_unwritable_never_run() {
  if [[ $(id -u) -eq 0 ]] && ! unshare -m true 2>/dev/null; then return 0; fi # no way to make it read-only
  new_runner
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "first run"
  # The cached asset replaced by a well-formed one whose binary would pass, and say so.
  local evil="$runner/evil" cached="$RUNNER_TOOL_CACHE/inspector-gate/$version/x64/$linux_asset"
  mkdir -p "$evil/bin"
  printf '#!/bin/sh\ntouch "%s/tampered-ran"\nexec "%s" "$@"\n' "$runner" "$work/inspector-gate" >"$evil/bin/inspector-gate"
  chmod +x "$evil/bin/inspector-gate"
  bash "$root/scripts/action/pack-release.sh" "$evil/bin/inspector-gate" "$evil/release" x86_64-unknown-linux-musl >/dev/null
  cp "$evil/release/v$version/$linux_asset" "$cached"
  # The tool cache cannot be written: the verified download cannot replace the tampered entry.
  RUN_UNDER=read_only_cache run_action '{"image": "app:1"}'
  expect_eq "$code" 4 "exit code"
  expect_eq "$(failed_step)" install "failing step"
  expect_log "cached $linux_asset does not match its SHA-256 pin: downloading it again"
  expect_log "::error title=inspector-gate action::cannot store the verified $linux_asset in the tool cache $RUNNER_TOOL_CACHE/inspector-gate/$version/x64"
  [[ ! -e $runner/tampered-ran ]] || fail "the tampered binary was run"
  [[ ! -e $STUB_ARGS ]] || fail "a binary was run"
  # Writable again: the verified download replaces it, and that is what runs.
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "run with a writable cache"
  [[ ! -e $runner/tampered-ran ]] || fail "the tampered binary was run"
  [[ -e $STUB_ARGS ]] || fail "the verified binary did not run"
}

test_unexpected_install_failure_exit_4() {
  # A command no check expected to fail (here chmod) stops the install: exit 4, named.
  new_runner
  mkdir -p "$runner/broken"
  printf '#!/bin/sh\nexit 1\n' >"$runner/broken/chmod"
  /bin/chmod +x "$runner/broken/chmod"
  PATH="$runner/broken:$PATH" run_action '{"image": "app:1"}'
  expect_eq "$code" 4 "exit code"
  expect_eq "$(failed_step)" install "failing step"
  expect_log '::error title=inspector-gate action::installing inspector-gate failed: `chmod +x '
  expect_log 'exited with 1'
  [[ ! -e $STUB_ARGS ]] || fail "the binary was run"
}

test_binary_replaced_after_install_never_run() {
  # version: path: the binary on PATH replaces itself once the install step has checked it.
  new_runner
  mkdir -p "$runner/onpath"
  cat >"$runner/onpath/inspector-gate" <<SCRIPT
#!/usr/bin/env bash
if [[ \${1:-} == --version ]]; then
  echo "inspector-gate $cargo_version"
  printf '#!/bin/sh\ntouch "%s/replaced-ran"\n' "$runner" >"\$0"
  exit 0
fi
exec "$work/inspector-gate" "\$@"
SCRIPT
  chmod +x "$runner/onpath/inspector-gate"
  PATH="$runner/onpath:$PATH" run_action '{"image": "app:1", "version": "path"}'
  expect_eq "$code" 4 "exit code"
  expect_eq "$(failed_step)" gate "failing step"
  expect_log "$runner/onpath/inspector-gate changed after the install step verified it"
  [[ ! -e $runner/replaced-ran ]] || fail "the replaced binary was run"
  [[ ! -e $STUB_ARGS ]] || fail "a binary was run"
}

test_checksum_mismatch_refused() {
  new_runner
  sed -E 's/^[0-9a-f]{64}/0000000000000000000000000000000000000000000000000000000000000000/' \
    "$good_sums" >"$runner/bad-sums"
  export INSPECTOR_GATE_CHECKSUMS_FILE="$runner/bad-sums"
  run_action '{"image": "app:1"}'
  expect_eq "$code" 4 "exit code"
  expect_eq "$(failed_step)" install "failing step"
  expect_log "checksum mismatch for $linux_asset"
  [[ ! -e $STUB_ARGS ]] || fail "the unverified binary was run"
  [[ -z $(find "$RUNNER_TOOL_CACHE" "$RUNNER_TEMP" -name 'inspector-gate*' -type f) ]] ||
    fail "the unverified binary was kept"
}

test_missing_pin_points_to_source() {
  new_runner
  grep -v 'linux-musl' "$good_sums" >"$runner/sums" || true
  export INSPECTOR_GATE_CHECKSUMS_FILE="$runner/sums"
  run_action '{"image": "app:1"}'
  expect_eq "$code" 2 "exit code"
  expect_log "no SHA-256 pinned for $linux_asset"
  expect_log 'Use version: source'
  [[ ! -e $STUB_ARGS ]] || fail "the binary was run"
}

test_local_overrides_need_test_mode() {
  # Outside test mode the file:// release and the local checksums file are ignored (with a
  # warning): the action's own pins decide. An action that pins nothing: the local checksums
  # file (which pins the stub) is not taken, so nothing is pinned, exit 2.
  new_runner
  unset INSPECTOR_GATE_TEST_MODE
  grep '^#' "$root/.github/checksums.txt" >"$runner/no-pins" || true
  action_copy "$runner/no-pins"
  run_action '{"image": "app:1"}'
  expect_eq "$code" 2 "exit code (no pin; the local checksums file ignored)"
  expect_log "no SHA-256 pinned for $linux_asset in $ACTION_DIR/.github/checksums.txt"
  expect_log '::warning title=inspector-gate action::INSPECTOR_GATE_CHECKSUMS_FILE is ignored outside'
  expect_log '::warning title=inspector-gate action::INSPECTOR_GATE_RELEASE_BASE_URL is ignored outside'
  [[ ! -e $STUB_ARGS ]] || fail "the binary was run"
  # An action that pins the stub: the file:// release is not taken either, the download goes to
  # GitHub releases (through a proxy that refuses it here, so no network is used), exit 4.
  action_copy "$good_sums"
  no_proxy='' NO_PROXY='' https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 run_action '{"image": "app:1"}'
  expect_eq "$code" 4 "exit code (the file:// release ignored)"
  expect_log "downloading $IG_RELEASE_REPO_URL/v$version/$linux_asset"
  expect_log '::warning title=inspector-gate action::INSPECTOR_GATE_RELEASE_BASE_URL is ignored outside'
  ! grep -q 'downloading file://' "$log" || fail "the file:// release was used outside test mode"
  [[ ! -e $STUB_ARGS ]] || fail "the binary was run"
}

test_override_inputs_https_only() {
  new_runner
  run_action '{"image": "app:1", "release-url": "http://mirror.example/releases"}'
  expect_eq "$code" 2 "http release-url"
  expect_log "input 'release-url' must be an https:// URL"
  run_action '{"image": "app:1", "checksums-url": "file:///etc/passwd"}'
  expect_eq "$code" 2 "file checksums-url"
  expect_log "input 'checksums-url' must be an https:// URL"
  run_action '{"image": "app:1", "checksums-url": "https://user:tok3n@mirror.example/SHA256SUMS"}'
  expect_eq "$code" 2 "checksums-url with credentials"
  ! grep -q tok3n "$log" || fail "a credential was logged"
  run_action '{"image": "app:1", "version": "source", "release-url": "https://mirror.example/r"}'
  expect_eq "$code" 2 "release-url with version: source"
}

# A loopback https server with its own CA (curl trusts it through CURL_CA_BUNDLE); sets
# https_base and https_pid (the case stops it).
https_server() {
  local dir=$1 port
  if [[ ! -f $work/tls/cert.pem ]]; then
    mkdir -p "$work/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
      -addext subjectAltName=IP:127.0.0.1 -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" \
      >/dev/null 2>&1
  fi
  rm -f "$work/https.port"
  "$python" - "$dir" "$work/tls" "$work/https.port" >"$work/https.log" 2>&1 <<'PY' &
import functools, http.server, ssl, sys
directory, tls, port_file = sys.argv[1:4]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(f"{tls}/cert.pem", f"{tls}/key.pem")
server.socket = ctx.wrap_socket(server.socket, server_side=True)
open(port_file + ".tmp", "w").write(str(server.server_address[1]))
import os; os.rename(port_file + ".tmp", port_file)
server.serve_forever()
PY
  https_pid=$!
  echo "$https_pid" >>"$work/pids"
  for _ in $(seq 100); do [[ -s $work/https.port ]] && break; sleep 0.1; done
  [[ -s $work/https.port ]] || { fail "the https server did not start: $(cat "$work/https.log")"; return 1; }
  port=$(cat "$work/https.port")
  https_base="https://127.0.0.1:$port"
  export CURL_CA_BUNDLE="$work/tls/cert.pem"
}

test_override_inputs_over_https() {
  # Outside test mode: a mirror (release-url) and a replacement SHA256SUMS (checksums-url),
  # both https, both announced with a warning; the pin still decides what runs.
  command -v openssl >/dev/null || { fail "openssl is needed for this case"; return; }
  mkdir -p "$work/mirror"
  cp -r "$release/." "$work/mirror/"
  https_server "$work/mirror"
  new_runner
  unset INSPECTOR_GATE_TEST_MODE INSPECTOR_GATE_RELEASE_BASE_URL INSPECTOR_GATE_CHECKSUMS_FILE
  run_action '{"image": "app:1", "release-url": "'"$https_base"'", "checksums-url": "'"$https_base"'/SHA256SUMS"}'
  expect_eq "$code" 0 "exit code"
  expect_log '::warning title=inspector-gate action::checksums-url replaces the SHA-256 pins'
  expect_log '::warning title=inspector-gate action::release-url: downloading'
  expect_log "verified SHA-256"
  [[ -e $STUB_ARGS ]] || fail "the verified binary did not run"
  # The action's own pins still apply when only release-url is given: an action whose pin is
  # not the mirror's asset refuses it (checksum mismatch, exit 4).
  sed -E 's/^[0-9a-f]{64}/0000000000000000000000000000000000000000000000000000000000000000/' \
    "$good_sums" >"$runner/other-pins"
  action_copy "$runner/other-pins"
  run_action '{"image": "app:1", "release-url": "'"$https_base"'"}'
  expect_eq "$code" 4 "exit code (release-url with the action's own pins)"
  expect_log "checksum mismatch for $linux_asset: expected 0000000000000000000000000000000000000000000000000000000000000000"
  [[ ! -e $STUB_ARGS ]] || fail "release-url bypassed the action's SHA-256 pins"
  kill "$https_pid"
}

test_inputs_are_not_evaluated() {
  new_runner
  # shellcheck disable=SC2016 # the point: these must never be expanded
  local evil='$(touch '"$runner"'/pwned);touch '"$runner"'/pwned2 `touch '"$runner"'/pwned3`'
  run_action "$("$python" -c 'import json,sys; print(json.dumps({"image": "app:1", "container-name": sys.argv[1], "image-definitions": "d.json", "approve": "a/b\"/c'"'"'d"}))' "$evil")"
  expect_eq "$code" 0 "exit code"
  [[ ! -e $runner/pwned && ! -e $runner/pwned2 && ! -e $runner/pwned3 ]] || fail "an input was executed"
  grep -qxF -- "--container-name=$evil" "$STUB_ARGS" || fail "input not passed through literally"
  grep -qxF -- "--approve=a/b\"/c'd" "$STUB_ARGS" || fail "quotes not passed through literally"
}

test_credentials_not_logged() {
  new_runner
  run_action '{"image": "app:1", "registry-url": "https://ci-user:s3cr3t-t0ken@registry.example:5000/v2"}'
  expect_eq "$code" 0 "exit code"
  grep -qxF -- "--registry-url=https://ci-user:s3cr3t-t0ken@registry.example:5000/v2" "$STUB_ARGS" ||
    fail "the binary did not get the full URL"
  expect_log "--registry-url=https://registry.example:5000/v2"
  ! grep -q 's3cr3t-t0ken' "$log" || fail "a credential was logged"
}

test_bad_boolean() {
  new_runner
  run_action '{"image": "app:1", "ignore-unfixed": "maybe"}'
  expect_eq "$code" 2 "exit code"
  expect_log "input 'ignore-unfixed' must be true or false"
}

test_new_filter_inputs() {
  new_runner
  run_action '{"image": "app:1", "min-epss": "0.25", "exploit-available-only": "false"}'
  expect_eq "$code" 0 "exit code"
  grep -qxF -- "--min-epss=0.25" "$STUB_ARGS" || fail "min-epss did not reach the binary"
  grep -qxF -- "--exploit-available-only=false" "$STUB_ARGS" || fail "exploit-available-only false did not reach the binary"
  ! grep -qxF -- "--exploit-available-only" "$STUB_ARGS" || fail "exploit-available-only false was passed as true"
  run_action '{"image": "app:1", "exploit-available-only": "sometimes"}'
  expect_eq "$code" 2 "bad exploit-available-only exit code"
  expect_log "input 'exploit-available-only' must be true or false"
}

test_floor_baseline_registry_inputs() {
  new_runner
  : >"$work/floor.toml"
  run_action '{"image": "app:1", "policy-floor": "'"$work/floor.toml"'", "max-informational": "0",
    "baseline": "ecs:prod/web/app", "baseline-optional": "false", "insecure-registry": "false"}'
  expect_eq "$code" 0 "exit code"
  grep -qxF -- "--policy-floor=$work/floor.toml" "$STUB_ARGS" || fail "policy-floor did not reach the binary"
  grep -qxF -- "--max-informational=0" "$STUB_ARGS" || fail "max-informational did not reach the binary"
  grep -qxF -- "--baseline=ecs:prod/web/app" "$STUB_ARGS" || fail "baseline did not reach the binary"
  ! grep -qxF -- "--baseline-optional" "$STUB_ARGS" || fail "baseline-optional false was passed"
  ! grep -qxF -- "--insecure-registry" "$STUB_ARGS" || fail "insecure-registry false was passed"
  run_action '{"image": "app:1", "baseline": "ecs:prod/web", "baseline-optional": "sometimes"}'
  expect_eq "$code" 2 "bad baseline-optional exit code"
  expect_log "input 'baseline-optional' must be true or false"
  run_action '{"image": "app:1", "insecure-registry": "maybe"}'
  expect_eq "$code" 2 "bad insecure-registry exit code"
  expect_log "input 'insecure-registry' must be true or false"
  [[ ! -e $STUB_ARGS ]] || fail "the binary ran despite a bad boolean"
}

test_filters_false_override_policy_file() {
  # A filter input set to false reaches the binary as --FLAG=false (turning off a filter the
  # repository's policy file turns on); unset, nothing is passed (the policy file decides).
  new_runner
  run_action '{"image": "app:1", "ignore-unfixed": "false", "exploit-available-only": "FALSE"}'
  expect_eq "$code" 0 "exit code"
  expect_eq "$(cat "$STUB_ARGS")" "gate
--image=app:1
--ignore-unfixed=false
--exploit-available-only=false
--report-dir=$(out report-dir)" "arguments"
  run_action '{"image": "app:1", "ignore-unfixed": "true", "exploit-available-only": "true"}'
  expect_eq "$code" 0 "exit code (true)"
  grep -qxF -- "--ignore-unfixed" "$STUB_ARGS" || fail "ignore-unfixed true not passed"
  grep -qxF -- "--exploit-available-only" "$STUB_ARGS" || fail "exploit-available-only true not passed"
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "exit code (unset)"
  ! grep -qE -- '^--(ignore-unfixed|exploit-available-only)' "$STUB_ARGS" || fail "an unset filter input was passed"
}

test_real_cli_rejects_renamed_flag() {
  # The stub hands every argument list to the real CLI: a value the real CLI refuses fails.
  new_runner
  run_action '{"image": "app:1", "on-timeout": "sometimes"}'
  expect_eq "$code" 2 "exit code"
  expect_log 'stub: the real inspector-gate rejects these arguments'
  [[ ! -e $STUB_ARGS ]] || fail "a rejected argument list was accepted"
}

test_windows_zip() {
  new_runner
  export RUNNER_OS=Windows RUNNER_ARCH=X64
  run_action '{"image": "app:1"}'
  expect_eq "$code" 0 "exit code"
  [[ $(step_out install bin) == */inspector-gate.exe && -x $(step_out install bin) ]] ||
    fail "inspector-gate.exe not installed: $(step_out install bin)"
  expect_eq "$(out verdict)" pass "verdict"
}

# ---- version: path / source ------------------------------------------------------------------

test_version_path() {
  new_runner
  mkdir -p "$runner/onpath"
  cp "$work/inspector-gate" "$runner/onpath/inspector-gate"
  export STUB_VERSION=$cargo_version
  PATH="$runner/onpath:$PATH" run_action '{"image": "app:1", "version": "path"}'
  expect_eq "$code" 0 "exit code"
  expect_log "inspector-gate $cargo_version (from PATH: $runner/onpath/inspector-gate)"
  expect_eq "$(step_out install bin)" "$runner/onpath/inspector-gate" "bin"
  [[ -e $STUB_ARGS ]] || fail "the binary on PATH did not run"
  expect_eq "$(cat "$GITHUB_PATH")" "" "GITHUB_PATH (already on PATH)"
  # Another patch release: accepted with a warning.
  local major_minor
  major_minor=$(ig_major_minor "$cargo_version")
  export STUB_VERSION="$major_minor.999"
  PATH="$runner/onpath:$PATH" run_action '{"image": "app:1", "version": "path"}'
  expect_eq "$code" 0 "patch mismatch exit code"
  expect_log "::warning title=inspector-gate action::inspector-gate $major_minor.999 (from PATH) differs"
  # Another minor: refused, nothing run.
  export STUB_VERSION="${major_minor%%.*}.$((${major_minor#*.} + 1)).0"
  PATH="$runner/onpath:$PATH" run_action '{"image": "app:1", "version": "path"}'
  expect_eq "$code" 2 "minor mismatch exit code"
  expect_log "does not match this action's version $cargo_version"
  [[ ! -e $STUB_ARGS ]] || fail "a mismatched binary ran"
  # Not an inspector-gate at all.
  printf '#!/bin/sh\necho something else 1.0\n' >"$runner/onpath/inspector-gate"
  PATH="$runner/onpath:$PATH" run_action '{"image": "app:1", "version": "path"}'
  expect_eq "$code" 2 "foreign binary exit code"
  expect_log "not an inspector-gate binary?"
}

test_version_path_missing() {
  new_runner
  PATH=/usr/bin:/bin run_action '{"image": "app:1", "version": "path"}'
  expect_eq "$code" 2 "exit code"
  expect_log "there is no inspector-gate on PATH"
}

test_version_invalid() {
  new_runner
  run_action '{"image": "app:1", "version": "latest"}'
  expect_eq "$code" 2 "exit code"
  expect_log "input 'version' must be empty"
  expect_eq "$(failed_step)" prep "failing step"
}

# A fake cargo: records its arguments and "builds" the stub into --root/bin.
fake_cargo() {
  mkdir -p "$runner/cargo-bin"
  cat >"$runner/cargo-bin/cargo" <<CARGO
#!/usr/bin/env bash
printf '%s\n' "\$*" >>"$runner/cargo.log"
root=
while [[ \$# -gt 0 ]]; do case \$1 in --root) root=\$2; shift 2 ;; *) shift ;; esac; done
mkdir -p "\$root/bin"
cp "$work/inspector-gate" "\$root/bin/inspector-gate"
CARGO
  chmod +x "$runner/cargo-bin/cargo"
}

test_version_source_builds_and_caches() {
  new_runner
  fake_cargo
  action_copy "$root/.github/checksums.txt"
  export STUB_VERSION=$cargo_version STUB_EXIT=1
  PATH="$runner/cargo-bin:$PATH" run_action '{"image": "app:1", "version": "source"}'
  expect_eq "$code" 1 "exit code (the gate's violation)"
  local key source_root
  key=$(ig_source_key "$ACTION_DIR")
  expect_eq "$(step_out prep source-key)" "$key" "source key"
  source_root=$(step_out prep source-root)
  expect_eq "$(cat "$runner/cargo.log")" "install --locked --path $ACTION_DIR --root $source_root --bin inspector-gate" "cargo call"
  # What runs is a fresh copy of the build, re-hashed; the build's record names the sources.
  local bin
  bin=$(step_out install bin)
  [[ $bin == "$RUNNER_TEMP"/inspector-gate-bin.*/inspector-gate ]] || fail "bin output [$bin]"
  expect_log "inspector-gate $cargo_version (built from source: $bin)"
  expect_eq "$(cat "$source_root/inspector-gate.sha256")" \
    "$(ig_sha256 "$source_root/bin/inspector-gate")  $key" "build record"
  expect_log "[sim] cache saved under key inspector-gate-source-Linux-X64-$key"
  # A later job: fresh runner, same actions cache: restored, cargo never runs.
  local shared_cache=$ACTION_SIM_CACHE
  new_runner
  fake_cargo
  export ACTION_SIM_CACHE=$shared_cache STUB_VERSION=$cargo_version
  PATH="$runner/cargo-bin:$PATH" run_action '{"image": "app:1", "version": "source"}'
  expect_eq "$code" 0 "second job exit code"
  expect_log '[sim] cache restored from key'
  expect_log 'found in the source cache, SHA-256 re-checked against its build record'
  [[ ! -e $runner/cargo.log ]] || fail "cargo ran again despite the cache"
  # A source change is a new key.
  local other
  other=$(mktemp -d "$work/src.XXXXXX")
  cp -r "$root/Cargo.toml" "$root/Cargo.lock" "$root/src" "$other/"
  echo '// changed' >>"$other/src/main.rs"
  [[ $(ig_source_key "$other") != "$key" ]] || fail "a source change kept the cache key"
}

test_version_source_tampered_cache_rebuilt() {
  # A restored source build that no longer hashes to its build record (or whose record names
  # other sources, or is missing) is rebuilt, never run.
  new_runner
  fake_cargo
  action_copy "$root/.github/checksums.txt"
  export STUB_VERSION=$cargo_version
  PATH="$runner/cargo-bin:$PATH" run_action '{"image": "app:1", "version": "source"}'
  expect_eq "$code" 0 "first job"
  local key store shared_cache=$ACTION_SIM_CACHE
  key=$(ig_source_key "$ACTION_DIR")
  store="$ACTION_SIM_CACHE/inspector-gate-source-Linux-X64-$key"
  [[ -f $store/bin/inspector-gate ]] || { fail "nothing saved in the simulated cache"; return; }
  printf '\n# tampered\n' >>"$store/bin/inspector-gate"
  local forged
  for forged in binary record-for-other-sources no-record; do
    case $forged in
      record-for-other-sources)
        printf '%s  %s\n' "$(ig_sha256 "$store/bin/inspector-gate")" "$(printf '0%.0s' {1..64})" >"$store/inspector-gate.sha256"
        ;;
      no-record) rm -f "$store/inspector-gate.sha256" ;;
    esac
    new_runner
    fake_cargo
    export ACTION_SIM_CACHE=$shared_cache STUB_VERSION=$cargo_version
    PATH="$runner/cargo-bin:$PATH" run_action '{"image": "app:1", "version": "source"}'
    expect_eq "$code" 0 "exit code ($forged)"
    expect_log '[sim] cache restored from key'
    expect_log "::warning title=inspector-gate action::the source cache entry"
    [[ -s $runner/cargo.log ]] || fail "not rebuilt ($forged)"
    ! grep -q tampered "$(step_out install bin)" || fail "the tampered build was run ($forged)"
    [[ -e $STUB_ARGS ]] || fail "the rebuilt binary did not run ($forged)"
  done
}

test_version_source_needs_cargo() {
  new_runner
  if PATH=/usr/bin:/bin command -v cargo >/dev/null; then
    return 0 # cargo is installed system-wide here: no PATH without it to try
  fi
  PATH=/usr/bin:/bin run_action '{"image": "app:1", "version": "source"}'
  expect_eq "$code" 2 "exit code"
  expect_log "version: source needs a Rust toolchain (cargo)"
}

# ---- consistency of action.yml ---------------------------------------------------------------

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
  # Every input reaches exactly one step as INPUT_<NAME>, and that step's script reads it.
  if "$python" - "$root/action.yml" "$root/scripts/action" <<'PY'; then return 0; else fail "inputs not wired"; fi
import os, re, sys, yaml
action = yaml.safe_load(open(sys.argv[1]))
scripts = sys.argv[2]
problems = []
seen = {}
for step in action["runs"]["steps"]:
    for var, value in (step.get("env") or {}).items():
        m = re.fullmatch(r"\$\{\{ inputs\.([a-z0-9-]+) \}\}", str(value))
        if not m:
            continue
        name = m.group(1)
        if var != "INPUT_" + name.upper().replace("-", "_"):
            problems.append(f"{name}: passed as {var}")
        seen.setdefault(name, []).append(step.get("id"))
        script = re.search(r"scripts/action/([a-z-]+\.sh)", step["run"]).group(1)
        text = open(os.path.join(scripts, script)).read()
        if "${" + var + ":-}" not in text:
            problems.append(f"{name}: {script} does not read {var}")
for name in action["inputs"]:
    if len(seen.get(name, [])) != 1:
        problems.append(f"input {name} reaches {len(seen.get(name, []))} steps, not 1")
for name in ("verdict", "digest", "image-uri", "report-dir", "sarif"):
    if action["outputs"].get(name, {}).get("value") != "${{ steps.gate.outputs.%s }}" % name:
        problems.append(f"output {name} is not mapped from the gate step")
if problems:
    print("\n".join(problems))
sys.exit(1 if problems else 0)
PY
}

test_pin_docs() {
  # pin-docs.sh: every release-form reference (a SHA with a release comment) moves to the
  # release's commit; the forms for before any release stay as they are.
  local copy="$work/docs-copy" commit=abcdefabcdefabcdefabcdefabcdefabcdefabcd f before
  mkdir -p "$copy/scripts" "$copy/inspector-gate-buildkite-plugin" "$copy/codebuild"
  cp -r "$root/scripts/action" "$copy/scripts/"
  cp "$root/README.md" "$root/action.yml" "$copy/"
  cp "$root/inspector-gate-buildkite-plugin/README.md" "$copy/inspector-gate-buildkite-plugin/"
  cp "$root/codebuild/README.md" "$copy/codebuild/"
  before=$(cat "$copy/README.md" "$copy/action.yml" "$copy/inspector-gate-buildkite-plugin/README.md" "$copy/codebuild/README.md" |
    grep -cE '[0-9a-f]{40}' || true)
  bash "$copy/scripts/action/pin-docs.sh" 9.8.7 "$commit" >/dev/null || fail "pin-docs.sh failed"
  for f in README.md action.yml inspector-gate-buildkite-plugin/README.md codebuild/README.md; do
    grep -qE "$commit:? # v9\.8\.7\$" "$copy/$f" || fail "$f: no release reference to $commit # v9.8.7"
    ! grep -qE '[0-9a-f]{40}:? # v0\.' "$copy/$f" || fail "$f still names the old release"
    grep -q 0123456789abcdef0123456789abcdef01234567 "$copy/$f" || fail "$f lost its before-a-release form"
  done
  [[ $(cat "$copy/README.md" "$copy/action.yml" "$copy/inspector-gate-buildkite-plugin/README.md" "$copy/codebuild/README.md" |
    grep -cE '[0-9a-f]{40}' || true) -eq $before ]] || fail "pin-docs.sh changed the number of SHA references"
  bash "$copy/scripts/action/pin-docs.sh" 9.8.7 v9.8.7 >/dev/null 2>&1 && fail "a tag name was accepted as the commit"
  return 0
}

test_pin_release() {
  # pin-release.sh on a copy of the files it edits: every pin moves together.
  local copy="$work/pin-copy" sums="$work/pin-sums" target
  mkdir -p "$copy/scripts" "$copy/inspector-gate-buildkite-plugin/lib" "$copy/codebuild" "$copy/.github"
  cp -r "$root/scripts/action" "$copy/scripts/"
  cp "$root/.github/action-version" "$root/.github/checksums.txt" "$copy/.github/"
  cp "$root/inspector-gate-buildkite-plugin/checksums.txt" "$copy/inspector-gate-buildkite-plugin/"
  cp "$root/inspector-gate-buildkite-plugin/lib/release.bash" "$copy/inspector-gate-buildkite-plugin/lib/"
  cp "$root/inspector-gate-buildkite-plugin/README.md" "$copy/inspector-gate-buildkite-plugin/"
  cp "$root/codebuild/buildspec.yml" "$root/codebuild/pipeline.yaml" "$copy/codebuild/"
  : >"$sums"
  for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin \
    aarch64-apple-darwin x86_64-pc-windows-msvc; do
    printf '%s  %s\n' "$(printf '%s' "$target" | sha256sum | cut -d' ' -f1)" "$(ig_asset 9.8.7 "$target")" >>"$sums"
  done
  bash "$copy/scripts/action/pin-release.sh" 9.8.7 "$sums" >/dev/null || fail "pin-release.sh failed"
  expect_eq "$(cat "$copy/.github/action-version")" 9.8.7 "action version"
  expect_eq "$(grep -vE '^#' "$copy/.github/checksums.txt")" "$(cat "$sums")" ".github/checksums.txt"
  expect_eq "$(grep -vE '^#' "$copy/inspector-gate-buildkite-plugin/checksums.txt")" "$(cat "$sums")" "inspector-gate-buildkite-plugin/checksums.txt"
  grep -q '^# SHA-256' "$copy/.github/checksums.txt" || fail "comment header lost"
  grep -qx 'INSPECTOR_GATE_VERSION="9.8.7"' "$copy/inspector-gate-buildkite-plugin/lib/release.bash" || fail "Buildkite version not pinned"
  grep -qx '    INSPECTOR_GATE_VERSION: "9.8.7"' "$copy/codebuild/buildspec.yml" || fail "buildspec version not pinned"
  grep -A4 '^  InspectorGateVersion:' "$copy/codebuild/pipeline.yaml" | grep -qx '    Default: 9.8.7' ||
    fail "pipeline.yaml default not pinned"
  local x86
  x86=$(printf '%s' x86_64-unknown-linux-musl | sha256sum | cut -d' ' -f1)
  grep -A3 '^  InspectorGateSha256:' "$copy/codebuild/pipeline.yaml" | grep -qx "    Default: \"$x86\"" ||
    fail "pipeline.yaml InspectorGateSha256 default not pinned to the x86_64 Linux asset"
  grep -A3 '^  InspectorGateSourceRef:' "$copy/codebuild/pipeline.yaml" | grep -qx '    Default: v9.8.7' ||
    fail "pipeline.yaml InspectorGateSourceRef default not pinned"
  [[ $(grep -c '^ *INSPECTOR_GATE_SOURCE_REF: v9.8.7$' "$copy"/codebuild/buildspec.yml) -eq 1 ]] ||
    fail "buildspec source ref not pinned"
  [[ -z $(find "$copy" -name '*.bak') ]] || fail "backup files left behind"
  # Incomplete release: refused, nothing changed.
  head -n 4 "$sums" >"$sums.short"
  bash "$copy/scripts/action/pin-release.sh" 9.9.9 "$sums.short" >/dev/null 2>&1 && fail "an incomplete SHA256SUMS was pinned"
  expect_eq "$(cat "$copy/.github/action-version")" 9.8.7 "version after a refused pin"
}

# ---- the real binary -------------------------------------------------------------------------

# The action-test workflow's cases, here: the real binary packed as the release must pass a dry
# run and refuse an image reference without tag or digest (exit 2) with its cause reaching the
# summary, and at most one ::error line (the binary's own).
test_real_binary_release() {
  local real_release="$work/real-release"
  bash "$root/scripts/action/pack-release.sh" "$real_bin" "$real_release" \
    x86_64-unknown-linux-musl "$cargo_version" >/dev/null || fail "cannot pack $real_bin"
  new_runner
  export INSPECTOR_GATE_RELEASE_BASE_URL="file://$real_release"
  export INSPECTOR_GATE_CHECKSUMS_FILE="$real_release/SHA256SUMS"
  if [[ $cargo_version != "$version" ]]; then
    fail ".github/action-version ($version) differs from Cargo.toml ($cargo_version): pack for which?"
    return
  fi
  run_action '{"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0", "fail-on": "HIGH", "dry-run": "true"}'
  expect_eq "$code" 0 "must-pass exit code"
  [[ -n $(out verdict) && $(out verdict) != fail && $(out verdict) != error ]] || fail "must-pass verdict $(out verdict)"
  run_action '{"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app", "dry-run": "true"}'
  expect_eq "$code" 2 "must-fail exit code"
  expect_eq "$(out verdict)" error "must-fail verdict"
  # Exactly one annotation, the gate's own, naming the cause; the summary names it too.
  [[ $(grep -c '^::error' "$log") -eq 1 ]] || fail "want exactly one ::error line, got $(grep -c '^::error' "$log")"
  grep -q '^::error title=inspector-gate::.*missing tag or digest' "$log" || fail "the ::error line does not name the cause"
  ! grep -q '^::error title=inspector-gate action::' "$log" || fail "the action annotated the gate's own error"
  grep -q 'missing tag or digest' "$GITHUB_STEP_SUMMARY" || fail "the summary does not name the cause"
}

test_real_binary_on_path() {
  new_runner
  mkdir -p "$runner/onpath"
  ln -s "$real_bin" "$runner/onpath/inspector-gate"
  PATH="$runner/onpath:$PATH" run_action '{"image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1.0", "version": "path", "dry-run": "true"}'
  expect_eq "$code" 0 "exit code"
  expect_log "inspector-gate $cargo_version (from PATH: "
}

check "targets: runner OS/arch to release asset" test_targets
check "pin-release.sh moves every pin together" test_pin_release
check "pin-docs.sh points the docs' release-form references at the release's commit" test_pin_docs
check "every input is wired to one step's script; outputs mapped from the gate step" test_inputs_wired
check "pass: every input becomes the right argument (real CLI accepts them); outputs, summary, cache, PATH" test_pass_outputs_and_args
check "defaults: only the image and a fresh report dir" test_defaults
check "image list: newlines, commas and blanks separate images" test_image_list
check "push-from list: one source per line, paths keep their commas and blanks" test_push_from_list
check "two uses in one job get different default report dirs" test_two_uses_do_not_share_reports
check "exit 1 (violation) propagates with outputs set" test_exit_1
check "exit 3 (inconclusive) propagates with outputs set" test_exit_3
check "exit 4 before any output: fallbacks, the cause in the summary, no extra ::error" test_early_error_cause_in_summary
check "exit 2 (usage) propagates" test_usage_error_exit_2
check "the cached asset is re-hashed on every use; a tampered one is never run" test_cache_rehashed_every_use
check "a tampered cached asset with an unwritable tool cache is never run: exit 4" test_tampered_cache_unwritable_never_run
check "an unexpected failure in the install is exit 4, naming the command" test_unexpected_install_failure_exit_4
check "a binary replaced after the install step is never run: exit 4" test_binary_replaced_after_install_never_run
check "checksum mismatch refused, nothing run or kept" test_checksum_mismatch_refused
check "no pin: refused, pointing to version: source" test_missing_pin_points_to_source
check "local overrides (file://, checksums file) only in test mode" test_local_overrides_need_test_mode
check "release-url / checksums-url: https only, no credentials" test_override_inputs_https_only
check "release-url / checksums-url over https: warned, still SHA-256 checked" test_override_inputs_over_https
check "inputs are passed literally, never evaluated" test_inputs_are_not_evaluated
check "credentials in URLs are not logged" test_credentials_not_logged
check "bad boolean input is a usage error" test_bad_boolean
check "min-epss reaches the binary; exploit-available-only is a strict boolean" test_new_filter_inputs
check "policy-floor, max-informational and baseline reach the binary; baseline-optional and insecure-registry are strict booleans" test_floor_baseline_registry_inputs
check "ignore-unfixed / exploit-available-only false reach the binary as =false; unset passes nothing" test_filters_false_override_policy_file
check "an argument the real CLI refuses fails the case" test_real_cli_rejects_renamed_flag
check "Windows runner: zip asset, inspector-gate.exe" test_windows_zip
check "version: path: version checked and logged; minor mismatch refused" test_version_path
check "version: path without a binary on PATH" test_version_path_missing
check "version: anything else is refused" test_version_invalid
check "version: source: cargo install --locked, cached across jobs even when the gate fails" test_version_source_builds_and_caches
check "version: source: a restored build that no longer matches its record is rebuilt, never run" test_version_source_tampered_cache_rebuilt
check "version: source without cargo" test_version_source_needs_cargo
check "no expressions inside run:" test_no_expressions_in_run
check "real binary as the release: dry run passes, bad reference is exit 2 with exactly one ::error naming the cause" test_real_binary_release
check "real binary from PATH (version: path)" test_real_binary_on_path

echo "action: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
