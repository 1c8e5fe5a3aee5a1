#!/usr/bin/env bash
# The lab simulator's speed: simulated device-days per second on 2 threads.
# Target (issue 15): 100 000 devices x 30 days in under 60 s.
# Usage: benches/lab.sh [devices] [days] [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
devices=${1:-100000}
days=${2:-30}
threads=${3:-2}
cargo build --release -q -p pushtrace-lab --example sim_speed
echo "| scenario | devices | days | threads | result |"
echo "|---|---|---|---|---|"
out=$(target/release/examples/sim_speed scenarios/mixed-fleet.toml "$devices" "$days" "$threads")
echo "| mixed-fleet | $devices | $days | $threads | $out |"
