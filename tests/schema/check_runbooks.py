"""Every example runbook and every valid corpus runbook validates against the committed JSON
Schema, read the way an editor's YAML language server reads it (YAML 1.2), and a few broken
ones do not. Run by `tests/schema/run-jsonschema.sh`, which makes the virtualenv."""

import json
import pathlib
import sys

import jsonschema
from ruamel.yaml import YAML

repo = pathlib.Path(__file__).resolve().parents[2]
schema = json.loads((repo / "schemas" / "runbook.schema.json").read_text())
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(
    schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)
yaml = YAML(typ="safe", pure=True)
yaml.version = (1, 2)

valid = sorted((repo / "runbooks").glob("*.yaml")) + sorted(
    (repo / "tests" / "corpus" / "valid").glob("*.yaml")
)
# Broken runbooks whose problem is one of shape, which the schema must catch too.
broken = [
    repo / "tests" / "corpus" / "broken" / name
    for name in [
        "unknown-key-typo.yaml",
        "retries-quoted.yaml",
        "bad-command-type.yaml",
        "b12-continue-on-error-yes.yaml",
        "allow-inline-yes.yaml",
        "bad-duration.yaml",
    ]
]

failures = []
for path in valid:
    errors = sorted(validator.iter_errors(yaml.load(path)), key=lambda e: list(e.path))
    for error in errors:
        where = "/".join(str(p) for p in error.path)
        failures.append(f"{path.relative_to(repo)}: at `{where}`: {error.message}")
for path in broken:
    if validator.is_valid(yaml.load(path)):
        failures.append(f"{path.relative_to(repo)}: broken, but the schema accepts it")

if failures:
    print("\n".join(failures), file=sys.stderr)
    sys.exit(1)
print(f"{len(valid)} runbooks validate against the schema; {len(broken)} broken ones do not")
