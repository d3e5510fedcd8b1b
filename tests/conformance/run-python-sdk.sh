#!/usr/bin/env bash
# Conformance: the official Python SDKs drive the sandbox through the seed document's flow:
# aliyun-python-sdk-core + aliyun-python-sdk-ecs (signature V1) and alibabacloud-ecs20140526
# (signature V3). Fails on any error.
#
# ECS_RUNBOOK_ENDPOINT=http://127.0.0.1:PORT uses a running sandbox; otherwise the script
# starts `target/debug/ecs-runbook sandbox --listen 127.0.0.1:0` (override the binary with
# ECS_RUNBOOK_BIN) and reads its first stdout line, `sandbox listening on http://...`.
# ECS_RUNBOOK_SDK_VENV reuses an existing virtualenv that already has the three packages.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
sandbox_pid=""
cleanup() {
    if [[ -n "$sandbox_pid" ]]; then
        kill "$sandbox_pid" 2>/dev/null || true
        wait "$sandbox_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

venv="${ECS_RUNBOOK_SDK_VENV:-}"
if [[ -z "$venv" ]]; then
    venv="$work/venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check \
        aliyun-python-sdk-core aliyun-python-sdk-ecs alibabacloud-ecs20140526
fi

endpoint="${ECS_RUNBOOK_ENDPOINT:-}"
if [[ -z "$endpoint" ]]; then
    bin="${ECS_RUNBOOK_BIN:-$repo/target/debug/ecs-runbook}"
    mkfifo "$work/out"
    "$bin" sandbox --listen 127.0.0.1:0 >"$work/out" &
    sandbox_pid=$!
    exec 3<"$work/out"
    if ! IFS= read -r -t 30 first <&3; then
        echo "the sandbox did not print its address within 30 s" >&2
        exit 1
    fi
    # Keep draining its stdout so it never blocks on a full pipe.
    cat <&3 >/dev/null &
    endpoint="${first#sandbox listening on }"
    if [[ "$endpoint" == "$first" ]]; then
        echo "unexpected first line from the sandbox: $first" >&2
        exit 1
    fi
fi

for flow in python_sdk_flow.py python_new_sdk_flow.py; do
    ECS_RUNBOOK_ENDPOINT="$endpoint" "$venv/bin/python" -W ignore::DeprecationWarning \
        "$here/$flow"
done
