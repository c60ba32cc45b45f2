#!/usr/bin/env bash
# The release binary is static: build it with crt-static (glibc; the release workflow uses musl
# on real CI runners), put it in an empty chroot with nothing but CA certificates, and check it
# runs there and reaches the local emulators (moto for ECR, the scripted Inspector2 server).
#
# chroot needs root: as root it runs directly; otherwise through passwordless sudo (GitHub's
# hosted runners), else in a user namespace where we are root (`unshare -r`, no privileges).
# STATIC_BINARY_JAIL=root|sudo|unshare picks one.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TARGET=x86_64-unknown-linux-gnu
if [ "$(uname -m)" != x86_64 ]; then echo "static-binary: FAIL (this check builds for x86_64 only)"; exit 1; fi
CHROOT=$(command -v chroot || true)
[ -n "$CHROOT" ] || CHROOT=/usr/sbin/chroot
JAIL_MODE=${STATIC_BINARY_JAIL:-}
if [ -z "$JAIL_MODE" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    JAIL_MODE=root
  elif sudo -n true 2>/dev/null; then
    JAIL_MODE=sudo
  elif unshare -r true 2>/dev/null; then
    JAIL_MODE=unshare
  else
    echo "static-binary: FAIL (chroot needs root, passwordless sudo, or user namespaces for unshare -r)"
    exit 1
  fi
fi
case $JAIL_MODE in
  root) JAIL_PREFIX=() ;;
  sudo) JAIL_PREFIX=(sudo -n) ;;
  unshare) JAIL_PREFIX=("$(command -v unshare)" -r) ;;
  *) echo "static-binary: FAIL (STATIC_BINARY_JAIL must be root, sudo or unshare)"; exit 1 ;;
esac
echo "static-binary: chroot as $JAIL_MODE"

TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
# The scripted Inspector2 server, from whichever build this run uses (.ci/run builds every target
# for $TARGET with crt-static; a developer's plain `cargo build` writes target/debug).
cargo build --quiet --example scenario_server
EXAMPLES=$TARGET_DIR/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}debug/examples
if [ -n "${STATIC_BINARY_BIN:-}" ]; then
  # CI builds the whole test suite once, statically (.ci/run): that build's binary is the one
  # checked here, instead of a second, release build of every dependency (~9 minutes on 2 cores).
  # Static linkage comes from the target and crt-static, not from the optimisation profile.
  BIN=$STATIC_BINARY_BIN
  echo "static-binary: checking $BIN (this run's crt-static build)"
else
  RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --release --target "$TARGET" --bin inspector-gate
  BIN=$TARGET_DIR/$TARGET/release/inspector-gate
fi
[ -x "$BIN" ] || { echo "static-binary: FAIL (no binary at $BIN)"; exit 1; }
if ldd "$BIN" 2>&1 | grep -q '=>'; then echo "static-binary: FAIL ($BIN is dynamically linked)"; ldd "$BIN"; exit 1; fi

WORK=$(mktemp -d /tmp/static-binary.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
JAIL=$WORK/jail
mkdir -p "$JAIL/etc/ssl/certs" "$JAIL/work"
cp "$BIN" "$JAIL/inspector-gate"
cp /etc/ssl/certs/ca-certificates.crt "$JAIL/etc/ssl/certs/"

# shellcheck source=scripts/lib/emulators.sh
. "$ROOT/scripts/lib/emulators.sh"
export_dummy_aws
start_moto
seed_repo app/web 'app/*'
put_tiny_image app/web v1
cat >"$WORK/scenario.json" <<JSON
{"images": {"$DIGEST": {"coverage": [{"code": "ACTIVE", "reason": "SUCCESSFUL", "lastScannedAt": 1700000000}],
  "reads": [[{"awsAccountId": "123456789012", "findingArn": "arn:aws:inspector2:us-east-1:123456789012:finding/1",
    "description": "d", "title": "CVE-2024-0001 - openssl", "severity": "CRITICAL", "status": "ACTIVE",
    "type": "PACKAGE_VULNERABILITY", "firstObservedAt": 1.7e9, "lastObservedAt": 1.7e9, "remediation": {},
    "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2024-0001", "source": "NVD",
      "vulnerablePackages": [{"name": "openssl", "version": "3.0.1", "fixedInVersion": "3.0.13"}]},
    "resources": [{"type": "AWS_ECR_CONTAINER_IMAGE", "id": "x", "details": {"awsEcrContainerImage": {
      "imageHash": "$DIGEST", "repositoryName": "app/web", "registry": "123456789012"}}}]}]]}}}
JSON
start_scenario "$EXAMPLES/scenario_server" "$WORK/scenario.json" "$WORK/scenario.log"

fail=0
# env -i first, so the jail gets exactly these variables whichever way chroot is reached.
run_jail() { "${JAIL_PREFIX[@]}" env -i AWS_ACCESS_KEY_ID=AKIDSTATICSTATIC AWS_SECRET_ACCESS_KEY=static \
  AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_ECR="http://127.0.0.1:$MOTO_PORT" \
  AWS_ENDPOINT_URL_INSPECTOR2="$INSPECTOR_URL" NO_COLOR=1 "$CHROOT" "$JAIL" /inspector-gate "$@"; }
if run_jail --version >/dev/null; then echo "ok: --version runs in an empty chroot"; else echo "FAIL: --version in chroot"; fail=1; fi
set +e
out=$(run_jail gate --image app/web:v1 --fail-on CRITICAL --timeout 30s --poll-interval 100ms -q 2>&1); code=$?
set -e
if [ "$code" = 1 ] && grep -q CVE-2024-0001 <<<"$out"; then
  echo "ok: gate in the chroot reached moto and the Inspector2 server (exit 1 on the CRITICAL)"
else
  echo "FAIL: gate in chroot exited $code:"; echo "$out"; fail=1
fi
size=$(stat -c %s "$BIN")
echo "static binary: $(( size / 1048576 )) MiB ($(basename "$(dirname "$BIN")") profile)"
if [ "$fail" = 0 ]; then echo "static-binary: 2 passed, 0 failed"; else echo "static-binary: failed"; exit 1; fi
