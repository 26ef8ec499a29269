#!/bin/sh
# Regenerates the in-band DTMF streams for dtmf-inband.xml and agent.xml: digits 1, 5, 9, each 120 ms of tone
# (-10 dBm0 per tone) and 120 ms of silence, headerless µ-law at 8 kHz (SIPp rtp_stream input;
# the length is a multiple of 160 bytes).
set -eu
cd "$(dirname "$0")"
python3 - <<'PY'
import math, struct, wave
pairs = {'1': (697, 1209), '5': (770, 1336), '9': (852, 1477)}
amp = 32767 * 0.6966 * 10 ** (-10 / 20)
samples = [0] * 800
for d in '159':
    lo, hi = pairs[d]
    samples += [int(amp * (math.sin(2 * math.pi * lo * n / 8000) + math.sin(2 * math.pi * hi * n / 8000))) for n in range(960)]
    samples += [0] * 960
samples += [0] * (160 - len(samples) % 160) if len(samples) % 160 else []
with wave.open('/tmp/ivrd-inband.wav', 'wb') as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
    w.writeframes(struct.pack('<%dh' % len(samples), *samples))
PY
sox /tmp/ivrd-inband.wav -e mu-law -t raw dtmf-159.ulaw
# The same digits in A-law, for agent.xml (an agent whose PCMA is transcoded for a PCMU caller).
sox /tmp/ivrd-inband.wav -e a-law -t raw dtmf-159.alaw
rm -f /tmp/ivrd-inband.wav
