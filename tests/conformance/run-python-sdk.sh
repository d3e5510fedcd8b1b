#!/usr/bin/env bash
# Conformance: the official Python SDKs drive all twelve actions of the API reference against
# the sandbox: aliyun-python-sdk-core + aliyun-python-sdk-ecs (signature V1), then
# alibabacloud-ecs20140526 (Tea) with its default signature V3 and with
# signature_algorithm='v2' (V1). Fails on any error.
#
# The packages go into a virtualenv under target/conformance/venv (made on first use, then
# reused); ECS_RUNBOOK_SDK_VENV names another one that already has them. The sandbox: see
# sandbox.sh (ECS_RUNBOOK_ENDPOINT, ECS_RUNBOOK_BIN).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

venv="${ECS_RUNBOOK_SDK_VENV:-}"
if [[ -z "$venv" ]]; then
    venv="$repo/target/conformance/venv"
    [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        aliyun-python-sdk-core aliyun-python-sdk-ecs alibabacloud-ecs20140526
fi

# shellcheck source=sandbox.sh
source "$here/sandbox.sh"

run() {
    ECS_RUNBOOK_ENDPOINT="$endpoint" "$venv/bin/python" -W ignore::DeprecationWarning "$@"
}
run "$here/python_sdk_flow.py" 2>"$work/old-sdk.log" || { cat "$work/old-sdk.log" >&2; exit 1; }
run "$here/python_new_sdk_flow.py" v3
run "$here/python_new_sdk_flow.py" v2
