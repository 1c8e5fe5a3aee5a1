#!/usr/bin/env bash
# Fleet benchmark: cohort outcome counts over a realistic fleet of push records, DuckDB (the
# tool a data team would reach for) against `pushtrace fleet`.
#
#   bash benches/fleet.sh [--pushes 10000000] [--devices 1000000] [--days 90] [--seed 1]
#                         [--runs 3] [--data DIR] [--null]
#
# What it does, in one run:
#   1. builds the generator (release) and writes DIR/fleet.jsonl with the planted effects of
#      FleetSpec::planted() (or none with --null); DIR defaults to target/fleet-bench/<size>;
#      an existing file is reused (delete it to regenerate);
#   2. makes a venv under target/fleet-bench/venv with the pinned duckdb wheel from PyPI and
#      converts the JSONL to DIR/fleet.parquet (typed columns, times as TIMESTAMPTZ, one
#      `attr.<name>` column per attribute), reused when present;
#   3. times DuckDB (Python API, threads=2) on the single-attribute x day GROUP BYs, every
#      attribute, counting each outcome (not_sent, rejected, on_time, late, no_receipt) and
#      failures (not on_time), best of --runs: as seven queries, and as one query with
#      GROUPING SETS (one scan: how a data team writes it once seven scans are slow);
#   4. times `pushtrace fleet` (release) on the same files: single values only, and the full
#      report from Parquet (`attr.<name>` columns, and the same rows with a MAP `attrs` column)
#      and from JSONL, with peak RSS;
#   5. prints a Markdown table and appends it to benches/results/fleet-<date>.md.
set -euo pipefail

PUSHES=10000000
DEVICES=1000000
DAYS=90
SEED=1
RUNS=3
DATA=
PRESET=--planted
DUCKDB_VERSION=1.5.6
usage() {
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
}
while (($#)); do
    case "$1" in
        --pushes) PUSHES=${2:?--pushes needs a number}; shift 2 ;;
        --devices) DEVICES=${2:?--devices needs a number}; shift 2 ;;
        --days) DAYS=${2:?--days needs a number}; shift 2 ;;
        --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --data) DATA=${2:?--data needs a directory}; shift 2 ;;
        --null) PRESET=--null; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "fleet.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'fleet.sh: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BENCH=$ROOT/target/fleet-bench
DATA=${DATA:-$BENCH/p${PUSHES}-d${DEVICES}-t${DAYS}-s${SEED}${PRESET#--}}
mkdir -p "$DATA" benches/results
JSONL=$DATA/fleet.jsonl
PARQUET=$DATA/fleet.parquet
RESULTS=benches/results/fleet-$(date +%Y-%m-%d).md

command -v python3 >/dev/null 2>&1 || die "python3 is needed (apt-get install python3 python3-venv)"

# ---------------------------------------------------------------------------------------------
step "Generating $PUSHES pushes, $DEVICES devices, $DAYS days, seed $SEED ($PRESET)"
if [[ -s $JSONL ]]; then
    echo "reusing $JSONL ($(stat -c %s "$JSONL") bytes)" >&2
    GEN_LINE="reused $JSONL"
else
    cargo build --release -p pushtrace-fleet --example fleet_generate
    GEN_LINE=$(target/release/examples/fleet_generate --pushes "$PUSHES" --devices "$DEVICES" \
        --days "$DAYS" --seed "$SEED" "$PRESET" --out "$JSONL.tmp" 2>&1 | tee /dev/stderr | head -1)
    mv "$JSONL.tmp" "$JSONL"
fi

# ---------------------------------------------------------------------------------------------
step "DuckDB $DUCKDB_VERSION in $BENCH/venv"
VENV=$BENCH/venv
if ! "$VENV/bin/python" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$DUCKDB_VERSION')" 2>/dev/null; then
    python3 -m venv "$VENV" || die "cannot make a venv: apt-get install python3-venv"
    "$VENV/bin/pip" install --quiet "duckdb==$DUCKDB_VERSION"
fi
PY=$VENV/bin/python

if [[ -s $PARQUET ]]; then
    echo "reusing $PARQUET ($(stat -c %s "$PARQUET") bytes)" >&2
    CONVERT_LINE="reused $PARQUET"
else
    step "Converting to Parquet"
    CONVERT_LINE=$("$PY" benches/fleet/duckdb_bench.py convert "$JSONL" "$PARQUET.tmp" | tee /dev/stderr)
    mv "$PARQUET.tmp" "$PARQUET"
fi

PARQUET_MAP=$DATA/fleet_map.parquet
if [[ ! -s $PARQUET_MAP ]]; then
    step "Converting to Parquet with the attributes as a MAP column"
    "$PY" benches/fleet/duckdb_bench.py convert-map "$PARQUET" "$PARQUET_MAP.tmp"
    mv "$PARQUET_MAP.tmp" "$PARQUET_MAP"
fi

# ---------------------------------------------------------------------------------------------
{
    echo
    echo "## Fleet benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores"
    echo
    echo "Data: $PUSHES pushes, $DEVICES devices, $DAYS days, seed $SEED ($PRESET)."
    # Paths relative to the repository: the results are committed and read on other machines.
    echo "Generator: ${GEN_LINE//$ROOT\//}"
    echo "Parquet: ${CONVERT_LINE//$ROOT\//}"
    echo
} >>"$RESULTS"

step "DuckDB: single-attribute x day outcome counts, best of $RUNS"
"$PY" benches/fleet/duckdb_bench.py query "$PARQUET" --runs "$RUNS" --threads 2 --markdown "$RESULTS"

# ---------------------------------------------------------------------------------------------
# PUSHTRACE FLEET: the release binary on the same files. Wall time and peak RSS from GNU time
# (`/usr/bin/time -v`), best of $RUNS: the full report (every value and combination of up to
# three, onsets, latency) from Parquet and from JSONL, and the single-value x day counts alone
# (`--max-combination 1`) from Parquet, the work DuckDB's GROUP BYs above do.
step "Building pushtrace (release)"
cargo build --release -q -p pushtrace
PT=target/release/pushtrace
[ -x /usr/bin/time ] || { echo "GNU time is needed for peak RSS: apt-get install -y time" >&2; exit 1; }
measure() { # label, args...: prints "label wall_s rss_mb", best wall of $RUNS
    local label=$1; shift
    local best_wall= best_rss=
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -v -o "$DATA/time.txt" "$PT" fleet -q --json "$@" >"$DATA/report.json"
        local wall rss
        wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$DATA/time.txt")
        rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$DATA/time.txt")
        if [ -z "$best_wall" ] || awk "BEGIN { exit !($wall < $best_wall) }"; then best_wall=$wall; best_rss=$rss; fi
    done
    echo "| $label | $best_wall | $best_rss |"
}
step "Timing pushtrace fleet (best of $RUNS)"
{
    echo
    echo "| pushtrace fleet ($(nproc) cores) | wall s | peak RSS MB |"
    echo "|---|---|---|"
    measure "single values x day only, Parquet" "$PARQUET" --max-combination 1
    measure "full report, Parquet" "$PARQUET"
    measure "full report, Parquet with attrs as a MAP" "$PARQUET_MAP"
    measure "full report, JSONL" "$JSONL"
} | tee -a "$RESULTS"

step "Written to $RESULTS"
