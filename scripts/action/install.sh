#!/usr/bin/env bash
# Step 3 of the GitHub Action (after prepare.sh and, for `version: source`, actions/cache):
# provide the inspector-gate binary, check and log its version, put it on PATH.
#
#   release  the asset of the release this action is pinned to, for the runner's OS and
#            architecture. The asset is kept in the tool cache; every use copies it into this
#            job's own directory and re-hashes the copy against the pin (a cache entry is never
#            trusted by a marker), downloading it again on a mismatch; what is unpacked is that
#            copy, hashed once more after the last copy.
#   source   `cargo install --locked` of this action's own checkout into the source cache
#            directory (restored/saved by actions/cache, keyed by a hash of the sources). The
#            build's SHA-256 is recorded next to it with that key; every use copies the binary
#            into a fresh directory and re-hashes the copy against the record (which must name
#            the key of the sources checked out now), and rebuilds on any mismatch.
#   path     the inspector-gate already on PATH (only when asked for: version: path).
#
# Fail closed: every failure stops the install with an ::error annotation naming the cause, exit
# 4 for a runtime failure (download, checksum, cache, unpacking, build, any command that fails
# unexpectedly: the ERR trap) and 2 for inputs or a setup the workflow must change. No install
# function runs in a condition or an `||` list, where `set -e` is off. The `bin-sha256` output is
# the SHA-256 of `bin` after its last copy: run.sh re-hashes the binary against it just before
# it runs.
#
# Reads:  MODE, SOURCE_ROOT (from prepare.sh), INPUT_RELEASE_URL and INPUT_CHECKSUMS_URL (https
#         only, each prints a warning), RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, RUNNER_TEMP.
#         With INSPECTOR_GATE_TEST_MODE=1 only (this repository's tests; each use warns):
#         INSPECTOR_GATE_RELEASE_BASE_URL (file:// too, for the local releases the tests serve)
#         and INSPECTOR_GATE_CHECKSUMS_FILE.
# Writes: step outputs `bin` (absolute path), `bin-sha256`, `version`; the binary's directory to
#         $GITHUB_PATH.
set -Eeuo pipefail
shopt -s inherit_errexit 2>/dev/null || :

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

IG_FAIL_MARK=$(mktemp "${RUNNER_TEMP:-${TMPDIR:-/tmp}}/inspector-gate-fail.XXXXXX")
work=
trap 'rm -rf "$IG_FAIL_MARK" ${work:+"$work"}' EXIT
trap 'ig_err_trap "$?" "$BASH_COMMAND"' ERR

mode=${MODE:-release}
root=$(ig_root)
target=$(ig_target "${RUNNER_OS:-}" "${RUNNER_ARCH:-}")
exe=$(ig_exe "$target")
tmp_root=$(ig_unix_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")
cache_root=$(ig_unix_path "${RUNNER_TOOL_CACHE:-$tmp_root/tool-cache}")
mkdir -p "$tmp_root"
work=$(mktemp -d "$tmp_root/inspector-gate-install.XXXXXX")

if [[ $IG_TEST_MODE != 1 ]]; then
  for var in INSPECTOR_GATE_RELEASE_BASE_URL INSPECTOR_GATE_CHECKSUMS_FILE; do
    if [[ -n ${!var:-} ]]; then
      ig_warn "$var is ignored outside this repository's tests (INSPECTOR_GATE_TEST_MODE=1); use the https-only inputs release-url / checksums-url"
    fi
  done
fi
if [[ $mode != release && -n ${INPUT_RELEASE_URL:-}${INPUT_CHECKSUMS_URL:-} ]]; then
  ig_die "inputs 'release-url' and 'checksums-url' apply to release downloads only, not to version: $mode"
fi
# Checked whatever else is set: these two inputs never take anything but https.
if [[ -n ${INPUT_RELEASE_URL:-} ]]; then ig_https_url release-url "$INPUT_RELEASE_URL"; fi
if [[ -n ${INPUT_CHECKSUMS_URL:-} ]]; then ig_https_url checksums-url "$INPUT_CHECKSUMS_URL"; fi

# use_binary FILE — FILE is what runs: hash it now, after the last copy that put it in place
# (and before anything runs it, even for --version).
use_binary() {
  bin=$1
  bin_sha256=$(ig_sha256 "$bin")
}

# install_release — the pinned asset, from this job's copy of the cached asset when that still
# hashes to the pin, else downloaded (and stored in the tool cache: a cache that cannot be
# written is a failure, never a reason to unpack anything else); sets bin.
install_release() {
  local version asset checksums expected base url protocols copy cached actual unpacked have=0
  version=$(ig_version)
  asset=$(ig_asset "$version" "$target")
  copy="$work/$asset"

  if [[ $IG_TEST_MODE == 1 && -n ${INSPECTOR_GATE_CHECKSUMS_FILE:-} ]]; then
    ig_warn "test mode: SHA-256 pins from INSPECTOR_GATE_CHECKSUMS_FILE=$INSPECTOR_GATE_CHECKSUMS_FILE, not the action's .github/checksums.txt"
    checksums=$INSPECTOR_GATE_CHECKSUMS_FILE
  elif [[ -n ${INPUT_CHECKSUMS_URL:-} ]]; then
    ig_warn "checksums-url replaces the SHA-256 pins shipped with this action: the binary is only as trustworthy as $INPUT_CHECKSUMS_URL"
    checksums="$work/SHA256SUMS"
    curl --fail --silent --show-error --location --proto '=https' --proto-redir '=https' \
      --retry 3 --retry-delay 2 --connect-timeout 20 --max-time 120 \
      --output "$checksums" "$INPUT_CHECKSUMS_URL" ||
      ig_fail 4 "download of $INPUT_CHECKSUMS_URL failed"
  else
    checksums="$root/.github/checksums.txt"
  fi
  expected=$(ig_expected_sha256 "$checksums" "$asset")
  [[ -n $expected ]] ||
    ig_die "no SHA-256 pinned for $asset in $checksums: this commit of the action has no release pinned (yet). Use version: source (build this checkout with cargo) or version: path, or a released commit of the action"

  protocols='=https'
  if [[ $IG_TEST_MODE == 1 && -n ${INSPECTOR_GATE_RELEASE_BASE_URL:-} ]]; then
    ig_warn "test mode: downloading from INSPECTOR_GATE_RELEASE_BASE_URL=$(ig_redact "$INSPECTOR_GATE_RELEASE_BASE_URL") instead of GitHub releases (still checked against the SHA-256 pin)"
    base=$INSPECTOR_GATE_RELEASE_BASE_URL
    protocols='=https,http,file'
  elif [[ -n ${INPUT_RELEASE_URL:-} ]]; then
    ig_warn "release-url: downloading $asset from $INPUT_RELEASE_URL instead of GitHub releases (still checked against the SHA-256 pin)"
    base=$INPUT_RELEASE_URL
  else
    base=$IG_RELEASE_REPO_URL
  fi

  # Same layout as @actions/tool-cache: <cache>/<tool>/<version>/<arch>. It holds the asset
  # itself, not an unpacked binary, so every use can re-hash exactly what the pin covers.
  local arch_dir
  arch_dir=$(printf '%s' "${RUNNER_ARCH:-x64}" | tr '[:upper:]' '[:lower:]')
  local tool_dir="$cache_root/inspector-gate/$version/$arch_dir"
  cached="$tool_dir/$asset"
  if [[ -f $cached ]]; then
    if cp "$cached" "$copy" 2>/dev/null; then
      actual=$(ig_sha256 "$copy")
      if [[ $actual == "$expected" ]]; then
        have=1
        echo "inspector-gate $version ($target): cached asset re-verified (SHA-256 $expected)"
      else
        ig_warn "cached $asset does not match its SHA-256 pin: downloading it again"
      fi
    else
      ig_warn "cannot read the cached $asset: downloading it again"
    fi
  fi
  if [[ $have -eq 0 ]]; then
    rm -f "$copy"
    url="${base%/}/v$version/$asset"
    echo "downloading $(ig_redact "$url")"
    curl --fail --silent --show-error --location --proto "$protocols" --proto-redir "$protocols" \
      --retry 3 --retry-delay 2 --connect-timeout 20 --max-time 300 \
      --output "$copy" "$url" ||
      ig_fail 4 "download of $(ig_redact "$url") failed"
    actual=$(ig_sha256 "$copy")
    if [[ $actual != "$expected" ]]; then
      rm -f "$copy"
      ig_fail 4 "checksum mismatch for $asset: expected $expected, got $actual; refusing to install it"
    fi
    echo "verified SHA-256 $actual"
    # Atomic within the cache directory: a concurrent job never sees half an asset.
    if ! mkdir -p "$tool_dir" 2>/dev/null || ! cp "$copy" "$cached.tmp.$$" 2>/dev/null ||
      ! mv -f "$cached.tmp.$$" "$cached" 2>/dev/null; then
      rm -f "$cached.tmp.$$" 2>/dev/null || :
      ig_fail 4 "cannot store the verified $asset in the tool cache $tool_dir: make RUNNER_TOOL_CACHE writable for the job"
    fi
  fi

  # Hashed again after the last copy: what is unpacked is exactly what the pin covers.
  actual=$(ig_sha256 "$copy")
  [[ $actual == "$expected" ]] ||
    ig_fail 4 "$copy changed after it was verified (SHA-256 $actual, pinned $expected); refusing to install it"
  unpacked=$(mktemp -d "$tmp_root/inspector-gate-bin.XXXXXX")
  ig_extract "$copy" "$unpacked"
  rm -f "$copy"
  [[ -f $unpacked/$exe ]] || ig_fail 4 "$asset does not contain $exe at its top level"
  chmod +x "$unpacked/$exe"
  use_binary "$unpacked/$exe"
  ig_check_version "$bin" "$version" "release $version, SHA-256 verified"
  [[ $IG_CHECKED_VERSION == "$version" ]] || ig_die "$asset reports version $IG_CHECKED_VERSION, not $version"
}

# source_build_check DIR KEY COPY — set build_ok=1 when the source cache entry DIR holds a
# binary whose copy at COPY (made now) hashes to the SHA-256 recorded in DIR/inspector-gate.sha256
# at build time, and that record names KEY, the hash of the sources checked out now; else
# build_ok=0 (and no COPY). The record is never trusted alone: it only vouches for the binary in
# the cache entry keyed by those sources.
source_build_check() {
  local dir=$1 key=$2 copy=$3 recorded actual
  build_ok=0
  rm -f "$copy"
  [[ -f $dir/bin/$exe && -f $dir/inspector-gate.sha256 ]] || return 0
  recorded=$(head -n 1 "$dir/inspector-gate.sha256")
  [[ $recorded =~ ^[0-9a-f]{64}\ \ [0-9a-f]{64}$ && ${recorded#*  } == "$key" ]] || return 0
  cp "$dir/bin/$exe" "$copy" 2>/dev/null || return 0
  actual=$(ig_sha256 "$copy")
  if [[ $actual == "${recorded%%  *}" ]]; then build_ok=1; else rm -f "$copy"; fi
}

# install_source — `cargo install --locked` this checkout, unless the cache restored a build of
# these sources that still matches its record; sets bin (a fresh copy, re-hashed).
install_source() {
  local source_root expected key run_dir built
  [[ -n ${SOURCE_ROOT:-} ]] || ig_die "version: source: the prepare step named no source cache directory"
  source_root=$(ig_unix_path "$SOURCE_ROOT")
  expected=$(ig_cargo_version)
  key=$(ig_source_key "$root")
  [[ $(basename "$source_root") == "source-${key:0:16}" ]] ||
    ig_die "version: source: the source cache directory $source_root is not keyed by these sources (source-${key:0:16})"
  run_dir=$(mktemp -d "$tmp_root/inspector-gate-bin.XXXXXX")
  source_build_check "$source_root" "$key" "$run_dir/$exe"
  if [[ $build_ok -eq 1 ]]; then
    echo "inspector-gate built from this checkout found in the source cache, SHA-256 re-checked against its build record"
  else
    if [[ -e $source_root ]]; then
      ig_warn "the source cache entry $source_root does not match the SHA-256 recorded when it was built (or has no record): rebuilding it"
      rm -rf "$source_root"
    fi
    command -v cargo >/dev/null 2>&1 ||
      ig_die "version: source needs a Rust toolchain (cargo) on the runner: add a Rust setup step before this action, or use version: path"
    echo "building inspector-gate $expected from $root with cargo install --locked (cached for later runs)"
    cargo install --locked --path "$root" --root "$source_root" --bin inspector-gate ||
      ig_fail 4 "cargo install --locked --path $root failed (see the log above)"
    [[ -f $source_root/bin/$exe ]] || ig_fail 4 "cargo install did not produce $source_root/bin/$exe"
    # The record: the built binary's SHA-256 and the source key the cache entry is named after.
    built=$(ig_sha256 "$source_root/bin/$exe")
    printf '%s  %s\n' "$built" "$key" >"$source_root/inspector-gate.sha256" ||
      ig_fail 4 "cannot write the build record in $source_root"
    # What runs is a copy of what the record now vouches for, checked like a restored build.
    source_build_check "$source_root" "$key" "$run_dir/$exe"
    [[ $build_ok -eq 1 ]] ||
      ig_fail 4 "the build in $source_root does not match the SHA-256 recorded for it; refusing to run it"
  fi
  chmod +x "$run_dir/$exe"
  use_binary "$run_dir/$exe"
  ig_check_version "$bin" "$expected" "built from source"
}

# install_path — the inspector-gate already on PATH (version: path only: a binary on PATH is
# never used unless asked for).
install_path() {
  local found
  found=$(command -v inspector-gate 2>/dev/null || command -v inspector-gate.exe 2>/dev/null || true)
  [[ -n $found ]] ||
    ig_die "version: path, but there is no inspector-gate on PATH: install it in an earlier step, or use version: source"
  use_binary "$found"
  ig_check_version "$bin" "$(ig_cargo_version)" "from PATH"
}

bin=
bin_sha256=
case $mode in
  release) install_release ;;
  source) install_source ;;
  path) install_path ;;
  *) ig_die "unknown install mode '$mode'" ;;
esac

if [[ -n ${GITHUB_PATH:-} && $mode != path ]]; then
  bin_dir=$(dirname "$bin")
  ig_native_path "$bin_dir" >>"$GITHUB_PATH"
fi
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  ig_output "$GITHUB_OUTPUT" bin "$bin"
  ig_output "$GITHUB_OUTPUT" bin-sha256 "$bin_sha256"
  ig_output "$GITHUB_OUTPUT" version "$IG_CHECKED_VERSION"
fi
