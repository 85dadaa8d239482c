#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for the given number of
# seconds each (default 60): jitcard's decoder against postcard on arbitrary
# bytes, and round trips of whatever postcard accepts. Needs the nightly
# toolchain; installs cargo-fuzz if missing. Findings land in
# fuzz/artifacts/<target>/ and make the script fail.
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")/../fuzz"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
for target in $(cargo +nightly fuzz list); do
    echo "== fuzzing $target for ${seconds}s"
    cargo +nightly fuzz run "$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=10 -print_final_stats=1
done
