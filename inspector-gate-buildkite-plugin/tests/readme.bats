#!/usr/bin/env bats
# README.md and plugin.yml must agree: every schema option has a README example, every README
# option is in the schema, and every README example is valid under the strict schema.

setup() {
  PLUGIN_DIR="$BATS_TEST_DIRNAME/.."
  ROOT=$(cd "$PLUGIN_DIR/.." && pwd)
  # The repository's virtualenv (scripts/setup creates it, with PyYAML), or PYTHON when set:
  # never whatever python3 is on PATH.
  PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
  if [[ ! -x $PYTHON ]]; then
    echo "error: $PYTHON is missing: run scripts/setup (it creates $ROOT/.venv)" >&2
    return 1
  fi
}

@test "README examples and plugin.yml list the same options, and every example is valid" {
  run "$PYTHON" "$BATS_TEST_DIRNAME/check_readme.py" "$PLUGIN_DIR"
  echo "$output"
  [ "$status" -eq 0 ]
}

@test "the check catches an option missing from the README and an unknown one" {
  mkdir -p "$BATS_TEST_TMPDIR/plugin"
  cp "$PLUGIN_DIR/plugin.yml" "$BATS_TEST_TMPDIR/plugin/"
  sed -e 's/^          color: always$/          colour: always/' "$PLUGIN_DIR/README.md" \
    >"$BATS_TEST_TMPDIR/plugin/README.md"
  run "$PYTHON" "$BATS_TEST_DIRNAME/check_readme.py" "$BATS_TEST_TMPDIR/plugin"
  [ "$status" -eq 1 ]
  [[ $output == *"option 'color' is in plugin.yml but in no README example"* ]]
  [[ $output == *"option 'colour' is used in the README but not in plugin.yml"* ]]
  [[ $output == *"unknown option 'colour'"* ]]
}

@test "the check catches an example the schema rejects" {
  mkdir -p "$BATS_TEST_TMPDIR/plugin"
  cp "$PLUGIN_DIR/plugin.yml" "$BATS_TEST_TMPDIR/plugin/"
  sed -e 's/^          fail-on: HIGH$/          fail-on: SEVERE/' "$PLUGIN_DIR/README.md" \
    >"$BATS_TEST_TMPDIR/plugin/README.md"
  run "$PYTHON" "$BATS_TEST_DIRNAME/check_readme.py" "$BATS_TEST_TMPDIR/plugin"
  [ "$status" -eq 1 ]
  [[ $output == *"'SEVERE' not one of"* ]]
}

@test "the check enforces the score ranges (min-epss 0..1)" {
  mkdir -p "$BATS_TEST_TMPDIR/plugin"
  cp "$PLUGIN_DIR/plugin.yml" "$BATS_TEST_TMPDIR/plugin/"
  sed -e 's/^          min-epss: 0.1$/          min-epss: 10/' "$PLUGIN_DIR/README.md" \
    >"$BATS_TEST_TMPDIR/plugin/README.md"
  run "$PYTHON" "$BATS_TEST_DIRNAME/check_readme.py" "$BATS_TEST_TMPDIR/plugin"
  [ "$status" -eq 1 ]
  [[ $output == *"config.min-epss: above 1"* ]]
}

@test "plugin.yml: name, strict configuration, every option documented" {
  run "$PYTHON" - "$PLUGIN_DIR/plugin.yml" <<'PY'
import sys, yaml
plugin = yaml.safe_load(open(sys.argv[1]))
assert plugin["name"] == "inspector-gate", plugin["name"]
conf = plugin["configuration"]
assert conf["type"] == "object" and conf["additionalProperties"] is False
missing = [k for k, v in conf["properties"].items() if not v]
assert not missing, missing
PY
  [ "$status" -eq 0 ]
}

@test "the schema requires image, ties pipeline-execution-id and report-url to approve and baseline-optional to baseline" {
  run "$PYTHON" - "$PLUGIN_DIR" <<'PY'
import os, sys, yaml
sys.path.insert(0, os.path.join(sys.argv[1], "tests"))
from check_readme import validate
schema = yaml.safe_load(open(os.path.join(sys.argv[1], "plugin.yml")))["configuration"]
img = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"
cases = [
    ({"image": img}, []),
    ({"push-from": "docker-archive:x.tar"}, ["missing required 'image'"]),
    ({"fail-on": "HIGH"}, ["missing required 'image'"]),
    ({"image": img, "report-url": "https://ci/b/1"}, ["'report-url' needs 'approve'"]),
    ({"image": img, "pipeline-execution-id": "e-1"}, ["'pipeline-execution-id' needs 'approve'"]),
    ({"image": img, "approve": "p/s/a", "pipeline-execution-id": "e-1", "report-url": "https://ci/b/1"}, []),
    ({"image": img, "baseline-optional": True}, ["'baseline-optional' needs 'baseline'"]),
    ({"image": img, "baseline": "ecs:prod/web", "baseline-optional": True}, []),
    ({"image": img, "insecure-registry": "yes"}, ["expected boolean"]),
    ({"image": img, "max-informational": -1}, ["below 0"]),
]
bad = []
for config, expected in cases:
    errors = validate(config, schema)
    for e in expected:
        if not any(e in x for x in errors):
            bad.append(f"{config}: expected {e!r}, got {errors}")
    if not expected and errors:
        bad.append(f"{config}: unexpected {errors}")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
  echo "$output"
  [ "$status" -eq 0 ]
}
