#!/usr/bin/env bash
# One command for the whole comparison: build latf_bench (Release) if needed, check that the
# PyTorch twin computes the same coupling stack, run both benchmarks on the same sizes one after
# the other, and merge them into bench/results/<hostname>-<UTC time>.json with a table of
# our time, torch's time and the speedup, ending with the headline line.
#
# usage: bench/run_bench.sh [BUILD_DIR] [--quick] [--sizes LIST] [--ops LIST] [--device cpu|cuda|auto]
#                           [--compile] [--no-check]
#   BUILD_DIR   default build/release (configured here with -DLATF_BUILD_BENCH=ON if needed)
#   --compile   also time torch.compile'd coupling stack (torch >= 2; the GPU machine)
#   --no-check  skip bench/peer/check_twin.py
# Environment: PYTHON (a python with torch; default: /usr/bin/python3 if it has torch, else
# python3), JOBS (build parallelism, default nproc), LATF_COMMIT (default: git HEAD).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

build_dir="build/release"
bench_args=()
twin_args=()
check=1
while (($#)); do
  case "$1" in
    --quick) bench_args+=(--quick); twin_args+=(--quick) ;;
    --sizes|--ops|--device)
      (($# >= 2)) || { echo "run_bench.sh: $1 needs a value" >&2; exit 1; }
      bench_args+=("$1" "$2"); twin_args+=("$1" "$2"); shift ;;
    --compile) twin_args+=(--compile) ;;
    --no-check) check=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "run_bench.sh: unknown option $1" >&2; exit 1 ;;
    *) build_dir="$1" ;;
  esac
  shift
done

source bench/common.sh
find_torch_python

build_bench_target "$build_dir" latf_bench
bench="$build_dir/bench/latf_bench"

export_commit

if ((check)); then
  "$PYTHON" bench/peer/check_twin.py --bench "$bench"
fi

stamp="$(hostname)-$(date -u +%Y%m%dT%H%M%SZ)"
work="$build_dir/bench/runs/$stamp"
mkdir -p "$work" bench/results
# latf_bench exits 2 when some case was skipped (reported in its JSON): keep going then.
"$bench" "${bench_args[@]}" --json "$work/latf.json" || (($? == 2))
"$PYTHON" bench/peer/torch_twin.py "${twin_args[@]}" --json "$work/torch.json" || (($? == 2))
"$PYTHON" bench/merge_results.py "$work/latf.json" "$work/torch.json" "bench/results/$stamp.json"
