#!/usr/bin/env bash
# APNs client benchmark, and the emulator's ceiling: the emulator runs in its own process,
# pinned to one core; each client runs on the other core and sends the same VoIP push (1 KiB
# payload, token auth, TLS) to the same device N times, over 1 and then 4 connections.
#
#   bash benches/apns.sh [--count 100000] [--connections "1 4"] [--payload-bytes 1024]
#
# Clients, in one run, against the same emulator (validating mode: every request checked):
#   pushtrace  crates/apns (the `client_throughput` bench program), up to 1000 in flight per
#              connection;
#   h2load     nghttp2's load generator (Debian nghttp2-client), -m 1000 streams per connection:
#              the practical ceiling of an HTTP/2 client here, so its figure is also the
#              emulator's ceiling ("the emulator must never be the bottleneck");
#   aioapns    PyPI, 1000 in flight; node-apn: npm @parse/node-apn, 1000 in flight
#              (installed by crates/emulator/tests/conformance/setup.sh, as for the tests).
# Prints a Markdown table (notifications/s, p50/p99 round trip, ratios) and writes it to
# benches/results/apns-<date>.md. Targets (issue 5): pushtrace >= 3x the faster of aioapns and
# node-apn; >= 0.5x h2load.
set -euo pipefail

COUNT=100000
CONNECTIONS="1 4"
PAYLOAD=1024
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
    case "$1" in
        --count) COUNT=${2:?--count needs a number}; shift 2 ;;
        --connections) CONNECTIONS=${2:?--connections needs a list such as "1 4"}; shift 2 ;;
        --payload-bytes) PAYLOAD=${2:?--payload-bytes needs a number}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "apns.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'apns.sh: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

step "Checking tools (h2load, python3, node, taskset)"
if ! command -v h2load >/dev/null 2>&1; then
    command -v apt-get >/dev/null 2>&1 || die "h2load is missing: install Debian's nghttp2-client"
    (apt-get install -y nghttp2-client >/dev/null 2>&1 ||
        (apt-get update >/dev/null && apt-get install -y nghttp2-client >/dev/null)) ||
        die "could not install nghttp2-client (h2load)"
fi
command -v taskset >/dev/null 2>&1 || die "taskset (util-linux) is missing"
bash crates/emulator/tests/conformance/setup.sh >&2
PYDIR="$TARGET/conformance/python"
NODEDIR="$TARGET/conformance/node"

step "Building pushtrace and the client bench program (release)"
cargo build --release -q -p pushtrace
cargo bench -q -p pushtrace-apns --bench client_throughput --no-run 2>/dev/null
BENCH=$(ls -t "$TARGET"/release/deps/client_throughput-* | grep -v '\.d$' | head -1)
[[ -x $BENCH ]] || die "client_throughput was not built"

WORK=$(mktemp -d)
EMULATOR_PID=""
cleanup() {
    [[ -n $EMULATOR_PID ]] && kill "$EMULATOR_PID" 2>/dev/null && wait "$EMULATOR_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# No per-token rate and no error budget: one token takes every push; everything else as APNs.
cat > "$WORK/emulator.toml" <<TOML
per_token_requests = 0
error_limit = 0
max_concurrent_streams = 1000
# The delivery log of a benchmark is not read: keep it small.
delivery_log_retention_secs = 1
TOML

step "Starting the emulator on core 1"
taskset -c 1 "$TARGET/release/pushtrace" emulator --config "$WORK/emulator.toml" --json \
    > "$WORK/emulator.json" 2> "$WORK/emulator.err" &
EMULATOR_PID=$!
for _ in $(seq 100); do [[ -s $WORK/emulator.json ]] && break; sleep 0.1; done
[[ -s $WORK/emulator.json ]] || die "the emulator did not start: $(cat "$WORK/emulator.err")"
field() { python3 -c "import json,sys; d=json.load(open('$WORK/emulator.json')); print($1)"; }
PORT=$(field "d['sandbox']['addr'].rsplit(':',1)[1]")
CA=$(field "d['ca_path']")
P8=$(field "d['key']['p8_path']")
KEY_ID=$(field "d['key']['key_id']")
TEAM_ID=$(field "d['key']['team_id']")
TOKEN=$(field "d['device']['token']")
TOPIC=$(field "d['device']['topic']")
AUTH=$(field "d['example']['authorization']")
common=(--ca "$CA" --key "$P8" --key-id "$KEY_ID" --team-id "$TEAM_ID" --topic "$TOPIC"
    --token "$TOKEN" --count "$COUNT" --payload-bytes "$PAYLOAD")

python3 - "$PAYLOAD" > "$WORK/payload.json" <<'PY'
import json, sys
size = int(sys.argv[1])
print(json.dumps({"call_id": "c-1", "pad": "x" * max(0, size - len(json.dumps({"call_id": "c-1", "pad": ""})))}), end="")
PY

results="$WORK/results.jsonl"
: > "$results"
# The emulator's CPU time (ticks) and the wall clock (ns), to tell whether its core was the
# bottleneck of a run: `measure CMD...` runs CMD, adds "emulator_cpu_pct" to its JSON line.
ticks() { awk '{print $14 + $15}' "/proc/$EMULATOR_PID/stat"; }
HZ=$(getconf CLK_TCK)
measure() {
    local t0 w0 t1 w1 line
    t0=$(ticks); w0=$(date +%s%N)
    line=$("$@")
    t1=$(ticks); w1=$(date +%s%N)
    python3 -c "
import json, sys
row = json.loads(sys.argv[1])
row['emulator_cpu_pct'] = round(100 * ($t1 - $t0) / $HZ / (($w1 - $w0) / 1e9))
print(json.dumps(row))" "$line"
}
for c in $CONNECTIONS; do
    step "pushtrace, $c connection(s), $COUNT pushes"
    measure taskset -c 0 "$BENCH" --endpoint "https://127.0.0.1:$PORT" --connections "$c" \
        --in-flight $((1000 * c)) "${common[@]}" | tee -a "$results"

    step "h2load, $c connection(s)"
    h2load_run() {
        taskset -c 0 h2load -n "$COUNT" -c "$c" -m 1000 -t 1 -d "$WORK/payload.json" \
            -H "authorization: $AUTH" -H "apns-push-type: voip" -H "apns-topic: $TOPIC" \
            -H "apns-priority: 10" -H "apns-expiration: 0" \
            "https://127.0.0.1:$PORT/3/device/$TOKEN" > "$WORK/h2load.txt" 2>&1 ||
            die "h2load failed: $(tail -5 "$WORK/h2load.txt")"
        python3 - "$c" "$COUNT" "$WORK/h2load.txt" <<'PY'

import json, re, sys
c, count, text = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3]).read()
rate = float(re.search(r"finished in ([\d.]+)(\w+), ([\d.]+) req/s", text).group(3))
ok = int(re.search(r"status codes: (\d+) 2xx", text).group(1))
mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", text).group(1)
unit = {"us": 1, "ms": 1000, "s": 1000000}
value, suffix = re.match(r"([\d.]+)(\w+)", mean).groups()
print(json.dumps({"client": "h2load", "count": count, "connections": c,
                  "per_second": round(rate), "accepted": ok,
                  "mean_us": round(float(value) * unit[suffix])}))
PY
    }
    measure h2load_run | tee -a "$results"

    step "aioapns, $c connection(s)"
    measure taskset -c 0 env PYTHONPATH="$PYDIR" python3 benches/apns/aioapns_bench.py \
        --host 127.0.0.1 --port "$PORT" --connections "$c" "${common[@]}" | tee -a "$results"

    step "node-apn, $c connection(s)"
    measure taskset -c 0 env NODE_PATH="$NODEDIR/node_modules" node benches/apns/node_apn_bench.js \
        --host 127.0.0.1 --port "$PORT" --connections "$c" "${common[@]}" | tee -a "$results"
done

mkdir -p benches/results
out="benches/results/apns-$(date -u +%F).md"
python3 - "$results" "$COUNT" "$PAYLOAD" > "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
count, payload = sys.argv[2], sys.argv[3]
print(f"APNs clients against the emulator (own process, core 1; clients on core 0), TLS, token auth,")
print(f"{count} VoIP pushes of {payload} bytes to one token, validating mode. `bash benches/apns.sh`")
print("\"emulator core busy\": the emulator's CPU time over the run's wall time; well under 100 % means")
print("the emulator was not what limited that client.\n")
print("| connections | client | notifications/s | p50 round trip | p99 round trip | accepted | emulator core busy |")
print("|---|---|---|---|---|---|---|")
def us(v):
    return "—" if v is None else (f"{v/1000:.1f} ms" if v >= 1000 else f"{v} µs")
for r in rows:
    p50 = us(r.get("p50_us")) if "p50_us" in r else f"mean {us(r.get('mean_us'))}"
    print(f"| {r['connections']} | {r['client']} | {r['per_second']:,} | {p50} | {us(r.get('p99_us'))} | {r['accepted']:,} | {r.get('emulator_cpu_pct', '—')} % |")
print()
for c in sorted({r["connections"] for r in rows}):
    by = {r["client"]: r["per_second"] for r in rows if r["connections"] == c}
    ours = by.get("pushtrace")
    peers = [by[k] for k in ("aioapns", "node-apn") if k in by]
    if ours and peers:
        print(f"- {c} connection(s): pushtrace / faster of aioapns and node-apn = {ours / max(peers):.1f}x (target >= 3x)")
    if ours and by.get("h2load"):
        print(f"- {c} connection(s): pushtrace / h2load = {ours / by['h2load']:.2f}x (target >= 0.5x)")
PY
cat "$out"
echo "written to $out" >&2
