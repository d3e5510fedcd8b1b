#!/usr/bin/env bash
# The runbooks in runbooks/ and tests/corpus/valid/ validate against schemas/runbook.schema.json
# with Python's jsonschema (Draft 2020-12), read as YAML 1.2 by ruamel.yaml, the way an editor
# reads them. ECS_RUNBOOK_SCHEMA_VENV reuses a virtualenv that already has both packages.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${ECS_RUNBOOK_SCHEMA_VENV:-}"
work=""
if [[ -z "$venv" ]]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    venv="$work/venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        'jsonschema==4.26.0' 'ruamel.yaml==0.19.1'
fi
"$venv/bin/python" "$here/check_runbooks.py"
