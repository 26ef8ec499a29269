#!/usr/bin/env bash
# What a Prometheus scrape costs with 2,000 calls up: after a warm-up of 500 short calls, SIPp holds CALLS calls (RTP both ways,
# load.xml) while GET /metrics and, as the baseline, GET /health (the same HTTP path with no
# metrics work) are each fetched SCRAPES times, interleaved, from the same client. Prints the
# median and 90th percentile of each and the median difference: the scrape's own cost
# (publishing the SIP loop's counters and rendering), at that load, on this machine.
#
#   tests/sipp/scrape-bench.sh target/release/ivrd [CALLS] [SCRAPES]
#
# Run from the repository root; needs sipp and curl. Bounded: SIPp stops after CALLS calls,
# each held long enough for the scrapes, and everything ends within CALLS/200 + 180 s.
set -euo pipefail
bin=${1:?ivrd binary}
calls=${2:-2000}
scrapes=${3:-200}
out=$(mktemp -d /tmp/ivrd-scrape.XXXXXX)
ulimit -n 65536 2>/dev/null || true
printf '[sip.admission]\ntrusted = ["127.0.0.1"]\n' > "$out/ivrd.toml"
RUST_LOG=warn "$bin" serve --config "$out/ivrd.toml" --listen 127.0.0.1:5390 \
  --rtp-ports 20000-29999 --http 127.0.0.1:8390 --var "$out/var" 2> "$out/ivrd.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; kill $sipp 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf http://127.0.0.1:8390/health >/dev/null && break; sleep 0.1; done
# A warm-up of 500 short calls first, so the families that fill as calls end (flow outcomes,
# dispositions, histograms) are in the scrape too.
(cd tests/sipp && timeout 60 sipp 127.0.0.1:5390 -sf load.xml -i 127.0.0.1 -mi 127.0.0.1 \
  -mp 38000 -r 200 -m 500 -l 1000 -d 1000 -timeout 50s -nostdin > "$out/warmup.out" 2>&1) || true
hold=$((calls / 200 * 1000 + 60000))
(cd tests/sipp && exec timeout $((calls / 200 + 180)) sipp 127.0.0.1:5390 -sf load.xml \
  -i 127.0.0.1 -mi 127.0.0.1 -mp 39000 -r 200 -m "$calls" -l $((calls + calls / 4)) \
  -d "$hold" -timeout 170s -nostdin > "$out/sipp.out" 2>&1) &
sipp=$!
# Wait until the calls are up.
for _ in $(seq 120); do
  up=$(curl -s http://127.0.0.1:8390/metrics | awk '/^ivrd_calls_active\{direction="inbound"\}/ {print $2}')
  [ "${up:-0}" -ge "$calls" ] && break
  sleep 1
done
echo "calls up: ${up:-0}"
: > "$out/metrics.txt"; : > "$out/health.txt"
for _ in $(seq "$scrapes"); do
  curl -s -o /dev/null -w '%{time_total}\n' http://127.0.0.1:8390/metrics >> "$out/metrics.txt"
  curl -s -o /dev/null -w '%{time_total}\n' http://127.0.0.1:8390/health >> "$out/health.txt"
done
series=$(curl -s http://127.0.0.1:8390/metrics | grep -vc '^#')
bytes=$(curl -s http://127.0.0.1:8390/metrics | wc -c)
stat() { sort -n "$1" | awk '{a[NR]=$1} END {printf "%.3f %.3f", a[int(NR/2)+1]*1000, a[int(NR*0.9)]*1000}'; }
read -r m50 m90 <<< "$(stat "$out/metrics.txt")"
read -r h50 h90 <<< "$(stat "$out/health.txt")"
echo "GET /metrics: median ${m50} ms, p90 ${m90} ms ($series samples, $bytes bytes)"
echo "GET /health:  median ${h50} ms, p90 ${h90} ms (baseline)"
awk -v m="$m50" -v h="$h50" 'BEGIN {printf "scrape cost (median difference): %.3f ms; ratio %.2f\n", m - h, m / h}'
echo "still up after the scrapes: $(curl -s http://127.0.0.1:8390/metrics | awk '/^ivrd_calls_active\{direction="inbound"\}/ {print $2}')"
