#!/usr/bin/env bash
# The fuzz corpora: the sip-ua tests write the SIP messages they feed and send (RFC 4475's among
# them) under fuzz/corpus/from-tests, then seed.py frames those, the SIPp scenarios and pcaps,
# config/'s flow and queue files and the SMS callback forms for each target.
set -euo pipefail
cd "$(dirname "$0")/.."
export IVRD_FUZZ_SEEDS="$PWD/fuzz/corpus/from-tests"
mkdir -p "$IVRD_FUZZ_SEEDS"
cargo test -q -p sip-ua --test rfc4475 --test endpoint --test faults --test register \
  --test timers --test trunk >/dev/null
python3 fuzz/seed.py
