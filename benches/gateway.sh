#!/usr/bin/env bash
# Gateway benchmark: calls/s, durable, on SQLite and on PostgreSQL, with the emulator in its own
# process as APNs. Each call rings its own user, who has one VoIP token (one push per call).
#
#   bash benches/gateway.sh [--calls 20000] [--concurrency 64] [--stores "sqlite postgresql"]
#                           [--bin PATH]   (a pushtrace binary to measure instead of building one:
#                                           to compare two builds in the same half hour)
#
# The emulator runs pinned to core 1, the gateway (`pushtrace serve`, release) to core 0, the
# load generator (crates/gateway/benches/gateway_load.rs: keep-alive HTTP/1.1 clients) and
# PostgreSQL wherever the scheduler puts them: on this 2-core machine they all compete, so the
# figures are a floor. Reported per store:
#   calls/s            calls answered 201 per second of the create phase (each committed to the
#                      store before the answer: call, push, jobs);
#   create request     p50/p99 of the API round trip seen by the client;
#   accepted → wire    p50/p99 of queued_at → sent_at, read back from the store (docs/performance.md);
#   create → APNs      p50/p99 of queued_at → responded_at: the issue's "create-call to APNs
#                      answer" (sampled: --sample timelines, default 2000).
# Prints a Markdown table and writes it to benches/results/gateway-<date>.md.
set -euo pipefail

CALLS=20000
CONCURRENCY=64
STORES="sqlite postgresql"
SAMPLE=2000
BIN=
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
    case "$1" in
        --calls) CALLS=${2:?--calls needs a number}; shift 2 ;;
        --concurrency) CONCURRENCY=${2:?--concurrency needs a number}; shift 2 ;;
        --stores) STORES=${2:?--stores needs a list such as "sqlite postgresql"}; shift 2 ;;
        --sample) SAMPLE=${2:?--sample needs a number}; shift 2 ;;
        --bin) BIN=${2:?--bin needs the path of a pushtrace binary}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gateway.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'gateway.sh: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PG_URL=${PUSHTRACE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
command -v taskset >/dev/null 2>&1 || die "taskset (util-linux) is missing"
command -v python3 >/dev/null 2>&1 || die "python3 is needed to write the emulator's device list"

step "Building pushtrace and the load generator (release)"
[[ -n $BIN ]] || cargo build --release -q -p pushtrace
cargo bench -q -p pushtrace-gateway --bench gateway_load --no-run 2>/dev/null
LOAD=$(ls -t "$TARGET"/release/deps/gateway_load-* | grep -v '\.d$' | head -1)
[[ -x $LOAD ]] || die "gateway_load was not built"
PUSHTRACE=${BIN:-$TARGET/release/pushtrace}
[[ -x $PUSHTRACE ]] || die "$PUSHTRACE is not an executable"

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

# The emulator knows every user's token (the load generator's formula: 0x5eed00000000 + n).
python3 - "$CALLS" "$KEY" "$WORK" >"$WORK/emulator.toml" <<'PY'
import sys
calls, key, work = int(sys.argv[1]), sys.argv[2], sys.argv[3]
print(f'sandbox_addr = "127.0.0.1:0"\nproduction_addr = "127.0.0.1:0"\nadmin_addr = "127.0.0.1:0"')
print(f'ca_pem_path = "{work}/ca.pem"\ndelivery_log_retention_secs = 600')
print(f'[[keys]]\nkey_id = "TESTKEY001"\nteam_id = "TESTTEAM01"\nkey_file = "{key}"\nscope = "both"')
for n in range(calls):
    print(f'[[devices]]\nenvironment = "sandbox"\ntopic = "com.acme.call.voip"\ntoken = "{n + 0x5eed00000000:064x}"')
PY

step "Starting the emulator (core 1)"
taskset -c 1 "$PUSHTRACE" emulator --config "$WORK/emulator.toml" --json >"$WORK/emulator.json" 2>"$WORK/emulator.err" &
EMULATOR_PID=$!
PIDS+=($EMULATOR_PID)
for _ in $(seq 100); do [[ -s $WORK/emulator.json ]] && break; sleep 0.1; done
[[ -s $WORK/emulator.json ]] || die "the emulator did not start: $(cat "$WORK/emulator.err")"
APNS_ADDR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sandbox"]["addr"])' "$WORK/emulator.json")

RESULTS=()
for STORE in $STORES; do
    case "$STORE" in
        sqlite) STORE_LINES="store = \"$WORK/bench.db\"" ;;
        postgresql)
            pg_isready -q -h 127.0.0.1 || die "PostgreSQL is not running (pg_isready -h 127.0.0.1)"
            SCHEMA="bench_$$"
            STORE_LINES="store = \"$PG_URL\"
store_schema = \"$SCHEMA\"" ;;
        *) die "unknown store '$STORE' (sqlite or postgresql)" ;;
    esac
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$WORK/gateway-$STORE.toml" <<TOML
listen = "127.0.0.1:$PORT"
$STORE_LINES
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
    step "Gateway on $STORE (core 0): registering $CALLS tokens, then $CALLS calls from $CONCURRENCY connections"
    taskset -c 0 "$PUSHTRACE" serve --config "$WORK/gateway-$STORE.toml" --json >"$WORK/gateway-$STORE.json" 2>"$WORK/gateway-$STORE.err" &
    GW=$!
    PIDS+=($GW)
    for _ in $(seq 100); do [[ -s $WORK/gateway-$STORE.json ]] && break; sleep 0.1; done
    [[ -s $WORK/gateway-$STORE.json ]] || die "the gateway did not start: $(cat "$WORK/gateway-$STORE.err")"
    "$LOAD" --url "http://127.0.0.1:$PORT" --token "$API_TOKEN" --calls "$CALLS" \
        --concurrency "$CONCURRENCY" --sample "$SAMPLE" --register \
        --watch "gateway=$GW" --watch "emulator=$EMULATOR_PID" >"$WORK/load-$STORE.json"
    kill "$GW" 2>/dev/null || true
    wait "$GW" 2>/dev/null || true
    if [[ $STORE == postgresql ]]; then
        psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    RESULTS+=("$STORE=$WORK/load-$STORE.json")
done

step "Results"
DATE=$(date -u +%Y-%m-%d)
OUT="benches/results/gateway-$DATE.md"
mkdir -p benches/results
python3 - "$CALLS" "$CONCURRENCY" "${BIN:-commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)}" "${RESULTS[@]}" <<'PY' | tee "$OUT"
import json, sys
calls, concurrency, commit = sys.argv[1], sys.argv[2], sys.argv[3]
fmt = lambda v: "—" if v is None else f"{v:.1f}"
pct = lambda v: "—" if v is None else f"{v * 100:.0f} %"
print(f"Gateway, {calls} calls (one token each), {concurrency} connections, {commit}; "
      "emulator on core 1, gateway on core 0, load generator and PostgreSQL unpinned. "
      "CPU: each process's CPU time over the create phase's wall time (100 % = one core).\n")
print("| store | calls/s | failed | create request p50 / p99 ms | accepted → wire p50 / p99 ms | create → APNs answer p50 / p99 ms | sampled accepted | gateway / emulator CPU |")
print("|---|---|---|---|---|---|---|---|")
for item in sys.argv[4:]:
    store, path = item.split("=", 1)
    r = json.load(open(path))
    c, w, a = r["create_request"], r["accepted_to_wire"], r["create_to_apns_answer"]
    print(f"| {store} | {r['calls_per_second']:,.0f} | {r['failed']} | {fmt(c['p50_ms'])} / {fmt(c['p99_ms'])} "
          f"| {fmt(w['p50_ms'])} / {fmt(w['p99_ms'])} | {fmt(a['p50_ms'])} / {fmt(a['p99_ms'])} "
          f"| {r['sampled_accepted']}/{r['sampled']} "
          f"| {pct(r['cpu_busy'].get('gateway'))} / {pct(r['cpu_busy'].get('emulator'))} |")
PY
echo "written to $OUT" >&2
