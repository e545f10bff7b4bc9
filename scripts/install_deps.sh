#!/usr/bin/env bash
# Installs what building and testing LaTF needs on Debian (bookworm): a C++20 compiler, CMake,
# Ninja, Eigen and GoogleTest's sources. With --bench also PyTorch (CPU) for the peer benchmark.
# The CUDA toolkit is optional: when nvcc is found the CUDA backend is compiled too.
set -euo pipefail
packages=(g++ cmake ninja-build libeigen3-dev googletest nlohmann-json3-dev libcli11-dev libtomlplusplus-dev python3-numpy python3-matplotlib)
[[ "${1:-}" == "--bench" ]] && packages+=(python3-torch python3-numpy)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
