# shellcheck shell=bash
# Finding the inspector-gate binary for the plugin: the one on PATH, or the pinned release
# asset for this agent, downloaded with curl, checked against checksums.txt (SHA-256) and
# cached per version and target.

# The release the plugin is pinned to (scripts/action/pin-release.sh updates it).
INSPECTOR_GATE_VERSION="0.1.0"
INSPECTOR_GATE_RELEASES="https://github.com/inspector-gate/inspector-gate/releases/download"

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
      plugin_error "no inspector-gate release for $os/$arch: put inspector-gate on the agent's PATH"
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
  local file=${INSPECTOR_GATE_CHECKSUMS_FILE:-$PLUGIN_DIR/checksums.txt}
  [[ -r $file ]] || return 0
  awk -v asset="$1" '
    /^[[:space:]]*(#|$)/ { next }
    { name = $2; sub(/^\*/, "", name) }
    name == asset && length($1) == 64 && $1 ~ /^[0-9a-fA-F]+$/ { print tolower($1); exit }
  ' "$file"
}

# find_inspector_gate — print the path of the binary to run, installing it if needed.
find_inspector_gate() {
  if command -v inspector-gate >/dev/null 2>&1; then
    command -v inspector-gate
    return 0
  fi

  local target asset exe expected dir url tmp actual
  target=$(release_target) || return $?
  exe=inspector-gate
  asset="inspector-gate-$INSPECTOR_GATE_VERSION-$target.tar.gz"
  if [[ $target == *-windows-* ]]; then
    exe=inspector-gate.exe
    asset="inspector-gate-$INSPECTOR_GATE_VERSION-$target.zip"
  fi
  dir="${INSPECTOR_GATE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/inspector-gate}/$INSPECTOR_GATE_VERSION/$target"

  expected=$(pinned_sha256 "$asset")
  if [[ -z $expected ]]; then
    plugin_error "no SHA-256 pinned for $asset in checksums.txt: refusing to download an unverified binary (or put inspector-gate on PATH)"
    return 2
  fi
  if [[ -x $dir/$exe && -f $dir/.asset-sha256 && $(<"$dir/.asset-sha256") == "$expected" ]]; then
    echo "$dir/$exe"
    return 0
  fi

  url="${INSPECTOR_GATE_RELEASE_BASE_URL:-$INSPECTOR_GATE_RELEASES}"
  url="${url%/}/v$INSPECTOR_GATE_VERSION/$asset"
  tmp=$(mktemp -d)
  echo "~~~ :arrow_down: downloading inspector-gate $INSPECTOR_GATE_VERSION ($target)" >&2
  if ! curl --fail --silent --show-error --location --retry 3 --connect-timeout 20 --max-time 300 \
    --output "$tmp/$asset" "$url"; then
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
  mkdir -p "$tmp/unpacked"
  if [[ $asset == *.zip ]]; then
    unzip -q -o "$tmp/$asset" -d "$tmp/unpacked"
  else
    tar -xzf "$tmp/$asset" -C "$tmp/unpacked"
  fi
  if [[ ! -f $tmp/unpacked/$exe ]]; then
    rm -rf "$tmp"
    plugin_error "$asset has no $exe at its top level"
    return 4
  fi
  chmod +x "$tmp/unpacked/$exe"
  printf '%s\n' "$expected" >"$tmp/unpacked/.asset-sha256"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  mv "$tmp/unpacked" "$dir"
  rm -rf "$tmp"
  echo "$dir/$exe"
}
