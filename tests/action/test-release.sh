#!/usr/bin/env bash
# The release commit and tags (scripts/action/tag-release.sh), in a throwaway copy of this
# checkout's tracked files: the tag vX.Y.Z is the built commit plus pins and nothing else, it
# holds the pins of all three integrations, vX follows it, and the refusals (dirty checkout,
# version not in Cargo.toml, existing tag, a non-pin file changed) hold.
#
# usage: tests/action/test-release.sh   (one line per case, then "release: N passed, M failed")
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=SCRIPTDIR/../../scripts/action/lib.sh
. "$root/scripts/action/lib.sh"
version=$(ig_cargo_version)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 HOME=$work

passed=0
failed=0
fail() {
  touch "$work/case-failed"
  echo "    $*" >&2
  return 1
}
expect_eq() { [[ $1 == "$2" ]] || fail "$3: expected [$2], got [$1]"; }
check() {
  local name=$1
  shift
  rm -f "$work/case-failed"
  ("$@") || touch "$work/case-failed"
  if [[ -e $work/case-failed ]]; then
    failed=$((failed + 1))
    echo "not ok - $name"
  else
    passed=$((passed + 1))
    echo "ok - $name"
  fi
}

# A SHA256SUMS for VERSION's five assets (fake hashes, well-formed).
sums_for() {
  local target
  for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin \
    aarch64-apple-darwin x86_64-pc-windows-msvc; do
    printf '%s  %s\n' "$(printf '%s-%s' "$1" "$target" | sha256sum | cut -d' ' -f1)" "$(ig_asset "$1" "$target")"
  done >"$work/SHA256SUMS"
}

# A git repository holding this checkout's tracked files (as they are now) in one commit.
new_repo() {
  repo=$(mktemp -d "$work/repo.XXXXXX")
  # Deleted-but-tracked files make cp complain; what exists is copied.
  (
    cd "$root" || exit 1
    git ls-files -z | xargs -0 cp --parents -t "$repo" 2>/dev/null
    true
  )
  git -C "$repo" init -q
  git -C "$repo" -c user.name=t -c user.email=t@example.com add -A
  git -C "$repo" -c user.name=t -c user.email=t@example.com commit -q -m built
  built=$(git -C "$repo" rev-parse HEAD)
}

test_tag_holds_the_pins() {
  new_repo
  sums_for "$version"
  (cd "$repo" && bash scripts/action/tag-release.sh "$version" "$work/SHA256SUMS") >"$work/out" 2>&1 ||
    { cat "$work/out"; fail "tag-release.sh failed"; return; }
  expect_eq "$(git -C "$repo" cat-file -t "v$version")" tag "v$version is an annotated tag"
  local tagged
  tagged=$(git -C "$repo" rev-parse "v$version^{commit}")
  expect_eq "$(git -C "$repo" rev-parse "$tagged^")" "$built" "the tagged commit's parent is the built commit"
  expect_eq "$(git -C "$repo" rev-parse "v${version%%.*}^{commit}")" "$tagged" "v${version%%.*} moved to the release"
  expect_eq "$(git -C "$repo" show "v$version:.github/checksums.txt" | grep -vE '^#')" "$(cat "$work/SHA256SUMS")" "action pins in the tag"
  expect_eq "$(git -C "$repo" show "v$version:inspector-gate-buildkite-plugin/checksums.txt" | grep -vE '^#')" "$(cat "$work/SHA256SUMS")" "plugin pins in the tag"
  local x86
  x86=$(ig_expected_sha256 "$work/SHA256SUMS" "$(ig_asset "$version" x86_64-unknown-linux-musl)")
  git -C "$repo" show "v$version:codebuild/pipeline.yaml" | grep -A3 '^  InspectorGateSha256:' |
    grep -qx "    Default: \"$x86\"" || fail "CodeBuild stack default not pinned in the tag"
  local other
  other=$(git -C "$repo" diff --name-only "$built" "v$version" |
    grep -Ev '^(\.github/|inspector-gate-buildkite-plugin/(checksums\.txt|lib/release\.bash|README\.md)$|codebuild/)' || true)
  expect_eq "$other" "" "files other than pins in the release commit"
  [[ -z $(git -C "$repo" status --porcelain) ]] || fail "the checkout is left dirty"
  # Again: the tag exists.
  git -C "$repo" checkout -q "$built"
  if (cd "$repo" && bash scripts/action/tag-release.sh "$version" "$work/SHA256SUMS") >"$work/out" 2>&1; then
    fail "an existing tag was made again"
  fi
  grep -q "tag v$version exists already" "$work/out" || fail "no clear message for an existing tag"
}

test_refusals() {
  new_repo
  sums_for 9.9.9
  if (cd "$repo" && bash scripts/action/tag-release.sh 9.9.9 "$work/SHA256SUMS") >"$work/out" 2>&1; then
    fail "a version other than Cargo.toml's was released"
  fi
  grep -q "Cargo.toml says $version, not 9.9.9" "$work/out" || fail "no clear message for the version"
  sums_for "$version"
  echo "# local edit" >>"$repo/README.md"
  if (cd "$repo" && bash scripts/action/tag-release.sh "$version" "$work/SHA256SUMS") >"$work/out" 2>&1; then
    fail "a dirty checkout was released"
  fi
  grep -q "uncommitted changes" "$work/out" || fail "no clear message for a dirty checkout"
  git -C "$repo" checkout -q -- README.md
  # A pin script that also touches another file: refused, nothing committed or tagged.
  # shellcheck disable=SC2016 # written into the script: expands when it runs
  printf '\necho "# sneaked in" >>"$root/README.md"\n' >>"$repo/scripts/action/pin-release.sh"
  git -C "$repo" -c user.name=t -c user.email=t@example.com commit -q -am "pin script edits README"
  if (cd "$repo" && bash scripts/action/tag-release.sh "$version" "$work/SHA256SUMS") >"$work/out" 2>&1; then
    fail "a non-pin change was released"
  fi
  grep -q "changed files that are not pins: README.md" "$work/out" || fail "no clear message: $(cat "$work/out")"
  [[ -z $(git -C "$repo" tag) ]] || fail "a tag was made"
  [[ -z $(git -C "$repo" status --porcelain) ]] || fail "the refused pins were left in the checkout"
}

check "tag vX.Y.Z = built commit + pins of action, plugin and CodeBuild; vX follows" test_tag_holds_the_pins
check "refused: version not Cargo.toml's, dirty checkout, non-pin change" test_refusals

echo "release: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
