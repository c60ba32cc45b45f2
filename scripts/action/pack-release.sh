#!/usr/bin/env bash
# Package a built inspector-gate binary as a release asset, exactly as the action expects it:
# OUT_DIR/v<version>/inspector-gate-<version>-<target>.tar.gz (.zip for Windows) with the
# binary at the top level, and its SHA-256 appended to OUT_DIR/SHA256SUMS.
#
# Used by the release workflow, by the action test workflow (a local release of the commit
# under test, served with INSPECTOR_GATE_RELEASE_BASE_URL=file://OUT_DIR) and by
# tests/action/test-action.sh.
#
# usage: pack-release.sh BINARY OUT_DIR [TARGET [VERSION]]
#   TARGET defaults to the runner's (RUNNER_OS/RUNNER_ARCH); VERSION to .github/action-version.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -ge 2 && $# -le 4 ]] || ig_die "usage: pack-release.sh BINARY OUT_DIR [TARGET [VERSION]]"
binary=$1
out=$2
target=${3:-$(ig_target "${RUNNER_OS:-}" "${RUNNER_ARCH:-}")}
version=${4:-$(ig_version)}
[[ -f $binary ]] || ig_die "no binary at $binary"

asset=$(ig_asset "$version" "$target")
exe=$(ig_exe "$target")
mkdir -p "$out/v$version"
out=$(cd "$out" && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$binary" "$stage/$exe"
chmod +x "$stage/$exe"
rm -f "$out/v$version/$asset"

case "$asset" in
  *.zip)
    if command -v zip >/dev/null 2>&1; then
      (cd "$stage" && zip -q -X "$out/v$version/$asset" "$exe")
    elif command -v 7z >/dev/null 2>&1; then
      (cd "$stage" && 7z a -tzip -bd "$(ig_native_path "$out/v$version/$asset")" "$exe" >/dev/null)
    elif command -v pwsh >/dev/null 2>&1; then
      # shellcheck disable=SC2016 # $args is PowerShell's, not ours
      pwsh -NoProfile -Command 'Compress-Archive -LiteralPath $args[0] -DestinationPath $args[1]' \
        "$(ig_native_path "$stage/$exe")" "$(ig_native_path "$out/v$version/$asset")"
    else
      ig_die "cannot create $asset: no zip, 7z or pwsh"
    fi
    ;;
  *) tar -czf "$out/v$version/$asset" -C "$stage" "$exe" ;;
esac

sum=$(ig_sha256 "$out/v$version/$asset")
touch "$out/SHA256SUMS"
# Replace any earlier line for the same asset, keep the others.
grep -v "  $asset\$" "$out/SHA256SUMS" >"$stage/sums" || true
printf '%s  %s\n' "$sum" "$asset" >>"$stage/sums"
cp "$stage/sums" "$out/SHA256SUMS"
echo "$out/v$version/$asset"
