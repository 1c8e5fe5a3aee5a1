#!/usr/bin/env bash
# Chaos bench: does the gateway ring every accepted call once, inside its window, when APNs is
# slow and failing and gateway processes die with kill -9? (issue 14, "Keep it tested")
#
#   bash benches/chaos.sh [--seconds 60] [--rate 20] [--kills 3] [--faults 5] [--latency-ms 400]
#                         [--window 60] [--stores "sqlite postgresql"] [--seed 1] [--json]
#                         [--pushtrace BINARY [--commit LABEL]] [--keep]
#
# The APNs emulator answers after --latency-ms and answers --faults % of pushes with 500 or 503
# (half each); its simulated devices post their receipts to the gateway (delivery_hook_body =
# "app"). Per store, the gateway runs on SQLite (one instance) and on PostgreSQL (two instances
# sharing a database this script creates and drops at 127.0.0.1:5432), receives calls at a
# steady --rate for --seconds (one user with one VoIP token per call), and --kills times at
# random moments an instance is killed with SIGKILL and restarted. benches/chaos/chaos.py stands
# in for the load balancer: backend requests and receipts go to an instance that is up, and are
# sent again when they meet a dead one (a call with the same call_id; a receipt for 4 s, as the
# app would). Once every window has ended, plus the job lease and a grace period, it reads each
# call from the gateway's API and every push and delivery from the emulator's admin API, and
# prints per store:
#   accepted      calls answered 201 (or 200 to a repeat of the same call_id);
#   lost          accepted, and never pushed with no reason recorded (or not in the store);
#   stuck         still ringing, or with a push that has neither an answer nor an error;
#   rung twice    calls whose device got two VoIP pushes; avoidable: a later one reached APNs
#                 after the gateway had recorded a receipt from that token ("same push" is a
#                 re-send with the same push_id, "retry" a new push);
#   inside window calls whose first push reached the device before the call's deadline.
# Targets: 0 lost, 0 stuck, 0 avoidable duplicates, >= 99.9 % inside the window; the exit code
# is 1 when one is missed. Appends the table to benches/results/chaos-<date>.md; --json prints
# the figures as JSON instead of the table. --pushtrace uses a binary already built (else
# `cargo build --release -p pushtrace`), --commit names what it was built from (else the
# report says HEAD and "+dirty" when crates/ has uncommitted changes); --keep keeps the logs.
set -euo pipefail

SECONDS_PER_STORE=60
RATE=20
KILLS=3
FAULTS=5
LATENCY_MS=400
WINDOW=60
STORES="sqlite postgresql"
SEED=1
JSON=0
BINARY=
COMMIT=
KEEP=0
usage() { sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
    case "$1" in
        --seconds) SECONDS_PER_STORE=${2:?--seconds needs a number}; shift 2 ;;
        --rate) RATE=${2:?--rate needs calls per second}; shift 2 ;;
        --kills) KILLS=${2:?--kills needs a number}; shift 2 ;;
        --faults) FAULTS=${2:?--faults needs a percentage such as 5}; shift 2 ;;
        --latency-ms) LATENCY_MS=${2:?--latency-ms needs a number}; shift 2 ;;
        --window) WINDOW=${2:?--window needs seconds}; shift 2 ;;
        --stores) STORES=${2:?--stores needs a list such as "sqlite postgresql"}; shift 2 ;;
        --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
        --json) JSON=1; shift ;;
        --pushtrace) BINARY=${2:?--pushtrace needs a path}; shift 2 ;;
        --commit) COMMIT=${2:?--commit needs a label}; shift 2 ;;
        --keep) KEEP=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "chaos.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'chaos.sh: %s\n' "$*" >&2; exit 1; }
number() { [[ $2 =~ ^[0-9]+([.][0-9]+)?$ ]] || die "$1 must be a number, not '$2'"; }
number --seconds "$SECONDS_PER_STORE"; number --rate "$RATE"; number --kills "$KILLS"
number --faults "$FAULTS"; number --latency-ms "$LATENCY_MS"; number --window "$WINDOW"
number --seed "$SEED"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PG_URL_BASE=${PUSHTRACE_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test}
PG_URL_BASE=${PG_URL_BASE%/*}
command -v python3 >/dev/null 2>&1 || die "python3 (3.11 or later) is needed for benches/chaos/chaos.py"
python3 -c 'import tomllib' 2>/dev/null || die "python3 is older than 3.11 (tomllib is missing)"
DRIVER=(python3 "$ROOT/benches/chaos/chaos.py")
FAULT_SHARE=$(python3 -c "import sys; f = float(sys.argv[1]); print(f / 100) if 0 <= f < 100 else sys.exit(1)" "$FAULTS") \
    || die "--faults is a percentage from 0 to below 100"

if [[ -z $BINARY ]]; then
    step "Building pushtrace (release)"
    cargo build --release -q -p pushtrace
    BINARY="${CARGO_TARGET_DIR:-$ROOT/target}/release/pushtrace"
fi
[[ -x $BINARY ]] || die "$BINARY is not an executable"
if [[ -z $COMMIT ]]; then
    COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    [[ -z $(git status --porcelain -- crates Cargo.lock Cargo.toml 2>/dev/null) ]] || COMMIT="$COMMIT+dirty"
fi

WORK=$(mktemp -d)
PIDS=()
DATABASES=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for db in "${DATABASES[@]}"; do
        psql -q "$PG_URL_BASE/postgres" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    if ((KEEP)); then echo "logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

KEY="$ROOT/crates/apns/testdata/test-AuthKey.p8"
echo "chaos-api-token-0123456789abcdef" >"$WORK/api-token"
echo "chaos-receipt-key-0123456789abcdef0123456789" >"$WORK/receipt-key"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DEVICES=$(python3 -c "import math,sys; print(math.ceil(float(sys.argv[1]) * float(sys.argv[2])))" "$RATE" "$SECONDS_PER_STORE")

RESULTS=()
for STORE in $STORES; do
    case "$STORE" in
        sqlite) INSTANCES=1; STORE_LINE="store = \"$WORK/chaos.db\"" ;;
        postgresql)
            pg_isready -q -h 127.0.0.1 || die "PostgreSQL is not running at 127.0.0.1:5432 (bash .ci/start-postgres.sh starts it)"
            DB="pushtrace_chaos_$$"
            psql -q "$PG_URL_BASE/postgres" -c "CREATE DATABASE $DB" >/dev/null \
                || die "cannot create database $DB at $PG_URL_BASE"
            DATABASES+=("$DB")
            INSTANCES=2; STORE_LINE="store = \"$PG_URL_BASE/$DB\"" ;;
        *) die "unknown store '$STORE' (sqlite or postgresql)" ;;
    esac
    DIR="$WORK/$STORE"
    mkdir -p "$DIR"
    HOOK_PORT=$(free_port)
    step "$STORE: the emulator ($LATENCY_MS ms, $FAULTS % 500/503, $DEVICES devices)"
    "${DRIVER[@]}" emulator-config --devices "$DEVICES" --key "$KEY" --ca "$DIR/ca.pem" \
        --hook "http://127.0.0.1:$HOOK_PORT/v1/receipts" --latency-ms "$LATENCY_MS" \
        --faults "$FAULT_SHARE" --seed "$SEED" >"$DIR/emulator.toml"
    "$BINARY" emulator --config "$DIR/emulator.toml" --json >"$DIR/emulator.json" 2>"$DIR/emulator.err" &
    EMULATOR=$!
    PIDS+=($EMULATOR)
    for _ in $(seq 100); do [[ -s $DIR/emulator.json ]] && break; sleep 0.1; done
    [[ -s $DIR/emulator.json ]] || die "the emulator did not start: $(cat "$DIR/emulator.err")"
    APNS_ADDR=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sandbox"]["addr"])' "$DIR/emulator.json")

    CONFIGS=()
    for i in $(seq "$INSTANCES"); do
        cat >"$DIR/gateway-$i.toml" <<TOML
listen = "127.0.0.1:$(free_port)"
$STORE_LINE
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
ca_file = "$DIR/ca.pem"
call_window_secs = $WINDOW
TOML
        CONFIGS+=(--config "$DIR/gateway-$i.toml")
    done
    step "$STORE: $INSTANCES gateway instance(s), $RATE calls/s for $SECONDS_PER_STORE s, $KILLS kill -9"
    "${DRIVER[@]}" run --store "$STORE" --pushtrace "$BINARY" "${CONFIGS[@]}" \
        --emulator-json "$DIR/emulator.json" --api-token-file "$WORK/api-token" \
        --hook-port "$HOOK_PORT" --seconds "$SECONDS_PER_STORE" --rate "$RATE" --kills "$KILLS" \
        --window "$WINDOW" --seed "$SEED" --log-dir "$DIR" --out "$DIR/result.json"
    kill "$EMULATOR" 2>/dev/null || true
    wait "$EMULATOR" 2>/dev/null || true
    RESULTS+=("$DIR/result.json")
done

step "Results"
DATE=$(date -u +%Y-%m-%d)
mkdir -p benches/results
OUT="benches/results/chaos-$DATE.md"
# Appended, as the other benches do: a day's file keeps every run (before and after a fix).
SECTION=$(mktemp)
REPORT=("${DRIVER[@]}" report "${RESULTS[@]}" --commit "$COMMIT" --date "$DATE"
    --latency-ms "$LATENCY_MS" --faults "$FAULT_SHARE" --seed "$SEED" --markdown "$SECTION")
((JSON)) && REPORT+=(--json)
STATUS=0
"${REPORT[@]}" || STATUS=$?
{ if [ -s "$OUT" ]; then echo; fi; cat "$SECTION"; } >>"$OUT"
rm -f "$SECTION"
echo "appended to $OUT" >&2
exit "$STATUS"
