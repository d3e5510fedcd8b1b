# Sourced by the conformance runners: sets `endpoint` to a sandbox to drive and cleans up on
# exit. ECS_RUNBOOK_ENDPOINT=http://127.0.0.1:PORT uses a running sandbox; otherwise this
# starts `target/debug/ecs-runbook sandbox --listen 127.0.0.1:0` (override the binary with
# ECS_RUNBOOK_BIN) and reads its first stdout line, `sandbox listening on http://...`.
# Expects `repo` (the checkout) to be set.

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
