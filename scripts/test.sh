#!/usr/bin/env bash
# Set everything up, then run all tests: Catch2 (through ctest), pytest, and the benchmark smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ctest"
ctest --test-dir build/cpp --output-on-failure -j2
echo "== pytest"
# Run from outside the source tree so the installed package (with its compiled core) is tested.
.venv/bin/python -m pytest -q -p no:cacheprovider tests/python
echo "== benchmark smoke run"
.venv/bin/python -m benchmarks --smoke
echo "== C++ harness example (find_package(nkisim))"
cmake --install build/cpp --prefix build/install >/dev/null
cmake -S examples/cpp -B build/example-cpp -G Ninja -DCMAKE_PREFIX_PATH="$PWD/build/install" >/dev/null
cmake --build build/example-cpp >/dev/null
build/example-cpp/add_tiles
