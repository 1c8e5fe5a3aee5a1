#!/usr/bin/env bash
# The emulator's memory under a long run (issue 14, item 7): one process serves the emulator
# (library defaults, so the delivery log's count cap of 100 000, but no per-token rate limit),
# another sends it N VoIP pushes over TLS + HTTP/2 to 100 devices, pages through
# GET /v1/pushes and GET /v1/deliveries (limit=1000) while the second half is sent and again
# at the end, and reads the server's resident memory from /proc (VmHWM, and VmRSS every 100 ms).
#
#   bash benches/emulator_soak.sh [--pushes 200000] [--connections 4] [--max-records N]
#                                 [--bound-mib 256] [--record FILE]
#
# Prints the driver's JSON report and "peak RSS X MiB, bound Y MiB: ok|OVER"; exits 1 over the
# bound. --record writes a Markdown summary to FILE (e.g. benches/results/emulator-soak-<date>.md).
# The bound is the one docs/emulator.md states for the default cap.
set -euo pipefail

PUSHES=200000
CONNECTIONS=4
MAX_RECORDS=
BOUND_MIB=256
RECORD=
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
    case "$1" in
        --pushes) PUSHES=${2:?--pushes needs a number}; shift 2 ;;
        --connections) CONNECTIONS=${2:?--connections needs a number}; shift 2 ;;
        --max-records) MAX_RECORDS=${2:?--max-records needs a number (0: no cap)}; shift 2 ;;
        --bound-mib) BOUND_MIB=${2:?--bound-mib needs a number}; shift 2 ;;
        --record) RECORD=${2:?--record needs a file}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "emulator_soak.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'emulator_soak.sh: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
command -v python3 >/dev/null 2>&1 || die "python3 is missing (it formats the report)"

step "Building the soak program (release)"
cargo build --release -q -p pushtrace-emulator --example emulator_soak
SOAK="$TARGET/release/examples/emulator_soak"
[[ -x $SOAK ]] || die "$SOAK was not built"

WORK=$(mktemp -d)
SERVE_PID=
cleanup() {
    if [[ -n $SERVE_PID ]]; then kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

step "Starting the emulator"
"$SOAK" serve "$WORK" ${MAX_RECORDS:+--max-records "$MAX_RECORDS"} 2>"$WORK/serve.err" &
SERVE_PID=$!
for _ in $(seq 100); do
    [[ -s $WORK/serve.json ]] && break
    kill -0 "$SERVE_PID" 2>/dev/null || die "the emulator exited: $(cat "$WORK/serve.err")"
    sleep 0.1
done
[[ -s $WORK/serve.json ]] || die "the emulator did not start within 10 s"

step "Sending $PUSHES pushes on $CONNECTIONS connection(s) and paging through the admin API"
"$SOAK" drive "$WORK" --pushes "$PUSHES" --connections "$CONNECTIONS" >"$WORK/report.json"
cat "$WORK/report.json"

python3 - "$WORK/report.json" "$BOUND_MIB" "$RECORD" "$(nproc)" <<'PY'
import json, sys, datetime
report = json.load(open(sys.argv[1]))
bound, record, cores = float(sys.argv[2]), sys.argv[3], sys.argv[4]
rss = report["server_rss_mib"]
verdict = "ok" if rss["peak"] <= bound else "OVER"
print(f"peak RSS {rss['peak']:.1f} MiB, bound {bound:.0f} MiB: {verdict}")
if record:
    d, a = report["paged_while_sending"], report["paged_after"]
    cap = report["max_records"]
    lines = [
        f"# Emulator soak, {datetime.date.today().isoformat()}",
        "",
        f"`bash benches/emulator_soak.sh` on {cores} shared cores: the emulator (library defaults,",
        f"count cap {cap if cap is not None else 'none'}, no per-token rate limit) in its own process;",
        f"{report['pushes_sent']:,} VoIP pushes of 123 bytes over TLS + HTTP/2 ({report['connections']} connections,",
        f"{report['window']} in flight each) to 100 devices; the admin lists paged with `limit=1000`",
        "while the second half was sent and again at the end. Memory: the server's /proc status.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| pushes accepted | {report['accepted']:,} of {report['pushes_sent']:,} |",
        f"| send time | {report['send_seconds']:.1f} s ({report['pushes_per_second']:,.0f} pushes/s) |",
        f"| paged while sending | {d['pushes']:,} pushes in {d['pushes_pages']} pages, {d['deliveries']:,} records in {d['deliveries_pages']} pages, {d['seconds']:.2f} s |",
        f"| paged at the end | {a['pushes']:,} pushes ({a['distinct_pushes']:,} distinct) in {a['pushes_pages']} pages, {a['deliveries']:,} records ({a['distinct_deliveries']:,} distinct) in {a['deliveries_pages']} pages, {a['seconds']:.2f} s |",
        f"| largest page | {max(d['largest_page_bytes'], a['largest_page_bytes']) / 1024:,.0f} KiB |",
        f"| server RSS at start | {rss['start']:.1f} MiB |",
        f"| server RSS at the end | {rss['end']:.1f} MiB |",
        f"| **server peak RSS** | **{rss['peak']:.1f} MiB** (bound {bound:.0f} MiB: {verdict}) |",
        "",
        "Before (issue 14, item 7): one `GET /v1/pushes` after 200 k pushes built an 89 MB answer",
        "and the emulator peaked at 1.26 GB.",
        "",
    ]
    open(record, "w").write("\n".join(lines))
    print(f"written to {record}")
sys.exit(0 if verdict == "ok" else 1)
PY
