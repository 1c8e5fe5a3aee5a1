#!/usr/bin/env bash
# The lab's live mode beside the gateway: does holding 1,000 emulated phones at real-time scale
# change the gateway's calls/s?
#
#   bash benches/lab_live.sh [--calls 100000] [--concurrency 64] [--phones 1000] [--seconds 60]
#
# A gateway (`pushtrace serve`, release, SQLite) with its own emulator process is loaded by the
# gateway benchmark's load generator (crates/gateway/benches/gateway_load.rs) three times:
#   1. alone;
#   2. while `pushtrace demo --phones 1000 --seconds 60` runs beside it: the live driver playing
#      1,000 phones at real time (state changes through the emulator's handle, calls through a
#      gateway, receipts), with that demo's own emulator and gateway in its process;
#   3. alone again (the machine's drift between runs).
# Reported: calls/s of each run, the ratio of run 2 to the mean of runs 1 and 3, and from the
# demo's --json: calls, deliveries, receipts, state changes, and how far behind real time the
# live driver ran at most (max_lag_ms). Nothing is pinned: on this 2-core machine every process
# competes, which is the question asked. Writes benches/results/lab-live-<date>.md.
set -euo pipefail

CALLS=100000
CONCURRENCY=64
PHONES=1000
SECONDS_LIVE=60
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
    case "$1" in
        --calls) CALLS=${2:?--calls needs a number}; shift 2 ;;
        --concurrency) CONCURRENCY=${2:?--concurrency needs a number}; shift 2 ;;
        --phones) PHONES=${2:?--phones needs a number}; shift 2 ;;
        --seconds) SECONDS_LIVE=${2:?--seconds needs a number}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "lab_live.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'lab_live.sh: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
command -v python3 >/dev/null 2>&1 || die "python3 is needed to write the emulator's device list"

step "Building pushtrace and the load generator (release)"
cargo build --release -q -p pushtrace
cargo bench -q -p pushtrace-gateway --bench gateway_load --no-run 2>/dev/null
LOAD=$(ls -t "$TARGET"/release/deps/gateway_load-* | grep -v '\.d$' | head -1)
[[ -x $LOAD ]] || die "gateway_load was not built"
PUSHTRACE="$TARGET/release/pushtrace"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

KEY="$ROOT/crates/apns/testdata/test-AuthKey.p8"
API_TOKEN="bench-api-token-0123456789abcdef"
echo "$API_TOKEN" >"$WORK/api-token"
echo "bench-receipt-key-0123456789abcdef0123456789" >"$WORK/receipt-key"
python3 - "$CALLS" "$KEY" "$WORK" >"$WORK/emulator.toml" <<'PY'
import sys
calls, key, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
print(f'sandbox_addr = "127.0.0.1:0"\nproduction_addr = "127.0.0.1:0"\nadmin_addr = "127.0.0.1:0"')
print(f'ca_pem_path = "{work}/ca.pem"\ndelivery_log_retention_secs = 600')
print(f'[[keys]]\nkey_id = "TESTKEY001"\nteam_id = "TESTTEAM01"\nkey_file = "{key}"\nscope = "both"')
for n in range(calls):
    print(f'[[devices]]\nenvironment = "sandbox"\ntopic = "com.acme.call.voip"\ntoken = "{n + 0x5eed00000000:064x}"')
PY

step "Starting the emulator and the gateway (SQLite)"
"$PUSHTRACE" emulator --config "$WORK/emulator.toml" --json >"$WORK/emulator.json" 2>"$WORK/emulator.err" &
EMULATOR_PID=$!
PIDS+=($EMULATOR_PID)
for _ in $(seq 100); do [[ -s $WORK/emulator.json ]] && break; sleep 0.1; done
[[ -s $WORK/emulator.json ]] || die "the emulator did not start: $(cat "$WORK/emulator.err")"
APNS_ADDR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sandbox"]["addr"])' "$WORK/emulator.json")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/gateway.toml" <<TOML
listen = "127.0.0.1:$PORT"
store = "$WORK/bench.db"
api_token_file = "$WORK/api-token"
receipt_key_file = "$WORK/receipt-key"

[[apps]]
name = "acme"
bundle_id = "com.acme.call"
environment = "sandbox"
key_file = "$KEY"
key_id = "TESTKEY001"
team_id = "TESTTEAM01"
endpoint = "https://$APNS_ADDR"
ca_file = "$WORK/ca.pem"
max_in_flight = 1000
TOML
"$PUSHTRACE" serve --config "$WORK/gateway.toml" --json >"$WORK/gateway.json" 2>"$WORK/gateway.err" &
GW=$!
PIDS+=($GW)
for _ in $(seq 100); do [[ -s $WORK/gateway.json ]] && break; sleep 0.1; done
[[ -s $WORK/gateway.json ]] || die "the gateway did not start: $(cat "$WORK/gateway.err")"

load() {
    "$LOAD" --url "http://127.0.0.1:$PORT" --token "$API_TOKEN" --calls "$CALLS" \
        --concurrency "$CONCURRENCY" --sample 200 --prefix "$1" --register \
        --watch "gateway=$GW" --watch "emulator=$EMULATOR_PID" >"$WORK/load-$1.json"
}

step "Run 1: the gateway alone, $CALLS calls"
load alone1

step "Run 2: the same, beside pushtrace demo --phones $PHONES --seconds $SECONDS_LIVE"
"$PUSHTRACE" demo --phones "$PHONES" --seconds "$SECONDS_LIVE" --json --out "$WORK/demo" \
    >"$WORK/demo.json" 2>"$WORK/demo.err" &
DEMO=$!
PIDS+=($DEMO)
# The load starts once the live driver has played at least 5 s of the model (its progress
# lines, every 5 s, say how far it is); with the default calls it lasts some 20 s of the 60.
playing() { grep -Eq '^  live +([5-9]|[1-9][0-9]+)/' "$WORK/demo.err" 2>/dev/null; }
for _ in $(seq 900); do playing && break; sleep 0.1; done
playing || die "the demo did not start playing: $(cat "$WORK/demo.err")"
LIVE_AT_START=$(grep '^  live ' "$WORK/demo.err" | tail -1)
load beside
LIVE_AT_END=$(grep '^  live ' "$WORK/demo.err" | tail -1)
wait "$DEMO" || die "the demo failed: $(tail -5 "$WORK/demo.err")"

step "Run 3: the gateway alone again"
load alone2

step "Results"
DATE=$(date -u +%Y-%m-%d)
OUT="benches/results/lab-live-$DATE.md"
mkdir -p benches/results
python3 - "$CALLS" "$CONCURRENCY" "$PHONES" "$SECONDS_LIVE" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$WORK/load-alone1.json" "$WORK/load-beside.json" "$WORK/load-alone2.json" "$WORK/demo.json" "$LIVE_AT_START" "$LIVE_AT_END" <<'PY' | tee -a "$OUT"
import json, sys
calls, conc, phones, secs, commit = sys.argv[1:6]
a1, b, a2, demo = (json.load(open(p)) for p in sys.argv[6:10])
live_start, live_end = sys.argv[10].strip(), sys.argv[11].strip()
alone = (a1["calls_per_second"] + a2["calls_per_second"]) / 2
ratio = b["calls_per_second"] / alone
l = demo["live"]
print(f"\n## lab_live.sh, commit {commit}\n")
print(f"Gateway (SQLite, release) loaded with {calls} calls from {conc} connections, alone and beside "
      f"`pushtrace demo --phones {phones} --seconds {secs}` (the live driver, its emulator and its gateway in one process). "
      "Nothing pinned; 2 shared cores.\n")
print("| run | calls/s | failed | gateway / emulator CPU |")
print("|---|---|---|---|")
pct = lambda v: "—" if v is None else f"{v * 100:.0f} %"
for name, r in (("alone", a1), ("beside the live driver", b), ("alone again", a2)):
    print(f"| {name} | {r['calls_per_second']:,.0f} | {r['failed']} | {pct(r['cpu_busy'].get('gateway'))} / {pct(r['cpu_busy'].get('emulator'))} |")
print(f"\n**Ratio** beside / alone (mean of the two alone runs): **{ratio:.2f}**\n")
print(f"Live run: {l['phones']} phones, {demo['calls']} calls, {l['deliveries']} deliveries, {l['receipts']} receipts, "
      f"{l['state_changes']} state changes, {l['call_errors']} call errors, {l['receipt_errors']} receipt errors, "
      f"{l['disagreements']} model/emulator disagreements; the driver ran at most **{l['max_lag_ms']} ms** behind real time. "
      f"Its progress when the load started: `{live_start}`; when it ended: `{live_end}`.")
PY
echo "appended to $OUT" >&2
