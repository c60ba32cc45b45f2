# shellcheck shell=bash
# A tiny stub mechanism for the plugin's bats tests (bats-mock is not used).
#
#   stub NAME [BODY]   put an executable NAME first on PATH; each call appends one line
#                      "NAME arg1 arg2 …" (arguments %q-quoted) to $STUB_LOG, then runs BODY
#                      (bash, with the call's "$@"; exits 0 unless BODY says otherwise)
#   assert_calls LINE… the log must be exactly these lines, in this order: an unexpected,
#                      missing or reordered call fails the test
#
# Call stub_setup first (from setup()): it makes $STUB_BIN and a PATH of $STUB_BIN plus the
# system directories only, so nothing else the machine has installed answers instead.

stub_setup() {
  STUB_BIN="$BATS_TEST_TMPDIR/stub-bin"
  STUB_LOG="$BATS_TEST_TMPDIR/stub.log"
  mkdir -p "$STUB_BIN"
  : >"$STUB_LOG"
  export STUB_BIN STUB_LOG
  export PATH="$STUB_BIN:/usr/local/bin:/usr/bin:/bin"
}

# stub_write DIR NAME [BODY] — write the stub script NAME into DIR (also used to build the
# binary inside a fake release tarball).
stub_write() {
  local dir=$1 name=$2 body=${3:-}
  {
    echo '#!/usr/bin/env bash'
    echo 'set -euo pipefail'
    # shellcheck disable=SC2016 # writes a script: its $@ and $STUB_LOG expand when it runs
    printf '{ printf %%s %q; printf " %%q" "$@"; printf "\\n"; } >>"$STUB_LOG"\n' "$name"
    printf '%s\n' "$body"
  } >"$dir/$name"
  chmod +x "$dir/$name"
}

stub() {
  stub_write "$STUB_BIN" "$@"
}

assert_calls() {
  local expected
  expected=$(printf '%s\n' "$@")
  if [[ $(cat "$STUB_LOG") != "$expected" ]]; then
    {
      echo "calls differ from the expected ones:"
      diff -u <(printf '%s\n' "$expected") "$STUB_LOG" || true
    } >&2
    return 1
  fi
}

assert_no_calls() {
  if [[ -s $STUB_LOG ]]; then
    echo "expected no calls, got:" >&2
    cat "$STUB_LOG" >&2
    return 1
  fi
}
