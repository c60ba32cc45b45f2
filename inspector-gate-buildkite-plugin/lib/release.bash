# shellcheck shell=bash
# Finding the inspector-gate binary for the plugin (option `version`):
#   unset  the release this version of the plugin pins (INSPECTOR_GATE_VERSION below, SHA-256s
#          in checksums.txt): the asset is downloaded with curl, cached per version and target,
#          and re-hashed against the pin on every use (a cache entry is never trusted by a
#          marker). With no release pinned (a branch or commit before its first release): the
#          repository's own source next to the plugin, as for `source`.
#   source the repository's own source next to the plugin, built with `cargo install --locked`
#          and cached under a key of a hash of the sources. The SHA-256 of the built binary is
#          recorded next to it with that key; every use copies the binary into this job's
#          directory and re-hashes the copy against the record (which names the same key), and
#          rebuilds on any mismatch.
#   path   the inspector-gate on the agent's PATH, its version checked and logged. A binary on
#          PATH is never used unless asked for: without `version: path` it is ignored (and the
#          log says so).
# The download URL and checksums overrides (INSPECTOR_GATE_RELEASE_BASE_URL, https only, and
# INSPECTOR_GATE_CHECKSUMS_FILE) are honoured only with INSPECTOR_GATE_TEST_MODE=1, this
# repository's tests, and each use prints a warning; outside test mode they are ignored, with a
# warning.
#
# Fail closed: what runs is a file in this job's own directory, hashed after the last copy
# that put it there (INSPECTOR_GATE_BIN_SHA256) and hashed again just before it runs
# (verify_inspector_gate). The install functions run in the hook's own shell, never in a
# command substitution or a condition (where `set -e` is off): every failure stops the
# install, named, with its own exit code (install_fail: 4 for a runtime failure, 2 for a
# configuration the step must change), and an unexpected failing command is caught by the
# hook's ERR trap (install_trap), never skipped. Everything here logs to stderr.

# The release the plugin is pinned to (scripts/action/pin-release.sh updates it).
INSPECTOR_GATE_VERSION="0.1.0"
INSPECTOR_GATE_RELEASES="https://github.com/inspector-gate/inspector-gate/releases/download"

# Test mode: INSPECTOR_GATE_TEST_MODE=1 (this repository's tests, the same switch as the GitHub
# Action's and the CodeBuild buildspecs'): only then are a local checksums file
# (INSPECTOR_GATE_CHECKSUMS_FILE) and another download base URL (INSPECTOR_GATE_RELEASE_BASE_URL,
# https only) honoured. Read once, as a value, so no predicate function decides it.
IG_TEST_MODE=0
if [[ ${INSPECTOR_GATE_TEST_MODE:-} == 1 ]]; then IG_TEST_MODE=1; fi

# What find_inspector_gate chose: the binary to run and its SHA-256 when it was put in place.
INSPECTOR_GATE_BIN=
INSPECTOR_GATE_BIN_SHA256=

# plugin_warn MESSAGE — one warning line on stderr.
plugin_warn() {
  printf 'warning: inspector-gate: %s\n' "$*" >&2
}

# install_fail CODE CAUSE — stop the install: a +++ error block naming CAUSE and, for a runtime
# failure (4), an error annotation with the same cause (unless annotate: false); then exit CODE
# (the hook's own shell: these functions never run in a subshell).
install_fail() {
  local code=$1 cause body
  shift
  cause="$*"
  plugin_error "$cause"
  if [[ $code -eq 4 && $(annotate_setting) == true ]]; then
    body=$(mktemp)
    # shellcheck disable=SC2016 # literal backticks: Markdown
    printf '**inspector-gate could not be installed (exit 4):** `%s`\n\nThe gate did not run: nothing was checked.\n' \
      "$(redact "${cause//\`/\'}")" >"$body"
    if ! buildkite-agent annotate --style error --context "$(annotation_context)" <"$body"; then
      echo "inspector-gate: could not create the annotation" >&2
    fi
    rm -f "$body"
  fi
  exit "$code"
}

# annotate_setting — the annotate option as true/false (an invalid value is reported later, by
# gate_args; here it counts as true, so an install failure is never hidden).
annotate_setting() {
  case "$(option ANNOTATE true | tr '[:upper:]' '[:lower:]')" in
    false | 0 | no | off) echo false ;;
    *) echo true ;;
  esac
}

# install_trap STATUS COMMAND — the hook's ERR trap while installing: a command failed that no
# check above expected to fail (a full disk, an unwritable directory): stop, exit 4.
install_trap() {
  # In a command substitution (bash >= 4 tells by BASHPID) only leave it: the hook's own
  # shell sees the failed assignment and reports it once.
  if [[ ${BASHPID:-$$} != "$$" ]]; then exit "$1"; fi
  trap - ERR
  install_fail 4 "installing inspector-gate failed: \`$2\` exited with $1"
}

# release_target — set TARGET, the Rust target triple of the release asset for this agent.
release_target() {
  local os arch
  os=$(uname -s)
  arch=$(uname -m)
  case "$os/$arch" in
    Linux/x86_64 | Linux/amd64) TARGET=x86_64-unknown-linux-musl ;;
    Linux/aarch64 | Linux/arm64) TARGET=aarch64-unknown-linux-musl ;;
    Darwin/x86_64) TARGET=x86_64-apple-darwin ;;
    Darwin/arm64 | Darwin/aarch64) TARGET=aarch64-apple-darwin ;;
    MINGW*/x86_64 | MSYS*/x86_64 | CYGWIN*/x86_64) TARGET=x86_64-pc-windows-msvc ;;
    *)
      install_fail 2 "no inspector-gate release for $os/$arch: put inspector-gate on the agent's PATH and set the plugin option version: path"
      ;;
  esac
}

# sha256_of FILE — lowercase hex SHA-256; fails (status 1, with a message) when FILE cannot be
# hashed, so an assignment from it stops the install instead of comparing an empty string.
sha256_of() {
  local out=
  if command -v sha256sum >/dev/null 2>&1; then
    out=$(sha256sum -b "$1" 2>/dev/null) || out=
  else
    out=$(shasum -a 256 -b "$1" 2>/dev/null) || out=
  fi
  out=$(printf '%s' "${out%% *}" | tr '[:upper:]' '[:lower:]')
  if [[ ! $out =~ ^[0-9a-f]{64}$ ]]; then
    plugin_error "cannot compute the SHA-256 of $1"
    return 1
  fi
  printf '%s\n' "$out"
}

# pinned_sha256 ASSET — the SHA-256 pinned for ASSET in the checksums file, or nothing.
pinned_sha256() {
  local file=$PLUGIN_DIR/checksums.txt
  if [[ $IG_TEST_MODE == 1 && -n ${INSPECTOR_GATE_CHECKSUMS_FILE:-} ]]; then
    plugin_warn "test mode: SHA-256 pins from INSPECTOR_GATE_CHECKSUMS_FILE=$INSPECTOR_GATE_CHECKSUMS_FILE, not the plugin's checksums.txt"
    file=$INSPECTOR_GATE_CHECKSUMS_FILE
  fi
  [[ -r $file ]] || return 0
  awk -v asset="$1" '
    /^[[:space:]]*(#|$)/ { next }
    { name = $2; sub(/^\*/, "", name) }
    name == asset && length($1) == 64 && $1 ~ /^[0-9a-fA-F]+$/ { print tolower($1); exit }
  ' "$file"
}

# cache_root — where downloads and source builds are kept between jobs.
cache_root() {
  printf '%s\n' "${INSPECTOR_GATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/inspector-gate}"
}

# source_dir — set SOURCE_DIR to the repository checkout around the plugin (vendored or from
# the git URL) when it holds the Rust sources, else to nothing.
source_dir() {
  local dir
  dir=$(cd "$PLUGIN_DIR/.." && pwd)
  SOURCE_DIR=
  if [[ -f $dir/Cargo.toml && -f $dir/Cargo.lock && -d $dir/src ]]; then SOURCE_DIR=$dir; fi
}

# expected_version — set EXPECTED_VERSION, the CLI version the plugin's arguments are written
# for: the sources' Cargo.toml when they are there, else the pinned release.
expected_version() {
  source_dir
  EXPECTED_VERSION=$INSPECTOR_GATE_VERSION
  if [[ -n $SOURCE_DIR ]]; then
    EXPECTED_VERSION=$(awk '
      /^\[/ { in_package = ($0 ~ /^\[package\][[:space:]]*$/); next }
      in_package && /^version[[:space:]]*=/ {
        v = $0; sub(/^version[[:space:]]*=[[:space:]]*"/, "", v); sub(/".*$/, "", v); print v; exit
      }
    ' "$SOURCE_DIR/Cargo.toml")
  fi
}

# major_minor VERSION — "x.y" of "x.y.z[-pre]".
major_minor() {
  local rest=${1#*.}
  printf '%s.%s\n' "${1%%.*}" "${rest%%.*}"
}

# check_version BIN HOW — log the binary's version; a binary that reports none, or another
# major.minor than the expected version (flags may differ), is refused (exit 2); another patch
# version is accepted with a warning.
check_version() {
  local out actual
  out=$("$1" --version 2>/dev/null | head -n 1) || out=
  out=${out%$'\r'}
  if [[ ! $out =~ ^inspector-gate[[:space:]]+([0-9]+\.[0-9]+\.[0-9]+[-+0-9A-Za-z.]*)$ ]]; then
    install_fail 2 "$1 ($2) does not answer --version with 'inspector-gate x.y.z': not an inspector-gate binary?"
  fi
  actual=${BASH_REMATCH[1]}
  echo "inspector-gate $actual ($2: $1)" >&2
  expected_version
  if [[ -n $EXPECTED_VERSION && $actual != "$EXPECTED_VERSION" ]]; then
    if [[ $(major_minor "$actual") != "$(major_minor "$EXPECTED_VERSION")" ]]; then
      install_fail 2 "inspector-gate $actual ($2) does not match this plugin's version $EXPECTED_VERSION: use the plugin's matching release tag, or put inspector-gate $EXPECTED_VERSION on PATH (with version: path)"
    fi
    echo "warning: inspector-gate $actual ($2) differs from this plugin's version $EXPECTED_VERSION (same major.minor: accepted)" >&2
  fi
}

# source_key DIR — SHA-256 over the files a build depends on (Cargo.toml, Cargo.lock,
# build.rs, src/**): the cache key of a source build.
source_key() {
  local dir=$1 list f
  list=$(mktemp)
  (
    cd "$dir" || exit 1
    for f in Cargo.toml Cargo.lock build.rs; do if [[ -f $f ]]; then printf '%s\n' "$f"; fi; done
    find src -type f | LC_ALL=C sort
  ) | while IFS= read -r f; do
    printf '%s  %s\n' "$(sha256_of "$dir/$f")" "$f"
  done >"$list"
  sha256_of "$list"
  rm -f "$list"
}

# release_base — set RELEASE_BASE, the base URL release assets are downloaded from: GitHub
# releases, or in test mode only INSPECTOR_GATE_RELEASE_BASE_URL (https, no credentials;
# announced with a warning).
release_base() {
  local base=${INSPECTOR_GATE_RELEASE_BASE_URL:-}
  RELEASE_BASE=$INSPECTOR_GATE_RELEASES
  if [[ -z $base || $IG_TEST_MODE != 1 ]]; then return 0; fi
  if [[ ! $base =~ ^https://[^/?#@[:space:]]+(/[^[:space:]]*)?$ ]]; then
    install_fail 2 "INSPECTOR_GATE_RELEASE_BASE_URL must be an https:// URL without credentials"
  fi
  plugin_warn "test mode: downloading from INSPECTOR_GATE_RELEASE_BASE_URL=$base instead of GitHub releases (still checked against the SHA-256 pin)"
  RELEASE_BASE=$base
}

# use_binary FILE HOW — FILE is what runs: hash it now (after the last copy that put it in
# place), check and log its version.
use_binary() {
  INSPECTOR_GATE_BIN=$1
  INSPECTOR_GATE_BIN_SHA256=$(sha256_of "$1")
  check_version "$1" "$2"
}

# install_release TARGET ASSET EXE EXPECTED_SHA256 JOB_DIR — the pinned release's binary,
# unpacked into JOB_DIR from a copy there that hashes to the pin: the cached asset when it
# still does, else a fresh download (then stored in the cache; a cache that cannot be written is
# a failure, never a reason to unpack anything else).
install_release() {
  local target=$1 asset=$2 exe=$3 expected=$4 job=$5 dir cached url copy actual have=0
  dir="$(cache_root)/$INSPECTOR_GATE_VERSION/$target"
  cached="$dir/$asset"
  copy="$job/$asset"
  if [[ -f $cached ]]; then
    if cp "$cached" "$copy" 2>/dev/null; then
      actual=$(sha256_of "$copy")
      if [[ $actual == "$expected" ]]; then
        have=1
        echo "inspector-gate $INSPECTOR_GATE_VERSION ($target): cached asset re-verified against its SHA-256 pin" >&2
      else
        plugin_warn "cached $asset does not match its SHA-256 pin: downloading it again"
      fi
    else
      plugin_warn "cannot read the cached $asset: downloading it again"
    fi
  fi
  if [[ $have -eq 0 ]]; then
    rm -f "$copy"
    release_base
    url="${RELEASE_BASE%/}/v$INSPECTOR_GATE_VERSION/$asset"
    echo "~~~ :arrow_down: downloading inspector-gate $INSPECTOR_GATE_VERSION ($target)" >&2
    if ! curl --fail --silent --show-error --location --proto =https --proto-redir =https \
      --retry 3 --connect-timeout 20 --max-time 300 --output "$copy" "$url"; then
      rm -f "$copy"
      install_fail 4 "download of $url failed"
    fi
    actual=$(sha256_of "$copy")
    if [[ $actual != "$expected" ]]; then
      rm -f "$copy"
      install_fail 4 "checksum mismatch for $asset: expected $expected, got $actual; refusing to run it"
    fi
    # Atomic within the cache directory: a concurrent job never sees half an asset.
    if ! mkdir -p "$dir" 2>/dev/null || ! cp "$copy" "$cached.tmp.$$" 2>/dev/null ||
      ! mv -f "$cached.tmp.$$" "$cached" 2>/dev/null; then
      rm -f "$cached.tmp.$$" 2>/dev/null || :
      install_fail 4 "cannot store the verified $asset in the cache directory $dir: make it writable by the agent, or set INSPECTOR_GATE_CACHE_DIR to a directory that is"
    fi
  fi
  # Hashed again after the last copy: what is unpacked is exactly what the pin covers.
  actual=$(sha256_of "$copy")
  if [[ $actual != "$expected" ]]; then
    install_fail 4 "$copy changed after it was verified (SHA-256 $actual, pinned $expected); refusing to run it"
  fi
  mkdir "$job/release"
  if [[ $asset == *.zip ]]; then
    if ! unzip -q -o "$copy" -d "$job/release"; then install_fail 4 "cannot unpack $asset"; fi
  else
    if ! tar -xzf "$copy" -C "$job/release"; then install_fail 4 "cannot unpack $asset"; fi
  fi
  rm -f "$copy"
  if [[ ! -f $job/release/$exe ]]; then
    install_fail 4 "$asset has no $exe at its top level"
  fi
  chmod +x "$job/release/$exe"
  use_binary "$job/release/$exe" "release $INSPECTOR_GATE_VERSION, SHA-256 verified"
}

# source_build_check DIR EXE KEY COPY — set BUILD_OK=1 when DIR (a source cache entry) holds a
# binary whose copy at COPY (made now) hashes to the SHA-256 recorded in
# DIR/inspector-gate.sha256 when it was built, and that record names KEY, the hash of the
# sources being built; else BUILD_OK=0 (and no COPY). The record is never trusted alone: it
# only vouches for the binary in the directory named after that key.
source_build_check() {
  local dir=$1 exe=$2 key=$3 copy=$4 recorded actual
  BUILD_OK=0
  rm -f "$copy"
  [[ -f $dir/bin/$exe && -f $dir/inspector-gate.sha256 ]] || return 0
  recorded=$(head -n 1 "$dir/inspector-gate.sha256")
  [[ $recorded =~ ^[0-9a-f]{64}\ \ [0-9a-f]{64}$ && ${recorded#*  } == "$key" ]] || return 0
  cp "$dir/bin/$exe" "$copy" 2>/dev/null || return 0
  actual=$(sha256_of "$copy")
  if [[ $actual == "${recorded%%  *}" ]]; then BUILD_OK=1; else rm -f "$copy"; fi
}

# install_source ASSET EXE WHY JOB_DIR — a `cargo install --locked` build of the sources around
# the plugin, copied into JOB_DIR and re-hashed against the SHA-256 recorded at build time,
# building it unless the source cache has a build that still matches. WHY says why the plugin
# builds from source.
install_source() {
  local exe=$2 why=$3 job=$4 key dir tmp recorded
  source_dir
  if [[ -z $SOURCE_DIR ]]; then
    install_fail 2 "$why, but the plugin has no source next to it to build: use a released commit of the plugin, or put inspector-gate on the agent's PATH and set version: path"
  fi
  key=$(source_key "$SOURCE_DIR")
  dir="$(cache_root)/source-${key:0:16}"
  mkdir "$job/source"
  source_build_check "$dir" "$exe" "$key" "$job/source/$exe"
  if [[ $BUILD_OK -eq 1 ]]; then
    echo "inspector-gate built from $SOURCE_DIR found in the source cache ($dir), SHA-256 re-checked against its build record" >&2
  else
    if [[ -e $dir ]]; then
      plugin_warn "the source cache entry $dir does not match the SHA-256 recorded when it was built (or has no record): rebuilding it"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
      install_fail 2 "$why, and building it from source needs Rust (cargo) on the agent: install it (rustup.rs), use a released commit of the plugin, or put inspector-gate on the agent's PATH and set version: path"
    fi
    echo "~~~ :rust: $why: building inspector-gate from $SOURCE_DIR (cargo install --locked; cached for later jobs)" >&2
    if ! mkdir -p "$(cache_root)" 2>/dev/null || ! tmp=$(mktemp -d "$(cache_root)/source-build.XXXXXX" 2>/dev/null); then
      install_fail 4 "cannot create a build directory in the cache directory $(cache_root): make it writable by the agent, or set INSPECTOR_GATE_CACHE_DIR to a directory that is"
    fi
    if ! cargo install --locked --path "$SOURCE_DIR" --root "$tmp" --bin inspector-gate >&2; then
      rm -rf "$tmp"
      install_fail 4 "cargo install --locked --path $SOURCE_DIR failed (see the log above)"
    fi
    if [[ ! -f $tmp/bin/$exe ]]; then
      rm -rf "$tmp"
      install_fail 4 "cargo install did not produce bin/$exe"
    fi
    # The record: the built binary's SHA-256 and the source key the directory is named after.
    recorded=$(sha256_of "$tmp/bin/$exe")
    printf '%s  %s\n' "$recorded" "$key" >"$tmp/inspector-gate.sha256"
    # Another job may have finished the same build meanwhile: keep it if it checks out.
    source_build_check "$dir" "$exe" "$key" "$job/source/check"
    rm -f "$job/source/check"
    if [[ $BUILD_OK -eq 1 ]]; then
      rm -rf "$tmp"
    else
      rm -rf "$dir"
      if ! mv "$tmp" "$dir" 2>/dev/null; then
        rm -rf "$tmp"
        install_fail 4 "cannot store the build in the cache directory $dir: make it writable by the agent, or set INSPECTOR_GATE_CACHE_DIR to a directory that is"
      fi
    fi
    # What runs is a copy of what the record now vouches for, checked like a cached build.
    source_build_check "$dir" "$exe" "$key" "$job/source/$exe"
    if [[ $BUILD_OK -ne 1 ]]; then
      install_fail 4 "the build stored in $dir does not match the SHA-256 recorded for it; refusing to run it"
    fi
  fi
  chmod +x "$job/source/$exe"
  use_binary "$job/source/$exe" "built from source"
}

# install_path — the inspector-gate on the agent's PATH (asked for with version: path).
install_path() {
  local on_path
  on_path=$(command -v inspector-gate 2>/dev/null) || on_path=
  if [[ -z $on_path ]]; then
    install_fail 2 "version: path, but there is no inspector-gate on the agent's PATH: install it there, or drop version: path to use the pinned release"
  fi
  use_binary "$on_path" "from PATH"
}

# install_mode — set MODE from the plugin option `version`: empty (the pinned release, or a
# source build when none is pinned), source or path.
install_mode() {
  MODE=$(option VERSION | tr -d ' \t\r\n' | tr '[:upper:]' '[:lower:]')
  case $MODE in
    '' | source | path) ;;
    *)
      install_fail 2 "option version must be unset (the release this plugin pins), source or path, not '$(option VERSION)'"
      ;;
  esac
}

# find_inspector_gate JOB_DIR — set INSPECTOR_GATE_BIN (the binary to run, in JOB_DIR unless
# version: path) and INSPECTOR_GATE_BIN_SHA256, installing it if needed.
find_inspector_gate() {
  local job=$1 on_path asset exe expected var
  install_mode
  if [[ $MODE == path ]]; then
    install_path
    return 0
  fi
  on_path=$(command -v inspector-gate 2>/dev/null) || on_path=
  if [[ -n $on_path ]]; then
    echo "note: $on_path (on the agent's PATH) is not used: set the plugin option version: path to run it instead" >&2
  fi
  if [[ $IG_TEST_MODE != 1 ]]; then
    for var in INSPECTOR_GATE_CHECKSUMS_FILE INSPECTOR_GATE_RELEASE_BASE_URL; do
      if [[ -n ${!var:-} ]]; then
        plugin_warn "$var is ignored outside this plugin's tests (INSPECTOR_GATE_TEST_MODE=1)"
      fi
    done
  fi
  release_target
  exe=inspector-gate
  asset="inspector-gate-$INSPECTOR_GATE_VERSION-$TARGET.tar.gz"
  if [[ $TARGET == *-windows-* ]]; then
    exe=inspector-gate.exe
    asset="inspector-gate-$INSPECTOR_GATE_VERSION-$TARGET.zip"
  fi
  if [[ $MODE == source ]]; then
    install_source "$asset" "$exe" "version: source" "$job"
    return 0
  fi
  expected=$(pinned_sha256 "$asset")
  if [[ -n $expected ]]; then
    install_release "$TARGET" "$asset" "$exe" "$expected" "$job"
  else
    install_source "$asset" "$exe" "this version of the plugin pins no release (checksums.txt lists no $asset)" "$job"
  fi
}

# verify_inspector_gate — just before it runs: the binary still hashes to what it hashed to
# when it was put in place (nothing replaced it in between).
verify_inspector_gate() {
  local actual
  actual=$(sha256_of "$INSPECTOR_GATE_BIN")
  if [[ $actual != "$INSPECTOR_GATE_BIN_SHA256" ]]; then
    install_fail 4 "$INSPECTOR_GATE_BIN changed after it was installed (SHA-256 $actual, installed $INSPECTOR_GATE_BIN_SHA256); refusing to run it"
  fi
}
