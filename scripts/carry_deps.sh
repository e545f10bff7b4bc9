#!/usr/bin/env bash
# Copies the header-only dependencies and GoogleTest's sources into .deps/ (git-ignored), for
# machines that have compilers but none of Debian's -dev packages (e.g. a lent GPU machine):
#   cmake --preset release -DLATF_GTEST_SOURCE=$PWD/.deps/googletest
# finds Eigen, nlohmann/json, CLI11 and toml++ there by itself.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
mkdir -p .deps/json .deps/cli11 .deps/tomlplusplus
rm -rf .deps/eigen3 .deps/json/nlohmann .deps/cli11/CLI .deps/tomlplusplus/toml++ .deps/googletest
cp -r /usr/include/eigen3 .deps/eigen3
cp -r /usr/include/nlohmann .deps/json/nlohmann
cp -r /usr/include/CLI .deps/cli11/CLI
cp -r /usr/include/toml++ .deps/tomlplusplus/toml++
cp -r /usr/src/googletest .deps/googletest
du -sh .deps
