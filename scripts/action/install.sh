#!/usr/bin/env bash
# Step 1 of the GitHub Action: install the inspector-gate release binary this action is pinned
# to, for the runner's OS and architecture, after checking its SHA-256 against
# .github/checksums.txt. A verified copy is kept in the runner's tool cache.
#
# Reads:  RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, RUNNER_TEMP, GITHUB_OUTPUT, GITHUB_PATH
#         INSPECTOR_GATE_RELEASE_BASE_URL   replaces https://github.com/…/releases/download
#                                           (mirrors, tests: file:// or loopback http)
#         INSPECTOR_GATE_CHECKSUMS_FILE     replaces .github/checksums.txt (tests, local builds)
# Writes: step output `bin` (absolute path of the binary), `version`; the binary's
#         directory to $GITHUB_PATH.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

version=$(ig_version)
target=$(ig_target "${RUNNER_OS:-}" "${RUNNER_ARCH:-}")
asset=$(ig_asset "$version" "$target")
exe=$(ig_exe "$target")
checksums=${INSPECTOR_GATE_CHECKSUMS_FILE:-"$(ig_root)/.github/checksums.txt"}

expected=$(ig_expected_sha256 "$checksums" "$asset")
[[ -n $expected ]] ||
  ig_die "no SHA-256 pinned for $asset in $checksums: refusing to install an unverified binary"

tmp_root=$(ig_unix_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")
cache_root=$(ig_unix_path "${RUNNER_TOOL_CACHE:-$tmp_root/tool-cache}")
arch_dir=${RUNNER_ARCH:-x64}
arch_dir=$(printf '%s' "$arch_dir" | tr '[:upper:]' '[:lower:]')
# Same layout as @actions/tool-cache: <cache>/<tool>/<version>/<arch> plus <arch>.complete.
tool_dir="$cache_root/inspector-gate/$version/$arch_dir"
marker="$tool_dir.complete"
pinned_marker="$tool_dir/.asset-sha256"

# A cache entry counts only if it was completed and came from the asset pinned now.
if [[ -f $marker && -x $tool_dir/$exe && -f $pinned_marker ]] &&
  [[ $(tr -d ' \r\n' <"$pinned_marker") == "$expected" ]]; then
  echo "inspector-gate $version ($target) found in the tool cache"
else
  base=${INSPECTOR_GATE_RELEASE_BASE_URL:-$IG_RELEASE_REPO_URL}
  url="${base%/}/v$version/$asset"
  work=$(mktemp -d "$tmp_root/inspector-gate-install.XXXXXX")
  trap 'rm -rf "$work"' EXIT

  echo "downloading $url"
  protocols='=https'
  [[ -n ${INSPECTOR_GATE_RELEASE_BASE_URL:-} ]] && protocols='=https,http,file'
  # Failures from here on are runtime errors (exit 4), not usage errors.
  export IG_DIE_CODE=4
  curl --fail --silent --show-error --location --proto "$protocols" --proto-redir "$protocols" \
    --retry 3 --retry-delay 2 --connect-timeout 20 --max-time 300 \
    --output "$work/$asset" "$url" ||
    ig_die "download of $url failed"

  actual=$(ig_sha256 "$work/$asset")
  if [[ $actual != "$expected" ]]; then
    ig_die "checksum mismatch for $asset: expected $expected, got $actual; refusing to install it"
  fi
  echo "verified SHA-256 $actual"

  mkdir -p "$work/unpacked"
  ig_extract "$work/$asset" "$work/unpacked"
  [[ -f $work/unpacked/$exe ]] || ig_die "$asset does not contain $exe at its top level"
  chmod +x "$work/unpacked/$exe"
  printf '%s\n' "$expected" >"$work/unpacked/.asset-sha256"

  rm -rf "$tool_dir" "$marker"
  mkdir -p "$(dirname "$tool_dir")"
  mv "$work/unpacked" "$tool_dir"
  : >"$marker"
  export IG_DIE_CODE=2
  echo "installed inspector-gate $version ($target) in $tool_dir"
fi

if [[ -n ${GITHUB_PATH:-} ]]; then
  ig_native_path "$tool_dir" >>"$GITHUB_PATH"
fi
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  ig_output "$GITHUB_OUTPUT" bin "$tool_dir/$exe"
  ig_output "$GITHUB_OUTPUT" version "$version"
fi
