#!/usr/bin/env bash
# The lab simulator's speed: simulated device-days per second on 2 threads.
# Target (issue 15): 100 000 devices x 30 days in under 60 s, also with resends and the
# missed-call fallback on.
# Then writing and scoring a run (examples/score.rs: simulate, write the logs with 69 % noise,
# read them back and diagnose every push) for [score_devices] phones of the scenario's 30 days.
# Usage: benches/lab.sh [devices] [days] [threads] [score_devices]
set -euo pipefail
cd "$(dirname "$0")/.."
devices=${1:-100000}
days=${2:-30}
threads=${3:-2}
score_devices=${4:-200}
cargo build --release -q -p pushtrace-lab --example sim_speed --example score
echo "| scenario | devices | days | threads | result |"
echo "|---|---|---|---|---|"
out=$(target/release/examples/sim_speed scenarios/mixed-fleet.toml "$devices" "$days" "$threads")
echo "| mixed-fleet | $devices | $days | $threads | $out |"
# The same fleet with resends every 10 s and the missed-call fallback (docs/strategies.md):
# more events per call, which must not slow the simulator.
strategies=$(mktemp --suffix=.toml)
trap 'rm -f "$strategies"' EXIT
sed 's/^apns_answer = \(.*\)$/apns_answer = \1\nretry_after = "10s"\nfallback = true/' \
  scenarios/mixed-fleet.toml > "$strategies"
out=$(target/release/examples/sim_speed "$strategies" "$devices" "$days" "$threads")
echo "| mixed-fleet + retry 10s + fallback | $devices | $days | $threads | $out |"
echo
echo "| scenario | devices | format | noise | seconds | score |"
echo "|---|---|---|---|---|---|"
for format in syslog ndjson; do
  start=$(date +%s.%N)
  score=$(target/release/examples/score scenarios/mixed-fleet.toml "$score_devices" "$format" 0.69 | tail -1)
  end=$(date +%s.%N)
  echo "| mixed-fleet | $score_devices | $format | 0.69 | $(printf "%.2f" "$(echo "$end - $start" | bc)") | $score |"
done
