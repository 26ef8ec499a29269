#!/usr/bin/env bash
# Builds every fuzz target and runs each for SECONDS (default 30) on its corpus (seeded by
# seed.sh when missing), one after another; fails on the first crash, whose input libFuzzer
# leaves in fuzz/artifacts/<target>/. Prints each target's executions and coverage.
#   fuzz/run.sh 3600 sip_message     # an hour of one target
#   FUZZ_RUNS=10000 fuzz/run.sh 120  # CI: 10,000 inputs each from seed 1 (the same every run;
#                                    # SECONDS only bounds the time)
# Needs the nightly toolchain and cargo-fuzz (.ci/run installs it under target/tools).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
shift || true
export PATH="$PWD/target/tools/bin:$PATH"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi
# -O with debug assertions (-a): overflow checks stay on, as in the test builds.
(cd fuzz && cargo +nightly fuzz build -O -a)
[ -d fuzz/corpus/sip_message ] || bash fuzz/seed.sh
mkdir -p fuzz/logs
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  log="fuzz/logs/$t-${seconds}s.log"
  # Every input that once crashed a target (fuzz/regressions/<target>/) runs first.
  if compgen -G "fuzz/regressions/$t/*" >/dev/null; then
    (cd fuzz && cargo +nightly fuzz run -O -a "$t" regressions/"$t"/* >"../$log" 2>&1) || {
      tail -n 40 "$log"; echo "fuzz: $t regression failed" >&2; exit 1; }
  fi
  if ! (cd fuzz && cargo +nightly fuzz run -O -a "$t" "corpus/$t" -- \
        -max_total_time="$seconds" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS -seed=1} \
        -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"../$log" 2>&1); then
    tail -n 60 "$log"
    echo "fuzz: $t failed (input in fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo '?')
  took=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "$seconds")
  echo "fuzz: $t ${took}s, $execs executions, coverage $cov edges, no crash"
done
