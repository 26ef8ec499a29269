#!/bin/sh
# Regenerates the demo prompts (8 kHz, 16-bit mono WAV) with espeak-ng and sox.
set -eu
cd "$(dirname "$0")"
say() { # file text
  espeak-ng -v en-us -s 160 -w /tmp/ivrd-prompt.wav "$2"
  sox /tmp/ivrd-prompt.wav -r 8000 -c 1 -b 16 "en/$1.wav" gain -n -3
}
say welcome "Welcome to I V R D. Press any key and I will read it back. Press the pound key to hang up."
say goodbye "Goodbye."
for d in 0 1 2 3 4 5 6 7 8 9; do say "digit-$d" "$d"; done
say digit-star "star"
say digit-pound "pound"
for d in A B C D; do say "digit-$d" "$d"; done
rm -f /tmp/ivrd-prompt.wav
