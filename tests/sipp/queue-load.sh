#!/usr/bin/env bash
# Queue load on one build: CALLERS (1,000) SIPp callers into the shipped queue flow (number 500)
# at RATE (100) calls/s, each streaming RTP (queue-caller.xml) and staying until ivrd hangs up,
# and AGENTS (100) agents all answered by one SIPp UAS (agent-hangs-up.xml: answer, talk
# TALK_MS, hang up; ivrd plays goodbye and hangs up on the caller). Callers wait with music, the
# position and estimated-wait announcements and the wait-time SMS offer (unanswered: a
# no_response each) while the agents work through them (wrap-up 0):
#
#   tests/sipp/queue-load.sh IVRD [CALLERS] [AGENTS] [RATE] [TALK_MS]
#
# Prints SIPp's successful and failed calls on both sides, ivrd's CPU time and peak RSS (and per
# caller, over the idle RSS), the most callers waiting at once, and the queue's statistics from
# the API (bridged, mean wait, and the estimated wait's mean absolute error). Run from the
# repository root; needs sipp and curl. Bounded: every SIPp stops after its calls or 600 s.
set -euo pipefail
ivrd=${1:?ivrd binary}
callers=${2:-1000}
agents=${3:-100}
rate=${4:-100}
talk=${5:-3000}
out=$(mktemp -d /tmp/ivrd-queue-load.XXXXXX)
ulimit -n 65536 2>/dev/null || true
{
  cat <<TOML
[defaults]
strategy = "longest-idle"
max_len = $((callers * 2))
max_wait_s = 900
ring_timeout_s = 15
announce_position_s = 30
announce_min_gap_s = 15
default_handle_s = 5

[defaults.wait_sms]
enabled = true
ewt_min_s = 1
ewt_max_s = 3600
max_offers = 1

[defaults.languages.en]
music = ["hold-music"]
position = ["queue-position"]
wait = ["queue-wait"]
minutes = ["queue-minutes"]
sms_consent = ["wait-sms-offer"]
sms_sent = ["wait-sms-sent"]
wrong_selection = ["wrong-selection"]
sms_text = "You are waiting in our {queue} queue (about {ewt_minutes} min)."

[queues.support]
[queues.sales]
TOML
  for i in $(seq "$agents"); do
    printf '[agents.a%d]\ncontact = "sip:a%d@127.0.0.1:15190"\nqueues = { support = 0 }\nwrap_up_s = 0\n' "$i" "$i"
  done
} > "$out/queues.toml"
cat > "$out/ivrd.toml" <<TOML
[queues]
file = "$out/queues.toml"

[http]
admin_token_env = "IVRD_LOAD_ADMIN"
TOML
export IVRD_LOAD_ADMIN=queue-load-admin-token
RUST_LOG=info "$ivrd" serve --config "$out/ivrd.toml" --listen 127.0.0.1:15180 \
  --rtp-ports 20000-29999 --http 127.0.0.1:15188 --var "$out/var" > /dev/null 2> "$out/ivrd.log" &
pid=$!
for _ in $(seq 100); do grep -q "listening for SIP" "$out/ivrd.log" 2>/dev/null && break; sleep 0.1; done
(cd tests/sipp && timeout 600 sipp -sf agent-hangs-up.xml -i 127.0.0.1 -mi 127.0.0.1 -p 15190 \
  -mp 16500 -d "$talk" -m "$callers" -l $((agents * 2)) -timeout 590s -nostdin \
  > "$out/agents-sipp.out" 2>&1) &
agents_pid=$!
sleep 1
rss0=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
(cd tests/sipp && timeout 600 sipp 127.0.0.1:15180 -sf queue-caller.xml -s 500 -i 127.0.0.1 \
  -mi 127.0.0.1 -mp 16400 -r "$rate" -m "$callers" -l $((callers + callers / 4)) -timeout 590s \
  -timeout_error -nostdin > "$out/callers-sipp.out" 2>&1) &
callers_pid=$!
peak=0
while kill -0 "$callers_pid" 2>/dev/null; do
  n=$(curl -s -H "Authorization: Bearer $IVRD_LOAD_ADMIN" http://127.0.0.1:15188/calls \
    | grep -o '"state":"up"' | wc -l || true)
  [ "$n" -gt "$peak" ] && peak=$n
  sleep 2
done
wait "$callers_pid" || true
wait "$agents_pid" || true
sleep 1
sipp_count() { grep -E "$2" "$1" | tail -1 | awk -F'|' '{gsub(/ /,"",$3); print $3}'; }
hz=$(getconf CLK_TCK)
ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
printf 'callers  successful %s failed %s | agents successful %s failed %s\n' \
  "$(sipp_count "$out/callers-sipp.out" 'Successful call')" "$(sipp_count "$out/callers-sipp.out" 'Failed call')" \
  "$(sipp_count "$out/agents-sipp.out" 'Successful call')" "$(sipp_count "$out/agents-sipp.out" 'Failed call')"
printf 'ivrd CPU %.2f s | peak RSS %d MiB (%.1f KiB a caller) | most calls up at once (callers waiting or talking) %d\n' \
  "$(echo "$ticks / $hz" | bc -l)" $((rss / 1024)) "$(echo "($rss - $rss0) / $callers" | bc -l)" "$peak"
echo "queue: $(curl -s -H "Authorization: Bearer $IVRD_LOAD_ADMIN" http://127.0.0.1:15188/queues/support/stats)"
kill "$pid"; wait "$pid" 2>/dev/null || true
echo "logs and SIPp output: $out"
