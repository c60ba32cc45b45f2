#!/usr/bin/env bash
# Last step of the GitHub Action: turn the action's inputs (passed as INPUT_* environment
# variables, never pasted into the script) into `inspector-gate gate` arguments, re-hash the
# binary the install step put in place (GATE_BIN against GATE_BIN_SHA256), run it, make sure
# every action output has a value, and exit with the gate's own exit code.
#
# The binary itself writes the outputs (verdict, digest, image-uri, report-dir, sarif), the
# step summary and the ::error annotations when it runs under GitHub Actions: for exits 2/3/4
# it prints one `::error title=inspector-gate::<cause>`, so this script prints none of its own
# for the gate's exit codes. It only fills in what a run that ended early did not write, and
# puts the cause (the gate's last `error:` line) into the fallback step summary.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin=${GATE_BIN:-inspector-gate}
args=(gate)

# The binary the install step verified, unchanged since: it hashed it after its last copy
# (GATE_BIN_SHA256); anything else in its place is never run (exit 4, a runtime error).
if [[ -n ${GATE_BIN:-} ]]; then
  [[ ${GATE_BIN_SHA256:-} =~ ^[0-9a-f]{64}$ ]] ||
    ig_fail 4 "the install step recorded no SHA-256 for $GATE_BIN: refusing to run it"
  actual_sha256=$(ig_sha256 "$GATE_BIN")
  [[ $actual_sha256 == "$GATE_BIN_SHA256" ]] ||
    ig_fail 4 "$GATE_BIN changed after the install step verified it (SHA-256 $actual_sha256, installed $GATE_BIN_SHA256): refusing to run it"
fi

# list_input VALUE — split a list input on newlines, commas and blanks into the array `items`.
list_input() {
  items=()
  local normalized=${1//,/ }
  local word
  local -a words=()
  normalized=${normalized//$'\r'/ }
  normalized=${normalized//$'\n'/ }
  normalized=${normalized//$'\t'/ }
  read -r -a words <<<"$normalized" || true
  for word in "${words[@]+"${words[@]}"}"; do
    [[ -n $word ]] && items+=("$word")
  done
  return 0
}

# bool_input NAME VALUE — true/false (empty is false); anything else is a usage error.
bool_input() {
  case "$(printf '%s' "$2" | tr '[:upper:]' '[:lower:]')" in
    true | yes | 1) return 0 ;;
    false | no | 0 | '') return 1 ;;
    *) ig_die "input '$1' must be true or false, not '$2'" ;;
  esac
}

# filter_flag FLAG NAME VALUE — a policy filter input: FLAG when true, FLAG=false when set to
# false (so the workflow can turn off a filter the repository's policy file turns on), nothing
# when empty (the policy file decides).
filter_flag() {
  [[ -n $3 ]] || return 0
  if bool_input "$2" "$3"; then args+=("$1"); else args+=("$1=false"); fi
}

# repeat FLAG VALUE — one --flag=item per list item.
repeat() {
  local item
  list_input "$2"
  for item in "${items[@]+"${items[@]}"}"; do args+=("$1=$item"); done
}

# per_line FLAG VALUE — one --flag=line per non-blank line (values that may hold commas or
# blanks, such as paths).
per_line() {
  local line
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'\r'}
    [[ $line =~ [^[:space:]] ]] && args+=("$1=$line")
  done <<<"$2"
  return 0
}

# single FLAG VALUE — --flag=value when the input is set.
single() {
  if [[ -n $2 ]]; then args+=("$1=$2"); fi
}

repeat --image "${INPUT_IMAGE:-}"
per_line --push-from "${INPUT_PUSH_FROM:-}"
repeat --tag "${INPUT_TAG:-}"
single --policy "${INPUT_POLICY:-}"
single --policy-floor "${INPUT_POLICY_FLOOR:-}"
single --max-critical "${INPUT_MAX_CRITICAL:-}"
single --max-high "${INPUT_MAX_HIGH:-}"
single --max-medium "${INPUT_MAX_MEDIUM:-}"
single --max-low "${INPUT_MAX_LOW:-}"
single --max-informational "${INPUT_MAX_INFORMATIONAL:-}"
single --max-untriaged "${INPUT_MAX_UNTRIAGED:-}"
single --fail-on "${INPUT_FAIL_ON:-}"
filter_flag --ignore-unfixed ignore-unfixed "${INPUT_IGNORE_UNFIXED:-}"
single --min-epss "${INPUT_MIN_EPSS:-}"
single --min-inspector-score "${INPUT_MIN_INSPECTOR_SCORE:-}"
filter_flag --exploit-available-only exploit-available-only "${INPUT_EXPLOIT_AVAILABLE_ONLY:-}"
repeat --ignore "${INPUT_IGNORE:-}"
repeat --vex "${INPUT_VEX:-}"
single --timeout "${INPUT_TIMEOUT:-}"
single --on-timeout "${INPUT_ON_TIMEOUT:-}"
single --poll-interval "${INPUT_POLL_INTERVAL:-}"
single --settle "${INPUT_SETTLE:-}"

report_dir=${INPUT_REPORT_DIR:-}
if [[ -z $report_dir ]]; then
  # A new directory per use of the action: two gate steps in one job never mix reports.
  tmp_root=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
  mkdir -p "$tmp_root"
  report_dir=$(mktemp -d "$tmp_root/inspector-gate-reports.XXXXXX")
fi
args+=("--report-dir=$report_dir")
single --format "${INPUT_FORMAT:-}"

single --approve "${INPUT_APPROVE:-}"
single --pipeline-execution-id "${INPUT_PIPELINE_EXECUTION_ID:-}"
single --report-url "${INPUT_REPORT_URL:-}"
single --image-definitions "${INPUT_IMAGE_DEFINITIONS:-}"
single --container-name "${INPUT_CONTAINER_NAME:-}"
single --image-detail "${INPUT_IMAGE_DETAIL:-}"
single --baseline "${INPUT_BASELINE:-}"
if bool_input baseline-optional "${INPUT_BASELINE_OPTIONAL:-}"; then args+=(--baseline-optional); fi
if bool_input soft-fail "${INPUT_SOFT_FAIL:-}"; then args+=(--soft-fail); fi
single --attest "${INPUT_ATTEST:-}"

single --region "${INPUT_REGION:-}"
single --profile "${INPUT_PROFILE:-}"
single --role-arn "${INPUT_ROLE_ARN:-}"
single --role-external-id "${INPUT_ROLE_EXTERNAL_ID:-}"
single --api-rate "${INPUT_API_RATE:-}"
single --registry-url "${INPUT_REGISTRY_URL:-}"
if bool_input insecure-registry "${INPUT_INSECURE_REGISTRY:-}"; then args+=(--insecure-registry); fi

if bool_input quiet "${INPUT_QUIET:-}"; then args+=(-q); fi
if bool_input verbose "${INPUT_VERBOSE:-}"; then args+=(-v); fi
single --color "${INPUT_COLOR:-}"
if bool_input dry-run "${INPUT_DRY_RUN:-}"; then args+=(--dry-run); fi

summary_size=0
if [[ -n ${GITHUB_STEP_SUMMARY:-} && -f ${GITHUB_STEP_SUMMARY:-} ]]; then
  summary_size=$(wc -c <"$GITHUB_STEP_SUMMARY")
fi

# Logged without credentials: URLs lose their userinfo (https://user:token@host -> https://host).
logged=()
for arg in "${args[@]}"; do logged+=("$(ig_redact "$arg")"); done
echo "inspector-gate ${logged[*]}"

# The gate's stderr is shown live and kept, so the fallback summary can name the cause.
errlog=$(mktemp "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/inspector-gate-stderr.XXXXXX")
trap 'rm -f "$errlog"' EXIT
status=0
set +e
{
  "$bin" "${args[@]}" 2>&1 1>&3 3>&- | tee "$errlog" >&2
  status=${PIPESTATUS[0]}
} 3>&1
set -e

# Fill in what an early exit left unset, so later steps can always read the outputs.
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  has_output() { [[ -f $GITHUB_OUTPUT ]] && grep -Eq "^$1(=|<<)" "$GITHUB_OUTPUT"; }
  if ! has_output verdict; then
    case $status in
      0) verdict=pass ;;
      1) verdict=fail ;;
      3) verdict=inconclusive ;;
      *) verdict=error ;;
    esac
    ig_output "$GITHUB_OUTPUT" verdict "$verdict"
  fi
  has_output report-dir || ig_output "$GITHUB_OUTPUT" report-dir "$report_dir"
  if ! has_output sarif && [[ -f $report_dir/report.sarif ]]; then
    ig_output "$GITHUB_OUTPUT" sarif "$report_dir/report.sarif"
  fi
fi

if [[ $status -ne 0 && -n ${GITHUB_STEP_SUMMARY:-} ]]; then
  now_size=0
  [[ -f $GITHUB_STEP_SUMMARY ]] && now_size=$(wc -c <"$GITHUB_STEP_SUMMARY")
  if [[ $now_size -eq $summary_size ]]; then
    case $status in
      1) what="the policy was violated" ;;
      2) what="usage or configuration error" ;;
      3) what="inconclusive: the scan result could not be established" ;;
      *) what="runtime error (AWS, registry, network or I/O)" ;;
    esac
    cause=$(grep -E '^error: ' "$errlog" | tail -n 1 | cut -c 8- || true)
    cause=$(ig_redact "${cause%$'\r'}")
    {
      printf '### inspector-gate\n\nExited with code %s: %s.\n' "$status" "$what"
      if [[ -n $cause ]]; then
        # One line, as the gate printed it; backticks would break out of the code span.
        # shellcheck disable=SC2016 # literal backticks: Markdown, not a command
        printf '\nCause: `%s`\n' "${cause//\`/\'}"
      else
        printf '\nSee the step log for details.\n'
      fi
    } >>"$GITHUB_STEP_SUMMARY"
  fi
fi

exit "$status"
