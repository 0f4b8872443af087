#!/usr/bin/env bash
# Sets up everything nkisim needs on a fresh Debian machine, idempotently:
#   Debian packages (compiler, CMake, Eigen, xtensor, pybind11, Catch2, spdlog, ccache),
#   a virtual environment .venv with numpy, ml_dtypes and pytest,
#   the C++ library and its Catch2 tests (build/cpp), and the `nki` package installed in .venv.
# Safe to run again: it installs only what is missing and rebuilds incrementally (ccache).
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS=(g++ make cmake ninja-build ccache libeigen3-dev xtensor-dev pybind11-dev catch2 libspdlog-dev
      python3-dev python3-venv)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
"$VPY" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
"$VPY" -m pip install -q --disable-pip-version-check numpy "ml_dtypes<0.7" pytest scikit-build-core pybind11 cmake ninja

echo "== building the C++ library and tests (build/cpp)"
cmake -S . -B build/cpp -G Ninja -DCMAKE_BUILD_TYPE=Release -DNKISIM_TESTS=ON >/dev/null
cmake --build build/cpp

echo "== installing the nki package into .venv"
"$VPY" -m pip install -q --disable-pip-version-check --no-build-isolation .
echo "== setup done"
