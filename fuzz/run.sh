#!/usr/bin/env bash
# Fuzzes every reader, the gateway's HTTP API end to end and sysdiagnose extraction for a bounded time: `bash fuzz/run.sh [--seconds N] [target…]`.
#
# cargo-fuzz needs unstable rustc flags (-Zsanitizer); the stable toolchain accepts them with
# RUSTC_BOOTSTRAP=1, so no nightly toolchain is needed. A target with a folder fuzz/seeds/<target>/
# starts from its seeds (request sequences, tiny archives: each folder's make.sh rebuilds them);
# the others from testdata/ and the documented line forms in fuzz/seeds/. A crash leaves its
# input in fuzz/artifacts/<target>/ and fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

seconds=20
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(syslog default compact json ndjson console digest idevicesyslog pymobiledevice3 pymobiledevice3_json unifiedlog_jsonl unifiedlog_csv detect pushes gateway_input parquet gateway_http extraction predicate)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz (once per machine)"
  cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz build --release >/tmp/fuzz-build.log 2>&1; then
  tail -40 /tmp/fuzz-build.log
  echo "fuzz: building the targets failed (log above)"
  exit 1
fi

failed=0
for target in "${targets[@]}"; do
  corpus="corpus/$target"
  mkdir -p "$corpus"
  if [ -d "seeds/$target" ]; then
    find "seeds/$target" -maxdepth 1 -type f ! -name '*.sh' -exec cp -n {} "$corpus"/ \;
  else
    find seeds -maxdepth 1 -type f -exec cp -n {} "$corpus"/ \;
    cp -n ../testdata/seed-incident-digest.txt "$corpus"/ 2>/dev/null || true
  fi
  [ "$target" != parquet ] || cp -n ../testdata/records/*.parquet "$corpus"/ 2>/dev/null || true
  # gateway_http opens an in-memory SQLite store per input, whose connection thread ends just
  # after the input does: LeakSanitizer, checking meanwhile, reports that exiting thread's
  # thread-locals (std's channel context) as leaked. The thread count stays at one over a run.
  extra=()
  [ "$target" != gateway_http ] || extra=(-detect_leaks=0)
  if cargo fuzz run --release "$target" "$corpus" -- -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 "${extra[@]}" >"/tmp/fuzz-$target.log" 2>&1; then
    runs=$(grep -oE 'Done [0-9]+ runs' "/tmp/fuzz-$target.log" | tail -1)
    echo "fuzz: $target ok ($runs in ${seconds}s)"
  else
    echo "fuzz: $target FAILED; log follows"
    tail -40 "/tmp/fuzz-$target.log"
    failed=1
  fi
done
exit $failed
