#!/usr/bin/env bash
# Step 1 of the GitHub Action: decide where the binary comes from (the `version` input) and,
# for `version: source`, name the cache entry the next step (actions/cache) restores and
# saves, keyed by a hash of the sources the build depends on.
#
#   version: ''      the release this action is pinned to (.github/action-version and
#                    .github/checksums.txt), SHA-256 checked: the default
#   version: source  build this action's own checkout with `cargo install --locked`
#   version: path    the inspector-gate already on PATH (its version checked and logged)
#
# Reads:  INPUT_VERSION, RUNNER_TOOL_CACHE, RUNNER_TEMP
# Writes: step outputs `mode` (release, source or path), `source-key` and `source-root`
#         (source mode only: the cache key and the `cargo install --root` directory).
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode=$(printf '%s' "${INPUT_VERSION:-}" | tr -d ' \t\r\n' | tr '[:upper:]' '[:lower:]')
case $mode in
  '' | release) mode=release ;;
  source | path) ;;
  *)
    ig_die "input 'version' must be empty (the release this action pins, $(ig_version)), 'source' or 'path', not '${INPUT_VERSION:-}'; for another release use that release's tag of the action"
    ;;
esac
echo "inspector-gate comes from: $mode"

source_key=
source_root=
if [[ $mode == source ]]; then
  tmp_root=$(ig_unix_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")
  cache_root=$(ig_unix_path "${RUNNER_TOOL_CACHE:-$tmp_root/tool-cache}")
  source_key=$(ig_source_key "$(ig_root)")
  source_root="$cache_root/inspector-gate/source-${source_key:0:16}"
  echo "source build cache: $source_root (key ${source_key:0:16})"
fi

if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  ig_output "$GITHUB_OUTPUT" mode "$mode"
  ig_output "$GITHUB_OUTPUT" source-key "$source_key"
  # actions/cache and the next step get a path the runner itself understands.
  ig_output "$GITHUB_OUTPUT" source-root "${source_root:+$(ig_native_path "$source_root")}"
fi
