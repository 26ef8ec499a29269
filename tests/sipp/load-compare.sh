#!/usr/bin/env bash
# The SIPp load run against two ivrd builds, one after the other in one run, so that their
# figures can be compared side by side on the same machine at the same time:
#
#   BASELINE_DIR=../old tests/sipp/load-compare.sh BASELINE_IVRD NEW_IVRD [CALLS] [RATE] [HOLD_MS]
#
# (BASELINE_DIR: a checkout of the baseline's commit, e.g. `git worktree add ../old c9f2189`,
# since flows and prompts are read from the working directory.)
#
# Defaults: 2,000 calls at 200 calls/s, 10 s each (about 2,000 at once), RTP both ways
# (load.xml). For each build: SIPp's successful and failed calls, ivrd's CPU time (user+system)
# and peak RSS, and what ivrd received (late, duplicate, lost, foreign packets) from its log.
# Run from the repository root, as root or not; needs sipp. Bounded: SIPp stops after CALLS
# calls or 120 s past the last.
set -euo pipefail
base=${1:?baseline ivrd binary}
new=${2:?new ivrd binary}
calls=${3:-2000}
rate=${4:-200}
hold=${5:-10000}
out=$(mktemp -d /tmp/ivrd-load.XXXXXX)
ulimit -n 65536 2>/dev/null || true

run() { # label binary sip-port media-port
  local label=$1 bin=$2 port=$3 mp=$4
  local log=$out/$label.log var=$out/$label-var
  # The baseline may predate keys of the shipped config: give both the embedded defaults.
  printf '' > "$out/empty.toml"
  # Each build runs in its own checkout (flows and prompts are read from the working
  # directory): BASELINE_DIR for the baseline (a worktree of its commit), here for the new one.
  local dir=.
  if [ "$label" = baseline ] && [ -n "${BASELINE_DIR:-}" ]; then dir=$BASELINE_DIR; fi
  (cd "$dir" && RUST_LOG=info exec "$bin" serve --config "$out/empty.toml" --listen "127.0.0.1:$port" \
    --rtp-ports 20000-29999 --http 127.0.0.1:0 --var "$var" 2> "$log") &
  local pid=$!
  for _ in $(seq 100); do grep -q "listening for SIP" "$log" && break; sleep 0.1; done
  local rss0; rss0=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  (cd tests/sipp && timeout $((calls / rate + hold / 1000 + 120)) sipp "127.0.0.1:$port" -sf load.xml \
    -i 127.0.0.1 -mi 127.0.0.1 -mp "$mp" -r "$rate" -m "$calls" -l $((calls + calls / 4)) \
    -d "$hold" -timeout 120s -timeout_error -nostdin -trace_stat -stf "$out/$label-stat.csv" \
    > "$out/$label-sipp.out" 2>&1) || true
  sleep 1
  local ticks hz rss
  hz=$(getconf CLK_TCK)
  ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local ok failed
  ok=$(grep -E "Successful call" "$out/$label-sipp.out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  failed=$(grep -E "Failed call" "$out/$label-sipp.out" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  local media
  media=$(grep "media ended" "$log" | sed -E 's/.* delivered=([0-9]+) late=([0-9]+) duplicate=([0-9]+) lost=([0-9]+).*/\1 \2 \3 \4/' \
    | awk '{d+=$1; l+=$2; u+=$3; s+=$4; n++} END {printf "%d calls, delivered %d, late %d, duplicate %d, lost %d", n, d, l, u, s}')
  local total
  total=$(grep -E "Total-time" -A1 "$out/$label-sipp.out" | tail -1 | awk '{print $4}')
  printf '%-9s successful %s failed %s | SIPp total %s s | ivrd CPU %.2f s | peak RSS %d MiB (%.1f KiB a call over the idle) | %s | log %d KiB\n' \
    "$label" "$ok" "$failed" "$total" "$(echo "$ticks / $hz" | bc -l)" \
    $((rss / 1024)) "$(echo "($rss - $rss0) / $calls" | bc -l)" "$media" $(( $(stat -c %s "$log") / 1024 ))
}

# Twice each, alternating, so that a slow spell of the machine does not favour one build.
run baseline "$base" 15060 16000
run new "$new" 15062 16010
run new "$new" 15064 16020
run baseline "$base" 15066 16030
echo "logs and SIPp output: $out"
