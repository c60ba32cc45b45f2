#!/usr/bin/env bash
# Pin the integrations to a published release: write VERSION to .github/action-version, the
# Buildkite plugin (buildkite/lib/release.bash) and the CodeBuild examples (buildspecs and
# pipeline.yaml's InspectorGateVersion default), and the release's SHA256SUMS (as published by
# .github/workflows/release.yml) to .github/checksums.txt and buildkite/checksums.txt, keeping
# their comment headers. Run it after a release, review the diff, commit.
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

for file in "$root/.github/checksums.txt" "$root/buildkite/checksums.txt"; do
  { grep -E '^#' "$file" || true; printf '%s\n' "$lines"; } >"$file.new"
  mv "$file.new" "$file"
done
printf '%s\n' "$version" >"$root/.github/action-version"
# The Buildkite plugin and the CodeBuild examples name the version in their own files.
sed -i.bak -E "s/^(INSPECTOR_GATE_VERSION=\")[^\"]*(\")/\1$version\2/" "$root/buildkite/lib/release.bash"
for spec in "$root/codebuild/buildspec.yml" "$root/codebuild/buildspec-approve.yml"; do
  sed -i.bak -E "s/^(    INSPECTOR_GATE_VERSION: \")[^\"]*(\")/\1$version\2/" "$spec"
done
sed -i.bak -E "/^  InspectorGateVersion:/,/^  [A-Za-z]/ s/^(    Default: ).*/\1$version/" "$root/codebuild/pipeline.yaml"
rm -f "$root/buildkite/lib/release.bash.bak" "$root"/codebuild/*.bak
echo "pinned inspector-gate $version; pass the new InspectorGateSha256 to codebuild/pipeline.yaml stacks"
