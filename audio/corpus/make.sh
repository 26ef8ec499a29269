#!/usr/bin/env bash
# Builds the talk-down / talk-off sources for the DTMF detector from Debian packages: real
# recorded music and speech in several languages and voices, each made telephone-like (mono,
# 8 kHz, 300–3400 Hz) and written as raw 16-bit little-endian PCM:
#   OUT/music/<name>.raw     wesnoth-1.16-music and hyperrogue-music soundtracks (OGG)
#   OUT/speech/<name>.raw    espeak-ng (13 languages, several voices and rates) and festival
#                            (kal and slt in English, lp in Italian)
#   OUT/sources.tsv          kind, name, seconds, where it came from
# The levels are set later, by the mixer (ivrd-benches' `corpus` module), which also places
# the digits, adds the prompt echo and makes the G.711 round trip. The mixes it makes and their
# ground truth are described in README.md next to this script.
#
#   audio/corpus/make.sh [OUT]        # default target/dtmf-corpus; skipped when up to date
# Needs: sox, espeak-ng, festival, festvox-kallpc16k, festvox-us-slt-hts, festvox-italp16k,
# wesnoth-1.16-music, hyperrogue-music (apt-get install -y …, as .ci/run does).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../target/dtmf-corpus}"
stamp="$out/.complete"
version=$(cat "$here/make.sh" "$here/speech.txt" | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
  echo "corpus: $out is up to date"
  exit 0
fi
for tool in sox espeak-ng text2wave; do
  command -v "$tool" >/dev/null || { echo "corpus: $tool is missing" >&2; exit 1; }
done
music_dirs=(/usr/share/games/wesnoth/1.16/data/core/music /usr/share/hyperrogue/music)
for d in "${music_dirs[@]}"; do
  [ -d "$d" ] || { echo "corpus: $d is missing (wesnoth-1.16-music, hyperrogue-music)" >&2; exit 1; }
done
rm -rf "$out"
mkdir -p "$out/music" "$out/speech" "$out/tmp"
jobs_max=$(nproc)

# Mono, 8 kHz, the telephone band, peak 3 dB below full scale; written whole or not at all.
telephone() {
  sox -q -G "$1" -t raw -r 8000 -c 1 -e signed-integer -b 16 -L "$2.part" \
    remix - rate 8000 sinc 300-3400 gain -n -3 && [ -s "$2.part" ] && mv "$2.part" "$2"
}
# Jobs run $jobs_max at a time; one that fails leaves a mark, and the corpus is not stamped.
failed="$out/tmp/failed"
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
spawn() {
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  { "$@" || { echo "corpus: failed: $*" >&2; touch "$failed"; }; } &
}

for d in "${music_dirs[@]}"; do
  for f in "$d"/*.ogg; do
    case "$d" in *wesnoth*) name="wesnoth-$(basename "$f" .ogg)" ;; *) name="hyperrogue-$(basename "$f" .ogg)" ;; esac
    spawn telephone "$f" "$out/music/$name.raw"
  done
done

espeak_one() { # name voice rate pitch text
  local rc=0
  espeak-ng -v "$2" -s "$3" -p "$4" -w "$out/tmp/$1.wav" "$5" \
    && telephone "$out/tmp/$1.wav" "$out/speech/$1.raw" || rc=1
  rm -f "$out/tmp/$1.wav"
  return $rc
}
festival_one() { # name voice text-file
  local rc=0
  text2wave -eval "($2)" -o "$out/tmp/$1.wav" "$3" \
    && telephone "$out/tmp/$1.wav" "$out/speech/$1.raw" || rc=1
  rm -f "$out/tmp/$1.wav"
  return $rc
}
variants=(m1 m3 m7 f1 f2 f4 klatt2 Andrea)
rates=(145 185)
pitches=(35 60)
i=0
while IFS='|' read -r lang voice text; do
  [[ -z "$lang" || "$lang" == \#* ]] && continue
  for v in "${variants[@]}"; do
    for r in "${rates[@]}"; do
      p=${pitches[$((i % 2))]}
      i=$((i + 1))
      spawn espeak_one "espeak-$lang-$v-$r" "$voice+$v" "$r" "$p" "$text"
    done
  done
done < "$here/speech.txt"

# Long English reading: the GPL, by two espeak-ng voices and two festival voices.
gpl=/usr/share/common-licenses/GPL-3
spawn espeak_one espeak-en-gpl-m3 en-us+m3 170 45 "$(cat "$gpl")"
spawn espeak_one espeak-en-gpl-f2 en+f2 175 55 "$(cat "$gpl")"
spawn festival_one festival-kal-gpl voice_kal_diphone "$gpl"
head -c 12000 "$gpl" > "$out/tmp/gpl-part.txt"
spawn festival_one festival-slt-gpl voice_cmu_us_slt_arctic_hts "$out/tmp/gpl-part.txt"
grep "^it|" "$here/speech.txt" | cut -d"|" -f3 | iconv -f utf-8 -t latin1 > "$out/tmp/it.txt"
for k in 1 2 3; do cat "$out/tmp/it.txt"; done > "$out/tmp/it3.txt"
spawn festival_one festival-lp-it voice_lp_diphone "$out/tmp/it3.txt"
wait
if [ -e "$failed" ]; then
  echo "corpus: some sources failed; not stamped" >&2
  exit 1
fi

{
  printf 'kind\tname\tseconds\tsource\n'
  for kind in music speech; do
    for f in "$out/$kind"/*.raw; do
      bytes=$(stat -c %s "$f")
      name=$(basename "$f" .raw)
      case "$name" in
        wesnoth-*) src=wesnoth-1.16-music ;;
        hyperrogue-*) src=hyperrogue-music ;;
        espeak-*) src=espeak-ng ;;
        *) src=festival ;;
      esac
      printf '%s\t%s\t%.1f\t%s\n' "$kind" "$name" "$(awk -v b="$bytes" 'BEGIN { print b / 16000 }')" "$src"
    done
  done
} > "$out/sources.tsv"
rm -rf "$out/tmp"
awk -F'\t' 'NR > 1 { s[$1] += $3; n[$1]++ } END { for (k in s) printf "corpus: %s %d files, %.2f h\n", k, n[k], s[k] / 3600 }' "$out/sources.tsv"
echo "$version" > "$stamp"
