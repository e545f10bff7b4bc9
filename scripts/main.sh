#!/usr/bin/env bash
# The main job until the models land: build, then benchmark every kernel on each available
# device against the PyTorch twin on the same data, printing our/peer ratios and writing JSON
# under bench/results/. Pass --full for the whole batch sweep (512 … 1M rows).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh --bench
mode="--quick"
[[ "${1:-}" == "--full" ]] && mode=""
bash bench/run_bench.sh build/release $mode
