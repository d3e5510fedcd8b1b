#!/usr/bin/env bash
# Conformance: the official Node SDK (@alicloud/pop-core, signature V1) drives all twelve
# actions of the API reference against the sandbox. Fails on any error.
#
# The package goes into target/conformance/node (`npm install --prefix`, on first use, then
# reused); ECS_RUNBOOK_NODE_MODULES names another folder whose node_modules has it. The
# sandbox: see sandbox.sh (ECS_RUNBOOK_ENDPOINT, ECS_RUNBOOK_BIN).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

modules="${ECS_RUNBOOK_NODE_MODULES:-}"
if [[ -z "$modules" ]]; then
    modules="$repo/target/conformance/node"
    if [[ ! -d "$modules/node_modules/@alicloud/pop-core" ]]; then
        mkdir -p "$modules"
        npm install --silent --no-audit --no-fund --prefix "$modules" @alicloud/pop-core
    fi
fi

# shellcheck source=sandbox.sh
source "$here/sandbox.sh"

ECS_RUNBOOK_ENDPOINT="$endpoint" NODE_PATH="$modules/node_modules" node "$here/node_pop_core_flow.js"
