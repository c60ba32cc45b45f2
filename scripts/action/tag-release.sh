#!/usr/bin/env bash
# Make the release commit and its tags, locally: on top of the commit the release binaries were
# built from (HEAD, clean), run pin-release.sh, check that only pin files changed, commit, tag
# that commit vVERSION (annotated) and move vMAJOR to it. Pushing is the caller's (the release
# workflow pushes vVERSION, creates the GitHub release, then moves vMAJOR; docs/release.md).
#
# So a tag a user references always holds its own pins: action (.github/), Buildkite plugin
# (inspector-gate-buildkite-plugin/) and CodeBuild (codebuild/), and its parent is exactly the source that was built.
#
# usage: tag-release.sh VERSION SHA256SUMS
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || ig_die "usage: tag-release.sh VERSION SHA256SUMS"
version=$1
sums=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
root=$(ig_root)
cd "$root"

[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || ig_die "release version must be x.y.z, not '$version'"
[[ $(ig_cargo_version) == "$version" ]] ||
  ig_die "Cargo.toml says $(ig_cargo_version), not $version: bump it on main first"
[[ -z $(git status --porcelain --untracked-files=no) ]] ||
  ig_die "the checkout has uncommitted changes: the release commit must be exactly the built one plus pins"
if git rev-parse -q --verify "refs/tags/v$version" >/dev/null; then
  ig_die "tag v$version exists already"
fi
built=$(git rev-parse HEAD)

bash "$root/scripts/action/pin-release.sh" "$version" "$sums"

# Only pin files may differ from the built commit.
allowed='^(\.github/action-version|\.github/checksums\.txt|inspector-gate-buildkite-plugin/checksums\.txt|inspector-gate-buildkite-plugin/lib/release\.bash|inspector-gate-buildkite-plugin/README\.md|codebuild/buildspec[^/]*\.yml|codebuild/pipeline\.yaml)$'
changed=$(git diff --name-only)
unexpected=$(grep -Ev "$allowed" <<<"$changed" || true)
if [[ -n $unexpected ]]; then
  git checkout -- .
  ig_die "pin-release.sh changed files that are not pins: $unexpected"
fi
[[ -n $changed ]] || ig_die "pin-release.sh changed nothing: is $version pinned already?"

mapfile -t files <<<"$changed"
git add -- "${files[@]}"
git -c user.name="${GIT_AUTHOR_NAME:-inspector-gate release}" \
  -c user.email="${GIT_AUTHOR_EMAIL:-release@inspector-gate.invalid}" \
  commit -q -m "Release v$version: pin the action, the Buildkite plugin and CodeBuild to its SHA-256s" \
  -m "Built from $built; this commit changes only the pins."
git -c user.name="${GIT_AUTHOR_NAME:-inspector-gate release}" \
  -c user.email="${GIT_AUTHOR_EMAIL:-release@inspector-gate.invalid}" \
  tag -a "v$version" -m "inspector-gate $version"
git tag -f "v${version%%.*}" "v$version^{commit}" >/dev/null
echo "v$version -> $(git rev-parse HEAD) (pins on top of $built); v${version%%.*} moved there"
