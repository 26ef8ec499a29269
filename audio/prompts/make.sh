#!/bin/bash
# Regenerates every prompt (8 kHz mono µ-law WAV) with espeak-ng and sox from prompts.txt:
# one `language|name|text` line per prompt. Number, amount and time fragments are listed there
# too; `ivrd check` reports any a flow needs that is missing.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
declare -A voice=([en]=en-us [de]=de [uk]=uk)
while IFS='|' read -r lang name text; do
  [[ -z "$lang" || "$lang" == \#* ]] && continue
  mkdir -p "$lang"
  espeak-ng -v "${voice[$lang]}" -s 160 -w "$tmp/p.wav" "$text"
  sox "$tmp/p.wav" -r 8000 -c 1 -e u-law -b 8 "$lang/$name.wav" silence 1 0.01 0.5% reverse silence 1 0.01 0.5% reverse pad 0 0.08 gain -n -3
done < prompts.txt
# Music on hold for the queues: a slow arpeggio made with sox, not speech.
sox -n -r 8000 -c 1 -e u-law -b 8 en/hold-music.wav synth 0.5 sine 392 synth 0.5 sine 494 : \
  synth 0.5 sine 587 : synth 0.5 sine 494 : synth 0.5 sine 440 : synth 0.5 sine 523 : \
  synth 0.5 sine 659 : synth 0.5 sine 523
