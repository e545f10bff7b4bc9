#!/usr/bin/env bash
# Builds LaTF (Release; CUDA code too when nvcc is installed) and runs every test. Tests labelled
# `gpu` skip cleanly on machines without a CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
cmake --preset release
cmake --build --preset release
ctest --preset release --output-on-failure -j "$(nproc)"
