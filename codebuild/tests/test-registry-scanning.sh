#!/usr/bin/env bash
# The registry scanning commands of codebuild/README.md (the blocks after
# `<!-- snippet: scanning-add -->` and `<!-- snippet: scanning-remove -->`), run as written
# against moto with the real AWS CLI: adding the stack's repository keeps every other rule and
# filter of the registry (scan-on-push and continuous), and removing it takes out only that
# filter. Prints one line per case and "registry scanning: N passed, M failed".
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROOT=$root
PIDS=()
# shellcheck source=SCRIPTDIR/../../scripts/lib/emulators.sh
. "$root/scripts/lib/emulators.sh"
work=$(mktemp -d)
cleanup() {
  local pid
  for pid in "${PIDS[@]+"${PIDS[@]}"}"; do kill "$pid" 2>/dev/null || :; done
  rm -rf "$work"
}
trap cleanup EXIT
export_dummy_aws
command -v jq >/dev/null || { echo "registry scanning: error: jq is missing (apt-get install jq)" >&2; exit 1; }
start_moto

# `aws` as the README's commands call it: the venv's CLI, pointed at moto.
mkdir -p "$work/bin"
printf '#!/bin/sh\nexec %q --endpoint-url http://127.0.0.1:%s "$@"\n' "$root/.venv/bin/aws" "$MOTO_PORT" >"$work/bin/aws"
chmod +x "$work/bin/aws"

# snippet NAME — the shell block after <!-- snippet: NAME --> in codebuild/README.md.
snippet() {
  awk -v name="$1" '
    $0 == "<!-- snippet: " name " -->" { want = 1; next }
    want && /^```sh$/ { inside = 1; next }
    inside && /^```$/ { exit }
    inside { print }
  ' "$root/codebuild/README.md"
}

rules() {
  PATH="$work/bin:$PATH" aws ecr get-registry-scanning-configuration \
    --query 'scanningConfiguration' --output json | jq -cS '{scanType, rules: [.rules[] | {scanFrequency, filters: [.repositoryFilters[].filter] | sort}] | sort_by(.scanFrequency)}'
}

passed=0
failed=0
expect() {
  if [[ $2 == "$3" ]]; then
    passed=$((passed + 1))
    echo "ok - $1"
  else
    failed=$((failed + 1))
    echo "not ok - $1"
    echo "    expected $3"
    echo "    got      $2"
  fi
}

add=$(snippet scanning-add)
remove=$(snippet scanning-remove)
[[ -n $add && -n $remove ]] || { echo "registry scanning: error: no snippet in codebuild/README.md" >&2; exit 1; }

# A registry on basic scanning with no rules: enhanced, continuous for the repository.
PATH="$work/bin:$PATH" bash -euo pipefail -c "$add" >/dev/null
expect "empty basic registry: the repository is scanned continuously" "$(rules)" \
  '{"rules":[{"filters":["inspector-gate-images"],"scanFrequency":"CONTINUOUS_SCAN"}],"scanType":"ENHANCED"}'
PATH="$work/bin:$PATH" bash -euo pipefail -c "$remove" >/dev/null
expect "remove: nothing left, still enhanced" "$(rules)" '{"rules":[],"scanType":"ENHANCED"}'

# A registry whose scanning other teams manage: their rules survive both commands.
"${AWS[@]}" ecr put-registry-scanning-configuration --scan-type ENHANCED --rules \
  '[{"scanFrequency":"SCAN_ON_PUSH","repositoryFilters":[{"filter":"team-a/*","filterType":"WILDCARD"}]},{"scanFrequency":"CONTINUOUS_SCAN","repositoryFilters":[{"filter":"prod-*","filterType":"WILDCARD"},{"filter":"billing","filterType":"WILDCARD"}]}]' >/dev/null
before=$(rules)
PATH="$work/bin:$PATH" bash -euo pipefail -c "$add" >/dev/null
expect "managed registry: the repository is added, every other rule kept" "$(rules)" \
  '{"rules":[{"filters":["billing","inspector-gate-images","prod-*"],"scanFrequency":"CONTINUOUS_SCAN"},{"filters":["team-a/*"],"scanFrequency":"SCAN_ON_PUSH"}],"scanType":"ENHANCED"}'
PATH="$work/bin:$PATH" bash -euo pipefail -c "$add" >/dev/null
expect "adding twice adds it once" "$(rules)" \
  '{"rules":[{"filters":["billing","inspector-gate-images","prod-*"],"scanFrequency":"CONTINUOUS_SCAN"},{"filters":["team-a/*"],"scanFrequency":"SCAN_ON_PUSH"}],"scanType":"ENHANCED"}'
PATH="$work/bin:$PATH" bash -euo pipefail -c "$remove" >/dev/null
expect "remove: exactly the configuration from before" "$(rules)" "$before"

echo "registry scanning: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
