#!/usr/bin/env bash
# The main job: build `latf` (Release) and run `latf demo` on built-in data — simulate the
# three-hole potential at T = 0.7 and 1.5, train LaTF, generate at six temperatures (including
# extrapolation to 0.5, 2 and 3) and print predicted vs exact populations; the run directory
# (model, data, evaluation.json, figures) is written to ./latf-demo (replaced if present).
# Extra arguments go to `latf demo` (e.g. --seed 1, --quick, --device cuda, --out DIR).
# The kernel benchmarks against the PyTorch twin: bash bench/run_bench.sh (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake --preset release
cmake --build --preset release --target latf
exec build/release/apps/latf demo --overwrite "$@"
