#!/usr/bin/env bash
# Pin the integrations to a release: write VERSION to .github/action-version, the Buildkite
# plugin (inspector-gate-buildkite-plugin/lib/release.bash) and the CodeBuild files
# (buildspecs: version and source ref vVERSION; pipeline.yaml: the InspectorGateVersion,
# InspectorGateSha256 and InspectorGateSourceRef defaults, and the approval buildspec inline in
# it), and the release's SHA256SUMS (as built by .github/workflows/release.yml) to
# .github/checksums.txt and inspector-gate-buildkite-plugin/checksums.txt, keeping their comment headers.
#
# The release workflow runs it on the commit it built, commits the result and tags that commit
# vVERSION (docs/release.md): a tag a user references always holds its own pins.
#
# usage: pin-release.sh VERSION SHA256SUMS
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || ig_die "usage: pin-release.sh VERSION SHA256SUMS"
version=$1
sums=$2
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || ig_die "invalid version '$version'"
[[ -r $sums ]] || ig_die "cannot read $sums"

root=$(ig_root)
lines=$(grep -E "^[0-9a-f]{64}  inspector-gate-$version-" "$sums" || true)
[[ -n $lines ]] || ig_die "$sums lists no asset of inspector-gate $version"
for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin \
  aarch64-apple-darwin x86_64-pc-windows-msvc; do
  asset=$(ig_asset "$version" "$target")
  grep -q "  $asset\$" <<<"$lines" || ig_die "$sums has no checksum for $asset"
done

for file in "$root/.github/checksums.txt" "$root/inspector-gate-buildkite-plugin/checksums.txt"; do
  { grep -E '^#' "$file" || true; printf '%s\n' "$lines"; } >"$file.new"
  mv "$file.new" "$file"
done
printf '%s\n' "$version" >"$root/.github/action-version"
# The Buildkite plugin and the CodeBuild examples name the version in their own files.
x86_sha=$(ig_expected_sha256 "$sums" "$(ig_asset "$version" x86_64-unknown-linux-musl)")
sed -i.bak -E "s/^(INSPECTOR_GATE_VERSION=\")[^\"]*(\")/\1$version\2/" "$root/inspector-gate-buildkite-plugin/lib/release.bash"
# Buildspec files and the buildspec inline in pipeline.yaml (indented deeper there).
for spec in "$root"/codebuild/buildspec*.yml "$root/codebuild/pipeline.yaml"; do
  [[ -f $spec ]] || continue
  sed -i.bak -E \
    -e "s/^( +INSPECTOR_GATE_VERSION: \")[^\"]*(\")/\1$version\2/" \
    -e "s/^( +INSPECTOR_GATE_SOURCE_REF: ).*/\1v$version/" "$spec"
done
sed -i.bak -E \
  -e "/^  InspectorGateVersion:/,/^  [A-Za-z]/ s/^(    Default: ).*/\1$version/" \
  -e "/^  InspectorGateSha256:/,/^  [A-Za-z]/ s/^(    Default: ).*/\1\"$x86_sha\"/" \
  -e "/^  InspectorGateSourceRef:/,/^  [A-Za-z]/ s/^(    Default: ).*/\1v$version/" \
  "$root/codebuild/pipeline.yaml"
find "$root/inspector-gate-buildkite-plugin" "$root/codebuild" -name '*.bak' -delete
echo "pinned inspector-gate $version (x86_64 Linux asset SHA-256 $x86_sha)"
