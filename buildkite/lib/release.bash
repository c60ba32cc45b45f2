# shellcheck shell=bash
# Finding the inspector-gate binary for the plugin (option `version`):
#   unset  the release this version of the plugin pins (INSPECTOR_GATE_VERSION below, SHA-256s
#          in checksums.txt): the asset is downloaded with curl, cached per version and target,
#          and re-hashed against the pin on every use (a cache entry is never trusted by a
#          marker), then unpacked into a fresh directory for this job. With no release pinned
#          (a branch or commit before its first release): the repository's own source next to
#          the plugin, as for `source`.
#   source the repository's own source next to the plugin, built with `cargo install --locked`
#          and cached under a key of a hash of the sources. The SHA-256 of the built binary is
#          recorded next to it with that key; every use copies the binary into a fresh directory
#          and re-hashes the copy against the record (which names the same key), and rebuilds on
#          any mismatch.
#   path   the inspector-gate on the agent's PATH, its version checked and logged. A binary on
#          PATH is never used unless asked for: without `version: path` it is ignored (and the
#          log says so).
# The download URL and checksums overrides (INSPECTOR_GATE_RELEASE_BASE_URL, https only, and
# INSPECTOR_GATE_CHECKSUMS_FILE) are honoured only with INSPECTOR_GATE_TEST_MODE=1, this
# repository's tests, and each use prints a warning; outside test mode they are ignored, with a
# warning.
# Everything here logs to stderr: find_inspector_gate's stdout is the binary's path.

# The release the plugin is pinned to (scripts/action/pin-release.sh updates it).
INSPECTOR_GATE_VERSION="0.1.0"
INSPECTOR_GATE_RELEASES="https://github.com/inspector-gate/inspector-gate/releases/download"

# test_mode — INSPECTOR_GATE_TEST_MODE=1 (this repository's tests, the same switch as the GitHub
# Action's and the CodeBuild buildspecs'): only then are a local checksums file
# (INSPECTOR_GATE_CHECKSUMS_FILE) and another download base URL (INSPECTOR_GATE_RELEASE_BASE_URL,
# https only) honoured.
test_mode() {
  [[ ${INSPECTOR_GATE_TEST_MODE:-} == 1 ]]
}

# plugin_warn MESSAGE — one warning line on stderr.
plugin_warn() {
  printf 'warning: inspector-gate: %s\n' "$*" >&2
}

# release_target — the Rust target triple of the release asset for this agent.
release_target() {
  local os arch
  os=$(uname -s)
  arch=$(uname -m)
  case "$os/$arch" in
    Linux/x86_64 | Linux/amd64) echo x86_64-unknown-linux-musl ;;
    Linux/aarch64 | Linux/arm64) echo aarch64-unknown-linux-musl ;;
    Darwin/x86_64) echo x86_64-apple-darwin ;;
    Darwin/arm64 | Darwin/aarch64) echo aarch64-apple-darwin ;;
    MINGW*/x86_64 | MSYS*/x86_64 | CYGWIN*/x86_64) echo x86_64-pc-windows-msvc ;;
    *)
      plugin_error "no inspector-gate release for $os/$arch: put inspector-gate on the agent's PATH and set the plugin option version: path"
      return 2
      ;;
  esac
}

# sha256_of FILE — lowercase hex SHA-256.
sha256_of() {
  local out
  if command -v sha256sum >/dev/null 2>&1; then
    out=$(sha256sum -b "$1")
  else
    out=$(shasum -a 256 -b "$1")
  fi
  out=${out%% *}
  printf '%s\n' "$out" | tr '[:upper:]' '[:lower:]'
}

# pinned_sha256 ASSET — the SHA-256 pinned for ASSET in the checksums file, or nothing.
pinned_sha256() {
  local file=$PLUGIN_DIR/checksums.txt
  if test_mode && [[ -n ${INSPECTOR_GATE_CHECKSUMS_FILE:-} ]]; then
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

# source_dir — the repository checkout around the plugin (vendored or from the git URL), if
# it holds the Rust sources.
source_dir() {
  local dir
  dir=$(cd "$PLUGIN_DIR/.." && pwd)
  [[ -f $dir/Cargo.toml && -f $dir/Cargo.lock && -d $dir/src ]] && printf '%s\n' "$dir"
}

# expected_version — the CLI version the plugin's arguments are written for: the sources'
# Cargo.toml when they are there, else the pinned release.
expected_version() {
  local dir
  if dir=$(source_dir); then
    awk '
      /^\[/ { in_package = ($0 ~ /^\[package\][[:space:]]*$/); next }
      in_package && /^version[[:space:]]*=/ {
        v = $0; sub(/^version[[:space:]]*=[[:space:]]*"/, "", v); sub(/".*$/, "", v); print v; exit
      }
    ' "$dir/Cargo.toml"
  else
    printf '%s\n' "$INSPECTOR_GATE_VERSION"
  fi
}

# major_minor VERSION — "x.y" of "x.y.z[-pre]".
major_minor() {
  local rest=${1#*.}
  printf '%s.%s\n' "${1%%.*}" "${rest%%.*}"
}

# check_version BIN HOW — log the binary's version; a binary that reports none, or another
# major.minor than expected_version (flags may differ), is refused (exit 2); another patch
# version is accepted with a warning.
check_version() {
  local out actual expected
  out=$("$1" --version 2>/dev/null | head -n 1) || true
  out=${out%$'\r'}
  if [[ $out =~ ^inspector-gate[[:space:]]+([0-9]+\.[0-9]+\.[0-9]+[-+0-9A-Za-z.]*)$ ]]; then
    actual=${BASH_REMATCH[1]}
  else
    plugin_error "$1 ($2) does not answer --version with 'inspector-gate x.y.z': not an inspector-gate binary?"
    return 2
  fi
  echo "inspector-gate $actual ($2: $1)" >&2
  expected=$(expected_version)
  if [[ -n $expected && $actual != "$expected" ]]; then
    if [[ $(major_minor "$actual") != "$(major_minor "$expected")" ]]; then
      plugin_error "inspector-gate $actual ($2) does not match this plugin's version $expected: use the plugin's matching release tag, or put inspector-gate $expected on PATH (with version: path)"
      return 2
    fi
    echo "warning: inspector-gate $actual ($2) differs from this plugin's version $expected (same major.minor: accepted)" >&2
  fi
}

# source_key DIR — SHA-256 over the files a build depends on (Cargo.toml, Cargo.lock,
# build.rs, src/**): the cache key of a source build.
source_key() {
  local dir=$1 list f
  list=$(mktemp)
  (
    cd "$dir" || exit 1
    for f in Cargo.toml Cargo.lock build.rs; do [[ -f $f ]] && printf '%s\n' "$f"; done
    find src -type f | LC_ALL=C sort
  ) | while IFS= read -r f; do
    printf '%s  %s\n' "$(sha256_of "$dir/$f")" "$f"
  done >"$list"
  sha256_of "$list"
  rm -f "$list"
}

# release_base — the base URL release assets are downloaded from: GitHub releases, or in test
# mode only INSPECTOR_GATE_RELEASE_BASE_URL (https, no credentials; announced with a warning).
release_base() {
  local base=${INSPECTOR_GATE_RELEASE_BASE_URL:-}
  if [[ -z $base ]] || ! test_mode; then
    printf '%s\n' "$INSPECTOR_GATE_RELEASES"
    return 0
  fi
  if [[ ! $base =~ ^https://[^/?#@[:space:]]+(/[^[:space:]]*)?$ ]]; then
    plugin_error "INSPECTOR_GATE_RELEASE_BASE_URL must be an https:// URL without credentials"
    return 2
  fi
  plugin_warn "test mode: downloading from INSPECTOR_GATE_RELEASE_BASE_URL=$base instead of GitHub releases (still checked against the SHA-256 pin)"
  printf '%s\n' "$base"
}

# install_release TARGET ASSET EXE EXPECTED_SHA256 — print the path of the pinned release's
# binary, downloading the asset unless the cached copy still hashes to the pin.
install_release() {
  local target=$1 asset=$2 exe=$3 expected=$4 dir cached url base tmp actual unpacked
  dir="$(cache_root)/$INSPECTOR_GATE_VERSION/$target"
  cached="$dir/$asset"
  if [[ -f $cached ]] && [[ $(sha256_of "$cached") == "$expected" ]]; then
    echo "inspector-gate $INSPECTOR_GATE_VERSION ($target): cached asset re-verified against its SHA-256 pin" >&2
  else
    [[ -f $cached ]] && plugin_warn "cached $asset does not match its SHA-256 pin: downloading it again"
    base=$(release_base) || return $?
    url="${base%/}/v$INSPECTOR_GATE_VERSION/$asset"
    tmp=$(mktemp -d)
    echo "~~~ :arrow_down: downloading inspector-gate $INSPECTOR_GATE_VERSION ($target)" >&2
    if ! curl --fail --silent --show-error --location --proto =https --proto-redir =https \
      --retry 3 --connect-timeout 20 --max-time 300 --output "$tmp/$asset" "$url"; then
      rm -rf "$tmp"
      plugin_error "download of $url failed"
      return 4
    fi
    actual=$(sha256_of "$tmp/$asset")
    if [[ $actual != "$expected" ]]; then
      rm -rf "$tmp"
      plugin_error "checksum mismatch for $asset: expected $expected, got $actual; refusing to run it"
      return 4
    fi
    mkdir -p "$dir"
    # Atomic within the cache directory: a concurrent job never sees half an asset.
    mv "$tmp/$asset" "$cached.tmp.$$"
    mv -f "$cached.tmp.$$" "$cached"
    rm -rf "$tmp"
  fi
  # Unpack the verified asset afresh for this job: what runs is what was just hashed.
  unpacked=$(mktemp -d)
  if [[ $asset == *.zip ]]; then
    unzip -q -o "$cached" -d "$unpacked"
  else
    tar -xzf "$cached" -C "$unpacked"
  fi
  if [[ ! -f $unpacked/$exe ]]; then
    plugin_error "$asset has no $exe at its top level"
    return 4
  fi
  chmod +x "$unpacked/$exe"
  check_version "$unpacked/$exe" "release $INSPECTOR_GATE_VERSION, SHA-256 verified" || return $?
  echo "$unpacked/$exe"
}

# source_build_ok DIR EXE KEY COPY — succeeds when DIR (a source cache entry) holds a binary
# whose copy at COPY (made now) hashes to the SHA-256 recorded in DIR/inspector-gate.sha256 when
# it was built, and that record names KEY, the hash of the sources being built. The record is
# never trusted alone: it only vouches for the binary in the directory named after that key.
source_build_ok() {
  local dir=$1 exe=$2 key=$3 copy=$4 recorded actual
  [[ -f $dir/bin/$exe && -f $dir/inspector-gate.sha256 ]] || return 1
  recorded=$(head -n 1 "$dir/inspector-gate.sha256")
  [[ $recorded =~ ^[0-9a-f]{64}\ \ [0-9a-f]{64}$ && ${recorded#*  } == "$key" ]] || return 1
  cp "$dir/bin/$exe" "$copy" 2>/dev/null || return 1
  actual=$(sha256_of "$copy")
  [[ $actual == "${recorded%%  *}" ]]
}

# install_source ASSET EXE WHY — print the path of a `cargo install --locked` build of the
# sources around the plugin (copied into a fresh directory for this job, re-hashed against the
# SHA-256 recorded at build time), building it unless the source cache has a build that still
# matches. WHY says why the plugin builds from source.
install_source() {
  local asset=$1 exe=$2 why=$3 src key dir tmp run_dir
  if ! src=$(source_dir); then
    plugin_error "$why, but the plugin has no source next to it to build: use a released tag (#vX.Y.Z), or put inspector-gate on the agent's PATH and set version: path"
    return 2
  fi
  key=$(source_key "$src")
  dir="$(cache_root)/source-${key:0:16}"
  run_dir=$(mktemp -d)
  if source_build_ok "$dir" "$exe" "$key" "$run_dir/$exe"; then
    echo "inspector-gate built from $src found in the source cache ($dir), SHA-256 re-checked against its build record" >&2
  else
    if [[ -e $dir ]]; then
      plugin_warn "the source cache entry $dir does not match the SHA-256 recorded when it was built (or has no record): rebuilding it"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
      rm -rf "$run_dir"
      plugin_error "$why, and building it from source needs Rust (cargo) on the agent: install it (rustup.rs), use a released tag (#vX.Y.Z), or put inspector-gate on the agent's PATH and set version: path"
      return 2
    fi
    echo "~~~ :rust: $why: building inspector-gate from $src (cargo install --locked; cached for later jobs)" >&2
    mkdir -p "$(cache_root)"
    tmp=$(mktemp -d "$(cache_root)/source-build.XXXXXX")
    if ! cargo install --locked --path "$src" --root "$tmp" --bin inspector-gate >&2; then
      rm -rf "$tmp" "$run_dir"
      plugin_error "cargo install --locked --path $src failed (see the log above)"
      return 4
    fi
    if [[ ! -f $tmp/bin/$exe ]]; then
      rm -rf "$tmp" "$run_dir"
      plugin_error "cargo install did not produce bin/$exe"
      return 4
    fi
    # The record: the built binary's SHA-256 and the source key the directory is named after.
    printf '%s  %s\n' "$(sha256_of "$tmp/bin/$exe")" "$key" >"$tmp/inspector-gate.sha256"
    cp "$tmp/bin/$exe" "$run_dir/$exe"
    # Another job may have finished the same build meanwhile: keep it if it checks out.
    if source_build_ok "$dir" "$exe" "$key" "$run_dir/check"; then
      rm -rf "$tmp"
    else
      rm -rf "$dir"
      mv "$tmp" "$dir" || { rm -rf "$tmp"; plugin_warn "could not store the build in the source cache"; }
    fi
  fi
  rm -f "$run_dir/check"
  chmod +x "$run_dir/$exe"
  check_version "$run_dir/$exe" "built from source" || return $?
  echo "$run_dir/$exe"
}

# install_path — the inspector-gate on the agent's PATH (asked for with version: path).
install_path() {
  local on_path
  if ! on_path=$(command -v inspector-gate 2>/dev/null); then
    plugin_error "version: path, but there is no inspector-gate on the agent's PATH: install it there, or drop version: path to use the pinned release"
    return 2
  fi
  check_version "$on_path" "from PATH" || return $?
  echo "$on_path"
}

# install_mode — the plugin option `version`: empty (the pinned release, or a source build when
# none is pinned), source or path.
install_mode() {
  local mode
  mode=$(option VERSION | tr -d ' \t\r\n' | tr '[:upper:]' '[:lower:]')
  case $mode in
    '' | source | path) printf '%s\n' "$mode" ;;
    *)
      plugin_error "option version must be unset (the release this plugin pins), source or path, not '$(option VERSION)'"
      return 2
      ;;
  esac
}

# find_inspector_gate — print the path of the binary to run, installing it if needed.
find_inspector_gate() {
  local mode on_path target asset exe expected var
  mode=$(install_mode) || return $?
  if [[ $mode == path ]]; then
    install_path
    return $?
  fi
  if on_path=$(command -v inspector-gate 2>/dev/null); then
    echo "note: $on_path (on the agent's PATH) is not used: set the plugin option version: path to run it instead" >&2
  fi
  if ! test_mode; then
    for var in INSPECTOR_GATE_CHECKSUMS_FILE INSPECTOR_GATE_RELEASE_BASE_URL; do
      if [[ -n ${!var:-} ]]; then
        plugin_warn "$var is ignored outside this plugin's tests (INSPECTOR_GATE_TEST_MODE=1)"
      fi
    done
  fi
  target=$(release_target) || return $?
  exe=inspector-gate
  asset="inspector-gate-$INSPECTOR_GATE_VERSION-$target.tar.gz"
  if [[ $target == *-windows-* ]]; then
    exe=inspector-gate.exe
    asset="inspector-gate-$INSPECTOR_GATE_VERSION-$target.zip"
  fi
  if [[ $mode == source ]]; then
    install_source "$asset" "$exe" "version: source"
    return $?
  fi
  expected=$(pinned_sha256 "$asset")
  if [[ -n $expected ]]; then
    install_release "$target" "$asset" "$exe" "$expected"
  else
    install_source "$asset" "$exe" "this version of the plugin pins no release (checksums.txt lists no $asset)"
  fi
}
