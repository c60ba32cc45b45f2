# shellcheck shell=bash
# Shared by scripts/demo, scripts/bench-gate and tests/static-binary.sh: start the local
# emulators (moto for ECR, the scripted Inspector2 server) on 127.0.0.1 and seed the ECR side.
# Callers define PIDS=() and kill "${PIDS[@]}" on exit; ROOT is the repository root.

# Dummy credentials and loopback endpoints only: nothing leaves this machine.
export_dummy_aws() {
  export AWS_ACCESS_KEY_ID=AKIDLOCALLOCALLOCAL AWS_SECRET_ACCESS_KEY=local-dummy-secret AWS_REGION=us-east-1 \
         AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null \
         AWS_SHARED_CREDENTIALS_FILE=/dev/null
}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

wait_port() {
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listening on 127.0.0.1:$1" >&2
  return 1
}

# start_moto: moto_server on a free port; sets MOTO_PORT and the AWS CLI array AWS.
start_moto() {
  MOTO_PORT=$(free_port)
  "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >/dev/null 2>&1 &
  PIDS+=($!)
  wait_port "$MOTO_PORT"
  AWS=("$ROOT/.venv/bin/aws" --endpoint-url "http://127.0.0.1:$MOTO_PORT")
}

# seed_repo REPO FILTER: an ECR repository and an enhanced continuous-scanning rule matching FILTER.
seed_repo() {
  "${AWS[@]}" ecr create-repository --repository-name "$1" >/dev/null
  "${AWS[@]}" ecr put-registry-scanning-configuration --scan-type ENHANCED \
    --rules "[{\"scanFrequency\":\"CONTINUOUS_SCAN\",\"repositoryFilters\":[{\"filter\":\"$2\",\"filterType\":\"WILDCARD\"}]}]" >/dev/null
}

# put_tiny_image REPO TAG: a config-only image manifest in moto; sets DIGEST.
put_tiny_image() {
  local manifest='{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}'
  DIGEST=sha256:$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)
  "${AWS[@]}" ecr put-image --repository-name "$1" --image-tag "$2" --image-digest "$DIGEST" \
    --image-manifest "$manifest" --image-manifest-media-type application/vnd.oci.image.manifest.v1+json >/dev/null
}

# start_scenario BIN SCRIPT LOG: the scripted Inspector2 server; sets INSPECTOR_URL.
start_scenario() {
  : >"$3" # before the fork: the grep must never read an earlier server's port from LOG
  "$1" "$2" >"$3" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do grep -q listening "$3" && break; sleep 0.1; done
  INSPECTOR_URL=$(sed -n 's/^listening on //p' "$3")
  [ -n "$INSPECTOR_URL" ] || { echo "scenario server did not start: $(cat "$3")" >&2; return 1; }
}
