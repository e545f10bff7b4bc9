#!/usr/bin/env bash
# Copies the header-only dependencies and GoogleTest's sources into .deps/ (git-ignored), for
# machines that have compilers but none of Debian's -dev packages (e.g. a lent GPU machine):
#   cmake --preset release -DLATF_GTEST_SOURCE=$PWD/.deps/googletest
# finds Eigen, nlohmann/json, CLI11 and toml++ there by itself. For the lent GPU machine, carry
# the folder: run(command="bash bench/gpu_check.sh", carry=[".deps"]). About 20 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
# Install only when something is missing (apt needs the network and root).
for needed in /usr/include/eigen3/Eigen/Core /usr/include/nlohmann/json.hpp /usr/include/CLI/CLI.hpp \
              /usr/include/toml++/toml.h /usr/src/googletest/CMakeLists.txt; do
  [[ -e "$needed" ]] || { bash scripts/install_deps.sh; break; }
done
mkdir -p .deps/json .deps/cli11 .deps/tomlplusplus
rm -rf .deps/eigen3 .deps/json/nlohmann .deps/cli11/CLI .deps/tomlplusplus/toml++ .deps/googletest
cp -r /usr/include/eigen3 .deps/eigen3
cp -r /usr/include/nlohmann .deps/json/nlohmann
cp -r /usr/include/CLI .deps/cli11/CLI
cp -r /usr/include/toml++ .deps/tomlplusplus/toml++
cp -r /usr/src/googletest .deps/googletest
du -sh .deps
