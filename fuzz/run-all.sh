#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each, one after another (libFuzzer, through
# cargo-fuzz on the stable toolchain), and fails if any target finds a crash.
#
#   bash fuzz/run-all.sh 60
#
# Installs cargo-fuzz from crates.io when it is missing. Corpora grow in fuzz/corpus/
# (seeded by fuzz/seed.sh); crash inputs land in fuzz/artifacts/TARGET/ and the output of
# each run in fuzz/logs/TARGET.log. A crash found belongs under fixtures/regressions/TARGET/
# once fixed, where `cargo test` replays it.
set -euo pipefail

SECONDS_EACH=${1:?usage: run-all.sh SECONDS}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi
# cargo-fuzz passes -Z flags to rustc; RUSTC_BOOTSTRAP lets the stable toolchain take them.
export RUSTC_BOOTSTRAP=1

bash "$HERE/seed.sh"
mkdir -p "$HERE/logs"
TARGETS=(parse_bundle private_key smtp_reply raw_message)
echo "== building ${TARGETS[*]}"
cargo fuzz build

failed=()
for t in "${TARGETS[@]}"; do
    echo "== $t for ${SECONDS_EACH}s"
    # -rss_limit_mb: the parsers cap their input at 16 MiB; 2 GiB leaves room for ASan.
    if cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$SECONDS_EACH" \
        -rss_limit_mb=2048 -timeout=30 >"logs/$t.log" 2>&1; then
        # libFuzzer's last line: "Done N runs in S second(s)"; the status line before it
        # ("#N DONE cov: ... exec/s: ...") carries the rate.
        grep -E '^#[0-9]+[[:space:]]+DONE|^Done ' "logs/$t.log" | sed 's/^/   /' || true
    else
        echo "   CRASH or failure in $t; last lines of logs/$t.log:"
        tail -n 30 "logs/$t.log" | sed 's/^/   /'
        failed+=("$t")
    fi
done

if [ "${#failed[@]}" != 0 ]; then
    echo "FAILED: ${failed[*]} (inputs under fuzz/artifacts/)" >&2
    exit 1
fi
echo "== every target ran ${SECONDS_EACH}s without a crash"
