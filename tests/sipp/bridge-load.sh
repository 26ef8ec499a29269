#!/usr/bin/env bash
# Bridged calls under load, beside the single-leg load run, in one run on one build:
#
#   tests/sipp/bridge-load.sh IVRD [BRIDGED_CALLS] [RATE] [SINGLE_CALLS]
#
# 1. Single leg: SIPp calls the demo flow (load.xml, RTP both ways), SINGLE_CALLS (2,000) at
#    200 calls/s, 10 s each.
# 2. Bridged: SIPp calls number 400 (the dial flow), BRIDGED_CALLS (500) at RATE (50) calls/s,
#    each bridged to a second SIPp standing in for the agents (agent.xml: PCMA, RTP looped),
#    12 s each: 2 legs a call, RTP both ways on both.
# For each: SIPp's successful and failed calls, ivrd's CPU time and peak RSS (and per call,
# over the idle RSS), and the jitter of ivrd's RTP as the caller receives it (tshark's RTP
# stream analysis of a 4 s sample, mean and worst of the streams' max jitter). Run from the
# repository root; needs sipp and tshark, and root for the capture.
set -euo pipefail
ivrd=${1:?ivrd binary}
bridged=${2:-500}
rate=${3:-50}
single=${4:-2000}
out=$(mktemp -d /tmp/ivrd-bridge-load.XXXXXX)
ulimit -n 65536 2>/dev/null || true

start_ivrd() { # label port config
  RUST_LOG=info "$ivrd" serve --config "$3" --listen "127.0.0.1:$2" --rtp-ports 20000-29999 \
    --http 127.0.0.1:0 --var "$out/$1-var" > /dev/null 2> "$out/$1.log" &
  echo $!
}

jitter() { # port seconds file
  timeout $(( $2 + 5 )) tshark -q -i lo -f "udp and dst port $1" -a "duration:$2" -w "$3" >/dev/null 2>&1 || true
  tshark -r "$3" -q -d "udp.port==$1,rtp" -z rtp,streams 2>/dev/null \
    | awk '/^ *[0-9]/ && NF > 10 {
        last = ($NF ~ /^[0-9.]+$/) ? NF : NF - 1
        n++; m = $last + 0; mean += $(last - 1); s += m; if (m > w) w = m
      } END {
        if (n) printf "%d streams, mean jitter %.3f ms, max jitter mean %.3f ms, worst %.3f ms", n, mean / n, s / n, w
        else print "no streams"
      }'
}

report() { # label pid calls sipp-out rss0 jitter
  local ticks hz rss ok failed
  hz=$(getconf CLK_TCK)
  ticks=$(awk '{print $14 + $15}' "/proc/$2/stat")
  rss=$(awk '/VmHWM/ {print $2}' "/proc/$2/status")
  ok=$(grep -E "Successful call" "$4" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  failed=$(grep -E "Failed call" "$4" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}')
  printf '%-8s successful %s failed %s | ivrd CPU %.2f s | peak RSS %d MiB (%.1f KiB a call) | caller-side jitter: %s\n' \
    "$1" "$ok" "$failed" "$(echo "$ticks / $hz" | bc -l)" $((rss / 1024)) \
    "$(echo "($rss - $5) / $3" | bc -l)" "$6"
}

# 1. Single leg.
printf '' > "$out/single.toml"
pid=$(start_ivrd single 15070 "$out/single.toml")
for _ in $(seq 100); do grep -q "listening for SIP" "$out/single.log" 2>/dev/null && break; sleep 0.1; done
sleep 1
rss0=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
(cd tests/sipp && timeout 200 sipp 127.0.0.1:15070 -sf load.xml -i 127.0.0.1 -mi 127.0.0.1 -mp 16100 \
  -r 200 -m "$single" -l $((single + single / 4)) -d 10000 -timeout 120s -timeout_error -nostdin \
  > "$out/single-sipp.out" 2>&1) &
sipp_pid=$!
sleep $(( single / 200 ))
j=$(jitter 16100 4 "$out/single.pcap")
wait $sipp_pid || true
sleep 1
report single "$pid" "$single" "$out/single-sipp.out" "$rss0" "$j"
kill "$pid"; wait "$pid" 2>/dev/null || true

# 2. Bridged.
printf '[flows.vars]\nagent = "sip:agent@127.0.0.1:15090"\n' > "$out/bridged.toml"
pid=$(start_ivrd bridged 15080 "$out/bridged.toml")
for _ in $(seq 100); do grep -q "listening for SIP" "$out/bridged.log" 2>/dev/null && break; sleep 0.1; done
(cd tests/sipp && timeout 200 sipp -sf agent.xml -i 127.0.0.1 -mi 127.0.0.1 -p 15090 -mp 16300 \
  -m "$bridged" -timeout 150s -nostdin > "$out/agent-sipp.out" 2>&1) &
agent_pid=$!
sleep 1
rss0=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
(cd tests/sipp && timeout 200 sipp 127.0.0.1:15080 -sf load.xml -s 400 -i 127.0.0.1 -mi 127.0.0.1 \
  -mp 16200 -r "$rate" -m "$bridged" -l $((bridged + bridged / 4)) -d 12000 -timeout 120s \
  -timeout_error -nostdin > "$out/bridged-sipp.out" 2>&1) &
sipp_pid=$!
sleep $(( bridged / rate + 2 ))
j=$(jitter 16200 4 "$out/bridged.pcap")
wait $sipp_pid || true
wait $agent_pid || true
sleep 1
report bridged "$pid" "$bridged" "$out/bridged-sipp.out" "$rss0" "$j"
echo "agents: $(grep -E 'Successful call|Failed call' "$out/agent-sipp.out" | tail -2 | awk -F'|' '{gsub(/ /,"",$3); printf "%s ", $3}') (successful failed)"
kill "$pid"; wait "$pid" 2>/dev/null || true
echo "logs and SIPp output: $out"
