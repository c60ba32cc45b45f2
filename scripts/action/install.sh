#!/usr/bin/env bash
# Step 3 of the GitHub Action (after prepare.sh and, for `version: source`, actions/cache):
# provide the inspector-gate binary, check and log its version, put it on PATH.
#
#   release  the asset of the release this action is pinned to, for the runner's OS and
#            architecture. The asset is kept in the tool cache and re-hashed against the pin
#            on every use (a cache entry is never trusted by a marker), then unpacked afresh.
#   source   `cargo install --locked` of this action's own checkout into the source cache
#            directory (restored/saved by actions/cache, keyed by a hash of the sources). The
#            build's SHA-256 is recorded next to it with that key; every use copies the binary
#            into a fresh directory and re-hashes the copy against the record (which must name
#            the key of the sources checked out now), and rebuilds on any mismatch.
#   path     the inspector-gate already on PATH (only when asked for: version: path).
#
# Reads:  MODE, SOURCE_ROOT (from prepare.sh), INPUT_RELEASE_URL and INPUT_CHECKSUMS_URL (https
#         only, each prints a warning), RUNNER_OS, RUNNER_ARCH, RUNNER_TOOL_CACHE, RUNNER_TEMP.
#         With INSPECTOR_GATE_TEST_MODE=1 only (this repository's tests; each use warns):
#         INSPECTOR_GATE_RELEASE_BASE_URL (file:// too, for the local releases the tests serve)
#         and INSPECTOR_GATE_CHECKSUMS_FILE.
# Writes: step outputs `bin` (absolute path), `version`; the binary's directory to $GITHUB_PATH.
set -euo pipefail

# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode=${MODE:-release}
root=$(ig_root)
target=$(ig_target "${RUNNER_OS:-}" "${RUNNER_ARCH:-}")
exe=$(ig_exe "$target")
tmp_root=$(ig_unix_path "${RUNNER_TEMP:-${TMPDIR:-/tmp}}")
cache_root=$(ig_unix_path "${RUNNER_TOOL_CACHE:-$tmp_root/tool-cache}")
mkdir -p "$tmp_root"

if ! ig_test_mode; then
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

# install_release — download (or re-verify the cached copy of) the pinned asset; sets bin.
install_release() {
  local version asset checksums expected base url protocols work cached actual unpacked
  version=$(ig_version)
  asset=$(ig_asset "$version" "$target")
  work=$(mktemp -d "$tmp_root/inspector-gate-install.XXXXXX")
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" EXIT

  if ig_test_mode && [[ -n ${INSPECTOR_GATE_CHECKSUMS_FILE:-} ]]; then
    ig_warn "test mode: SHA-256 pins from INSPECTOR_GATE_CHECKSUMS_FILE=$INSPECTOR_GATE_CHECKSUMS_FILE, not the action's .github/checksums.txt"
    checksums=$INSPECTOR_GATE_CHECKSUMS_FILE
  elif [[ -n ${INPUT_CHECKSUMS_URL:-} ]]; then
    ig_warn "checksums-url replaces the SHA-256 pins shipped with this action: the binary is only as trustworthy as $INPUT_CHECKSUMS_URL"
    checksums="$work/SHA256SUMS"
    IG_DIE_CODE=4
    curl --fail --silent --show-error --location --proto '=https' --proto-redir '=https' \
      --retry 3 --retry-delay 2 --connect-timeout 20 --max-time 120 \
      --output "$checksums" "$INPUT_CHECKSUMS_URL" ||
      ig_die "download of $INPUT_CHECKSUMS_URL failed"
    IG_DIE_CODE=2
  else
    checksums="$root/.github/checksums.txt"
  fi
  expected=$(ig_expected_sha256 "$checksums" "$asset")
  [[ -n $expected ]] ||
    ig_die "no SHA-256 pinned for $asset in $checksums: this commit of the action has no release pinned (yet). Use version: source (build this checkout with cargo) or version: path, or a released tag of the action (vX.Y.Z)"

  protocols='=https'
  if ig_test_mode && [[ -n ${INSPECTOR_GATE_RELEASE_BASE_URL:-} ]]; then
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
  if [[ -f $cached ]] && [[ $(ig_sha256 "$cached") == "$expected" ]]; then
    echo "inspector-gate $version ($target): cached asset re-verified (SHA-256 $expected)"
  else
    [[ -f $cached ]] && ig_warn "cached $asset does not match its SHA-256 pin: downloading it again"
    url="${base%/}/v$version/$asset"
    echo "downloading $(ig_redact "$url")"
    IG_DIE_CODE=4
    curl --fail --silent --show-error --location --proto "$protocols" --proto-redir "$protocols" \
      --retry 3 --retry-delay 2 --connect-timeout 20 --max-time 300 \
      --output "$work/$asset" "$url" ||
      ig_die "download of $(ig_redact "$url") failed"
    actual=$(ig_sha256 "$work/$asset")
    [[ $actual == "$expected" ]] ||
      ig_die "checksum mismatch for $asset: expected $expected, got $actual; refusing to install it"
    echo "verified SHA-256 $actual"
    mkdir -p "$tool_dir"
    # Atomic within the cache directory: a concurrent job never sees half an asset.
    mv "$work/$asset" "$cached.tmp.$$"
    mv -f "$cached.tmp.$$" "$cached"
    IG_DIE_CODE=2
  fi

  # Unpack the verified asset afresh for this job: what runs is what was just hashed.
  unpacked=$(mktemp -d "$tmp_root/inspector-gate-bin.XXXXXX")
  IG_DIE_CODE=4
  ig_extract "$cached" "$unpacked"
  [[ -f $unpacked/$exe ]] || ig_die "$asset does not contain $exe at its top level"
  IG_DIE_CODE=2
  chmod +x "$unpacked/$exe"
  bin="$unpacked/$exe"
  ig_check_version "$bin" "$version" "release $version, SHA-256 verified"
  if [[ $(ig_binary_version "$bin") != "$version" ]]; then
    ig_die "$asset reports version $(ig_binary_version "$bin"), not $version"
  fi
}

# source_build_ok DIR KEY COPY — succeeds when the source cache entry DIR holds a binary whose
# copy at COPY (made now) hashes to the SHA-256 recorded in DIR/inspector-gate.sha256 at build
# time, and that record names KEY, the hash of the sources checked out now. The record is never
# trusted alone: it only vouches for the binary in the cache entry keyed by those sources.
source_build_ok() {
  local dir=$1 key=$2 copy=$3 recorded
  [[ -f $dir/bin/$exe && -f $dir/inspector-gate.sha256 ]] || return 1
  recorded=$(head -n 1 "$dir/inspector-gate.sha256")
  [[ $recorded =~ ^[0-9a-f]{64}\ \ [0-9a-f]{64}$ && ${recorded#*  } == "$key" ]] || return 1
  cp "$dir/bin/$exe" "$copy" 2>/dev/null || return 1
  [[ $(ig_sha256 "$copy") == "${recorded%%  *}" ]]
}

# install_source — `cargo install --locked` this checkout, unless the cache restored a build of
# these sources that still matches its record; sets bin (a fresh copy, re-hashed).
install_source() {
  local source_root expected key run_dir
  [[ -n ${SOURCE_ROOT:-} ]] || ig_die "version: source: the prepare step named no source cache directory"
  source_root=$(ig_unix_path "$SOURCE_ROOT")
  expected=$(ig_cargo_version)
  key=$(ig_source_key "$root")
  [[ $(basename "$source_root") == "source-${key:0:16}" ]] ||
    ig_die "version: source: the source cache directory $source_root is not keyed by these sources (source-${key:0:16})"
  run_dir=$(mktemp -d "$tmp_root/inspector-gate-bin.XXXXXX")
  if source_build_ok "$source_root" "$key" "$run_dir/$exe"; then
    echo "inspector-gate built from this checkout found in the source cache, SHA-256 re-checked against its build record"
  else
    if [[ -e $source_root ]]; then
      ig_warn "the source cache entry $source_root does not match the SHA-256 recorded when it was built (or has no record): rebuilding it"
      rm -rf "$source_root"
    fi
    command -v cargo >/dev/null 2>&1 ||
      ig_die "version: source needs a Rust toolchain (cargo) on the runner: add a Rust setup step before this action, or use version: path"
    echo "building inspector-gate $expected from $root with cargo install --locked (cached for later runs)"
    IG_DIE_CODE=4
    cargo install --locked --path "$root" --root "$source_root" --bin inspector-gate ||
      ig_die "cargo install --locked --path $root failed (see the log above)"
    [[ -f $source_root/bin/$exe ]] || ig_die "cargo install did not produce $source_root/bin/$exe"
    IG_DIE_CODE=2
    # The record: the built binary's SHA-256 and the source key the cache entry is named after.
    printf '%s  %s\n' "$(ig_sha256 "$source_root/bin/$exe")" "$key" >"$source_root/inspector-gate.sha256"
    cp "$source_root/bin/$exe" "$run_dir/$exe"
  fi
  chmod +x "$run_dir/$exe"
  bin="$run_dir/$exe"
  ig_check_version "$bin" "$expected" "built from source"
}

# install_path — the inspector-gate already on PATH (version: path only: a binary on PATH is
# never used unless asked for).
install_path() {
  bin=$(command -v inspector-gate 2>/dev/null || command -v inspector-gate.exe 2>/dev/null || true)
  [[ -n $bin ]] ||
    ig_die "version: path, but there is no inspector-gate on PATH: install it in an earlier step, or use version: source"
  ig_check_version "$bin" "$(ig_cargo_version)" "from PATH"
}

bin=
case $mode in
  release) install_release ;;
  source) install_source ;;
  path) install_path ;;
  *) ig_die "unknown install mode '$mode'" ;;
esac

if [[ -n ${GITHUB_PATH:-} && $mode != path ]]; then
  ig_native_path "$(dirname "$bin")" >>"$GITHUB_PATH"
fi
if [[ -n ${GITHUB_OUTPUT:-} ]]; then
  ig_output "$GITHUB_OUTPUT" bin "$bin"
  ig_output "$GITHUB_OUTPUT" version "$(ig_binary_version "$bin")"
fi
