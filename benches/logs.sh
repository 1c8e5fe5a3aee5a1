#!/usr/bin/env bash
# Log-reading benchmark: pushtrace against ripgrep on `log show --style syslog` exports that keep
# 5 %, 40 % (the real share) and 100 % of their records for the push set, and against a bare loop
# over macos-unifiedlogs on the real logarchive fixture.
#
#   bash benches/logs.sh [--size 1G] [--shares 5,40,100] [--seed 1] [--runs 3] [--archive-runs 5]
#
# What it does, in one run:
#   1. installs ripgrep, hyperfine, GNU time (and python3) from Debian if any is missing;
#   2. builds target/release/pushtrace and the bare-loop example (release);
#   3. generates benches/data/syslog-<size>-p<share>.log with benches/gen_syslog.py for each share
#      if it is missing (benches/data/ is git-ignored; about 20 s per GB);
#   4. warms the page cache, then times with hyperfine (--warmup 1, --export-json), for each file,
#      every command writing its output to a file (rg notices /dev/null and stops early):
#        (a) pushtrace logs FILE --push-set --json
#        (b) rg -F -e apsd ... (the 11 push-set names) FILE        the peer
#        (c) rg -F ... FILE | LC_ALL=C sort -s -k1,2                 the peer for sorted output
#      and on the archive (d) pushtrace logs ARCHIVE --json --info --debug vs (e) the bare loop;
#      then measures peak RSS and CPU% of each once with /usr/bin/time, counting output lines;
#   5. prints a Markdown table and writes it to benches/results/logs-<date>.md.
#
# Targets (issue 17): (a) <= 1.5x (b) and faster than (c) on every file, peak RSS <= 300 MB;
# (d) <= 0.7x (e).
set -euo pipefail

SIZE=1G
SHARES=5,40,100
SEED=1
RUNS=3
ARCHIVE_RUNS=5
usage() {
    sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
}
while (($#)); do
    case "$1" in
        --size) SIZE=${2:?--size needs a value such as 2G}; shift 2 ;;
        --shares) SHARES=${2:?--shares needs a list such as 5,40,100}; shift 2 ;;
        --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
        --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
        --archive-runs) ARCHIVE_RUNS=${2:?--archive-runs needs a number}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "logs.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

# Thresholds of the issue's targets.
MAX_RATIO_RG=1.5
MAX_RSS_MB=300
MAX_RATIO_ARCHIVE=0.7

step() { printf '\n==> %s\n' "$*" >&2; }
die() { printf 'logs.sh: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# ---------------------------------------------------------------------------------------------
step "Checking tools (ripgrep, hyperfine, GNU time, python3)"
need=()
command -v rg >/dev/null 2>&1 || need+=(ripgrep)
command -v hyperfine >/dev/null 2>&1 || need+=(hyperfine)
[[ -x /usr/bin/time ]] || need+=(time)
command -v python3 >/dev/null 2>&1 || need+=(python3)
if ((${#need[@]})); then
    SUDO=
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "missing ${need[*]} and not root: install them with apt-get"
        SUDO=sudo
    fi
    echo "installing from Debian: ${need[*]}" >&2
    $SUDO apt-get update
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found: install Rust (rustup) first"

TARGET_DIR=${CARGO_TARGET_DIR:-target}
PUSHTRACE=$TARGET_DIR/release/pushtrace
BARE=$TARGET_DIR/release/examples/unifiedlog_bare_loop
ARCHIVE=testdata/unifiedlog-macos-plaso.logarchive
[[ -d $ARCHIVE ]] || die "$ARCHIVE not found (run from a clone of the repository)"

step "Building pushtrace and the bare-loop peer (release)"
cargo build --release -p pushtrace
cargo build --release -p pushtrace-devicelog --example unifiedlog_bare_loop
[[ -x $PUSHTRACE ]] || die "$PUSHTRACE was not built"
[[ -x $BARE ]] || die "$BARE was not built"

# ---------------------------------------------------------------------------------------------
size_tag=$(printf '%s' "$SIZE" | tr '[:upper:]' '[:lower:]')
IFS=, read -r -a SHARE_LIST <<<"$SHARES"
FILES=()
for share in "${SHARE_LIST[@]}"; do
    [[ $share =~ ^[0-9]+$ && $share -ge 1 && $share -le 100 ]] || die "--shares: '$share' is not a percentage from 1 to 100"
    data=benches/data/syslog-$size_tag-p$share.log
    [[ $SEED == 1 ]] || data=benches/data/syslog-$size_tag-p$share-seed$SEED.log
    if [[ ! -s $data ]]; then
        step "Generating $data ($SIZE, $share % push-set records, seed $SEED)"
        mkdir -p benches/data
        avail_kb=$(df -Pk benches/data | awk 'NR==2 {print $4}')
        want_kb=$(python3 -c 'import sys; sys.path.insert(0, "benches"); import gen_syslog as g; print(g.parse_size(sys.argv[1]) // 1024 + 1048576)' "$SIZE")
        ((avail_kb > want_kb)) || die "not enough disk space in benches/data for $SIZE (need ~$((want_kb / 1024)) MB)"
        python3 benches/gen_syslog.py --size "$SIZE" --seed "$SEED" --push-share "$(python3 -c "print($share / 100)")" \
            --out "$data.partial" | tee "$data.gen.txt" >&2
        mv "$data.partial" "$data"
    else
        step "Using existing $data (delete it to regenerate)"
    fi
    FILES+=("$data")
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

PUSH_SET=(apsd powerd kernel symptomsd CommCenter callservicesd SpringBoard runningboardd dasd wifid configd)
RG_ARGS=""
for name in "${PUSH_SET[@]}"; do RG_ARGS+=" -e $name"; done
OUT=$WORK/out
CMD_ARCHIVE="$PUSHTRACE logs $ARCHIVE --json --info --debug -q"
CMD_BARE="$BARE $ARCHIVE"

step "Warming the page cache"
cat "${FILES[@]}" >/dev/null
find "$ARCHIVE" -type f -exec cat {} + >/dev/null

# One more run under GNU time: peak RSS, CPU% and the number of output lines.
measure() { # key, shell command
    /usr/bin/time -f '%e %M %P' -o "$WORK/$1.time" bash -c "$2 > $OUT" 2>>"$WORK/$1.stderr"
    wc -l <"$OUT" >"$WORK/$1.lines"
}

for i in "${!FILES[@]}"; do
    data=${FILES[$i]}
    a="$PUSHTRACE logs $data --push-set --json -q"
    b="rg -F$RG_ARGS $data"
    c="rg -F$RG_ARGS $data | LC_ALL=C sort -s -k1,2"
    step "Timing $data: pushtrace vs rg vs rg | sort (hyperfine, $RUNS runs, output to a file)"
    hyperfine --warmup 1 --runs "$RUNS" --export-json "$WORK/syslog$i.json" \
        -n pushtrace "$a > $OUT" -n rg "$b > $OUT" -n rg-sort "$c > $OUT"
    step "Peak RSS, CPU% and output lines (/usr/bin/time, one run each)"
    measure "a$i" "$a"
    measure "b$i" "$b"
    measure "c$i" "$c"
    printf '%s\n%s\n%s\n' "$a" "$b" "$c" >"$WORK/cmds$i"
done

step "Timing the logarchive: pushtrace vs the bare loop (hyperfine, $ARCHIVE_RUNS runs)"
hyperfine --warmup 1 --runs "$ARCHIVE_RUNS" --export-json "$WORK/archive.json" \
    -n pushtrace "$CMD_ARCHIVE > $OUT" -n bare-loop "$CMD_BARE > $OUT"
measure d "$CMD_ARCHIVE"
measure e "$CMD_BARE"
BARE_COUNT=$("$BARE" "$ARCHIVE")
ARCHIVE_PUSH=$("$PUSHTRACE" logs "$ARCHIVE" --push-set --json --info --debug -q | wc -l)

# ---------------------------------------------------------------------------------------------
mkdir -p benches/results
RESULT=benches/results/logs-$(date +%Y-%m-%d).md
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo "uncommitted")
DIRTY=""
[[ -z $(git status --porcelain 2>/dev/null) ]] || DIRTY=" (with local changes in the tree)"
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$WORK" "$RESULT" "${FILES[@]}" <<PY
import json, os, re, sys
work, out, files = sys.argv[1], sys.argv[2], sys.argv[3:]

def hf(name):
    with open(os.path.join(work, name + ".json")) as f:
        return {r["command"]: r for r in json.load(f)["results"]}

def tm(key):
    with open(os.path.join(work, key + ".time")) as f:
        wall, rss_kb, cpu = f.read().split()[-3:]
    return float(rss_kb) / 1024, cpu

def lines(key):
    with open(os.path.join(work, key + ".lines")) as f:
        return int(f.read().strip())

def wall(r):
    return f"{r['mean']:.2f} s ± {r['stddev'] or 0:.2f}"

def share(path):
    try:
        text = open(path + ".gen.txt").read()
        return re.search(r"push-set lines \(with continuations\): [\d,]+ = ([\d.]+)%", text).group(1) + " %"
    except (OSError, AttributeError):
        return "?"

rows, fails, commands = [], [], []
for i, path in enumerate(files):
    t = hf(f"syslog{i}")
    a, b, c = t["pushtrace"], t["rg"], t["rg-sort"]
    ra, rc = a["mean"] / b["mean"], a["mean"] / c["mean"]
    rss, cpu = tm(f"a{i}")
    name = os.path.basename(path)
    ok = ra <= $MAX_RATIO_RG and rc < 1 and rss <= $MAX_RSS_MB
    if not ok:
        fails.append(name)
    rows.append((f"{name} ({os.path.getsize(path) / 2**30:.2f} GiB)", share(path), wall(a), wall(b), wall(c),
                 f"**{ra:.2f}×**", f"{rc:.2f}×", f"{rss:.0f} MB", cpu,
                 f"{lines(f'a{i}'):,} / {lines(f'b{i}'):,}", "pass" if ok else "**FAIL**"))
    commands += open(os.path.join(work, f"cmds{i}")).read().splitlines()
hdr = ("file", "push-set lines", "pushtrace --push-set --json", "rg -F (printing)", "rg, then sort -s",
       "pushtrace / rg", "pushtrace / (rg, sort)", "pushtrace peak RSS", "pushtrace CPU",
       "lines (pushtrace / rg)", "target ≤ $MAX_RATIO_RG× rg, < (rg, sort), ≤ $MAX_RSS_MB MB")
table = ["| " + " | ".join(hdr) + " |", "|" + "---|" * len(hdr)]
table += ["| " + " | ".join(r) + " |" for r in rows]

ar = hf("archive")
d, e = ar["pushtrace"], ar["bare-loop"]
rd = d["mean"] / e["mean"]
rss_d, cpu_d = tm("d")
rss_e, cpu_e = tm("e")
atable = [
    "| case | wall (mean ± σ) | ratio | peak RSS | CPU | output | target |",
    "|---|---|---|---|---|---|---|",
    f"| pushtrace logs ARCHIVE --json --info --debug | {wall(d)} | **{rd:.2f}× bare loop** | {rss_d:.0f} MB | {cpu_d} | {lines('d'):,} JSON lines | ≤ $MAX_RATIO_ARCHIVE× ({'pass' if rd <= $MAX_RATIO_ARCHIVE else '**FAIL**'}) |",
    f"| unifiedlog_bare_loop ARCHIVE | {wall(e)} | 1.00 (peer) | {rss_e:.0f} MB | {cpu_e} | {int('$BARE_COUNT'.strip() or 0):,} entries | peer |",
]
text = "\n".join([
    f"## Log reading benchmark ($(date +%Y-%m-%d), commit $COMMIT$DIRTY)",
    "",
    f"Machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, load average $LOAD at the end; "
    f"$(rg --version | head -1), $(hyperfine --version), $(rustc --version 2>/dev/null | cut -d' ' -f1-2). "
    f"Files: \`benches/gen_syslog.py --size $SIZE --seed $SEED --push-share S\`; the real logarchive keeps "
    f"{int('$ARCHIVE_PUSH'.strip() or 0) / max(1, int('$BARE_COUNT'.strip() or 1)) * 100:.1f} % of its entries for --push-set.",
    "",
    *table,
    "",
    *atable,
    "",
    f"Wall: hyperfine --warmup 1, $RUNS runs per file / $ARCHIVE_RUNS on the archive, every output written to a file "
    "on the same disk, page cache warm. Peak RSS, CPU (100 % = one core), lines: one more run under "
    "\`/usr/bin/time -f '%e %M %P'\`. rg prints every line naming a process anywhere (noise rows that mention one), "
    "pushtrace the push-set records (a multi-line record is one JSON line) and PushKit's lines in apps.",
    "" if not fails else f"Not met on: {', '.join(fails)}.",
    "",
    "Commands (each with \`> FILE\`):",
    "",
    "\`\`\`",
    *commands,
    "$CMD_ARCHIVE",
    "$CMD_BARE",
    "\`\`\`",
    "",
])
with open(out, "w") as f:
    f.write(text)
print(text)
PY
step "Table written to $RESULT"
