#!/usr/bin/env bash
# One training epoch of the reference three-hole configuration on the CPU (linear encoder,
# n = 16, L = 10, h = 16, batch 512, 1M frames, K = 10 states), engine vs PyTorch twin, both on
# one thread and on the same data files. Builds latf_epoch_bench (Release) if needed, writes the
# data set once (bench/peer/latf_twin.py make-data, kept under BUILD_DIR/bench/epoch_data), runs
# the engine and then the twin, and merges both into bench/results/epoch-<hostname>-<UTC time>.json
# with the ratio twin / engine per phase, printed at the end: wall time and process CPU time (the
# steadier one on a shared machine), the engine with and without the tape's check mode (on is the
# trainer's CPU setting), against the faster of the twin's two Adam variants.
#
# usage: bench/run_epoch_bench.sh [BUILD_DIR] [--frames N] [--epochs N] [--twin-epochs N] [--phases spib,joint]
#   BUILD_DIR      default build/release (configured here with -DLATF_BUILD_BENCH=ON if needed)
#   --epochs       engine epochs per phase and check mode (median reported; default 3)
#   --twin-epochs  twin epochs per phase and Adam variant (default 2)
# Environment: PYTHON (a python with torch and numpy), JOBS, LATF_COMMIT (default: git HEAD).
set -euo pipefail

command_line="$0 $*"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

build_dir="build/release"
frames=1000000
epochs=3
twin_epochs=2
phases="spib,joint"
while (($#)); do
  case "$1" in
    --frames|--epochs|--twin-epochs|--phases)
      (($# >= 2)) || { echo "run_epoch_bench.sh: $1 needs a value" >&2; exit 1; }
      case "$1" in
        --frames) frames="$2" ;;
        --epochs) epochs="$2" ;;
        --twin-epochs) twin_epochs="$2" ;;
        --phases) phases="$2" ;;
      esac
      shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "run_epoch_bench.sh: unknown option $1" >&2; exit 1 ;;
    *) build_dir="$1" ;;
  esac
  shift
done

source bench/common.sh
find_torch_python

build_bench_target "$build_dir" latf_epoch_bench

export_commit

data="$build_dir/bench/epoch_data/$frames"
if [[ ! -f "$data/inverse_temperature.npy" ]]; then
  "$PYTHON" bench/peer/latf_twin.py make-data --frames "$frames" --states 10 --out "$data"
fi

stamp="$(hostname)-$(date -u +%Y%m%dT%H%M%SZ)"
work="$build_dir/bench/runs/epoch-$stamp"
mkdir -p "$work" bench/results
shape=(--layers 10 --hidden 16 --width 16 --latent-dim 2 --encoder linear --batch 512 --beta 1e-4 --tau 3)
"$build_dir/bench/latf_epoch_bench" --data "$data" --json "$work/engine.json" --phases "$phases" \
  --epochs "$epochs" --check both "${shape[@]}"
"$PYTHON" bench/peer/latf_twin.py epoch --data "$data" --json "$work/twin.json" --phases "$phases" \
  --epochs "$twin_epochs" --threads 1 "${shape[@]}"

out="bench/results/epoch-$stamp.json"
"$PYTHON" - "$work/engine.json" "$work/twin.json" "$out" "$command_line" <<'EOF'
import json, os, sys
engine, twin = (json.load(open(p)) for p in sys.argv[1:3])
comparison = []
for phase in dict.fromkeys(r["phase"] for r in engine["results"]):
    # Against the faster of the twin's two Adam variants, so the ratio is not flattered.
    peer = min((t for t in twin["results"] if t["phase"] == phase), key=lambda t: t["median_cpu_seconds"])
    for e in (e for e in engine["results"] if e["phase"] == phase):
        comparison.append({
            "phase": phase, "engine_check_finite": e["check_finite"], "twin_adam_foreach": peer["adam_foreach"],
            "engine_seconds": e["median_seconds"], "twin_seconds": peer["median_seconds"],
            "engine_cpu_seconds": e["median_cpu_seconds"], "twin_cpu_seconds": peer["median_cpu_seconds"],
            "speedup": peer["median_seconds"] / e["median_seconds"],
            "speedup_cpu": peer["median_cpu_seconds"] / e["median_cpu_seconds"]})
        comparison[-1]["meets_10x"] = min(comparison[-1]["speedup"], comparison[-1]["speedup_cpu"]) >= 10.0
document = {"benchmark": "one training epoch, three-hole reference configuration, CPU, 1 thread each",
            "command": sys.argv[4], "commit": engine["commit"], "machine": engine["machine"],
            "torch": twin["machine"]["torch"], "load_average_after": list(os.getloadavg()),
            "comparison": comparison, "engine": engine, "twin": twin}
with open(sys.argv[3], "w") as f:
    json.dump(document, f, indent=2)
for c in comparison:
    print(f"{c['phase']} epoch ({engine['config']['frames']} frames, batch {engine['config']['batch']}), "
          f"engine check mode {'on ' if c['engine_check_finite'] else 'off'}: "
          f"engine {c['engine_seconds']:.2f} s (cpu {c['engine_cpu_seconds']:.2f} s), "
          f"torch {c['twin_seconds']:.2f} s (cpu {c['twin_cpu_seconds']:.2f} s): "
          f"speedup {c['speedup']:.1f}x wall, {c['speedup_cpu']:.1f}x cpu")
print(f"wrote {sys.argv[3]}")
EOF
