# shellcheck shell=bash
# Shared helpers for the GitHub Action's steps: which release asset fits the runner, where it
# comes from, how its SHA-256 is checked, how a binary's version is checked, and how logged
# values are kept free of credentials. Sourced by prepare.sh, install.sh, run.sh,
# pack-release.sh and pin-release.sh; on load it only sets IG_RELEASE_REPO_URL and IG_TEST_MODE.

# The repository that publishes the release binaries.
# shellcheck disable=SC2034 # used by the scripts that source this file
IG_RELEASE_REPO_URL="https://github.com/inspector-gate/inspector-gate/releases/download"

# ig_fail CODE MESSAGE... — print a GitHub error annotation naming the cause and exit CODE.
# When IG_FAIL_MARK names a file (install.sh sets one), CODE is written there too, so the ERR
# trap of the script that sourced this file, reached again when a command substitution that
# failed here returns, exits with the same code instead of reporting it a second time.
ig_fail() {
  local code=$1 msg
  shift
  msg="$*"
  # Escape as the workflow-command format requires, so the message cannot inject commands.
  msg=${msg//'%'/'%25'}
  msg=${msg//$'\r'/'%0D'}
  msg=${msg//$'\n'/'%0A'}
  printf '::error title=inspector-gate action::%s\n' "$msg" >&2
  if [[ -n ${IG_FAIL_MARK:-} ]]; then printf '%s\n' "$code" >"$IG_FAIL_MARK" 2>/dev/null || :; fi
  exit "$code"
}

# ig_die MESSAGE... — ig_fail with the usage code 2 (IG_DIE_CODE when set).
ig_die() {
  ig_fail "${IG_DIE_CODE:-2}" "$@"
}

# ig_err_trap STATUS COMMAND — an ERR trap for scripts that must fail closed: a command failed
# that no check expected to fail. Exit 4 with an annotation naming it, unless ig_fail already
# reported this failure (in a command substitution) and chose the code.
ig_err_trap() {
  local code
  trap - ERR
  if [[ -n ${IG_FAIL_MARK:-} && -s $IG_FAIL_MARK ]]; then
    code=$(head -n 1 "$IG_FAIL_MARK")
    exit "${code:-4}"
  fi
  ig_fail 4 "installing inspector-gate failed: \`$2\` exited with $1"
}

# ig_warn MESSAGE... — print a GitHub warning annotation (escaped like ig_die's).
ig_warn() {
  local msg="$*"
  msg=${msg//'%'/'%25'}
  msg=${msg//$'\r'/'%0D'}
  msg=${msg//$'\n'/'%0A'}
  printf '::warning title=inspector-gate action::%s\n' "$msg" >&2
}

# IG_TEST_MODE — 1 when INSPECTOR_GATE_TEST_MODE=1: only then are the local overrides
# INSPECTOR_GATE_RELEASE_BASE_URL (any scheme, file:// included) and INSPECTOR_GATE_CHECKSUMS_FILE
# honoured. They exist for this repository's own tests; users get the https-only inputs. A value
# read once, not a predicate function: nothing decides it in a condition where `set -e` is off.
IG_TEST_MODE=0
if [[ ${INSPECTOR_GATE_TEST_MODE:-} == 1 ]]; then IG_TEST_MODE=1; fi

# ig_redact VALUE — VALUE with the userinfo of any URL in it removed
# (https://user:token@host/x -> https://host/x), for anything that gets logged.
ig_redact() {
  printf '%s' "$1" | sed -E 's#([A-Za-z][A-Za-z0-9+.-]*://)[^/?#@[:space:]]*@#\1#g'
}

# ig_https_url NAME VALUE — VALUE must be an https:// URL (no userinfo); else a usage error.
ig_https_url() {
  [[ $2 =~ ^https://[^/?#@[:space:]]+(/[^[:space:]]*)?$ ]] ||
    ig_die "input '$1' must be an https:// URL without credentials, not '$(ig_redact "$2")'"
}

# ig_root — the action's root directory (the repository root).
ig_root() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
}

# ig_version — the binary version this action is pinned to.
ig_version() {
  local file version
  file="$(ig_root)/.github/action-version"
  [[ -r $file ]] || ig_die "missing $file: the action does not know which inspector-gate version to install"
  version=$(tr -d ' \t\r\n' <"$file")
  [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] ||
    ig_die "invalid version '$version' in $file (expected x.y.z)"
  printf '%s\n' "$version"
}

# ig_cargo_version — the package version in the action's Cargo.toml: the CLI version these
# scripts are written for (a `version: path` binary must match it).
ig_cargo_version() {
  local file
  file="$(ig_root)/Cargo.toml"
  [[ -r $file ]] || return 0
  awk '
    /^\[/ { in_package = ($0 ~ /^\[package\][[:space:]]*$/) ; next }
    in_package && /^version[[:space:]]*=/ {
      v = $0; sub(/^version[[:space:]]*=[[:space:]]*"/, "", v); sub(/".*$/, "", v); print v; exit
    }
  ' "$file"
}

# ig_binary_version BIN — the x.y.z the binary reports (`inspector-gate x.y.z`), or nothing.
ig_binary_version() {
  local out
  out=$("$1" --version 2>/dev/null | head -n 1) || return 0
  out=${out%$'\r'}
  if [[ $out =~ ^inspector-gate[[:space:]]+([0-9]+\.[0-9]+\.[0-9]+[-+0-9A-Za-z.]*)$ ]]; then
    printf '%s\n' "${BASH_REMATCH[1]}"
  fi
}

# ig_major_minor VERSION — "x.y" of "x.y.z[-pre][+build]".
ig_major_minor() {
  local rest=${1#*.}
  printf '%s.%s\n' "${1%%.*}" "${rest%%.*}"
}

# ig_check_version BIN EXPECTED HOW — log the binary's version; a binary that does not report
# one, or whose major.minor differs from EXPECTED (the flags these scripts pass may not exist
# there), is a usage error; a different patch version is only a warning. Sets IG_CHECKED_VERSION.
ig_check_version() {
  local bin=$1 expected=$2 how=$3 actual
  actual=$(ig_binary_version "$bin")
  # What it said, for callers that must not run the binary again to ask.
  IG_CHECKED_VERSION=$actual
  [[ -n $actual ]] ||
    ig_die "$bin ($how) does not answer --version with 'inspector-gate x.y.z': not an inspector-gate binary?"
  echo "inspector-gate $actual ($how: $bin)"
  if [[ -n $expected && $actual != "$expected" ]]; then
    if [[ $(ig_major_minor "$actual") != "$(ig_major_minor "$expected")" ]]; then
      ig_die "inspector-gate $actual ($how) does not match this action's version $expected: use the action's matching release, version: source, or an inspector-gate $expected on PATH"
    fi
    ig_warn "inspector-gate $actual ($how) differs from this action's version $expected (same major.minor: accepted)"
  fi
}

# ig_target RUNNER_OS RUNNER_ARCH — the Rust target triple of the release asset for a runner.
ig_target() {
  case "$1/$2" in
    Linux/X64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64) echo aarch64-unknown-linux-musl ;;
    macOS/X64) echo x86_64-apple-darwin ;;
    macOS/ARM64) echo aarch64-apple-darwin ;;
    Windows/X64) echo x86_64-pc-windows-msvc ;;
    *) ig_die "no inspector-gate release for runner ${1:-?}/${2:-?}; supported: Linux X64/ARM64, macOS X64/ARM64, Windows X64" ;;
  esac
}

# ig_asset VERSION TARGET — the release asset's file name.
ig_asset() {
  case "$2" in
    *-windows-*) echo "inspector-gate-$1-$2.zip" ;;
    *) echo "inspector-gate-$1-$2.tar.gz" ;;
  esac
}

# ig_exe TARGET — the binary's file name inside the asset.
ig_exe() {
  case "$1" in
    *-windows-*) echo inspector-gate.exe ;;
    *) echo inspector-gate ;;
  esac
}

# ig_sha256 FILE — print the file's lowercase hex SHA-256; a file that cannot be hashed is a
# runtime error (exit 4), never an empty string to compare.
ig_sha256() {
  local out=
  if command -v sha256sum >/dev/null 2>&1; then
    out=$(sha256sum -b "$1" 2>/dev/null) || out=
  elif command -v shasum >/dev/null 2>&1; then
    out=$(shasum -a 256 -b "$1" 2>/dev/null) || out=
  elif command -v openssl >/dev/null 2>&1; then
    out=$(openssl dgst -sha256 -r "$1" 2>/dev/null) || out=
  else
    ig_fail 4 "no sha256sum, shasum or openssl on this runner: cannot verify the download"
  fi
  out=$(printf '%s' "${out%% *}" | tr '[:upper:]' '[:lower:]')
  [[ $out =~ ^[0-9a-f]{64}$ ]] || ig_fail 4 "cannot compute the SHA-256 of $1"
  printf '%s\n' "$out"
}

# ig_expected_sha256 CHECKSUMS_FILE ASSET — print the pinned SHA-256 of ASSET, or nothing.
ig_expected_sha256() {
  [[ -r $1 ]] || return 0
  awk -v asset="$2" '
    /^[[:space:]]*(#|$)/ { next }
    { name = $2; sub(/^\*/, "", name) }
    name == asset && length($1) == 64 && $1 ~ /^[0-9a-fA-F]+$/ { print tolower($1); exit }
  ' "$1"
}

# ig_source_key ROOT — a SHA-256 over the files a source build depends on (Cargo.toml,
# Cargo.lock, build.rs, src/**): the cache key of a `version: source` build.
ig_source_key() {
  local root=$1 list f
  list=$(mktemp)
  (
    cd "$root" || exit 1
    for f in Cargo.toml Cargo.lock build.rs; do [[ -f $f ]] && printf '%s\n' "$f"; done
    find src -type f | LC_ALL=C sort
  ) | while IFS= read -r f; do
    printf '%s  %s\n' "$(ig_sha256 "$root/$f")" "$f"
  done >"$list"
  ig_sha256 "$list"
  rm -f "$list"
}

# ig_unix_path PATH — a path this bash can use (Git Bash on Windows gets C:\… paths).
ig_unix_path() {
  if command -v cygpath >/dev/null 2>&1; then cygpath -u "$1"; else printf '%s\n' "$1"; fi
}

# ig_native_path PATH — a path the runner itself understands (for $GITHUB_PATH).
ig_native_path() {
  if command -v cygpath >/dev/null 2>&1; then cygpath -w "$1"; else printf '%s\n' "$1"; fi
}

# ig_extract ARCHIVE DIR — unpack a .tar.gz or .zip release asset into DIR; failing is a
# runtime error (exit 4).
ig_extract() {
  case "$1" in
    *.zip)
      if command -v unzip >/dev/null 2>&1; then
        unzip -q -o "$1" -d "$2" || ig_fail 4 "cannot unpack $1 (unzip failed)"
      elif command -v 7z >/dev/null 2>&1; then
        7z x -y -bd -o"$2" "$1" >/dev/null || ig_fail 4 "cannot unpack $1 (7z failed)"
      elif command -v pwsh >/dev/null 2>&1; then
        # shellcheck disable=SC2016 # $args is PowerShell's, not ours
        pwsh -NoProfile -Command 'Expand-Archive -Force -LiteralPath $args[0] -DestinationPath $args[1]' \
          "$(ig_native_path "$1")" "$(ig_native_path "$2")" || ig_fail 4 "cannot unpack $1 (Expand-Archive failed)"
      else
        ig_fail 4 "cannot unpack $1: no unzip, 7z or pwsh on this runner"
      fi
      ;;
    *) tar -xzf "$1" -C "$2" || ig_fail 4 "cannot unpack $1 (tar failed)" ;;
  esac
}

# ig_output FILE NAME VALUE — append one step output (multi-line safe).
ig_output() {
  local delim
  if [[ $3 == *$'\n'* ]]; then
    delim="ig_$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    printf '%s<<%s\n%s\n%s\n' "$2" "$delim" "$3" "$delim" >>"$1"
  else
    printf '%s=%s\n' "$2" "$3" >>"$1"
  fi
}
