"""Check buildkite/README.md against buildkite/plugin.yml.

- every option in the schema appears in at least one README example, and every option used in
  a README example is in the schema (so neither can drift);
- every README example's plugin configuration validates against the schema;
- the schema is strict: additionalProperties is false.

The README examples are the ```yaml blocks holding Buildkite `steps:` whose plugins include
the inspector-gate plugin (any key containing "inspector-gate"). JSON Schema is checked with a
small validator for the keywords plugin.yml uses; an unknown keyword is an error, so the
schema cannot use one this check silently ignores.

usage: check_readme.py PLUGIN_DIR   (exit 0 when consistent; prints each problem otherwise)
"""

import os
import re
import sys

import yaml

KNOWN_KEYWORDS = {
    "type", "properties", "additionalProperties", "required", "anyOf", "oneOf", "items",
    "minItems", "minLength", "minimum", "maximum", "enum", "pattern", "dependencies", "description",
}


def check_schema_keywords(schema, where="configuration"):
    problems = []
    if not isinstance(schema, dict):
        return [f"{where}: not a schema object"]
    for key, value in schema.items():
        if key not in KNOWN_KEYWORDS:
            problems.append(f"{where}: keyword {key!r} not understood by this check")
        if key == "properties":
            for name, sub in value.items():
                problems += check_schema_keywords(sub, f"{where}.{name}")
        elif key in ("anyOf", "oneOf"):
            for i, sub in enumerate(value):
                problems += check_schema_keywords(sub, f"{where}.{key}[{i}]")
        elif key == "items":
            problems += check_schema_keywords(value, f"{where}.items")
    return problems


def type_ok(value, expected):
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == "array":
        return isinstance(value, list)
    if expected == "object":
        return isinstance(value, dict)
    raise ValueError(f"unsupported type {expected}")


def validate(value, schema, path="config"):
    """Return a list of error strings (empty when valid)."""
    errors = []
    if "type" in schema and not type_ok(value, schema["type"]):
        return [f"{path}: expected {schema['type']}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not one of {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if "minLength" in schema and isinstance(value, str) and len(value) < schema["minLength"]:
        errors.append(f"{path}: shorter than {schema['minLength']}")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if "minimum" in schema and number and value < schema["minimum"]:
        errors.append(f"{path}: below {schema['minimum']}")
    if "maximum" in schema and number and value > schema["maximum"]:
        errors.append(f"{path}: above {schema['maximum']}")
    if "minItems" in schema and isinstance(value, list) and len(value) < schema["minItems"]:
        errors.append(f"{path}: fewer than {schema['minItems']} items")
    if "items" in schema and isinstance(value, list):
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key, sub in value.items():
            if key in props:
                errors += validate(sub, props[key], f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unknown option {key!r}")
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing required {key!r}")
        for key, needs in schema.get("dependencies", {}).items():
            if key in value:
                for need in needs:
                    if need not in value:
                        errors.append(f"{path}: {key!r} needs {need!r}")
    if "anyOf" in schema and not any(not validate(value, s, path) for s in schema["anyOf"]):
        errors.append(f"{path}: matches none of anyOf")
    if "oneOf" in schema:
        matches = sum(1 for s in schema["oneOf"] if not validate(value, s, path))
        if matches != 1:
            errors.append(f"{path}: matches {matches} of oneOf, expected exactly 1")
    return errors


def readme_configs(text):
    """Yield (block number, plugin config) for each inspector-gate plugin use in the README."""
    blocks = re.findall(r"^```ya?ml\n(.*?)^```", text, flags=re.S | re.M)
    for number, block in enumerate(blocks, 1):
        doc = yaml.safe_load(block)
        if not isinstance(doc, dict):
            continue
        for step in doc.get("steps") or []:
            if not isinstance(step, dict):
                continue
            for plugin in step.get("plugins") or []:
                if isinstance(plugin, dict):
                    for name, config in plugin.items():
                        if "inspector-gate" in name:
                            yield number, config


def main():
    plugin_dir = sys.argv[1]
    with open(os.path.join(plugin_dir, "plugin.yml"), encoding="utf-8") as fh:
        plugin = yaml.safe_load(fh)
    with open(os.path.join(plugin_dir, "README.md"), encoding="utf-8") as fh:
        readme = fh.read()

    schema = plugin["configuration"]
    problems = check_schema_keywords(schema)
    if schema.get("additionalProperties") is not False:
        problems.append("plugin.yml: configuration.additionalProperties must be false")
    schema_options = set(schema.get("properties", {}))

    used = set()
    examples = 0
    for number, config in readme_configs(readme):
        examples += 1
        if not isinstance(config, dict):
            problems.append(f"README example {number}: plugin configuration is not a mapping")
            continue
        used |= set(config)
        for error in validate(config, schema):
            problems.append(f"README example {number}: {error}")

    if examples == 0:
        problems.append("README.md has no example using the plugin")
    for option in sorted(schema_options - used):
        problems.append(f"option {option!r} is in plugin.yml but in no README example")
    for option in sorted(used - schema_options):
        problems.append(f"option {option!r} is used in the README but not in plugin.yml")

    for problem in problems:
        print(problem)
    print(f"README: {examples} example(s), {len(used)} option(s) used, "
          f"{len(schema_options)} in the schema, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
