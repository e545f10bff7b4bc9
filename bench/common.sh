# Shared steps of the benchmark scripts (sourced, not run). Each function prefixes its errors
# with the calling script's name.

# Sets PYTHON to a python that has torch and numpy (Debian's python3-torch lives in
# /usr/bin/python3 on the development machine, where pyenv's python3 comes first on PATH; the
# GPU machine has it in python3), or exits with a message.
find_torch_python() {
  if [[ -z "${PYTHON:-}" ]]; then
    for candidate in /usr/bin/python3 python3; do
      if command -v "$candidate" >/dev/null && "$candidate" -c "import torch, numpy" 2>/dev/null; then
        PYTHON="$candidate"
        break
      fi
    done
  fi
  if [[ -z "${PYTHON:-}" ]] || ! "$PYTHON" -c "import torch, numpy" 2>/dev/null; then
    echo "$(basename "$0"): no python with torch and numpy found (PYTHON=${PYTHON:-unset}); set PYTHON" >&2
    exit 1
  fi
}

# build_bench_target BUILD_DIR TARGET: configures Release with the benchmarks when the cache
# lacks them, then (re)builds TARGET.
build_bench_target() {
  local build_dir="$1" target="$2" generator=()
  if ! grep -qs '^LATF_BUILD_BENCH:BOOL=ON' "$build_dir/CMakeCache.txt"; then
    if [[ ! -f "$build_dir/CMakeCache.txt" ]] && command -v ninja >/dev/null; then generator=(-G Ninja); fi
    cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DLATF_BUILD_BENCH=ON
  fi
  cmake --build "$build_dir" --target "$target" -j "${JOBS:-$(nproc)}"
}

# Exports LATF_COMMIT (git HEAD, "-dirty" with uncommitted changes) unless already set.
export_commit() {
  if [[ -z "${LATF_COMMIT:-}" ]]; then
    LATF_COMMIT="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
    if [[ "$LATF_COMMIT" != unknown && -n "$(git status --porcelain 2>/dev/null)" ]]; then
      LATF_COMMIT+="-dirty"
    fi
  fi
  export LATF_COMMIT
}
