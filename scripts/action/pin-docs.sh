#!/usr/bin/env bash
# Point the docs' release-form references at a published release: every full commit SHA that
# carries a release comment (`inspector-gate/inspector-gate@<sha> # vX.Y.Z`,
# `…/inspector-gate-buildkite-plugin#<sha>: # vX.Y.Z`, `checkout --detach <sha> # vX.Y.Z`) in
# README.md, action.yml, the Buildkite plugin's README and codebuild/README.md becomes COMMIT
# (the commit the tag vVERSION points at) and names vVERSION. The forms that work before any
# release (a SHA without a release comment) are left alone.
#
# Run on main after a release (docs/release.md): the release commit cannot name its own SHA.
#
# usage: pin-docs.sh VERSION COMMIT
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ $# -eq 2 ]] || ig_die "usage: pin-docs.sh VERSION COMMIT"
version=$1
commit=$2
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || ig_die "release version must be x.y.z, not '$version'"
[[ $commit =~ ^[0-9a-f]{40}$ ]] || ig_die "COMMIT must be a full 40-character commit SHA, not '$commit'"

root=$(ig_root)
v='v[0-9]+\.[0-9]+\.[0-9]+'
for doc in "$root/README.md" "$root/action.yml" "$root/inspector-gate-buildkite-plugin/README.md" \
  "$root/codebuild/README.md"; do
  [[ -f $doc ]] || continue
  sed -E \
    -e "s/(inspector-gate\/inspector-gate@)[0-9a-f]{40}( # )$v/\1$commit\2v$version/g" \
    -e "s/(inspector-gate-buildkite-plugin#)[0-9a-f]{40}(: # )$v/\1$commit\2v$version/g" \
    -e "s/(checkout --detach )[0-9a-f]{40}( # )$v/\1$commit\2v$version/g" \
    -e "s/(refs\/tags\/)$v(\^\{\})/\1v$version\2/g" "$doc" >"$doc.new"
  mv "$doc.new" "$doc"
done
echo "docs reference v$version at $commit"
