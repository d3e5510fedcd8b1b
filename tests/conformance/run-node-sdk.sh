#!/usr/bin/env bash
# Conformance: the official Node SDK (@alicloud/pop-core) drives the sandbox through the seed
# document's flow. Fails on any error.
#
# ECS_RUNBOOK_ENDPOINT=http://127.0.0.1:PORT uses a running sandbox; otherwise the script
# starts `target/debug/ecs-runbook sandbox --listen 127.0.0.1:0` (override the binary with
# ECS_RUNBOOK_BIN) and reads its first stdout line, `sandbox listening on http://...`.
# ECS_RUNBOOK_NODE_MODULES reuses a folder whose node_modules has @alicloud/pop-core.
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

modules="${ECS_RUNBOOK_NODE_MODULES:-}"
if [[ -z "$modules" ]]; then
    modules="$work/node"
    mkdir -p "$modules"
    (cd "$modules" && npm init -y >/dev/null && npm install --silent @alicloud/pop-core)
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
    cat <&3 >/dev/null &
    endpoint="${first#sandbox listening on }"
    if [[ "$endpoint" == "$first" ]]; then
        echo "unexpected first line from the sandbox: $first" >&2
        exit 1
    fi
fi

ECS_RUNBOOK_ENDPOINT="$endpoint" NODE_PATH="$modules/node_modules" node "$here/node_pop_core_flow.js"
