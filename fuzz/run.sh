#!/usr/bin/env bash
# Builds the libFuzzer target `load_and_plan` and fuzzes it: `bash fuzz/run.sh [SECONDS]`
# (default 600). No cargo-fuzz needed: the flags below are the ones cargo-fuzz passes, minus
# AddressSanitizer (nightly only; the target is safe Rust, so a panic is the finding), and all
# of them work on stable Rust. FUZZ_TOOLCHAIN=nightly builds with `cargo +nightly` instead.
#
# The corpus starts from runbooks/ and tests/corpus/ and grows in target/fuzz/corpus; crashes
# land in target/fuzz/artifacts (replay one: the binary with the file as its argument). The
# dictionary is fuzz/load_and_plan.dict. Extra arguments go to libFuzzer.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-600}"
shift || true
toolchain="${FUZZ_TOOLCHAIN:-stable}"
build="target/fuzz-$toolchain"
triple="$(rustc -vV | sed -n 's/^host: //p')"

RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks" \
    cargo "+$toolchain" build --locked --release --manifest-path fuzz/Cargo.toml \
    --target-dir "$build" --target "$triple" --bin load_and_plan

corpus=target/fuzz/corpus
artifacts=target/fuzz/artifacts
mkdir -p "$corpus" "$artifacts"
# Seeds named after their paths, so files of the same name in different folders all go in.
find runbooks tests/corpus -type f \( -name '*.yaml' -o -name '*.yml' \) -size -64k |
    while IFS= read -r seed; do cp -n "$seed" "$corpus/seed-${seed//\//-}"; done

exec "$build/$triple/release/load_and_plan" "$corpus" \
    -dict=fuzz/load_and_plan.dict -max_total_time="$seconds" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$artifacts/" -print_final_stats=1 "$@"
